// WithDerivedColumns: a RowSource view that adds template-computed columns
// and picks/reorders columns. Templates are parsed once, at construction.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/output.h"

namespace encore::pipeline {

namespace {

// One piece of a parsed template: literal text, a base column, or {row}.
struct Piece {
  enum class Kind { kLiteral, kColumn, kRow };
  Kind kind;
  std::string literal;  // kLiteral
  size_t column = 0;    // kColumn: index into the base row
};

std::string Describe(const DerivedColumn& d) {
  return "derived column '" + d.name + "' (template \"" + d.template_text + "\")";
}

Result<std::vector<Piece>> ParseTemplate(const DerivedColumn& d,
                                         const std::map<std::string_view, size_t>& base_index) {
  std::vector<Piece> pieces;
  std::string literal;
  auto flush_literal = [&] {
    if (!literal.empty()) pieces.push_back({Piece::Kind::kLiteral, std::move(literal), 0});
    literal.clear();
  };
  const std::string& t = d.template_text;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '}') {
      if (i + 1 < t.size() && t[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return Status::InvalidArgument(Describe(d) + ": unbalanced '}' at offset " +
                                     std::to_string(i) + "; write '}}' for a literal brace");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < t.size() && t[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    size_t close = t.find_first_of("{}", i + 1);
    if (close == std::string::npos || t[close] != '}') {
      return Status::InvalidArgument(Describe(d) + ": '{' at offset " + std::to_string(i) +
                                     " is not closed by '}'; write '{{' for a literal brace");
    }
    std::string_view name(t.data() + i + 1, close - i - 1);
    flush_literal();
    if (name == "row") {
      pieces.push_back({Piece::Kind::kRow, {}, 0});
    } else if (auto it = base_index.find(name); it != base_index.end()) {
      pieces.push_back({Piece::Kind::kColumn, {}, it->second});
    } else {
      std::string known;
      for (const auto& [n, index] : base_index)
        known += (known.empty() ? "" : ", ") + std::string(n);
      return Status::InvalidArgument(Describe(d) + ": unknown name {" + std::string(name) +
                                     "}; use {row} or one of the input columns: " + known);
    }
    i = close;
  }
  flush_literal();
  return pieces;
}

class DerivedRowSource : public RowSource {
 public:
  // Where a final column comes from: base[index] or derived[index].
  struct Source {
    bool derived;
    size_t index;
  };

  DerivedRowSource(const RowSource& base, std::vector<std::vector<Piece>> templates,
                   std::vector<std::string> columns, std::vector<Source> sources)
      : base_(base),
        templates_(std::move(templates)),
        columns_(std::move(columns)),
        sources_(std::move(sources)) {}

  const std::vector<std::string>& columns() const override { return columns_; }

  Status ForEach(
      const std::function<Status(std::span<const std::string_view>)>& row) const override {
    const size_t base_width = base_.columns().size();
    std::vector<std::string> derived(templates_.size());
    std::vector<std::string_view> out(sources_.size());
    uint64_t row_number = 0;
    return base_.ForEach([&](std::span<const std::string_view> cells) -> Status {
      ++row_number;
      if (cells.size() != base_width) {
        return Status::Internal("row " + std::to_string(row_number) + " has " +
                                std::to_string(cells.size()) + " cells but the input has " +
                                std::to_string(base_width) +
                                " columns; this is a bug in the "
                                "row source");
      }
      for (size_t d = 0; d < templates_.size(); ++d) {
        std::string& value = derived[d];
        value.clear();
        for (const Piece& p : templates_[d]) {
          switch (p.kind) {
            case Piece::Kind::kLiteral:
              value += p.literal;
              break;
            case Piece::Kind::kColumn:
              value += cells[p.column];
              break;
            case Piece::Kind::kRow:
              value += std::to_string(row_number);
              break;
          }
        }
      }
      for (size_t i = 0; i < sources_.size(); ++i) {
        out[i] = sources_[i].derived ? std::string_view(derived[sources_[i].index])
                                     : cells[sources_[i].index];
      }
      return row(out);
    });
  }

 private:
  const RowSource& base_;
  std::vector<std::vector<Piece>> templates_;
  std::vector<std::string> columns_;
  std::vector<Source> sources_;
};

}  // namespace

Result<std::unique_ptr<RowSource>> WithDerivedColumns(
    const RowSource& base, const std::vector<DerivedColumn>& derived,
    const std::vector<std::string>& column_order) {
  const std::vector<std::string>& base_columns = base.columns();
  std::map<std::string_view, size_t> base_index;
  for (size_t i = 0; i < base_columns.size(); ++i) base_index.emplace(base_columns[i], i);

  // Every available column, by name.
  std::map<std::string, DerivedRowSource::Source> available;
  std::vector<std::string> default_order;
  for (size_t i = 0; i < base_columns.size(); ++i) {
    available.emplace(base_columns[i], DerivedRowSource::Source{false, i});
    default_order.push_back(base_columns[i]);
  }
  std::vector<std::vector<Piece>> templates;
  for (size_t d = 0; d < derived.size(); ++d) {
    const DerivedColumn& dc = derived[d];
    if (dc.name.empty()) {
      return Status::InvalidArgument("a derived column with template \"" + dc.template_text +
                                     "\" has no name; give it one");
    }
    if (!available.emplace(dc.name, DerivedRowSource::Source{true, d}).second) {
      return Status::InvalidArgument(Describe(dc) + ": the name is already taken by " +
                                     (base_index.count(dc.name) ? "an input" : "another derived") +
                                     " column; choose another name");
    }
    ENCORE_ASSIGN_OR_RETURN(auto pieces, ParseTemplate(dc, base_index));
    templates.push_back(std::move(pieces));
    default_order.push_back(dc.name);
  }

  std::vector<DerivedRowSource::Source> sources;
  if (column_order.empty()) {
    // Input columns then derived ones, by position (input names need not be unique).
    for (size_t i = 0; i < base_columns.size(); ++i) sources.push_back({false, i});
    for (size_t d = 0; d < derived.size(); ++d) sources.push_back({true, d});
    return std::unique_ptr<RowSource>(new DerivedRowSource(
        base, std::move(templates), std::move(default_order), std::move(sources)));
  }
  std::set<std::string_view> picked;
  for (const std::string& name : column_order) {
    auto it = available.find(name);
    if (it == available.end()) {
      std::string known;
      for (const auto& n : default_order) known += (known.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("column order names unknown column '" + name +
                                     "'; choose from: " + known);
    }
    if (!picked.insert(name).second) {
      return Status::InvalidArgument("column order names column '" + name +
                                     "' twice; list each column once");
    }
    sources.push_back(it->second);
  }
  return std::unique_ptr<RowSource>(
      new DerivedRowSource(base, std::move(templates), column_order, std::move(sources)));
}

}  // namespace encore::pipeline
