// The input option table and input loading (encore/input.h).

#include "encore/input.h"

#include <cstdlib>

#include "io/text.h"

namespace encore {

namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string piece = s.substr(start, comma - start);
    while (!piece.empty() && piece.front() == ' ') piece.erase(piece.begin());
    while (!piece.empty() && piece.back() == ' ') piece.pop_back();
    if (!piece.empty()) out.push_back(std::move(piece));
    start = comma + 1;
  }
  return out;
}

Result<bool> ParseBool(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return Status::InvalidArgument(name + " '" + text + "': use true or false");
}

Result<uint64_t> ParseCount(const std::string& name, const std::string& text) {
  uint64_t v = 0;
  if (text.empty() || text.size() > 19) {
    return Status::InvalidArgument(name + " '" + text + "' must be an integer >= 0");
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument(name + " '" + text + "' must be an integer >= 0");
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// A header name, or a 1-based column number ("3").
Result<ColumnRef> ParseColumn(const std::string& name, const std::string& text) {
  if (text.empty()) {
    return Status::InvalidArgument(name + " is empty; give a header name or a 1-based number");
  }
  ColumnRef c = ColumnRef::Parse(text);
  const bool digits = text.find_first_not_of("0123456789") == std::string::npos;
  if (digits && (c.index < 1 || c.index > 100000)) {
    return Status::InvalidArgument(
        name + " '" + text + "' must be a header name or a 1-based column number (1, 2, ...)");
  }
  return c;
}

// The setter of a column option.
std::function<Status(InputOptions*, const std::string&)> Column(ColumnRef InputOptions::*field,
                                                                const char* what) {
  return [field, what](InputOptions* o, const std::string& text) -> Status {
    ENCORE_ASSIGN_OR_RETURN(o->*field, ParseColumn(what, text));
    return Status::OK();
  };
}

}  // namespace

Feedback DefaultFeedback(InputFormat format) {
  return format == InputFormat::kMovieLens || format == InputFormat::kMlLatest
             ? Feedback::kExplicit
             : Feedback::kImplicit;
}

const char* InputOptionTypeName(InputOptionType type) {
  switch (type) {
    case InputOptionType::kEnum:
      return "enum";
    case InputOptionType::kString:
      return "string";
    case InputOptionType::kBool:
      return "bool";
    case InputOptionType::kCount:
      return "int";
    case InputOptionType::kColumn:
      return "column";
    case InputOptionType::kList:
      return "list";
    case InputOptionType::kWeights:
      return "weights";
  }
  return "?";
}

const std::vector<InputOptionInfo>& InputOptionTable() {
  using S = InputOptionScope;
  using T = InputOptionType;
  static const std::vector<InputOptionInfo> table = {
      // ------------------------------------------------------------ reading
      {"format", S::kRead, T::kEnum, "--format", "format", "csv", "",
       "csv,tsv,jsonl,movielens,ml-latest,lastfm,baskets,matrix",
       "Input format (docs/DATA_FORMATS.md); the presets fix columns, separator and header",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(o->format, ParseInputFormat(v));
         return Status::OK();
       }},
      {"separator", S::kRead, T::kString, "--sep", "separator", "", "from the format", "",
       "Field separator: one byte, or tab, comma, space, semicolon, pipe",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(char c, ParseSeparator(v));
         o->separator = c;
         return Status::OK();
       }},
      {"header", S::kRead, T::kBool, "--header", "header", "", "from the format (csv, tsv: yes)",
       "", "Whether the first line is a header (CLI: --header or --no-header)",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(bool b, ParseBool("header", v));
         o->header = b;
         return Status::OK();
       }},
      {"user_col", S::kRead, T::kColumn, "--user-col", "user", "", "well-known names", "",
       "User id column: header name or 1-based number",
       Column(&InputOptions::user_col, "the user column")},
      {"item_col", S::kRead, T::kColumn, "--item-col", "item", "", "well-known names", "",
       "Item id column: header name or 1-based number",
       Column(&InputOptions::item_col, "the item column")},
      {"value_col", S::kRead, T::kColumn, "--value-col", "value", "", "none (each row counts 1)",
       "", "Rating / count / quantity column",
       Column(&InputOptions::value_col, "the value column")},
      {"event_col", S::kRead, T::kColumn, "--event-col", "event", "", "well-known names", "",
       "Event type column (view, cart, purchase...)",
       Column(&InputOptions::event_col, "the event column")},
      {"time_col", S::kRead, T::kColumn, "--time-col", "time", "", "well-known names", "",
       "Timestamp column: unix seconds or milliseconds, or ISO-8601",
       Column(&InputOptions::time_col, "the time column")},
      {"time_unit", S::kRead, T::kEnum, "--time-unit", "time_unit", "auto", "", "auto,s,ms",
       "Numeric timestamps: seconds, milliseconds, or auto (|t| >= 1e11 is milliseconds)",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(o->time_unit, ParseTimeUnit(v));
         return Status::OK();
       }},
      {"attributes", S::kRead, T::kList, "--attributes", "", "",
       "all named columns (pipelines: none)", "",
       "Other columns to keep, comma-separated ('none' keeps none)",
       [](InputOptions* o, const std::string& v) -> Status {
         o->attributes = v == "none" ? std::vector<std::string>{} : SplitList(v);
         return Status::OK();
       }},
      {"events", S::kRead, T::kList, "--events", "events", "", "the names of the weights, else all",
       "", "Event types accepted; rows with another type are rejected",
       [](InputOptions* o, const std::string& v) -> Status {
         o->events = SplitList(v);
         return Status::OK();
       }},
      {"max_bad_rows", S::kRead, T::kCount, "--max-bad-rows", "max_bad_rows", "0", "", "",
       "Rejected rows tolerated before the read fails",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(o->max_bad_rows, ParseCount("max_bad_rows", v));
         return Status::OK();
       }},
      {"missing_value", S::kRead, T::kString, "--missing-value", "", "0", "", "",
       "Format matrix: the cell value that means no interaction",
       [](InputOptions* o, const std::string& v) -> Status {
         float x = 0;
         if (!io::ParseFloat(v, &x)) {
           return Status::InvalidArgument("missing value '" + v +
                                          "' must be a finite number, e.g. 0 or -1");
         }
         o->missing_value = x;
         return Status::OK();
       }},
      {"rejects", S::kRead, T::kString, "--rejects", "", "", "", "",
       "Write each rejected record verbatim to FILE (obfuscated columns masked)",
       [](InputOptions* o, const std::string& v) -> Status {
         o->rejects_path = v;
         return Status::OK();
       }},
      {"obfuscate", S::kRead, T::kList, "--obfuscate", "obfuscate", "", "", "",
       "Columns replaced by a keyed hash at import, e.g. email,street",
       [](InputOptions* o, const std::string& v) -> Status {
         o->obfuscate = SplitList(v);
         return Status::OK();
       }},
      {"obfuscation_key_file", S::kRead, T::kString, "--obfuscation-key-file",
       "obfuscation_key_file", "", "", "",
       "File holding the obfuscation key (pipelines: relative to the pipeline file)",
       [](InputOptions* o, const std::string& v) -> Status {
         o->obfuscation_key_file = v;
         return Status::OK();
       }},
      {"obfuscation_key_env", S::kRead, T::kString, "--obfuscation-key-env", "obfuscation_key_env",
       "ENCORE_OBFUSCATION_KEY", "", "",
       "Environment variable holding the obfuscation key (when no key file is given)",
       [](InputOptions* o, const std::string& v) -> Status {
         if (v.empty()) {
           return Status::InvalidArgument(
               "obfuscation_key_env is empty; name an environment variable, e.g. "
               "ENCORE_OBFUSCATION_KEY");
         }
         o->obfuscation_key_env = v;
         return Status::OK();
       }},
      // ------------------------------------------------------------ dataset
      {"feedback", S::kDataset, T::kEnum, "--feedback", "feedback", "",
       "explicit for movielens and ml-latest, else implicit", "implicit,explicit",
       "implicit (sum per user and item) or explicit (one rating per user and item)",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(Feedback f, ParseFeedback(v));
         o->feedback = f;
         return Status::OK();
       }},
      {"duplicates", S::kDataset, T::kEnum, "--duplicates", "duplicates", "latest", "",
       "latest,mean", "Explicit feedback, repeated (user, item): the latest (by time) or the mean",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(o->duplicates, ParseExplicitDuplicates(v));
         return Status::OK();
       }},
      {"weights", S::kDataset, T::kWeights, "--weights", "weights", "", "", "",
       "Implicit feedback: weight per event type, e.g. view=3,cart=10,wishlist=30,purchase=40",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(o->weights, ParseWeights(v));
         return Status::OK();
       }},
      {"transform", S::kDataset, T::kEnum, "--transform", "transform", "none", "",
       "none,log1p,binary", "Implicit feedback: value transform after summing",
       [](InputOptions* o, const std::string& v) -> Status {
         ENCORE_ASSIGN_OR_RETURN(o->transform, ParseValueTransform(v));
         return Status::OK();
       }},
  };
  return table;
}

const InputOptionInfo* FindInputOption(const std::string& name) {
  for (const InputOptionInfo& info : InputOptionTable()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

std::string InputOptionDefault(const InputOptionInfo& info) {
  return *info.default_value != 0 ? info.default_value : info.default_doc;
}

Status SetInputOption(InputOptions* options, const std::string& name, const std::string& text) {
  const InputOptionInfo* info = FindInputOption(name);
  if (info == nullptr) {
    std::string names;
    for (const InputOptionInfo& i : InputOptionTable()) {
      names += (names.empty() ? "" : ", ") + std::string(i.name);
    }
    return Status::InvalidArgument("unknown input option '" + name + "'; options: " + names);
  }
  return info->set(options, text);
}

std::vector<std::string> AcceptedEvents(const std::vector<std::string>& events,
                                        const std::map<std::string, float>& weights) {
  if (!events.empty()) return events;
  std::vector<std::string> out;
  for (const auto& [name, w] : weights) out.push_back(name);
  return out;
}

Result<ResolvedInput> ResolveInput(const InputOptions& o) {
  ResolvedInput r;
  ReadOptions& read = r.read;
  read.format = o.format;
  read.separator = o.separator;
  read.header = o.header;
  read.user_col = o.user_col;
  read.item_col = o.item_col;
  read.value_col = o.value_col;
  read.event_col = o.event_col;
  read.time_col = o.time_col;
  read.time_unit = o.time_unit;
  if (o.attributes) {
    read.keep_all_attributes = !o.attributes->empty();
    read.attribute_cols = *o.attributes;
  }
  read.known_events = AcceptedEvents(o.events, o.weights);
  read.obfuscate_cols = o.obfuscate;
  read.max_bad_rows = o.max_bad_rows;
  read.rejects_path = o.rejects_path;
  read.missing_value = o.missing_value;
  read.threads = o.threads;

  DatasetOptions& d = r.dataset;
  d.feedback = o.feedback.value_or(DefaultFeedback(o.format));
  d.duplicates = o.duplicates;
  d.weights = o.weights;
  d.transform = o.transform;
  d.threads = o.threads;
  if (d.feedback == Feedback::kExplicit && !o.weights.empty()) {
    return Status::InvalidArgument(
        "weights apply to implicit feedback; drop them or set feedback to implicit");
  }
  if (d.feedback == Feedback::kExplicit && o.transform != ValueTransform::kNone) {
    return Status::InvalidArgument(
        "transform applies to implicit feedback; a rating stays a rating (drop it or set "
        "feedback to implicit)");
  }
  return r;
}

Result<Obfuscator> LoadObfuscator(const InputOptions& o) {
  if (!o.obfuscation_key_file.empty() || o.obfuscation_key_env.empty() ||
      o.obfuscation_key_env == Obfuscator::kKeyEnvVar) {
    return Obfuscator::FromFileOrEnv(o.obfuscation_key_file);
  }
  const char* key = std::getenv(o.obfuscation_key_env.c_str());
  if (key == nullptr || *key == '\0') {
    return Status::InvalidArgument("environment variable " + o.obfuscation_key_env +
                                   " (obfuscation_key_env) is not set; export it with the "
                                   "obfuscation key (at least 16 bytes)");
  }
  Result<Obfuscator> obfuscator = Obfuscator::Create(key);
  if (!obfuscator.ok()) {
    return Status::InvalidArgument("the key in $" + o.obfuscation_key_env + ": " +
                                   obfuscator.status().message());
  }
  return obfuscator;
}

Result<InteractionLog> ReadInput(const InputOptions& options, ReadReport* report,
                                 Progress* progress) {
  ENCORE_ASSIGN_OR_RETURN(ResolvedInput r, ResolveInput(options));
  std::optional<Obfuscator> obfuscator;
  if (!r.read.obfuscate_cols.empty()) {
    ENCORE_ASSIGN_OR_RETURN(Obfuscator o, LoadObfuscator(options));
    obfuscator.emplace(std::move(o));
    r.read.obfuscator = &*obfuscator;
  }
  return ReadInteractions(options.files, r.read, report, progress);
}

Result<Dataset> LoadInput(const InputOptions& options, ReadReport* report, Progress* progress) {
  ENCORE_ASSIGN_OR_RETURN(ResolvedInput r, ResolveInput(options));
  ENCORE_ASSIGN_OR_RETURN(InteractionLog log, ReadInput(options, report, progress));
  return BuildDataset(std::move(log), r.dataset);
}

namespace {

std::string Code(const std::string& s) { return s.empty() ? "" : "`" + s + "`"; }

std::string Escape(std::string s) {
  for (size_t at = 0; (at = s.find('|', at)) != std::string::npos; at += 2) s.insert(at, "\\");
  return s;
}

}  // namespace

std::string InputOptionsMarkdown() {
  std::string out =
      "| option | CLI flag | pipeline key | default | values | meaning |\n"
      "| --- | --- | --- | --- | --- | --- |\n";
  for (const InputOptionInfo& i : InputOptionTable()) {
    std::string flag = Code(i.flag);
    if (i.type == InputOptionType::kBool && *i.flag)
      flag += ", `--no-" + std::string(i.flag + 2) + "`";
    std::string key;
    if (*i.pipeline_key) {
      key = std::string("`") +
            (i.scope == InputOptionScope::kRead ? "[sources.NAME] " : "[prepare] ") +
            i.pipeline_key + "`";
    }
    std::string values = i.values;
    for (size_t at = 0; (at = values.find(',', at)) != std::string::npos; at += 2) {
      values.replace(at, 1, ", ");
    }
    out += "| `" + std::string(i.name) + "` | " + flag + " | " + key + " | " +
           Escape(*i.default_value ? Code(i.default_value) : std::string(i.default_doc)) + " | " +
           Escape(values) + " | " + Escape(i.help) + " |\n";
  }
  return out;
}

}  // namespace encore
