// Catalog reading and key indexes (encore/catalog.h).

#include "encore/catalog.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "catalog/catalog_stream.h"
#include "io/byte_source.h"
#include "io/json_line.h"
#include "io/record_reader.h"
#include "io/text.h"

namespace encore {

std::string DefaultLevelsText() {
  std::string out;
  for (const std::string& l : CatalogOptions{}.levels) out += (out.empty() ? "" : ",") + l;
  return out;
}

std::optional<uint32_t> Catalog::FindLevel(std::string_view name) const {
  for (uint32_t i = 0; i < level_names_.size(); ++i) {
    if (level_names_[i] == name) return i;
  }
  return std::nullopt;
}

std::optional<uint32_t> Catalog::FindCounter(std::string_view name) const {
  for (uint32_t i = 0; i < counter_names_.size(); ++i) {
    if (counter_names_[i] == name) return i;
  }
  return std::nullopt;
}

CatalogBuilder::CatalogBuilder(const CatalogOptions& options) {
  catalog_.level_names_ = options.levels;
  catalog_.level_values_.resize(options.levels.size());
  catalog_.counter_names_ = options.counters;
}

Status CatalogBuilder::Add(const ProductRow& row) {
  Catalog& c = catalog_;
  if (row.id.empty()) return Status::InvalidArgument("empty product id");
  if (c.products_.Find(row.id)) {
    return Status::InvalidArgument("duplicate product id '" + row.id + "'");
  }
  if (row.levels.size() != c.level_names_.size()) {
    return Status::InvalidArgument("product '" + row.id + "' has " +
                                   std::to_string(row.levels.size()) + " level values, expected " +
                                   std::to_string(c.level_names_.size()));
  }
  for (size_t l = 0; l < row.levels.size(); ++l) {
    if (row.levels[l].empty()) {
      return Status::InvalidArgument("empty " + c.level_names_[l] + " for product '" + row.id +
                                     "'");
    }
  }
  if (!std::isfinite(row.price) || row.price < 0) {
    return Status::InvalidArgument("price of product '" + row.id +
                                   "' must be a finite number >= 0");
  }
  if (row.quantity < 0) {
    return Status::InvalidArgument("quantity of product '" + row.id + "' must be >= 0");
  }
  if (row.available_until < row.available_from) {
    return Status::InvalidArgument("sale window of product '" + row.id +
                                   "' ends before it starts (available_until < available_from)");
  }
  for (double v : row.counters) {
    if (!std::isfinite(v)) {
      return Status::InvalidArgument("counter of product '" + row.id + "' is not finite");
    }
  }
  c.products_.Intern(row.id);
  for (size_t l = 0; l < row.levels.size(); ++l) {
    c.nodes_.push_back(c.level_values_[l].Intern(row.levels[l]));
  }
  c.price_.push_back(row.price);
  c.launch_.push_back(row.launch);
  c.from_.push_back(row.available_from);
  c.until_.push_back(row.available_until);
  c.quantity_.push_back(row.quantity);
  for (size_t k = 0; k < c.counter_names_.size(); ++k) {
    c.counters_.push_back(k < row.counters.size() ? row.counters[k] : 0.0);
  }
  return Status::OK();
}

Catalog CatalogBuilder::Finish() && { return std::move(catalog_); }

namespace {

bool ParseInt64(std::string_view text, int64_t* out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec == std::errc() && ptr == text.data() + text.size()) return true;
  float f;  // "3.0" is accepted when integral
  if (io::ParseFloat(text, &f) && std::floor(f) == f) {
    *out = static_cast<int64_t>(f);
    return true;
  }
  return false;
}

bool ParseDouble(std::string_view text, double* out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(*out);
}

// Column positions of one file (or JSON keys), resolved from names.
struct Columns {
  int id = -1, price = -1, launch = -1, from = -1, until = -1, quantity = -1;
  std::vector<int> levels, counters;  // counters: -1 when absent
};

class RowSink {
 public:
  RowSink(const std::string& path, bool rows, const CatalogOptions& options, CatalogReport* report)
      : path_(path), rows_(rows), options_(options), report_(report), builder_(options) {}

  // "FILE:LINE" for files, "SOURCE row N" for row-numbered sources.
  std::string Where(uint64_t n) const {
    return path_ + (rows_ ? " row " : ":") + std::to_string(n);
  }

  // Resolves column names against `names` (header or JSON keys).
  Status Plan(const std::vector<std::string>& names) {
    auto find = [&](const std::string& name) -> int {
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) return static_cast<int>(i);
      }
      return -1;
    };
    std::string found;
    for (const std::string& n : names) {
      if (!n.empty()) found += (found.empty() ? "" : ", ") + n;
    }
    std::vector<std::string> missing;
    auto need = [&](const std::string& name, const char* what) {
      int at = find(name);
      if (at < 0) missing.push_back(std::string(what) + " column '" + name + "'");
      return at;
    };
    cols_.id = need(options_.id_col, "product id");
    for (const std::string& l : options_.levels) cols_.levels.push_back(need(l, "hierarchy"));
    cols_.price = need(options_.price_col, "price");
    cols_.launch = need(options_.launch_col, "launch time");
    cols_.from = need(options_.from_col, "sale window start");
    cols_.until = need(options_.until_col, "sale window end");
    cols_.quantity = need(options_.quantity_col, "quantity");
    for (const std::string& c : options_.counters) {
      cols_.counters.push_back(find(c));
      if (cols_.counters.back() < 0) report_->missing_counters.push_back(c);
    }
    if (!missing.empty()) {
      std::string msg = path_ + ": catalog has no ";
      for (size_t i = 0; i < missing.size(); ++i) msg += (i ? ", no " : "") + missing[i];
      msg += "; columns found: " + found +
             "; name the columns with the catalog options (id, levels, price, ...)";
      return Status::InvalidArgument(msg);
    }
    return Status::OK();
  }

  // One data row: field(i) gives the text of column i (nullopt if absent).
  template <typename Field>
  void Row(uint64_t line, const Field& field) {
    ++report_->rows_read;
    std::string error;
    ProductRow row;
    auto text = [&](int col) -> std::string_view {
      std::optional<std::string_view> v = field(col);
      return v ? *v : std::string_view();
    };
    row.id = std::string(text(cols_.id));
    for (size_t l = 0; l < cols_.levels.size(); ++l) {
      row.levels.emplace_back(text(cols_.levels[l]));
    }
    auto time = [&](int col, const std::string& name, int64_t* out) {
      if (!error.empty()) return;
      if (!io::ParseTimestamp(text(col), TimeUnit::kSeconds, out)) {
        error = name + " " + io::QuoteForMessage(text(col)) + " is not a time";
      }
    };
    if (!ParseDouble(text(cols_.price), &row.price)) {
      error = "price " + io::QuoteForMessage(text(cols_.price)) + " is not a number";
    }
    time(cols_.launch, options_.launch_col, &row.launch);
    time(cols_.from, options_.from_col, &row.available_from);
    time(cols_.until, options_.until_col, &row.available_until);
    if (error.empty() && !ParseInt64(text(cols_.quantity), &row.quantity)) {
      error = "quantity " + io::QuoteForMessage(text(cols_.quantity)) + " is not an integer";
    }
    for (size_t k = 0; error.empty() && k < cols_.counters.size(); ++k) {
      double v = 0;
      if (cols_.counters[k] >= 0) {
        std::string_view t = text(cols_.counters[k]);
        if (!t.empty() && !ParseDouble(t, &v)) {
          error = options_.counters[k] + " " + io::QuoteForMessage(t) + " is not a number";
        }
      }
      row.counters.push_back(v);
    }
    if (error.empty()) {
      auto seen = first_line_.find(row.id);
      Status st = builder_.Add(row);
      if (!st.ok()) {
        error = st.message();
        if (seen != first_line_.end())
          error += std::string(rows_ ? " (first on row " : " (first on line ") +
                   std::to_string(seen->second) + ")";
      } else {
        first_line_.emplace(row.id, line);
      }
    }
    if (error.empty()) {
      ++report_->rows_accepted;
      return;
    }
    ++report_->rows_rejected;
    if (report_->first_rejections.size() < 10) {
      report_->first_rejections.push_back({path_, line, error});
    }
  }

  Result<Catalog> Finish() && {
    if (report_->rows_rejected > options_.max_bad_rows) {
      std::string msg = path_ + ": " + std::to_string(report_->rows_rejected) +
                        " bad catalog row(s) (at most " + std::to_string(options_.max_bad_rows) +
                        " allowed; raise max_bad_rows to skip them):";
      for (const Rejection& r : report_->first_rejections) {
        msg += "\n" + Where(r.line) + ": " + r.reason;
      }
      return Status::InvalidArgument(msg);
    }
    return std::move(builder_).Finish();
  }

 private:
  const std::string& path_;
  bool rows_;
  const CatalogOptions& options_;
  CatalogReport* report_;
  CatalogBuilder builder_;
  Columns cols_;
  std::map<std::string, uint64_t> first_line_;
};

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

Result<Catalog> ReadCatalog(const std::string& path, const CatalogOptions& options,
                            CatalogReport* report) {
  std::string format = options.format;
  if (format.empty()) {
    format = EndsWith(path, ".jsonl") || EndsWith(path, ".json") || EndsWith(path, ".jsonl.gz")
                 ? "jsonl"
             : EndsWith(path, ".tsv") ? "tsv"
                                      : "csv";
  }
  if (format != "csv" && format != "tsv" && format != "jsonl") {
    return Status::InvalidArgument("catalog format '" + format + "': use csv, tsv or jsonl");
  }
  if (options.levels.empty()) {
    return Status::InvalidArgument("catalog levels: name at least one hierarchy column");
  }
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<io::ByteSource> source, io::ByteSource::Open(path));
  CatalogStream stream;
  stream.name = path;
  stream.format = format;
  return ReadCatalogStream(std::move(source), stream, options, report);
}

Result<Catalog> ReadCatalogStream(std::unique_ptr<io::ByteSource> source,
                                  const CatalogStream& stream, const CatalogOptions& options,
                                  CatalogReport* report) {
  CatalogReport local;
  if (report == nullptr) report = &local;
  *report = CatalogReport();
  const std::string& path = stream.name;
  report->file = path;
  report->numbered_by_row = stream.rows;
  const std::string& format = stream.format;
  if (format != "csv" && format != "tsv" && format != "jsonl") {
    return Status::InvalidArgument("catalog format '" + format + "': use csv, tsv or jsonl");
  }
  if (options.levels.empty()) {
    return Status::InvalidArgument("catalog levels: name at least one hierarchy column");
  }
  RowSink sink(path, stream.rows, options, report);
  if (format == "jsonl") {
    io::RecordReader rr(std::move(source), io::RecordReader::Mode::kLines, '\n');
    // Column names: the option names in a fixed order; each record maps them.
    std::vector<std::string> names = {options.id_col,   options.price_col, options.launch_col,
                                      options.from_col, options.until_col, options.quantity_col};
    for (const std::string& l : options.levels) names.push_back(l);
    for (const std::string& c : options.counters) names.push_back(c);
    io::JsonLineParser json;
    std::vector<std::pair<std::string, std::string>> fields;
    std::vector<std::string> nested_keys;
    std::string error;
    io::Record rec;
    bool planned = false;
    std::vector<std::string> values(names.size());
    std::vector<char> present(names.size());
    for (;;) {
      ENCORE_ASSIGN_OR_RETURN(bool more, rr.Next(&rec));
      if (!more) break;
      std::string_view line = rec.raw;
      while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
        line.remove_suffix(1);
      }
      if (line.empty()) continue;
      std::fill(present.begin(), present.end(), false);
      bool bad = !json.Parse(line, &fields, &nested_keys, &error);
      if (bad) error = "not a JSON object: " + error;
      for (const std::string& key : nested_keys) {
        if (!bad && std::find(names.begin(), names.end(), key) != names.end()) {
          bad = true;
          error = "key '" + key +
                  "' holds an object or array; catalog values must be strings "
                  "or numbers";
        }
      }
      if (!bad) {
        for (const auto& [key, text] : fields) {
          for (size_t i = 0; i < names.size(); ++i) {
            if (names[i] == key) {
              values[i] = text;
              present[i] = true;
            }
          }
        }
      }
      if (!planned) {
        if (bad) {
          return Status::InvalidArgument(path + ":" + std::to_string(rec.line) + ": " + error);
        }
        // The first record's keys say which columns exist; rows are then
        // read by name, whatever their key order.
        std::vector<std::string> plan(names.size());
        for (size_t i = 0; i < names.size(); ++i) {
          if (present[i]) plan[i] = names[i];
        }
        ENCORE_RETURN_IF_ERROR(sink.Plan(plan));
        planned = true;
      }
      if (bad) {
        ++report->rows_read;
        ++report->rows_rejected;
        if (report->first_rejections.size() < 10) {
          report->first_rejections.push_back({path, rec.line, error});
        }
        continue;
      }
      sink.Row(rec.line, [&](int col) -> std::optional<std::string_view> {
        if (col < 0 || !present[col]) return std::nullopt;
        return std::string_view(values[col]);
      });
    }
    if (!planned) return Status::InvalidArgument(path + ": catalog file is empty");
    return std::move(sink).Finish();
  }
  const char sep = options.separator != 0 ? options.separator : (format == "tsv" ? '\t' : ',');
  io::RecordReader rr(std::move(source), io::RecordReader::Mode::kDelimited, sep);
  io::Record rec;
  bool planned = false;
  uint64_t data_rows = 0;
  for (;;) {
    ENCORE_ASSIGN_OR_RETURN(bool more, rr.Next(&rec));
    if (!more) break;
    if (rec.raw.empty()) continue;
    if (!planned) {
      std::vector<std::string> header;
      for (const io::Field& f : rec.fields) header.emplace_back(f.value);
      ENCORE_RETURN_IF_ERROR(sink.Plan(header));
      planned = true;
      continue;
    }
    // Files number rows by physical line; row-numbered sources count data
    // rows (the header is row 0), whatever line breaks their cells hold.
    const uint64_t at = stream.rows ? ++data_rows : rec.line;
    if (rec.error != io::Record::Error::kNone) {
      ++report->rows_read;
      ++report->rows_rejected;
      if (report->first_rejections.size() < 10) {
        report->first_rejections.push_back({path, at, "unterminated or malformed quote"});
      }
      continue;
    }
    sink.Row(at, [&](int col) -> std::optional<std::string_view> {
      if (col < 0 || static_cast<size_t>(col) >= rec.fields.size()) return std::nullopt;
      return rec.fields[col].value;
    });
  }
  if (!planned) {
    return Status::InvalidArgument(path + (stream.rows ? ": catalog source returned no header"
                                                       : ": catalog file is empty (no header)"));
  }
  return std::move(sink).Finish();
}

}  // namespace encore
