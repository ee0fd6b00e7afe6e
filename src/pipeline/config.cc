// Loading a pipeline file: TOML (toml++) -> checked PipelineConfig.
//
// Two passes over the document: CheckKeys compares every table with the key
// table (names, types, required keys, which output kinds a key applies to),
// then the section readers turn values into options and check what the
// values mean. Both passes add to one list of errors, so a file with several
// mistakes reports them all at once. toml++ exceptions stop at this file.

#include "pipeline/config.h"

#include <glob.h>
#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "encore/defaults.h"
#include "encore/input.h"
#include "encore/recommender.h"
#include "io/text.h"
#include "util/json_writer.h"

namespace encore::pipeline {

namespace fs = std::filesystem;

const char* OutputKindName(OutputKind kind) {
  switch (kind) {
    case OutputKind::kCsv:
      return "csv";
    case OutputKind::kJsonl:
      return "jsonl";
    case OutputKind::kPostgres:
      return "postgres";
    case OutputKind::kPublish:
      return "publish";
    case OutputKind::kRetail:
      return "retail";
  }
  return "?";
}

const SourceConfig* PipelineConfig::FindSource(const std::string& n) const {
  for (const auto& s : sources) {
    if (s.name == n) return &s;
  }
  return nullptr;
}
const ModelConfig* PipelineConfig::FindModel(const std::string& n) const {
  for (const auto& m : models) {
    if (m.name == n) return &m;
  }
  return nullptr;
}
const RecommendConfig* PipelineConfig::FindRecommend(const std::string& n) const {
  for (const auto& r : recommends) {
    if (r.name == n) return &r;
  }
  return nullptr;
}
const OutputConfig* PipelineConfig::FindOutput(const std::string& n) const {
  for (const auto& o : outputs) {
    if (o.name == n) return &o;
  }
  return nullptr;
}

// --------------------------------------------------------------- utilities

std::string ResolvePath(const std::string& base, const std::string& path) {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base) / p;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

bool IsIgnoredFileName(const std::string& name) {
  auto ends_with = [&](const char* suffix) {
    const size_t n = std::char_traits<char>::length(suffix);
    return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
  };
  return name.empty() || name[0] == '.' || ends_with(".tmp") || ends_with(".part");
}

namespace {

bool IsGlobSpecial(char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; }

// Whether `pattern` holds a *, ? or [ not escaped by a backslash.
bool HasGlobChars(const std::string& pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size() && IsGlobSpecial(pattern[i + 1])) {
      ++i;
    } else if (pattern[i] == '*' || pattern[i] == '?' || pattern[i] == '[') {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string EscapeGlob(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (IsGlobSpecial(c)) out += '\\';
    out += c;
  }
  return out;
}

std::string UnescapeGlob(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size() && IsGlobSpecial(pattern[i + 1])) ++i;
    out += pattern[i];
  }
  return out;
}

std::string ResolvePattern(const std::string& base, const std::string& pattern) {
  if (fs::path(pattern).is_absolute()) return ResolvePath("/", pattern);
  return ResolvePath(EscapeGlob(base), pattern);
}

Result<std::vector<std::string>> ExpandPattern(const std::string& pattern) {
  std::vector<std::string> files;
  if (!HasGlobChars(pattern)) {
    const std::string path = UnescapeGlob(pattern);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return Status::NotFound("no such file '" + path + "'");
    }
    if (!S_ISDIR(st.st_mode)) return std::vector<std::string>{path};
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (!entry.is_regular_file(ec)) continue;
      if (IsIgnoredFileName(entry.path().filename().string())) continue;
      files.push_back(entry.path().string());
    }
    if (ec) return Status::IOError("cannot list directory '" + path + "': " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty()) return Status::NotFound("directory '" + path + "' holds no data file");
    return files;
  }
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string path = g.gl_pathv[i];
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (IsIgnoredFileName(fs::path(path).filename().string())) continue;
      files.push_back(path);
    }
  }
  ::globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) return Status::IOError("cannot expand '" + pattern + "'");
  std::sort(files.begin(), files.end());
  if (files.empty()) return Status::NotFound("'" + pattern + "' matches no file");
  return files;
}

// ParseSize and ParseWindow: config_values.cc (the fuzzer builds them alone).

namespace {

// "an integer", "a string": the noun with its indefinite article.
std::string WithArticle(const std::string& noun) {
  const bool vowel = !noun.empty() && std::string("aeiou").find(noun[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + noun;
}

// ------------------------------------------------------------ diagnostics

const char* NodeTypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    default:
      return "date/time";
  }
}

std::string Join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Collects "FILE:LINE:COLUMN: message" lines.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  std::string Where(const toml::source_region& r) const {
    return file_ + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
  }
  void Error(const toml::source_region& r, const std::string& message) {
    errors_.push_back(Where(r) + ": " + message);
  }
  // A message that already starts with its FILE:LINE:COLUMN.
  void ErrorLine(std::string line) { errors_.push_back(std::move(line)); }
  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }

  Status ToStatus() const {
    if (errors_.size() == 1) return Status::InvalidArgument(errors_[0]);
    return Status::InvalidArgument(std::to_string(errors_.size()) + " errors in pipeline " + file_ +
                                   ":\n  " + Join(errors_, "\n  "));
  }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

std::string Shown(const std::string& section, const std::string& name) {
  if (section.empty()) return "the top level";
  std::string s = section;
  size_t at = s.find('*');
  if (at != std::string::npos) s.replace(at, 1, name);
  return "[" + s + "]";
}

bool TypeMatches(const toml::node& n, KeyType type) {
  switch (type) {
    case KeyType::kString:
      return n.is_string();
    case KeyType::kInteger:
      return n.is_integer();
    case KeyType::kNumber:
      return n.is_integer() || n.is_floating_point();
    case KeyType::kBoolean:
      return n.is_boolean();
    case KeyType::kStringList:
      if (const toml::array* a = n.as_array()) {
        return std::all_of(a->begin(), a->end(), [](const toml::node& e) { return e.is_string(); });
      }
      return false;
    case KeyType::kStringOrList:
      return n.is_string() || TypeMatches(n, KeyType::kStringList);
    case KeyType::kColumn:
      return n.is_string() || n.is_integer();
    case KeyType::kSize:
      return n.is_string() || n.is_integer();
    default:
      return n.is_table();
  }
}

// ------------------------------------------------------------------ loader

class Loader {
 public:
  Loader(std::string file, std::string dir) : diag_(std::move(file)), dir_(std::move(dir)) {}

  Diagnostics& diag() { return diag_; }

  // Checks the keys of `t` against `section` of the key table. `name` fills
  // the '*' in messages; `kind` selects output-kind keys ("" = no kind).
  void CheckKeys(const toml::table& t, const std::string& section, const std::string& name,
                 const std::string& kind) {
    std::vector<const ConfigKey*> keys;
    for (const ConfigKey& k : PipelineKeys()) {
      if (k.section == section) keys.push_back(&k);
    }
    std::vector<std::string> names;
    for (const ConfigKey* k : keys) {
      if (kind.empty() || Applies(*k, kind)) names.push_back(k->name);
    }
    const std::string where = Shown(section, name);
    for (auto&& [key, node] : t) {
      const std::string k(key.str());
      const ConfigKey* info = nullptr;
      for (const ConfigKey* c : keys) {
        if (k == c->name) info = c;
      }
      if (info == nullptr) {
        std::string hint = DidYouMean(k, names);
        diag_.Error(key.source(), "unknown key '" + k + "' in " + where +
                                      (hint.empty() ? "; known keys: " + Join(names)
                                                    : "; did you mean '" + hint + "'?"));
        continue;
      }
      if (!kind.empty() && !Applies(*info, kind)) {
        diag_.Error(key.source(), "key '" + k + "' does not apply to " + kind + " outputs (" +
                                      where + "); it is for " + info->kinds + " outputs. Keys of " +
                                      kind + " outputs: " + Join(names));
        continue;
      }
      if (!TypeMatches(node, info->type)) {
        diag_.Error(node.source(), "key '" + k + "' in " + where + " must be " +
                                       WithArticle(KeyTypeName(info->type)) + ", not " +
                                       WithArticle(NodeTypeName(node)) + TypeHint(*info));
      }
    }
    for (const ConfigKey* k : keys) {
      if (!k->required || t.contains(k->name)) continue;
      if (!kind.empty() && !Applies(*k, kind)) continue;
      if (section == "outputs.*" && kind.empty() && std::string(k->name) != "kind") continue;
      diag_.Error(t.source(), "missing required key '" + std::string(k->name) + "' in " + where +
                                  " (" + k->help + ")");
    }
  }

  static bool Applies(const ConfigKey& k, const std::string& kind) {
    if (*k.kinds == 0) return true;
    std::string kinds = std::string(",") + k.kinds + ",";
    return kinds.find("," + kind + ",") != std::string::npos;
  }

  static std::string TypeHint(const ConfigKey& k) {
    switch (k.type) {
      case KeyType::kSize:
        return " (e.g. 1048576 or \"1MB\")";
      case KeyType::kStringList:
        return " (e.g. [\"a\", \"b\"])";
      case KeyType::kColumn:
        return " (a header name or a 1-based column number)";
      case KeyType::kNumber:
        return " (e.g. 0.5)";
      default:
        return "";
    }
  }

  // Typed getters: nullopt when absent or of the wrong type (already reported).
  static std::optional<std::string> String(const toml::table& t, const char* key) {
    const toml::node* n = t.get(key);
    if (n == nullptr || !n->is_string()) return std::nullopt;
    return n->as_string()->get();
  }
  static std::optional<bool> Bool(const toml::table& t, const char* key) {
    const toml::node* n = t.get(key);
    if (n == nullptr || !n->is_boolean()) return std::nullopt;
    return n->as_boolean()->get();
  }
  static std::optional<double> Number(const toml::table& t, const char* key) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    if (n->is_integer()) return static_cast<double>(n->as_integer()->get());
    if (n->is_floating_point()) return n->as_floating_point()->get();
    return std::nullopt;
  }
  static std::optional<std::vector<std::string>> Strings(const toml::table& t, const char* key) {
    const toml::node* n = t.get(key);
    if (n == nullptr || !TypeMatches(*n, KeyType::kStringOrList)) return std::nullopt;
    std::vector<std::string> out;
    if (n->is_string()) {
      out.push_back(n->as_string()->get());
    } else {
      for (const toml::node& e : *n->as_array()) out.push_back(e.as_string()->get());
    }
    return out;
  }
  // An integer in [lo, hi]; out-of-range values are reported.
  std::optional<uint64_t> Uint(const toml::table& t, const char* key, uint64_t lo, uint64_t hi) {
    const toml::node* n = t.get(key);
    if (n == nullptr || !n->is_integer()) return std::nullopt;
    const int64_t v = n->as_integer()->get();
    if (v < 0 || static_cast<uint64_t>(v) < lo || static_cast<uint64_t>(v) > hi) {
      diag_.Error(n->source(), "key '" + std::string(key) + "' is " + std::to_string(v) +
                                   "; it must be in " + std::to_string(lo) + ".." +
                                   std::to_string(hi));
      return std::nullopt;
    }
    return static_cast<uint64_t>(v);
  }
  // Reports a failed Status at `key`'s value.
  void Check(const toml::table& t, const char* key, const Status& s, const std::string& hint = "") {
    if (s.ok()) return;
    const toml::node* n = t.get(key);
    diag_.Error(n != nullptr ? n->source() : t.source(), s.message() + hint);
  }
  std::string Where(const toml::table& t) const { return diag_.Where(t.source()); }
  const std::string& dir() const { return dir_; }

 private:
  Diagnostics diag_;
  std::string dir_;
};

// A TOML scalar as the text SetModelParam parses.
std::optional<std::string> ScalarText(const toml::node& n) {
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* b = n.as_boolean()) return std::string(b->get() ? "true" : "false");
  if (const auto* f = n.as_floating_point()) {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, f->get());
    return std::string(buf, p);
  }
  return std::nullopt;
}

const ParamInfo* FindParam(const std::string& name) {
  for (const ParamInfo& p : ModelParamTable()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

std::vector<std::string> ParamNames() {
  std::vector<std::string> names;
  for (const ParamInfo& p : ModelParamTable()) names.push_back(p.name);
  return names;
}

// The TOML value types a parameter of `type` ("int", "float", "bool", "enum") accepts.
bool ParamTypeMatches(const toml::node& n, const std::string& type) {
  if (type == "int") return n.is_integer();
  if (type == "float") return n.is_integer() || n.is_floating_point();
  if (type == "bool") return n.is_boolean();
  return n.is_string();
}

void WriteJson(const toml::node& n, JsonWriter* w) {
  if (const toml::table* t = n.as_table()) {
    w->BeginObject();
    for (auto&& [k, v] : *t) {
      w->Key(k.str());
      WriteJson(v, w);
    }
    w->EndObject();
  } else if (const toml::array* a = n.as_array()) {
    w->BeginArray();
    for (const toml::node& e : *a) WriteJson(e, w);
    w->EndArray();
  } else if (const auto* s = n.as_string()) {
    w->String(s->get());
  } else if (const auto* i = n.as_integer()) {
    w->Int(i->get());
  } else if (const auto* f = n.as_floating_point()) {
    w->Double(f->get());
  } else if (const auto* b = n.as_boolean()) {
    w->Bool(b->get());
  } else {
    std::ostringstream text;
    n.visit([&](auto&& v) { text << v; });
    w->String(text.str());
  }
}

// -------------------------------------------------------------- sections

const char* GeneratedFileName(GenerateProfile p) {
  switch (p) {
    case GenerateProfile::kRatings:
      return "ratings.csv";
    case GenerateProfile::kPlays:
      return "plays.csv";
    case GenerateProfile::kRetail:
      return "events.csv";
    case GenerateProfile::kBaskets:
      return "baskets.csv";
    case GenerateProfile::kFashion:
      return "events.csv";
  }
  return "data.csv";
}

// The text SetInputOption parses, from a TOML value of the option's type;
// nullopt when the value has another type (CheckKeys reported it).
std::optional<std::string> OptionText(const toml::node& n, InputOptionType type) {
  if (type == InputOptionType::kList) {
    if (const auto* str = n.as_string()) return str->get();
    const toml::array* a = n.as_array();
    if (a == nullptr) return std::nullopt;
    std::string out;
    for (const toml::node& e : *a) {
      if (!e.is_string()) return std::nullopt;
      out += (out.empty() ? "" : ",") + e.as_string()->get();
    }
    return out;
  }
  if (type == InputOptionType::kBool && !n.is_boolean()) return std::nullopt;
  if (type == InputOptionType::kCount && !n.is_integer()) return std::nullopt;
  if (n.is_table() || n.is_array()) return std::nullopt;
  return ScalarText(n);
}

// Sets the input options of `scope` given in `t` with the table's own
// parsers (encore/input.h), reporting bad values at their key.
void ReadInputOptions(Loader& l, const toml::table& t, InputOptionScope scope,
                      InputOptions* options) {
  for (const InputOptionInfo& info : InputOptionTable()) {
    if (info.scope != scope || *info.pipeline_key == 0) continue;
    if (info.type == InputOptionType::kWeights) continue;  // a table: ReadPrepare
    const toml::node* n = t.get(info.pipeline_key);
    if (n == nullptr) continue;
    std::optional<std::string> text = OptionText(*n, info.type);
    if (!text) continue;
    Status s = info.set(options, *text);
    if (!s.ok()) l.diag().Error(n->source(), s.message());
  }
}

SourceConfig ReadSource(Loader& l, const std::string& name, const toml::table& t) {
  SourceConfig s;
  s.name = name;
  s.where = l.Where(t);
  l.CheckKeys(t, "sources.*", name, "");
  const bool has_path = t.contains("path");
  const toml::table* gen = t.get_as<toml::table>("generate");
  if (has_path == (gen != nullptr || t.contains("generate"))) {
    l.diag().Error(t.source(), "[sources." + name +
                                   "] needs exactly one of 'path' (files) and "
                                   "'generate' (synthetic data)");
  }
  if (auto paths = Loader::Strings(t, "path")) {
    if (paths->empty()) l.diag().Error(t.get("path")->source(), "'path' is an empty list");
    for (size_t i = 0; i < paths->size(); ++i) {
      const std::string& p = (*paths)[i];
      std::string resolved = ResolvePattern(l.dir(), p);
      s.patterns.push_back(resolved);
      Result<std::vector<std::string>> files = ExpandPattern(resolved);
      if (!files.ok()) {
        const toml::node* n = t.get("path");
        if (const toml::array* a = n->as_array()) n = a->get(i);
        l.diag().Error(n->source(), "source '" + name + "': " + files.status().message() +
                                        " (paths are relative to the pipeline file's "
                                        "directory " +
                                        l.dir() + ")");
      }
    }
  }
  if (gen != nullptr) {
    l.CheckKeys(*gen, "sources.*.generate", name, "");
    GenerateOptions g;
    if (auto profile = Loader::String(*gen, "profile")) {
      Result<GenerateProfile> p = ParseGenerateProfile(*profile);
      l.Check(*gen, "profile", p.status());
      if (p.ok()) g.profile = *p;
    }
    constexpr uint64_t kMax = GenerateOptions::kMaxEntities;
    if (auto v = l.Uint(*gen, "users", 1, kMax)) g.users = *v;
    if (auto v = l.Uint(*gen, "items", 1, kMax)) g.items = *v;
    if (auto v = l.Uint(*gen, "rows", 1, uint64_t{1} << 40)) g.rows = *v;
    if (auto v = l.Uint(*gen, "seed", 0, std::numeric_limits<int64_t>::max())) g.seed = *v;
    if (auto v = l.Uint(*gen, "clusters", 1, 1000000)) g.clusters = static_cast<uint32_t>(*v);
    g.out_dir = "(run directory)";
    if (Status v = g.Validate(); !v.ok()) l.diag().Error(gen->source(), v.message());
    s.generated_file = GeneratedFileName(g.profile);
    if (g.profile == GenerateProfile::kBaskets) s.input.format = InputFormat::kBaskets;
    s.generate = g;
  }
  ReadInputOptions(l, t, InputOptionScope::kRead, &s.input);
  if (!s.input.obfuscation_key_file.empty()) {
    s.input.obfuscation_key_file = ResolvePath(l.dir(), s.input.obfuscation_key_file);
    struct stat st {};
    if (::stat(s.input.obfuscation_key_file.c_str(), &st) != 0) {
      l.diag().Error(t.get("obfuscation_key_file")->source(),
                     "obfuscation key file '" + s.input.obfuscation_key_file +
                         "' does not exist (relative to the pipeline file's directory)");
    }
  }
  // Pipelines use no attribute columns; not keeping them saves memory.
  s.input.attributes = std::vector<std::string>{};
  // Only the reading options: the [prepare] ones apply to the combined log.
  if (Result<ResolvedInput> r = ResolveInput(s.input); r.ok()) s.read = r->read;
  if (s.input.obfuscate.empty() &&
      (t.contains("obfuscation_key_file") || t.contains("obfuscation_key_env"))) {
    l.diag().Error(t.source(), "[sources." + name +
                                   "] names an obfuscation key but no "
                                   "'obfuscate' columns; add obfuscate = "
                                   "[\"email\"] or drop the key");
  }
  return s;
}

void ReadPrepare(Loader& l, const toml::table* t, PipelineConfig* c) {
  PrepareConfig& p = c->prepare;
  std::vector<std::string> source_names;
  for (const auto& s : c->sources) source_names.push_back(s.name);
  p.sources = source_names;
  if (t != nullptr) {
    l.CheckKeys(*t, "prepare", "", "");
    if (auto names = Loader::Strings(*t, "source")) {
      p.sources.clear();
      for (const auto& n : *names) {
        if (c->FindSource(n) == nullptr) {
          std::string hint = DidYouMean(n, source_names);
          l.diag().Error(t->get("source")->source(),
                         "[prepare] source '" + n + "' names no [sources.NAME]" +
                             (hint.empty() ? "; sources: " + Join(source_names)
                                           : "; did you mean '" + hint + "'?"));
        } else if (std::find(p.sources.begin(), p.sources.end(), n) == p.sources.end()) {
          p.sources.push_back(n);
        }
      }
      if (names->empty()) l.diag().Error(t->get("source")->source(), "[prepare] source is empty");
    }
  }
  // The feedback default follows the first source's format (DefaultFeedback).
  if (!p.sources.empty()) {
    if (const SourceConfig* first = c->FindSource(p.sources[0])) {
      p.input.format = first->input.format;
      // Generated ratings are explicit by default, like the rating presets.
      if (first->generate && first->generate->profile == GenerateProfile::kRatings) {
        p.input.feedback = Feedback::kExplicit;
      }
    }
  }
  if (t != nullptr) {
    p.feedback_chosen = t->get("feedback") != nullptr;
    ReadInputOptions(l, *t, InputOptionScope::kDataset, &p.input);
    if (const toml::table* w = t->get_as<toml::table>("weights")) {
      std::string text;
      bool valid = true;
      for (auto&& [k, v] : *w) {
        const std::string name(k.str());
        std::optional<double> x;
        if (v.is_integer()) x = static_cast<double>(v.as_integer()->get());
        if (v.is_floating_point()) x = v.as_floating_point()->get();
        if (!x || !std::isfinite(*x) || *x < 0) {
          l.diag().Error(v.source(), "weight of event '" + name +
                                         "' must be a finite number >= 0 (e.g. " + name + " = 3)");
          valid = false;
          continue;
        }
        if (name.find_first_of(",=") != std::string::npos) {
          l.diag().Error(k.source(), "event name '" + name + "' may not hold ',' or '='");
          valid = false;
          continue;
        }
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, *x);
        text += (text.empty() ? "" : ",") + name + "=" + std::string(buf, end);
      }
      if (w->empty()) {
        l.diag().Error(w->source(),
                       "[prepare] weights is empty; drop it or name "
                       "event types, e.g. { click = 1, purchase = 3 }");
      } else if (valid) {
        l.Check(*t, "weights", SetInputOption(&p.input, "weights", text));
        p.weights_text = text;
      }
    }
  }
  Result<ResolvedInput> resolved = ResolveInput(p.input);
  if (resolved.ok()) {
    p.dataset = resolved->dataset;
  } else {
    const char* key = p.input.weights.empty() ? "transform" : "weights";
    const toml::node* n = t != nullptr ? t->get(key) : nullptr;
    if (n != nullptr) {
      l.diag().Error(n->source(), "[prepare] " + resolved.status().message());
    } else {
      l.diag().Error(t != nullptr ? t->source() : toml::source_region{},
                     "[prepare] " + resolved.status().message());
    }
  }
  if (t == nullptr) return;
  if (auto w = Loader::String(*t, "window")) {
    Result<WindowSpec> spec = ParseWindow(*w);
    l.Check(*t, "window", spec.status());
    if (spec.ok()) p.window = *spec;
  }
  constexpr uint64_t kMaxCount = 0xFFFFFFFFu;
  if (auto v = l.Uint(*t, "min_user_interactions", 0, kMaxCount)) {
    p.min_user_interactions = static_cast<uint32_t>(*v);
  }
  if (auto v = l.Uint(*t, "min_item_interactions", 0, kMaxCount)) {
    p.min_item_interactions = static_cast<uint32_t>(*v);
  }
  if (const toml::table* sample = t->get_as<toml::table>("sample")) {
    l.CheckKeys(*sample, "prepare.sample", "", "");
    if (auto f = Loader::Number(*sample, "fraction")) {
      if (!(*f > 0 && *f <= 1)) {
        l.diag().Error(sample->get("fraction")->source(),
                       "sample fraction must be in (0, 1], e.g. 0.5 keeps half of the users");
      } else {
        p.sample_fraction = *f;
      }
    }
    if (auto v = l.Uint(*sample, "seed", 0, std::numeric_limits<int64_t>::max())) {
      p.sample_seed = *v;
    }
  }
}

// Model parameters from a table (kind already known to be valid or not).
void ReadParams(Loader& l, const std::string& model, const toml::table& t, ModelConfig* m) {
  const std::vector<std::string> names = ParamNames();
  for (auto&& [k, v] : t) {
    const std::string name(k.str());
    const ParamInfo* info = FindParam(name);
    if (info == nullptr) {
      std::string hint = DidYouMean(name, names);
      l.diag().Error(k.source(), "unknown parameter '" + name + "' in [models." + model +
                                     ".params]" +
                                     (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                     " Known parameters (encore params): " + Join(names));
      continue;
    }
    if (!ParamTypeMatches(v, info->type)) {
      l.diag().Error(v.source(), "parameter '" + name + "' must be " +
                                     (std::string(info->type) == "enum" ? "a string"
                                                                        : WithArticle(info->type)) +
                                     ", not " + WithArticle(NodeTypeName(v)));
      continue;
    }
    std::string text = *ScalarText(v);
    Status s = SetModelParam(&m->params, name, text);
    if (!s.ok()) {
      l.diag().Error(v.source(), "[models." + model + ".params] " + s.message());
      continue;
    }
    m->given.emplace_back(name, text);
  }
}

// The grid table ({ factors = [5, 10], reg = [0.01, 0.1] }) as the grid
// option's text ("factors=5,10;reg=0.01,0.1"), each value checked at its own
// line first; "" when nothing valid is left.
std::string GridText(Loader& l, const std::string& model, const toml::table& grid,
                     const ModelParams& base) {
  const std::vector<std::string> names = ParamNames();
  std::string text;
  for (auto&& [key, v] : grid) {
    const std::string name(key.str());
    const ParamInfo* info = FindParam(name);
    if (info == nullptr) {
      std::string hint = DidYouMean(name, names);
      l.diag().Error(key.source(), "unknown parameter '" + name + "' in the grid of [models." +
                                       model + ".evaluate]" +
                                       (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                       " Known parameters (encore params): " + Join(names));
      continue;
    }
    const toml::array* values = v.as_array();
    if (values == nullptr || values->empty()) {
      l.diag().Error(v.source(), "grid values of '" + name + "' must be a non-empty array, e.g. " +
                                     name + " = [5, 10, 20]");
      continue;
    }
    std::string axis;
    for (const toml::node& x : *values) {
      std::optional<std::string> value = ScalarText(x);
      if (!value || !ParamTypeMatches(x, info->type)) {
        l.diag().Error(x.source(),
                       "grid value of '" + name + "' must be " +
                           (std::string(info->type) == "enum" ? std::string("a string")
                                                              : WithArticle(info->type)) +
                           ", not " + WithArticle(NodeTypeName(x)));
        continue;
      }
      ModelParams probe = base;
      Status s = SetModelParam(&probe, name, *value);
      if (s.ok()) s = probe.Validate();
      if (!s.ok() || value->find_first_of(",;=") != std::string::npos) {
        l.diag().Error(x.source(), "bad grid value for '" + name + "': " +
                                       (s.ok() ? "',', ';' and '=' are not allowed" : s.message()));
        continue;
      }
      axis += (axis.empty() ? "" : ",") + *value;
    }
    if (!axis.empty()) text += (text.empty() ? "" : ";") + name + "=" + axis;
  }
  if (grid.empty()) l.diag().Error(grid.source(), "grid is empty; drop it or add parameters");
  return text;
}

// [models.NAME.evaluate]: the keys of the evaluation option table
// (encore/evaluate.h), applied in table order with its parsers, plus refit.
void ReadEvaluate(Loader& l, const std::string& model, const toml::table& t, Feedback feedback,
                  ModelConfig* m) {
  l.CheckKeys(t, "models.*.evaluate", model, "");
  EvaluateConfig e;
  for (const EvalOptionInfo& info : EvaluationOptionTable()) {
    if (*info.pipeline_key == 0) continue;
    const toml::node* n = t.get(info.pipeline_key);
    if (n == nullptr) continue;
    std::optional<std::string> text;
    switch (info.type) {
      case EvalOptionType::kGrid:
        if (const toml::table* grid = n->as_table()) {
          text = GridText(l, model, *grid, m->params);
          if (text->empty()) text.reset();
        }
        break;
      case EvalOptionType::kMetrics:
        if (const toml::array* a = n->as_array()) {
          if (a->empty()) {
            l.diag().Error(n->source(), "metrics is empty; e.g. [\"rmse\"]");
            break;
          }
          // One element at a time, so an error points at its element.
          for (const toml::node& x : *a) {
            if (!x.is_string()) continue;  // CheckKeys reported it
            Status s = info.set(&e, x.as_string()->get());
            if (!s.ok()) l.diag().Error(x.source(), s.message());
          }
        } else if (n->is_string()) {
          text = n->as_string()->get();
        }
        break;
      case EvalOptionType::kBool:
        if (n->is_boolean()) text = n->as_boolean()->get() ? "true" : "false";
        break;
      case EvalOptionType::kCount:
        if (n->is_integer()) {
          if (n->as_integer()->get() < 0) {
            l.diag().Error(n->source(), std::string(info.pipeline_key) + " must be >= 0");
          } else {
            text = ScalarText(*n);
          }
        }
        break;
      default:
        if (!n->is_table() && !n->is_array()) text = ScalarText(*n);
        break;
    }
    if (!text) continue;
    Status s = info.set(&e, *text);
    if (!s.ok()) l.diag().Error(n->source(), s.message());
  }
  // Combinations (leave_k with a random split...), reported at the section.
  if (Status s = ValidateProtocol(e); !s.ok()) l.diag().Error(t.source(), s.message());
  if (!e.grid.empty() && e.folds == 0) e.folds = 3;
  // The one default (DefaultMetrics), resolved now so plans show it.
  e.metrics = ProtocolMetrics(e, feedback);
  if (auto r = Loader::Bool(t, "refit")) e.refit = *r;
  m->evaluate = std::move(e);
}

ModelConfig ReadModel(Loader& l, const std::string& name, const toml::table& t, Feedback feedback) {
  ModelConfig m;
  m.name = name;
  m.where = l.Where(t);
  l.CheckKeys(t, "models.*", name, "");
  if (auto kind = Loader::String(t, "kind")) {
    m.kind = *kind;
    const std::vector<std::string> kinds = RecommenderKinds();
    if (std::find(kinds.begin(), kinds.end(), *kind) == kinds.end()) {
      std::string hint = DidYouMean(*kind, kinds);
      l.diag().Error(t.get("kind")->source(),
                     "unknown model kind '" + *kind + "'" +
                         (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                         " Known kinds: " + Join(kinds));
    }
  }
  // Unset parameters start at the kind's defaults (or Spark's: `defaults`).
  DefaultsPreset preset = DefaultsPreset::kEncore;
  if (auto text = Loader::String(t, "defaults")) {
    Result<DefaultsPreset> p = ParseDefaultsPreset(*text);
    if (p.ok()) {
      preset = *p;
    } else {
      l.diag().Error(t.get("defaults")->source(),
                     "[models." + name + "] " + p.status().message());
    }
  }
  m.params = DefaultParams(m.kind, preset);
  if (const toml::table* params = t.get_as<toml::table>("params")) {
    ReadParams(l, name, *params, &m);
    if (Status s = m.params.Validate(); !s.ok()) {
      l.diag().Error(params->source(), "[models." + name + ".params] " + s.message());
    }
  }
  if (const toml::table* e = t.get_as<toml::table>("evaluate")) {
    ReadEvaluate(l, name, *e, feedback, &m);
  }
  return m;
}

RecommendConfig ReadRecommend(Loader& l, const std::string& name, const toml::table& t,
                              const PipelineConfig& c) {
  RecommendConfig r;
  r.name = name;
  r.where = l.Where(t);
  l.CheckKeys(t, "recommend.*", name, "");
  if (auto model = Loader::String(t, "model")) {
    r.model = *model;
    if (c.FindModel(*model) == nullptr) {
      std::vector<std::string> names;
      for (const auto& m : c.models) names.push_back(m.name);
      std::string hint = DidYouMean(*model, names);
      l.diag().Error(t.get("model")->source(),
                     "[recommend." + name + "] model '" + *model + "' names no [models.NAME]" +
                         (hint.empty() ? "; models: " + (names.empty() ? "(none)" : Join(names))
                                       : "; did you mean '" + hint + "'?"));
    }
  }
  if (auto kind = Loader::String(t, "kind")) {
    if (*kind == "users") {
      r.kind = RecommendKind::kUsers;
    } else if (*kind == "similar") {
      r.kind = RecommendKind::kSimilar;
    } else {
      l.diag().Error(t.get("kind")->source(), "[recommend." + name + "] kind '" + *kind +
                                                  "': use users (top-N per user) or similar "
                                                  "(similar items per item)");
    }
  }
  if (auto n = l.Uint(t, "n", 1, 100000)) r.n = static_cast<uint32_t>(*n);
  if (auto e = Loader::Bool(t, "exclude_seen")) r.exclude_seen = *e;
  if (auto users = Loader::String(t, "users")) {
    r.users_file = ResolvePath(l.dir(), *users);
    struct stat st {};
    if (::stat(r.users_file.c_str(), &st) != 0) {
      l.diag().Error(t.get("users")->source(), "id list '" + r.users_file +
                                                   "' does not exist (relative to the pipeline "
                                                   "file's directory)");
    }
  }
  return r;
}

// A RowSource with columns and no rows: lets the loader check derived
// templates and column lists with the writers' own rules (WithDerivedColumns).
class ColumnsOnly final : public RowSource {
 public:
  explicit ColumnsOnly(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  const std::vector<std::string>& columns() const override { return columns_; }
  Status ForEach(const std::function<Status(std::span<const std::string_view>)>&) const override {
    return Status::OK();
  }

 private:
  std::vector<std::string> columns_;
};

std::vector<std::string> BaseColumns(RecommendKind kind) {
  if (kind == RecommendKind::kSimilar) return {"item", "similar_item", "score", "rank"};
  return {"user", "item", "score", "rank"};
}

OutputConfig ReadOutput(Loader& l, const std::string& name, const toml::table& t,
                        const PipelineConfig& c) {
  OutputConfig o;
  o.name = name;
  o.where = l.Where(t);
  o.publish.n = 0;  // the model's n, else 20 (PublishModel)
  std::string kind;
  if (auto k = Loader::String(t, "kind")) {
    if (*k == "csv") {
      o.kind = OutputKind::kCsv;
    } else if (*k == "jsonl") {
      o.kind = OutputKind::kJsonl;
    } else if (*k == "postgres") {
      o.kind = OutputKind::kPostgres;
    } else if (*k == "publish") {
      o.kind = OutputKind::kPublish;
    } else if (*k == "retail") {
      o.kind = OutputKind::kRetail;
      if (!c.retail) {
        l.diag().Error(t.get("kind")->source(),
                       "[outputs." + name +
                           "] kind 'retail' writes the feeds of [retail], "
                           "which the file does not have; add a [retail] section");
      }
    } else {
      std::string hint = DidYouMean(*k, {"csv", "jsonl", "postgres", "publish", "retail"});
      l.diag().Error(t.get("kind")->source(),
                     "[outputs." + name + "] kind '" + *k + "' is unknown" +
                         (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                         " Kinds: csv, jsonl, postgres, publish, retail");
      l.CheckKeys(t, "outputs.*", name, "");
      return o;
    }
    kind = *k;
  }
  l.CheckKeys(t, "outputs.*", name, kind);
  if (kind.empty()) return o;
  std::vector<std::string> base;
  if (auto from = Loader::String(t, "from")) {
    o.from = *from;
    const RecommendConfig* r = c.FindRecommend(*from);
    if (r == nullptr) {
      std::vector<std::string> names;
      for (const auto& x : c.recommends) names.push_back(x.name);
      std::string hint = DidYouMean(*from, names);
      l.diag().Error(
          t.get("from")->source(),
          "[outputs." + name + "] from '" + *from + "' names no [recommend.NAME]" +
              (hint.empty() ? "; recommendation lists: " + (names.empty() ? "(none)" : Join(names))
                            : "; did you mean '" + hint + "'?"));
    } else {
      base = BaseColumns(r->kind);
    }
  }
  if (auto model = Loader::String(t, "model")) {
    o.model = *model;
    if (c.FindModel(*model) == nullptr) {
      std::vector<std::string> names;
      for (const auto& m : c.models) names.push_back(m.name);
      std::string hint = DidYouMean(*model, names);
      l.diag().Error(t.get("model")->source(),
                     "[outputs." + name + "] model '" + *model + "' names no [models.NAME]" +
                         (hint.empty() ? "; models: " + (names.empty() ? "(none)" : Join(names))
                                       : "; did you mean '" + hint + "'?"));
    }
  }
  if (auto path = Loader::String(t, "path")) {
    o.path = *path;
    if (path->empty()) l.diag().Error(t.get("path")->source(), "output path is empty");
  }
  o.prefix = Loader::String(t, "prefix").value_or(name);
  if (const toml::node* size = t.get("chunk_size")) {
    if (const auto* i = size->as_integer()) {
      if (i->get() < 0) {
        l.diag().Error(size->source(), "chunk_size must be >= 0 bytes (0: one file)");
      } else {
        o.chunk_bytes = static_cast<uint64_t>(i->get());
      }
    } else if (const auto* s = size->as_string()) {
      Result<uint64_t> bytes = ParseSize(s->get());
      if (!bytes.ok()) {
        l.diag().Error(size->source(), "chunk_size: " + bytes.status().message());
      } else {
        o.chunk_bytes = *bytes;
      }
    }
  }
  if (auto d = Loader::String(t, "delimiter")) {
    Result<char> sep = ParseSeparator(*d);
    l.Check(t, "delimiter", sep.status());
    if (sep.ok()) o.delimiter = *sep;
  }
  if (auto h = Loader::Bool(t, "header")) o.header = *h;
  std::vector<std::string> all = base;
  if (const toml::table* derived = t.get_as<toml::table>("derived")) {
    for (auto&& [k, v] : *derived) {
      const std::string col(k.str());
      if (!v.is_string()) {
        l.diag().Error(v.source(), "derived column '" + col +
                                       "' must be a template string, e.g. \"{user}-{row}\"");
        continue;
      }
      if (std::find(base.begin(), base.end(), col) != base.end()) {
        l.diag().Error(k.source(), "derived column '" + col +
                                       "' would replace a column of the "
                                       "rows; choose another name");
        continue;
      }
      if (!base.empty()) {
        ColumnsOnly rows(base);
        Status checked = WithDerivedColumns(rows, {{col, v.as_string()->get()}}, {}).status();
        if (!checked.ok()) l.diag().Error(v.source(), checked.message());
      }
      o.derived.push_back({col, v.as_string()->get()});
      all.push_back(col);
    }
  }
  if (auto cols = Loader::Strings(t, "columns")) {
    const toml::array* arr = t.get("columns")->as_array();
    std::set<std::string> seen;
    for (size_t i = 0; i < cols->size(); ++i) {
      const std::string& col = (*cols)[i];
      if (!base.empty() && std::find(all.begin(), all.end(), col) == all.end()) {
        std::string hint = DidYouMean(col, all);
        l.diag().Error(arr->get(i)->source(),
                       "column '" + col + "' is neither a column of the rows nor derived" +
                           (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                           " Columns: " + Join(all));
      }
      if (!seen.insert(col).second) {
        l.diag().Error(arr->get(i)->source(), "column '" + col + "' is listed twice");
      }
    }
    if (cols->empty()) l.diag().Error(t.get("columns")->source(), "columns is empty");
    o.columns = *cols;
  } else {
    o.columns = all;
  }
  if (auto table = Loader::String(t, "table")) o.table = *table;
  if (auto ci = Loader::String(t, "conninfo")) o.conninfo = *ci;
  if (auto env = Loader::String(t, "conninfo_env")) o.conninfo_env = *env;
  if (o.kind == OutputKind::kPostgres) {
    if (t.contains("conninfo") == t.contains("conninfo_env")) {
      l.diag().Error(t.source(), "[outputs." + name +
                                     "] needs exactly one of 'conninfo' and "
                                     "'conninfo_env' (the name of an "
                                     "environment variable holding it)");
    }
    o.types = {{"score", "double precision"}, {"rank", "integer"}};
    if (!base.empty() && !o.table.empty()) {
      PostgresOutputOptions po;
      po.table = o.table;
      Status names = CheckPostgresOutputOptions(o.columns, po);
      if (!names.ok()) l.diag().Error(t.get("table")->source(), names.message());
    }
    if (const toml::table* types = t.get_as<toml::table>("types")) {
      for (auto&& [k, v] : *types) {
        const std::string col(k.str());
        if (!v.is_string()) {
          l.diag().Error(v.source(), "SQL type of '" + col + "' must be a string, e.g. \"bigint\"");
          continue;
        }
        o.types[col] = v.as_string()->get();
        if (base.empty()) continue;
        // The writer refuses a type for a column it does not write; say so
        // now, with the line, rather than after training (or not at all).
        if (std::find(o.columns.begin(), o.columns.end(), col) == o.columns.end()) {
          std::string hint = DidYouMean(col, o.columns);
          l.diag().Error(k.source(), "[outputs." + name + "] type given for column '" + col +
                                         "', which the output does not have" +
                                         (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                         " Output columns: " + Join(o.columns));
          continue;
        }
        PostgresOutputOptions po;
        po.table = "t";
        po.types = {{col, o.types[col]}};
        Status type = CheckPostgresOutputOptions(o.columns, po);
        if (!type.ok()) l.diag().Error(v.source(), type.message());
      }
    }
  }
  // What the file writers would refuse, reported now with its line rather
  // than when the output is written, after every model is trained.
  if (o.kind == OutputKind::kCsv || o.kind == OutputKind::kJsonl) {
    FileOutputOptions fo;
    fo.dir = o.path;
    fo.prefix = o.prefix;
    const toml::node* prefix = t.get("prefix");
    Status named = CheckFileOutputName(fo);
    if (!named.ok()) {
      l.diag().Error(prefix != nullptr ? prefix->source() : t.source(),
                     "[outputs." + name + "] " + named.message());
    } else if (o.kind == OutputKind::kCsv) {
      fo.delimiter = o.delimiter;
      fo.header = o.header;
      Status delimited = CheckCsvOutputOptions(o.columns, fo);
      if (!delimited.ok()) {
        l.diag().Error(t.get("delimiter") != nullptr ? t.get("delimiter")->source() : t.source(),
                       delimited.message());
      } else if (!base.empty() && o.chunk_bytes > 0) {
        fo.chunk_bytes = o.chunk_bytes;
        Status chunked = CheckCsvOutputOptions(o.columns, fo);
        if (!chunked.ok()) l.diag().Error(t.get("chunk_size")->source(), chunked.message());
      }
    }
  }
  if (auto store = Loader::String(t, "store")) {
    o.store = *store;
    if (store->empty()) l.diag().Error(t.get("store")->source(), "store is empty");
  }
  if (auto v = l.Uint(t, "n", 1, 100000)) o.publish.n = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "similar_n", 0, 100000)) o.publish.similar_n = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "popular_n", 0, 100000)) o.publish.popular_n = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "keep", 1, 100000)) o.publish.keep = static_cast<uint32_t>(*v);
  if (auto v = Loader::Bool(t, "include_model")) o.publish.include_model = *v;
  if (auto v = Loader::Bool(t, "exclude_seen")) o.publish.exclude_seen = *v;
  if (auto v = Loader::String(t, "high_water_mark")) {
    if (*v != "auto" && *v != "none") {
      auto parsed = ParseHighWater(*v);
      if (!parsed.ok() || parsed->kind == HighWater::Kind::kNone) {
        l.diag().Error(t.get("high_water_mark")->source(),
                       "[outputs." + name + "] high_water_mark '" + *v +
                           "': expected \"auto\" (the max event time of the prepared data), "
                           "\"none\", \"time:SECONDS\" or \"id:MS-SEQ\"" +
                           (parsed.ok() ? std::string() : " (" + parsed.status().message() + ")"));
      }
    }
    o.high_water_mark = *v;
  }
  return o;
}

// A level name that must be one of the catalog's declared levels.
void CheckLevel(Loader& l, const toml::table& t, const char* key, const std::string& value,
                const CatalogOptions& catalog, const std::string& section) {
  if (std::find(catalog.levels.begin(), catalog.levels.end(), value) != catalog.levels.end()) {
    return;
  }
  std::string hint = DidYouMean(value, catalog.levels);
  const toml::node* n = t.get(key);
  l.diag().Error(n != nullptr ? n->source() : t.source(),
                 "[" + section + "] " + key + " '" + value +
                     "' is not a level of [retail.catalog] levels" +
                     (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                     " Levels: " + Join(catalog.levels));
}

// Reads a table of free names to finite numbers >= lo.
std::map<std::string, double> NumberTable(Loader& l, const toml::table& t, const char* what,
                                          double lo) {
  std::map<std::string, double> out;
  for (auto&& [k, v] : t) {
    const std::string name(k.str());
    std::optional<double> x;
    if (v.is_integer()) x = static_cast<double>(v.as_integer()->get());
    if (v.is_floating_point()) x = v.as_floating_point()->get();
    if (!x || !std::isfinite(*x) || *x < lo) {
      l.diag().Error(v.source(), std::string(what) + " '" + name + "' must be a finite number" +
                                     (lo == 0 ? " >= 0" : "") + " (e.g. " + name + " = 3)");
      continue;
    }
    out[name] = *x;
  }
  return out;
}

// Model parameters of a segment table ({ factors = 16 }), checked like
// [models.NAME.params]; (name, text) pairs.
std::vector<std::pair<std::string, std::string>> SegmentParams(Loader& l, const toml::table& t,
                                                               const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::vector<std::string> names = ParamNames();
  for (auto&& [k, v] : t) {
    const std::string name(k.str());
    const ParamInfo* info = FindParam(name);
    if (info == nullptr) {
      std::string hint = DidYouMean(name, names);
      l.diag().Error(k.source(), "unknown parameter '" + name + "' in " + where +
                                     (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                     " Known parameters (encore params): " + Join(names));
      continue;
    }
    std::optional<std::string> text = ScalarText(v);
    ModelParams probe;
    Status st =
        !ParamTypeMatches(v, info->type) || !text
            ? Status::InvalidArgument("parameter '" + name + "' must be " + WithArticle(info->type))
            : SetModelParam(&probe, name, *text);
    if (!st.ok()) {
      l.diag().Error(v.source(), where + " " + st.message());
      continue;
    }
    out.emplace_back(name, *text);
  }
  return out;
}

SegmentsConfig ReadSegments(Loader& l, const toml::table& t, const RetailConfig& r) {
  SegmentsConfig g;
  g.where = l.Where(t);
  l.CheckKeys(t, "retail.segments", "", "");
  if (auto v = Loader::Strings(t, "by")) {
    if (v->empty()) l.diag().Error(t.get("by")->source(), "[retail.segments] by is empty");
    g.spec.by = *v;
  }
  const std::vector<std::string>& builtin = BuiltinMemberFeatures();
  g.features.primary_levels.clear();
  for (const std::string& part : g.spec.by) {
    if (std::find(r.catalog.levels.begin(), r.catalog.levels.end(), part) !=
        r.catalog.levels.end()) {
      g.features.primary_levels.push_back(part);
    } else if (std::find(builtin.begin(), builtin.end(), part) == builtin.end() &&
               !t.contains("members")) {
      std::vector<std::string> known = r.catalog.levels;
      known.insert(known.end(), builtin.begin(), builtin.end());
      std::string hint = DidYouMean(part, known);
      l.diag().Error(
          t.get("by") != nullptr ? t.get("by")->source() : t.source(),
          "[retail.segments] by: '" + part + "' is neither a catalog level nor a member feature" +
              (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
              " Levels and features: " + Join(known) + " (a members file adds its columns)");
    }
  }
  if (auto v = l.Uint(t, "buckets", 1, 1000)) g.spec.buckets = static_cast<uint32_t>(*v);
  if (auto v = Loader::Number(t, "price_percentile")) {
    if (!(*v >= 0 && *v <= 100)) {
      l.diag().Error(t.get("price_percentile")->source(),
                     "[retail.segments] price_percentile must be in 0..100");
    }
    g.features.price_percentile = *v;
  }
  if (auto v = Loader::Strings(t, "purchase_events")) g.features.purchase_events = *v;
  if (auto v = Loader::String(t, "default_segment")) {
    if (v->empty()) {
      l.diag().Error(t.get("default_segment")->source(),
                     "[retail.segments] default_segment is empty");
    }
    g.spec.default_segment = *v;
  }
  if (auto v = Loader::String(t, "members")) {
    g.members_path = ResolvePath(l.dir(), *v);
    struct stat st {};
    if (::stat(g.members_path.c_str(), &st) != 0) {
      l.diag().Error(t.get("members")->source(),
                     "members file '" + g.members_path +
                         "' does not exist (relative to the pipeline file's directory)");
    }
  }
  if (auto v = Loader::String(t, "member_col")) g.member_col = *v;
  if (auto v = l.Uint(t, "min_members", 1, std::numeric_limits<int64_t>::max())) {
    g.min_members = *v;
  }
  if (auto v = l.Uint(t, "size_threshold", 0, std::numeric_limits<int64_t>::max())) {
    g.size_threshold = *v;
  }
  if (auto v = l.Uint(t, "parallel", 0, 1024)) g.parallel = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "memory_mb", 0, std::numeric_limits<int32_t>::max())) g.memory_mb = *v;
  if (const toml::table* p = t.get_as<toml::table>("params_above")) {
    g.params_above = SegmentParams(l, *p, "[retail.segments] params_above");
  }
  if (const toml::table* p = t.get_as<toml::table>("params_below")) {
    g.params_below = SegmentParams(l, *p, "[retail.segments] params_below");
  }
  if ((t.contains("params_above") || t.contains("params_below")) && g.size_threshold == 0) {
    l.diag().Error(t.source(),
                   "[retail.segments] params_above/params_below need size_threshold (members)");
  }
  if (const toml::table* o = t.get_as<toml::table>("overrides")) {
    for (auto&& [k, v] : *o) {
      const std::string name(k.str());
      const toml::table* p = v.as_table();
      if (p == nullptr) {
        l.diag().Error(v.source(), "[retail.segments.overrides] " + name +
                                       " must be a table of model parameters, e.g. " + name +
                                       " = { factors = 16 }");
        continue;
      }
      g.overrides[name] = SegmentParams(l, *p, "[retail.segments.overrides] " + name);
    }
  }
  if (auto v = Loader::Bool(t, "evaluate")) g.evaluate = *v;
  if (auto v = Loader::Number(t, "holdout")) {
    if (!(*v > 0 && *v < 1)) {
      l.diag().Error(t.get("holdout")->source(), "[retail.segments] holdout must be in (0, 1)");
    }
    g.holdout = *v;
  }
  g.features.as_of = r.rules.as_of;
  g.features.weights = r.weights;
  return g;
}

RetailConfig ReadRetail(Loader& l, const toml::table& t, const PipelineConfig& c) {
  RetailConfig r;
  r.where = l.Where(t);
  l.CheckKeys(t, "retail", "", "");
  const SourceConfig* source = nullptr;
  if (auto s = Loader::String(t, "source")) {
    r.source = *s;
    source = c.FindSource(*s);
    if (source == nullptr) {
      std::vector<std::string> names;
      for (const auto& x : c.sources) names.push_back(x.name);
      std::string hint = DidYouMean(*s, names);
      l.diag().Error(
          t.get("source")->source(),
          "[retail] source '" + *s + "' names no [sources.NAME]" +
              (hint.empty() ? "; sources: " + Join(names) : "; did you mean '" + hint + "'?"));
    }
  }
  if (auto m = Loader::String(t, "model")) {
    r.model = *m;
    const ModelConfig* model = c.FindModel(*m);
    if (model == nullptr) {
      std::vector<std::string> names;
      for (const auto& x : c.models) names.push_back(x.name);
      std::string hint = DidYouMean(*m, names);
      l.diag().Error(t.get("model")->source(),
                     "[retail] model '" + *m + "' names no [models.NAME]" +
                         (hint.empty() ? "; models: " + (names.empty() ? "(none)" : Join(names))
                                       : "; did you mean '" + hint + "'?"));
    } else if (model->evaluate) {
      l.diag().Error(t.get("model")->source(),
                     "[retail] model '" + *m +
                         "' has an [evaluate] section, which the retail stage does not run "
                         "(it trains on rolled-up keys); drop [models." +
                         *m + ".evaluate]");
    }
  }
  if (auto a = Loader::String(t, "as_of")) {
    r.as_of_text = *a;
    int64_t v = 0;
    if (!io::ParseTimestamp(*a, TimeUnit::kSeconds, &v)) {
      l.diag().Error(t.get("as_of")->source(),
                     "[retail] as_of '" + *a +
                         "' is not a time; write ISO-8601 such as \"2026-06-01T00:00:00Z\" or "
                         "unix seconds such as \"1780272000\"");
    }
    r.rules.as_of = v;
    r.product_score.as_of = v;
  }
  if (auto k = Loader::String(t, "key")) r.key = *k;
  if (const toml::table* w = t.get_as<toml::table>("weights")) {
    r.weights.clear();
    for (const auto& [name, x] : NumberTable(l, *w, "weight of event", 0)) {
      r.weights[name] = static_cast<float>(x);
    }
    if (w->empty()) l.diag().Error(w->source(), "[retail] weights is empty");
  }
  CatalogOptions& cat = r.catalog;
  if (const toml::table* ct = t.get_as<toml::table>("catalog")) {
    l.CheckKeys(*ct, "retail.catalog", "", "");
    if (auto p = Loader::String(*ct, "path")) {
      r.catalog_path = ResolvePath(l.dir(), *p);
      struct stat st {};
      if (::stat(r.catalog_path.c_str(), &st) != 0) {
        l.diag().Error(ct->get("path")->source(),
                       "catalog file '" + r.catalog_path +
                           "' does not exist (relative to the pipeline file's directory)");
      }
    }
    if (auto v = Loader::String(*ct, "table")) r.catalog_table = *v;
    if (auto v = Loader::String(*ct, "query")) r.catalog_query = *v;
    if (auto v = Loader::String(*ct, "conninfo")) r.catalog_conninfo = *v;
    if (auto v = Loader::String(*ct, "conninfo_env")) r.catalog_conninfo_env = *v;
    const int sources = ct->contains("path") + ct->contains("table") + ct->contains("query");
    if (sources > 1) {
      l.diag().Error(ct->source(),
                     "[retail.catalog] takes one of 'path' (a file), 'table' and 'query' "
                     "(PostgreSQL); drop the others");
    }
    const bool postgres = ct->contains("table") || ct->contains("query");
    const bool connection = ct->contains("conninfo") || ct->contains("conninfo_env");
    if (postgres && ct->contains("conninfo") == ct->contains("conninfo_env")) {
      l.diag().Error(ct->source(),
                     "[retail.catalog] table/query needs exactly one of 'conninfo' and "
                     "'conninfo_env' (the name of an environment variable holding it)");
    } else if (!postgres && connection) {
      l.diag().Error(ct->source(),
                     "[retail.catalog] conninfo/conninfo_env connect to PostgreSQL, which needs "
                     "'table' or 'query' saying what to read");
    }
    for (const char* key : {"table", "query"}) {
      if (auto v = Loader::String(*ct, key);
          v && v->find_first_not_of(" \t\r\n;") == std::string::npos) {
        l.diag().Error(ct->get(key)->source(),
                       std::string("[retail.catalog] ") + key + " is empty");
      }
    }
    if (postgres && ct->contains("format")) {
      l.diag().Error(ct->get("format")->source(),
                     "[retail.catalog] format applies to files; a PostgreSQL table or query is "
                     "always read as CSV (COPY ... TO STDOUT)");
    }
    if (auto f = Loader::String(*ct, "format")) {
      if (*f != "csv" && *f != "tsv" && *f != "jsonl") {
        l.diag().Error(ct->get("format")->source(),
                       "[retail.catalog] format '" + *f + "' is unknown; use csv, tsv or jsonl");
      }
      cat.format = *f;
    }
    if (auto v = Loader::Strings(*ct, "levels")) {
      if (v->empty())
        l.diag().Error(ct->get("levels")->source(), "[retail.catalog] levels is empty");
      std::set<std::string> seen;
      for (const auto& x : *v) {
        if (!seen.insert(x).second) {
          l.diag().Error(ct->get("levels")->source(),
                         "[retail.catalog] level '" + x + "' is listed twice");
        }
      }
      cat.levels = *v;
    }
    for (auto [key, field] :
         {std::pair{"id_col", &cat.id_col}, std::pair{"price_col", &cat.price_col},
          std::pair{"launch_col", &cat.launch_col}, std::pair{"from_col", &cat.from_col},
          std::pair{"until_col", &cat.until_col}, std::pair{"quantity_col", &cat.quantity_col}}) {
      if (auto v = Loader::String(*ct, key)) *field = *v;
    }
    if (auto v = Loader::Strings(*ct, "counters")) cat.counters = *v;
    if (auto v = l.Uint(*ct, "max_bad_rows", 0, std::numeric_limits<int64_t>::max())) {
      cat.max_bad_rows = *v;
    }
  }
  if (r.catalog_path.empty() && !r.catalog_from_postgres() && source != nullptr) {
    if (source->generate && source->generate->profile == GenerateProfile::kFashion) {
      r.catalog_path = "";  // the generated catalog.csv, found when the source runs
    } else {
      l.diag().Error(t.source(),
                     "[retail] needs [retail.catalog] path (a file) or table/query "
                     "(PostgreSQL): source '" +
                         r.source +
                         "' is not generated by the fashion profile, which writes its own "
                         "catalog.csv");
    }
  }
  // The key's levels must be catalog levels (split at '_' between levels).
  if (r.key != "product" && !r.key.empty()) {
    std::string rest = r.key;
    while (!rest.empty()) {
      std::string found;  // the longest level the rest starts with
      for (const auto& level : cat.levels) {
        if ((rest == level || rest.starts_with(level + "_")) && level.size() > found.size()) {
          found = level;
        }
      }
      if (found.empty()) {
        l.diag().Error(t.get("key") != nullptr ? t.get("key")->source() : t.source(),
                       "[retail] key '" + r.key + "': '" + rest +
                           "' does not start with a level of [retail.catalog] levels (" +
                           Join(cat.levels) + "); write levels joined by '_', e.g. subclass_brand");
        break;
      }
      rest = rest.size() == found.size() ? "" : rest.substr(found.size() + 1);
    }
  }
  RetailRules& rules = r.rules;
  constexpr uint64_t kMax32 = 0xFFFFFFFFu;
  if (const toml::table* b = t.get_as<toml::table>("boost")) {
    l.CheckKeys(*b, "retail.boost", "", "");
    if (auto v = Loader::String(*b, "level")) rules.boost_level = *v;
    if (auto v = l.Uint(*b, "top", 0, kMax32)) rules.boost_top = static_cast<uint32_t>(*v);
    if (auto v = l.Uint(*b, "days", 0, 100000)) rules.boost_days = static_cast<int64_t>(*v);
    if (auto v = Loader::Strings(*b, "events")) rules.intent_events = *v;
    if (auto v = Loader::Strings(*b, "purchase_events")) rules.purchase_events = *v;
    if (auto v = Loader::String(*b, "rule")) {
      if (*v == "multiply" || *v == "add") {
        rules.boost_multiply = *v == "multiply";
      } else {
        l.diag().Error(b->get("rule")->source(),
                       "[retail.boost] rule '" + *v + "' is unknown; use multiply or add");
      }
    }
    if (auto v = Loader::Number(*b, "value")) {
      if (!std::isfinite(*v)) {
        l.diag().Error(b->get("value")->source(), "[retail.boost] value must be finite");
      }
      rules.boost_value = static_cast<float>(*v);
    }
    CheckLevel(l, *b, "level", rules.boost_level, cat, "retail.boost");
  } else {
    CheckLevel(l, t, "boost", rules.boost_level, cat, "retail.boost");
  }
  if (const toml::table* d = t.get_as<toml::table>("diversity")) {
    l.CheckKeys(*d, "retail.diversity", "", "");
    if (auto v = Loader::String(*d, "level")) rules.diversity_level = *v;
    if (auto v = l.Uint(*d, "max_per_node", 0, kMax32)) {
      rules.max_per_node = static_cast<uint32_t>(*v);
    }
    CheckLevel(l, *d, "level", rules.diversity_level, cat, "retail.diversity");
  } else {
    CheckLevel(l, t, "diversity", rules.diversity_level, cat, "retail.diversity");
  }
  if (const toml::table* a = t.get_as<toml::table>("availability")) {
    l.CheckKeys(*a, "retail.availability", "", "");
    if (auto v = l.Uint(*a, "window_hours", 1, 24 * 366)) {
      rules.window_seconds = static_cast<int64_t>(*v) * 3600;
    }
    if (auto v = l.Uint(*a, "min_quantity", 0, std::numeric_limits<int64_t>::max())) {
      rules.min_quantity = static_cast<int64_t>(*v);
    }
    if (auto v = l.Uint(*a, "min_saleable", 1, kMax32)) {
      rules.min_saleable = static_cast<uint32_t>(*v);
    }
  }
  if (const toml::table* p = t.get_as<toml::table>("product_score")) {
    l.CheckKeys(*p, "retail.product_score", "", "");
    if (auto v = l.Uint(*p, "interaction_days", 1, 100000)) {
      r.product_score.interaction_days = static_cast<int64_t>(*v);
    }
    if (auto v = Loader::Strings(*p, "click_events")) r.product_score.click_events = *v;
    if (auto v = Loader::Strings(*p, "purchase_events")) r.product_score.purchase_events = *v;
    if (const toml::table* w = p->get_as<toml::table>("weights")) {
      std::vector<std::string> known;
      for (const auto& f : ProductFeatures()) known.push_back(f.name);
      for (const auto& [name, x] :
           NumberTable(l, *w, "product score weight", -std::numeric_limits<double>::infinity())) {
        if (std::find(known.begin(), known.end(), name) == known.end()) {
          std::string hint = DidYouMean(name, known);
          l.diag().Error(w->get(name)->source(),
                         "[retail.product_score] weights: unknown feature '" + name + "'" +
                             (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                             " Features: " + Join(known));
          continue;
        }
        r.product_score.weights[name] = x;
      }
    }
    if (auto v = l.Uint(*p, "products_per_key", 1, kMax32)) {
      rules.products_per_key = static_cast<uint32_t>(*v);
    }
  }
  FeedRules& f = r.feeds;
  if (const toml::table* ft = t.get_as<toml::table>("feeds")) {
    l.CheckKeys(*ft, "retail.feeds", "", "");
    if (auto v = l.Uint(*ft, "max_products", 1, kMax32)) {
      rules.max_products = static_cast<uint32_t>(*v);
    }
    if (auto v = l.Uint(*ft, "ranked_keys", 1, kMax32)) f.ranked_keys = static_cast<uint32_t>(*v);
    if (auto v = Loader::String(*ft, "brand_level")) f.brand_level = *v;
    if (auto v = Loader::String(*ft, "category_level")) f.category_level = *v;
    if (auto v = l.Uint(*ft, "collection_max_products", 1, kMax32)) {
      f.collection_max_products = static_cast<uint32_t>(*v);
    }
    if (auto v = l.Uint(*ft, "min_collection_products", 0, kMax32)) {
      f.min_collection_products = static_cast<uint32_t>(*v);
    }
    if (auto v = l.Uint(*ft, "card_target_count", 1, kMax32)) {
      f.card_target_count = static_cast<uint32_t>(*v);
    }
    if (auto v = l.Uint(*ft, "card_style_listing_maximum", 1, kMax32)) {
      f.card_style_listing_maximum = static_cast<uint32_t>(*v);
    }
    CheckLevel(l, *ft, "brand_level", f.brand_level, cat, "retail.feeds");
    CheckLevel(l, *ft, "category_level", f.category_level, cat, "retail.feeds");
  } else {
    CheckLevel(l, t, "feeds", f.brand_level, cat, "retail.feeds");
    CheckLevel(l, t, "feeds", f.category_level, cat, "retail.feeds");
  }
  if (const toml::table* st = t.get_as<toml::table>("segments"))
    r.segments = ReadSegments(l, *st, r);
  return r;
}

// A stream name, group or consumer: 1..256 bytes, no control characters or spaces.
void CheckStreamName(Loader& l, const toml::table& t, const char* key, std::string* out) {
  auto v = Loader::String(t, key);
  if (!v) return;
  std::string problem;
  if (v->empty()) {
    problem = "is empty";
  } else if (v->size() > 256) {
    problem = "is " + std::to_string(v->size()) + " bytes, at most 256";
  } else {
    for (unsigned char ch : *v) {
      if (ch < 0x20 || ch == 0x7f || ch == ' ') {
        problem = "holds a space or control character";
        break;
      }
    }
  }
  if (!problem.empty()) {
    l.diag().Error(t.get(key)->source(), "[stream] " + std::string(key) + " " + problem +
                                             "; write a name such as \"events\"");
    return;
  }
  *out = *v;
}

StreamConfig ReadStream(Loader& l, const toml::table& t) {
  StreamConfig s;
  s.where = l.Where(t);
  l.CheckKeys(t, "stream", "", "");
  ConsumerOptions& c = s.job.consumer;
  c.stream_key = "events";
  if (auto v = Loader::String(t, "store")) {
    if (v->empty()) {
      l.diag().Error(t.get("store")->source(),
                     "[stream] store is empty; write a directory or redis://HOST:PORT/DB");
    }
    s.job.store = *v;
  }
  if (auto v = Loader::String(t, "redis")) {
    if (!v->starts_with("redis://")) {
      l.diag().Error(t.get("redis")->source(),
                     "[stream] redis '" + *v + "' is not a Redis URI; write redis://HOST:PORT/DB");
    }
    c.redis_uri = *v;
  }
  CheckStreamName(l, t, "stream", &c.stream_key);
  CheckStreamName(l, t, "group", &c.group);
  CheckStreamName(l, t, "consumer", &c.consumer);
  if (auto v = l.Uint(t, "batch", 1, 100000)) c.batch = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "window_ms", 0, 60000)) c.window_ms = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "refresh_ms", 1, 3600000)) c.refresh_ms = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "n", 0, 100000)) s.job.speed.n = static_cast<uint32_t>(*v);
  if (auto v = l.Uint(t, "seen_exact_max", 0, 100000000)) {
    s.job.speed.seen_exact_max = static_cast<uint32_t>(*v);
  }
  if (auto v = Loader::Number(t, "seen_fpr")) {
    if (!(*v > 0 && *v <= 0.5)) {
      l.diag().Error(t.get("seen_fpr")->source(),
                     "[stream] seen_fpr must be in (0, 0.5], e.g. 0.001");
    } else {
      s.job.speed.seen_fpr = *v;
    }
  }
  if (auto v = Loader::String(t, "dead_letter")) {
    if (v->empty()) {
      l.diag().Error(t.get("dead_letter")->source(),
                     "[stream] dead_letter is empty; give a stream key, or \"none\"");
    }
    s.job.dead_letter = *v;
  }
  if (auto v = Loader::String(t, "dedup_retention")) {
    auto seconds = ParseRetention(*v);
    l.Check(t, "dedup_retention", seconds.status());
    if (seconds.ok()) s.job.speed.dedup_retention_seconds = *seconds;
  }
  if (auto v = Loader::String(t, "sync")) {
    if (*v == "disk" || *v == "process") {
      s.sync = *v;
    } else {
      l.diag().Error(t.get("sync")->source(),
                     "[stream] sync '" + *v + "' is unknown; use disk or process");
    }
  }
  if (auto v = Loader::String(t, "history")) {
    if (*v == "snapshot+live" || *v == "live") {
      s.history = *v;
    } else {
      l.diag().Error(t.get("history")->source(),
                     "[stream] history '" + *v + "' is unknown; use snapshot+live or live");
    }
  }
  s.job.speed.sync = s.sync == "disk";
  s.job.speed.include_snapshot_row = s.history != "live";
  return s;
}

// Iterates the named tables of `key` ([models.NAME] ...), reporting non-tables.
template <typename F>
void ForEachNamed(Loader& l, const toml::table& root, const char* key, F&& f) {
  const toml::table* t = root.get_as<toml::table>(key);
  if (t == nullptr) return;
  // toml++ orders keys by name; stages keep the order of the file.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [k, v] : *t) entries.emplace_back(&k, &v);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  for (const auto& [kp, vp] : entries) {
    const toml::key& k = *kp;
    const toml::node& v = *vp;
    if (const toml::table* named = v.as_table()) {
      f(std::string(k.str()), *named);
    } else {
      l.diag().Error(v.source(), "'" + std::string(key) + "." + std::string(k.str()) +
                                     "' must be a table: write [" + key + "." +
                                     std::string(k.str()) + "] and its keys below it");
    }
  }
}

Result<toml::table> ParseToml(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("cannot open pipeline file '" + path + "'");
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read pipeline file '" + path + "'");
  try {
    return toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    return Status::ParseError(path + ":" + std::to_string(e.source().begin.line) + ":" +
                              std::to_string(e.source().begin.column) + ": " +
                              std::string(e.description()) + " (TOML syntax: https://toml.io)");
  }
}

std::string AbsoluteDir(const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  return abs.lexically_normal().parent_path().string();
}

}  // namespace

Result<PipelineConfig> LoadPipelineConfig(const std::string& path, const std::string& workdir) {
  ENCORE_ASSIGN_OR_RETURN(toml::table root, ParseToml(path));
  PipelineConfig c;
  c.file = path;
  c.dir = AbsoluteDir(path);
  Loader l(path, c.dir);
  l.CheckKeys(root, "", "", "");
  c.name = Loader::String(root, "name").value_or("");
  // A relative workdir is relative to where encore runs (like --workdir), so
  // `encore run examples/x.toml` writes ./runs/..., never into the folder of
  // the pipeline file (a source tree); without the key, the file's directory.
  if (!workdir.empty()) {
    c.workdir = ResolvePath(fs::current_path().string(), workdir);
  } else if (auto w = Loader::String(root, "workdir")) {
    c.workdir = ResolvePath(fs::current_path().string(), *w);
  } else {
    c.workdir = c.dir;
  }
  if (auto keep = l.Uint(root, "keep", 0, 1000000)) c.keep = static_cast<uint32_t>(*keep);

  ForEachNamed(l, root, "sources", [&](const std::string& name, const toml::table& t) {
    c.sources.push_back(ReadSource(l, name, t));
  });
  if (const toml::table* s = root.get_as<toml::table>("sources"); s != nullptr && s->empty()) {
    l.diag().Error(s->source(), "no sources: add a [sources.NAME] table with a path");
  }
  ReadPrepare(l, root.get_as<toml::table>("prepare"), &c);
  // Weights name the accepted event types unless a source lists them.
  for (auto& s : c.sources) {
    s.read.known_events = AcceptedEvents(s.input.events, c.prepare.input.weights);
  }
  ForEachNamed(l, root, "models", [&](const std::string& name, const toml::table& t) {
    c.models.push_back(ReadModel(l, name, t, c.prepare.dataset.feedback));
  });
  ForEachNamed(l, root, "recommend", [&](const std::string& name, const toml::table& t) {
    c.recommends.push_back(ReadRecommend(l, name, t, c));
  });
  if (const toml::node* r = root.get("retail")) {
    if (const toml::table* t = r->as_table()) c.retail = ReadRetail(l, *t, c);
  }
  ForEachNamed(l, root, "outputs", [&](const std::string& name, const toml::table& t) {
    c.outputs.push_back(ReadOutput(l, name, t, c));
  });
  if (const toml::node* st = root.get("stream")) {
    if (const toml::table* t = st->as_table()) {
      c.stream = ReadStream(l, *t);
      // The sources' obfuscation must map onto the live events' fields.
      if (Result<StreamJob> job = StreamJobFor(c); !job.ok()) {
        l.diag().Error(t->source(), "[stream]: " + job.status().message());
      }
    }
  }
  if (c.retail) {
    bool written = false;
    for (const auto& o : c.outputs) written = written || o.kind == OutputKind::kRetail;
    if (!written) {
      l.diag().Error(root.get("retail")->source(),
                     "[retail] is declared but no output writes it; add [outputs.NAME] with "
                     "kind = \"retail\", path and store");
    }
  }
  if (const toml::table* o = root.get_as<toml::table>("outputs"); o != nullptr && o->empty()) {
    l.diag().Error(o->source(), "no outputs: add an [outputs.NAME] table");
  }

  // One name, one stage: names are unique across sections.
  std::map<std::string, std::string> owner;
  auto claim = [&](const std::string& section, const std::string& name, const char* key) {
    const toml::table* t = root.get_as<toml::table>(key)->get_as<toml::table>(name);
    auto [it, fresh] = owner.emplace(name, section + "." + name);
    if (!fresh) {
      l.diag().Error(t->source(), "name '" + name + "' is used twice: [" + it->second + "] and [" +
                                      section + "." + name +
                                      "]; give every source, model, list and output its own "
                                      "name");
    }
  };
  for (const auto& s : c.sources) claim("sources", s.name, "sources");
  for (const auto& m : c.models) claim("models", m.name, "models");
  for (const auto& r : c.recommends) claim("recommend", r.name, "recommend");
  for (const auto& o : c.outputs) claim("outputs", o.name, "outputs");
  for (std::string& line : DestinationConflicts(c)) l.diag().ErrorLine(std::move(line));

  if (!l.diag().empty()) return l.diag().ToStatus();

  auto masked = std::make_shared<toml::table>(std::move(root));
  if (toml::table* catalog = (*masked)["retail"]["catalog"].as_table();
      catalog != nullptr && catalog->contains("conninfo")) {
    catalog->insert_or_assign("conninfo", "(hidden)");
  }
  if (toml::table* outputs = (*masked)["outputs"].as_table()) {
    for (auto&& [k, v] : *outputs) {
      if (toml::table* o = v.as_table(); o != nullptr && o->contains("conninfo")) {
        o->insert_or_assign("conninfo", "(hidden)");
      }
    }
  }
  c.write_json = [masked](JsonWriter* w) { WriteJson(*masked, w); };
  return c;
}

Result<std::string> LoadPipelineWorkdir(const std::string& path) {
  ENCORE_ASSIGN_OR_RETURN(toml::table root, ParseToml(path));
  if (const toml::node* w = root.get("workdir")) {
    if (!w->is_string()) {
      return Status::InvalidArgument(path + ":" + std::to_string(w->source().begin.line) + ":" +
                                     std::to_string(w->source().begin.column) +
                                     ": workdir must be a string");
    }
    return ResolvePath(fs::current_path().string(), w->as_string()->get());
  }
  return AbsoluteDir(path);
}

Result<std::string> LoadPipelineName(const std::string& path) {
  ENCORE_ASSIGN_OR_RETURN(toml::table root, ParseToml(path));
  const toml::node* n = root.get("name");
  if (n == nullptr || !n->is_string()) {
    const toml::source_region& r = n != nullptr ? n->source() : root.source();
    return Status::InvalidArgument(path + ":" + std::to_string(r.begin.line) + ":" +
                                   std::to_string(r.begin.column) +
                                   ": the pipeline needs a name (a string), e.g. name = \"shop\"");
  }
  return std::string(n->as_string()->get());
}

}  // namespace encore::pipeline
