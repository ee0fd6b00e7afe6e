// Member features and segment assignment (encore/member_features.h).

#include "encore/member_features.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

#include "io/byte_source.h"
#include "io/record_reader.h"
#include "io/text.h"

namespace encore {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool ParseNumber(std::string_view text, double* out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(*out);
}

// Linear interpolation between closest ranks; `x` sorted ascending, non-empty.
double Percentile(const std::vector<double>& x, double p) {
  const double h = p / 100.0 * double(x.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= x.size()) return x.back();
  return x[lo] + (h - double(lo)) * (x[lo + 1] - x[lo]);
}

std::string JoinList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

const std::vector<std::string>& BuiltinMemberFeatures() {
  static const std::vector<std::string> kNames = {"recency", "frequency", "monetary",
                                                  "price_percentile"};
  return kNames;
}

Result<MemberFeatures> MemberFeatures::Compute(const InteractionLog& log, const Catalog& catalog,
                                               const MemberFeatureOptions& options) {
  if (!log.has_events || !log.has_times) {
    return Status::InvalidArgument(
        "member features need an event column and a time column in the events");
  }
  if (!(options.price_percentile >= 0 && options.price_percentile <= 100)) {
    return Status::InvalidArgument("price percentile " + std::to_string(options.price_percentile) +
                                   " is outside [0, 100]");
  }
  std::vector<uint32_t> levels;
  for (const std::string& l : options.primary_levels) {
    std::optional<uint32_t> level = catalog.FindLevel(l);
    if (!level) {
      std::string known;
      for (const auto& n : catalog.level_names()) known += (known.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("member features: primary level '" + l +
                                     "' is not a catalog level (" + known + ")");
    }
    levels.push_back(*level);
  }
  const uint32_t members = log.users.size();
  // Per event type: is it a purchase, its weight.
  std::vector<char> is_purchase(log.events.size(), 0);
  std::vector<float> weight(log.events.size(), options.weights.empty() ? 1.0f : 0.0f);
  for (uint32_t e = 0; e < log.events.size(); ++e) {
    const std::string name(log.events.Name(e));
    is_purchase[e] = std::find(options.purchase_events.begin(), options.purchase_events.end(),
                               name) != options.purchase_events.end();
    if (auto w = options.weights.find(name); w != options.weights.end()) weight[e] = w->second;
  }
  // Catalog product of each log item (kNoNode: unknown).
  std::vector<uint32_t> product(log.items.size(), kNoNode);
  for (uint32_t i = 0; i < log.items.size(); ++i) {
    if (auto p = catalog.products().Find(log.items.Name(i))) product[i] = *p;
  }
  MemberFeatures f;
  f.frequency_.assign(members, 0);
  std::vector<double> monetary(members, 0);
  std::vector<int64_t> last(members, std::numeric_limits<int64_t>::min());
  std::vector<std::vector<double>> prices(members);
  // activity[level][member] -> node -> weight (sparse: members touch few nodes)
  std::vector<std::vector<std::map<uint32_t, double>>> activity(
      levels.size(), std::vector<std::map<uint32_t, double>>(members));
  for (size_t r = 0; r < log.size(); ++r) {
    const int64_t t = log.time[r];
    if (t >= options.as_of) continue;
    const uint32_t u = log.user[r];
    const uint32_t e = log.event[r];
    last[u] = std::max(last[u], t);
    const uint32_t p = product[log.item[r]];
    if (p == kNoNode) continue;
    if (is_purchase[e]) {
      f.frequency_[u] += 1;
      monetary[u] += catalog.price(p);
      prices[u].push_back(catalog.price(p));
    }
    if (weight[e] != 0) {
      for (size_t l = 0; l < levels.size(); ++l) {
        activity[l][u][catalog.node(p, levels[l])] += weight[e];
      }
    }
  }
  std::vector<double> recency(members, kNaN), pct(members, kNaN);
  for (uint32_t u = 0; u < members; ++u) {
    if (last[u] != std::numeric_limits<int64_t>::min()) {
      recency[u] = double(options.as_of - last[u]) / 86400.0;
    }
    if (!prices[u].empty()) {
      std::sort(prices[u].begin(), prices[u].end());
      pct[u] = Percentile(prices[u], options.price_percentile);
    }
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    const IdDictionary& values = catalog.level_values(levels[l]);
    std::vector<uint32_t> primary(members, kNoNode);
    for (uint32_t u = 0; u < members; ++u) {
      double best = 0;
      for (const auto& [node, w] : activity[l][u]) {
        if (w <= 0) continue;
        if (primary[u] == kNoNode || w > best ||
            (w == best && values.Name(node) < values.Name(primary[u]))) {
          primary[u] = node;
          best = w;
        }
      }
    }
    f.primary_[options.primary_levels[l]] = std::move(primary);
  }
  f.numeric_["recency"] = std::move(recency);
  f.numeric_["frequency"] = f.frequency_;
  f.numeric_["monetary"] = std::move(monetary);
  f.numeric_["price_percentile"] = std::move(pct);
  return f;
}

Result<const std::vector<double>*> MemberFeatures::Numeric(const std::string& name) const {
  auto it = numeric_.find(name);
  if (it == numeric_.end()) {
    std::vector<std::string> names;
    for (const auto& [n, v] : numeric_) names.push_back(n);
    return Status::NotFound("member feature '" + name +
                            "' is unknown; features: " + JoinList(names));
  }
  return &it->second;
}

Result<const std::vector<uint32_t>*> MemberFeatures::Primary(const std::string& level) const {
  auto it = primary_.find(level);
  if (it == primary_.end()) {
    std::vector<std::string> names;
    for (const auto& [n, v] : primary_) names.push_back(n);
    return Status::NotFound("primary level '" + level +
                            "' was not computed; computed: " + JoinList(names));
  }
  return &it->second;
}

Status MemberFeatures::ReadMemberColumns(const std::string& path, const std::string& member_col,
                                         const IdDictionary& members, uint64_t* unknown) {
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<io::ByteSource> source, io::ByteSource::Open(path));
  const bool tsv = path.size() >= 4 && path.compare(path.size() - 4, 4, ".tsv") == 0;
  io::RecordReader rr(std::move(source), io::RecordReader::Mode::kDelimited, tsv ? '\t' : ',');
  io::Record rec;
  std::vector<std::string> header;
  int member = -1;
  std::vector<std::vector<double>*> cols;
  std::map<std::string, std::vector<double>> added;  // merged only when the read succeeds
  std::vector<uint64_t> seen_line(members.size(), 0);
  uint64_t missing = 0;
  auto fail = [&](uint64_t line, const std::string& why) {
    return Status::InvalidArgument(path + ":" + std::to_string(line) + ": " + why);
  };
  for (;;) {
    ENCORE_ASSIGN_OR_RETURN(bool more, rr.Next(&rec));
    if (!more) break;
    if (rec.raw.empty()) continue;
    if (rec.error != io::Record::Error::kNone) {
      return fail(rec.line, "unterminated or malformed quote");
    }
    if (header.empty()) {
      for (const io::Field& x : rec.fields) header.emplace_back(x.value);
      for (size_t c = 0; c < header.size(); ++c) {
        if (header[c] == member_col) {
          member = static_cast<int>(c);
          cols.push_back(nullptr);
          continue;
        }
        if (numeric_.count(header[c]) || added.count(header[c])) {
          return fail(rec.line, "column '" + header[c] +
                                    "' is already a member feature (or listed twice); rename "
                                    "the column");
        }
        std::vector<double>& v = added[header[c]];
        v.assign(members.size(), kNaN);
        cols.push_back(&v);
      }
      if (member < 0) {
        return fail(rec.line, "no member column '" + member_col + "' in the header (" +
                                  JoinList(header) + "); set member_col");
      }
      continue;
    }
    if (rec.fields.size() != header.size()) {
      return fail(rec.line, std::to_string(rec.fields.size()) + " fields, the header has " +
                                std::to_string(header.size()));
    }
    std::optional<uint32_t> m = members.Find(rec.fields[member].value);
    if (!m) {
      ++missing;
      continue;
    }
    if (seen_line[*m] != 0) {
      return fail(rec.line, "member " + io::QuoteForMessage(rec.fields[member].value) +
                                " is listed twice (first on line " + std::to_string(seen_line[*m]) +
                                ")");
    }
    seen_line[*m] = rec.line;
    for (size_t c = 0; c < header.size(); ++c) {
      if (cols[c] == nullptr) continue;
      double v = 0;
      std::string_view text = rec.fields[c].value;
      if (text.empty()) continue;  // missing: NaN
      if (!ParseNumber(text, &v)) {
        return fail(rec.line, header[c] + " " + io::QuoteForMessage(text) + " is not a number");
      }
      (*cols[c])[*m] = v;
    }
  }
  if (header.empty()) return Status::InvalidArgument(path + ": members file is empty (no header)");
  if (unknown != nullptr) *unknown = missing;
  for (auto& [name, values] : added) numeric_[name] = std::move(values);
  return Status::OK();
}

int SegmentAssignment::Find(const std::string& name) const {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

Result<SegmentAssignment> AssignSegments(const MemberFeatures& features, const Catalog& catalog,
                                         const SegmentSpec& spec) {
  if (spec.by.empty()) return Status::InvalidArgument("segments: name at least one part in by");
  if (spec.buckets == 0) return Status::InvalidArgument("segments: buckets must be at least 1");
  if (spec.default_segment.empty()) {
    return Status::InvalidArgument("segments: the default segment name is empty");
  }
  const uint32_t n = features.num_members();
  struct Part {
    std::string name;
    const std::vector<uint32_t>* primary = nullptr;  // level part
    std::vector<uint32_t> rank_of_node;              // level: node -> 1-based name rank
    std::vector<std::string> sorted_names;
    const std::vector<double>* values = nullptr;  // bucket part
    uint32_t choices = 0;
  };
  std::vector<Part> parts;
  for (const std::string& b : spec.by) {
    Part part;
    part.name = b;
    if (std::optional<uint32_t> level = catalog.FindLevel(b)) {
      ENCORE_ASSIGN_OR_RETURN(part.primary, features.Primary(b));
      const IdDictionary& values = catalog.level_values(*level);
      std::vector<uint32_t> order(values.size());
      std::iota(order.begin(), order.end(), 0u);
      std::sort(order.begin(), order.end(),
                [&](uint32_t a, uint32_t c) { return values.Name(a) < values.Name(c); });
      part.rank_of_node.assign(values.size(), 0);
      for (uint32_t r = 0; r < order.size(); ++r) {
        part.rank_of_node[order[r]] = r + 1;
        part.sorted_names.emplace_back(values.Name(order[r]));
      }
      part.choices = values.size();
    } else {
      Result<const std::vector<double>*> v = features.Numeric(b);
      if (!v.ok()) {
        std::string levels;
        for (const auto& l : catalog.level_names()) levels += (levels.empty() ? "" : ", ") + l;
        return Status::InvalidArgument("segments: part '" + b + "' is neither a catalog level (" +
                                       levels + ") nor a member feature: " + v.status().message());
      }
      part.values = *v;
      part.choices = spec.buckets;
    }
    parts.push_back(std::move(part));
  }
  // Default members: no purchase or an undefined part.
  std::vector<char> is_default(n, 0);
  for (uint32_t m = 0; m < n; ++m) {
    bool d = !features.purchased(m);
    for (const Part& p : parts) {
      if (p.primary != nullptr && (*p.primary)[m] == MemberFeatures::kNoNode) d = true;
      if (p.values != nullptr && !std::isfinite((*p.values)[m])) d = true;
    }
    is_default[m] = d;
  }
  std::vector<uint32_t> ranked;
  for (uint32_t m = 0; m < n; ++m) {
    if (!is_default[m]) ranked.push_back(m);
  }
  SegmentAssignment out;
  // Per part, per member: the part's 1-based number.
  std::vector<std::vector<uint32_t>> number(parts.size(), std::vector<uint32_t>(n, 0));
  for (size_t k = 0; k < parts.size(); ++k) {
    const Part& p = parts[k];
    if (p.primary != nullptr) {
      for (uint32_t m : ranked) number[k][m] = p.rank_of_node[(*p.primary)[m]];
      continue;
    }
    std::vector<uint32_t> order = ranked;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t c) { return (*p.values)[a] < (*p.values)[c]; });
    std::vector<double> floors(spec.buckets, kNaN);
    const uint64_t total = order.size();
    size_t first = 0;
    for (size_t r = 0; r < order.size(); ++r) {
      if (r > 0 && (*p.values)[order[r]] != (*p.values)[order[r - 1]]) first = r;
      const uint32_t bucket = static_cast<uint32_t>(uint64_t{first} * spec.buckets / total);
      number[k][order[r]] = bucket + 1;
      if (std::isnan(floors[bucket])) floors[bucket] = (*p.values)[order[r]];
    }
    out.bucket_floors.push_back(std::move(floors));
  }
  bool compact = true;
  for (const Part& p : parts) compact = compact && p.choices < 10;
  std::map<std::string, std::string> described;  // name -> description
  std::vector<std::string> member_name(n);
  for (uint32_t m = 0; m < n; ++m) {
    if (is_default[m]) {
      member_name[m] = spec.default_segment;
      continue;
    }
    std::string name;
    for (size_t k = 0; k < parts.size(); ++k) {
      if (!compact && k > 0) name += '-';
      name += std::to_string(number[k][m]);
    }
    if (!described.count(name)) {
      std::string d;
      for (size_t k = 0; k < parts.size(); ++k) {
        const Part& p = parts[k];
        d += (d.empty() ? "" : ", ") + p.name +
             (p.primary != nullptr
                  ? "=" + p.sorted_names[number[k][m] - 1]
                  : " bucket " + std::to_string(number[k][m]) + "/" + std::to_string(spec.buckets));
      }
      described[name] = d;
    }
    member_name[m] = std::move(name);
  }
  if (described.count(spec.default_segment)) {
    return Status::InvalidArgument("segments: the default segment name '" + spec.default_segment +
                                   "' is also the name of a computed segment; choose another "
                                   "default_segment");
  }
  bool any_default = std::find(is_default.begin(), is_default.end(), 1) != is_default.end();
  if (any_default) described[spec.default_segment] = "default: no purchase or undefined part";
  for (const auto& [name, d] : described) {
    out.names.push_back(name);
    out.descriptions.push_back(d);
  }
  out.sizes.assign(out.names.size(), 0);
  out.of_member.resize(n);
  for (uint32_t m = 0; m < n; ++m) {
    const uint32_t s = static_cast<uint32_t>(
        std::lower_bound(out.names.begin(), out.names.end(), member_name[m]) - out.names.begin());
    out.of_member[m] = s;
    ++out.sizes[s];
  }
  return out;
}

}  // namespace encore
