// ReadInteractions: formats, presets, column resolution, row validation,
// obfuscation and the rejects file. The byte-level work is in RecordReader
// (delimited text) and JsonLineParser (JSON Lines, io/json_line.h).

#include "encore/reader.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_set>

#include "io/json_line.h"
#include "io/output_file.h"
#include "io/reader_internal.h"
#include "io/record_reader.h"
#include "io/text.h"
#include "util/threads.h"

namespace encore {

Result<InputFormat> ParseInputFormat(const std::string& name) {
  static const std::pair<const char*, InputFormat> kNames[] = {
      {"csv", InputFormat::kCsv},
      {"tsv", InputFormat::kTsv},
      {"jsonl", InputFormat::kJsonl},
      {"movielens", InputFormat::kMovieLens},
      {"ml-latest", InputFormat::kMlLatest},
      {"lastfm", InputFormat::kLastfm},
      {"baskets", InputFormat::kBaskets},
      {"matrix", InputFormat::kMatrix}};
  for (const auto& [n, f] : kNames) {
    if (name == n) return f;
  }
  return Status::InvalidArgument("unknown --format '" + name +
                                 "'; use csv, tsv, jsonl, movielens, ml-latest, lastfm, baskets or "
                                 "matrix");
}

const char* InputFormatName(InputFormat f) {
  switch (f) {
    case InputFormat::kCsv:
      return "csv";
    case InputFormat::kTsv:
      return "tsv";
    case InputFormat::kJsonl:
      return "jsonl";
    case InputFormat::kMovieLens:
      return "movielens";
    case InputFormat::kMlLatest:
      return "ml-latest";
    case InputFormat::kLastfm:
      return "lastfm";
    case InputFormat::kBaskets:
      return "baskets";
    case InputFormat::kMatrix:
      return "matrix";
  }
  return "?";
}

ColumnRef ColumnRef::Parse(const std::string& text) {
  ColumnRef ref;
  bool digits = !text.empty() && text.size() < 9 &&
                std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && std::stoi(text) > 0) {
    ref.index = std::stoi(text);
  } else {
    ref.name = text;
  }
  return ref;
}

std::string ColumnRef::ToString() const {
  if (!name.empty()) return "'" + name + "'";
  return "#" + std::to_string(index);
}

namespace {

using io::Field;
using io::Record;
using io::RecordReader;

// What a preset fixes about a file.
struct FormatSpec {
  char sep = ',';
  bool header = true;
  bool preset = false;      // a named data set: a first row that fails is a format mismatch
  int expected_fields = 0;  // > 0: the exact field count of every record
  const char* user = nullptr;
  const char* item = nullptr;
  const char* value = nullptr;
  const char* time = nullptr;
  const char* description = "";
};

FormatSpec SpecFor(InputFormat f) {
  FormatSpec s;
  switch (f) {
    case InputFormat::kCsv:
      break;
    case InputFormat::kTsv:
      s.sep = '\t';
      break;
    case InputFormat::kJsonl:
      break;
    case InputFormat::kMovieLens:
      s = {'\t',
           false,
           true,
           4,
           "1",
           "2",
           "3",
           "4",
           "MovieLens u.data: 4 tab-separated fields 'user item rating timestamp', no header"};
      break;
    case InputFormat::kMlLatest:
      s = {
          ',',      true,        true,
          0,        "userId",    "movieId",
          "rating", "timestamp", "MovieLens ratings.csv: header 'userId,movieId,rating,timestamp'"};
      break;
    case InputFormat::kLastfm:
      s = {'\t',
           true,
           true,
           0,
           "userID",
           "artistID",
           "weight",
           nullptr,
           "hetrec user_artists.dat: tab-separated with header 'userID artistID weight'"};
      break;
    case InputFormat::kBaskets:
      s.sep = ',';
      s.header = false;
      s.description = "one basket per line, items separated";
      break;
    case InputFormat::kMatrix:
      s.sep = ' ';  // any run of spaces and tabs, unless --sep is given
      s.header = false;
      s.description = "a dense matrix, one user per line, one item per column";
      break;
  }
  return s;
}

// Header names tried, case-insensitively, when a column is not chosen.
const std::vector<std::string>& Candidates(int role) {
  static const std::vector<std::string> kUser = {"user",        "user_id", "userid",    "customer",
                                                 "customer_id", "member",  "member_id", "visitor"};
  static const std::vector<std::string> kItem = {"item",       "item_id", "itemid",  "product",
                                                 "product_id", "sku",     "movieid", "artistid",
                                                 "artist",     "album"};
  static const std::vector<std::string> kValue = {"value", "rating", "count",  "quantity",
                                                  "qty",   "plays",  "weight", "score"};
  static const std::vector<std::string> kEvent = {"event", "event_type", "eventtype", "action",
                                                  "type"};
  static const std::vector<std::string> kTime = {"timestamp", "time", "ts",
                                                 "datetime",  "date", "event_time"};
  static const std::vector<std::string>* kAll[] = {&kUser, &kItem, &kValue, &kEvent, &kTime};
  return *kAll[role];
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  return out;
}

enum Role { kUser = 0, kItem, kValue, kEvent, kTime, kNumRoles };
const char* kRoleName[] = {"user", "item", "value", "event", "time"};
const char* kRoleFlag[] = {"--user-col", "--item-col", "--value-col", "--event-col", "--time-col"};

// Where each role and attribute comes from in one file.
struct ColumnPlan {
  int role_col[kNumRoles] = {-1, -1, -1, -1, -1};  // 0-based column, -1 = absent
  std::string role_label[kNumRoles];               // for messages: "'rating'" or "#3"
  std::vector<std::string> names;                  // header names (empty without a header)
  std::vector<bool> sensitive;                     // per column: obfuscated
  std::vector<std::pair<int, size_t>> attributes;  // (column, index in log.attributes)
  int expected_fields = 0;                         // 0 = any (baskets)
  // JSONL: per role/attribute, the key name.
  std::string role_key[kNumRoles];
  std::vector<std::pair<std::string, size_t>> attribute_keys;
  std::unordered_set<std::string> sensitive_keys;
};

// One reader run over several files.
class Reader {
 public:
  Reader(const ReadOptions& options, ReadReport* report, Progress* progress)
      : opt_(options), spec_(SpecFor(options.format)), report_(report), progress_(progress) {
    if (opt_.separator) spec_.sep = *opt_.separator;
    if (opt_.header) spec_.header = *opt_.header;
    known_events_.insert(opt_.known_events.begin(), opt_.known_events.end());
    id_limit_ = std::min<uint64_t>(opt_.max_distinct_ids, IdDictionary::kMaxSize);
  }

  Result<InteractionLog> Run(const std::vector<std::string>& paths);
  Result<InteractionLog> RunOnSources(std::vector<std::unique_ptr<io::ByteSource>> sources,
                                      uint64_t total_bytes);

 private:
  Status CheckOptions() const;
  Status ReadSource(std::unique_ptr<io::ByteSource> source, uint64_t size_before);

  // Parallel reading of one file (ReadOptions::threads). ReadInSlices cuts
  // the file into slices, reads each with its own Reader (each with its own
  // dictionaries, report and rejects buffer) and merges them into this one;
  // it returns false, with this Reader untouched, when the file must be read
  // sequentially instead (a boundary not certain, a slice failed, a limit
  // passed: the sequential read then gives the exact result or error).
  bool CanReadInSlices(const io::ByteSource& source) const;
  Status ReadInSlices(const io::ByteSource& source, uint64_t size_before, bool* done);
  // Reads one slice; `first`: it starts the file (header, plan, BOM).
  Status ReadSlice(std::unique_ptr<io::ByteSource> slice, bool first);
  // Makes this Reader continue `first`'s file: same plan and columns.
  void ContinueFrom(const Reader& first);
  // Appends `other` (a later slice) to log_, numbering its new ids after
  // log_'s in order of first appearance. False if a dictionary would pass id_limit_.
  // Releases `other` as it goes.
  bool AppendLog(InteractionLog& other);
  Status ReadDelimited(RecordReader& rr, const std::string& path);
  Status ReadJsonl(RecordReader& rr, const std::string& path);
  Status ReadMatrix(RecordReader& rr, const std::string& path);
  Status PlanFromHeader(const std::string& path, const std::vector<std::string>& names,
                        ColumnPlan* plan);
  Status PlanByIndex(const std::string& path, int field_count, ColumnPlan* plan);
  Status PlanJsonl(const std::string& path, const std::vector<std::string>& keys, ColumnPlan* plan);
  size_t AttributeSlot(const std::string& name);
  // The header names for an error message. With obfuscated columns they are
  // not shown: in a file that lacks its header line, the "header" is a data
  // line holding the very values to hide.
  std::string HeaderForMessage(const std::vector<std::string>& names) const;

  // Validates one row given each role's text (nullptr = column absent) and
  // appends it, or rejects it. `masked` says which roles are obfuscated.
  Status AcceptOrReject(const std::string& path, const Record& rec,
                        const std::string_view* role_text, const bool* role_present,
                        const bool* role_sensitive,
                        const std::vector<std::pair<size_t, std::string_view>>& attrs,
                        const std::vector<bool>& attr_sensitive, bool* rejected);
  Status Reject(const std::string& path, const Record& rec, const std::string& kind,
                const std::string& reason, bool fields_reliable);
  std::string MaskedRaw(const Record& rec, bool fields_reliable) const;
  std::string Obfuscated(std::string_view raw, size_t column_key);
  void ReportProgress(const RecordReader& rr);

  // Slice state (ReadInSlices); defaults are the sequential read.
  bool continuation_ = false;                   // a later slice: planned, no header
  std::string* reject_buffer_ = nullptr;        // rejected records go here, not to rejects_
  const std::atomic<bool>* cancel_ = nullptr;   // another slice failed: stop
  std::function<void()> on_planned_;            // first slice: the plan is known
  uint64_t progress_scale_ = 1;                 // first slice: stands for the whole file
  uint64_t slice_lines_ = 0;                    // lines read (next_line() - 1)
  bool slice_end_uncertain_ = false;            // quoted_record_hit_end()
  bool slice_too_long_quote_ = false;           // quoted_record_too_long()

  const ReadOptions& opt_;
  FormatSpec spec_;
  ReadReport* report_;
  Progress* progress_;
  InteractionLog log_;
  ColumnPlan plan_;
  absl::flat_hash_set<std::string> known_events_;
  std::unique_ptr<io::OutputFile> rejects_;
  bool first_row_of_file_ = true;
  uint64_t progress_base_ = 0;
  uint64_t baskets_ = 0;
  // raw value -> obfuscated value, per sensitive column name.
  absl::flat_hash_map<std::string, std::string> hash_cache_;
  std::string scratch_;
  std::vector<std::pair<size_t, std::string_view>> attrs_;
  std::vector<bool> attr_sensitive_;
  // The obfuscated value of each role (and one for attributes) being stored:
  // separate buffers, since user and item may both be hashed in one row.
  std::string hashed_[kNumRoles + 1];

  // User and item ids wait here and are interned a batch at a time, with the
  // hash-table slots prefetched first: interning is the hottest step of a
  // read and is bound by memory latency, not work. Every other column is
  // appended at once; FlushIds() runs before anything looks at log_.size().
  void QueueIds(std::string_view user, std::string_view item);
  void FlushIds();
  // The error of a dictionary holding id_limit_ ids when another comes.
  Status TooManyIds(const std::string& path, const char* what) const {
    return Status::InvalidArgument(
        path + ": more than " + std::to_string(id_limit_) + " distinct " + what +
        "; encore numbers them with 32 bits. Split the input (e.g. by time window) or "
        "sample users");
  }
  uint64_t id_limit_ = 0;
  Status overflow_;           // set by FlushIds when a dictionary is full
  std::string current_path_;  // the file being read, for overflow_
  static constexpr size_t kIdBatch = 64;
  std::string queued_text_;
  std::vector<uint32_t> queued_len_;  // user length, item length, ...
};

Status Reader::CheckOptions() const {
  if (!opt_.obfuscate_cols.empty() && opt_.obfuscator == nullptr) {
    return Status::InvalidArgument(
        "--obfuscate needs a key: pass --obfuscation-key-file FILE or set " +
        std::string(Obfuscator::kKeyEnvVar));
  }
  if ((opt_.format == InputFormat::kBaskets || opt_.format == InputFormat::kMatrix) &&
      !opt_.obfuscate_cols.empty()) {
    return Status::InvalidArgument(std::string("--obfuscate is not supported with --format ") +
                                   InputFormatName(opt_.format) + " (" +
                                   InputFormatName(opt_.format) + " files have no named columns)");
  }
  if (opt_.format == InputFormat::kMatrix && opt_.header.value_or(false)) {
    return Status::InvalidArgument(
        "--header is not supported with --format matrix (line n is user n); remove the "
        "header line from the file or drop --header");
  }
  if (spec_.sep == '"' || spec_.sep == '\n' || spec_.sep == '\r') {
    return Status::InvalidArgument("--sep cannot be a quote or a line break");
  }
  return Status::OK();
}

size_t Reader::AttributeSlot(const std::string& name) {
  for (size_t i = 0; i < log_.attributes.size(); ++i) {
    if (log_.attributes[i].name == name) return i;
  }
  log_.attributes.emplace_back();
  log_.attributes.back().name = name;
  FlushIds();
  // Rows already read had no such column: give them the empty value.
  if (log_.size() > 0) {
    uint32_t empty = log_.attributes.back().values.Intern("");
    for (size_t r = 0; r < log_.size(); ++r) log_.attributes.back().codes.push_back(empty);
  }
  return log_.attributes.size() - 1;
}

std::string Reader::HeaderForMessage(const std::vector<std::string>& names) const {
  if (opt_.obfuscate_cols.empty()) return JoinNames(names);
  return "(" + std::to_string(names.size()) +
         " names not shown, since columns are obfuscated: if the file lacks its header line, "
         "its first line is data)";
}

Status Reader::PlanFromHeader(const std::string& path, const std::vector<std::string>& names,
                              ColumnPlan* plan) {
  plan->names = names;
  plan->expected_fields = static_cast<int>(names.size());
  const ColumnRef* refs[kNumRoles] = {&opt_.user_col, &opt_.item_col, &opt_.value_col,
                                      &opt_.event_col, &opt_.time_col};
  const char* preset_names[kNumRoles] = {spec_.user, spec_.item, spec_.value, nullptr, spec_.time};
  auto find = [&](const std::string& want) -> int {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == want) return static_cast<int>(i);
    }
    std::string lw = Lower(want);
    for (size_t i = 0; i < names.size(); ++i) {
      if (Lower(names[i]) == lw) return static_cast<int>(i);
    }
    return -1;
  };
  std::vector<bool> used(names.size(), false);
  for (int role = 0; role < kNumRoles; ++role) {
    int col = -1;
    if (refs[role]->is_set()) {
      const ColumnRef& ref = *refs[role];
      if (ref.index > 0) {
        if (ref.index > static_cast<int>(names.size())) {
          return Status::InvalidArgument(path + ":1: " + kRoleFlag[role] + " " +
                                         std::to_string(ref.index) + " but the header has " +
                                         std::to_string(names.size()) +
                                         " columns: " + HeaderForMessage(names));
        }
        col = ref.index - 1;
      } else {
        col = find(ref.name);
        if (col < 0) {
          return Status::InvalidArgument(path + ":1: no column named '" + ref.name + "' (" +
                                         kRoleFlag[role] +
                                         "); the header has: " + HeaderForMessage(names));
        }
      }
    } else if (preset_names[role] != nullptr && spec_.preset) {
      col = find(preset_names[role]);
      if (col < 0) {
        return Status::InvalidArgument(
            path + ":1: does not look like a " + InputFormatName(opt_.format) +
            " file: the header has no '" + preset_names[role] + "' column (expected " +
            spec_.description + "; the header has: " + HeaderForMessage(names) +
            "). Use --format csv or tsv with --user-col/--item-col for other layouts");
      }
    } else if (!spec_.preset) {
      for (const auto& cand : Candidates(role)) {
        for (size_t i = 0; i < names.size() && col < 0; ++i) {
          if (!used[i] && Lower(names[i]) == cand) col = static_cast<int>(i);
        }
        if (col >= 0) break;
      }
    }
    if (col >= 0) {
      if (used[col]) {
        return Status::InvalidArgument(
            path + ":1: column " +
            (opt_.obfuscate_cols.empty() ? "'" + names[col] + "'" : std::to_string(col + 1)) +
            " is chosen for two roles; pick distinct columns");
      }
      used[col] = true;
      plan->role_col[role] = col;
      plan->role_label[role] = "'" + names[col] + "'";
    }
  }
  for (int role : {kUser, kItem}) {
    if (plan->role_col[role] < 0) {
      return Status::InvalidArgument(path + ":1: cannot tell which column holds the " +
                                     kRoleName[role] +
                                     " id; the header has: " + HeaderForMessage(names) + ". Pass " +
                                     kRoleFlag[role] + " NAME or a 1-based number");
    }
  }
  if (plan->role_col[kValue] >= 0) report_->value_column = names[plan->role_col[kValue]];
  plan->sensitive.assign(names.size(), false);
  for (const std::string& c : opt_.obfuscate_cols) {
    ColumnRef ref = ColumnRef::Parse(c);
    int col = ref.index > 0 ? ref.index - 1 : find(ref.name);
    if (col < 0 || col >= static_cast<int>(names.size())) {
      return Status::InvalidArgument(path + ":1: --obfuscate names column '" + c +
                                     "' but the header has: " + HeaderForMessage(names));
    }
    plan->sensitive[col] = true;
  }
  if (opt_.keep_all_attributes || !opt_.attribute_cols.empty()) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (used[i]) continue;
      bool wanted = opt_.attribute_cols.empty() ||
                    std::find(opt_.attribute_cols.begin(), opt_.attribute_cols.end(), names[i]) !=
                        opt_.attribute_cols.end();
      if (wanted) plan->attributes.emplace_back(static_cast<int>(i), AttributeSlot(names[i]));
    }
    for (const auto& want : opt_.attribute_cols) {
      if (find(want) < 0) {
        return Status::InvalidArgument(path + ":1: --attributes names column '" + want +
                                       "' but the header has: " + HeaderForMessage(names));
      }
    }
  }
  return Status::OK();
}

Status Reader::PlanByIndex(const std::string& path, int field_count, ColumnPlan* plan) {
  plan->expected_fields = spec_.expected_fields > 0 ? spec_.expected_fields : field_count;
  const ColumnRef* refs[kNumRoles] = {&opt_.user_col, &opt_.item_col, &opt_.value_col,
                                      &opt_.event_col, &opt_.time_col};
  const char* preset_cols[kNumRoles] = {spec_.user, spec_.item, spec_.value, nullptr, spec_.time};
  for (int role = 0; role < kNumRoles; ++role) {
    int index = 0;
    if (refs[role]->is_set()) {
      if (!refs[role]->name.empty()) {
        return Status::InvalidArgument(path + ": " + kRoleFlag[role] + " '" + refs[role]->name +
                                       "' is a name but the file has no header; use a 1-based "
                                       "column number or --header");
      }
      index = refs[role]->index;
    } else if (preset_cols[role] != nullptr) {
      index = std::atoi(preset_cols[role]);
    } else if (!spec_.preset) {
      // Headerless csv/tsv: user, item, value in columns 1, 2, 3.
      if (role == kUser) index = 1;
      if (role == kItem) index = 2;
      if (role == kValue && plan->expected_fields >= 3) index = 3;
    }
    if (index > 0) {
      if (index > plan->expected_fields && !spec_.preset) {
        return Status::InvalidArgument(path + ":1: " + kRoleFlag[role] + " " +
                                       std::to_string(index) + " but the first record has " +
                                       std::to_string(plan->expected_fields) + " fields");
      }
      plan->role_col[role] = index - 1;
      plan->role_label[role] = "#" + std::to_string(index);
    }
  }
  plan->sensitive.assign(std::max(plan->expected_fields, 1), false);
  for (const std::string& c : opt_.obfuscate_cols) {
    ColumnRef ref = ColumnRef::Parse(c);
    if (ref.index <= 0 || ref.index > plan->expected_fields) {
      return Status::InvalidArgument(path + ": --obfuscate '" + c +
                                     "' must be a 1-based column number when the file has no "
                                     "header (it has " +
                                     std::to_string(plan->expected_fields) + " fields)");
    }
    plan->sensitive[ref.index - 1] = true;
  }
  return Status::OK();
}

Status Reader::PlanJsonl(const std::string& path, const std::vector<std::string>& keys,
                         ColumnPlan* plan) {
  // Resolve against the first object's keys exactly as a header would be.
  ColumnPlan tmp;
  for (const ColumnRef* ref :
       {&opt_.user_col, &opt_.item_col, &opt_.value_col, &opt_.event_col, &opt_.time_col}) {
    if (ref->index > 0) {
      return Status::InvalidArgument(path +
                                     ": JSON Lines columns are chosen by key name, not by "
                                     "number (got " +
                                     ref->ToString() + ")");
    }
  }
  ENCORE_RETURN_IF_ERROR(PlanFromHeader(path, keys, &tmp));
  for (int role = 0; role < kNumRoles; ++role) {
    if (tmp.role_col[role] >= 0) {
      plan->role_key[role] = keys[tmp.role_col[role]];
      plan->role_label[role] = tmp.role_label[role];
    }
  }
  for (const auto& [col, slot] : tmp.attributes) plan->attribute_keys.emplace_back(keys[col], slot);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (tmp.sensitive[i]) plan->sensitive_keys.insert(keys[i]);
  }
  return Status::OK();
}

std::string Reader::Obfuscated(std::string_view raw, size_t column_key) {
  // Keyed by column so the same value in two columns hashes independently of order.
  scratch_.assign(reinterpret_cast<const char*>(&column_key), sizeof column_key);
  scratch_.append(raw);
  auto it = hash_cache_.find(scratch_);
  if (it != hash_cache_.end()) return it->second;
  std::string h = opt_.obfuscator->Hash(raw);
  hash_cache_.emplace(scratch_, h);
  return h;
}

std::string Reader::MaskedRaw(const Record& rec, bool fields_reliable) const {
  if (opt_.obfuscate_cols.empty()) return std::string(rec.raw);
  if (plan_.sensitive.empty() && plan_.sensitive_keys.empty()) {
    // Rejected before the columns are known: any field may be sensitive.
    return "masked:" + opt_.obfuscator->Hash(rec.raw);
  }
  bool any_sensitive =
      std::find(plan_.sensitive.begin(), plan_.sensitive.end(), true) != plan_.sensitive.end() ||
      !plan_.sensitive_keys.empty();
  if (!any_sensitive) return std::string(rec.raw);
  if (!fields_reliable || opt_.format == InputFormat::kJsonl) {
    // Column positions are unknown: nothing of the record can be shown.
    return "masked:" + opt_.obfuscator->Hash(rec.raw);
  }
  std::string out;
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    if (i) out += spec_.sep;
    const Field& f = rec.fields[i];
    if (i < plan_.sensitive.size() && plan_.sensitive[i]) {
      out += opt_.obfuscator->Hash(f.value);
    } else {
      out.append(rec.raw.substr(f.raw_begin, f.raw_end - f.raw_begin));
    }
  }
  return out;
}

Status Reader::Reject(const std::string& path, const Record& rec, const std::string& kind,
                      const std::string& reason, bool fields_reliable) {
  report_->AddRejection(kind, Rejection{path, rec.line, reason});
  if (reject_buffer_ != nullptr) {
    *reject_buffer_ += MaskedRaw(rec, fields_reliable);
    *reject_buffer_ += '\n';
  } else if (rejects_ != nullptr) {
    std::string line = MaskedRaw(rec, fields_reliable);
    line += '\n';
    ENCORE_RETURN_IF_ERROR(rejects_->Write(line));
  }
  if (spec_.preset && first_row_of_file_) {
    return Status::ParseError(path + ":" + std::to_string(rec.line) + ": does not look like a " +
                              InputFormatName(opt_.format) + " file (" + reason + "); expected " +
                              spec_.description +
                              ". Use --format csv or tsv with --user-col/--item-col for other "
                              "layouts");
  }
  if (report_->rows_rejected > opt_.max_bad_rows) {
    const Rejection& first = report_->first_rejections.front();
    return Status::ParseError(first.file + ":" + std::to_string(first.line) + ": " + first.reason +
                              " (" + std::to_string(report_->rows_rejected) + " rejected row" +
                              (report_->rows_rejected == 1 ? "" : "s") + " exceeds the limit of " +
                              std::to_string(opt_.max_bad_rows) + " set by " +
                              opt_.max_bad_rows_hint + ")");
  }
  return Status::OK();
}

Status Reader::AcceptOrReject(const std::string& path, const Record& rec,
                              const std::string_view* text, const bool* present,
                              const bool* sensitive,
                              const std::vector<std::pair<size_t, std::string_view>>& attrs,
                              const std::vector<bool>& attr_sensitive, bool* rejected) {
  *rejected = true;
  auto shown = [&](int role) {
    return sensitive[role] ? std::string("(value masked)") : io::QuoteForMessage(text[role]);
  };
  for (int role = 0; role < kNumRoles; ++role) {
    if (plan_.role_col[role] < 0 && plan_.role_key[role].empty()) continue;
    if (!present[role]) {
      return Reject(path, rec, "missing column",
                    std::string("missing ") + kRoleName[role] + " column " + plan_.role_label[role],
                    true);
    }
  }
  if (text[kUser].empty()) {
    return Reject(path, rec, "empty id", "empty user id in column " + plan_.role_label[kUser],
                  true);
  }
  if (text[kItem].empty()) {
    return Reject(path, rec, "empty id", "empty item id in column " + plan_.role_label[kItem],
                  true);
  }
  float value = 1.0f;
  if (present[kValue] && !io::ParseFloat(text[kValue], &value)) {
    return Reject(path, rec, "bad number",
                  "unparsable number " + shown(kValue) + " in column " + plan_.role_label[kValue],
                  true);
  }
  if (present[kEvent]) {
    if (text[kEvent].empty()) {
      return Reject(path, rec, "empty event type",
                    "empty event type in column " + plan_.role_label[kEvent], true);
    }
    if (!known_events_.empty() &&
        known_events_.find(std::string(text[kEvent])) == known_events_.end()) {
      return Reject(path, rec, "unknown event type",
                    "event type " + shown(kEvent) + " in column " + plan_.role_label[kEvent] +
                        " has no weight; add it to --weights",
                    true);
    }
  }
  int64_t t = 0;
  if (present[kTime] && !io::ParseTimestamp(text[kTime], opt_.time_unit, &t)) {
    return Reject(path, rec, "bad timestamp",
                  "bad timestamp " + shown(kTime) + " in column " + plan_.role_label[kTime] +
                      " (expected unix seconds or milliseconds, or ISO-8601 like "
                      "2024-05-01T12:00:00Z)",
                  true);
  }
  if (!overflow_.ok()) return overflow_;
  // Indices are 32 bits: a dictionary full of ids takes no new one (an
  // error, never an abort). Checked only when a dictionary is full.
  auto full = [&](const IdDictionary& dict, std::string_view id) {
    return dict.size() >= id_limit_ && !dict.Find(id).has_value();
  };
  *rejected = false;
  // The stored text of a column: itself, or its keyed hash when obfuscated.
  auto stored = [&](int role) -> std::string_view {
    if (!sensitive[role]) return text[role];
    hashed_[role] = Obfuscated(text[role], role);
    return hashed_[role];
  };
  QueueIds(stored(kUser), stored(kItem));
  log_.value.push_back(value);
  if (log_.has_events) {
    const std::string_view event = present[kEvent] ? stored(kEvent) : "";
    if (full(log_.events, event)) return TooManyIds(path, "event types");
    log_.event.push_back(log_.events.Intern(event));
  }
  if (log_.has_times) log_.time.push_back(t);
  // Attribute columns of this file; the others get the empty value.
  for (size_t a = 0; a < log_.attributes.size(); ++a) {
    std::string_view v;
    bool sens = false;
    for (size_t k = 0; k < attrs.size(); ++k) {
      if (attrs[k].first == a) {
        v = attrs[k].second;
        sens = attr_sensitive[k];
      }
    }
    auto& col = log_.attributes[a];
    if (sens) {
      hashed_[kNumRoles] = Obfuscated(v, 100 + a);
      v = hashed_[kNumRoles];
    }
    if (full(col.values, v)) return TooManyIds(path, "values of an attribute column");
    col.codes.push_back(col.values.Intern(v));
  }
  ++report_->rows_accepted;
  return Status::OK();
}

void Reader::QueueIds(std::string_view user, std::string_view item) {
  queued_text_.append(user);
  queued_text_.append(item);
  queued_len_.push_back(static_cast<uint32_t>(user.size()));
  queued_len_.push_back(static_cast<uint32_t>(item.size()));
  if (queued_len_.size() >= 2 * kIdBatch) FlushIds();
}

void Reader::FlushIds() {
  const size_t n = queued_len_.size() / 2;
  if (n == 0) return;
  std::string_view ids[2 * kIdBatch];
  uint64_t hashes[2 * kIdBatch];
  size_t offset = 0;
  for (size_t k = 0; k < 2 * n; ++k) {
    ids[k] = std::string_view(queued_text_).substr(offset, queued_len_[k]);
    offset += queued_len_[k];
    hashes[k] = IdDictionary::Hash(ids[k]);
    (k % 2 == 0 ? log_.users : log_.items).Prefetch(hashes[k]);
  }
  // A full dictionary takes no new id: the first such id sets overflow_,
  // which stops the read (index 0 stands in, so the columns stay aligned).
  auto intern = [&](IdDictionary& dict, size_t k, const char* what) -> uint32_t {
    if (dict.size() >= id_limit_ && !dict.Find(ids[k]).has_value()) {
      if (overflow_.ok()) overflow_ = TooManyIds(current_path_, what);
      return 0;
    }
    return dict.InternHashed(ids[k], hashes[k]);
  };
  for (size_t r = 0; r < n; ++r) {
    log_.user.push_back(intern(log_.users, 2 * r, "users"));
    log_.item.push_back(intern(log_.items, 2 * r + 1, "items"));
  }
  queued_text_.clear();
  queued_len_.clear();
}

void Reader::ReportProgress(const RecordReader& rr) {
  if (progress_ != nullptr && (report_->rows_read & 4095) == 0) {
    progress_->Update(progress_base_ + rr.source().file_offset() * progress_scale_,
                      report_->rows_read * progress_scale_);
  }
}

Status Reader::ReadDelimited(RecordReader& rr, const std::string& path) {
  Record rec;
  if (!continuation_) plan_ = ColumnPlan();
  bool planned = continuation_;
  const bool baskets = opt_.format == InputFormat::kBaskets;
  uint64_t records_in_file = 0;
  first_row_of_file_ = !continuation_;
  std::string_view text[kNumRoles];
  bool present[kNumRoles];
  bool sensitive[kNumRoles];
  while (true) {
    ENCORE_ASSIGN_OR_RETURN(bool more, rr.Next(&rec));
    if (!more) break;
    if (cancel_ != nullptr && (rec.line & 1023) == 0 && cancel_->load(std::memory_order_relaxed)) {
      return Status::Internal("cancelled: another slice of " + path + " failed");
    }
    if (rec.raw.empty()) {
      ++report_->blank_lines;
      continue;
    }
    if (!planned && spec_.header) {
      if (rec.error != Record::Error::kNone) {
        return Status::ParseError(path + ":" + std::to_string(rec.line) +
                                  ": the header line has a malformed quoted field");
      }
      if (!io::IsValidUtf8(rec.raw)) {
        return Status::ParseError(path + ":" + std::to_string(rec.line) +
                                  ": the header line is not valid UTF-8");
      }
      std::vector<std::string> names;
      for (const Field& f : rec.fields) names.emplace_back(f.value);
      ENCORE_RETURN_IF_ERROR(PlanFromHeader(path, names, &plan_));
      planned = true;
      continue;
    }
    ++report_->rows_read;
    ++records_in_file;
    ReportProgress(rr);
    if (!planned && !baskets) {
      if (rec.error != Record::Error::kNone && !spec_.preset) {
        // Cannot learn the layout from a broken record: count it, plan from the next one.
        ENCORE_RETURN_IF_ERROR(Reject(path, rec, "unterminated quote",
                                      "malformed quoted field before the layout is known", false));
        continue;
      }
      ENCORE_RETURN_IF_ERROR(
          PlanByIndex(path, static_cast<int>(std::max<size_t>(rec.fields.size(), 1)), &plan_));
      planned = true;
    }
    if (!log_.has_events && plan_.role_col[kEvent] >= 0) {
      FlushIds();
      log_.has_events = true;
      for (size_t r = 0; r < log_.size(); ++r) log_.event.push_back(log_.events.Intern(""));
    }
    if (!log_.has_times && plan_.role_col[kTime] >= 0) {
      if (log_.size() > 0) {
        return Status::InvalidArgument(path +
                                       ": has a time column but earlier files do not; "
                                       "read files with the same layout together");
      }
      log_.has_times = true;
    }
    if (log_.has_times && plan_.role_col[kTime] < 0) {
      return Status::InvalidArgument(path +
                                     ": has no time column but earlier files do; "
                                     "read files with the same layout together");
    }
    if (on_planned_) {
      // The layout is fixed: the other slices can start.
      std::function<void()> start = std::move(on_planned_);
      on_planned_ = nullptr;
      start();
    }
    if (rec.error == Record::Error::kUnterminatedQuote) {
      ENCORE_RETURN_IF_ERROR(Reject(path, rec, "unterminated quote",
                                    "unterminated quoted field (a '\"' opens a field that "
                                    "never closes)",
                                    false));
      first_row_of_file_ = false;
      continue;
    }
    if (rec.error == Record::Error::kTextAfterQuote) {
      ENCORE_RETURN_IF_ERROR(Reject(path, rec, "text after quote",
                                    "text after a closing quote (quotes inside a quoted field "
                                    "must be doubled: \"\")",
                                    false));
      first_row_of_file_ = false;
      continue;
    }
    if (!io::IsValidUtf8(rec.raw)) {
      ENCORE_RETURN_IF_ERROR(Reject(path, rec, "invalid UTF-8", "invalid UTF-8", true));
      first_row_of_file_ = false;
      continue;
    }
    if (baskets) {
      size_t empty_at = 0;
      for (size_t i = 0; i < rec.fields.size() && !empty_at; ++i) {
        if (rec.fields[i].value.empty()) empty_at = i + 1;
      }
      if (empty_at) {
        ENCORE_RETURN_IF_ERROR(Reject(path, rec, "empty id",
                                      "empty item name at position " + std::to_string(empty_at),
                                      true));
        continue;
      }
      std::string basket = std::to_string(++baskets_);
      for (const Field& f : rec.fields) {
        QueueIds(basket, f.value);
        log_.value.push_back(1.0f);
      }
      ++report_->rows_accepted;
      first_row_of_file_ = false;
      continue;
    }
    if (static_cast<int>(rec.fields.size()) != plan_.expected_fields) {
      ENCORE_RETURN_IF_ERROR(Reject(path, rec, "wrong column count",
                                    "expected " + std::to_string(plan_.expected_fields) +
                                        " fields, got " + std::to_string(rec.fields.size()),
                                    false));
      first_row_of_file_ = false;
      continue;
    }
    for (int role = 0; role < kNumRoles; ++role) {
      int col = plan_.role_col[role];
      present[role] = col >= 0;
      text[role] = col >= 0 ? rec.fields[col].value : std::string_view();
      sensitive[role] = col >= 0 && plan_.sensitive[col];
    }
    attrs_.clear();
    attr_sensitive_.clear();
    for (const auto& [col, slot] : plan_.attributes) {
      attrs_.emplace_back(slot, rec.fields[col].value);
      attr_sensitive_.push_back(plan_.sensitive[col]);
    }
    bool rejected;
    ENCORE_RETURN_IF_ERROR(
        AcceptOrReject(path, rec, text, present, sensitive, attrs_, attr_sensitive_, &rejected));
    first_row_of_file_ = false;
  }
  if (continuation_) return Status::OK();  // a later slice: the file's checks are the first's
  if (!planned && spec_.header) {
    return Status::InvalidArgument(path + " is empty; expected a header line and data rows");
  }
  if (records_in_file == 0) {
    return Status::InvalidArgument(path + (spec_.header ? " has a header but no data rows"
                                                        : " is empty: it has no data rows"));
  }
  return Status::OK();
}

// A dense matrix: physical line n is user "n", the m-th cell of a line item
// "m"; cells are separated by runs of spaces and tabs (or exactly by --sep).
// Every line has the first data line's cell count. A line with a cell that
// is not a number, or with another count, is rejected whole, naming the
// column; cells equal to missing_value are skipped.
Status Reader::ReadMatrix(RecordReader& rr, const std::string& path) {
  Record rec;
  first_row_of_file_ = true;
  const bool whitespace =
      !opt_.separator.has_value() || *opt_.separator == ' ' || *opt_.separator == '\t';
  size_t columns = 0;  // cells per line, from the first data line
  uint64_t records_in_file = 0;
  std::vector<std::string_view> cells;
  std::vector<float> values;
  while (true) {
    ENCORE_ASSIGN_OR_RETURN(bool more, rr.Next(&rec));
    if (!more) break;
    std::string_view line = rec.raw;
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      ++report_->blank_lines;
      continue;
    }
    ++report_->rows_read;
    ++records_in_file;
    ReportProgress(rr);
    cells.clear();
    if (whitespace) {
      size_t i = 0;
      while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i == line.size()) break;
        size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        cells.push_back(line.substr(i, j - i));
        i = j;
      }
    } else {
      size_t start = 0;
      while (true) {
        size_t at = line.find(*opt_.separator, start);
        cells.push_back(line.substr(start, at == std::string_view::npos ? at : at - start));
        if (at == std::string_view::npos) break;
        start = at + 1;
      }
    }
    if (columns == 0) columns = cells.size();
    if (cells.size() != columns) {
      ENCORE_RETURN_IF_ERROR(Reject(
          path, rec, "wrong column count",
          "column " + std::to_string(std::min(cells.size(), columns) + 1) + ": expected " +
              std::to_string(columns) + " cells (as the first line), got " +
              std::to_string(cells.size()) +
              "; every line of a matrix has one cell per item (the missing value, --missing-value, "
              "for none)",
          true));
      first_row_of_file_ = false;
      continue;
    }
    values.resize(cells.size());
    size_t bad = 0;
    for (size_t c = 0; c < cells.size() && bad == 0; ++c) {
      if (!io::ParseFloat(cells[c], &values[c])) bad = c + 1;
    }
    if (bad != 0) {
      const bool utf8 = io::IsValidUtf8(cells[bad - 1]);
      ENCORE_RETURN_IF_ERROR(
          Reject(path, rec, "bad number",
                 "column " + std::to_string(bad) + ": " +
                     (utf8 ? "unparsable number " + io::QuoteForMessage(cells[bad - 1])
                           : std::string("invalid UTF-8 where a number belongs")) +
                     "; a matrix cell is a finite decimal number, and a missing one is written "
                     "as the missing value (--missing-value, default 0)",
                 true));
      first_row_of_file_ = false;
      continue;
    }
    const std::string user = std::to_string(rec.line);
    for (size_t c = 0; c < values.size(); ++c) {
      if (values[c] == opt_.missing_value) continue;
      QueueIds(user, std::to_string(c + 1));
      log_.value.push_back(values[c]);
    }
    ++report_->rows_accepted;
    first_row_of_file_ = false;
  }
  if (records_in_file == 0) {
    return Status::InvalidArgument(path + " is empty: it has no matrix rows");
  }
  return Status::OK();
}

Status Reader::ReadJsonl(RecordReader& rr, const std::string& path) {
  io::JsonLineParser json;
  Record rec;
  plan_ = ColumnPlan();
  bool planned = false;
  uint64_t records_in_file = 0;
  first_row_of_file_ = true;
  std::string_view text[kNumRoles];
  bool present[kNumRoles];
  bool sensitive[kNumRoles];
  std::vector<std::pair<std::string, std::string>> keys_values;  // stable copies of this record
  std::vector<std::string> nested_keys;                          // keys holding an object or array
  while (true) {
    ENCORE_ASSIGN_OR_RETURN(bool more, rr.Next(&rec));
    if (!more) break;
    std::string_view line = rec.raw;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) {
      ++report_->blank_lines;
      continue;
    }
    ++report_->rows_read;
    ++records_in_file;
    ReportProgress(rr);
    if (!io::IsValidUtf8(line)) {
      ENCORE_RETURN_IF_ERROR(Reject(path, rec, "invalid UTF-8", "invalid UTF-8", false));
      continue;
    }
    std::string error_text;
    const bool ok = json.Parse(line, &keys_values, &nested_keys, &error_text);
    if (!ok) {
      ENCORE_RETURN_IF_ERROR(
          Reject(path, rec, "invalid JSON", "invalid JSON object: " + error_text, false));
      first_row_of_file_ = false;
      continue;
    }
    if (!planned) {
      std::vector<std::string> keys;
      for (const auto& kv : keys_values) keys.push_back(kv.first);
      ENCORE_RETURN_IF_ERROR(PlanJsonl(path, keys, &plan_));
      planned = true;
      if (!plan_.role_key[kEvent].empty() && !log_.has_events) {
        FlushIds();
        log_.has_events = true;
        for (size_t r = 0; r < log_.size(); ++r) log_.event.push_back(log_.events.Intern(""));
      }
      if (!plan_.role_key[kTime].empty() && !log_.has_times) {
        if (log_.size() > 0) {
          return Status::InvalidArgument(path +
                                         ": has a time key but earlier files do not; "
                                         "read files with the same layout together");
        }
        log_.has_times = true;
      }
      if (plan_.role_key[kTime].empty() && log_.has_times) {
        return Status::InvalidArgument(path +
                                       ": has no time key but earlier files do; "
                                       "read files with the same layout together");
      }
    }
    auto lookup = [&](const std::string& key, std::string_view* out) {
      for (const auto& kv : keys_values) {
        if (kv.first == key) {
          *out = kv.second;
          return true;
        }
      }
      return false;
    };
    std::string nested_role;
    for (int role = 0; role < kNumRoles; ++role) {
      present[role] = !plan_.role_key[role].empty() && lookup(plan_.role_key[role], &text[role]);
      sensitive[role] = plan_.sensitive_keys.count(plan_.role_key[role]) > 0;
      if (present[role] && std::find(nested_keys.begin(), nested_keys.end(),
                                     plan_.role_key[role]) != nested_keys.end()) {
        nested_role = plan_.role_key[role];
      }
    }
    if (!nested_role.empty()) {
      ENCORE_RETURN_IF_ERROR(Reject(path, rec, "nested JSON value",
                                    "key '" + nested_role +
                                        "' holds an object or array; ids, values, event types "
                                        "and times must be strings or numbers",
                                    false));
      first_row_of_file_ = false;
      continue;
    }
    attrs_.clear();
    attr_sensitive_.clear();
    for (const auto& [key, slot] : plan_.attribute_keys) {
      std::string_view v;
      lookup(key, &v);
      attrs_.emplace_back(slot, v);
      attr_sensitive_.push_back(plan_.sensitive_keys.count(key) > 0);
    }
    bool rejected;
    ENCORE_RETURN_IF_ERROR(
        AcceptOrReject(path, rec, text, present, sensitive, attrs_, attr_sensitive_, &rejected));
    first_row_of_file_ = false;
  }
  if (records_in_file == 0) {
    return Status::InvalidArgument(path + " is empty: it has no JSON lines");
  }
  return Status::OK();
}

Status Reader::ReadSource(std::unique_ptr<io::ByteSource> source, uint64_t size_before) {
  const std::string path = source->path();
  current_path_ = path;
  if (CanReadInSlices(*source)) {
    bool done = false;
    Status s = ReadInSlices(*source, size_before, &done);
    if (done) {
      report_->files.push_back(path);
      return s;
    }
  }
  report_->files.push_back(path);
  progress_base_ = size_before;
  const bool jsonl = opt_.format == InputFormat::kJsonl;
  const bool matrix = opt_.format == InputFormat::kMatrix;
  RecordReader rr(std::move(source),
                  jsonl || matrix ? RecordReader::Mode::kLines : RecordReader::Mode::kDelimited,
                  spec_.sep);
  Status s = jsonl ? ReadJsonl(rr, path) : matrix ? ReadMatrix(rr, path) : ReadDelimited(rr, path);
  FlushIds();  // the next file's layout checks look at log_.size()
  report_->bytes_read += rr.bytes_consumed();
  return s;
}

// The offset just after the first newline at or after `from` in `source`'s
// file, or `size` when no newline follows.
Result<uint64_t> NextLineStart(const io::ByteSource& source, uint64_t from, uint64_t size) {
  if (from >= size) return size;
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<io::ByteSource> tail, source.Slice(from, size));
  char buf[1 << 16];
  uint64_t at = from;
  while (true) {
    ENCORE_ASSIGN_OR_RETURN(size_t n, tail->Read(buf, sizeof buf));
    if (n == 0) return size;
    if (const void* nl = std::memchr(buf, '\n', n)) {
      return at + static_cast<uint64_t>(static_cast<const char*>(nl) - buf) + 1;
    }
    at += n;
  }
}

bool Reader::CanReadInSlices(const io::ByteSource& source) const {
  if (opt_.format == InputFormat::kJsonl || opt_.format == InputFormat::kBaskets ||
      opt_.format == InputFormat::kMatrix) {
    return false;
  }
  // The first file only: the slices start from an empty log and report.
  if (!report_->files.empty() || log_.size() > 0 || report_->rows_read > 0) return false;
  if (!source.sliceable() || ResolveThreads(opt_.threads) < 2) return false;
  return source.file_size() / std::max<uint64_t>(opt_.min_chunk_bytes, 1) >= 2;
}

void Reader::ContinueFrom(const Reader& first) {
  continuation_ = true;
  plan_ = first.plan_;
  log_.has_events = first.log_.has_events;
  log_.has_times = first.log_.has_times;
  for (const AttributeColumn& a : first.log_.attributes) {
    log_.attributes.emplace_back();
    log_.attributes.back().name = a.name;
  }
}

Status Reader::ReadSlice(std::unique_ptr<io::ByteSource> slice, bool first) {
  const std::string path = slice->path();
  current_path_ = path;
  RecordReader rr(std::move(slice), RecordReader::Mode::kDelimited, spec_.sep, first);
  Status s = ReadDelimited(rr, path);
  FlushIds();
  report_->bytes_read += rr.bytes_consumed();
  slice_lines_ = rr.next_line() - 1;
  slice_end_uncertain_ = rr.quoted_record_hit_end();
  slice_too_long_quote_ = rr.quoted_record_too_long();
  return s;
}

bool Reader::AppendLog(InteractionLog& other) {
  // Interns src's ids into dst in src's order; map[i] = dst's index of src's id i.
  auto merge = [&](IdDictionary& dst, const IdDictionary& src, std::vector<uint32_t>* map) {
    const uint32_t n = src.size();
    map->resize(n);
    constexpr uint32_t kBatch = 64;
    uint64_t hashes[kBatch];
    for (uint32_t b = 0; b < n; b += kBatch) {
      const uint32_t e = std::min(n, b + kBatch);
      for (uint32_t i = b; i < e; ++i) {
        hashes[i - b] = IdDictionary::Hash(src.Name(i));
        dst.Prefetch(hashes[i - b]);
      }
      for (uint32_t i = b; i < e; ++i) {
        const std::string_view name = src.Name(i);
        if (dst.size() >= id_limit_ && !dst.Find(name).has_value()) return false;
        (*map)[i] = dst.InternHashed(name, hashes[i - b]);
      }
    }
    return true;
  };
  // Appends src's codes mapped through `map`, releasing src as it goes.
  auto remap = [](ChunkedVector<uint32_t>& dst, ChunkedVector<uint32_t>& src,
                  const std::vector<uint32_t>& map) {
    for (size_t c = 0; c < src.num_chunks(); ++c) {
      const uint32_t* p = src.chunk_data(c);
      const size_t n = src.chunk_size(c);
      for (size_t j = 0; j < n; ++j) dst.push_back(map[p[j]]);
      src.ReleaseChunk(c);
    }
  };
  auto copy = [](auto& dst, auto& src) {
    for (size_t c = 0; c < src.num_chunks(); ++c) {
      const auto* p = src.chunk_data(c);
      const size_t n = src.chunk_size(c);
      for (size_t j = 0; j < n; ++j) dst.push_back(p[j]);
      src.ReleaseChunk(c);
    }
  };
  // Users and items touch disjoint state: a second thread merges the users
  // while this one merges the items and copies the values (slices are only
  // read with two threads or more). On 10M rows this step was the one
  // stretch of a two-slice read that ran on one core.
  bool users_ok = true;
  std::exception_ptr users_error;
  std::thread users_thread([&] {
    try {
      std::vector<uint32_t> user_map;
      users_ok = merge(log_.users, other.users, &user_map);
      if (users_ok) remap(log_.user, other.user, user_map);
      other.users = IdDictionary();
    } catch (...) {
      users_error = std::current_exception();
    }
  });
  std::vector<uint32_t> map;
  bool items_ok = false;
  try {
    items_ok = merge(log_.items, other.items, &map);
    if (items_ok) {
      remap(log_.item, other.item, map);
      other.items = IdDictionary();
      copy(log_.value, other.value);
    }
  } catch (...) {
    users_thread.join();
    throw;
  }
  users_thread.join();
  if (users_error) std::rethrow_exception(users_error);
  if (!users_ok || !items_ok) return false;
  if (log_.has_events) {
    if (!merge(log_.events, other.events, &map)) return false;
    remap(log_.event, other.event, map);
  }
  if (log_.has_times) copy(log_.time, other.time);
  for (size_t a = 0; a < log_.attributes.size(); ++a) {
    if (!merge(log_.attributes[a].values, other.attributes[a].values, &map)) return false;
    remap(log_.attributes[a].codes, other.attributes[a].codes, map);
  }
  return true;
}

Status Reader::ReadInSlices(const io::ByteSource& source, uint64_t size_before, bool* done) {
  *done = false;
  const uint64_t size = source.file_size();
  const uint64_t per_slice = std::max<uint64_t>(opt_.min_chunk_bytes, 1);
  const uint64_t want = std::min<uint64_t>(
      {static_cast<uint64_t>(ResolveThreads(opt_.threads)), size / per_slice, 64});
  if (want < 2) return Status::OK();
  // Cut just after the first newline at or after each k/n of the file.
  std::vector<uint64_t> cuts = {0};
  for (uint64_t k = 1; k < want; ++k) {
    Result<uint64_t> cut = NextLineStart(source, std::max(size / want * k, cuts.back()), size);
    if (!cut.ok()) return Status::OK();
    if (*cut >= size) break;
    if (*cut > cuts.back()) cuts.push_back(*cut);
  }
  cuts.push_back(size);
  const size_t n = cuts.size() - 1;
  if (n < 2) return Status::OK();
  std::vector<std::unique_ptr<io::ByteSource>> parts;
  for (size_t i = 0; i < n; ++i) {
    Result<std::unique_ptr<io::ByteSource>> part = source.Slice(cuts[i], cuts[i + 1]);
    if (!part.ok()) return Status::OK();
    parts.push_back(std::move(*part));
  }

  std::vector<ReadReport> reports(n);
  std::vector<std::string> rejected(n);
  std::vector<std::unique_ptr<Reader>> readers;
  std::atomic<bool> cancel{false};
  for (size_t i = 0; i < n; ++i) {
    readers.push_back(std::make_unique<Reader>(opt_, &reports[i], i == 0 ? progress_ : nullptr));
    readers[i]->reject_buffer_ = &rejected[i];
    readers[i]->cancel_ = &cancel;
  }
  readers[0]->progress_base_ = size_before;
  readers[0]->progress_scale_ = n;
  std::vector<Status> status(n);
  std::vector<std::thread> workers;
  // The first slice reads the header and the first row, which fix the
  // layout; then the others start, while it goes on.
  readers[0]->on_planned_ = [&] {
    for (size_t i = 1; i < n; ++i) {
      readers[i]->ContinueFrom(*readers[0]);
      workers.emplace_back([&, i] {
        status[i] = readers[i]->ReadSlice(std::move(parts[i]), false);
        if (!status[i].ok()) cancel.store(true);
      });
    }
  };
  status[0] = readers[0]->ReadSlice(std::move(parts[0]), true);
  if (!status[0].ok()) cancel.store(true);
  for (std::thread& w : workers) w.join();
  if (workers.size() + 1 != n) return Status::OK();  // the first slice had no data row
  uint64_t rejected_rows = 0;
  for (size_t i = 0; i < n; ++i) {
    const Reader& r = *readers[i];
    if (!status[i].ok() || !r.overflow_.ok() || r.slice_too_long_quote_) return Status::OK();
    // A quote decided by the slice's end: the cut may lie inside a quoted field.
    if (i + 1 < n && r.slice_end_uncertain_) return Status::OK();
    rejected_rows += reports[i].rows_rejected;
  }
  if (rejected_rows > opt_.max_bad_rows) return Status::OK();  // the sequential read says where

  std::vector<uint64_t> slice_lines(n);
  for (size_t i = 0; i < n; ++i) slice_lines[i] = readers[i]->slice_lines_;
  InteractionLog merged = std::move(readers[0]->log_);
  std::swap(merged, log_);
  for (size_t i = 1; i < n; ++i) {
    if (!AppendLog(readers[i]->log_)) {
      log_ = std::move(merged);  // back to the empty log: read again sequentially
      return Status::OK();
    }
    readers[i].reset();
  }
  uint64_t line_base = 0;
  for (size_t i = 0; i < n; ++i) {
    const ReadReport& r = reports[i];
    report_->bytes_read += r.bytes_read;
    report_->rows_read += r.rows_read;
    report_->blank_lines += r.blank_lines;
    report_->rows_accepted += r.rows_accepted;
    report_->rows_rejected += r.rows_rejected;
    for (const std::pair<std::string, uint64_t>& kind : r.rejects_by_kind) {
      auto it = std::find_if(report_->rejects_by_kind.begin(), report_->rejects_by_kind.end(),
                             [&](const auto& kc) { return kc.first == kind.first; });
      if (it == report_->rejects_by_kind.end()) {
        report_->rejects_by_kind.push_back(kind);
      } else {
        it->second += kind.second;
      }
    }
    for (Rejection rej : r.first_rejections) {
      if (report_->first_rejections.size() >= ReadReport::kMaxListed) break;
      rej.line += line_base;
      report_->first_rejections.push_back(std::move(rej));
    }
    line_base += slice_lines[i];
  }
  if (!reports[0].value_column.empty()) report_->value_column = reports[0].value_column;
  report_->parallel_slices = static_cast<uint32_t>(n);
  *done = true;
  if (rejects_ != nullptr) {
    for (const std::string& lines : rejected) {
      if (!lines.empty()) ENCORE_RETURN_IF_ERROR(rejects_->Write(lines));
    }
  }
  return Status::OK();
}

Result<InteractionLog> Reader::Run(const std::vector<std::string>& paths) {
  ENCORE_RETURN_IF_ERROR(CheckOptions());
  if (paths.empty()) return Status::InvalidArgument("no input file; pass --input FILE");
  // Open every file first, so a missing one fails before any work.
  std::vector<std::unique_ptr<io::ByteSource>> sources;
  uint64_t total = 0;
  for (const auto& p : paths) {
    ENCORE_ASSIGN_OR_RETURN(auto source, io::ByteSource::Open(p));
    total += source->file_size();
    sources.push_back(std::move(source));
  }
  return RunOnSources(std::move(sources), total);
}

Result<InteractionLog> Reader::RunOnSources(std::vector<std::unique_ptr<io::ByteSource>> sources,
                                            uint64_t total) {
  ENCORE_RETURN_IF_ERROR(CheckOptions());
  if (!opt_.rejects_path.empty()) {
    io::OutputFileOptions options;
    options.what = "rejects file";
    ENCORE_ASSIGN_OR_RETURN(rejects_, io::OutputFile::Open(opt_.rejects_path, options));
  }
  if (progress_ != nullptr) progress_->Start("reading", total);
  Status status;
  uint64_t before = 0;
  for (auto& source : sources) {
    uint64_t size = source->file_size();
    status = ReadSource(std::move(source), before);
    if (!status.ok()) break;
    before += size;
  }
  sources.clear();  // close files before returning
  if (rejects_ != nullptr) {
    // Kept when the read fails too: the rejected rows explain the failure.
    Status closed = rejects_->Commit();
    if (!closed.ok() && status.ok()) status = closed;
    rejects_.reset();
  }
  if (progress_ != nullptr) {
    progress_->Update(total, report_->rows_read);
    progress_->Finish();
  }
  if (!status.ok()) return status;
  if (!overflow_.ok()) return overflow_;
  if (report_->rows_accepted == 0) {
    const Rejection& first = report_->first_rejections.front();
    return Status::ParseError("no rows accepted; first rejection at " + first.file + ":" +
                              std::to_string(first.line) + ": " + first.reason);
  }
  return std::move(log_);
}

}  // namespace

Result<InteractionLog> ReadInteractions(const std::vector<std::string>& paths,
                                        const ReadOptions& options, ReadReport* report,
                                        Progress* progress) {
  ENCORE_CHECK(report != nullptr);
  Reader reader(options, report, progress);
  return reader.Run(paths);
}

namespace io {

Result<InteractionLog> ReadInteractionsFromSources(std::vector<std::unique_ptr<ByteSource>> sources,
                                                   const ReadOptions& options, ReadReport* report) {
  ENCORE_CHECK(report != nullptr);
  Reader reader(options, report, nullptr);
  return reader.RunOnSources(std::move(sources), 0);
}

}  // namespace io
std::string DefaultColumnRole(const std::string& header_name) {
  const std::string lower = Lower(header_name);
  for (int role = 0; role < kNumRoles; ++role) {
    const auto& names = Candidates(role);
    if (std::find(names.begin(), names.end(), lower) != names.end()) return kRoleName[role];
  }
  return "";
}

}  // namespace encore
