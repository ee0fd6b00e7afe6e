// Keys of levels and events checked against the catalog (encore/catalog.h).

#include <algorithm>
#include <set>

#include "encore/catalog.h"

namespace encore {

Result<KeyIndex> KeyIndex::Build(const Catalog& catalog, const std::vector<std::string>& levels) {
  KeyIndex k;
  k.levels_ = levels;
  std::vector<uint32_t> at;
  for (const std::string& l : levels) {
    std::optional<uint32_t> i = catalog.FindLevel(l);
    if (!i) {
      std::string known;
      for (const std::string& n : catalog.level_names()) known += (known.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("key level '" + l +
                                     "' is not a catalog level (levels: " + known + ")");
    }
    if (std::find(at.begin(), at.end(), *i) != at.end()) {
      return Status::InvalidArgument("key level '" + l + "' is named twice");
    }
    at.push_back(*i);
  }
  const uint32_t n = catalog.size();
  k.key_of_.resize(n);
  std::string name;
  for (uint32_t p = 0; p < n; ++p) {
    if (at.empty()) {
      k.key_of_[p] = k.keys_.Intern(catalog.products().Name(p));
      continue;
    }
    name.clear();
    for (size_t j = 0; j < at.size(); ++j) {
      if (j) name += '|';
      name += catalog.node_name(p, at[j]);
    }
    k.key_of_[p] = k.keys_.Intern(name);
  }
  k.start_.assign(k.keys_.size() + 1, 0);
  for (uint32_t p = 0; p < n; ++p) ++k.start_[k.key_of_[p] + 1];
  for (uint32_t i = 0; i < k.keys_.size(); ++i) k.start_[i + 1] += k.start_[i];
  k.members_.resize(n);
  std::vector<uint32_t> fill(k.start_.begin(), k.start_.end() - 1);
  for (uint32_t p = 0; p < n; ++p) k.members_[fill[k.key_of_[p]]++] = p;
  return k;
}

std::string KeyIndex::name() const {
  if (levels_.empty()) return "product";
  std::string out;
  for (const std::string& l : levels_) out += (out.empty() ? "" : "_") + l;
  return out;
}

Result<std::vector<uint32_t>> KeyIndex::NodesAt(const Catalog& catalog, uint32_t level) const {
  std::vector<uint32_t> out(num_keys());
  for (uint32_t key = 0; key < num_keys(); ++key) {
    std::span<const uint32_t> ps = products(key);
    out[key] = catalog.node(ps[0], level);
    for (uint32_t p : ps) {
      if (catalog.node(p, level) != out[key]) {
        return Status::InvalidArgument(
            "level '" + catalog.level_names()[level] + "' is not determined by key '" + name() +
            "': key '" + std::string(keys_.Name(key)) + "' has products in '" +
            std::string(catalog.node_name(ps[0], level)) + "' and in '" +
            std::string(catalog.node_name(p, level)) +
            "'; use a level above the key's levels in the hierarchy, or add it to the key");
      }
    }
  }
  return out;
}

Result<std::vector<std::string>> ParseKeyLevels(const Catalog& catalog, const std::string& text) {
  std::vector<std::string> out;
  if (text.empty() || text == "product") return out;
  // Split at '_' greedily: the longest prefix that is a level wins.
  size_t start = 0;
  while (start < text.size()) {
    size_t best = std::string::npos;
    for (size_t end = text.size(); end > start; --end) {
      if (end != text.size() && text[end] != '_') continue;
      if (catalog.FindLevel(std::string_view(text).substr(start, end - start))) {
        best = end;
        break;
      }
    }
    if (best == std::string::npos) {
      std::string known;
      for (const std::string& n : catalog.level_names()) known += (known.empty() ? "" : ", ") + n;
      size_t stop = text.find('_', start);
      return Status::InvalidArgument(
          "key '" + text + "': '" +
          text.substr(start, stop == std::string::npos ? stop : stop - start) +
          "' is not a catalog level (levels: " + known + "; join levels with '_', e.g. " +
          "subclass_brand, or use 'product')");
    }
    out.push_back(text.substr(start, best - start));
    start = best + 1;
  }
  return out;
}

UnknownProducts FindUnknownProducts(const InteractionLog& log, const Catalog& catalog) {
  UnknownProducts u;
  std::vector<char> unknown(log.items.size());
  for (uint32_t i = 0; i < log.items.size(); ++i) {
    unknown[i] = !catalog.products().Find(log.items.Name(i)).has_value();
  }
  std::vector<char> counted(log.items.size());
  for (size_t r = 0; r < log.size(); ++r) {
    const uint32_t item = log.item[r];
    if (!unknown[item]) continue;
    ++u.rows;
    if (!counted[item]) {
      counted[item] = 1;
      ++u.distinct;
      if (u.first.size() < 10) u.first.emplace_back(log.items.Name(item));
    }
  }
  return u;
}

std::string UnknownProducts::Describe() const {
  std::string out = std::to_string(rows) + " event(s) on " + std::to_string(distinct) +
                    " product(s) not in the catalog";
  if (!first.empty()) {
    out += " (e.g.";
    for (size_t i = 0; i < first.size() && i < 3; ++i) out += (i ? ", '" : " '") + first[i] + "'";
    out += ")";
  }
  return out;
}

}  // namespace encore
