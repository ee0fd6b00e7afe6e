// The pipeline key table: the one place every pipeline file key is
// declared. The loader (config.cc) checks files against it and
// docs/PIPELINES.md is generated from it. The input keys of [sources.NAME]
// and [prepare] are the input option table's (encore/input.h), so they
// cannot differ from the CLI's flags.

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "encore/evaluate.h"
#include "encore/input.h"
#include "pipeline/config.h"

namespace encore::pipeline {

const char* KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kString:
      return "string";
    case KeyType::kInteger:
      return "integer";
    case KeyType::kNumber:
      return "number";
    case KeyType::kBoolean:
      return "boolean";
    case KeyType::kStringList:
      return "array of strings";
    case KeyType::kStringOrList:
      return "string or array of strings";
    case KeyType::kColumn:
      return "string or integer";
    case KeyType::kSize:
      return "size";
    case KeyType::kSection:
      return "table";
    case KeyType::kNamedTables:
      return "tables";
    case KeyType::kNumberTable:
      return "table of numbers";
    case KeyType::kStringTable:
      return "table of strings";
    case KeyType::kParamTable:
      return "table";
    case KeyType::kGridTable:
      return "table of arrays";
  }
  return "?";
}

namespace {

KeyType InputKeyType(InputOptionType type) {
  switch (type) {
    case InputOptionType::kBool:
      return KeyType::kBoolean;
    case InputOptionType::kCount:
      return KeyType::kInteger;
    case InputOptionType::kColumn:
      return KeyType::kColumn;
    case InputOptionType::kList:
      return KeyType::kStringList;
    case InputOptionType::kWeights:
      return KeyType::kNumberTable;
    default:
      return KeyType::kString;
  }
}

// Text the key table points into (it lives as long as the table).
const char* Keep(std::string text) {
  static std::deque<std::string> texts;
  texts.push_back(std::move(text));
  return texts.back().c_str();
}

// "a,b,c" as "`a`, `b`, `c`".
std::string ValueList(const std::string& all) {
  std::string values;
  for (size_t start = 0; start <= all.size();) {
    size_t comma = all.find(',', start);
    if (comma == std::string::npos) comma = all.size();
    values += (values.empty() ? "`" : ", `") + all.substr(start, comma - start) + "`";
    start = comma + 1;
  }
  return values;
}

// The key of input option `option` (encore/input.h): its name, type,
// default and meaning come from the input option table.
ConfigKey Input(const char* section, const char* option) {
  const InputOptionInfo* info = FindInputOption(option);
  std::string help = info->help;
  if (*info->values) help += ": " + ValueList(info->values);
  return {
      section, info->pipeline_key, InputKeyType(info->type), false, Keep(InputOptionDefault(*info)),
      "",      Keep(help)};
}

KeyType EvalKeyType(EvalOptionType type) {
  switch (type) {
    case EvalOptionType::kNumber:
      return KeyType::kNumber;
    case EvalOptionType::kCount:
      return KeyType::kInteger;
    case EvalOptionType::kMetrics:
      return KeyType::kStringList;
    case EvalOptionType::kGrid:
      return KeyType::kGridTable;
    case EvalOptionType::kBool:
      return KeyType::kBoolean;
    default:
      return KeyType::kString;
  }
}

// The key of evaluation option `option` (encore/evaluate.h), from its table row.
ConfigKey Eval(const char* option) {
  const EvalOptionInfo* info = FindEvaluationOption(option);
  std::string help = info->help;
  if (info->type == EvalOptionType::kGrid) {
    help += ", e.g. `{ factors = [5, 10], reg = [0.01, 0.1] }`";
  }
  if (*info->values) help += ": " + ValueList(info->values);
  return {"models.*.evaluate",
          info->pipeline_key,
          EvalKeyType(info->type),
          false,
          Keep(EvaluationOptionDefault(*info)),
          "",
          Keep(help)};
}

}  // namespace

const std::vector<ConfigKey>& PipelineKeys() {
  using T = KeyType;
  static const std::vector<ConfigKey> keys = {
      // ------------------------------------------------------------ top level
      {"", "name", T::kString, true, "", "", "Pipeline name, shown in plans, manifests and runs"},
      {"", "workdir", T::kString, false, "the pipeline file's directory", "",
       "Working directory: run history in `WORKDIR/runs/`, relative output paths and stores; "
       "a relative one is relative to the current directory (where encore runs, as "
       "`--workdir`), not to the pipeline file; `--workdir` overrides"},
      {"", "keep", T::kInteger, false, "5", "",
       "Run directories kept after a successful run (0 keeps all); `--keep` overrides"},
      {"", "sources", T::kNamedTables, true, "", "", "Named inputs: `[sources.NAME]`"},
      {"", "prepare", T::kSection, false, "", "",
       "How the sources become one interaction matrix: `[prepare]`"},
      {"", "models", T::kNamedTables, false, "", "", "Named models: `[models.NAME]`"},
      {"", "recommend", T::kNamedTables, false, "", "",
       "Named recommendation lists: `[recommend.NAME]`"},
      {"", "outputs", T::kNamedTables, true, "", "", "Named outputs: `[outputs.NAME]`"},
      {"", "retail", T::kSection, false, "", "",
       "Retail personalisation: catalog, roll-up, rules and feeds ([PERSONALIZATION.md]"
       "(PERSONALIZATION.md)); written by a `retail` output"},
      {"", "stream", T::kSection, false, "", "",
       "Live events: what `encore stream --pipeline FILE` consumes and where it writes "
       "(`[stream]`, [STREAMING.md](STREAMING.md)); not run by `encore run`"},
      // ---------------------------------------------------------------- sources
      {"sources.*", "path", T::kStringOrList, false, "", "",
       "A file, a glob (`*`, `?`, `[...]`) or a directory, or a list of them; relative to the "
       "pipeline file's directory. Globs and directories skip dot-files, `*.tmp` and `*.part`. "
       "Give `path` or `generate`"},
      {"sources.*", "generate", T::kSection, false, "", "",
       "Synthetic data instead of files (`encore generate`), written into the run directory"},
      Input("sources.*", "format"),
      Input("sources.*", "separator"),
      Input("sources.*", "header"),
      Input("sources.*", "user_col"),
      Input("sources.*", "item_col"),
      Input("sources.*", "value_col"),
      Input("sources.*", "event_col"),
      Input("sources.*", "time_col"),
      Input("sources.*", "time_unit"),
      Input("sources.*", "events"),
      Input("sources.*", "max_bad_rows"),
      Input("sources.*", "obfuscate"),
      Input("sources.*", "obfuscation_key_file"),
      Input("sources.*", "obfuscation_key_env"),
      {"sources.*.generate", "profile", T::kString, true, "", "",
       "`ratings`, `plays`, `retail`, `baskets` or `fashion` ([GENERATE.md](GENERATE.md), "
       "[PERSONALIZATION.md](PERSONALIZATION.md))"},
      {"sources.*.generate", "users", T::kInteger, false, "10000", "", "Users"},
      {"sources.*.generate", "items", T::kInteger, false, "2000", "", "Items"},
      {"sources.*.generate", "rows", T::kInteger, false, "200000", "",
       "Data rows (baskets: baskets)"},
      {"sources.*.generate", "seed", T::kInteger, false, "42", "", "Random seed"},
      {"sources.*.generate", "clusters", T::kInteger, false, "20", "", "Latent taste clusters"},
      // ---------------------------------------------------------------- prepare
      {"prepare", "source", T::kStringOrList, false, "every source", "",
       "The source(s) read into the matrix; several are combined row by row"},
      Input("prepare", "feedback"),
      Input("prepare", "duplicates"),
      Input("prepare", "weights"),
      Input("prepare", "transform"),
      {"prepare", "window", T::kString, false, "", "",
       "Keep only events within `N days`, `N weeks` or `N months` of the newest event"},
      {"prepare", "sample", T::kSection, false, "", "", "Keep a random sample of the users"},
      {"prepare", "min_user_interactions", T::kInteger, false, "0", "",
       "Drop users with fewer items (after window and sample)"},
      {"prepare", "min_item_interactions", T::kInteger, false, "0", "",
       "Then drop items with fewer users"},
      {"prepare.sample", "fraction", T::kNumber, true, "", "",
       "Fraction of the users kept, in (0, 1]; each user is kept or not by a hash of its id"},
      {"prepare.sample", "seed", T::kInteger, false, "42", "", "Seed of the hash"},
      // ----------------------------------------------------------------- models
      {"models.*", "kind", T::kString, true, "", "",
       "`als`, `ials`, `cooccurrence` or `popularity` ([MODELS.md](MODELS.md))"},
      {"models.*", "defaults", T::kString, false, "encore", "",
       "Where unset parameters start: `encore` (the model's measured defaults) or `spark` "
       "(Spark's values) ([PARAMETERS.md](PARAMETERS.md))"},
      {"models.*", "params", T::kParamTable, false, "", "",
       "Model parameters by their `encore params` names, e.g. `{ factors = 10, reg = 0.1 }` "
       "([PARAMETERS.md](PARAMETERS.md))"},
      {"models.*", "evaluate", T::kSection, false, "", "",
       "Evaluate before training on everything ([METRICS.md](METRICS.md))"},
      Eval("split"),
      Eval("test_fraction"),
      Eval("leave_k"),
      Eval("cutoff"),
      Eval("min_train"),
      Eval("folds"),
      Eval("seed"),
      Eval("k"),
      Eval("metrics"),
      Eval("select_by"),
      Eval("relevance_threshold"),
      Eval("grid"),
      Eval("baseline"),
      {"models.*.evaluate", "refit", T::kBoolean, false, "true", "",
       "Fit the chosen parameters on all the data for recommending (false: keep the model "
       "fitted on the training part)"},
      // -------------------------------------------------------------- recommend
      {"recommend.*", "model", T::kString, true, "", "", "The model (a `[models.NAME]`)"},
      {"recommend.*", "kind", T::kString, false, "users", "",
       "`users` (top-N per user: user,item,score,rank) or `similar` (per item: "
       "item,similar_item,score,rank)"},
      {"recommend.*", "n", T::kInteger, false, "the model's `n`, else 20 for cooccurrence and 10",
       "", "Items per list"},
      {"recommend.*", "exclude_seen", T::kBoolean, false, "true", "",
       "`users`: drop items the user already has"},
      {"recommend.*", "users", T::kString, false, "every user (item)", "",
       "File with one id per line: only these users (`similar`: items)"},
      // ----------------------------------------------------------------- retail
      {"retail", "source", T::kString, true, "", "",
       "The events (a `[sources.NAME]` with `event` and `time`; items are product ids)"},
      {"retail", "model", T::kString, true, "", "",
       "The model (a `[models.NAME]`, kind and params) trained on the rolled-up keys; it is "
       "trained by the retail stage, not on `[prepare]`"},
      {"retail", "as_of", T::kString, true, "", "",
       "The \"as of\" time of boost, availability and product scores: ISO-8601 "
       "(`2026-06-01T00:00:00Z`) or unix seconds as text"},
      {"retail", "key", T::kString, false, "subclass_brand", "",
       "Roll-up key: catalog levels joined by `_`; `product` trains on products"},
      {"retail", "weights", T::kNumberTable, false,
       "view 3, cart 10, still_want_it 30, purchase 40", "",
       "Weight per event type, summed per (member, key); other types are counted, not used"},
      {"retail", "catalog", T::kSection, false, "", "", "The products: `[retail.catalog]`"},
      {"retail", "boost", T::kSection, false, "", "", "Recent-intent boost: `[retail.boost]`"},
      {"retail", "diversity", T::kSection, false, "", "",
       "At most N keys per node: `[retail.diversity]`"},
      {"retail", "availability", T::kSection, false, "", "",
       "What is for sale: `[retail.availability]`"},
      {"retail", "product_score", T::kSection, false, "", "",
       "Product scores inside a key: `[retail.product_score]`"},
      {"retail", "feeds", T::kSection, false, "", "",
       "Product lists, collections and cards: `[retail.feeds]`"},
      {"retail", "segments", T::kSection, false, "", "",
       "One model per member segment: `[retail.segments]` (none: one model for everyone)"},
      {"retail.catalog", "path", T::kString, false, "the retail source's generated `catalog.csv`",
       "",
       "Catalog file (CSV/TSV with a header, or JSON Lines); relative to the pipeline file's "
       "directory"},
      {"retail.catalog", "table", T::kString, false, "", "",
       "PostgreSQL catalog: `[schema.]table`, read with COPY (instead of `path`); needs "
       "`conninfo` or `conninfo_env`"},
      {"retail.catalog", "query", T::kString, false, "", "",
       "PostgreSQL catalog: a query whose rows are the catalog, read with COPY in a READ ONLY "
       "transaction (instead of `path` or `table`)"},
      {"retail.catalog", "conninfo", T::kString, false, "", "",
       "libpq connection string for `table`/`query` (kept out of manifests); or `conninfo_env`"},
      {"retail.catalog", "conninfo_env", T::kString, false, "", "",
       "Environment variable holding the connection string"},
      {"retail.catalog", "format", T::kString, false, "from the file name", "",
       "`csv`, `tsv` or `jsonl`"},
      {"retail.catalog", "levels", T::kStringList, false,
       "[\"division\", \"department\", \"class\", \"subclass\", \"brand\"]", "",
       "Hierarchy columns, top level first (any number)"},
      {"retail.catalog", "id_col", T::kString, false, "product", "", "Product id column"},
      {"retail.catalog", "price_col", T::kString, false, "price", "", "Price column"},
      {"retail.catalog", "launch_col", T::kString, false, "launch_time", "",
       "First launch time column"},
      {"retail.catalog", "from_col", T::kString, false, "available_from", "",
       "Sale window start column"},
      {"retail.catalog", "until_col", T::kString, false, "available_until", "",
       "Sale window end column (exclusive)"},
      {"retail.catalog", "quantity_col", T::kString, false, "quantity", "",
       "Quantity on hand column"},
      {"retail.catalog", "counters", T::kStringList, false,
       "[\"times_sold\", \"returns\", \"cancellations\"]", "",
       "Optional numeric columns (absent ones read as 0)"},
      {"retail.catalog", "max_bad_rows", T::kInteger, false, "0", "",
       "Bad catalog rows skipped (each reported `FILE:LINE`, or `SOURCE row N` for PostgreSQL) "
       "before the read fails"},
      {"retail.boost", "level", T::kString, false, "subclass", "", "Level of the boosted nodes"},
      {"retail.boost", "top", T::kInteger, false, "3", "", "Nodes boosted per member"},
      {"retail.boost", "days", T::kInteger, false, "10", "", "Window before `as_of`, in days"},
      {"retail.boost", "events", T::kStringList, false, "[\"view\", \"cart\"]", "",
       "Event types counted as intent"},
      {"retail.boost", "purchase_events", T::kStringList, false, "[\"purchase\"]", "",
       "Event types that remove a node from the boost"},
      {"retail.boost", "rule", T::kString, false, "multiply", "",
       "`multiply` (score * value) or `add` (score + value)"},
      {"retail.boost", "value", T::kNumber, false, "1.5", "", "The boost's factor or addend"},
      {"retail.diversity", "level", T::kString, false, "class", "", "Level of the cap"},
      {"retail.diversity", "max_per_node", T::kInteger, false, "4", "",
       "Keys kept per node (0: no cap); ties never let more through"},
      {"retail.availability", "window_hours", T::kInteger, false, "24", "",
       "A product is saleable when its sale overlaps `[as_of, as_of + window)`"},
      {"retail.availability", "min_quantity", T::kInteger, false, "3", "",
       "Quantity on hand a saleable product needs"},
      {"retail.availability", "min_saleable", T::kInteger, false, "1", "",
       "Saleable products a key needs to be recommended"},
      {"retail.product_score", "interaction_days", T::kInteger, false, "90", "",
       "Clicks and purchases counted over this many days before `as_of`"},
      {"retail.product_score", "click_events", T::kStringList, false, "[\"view\"]", "",
       "Event types counted as clicks"},
      {"retail.product_score", "purchase_events", T::kStringList, false, "[\"purchase\"]", "",
       "Event types counted as purchases"},
      {"retail.product_score", "weights", T::kNumberTable, false, "the documented defaults", "",
       "Coefficient per feature (`times_sold`, `days_on_site`, ... [PERSONALIZATION.md]"
       "(PERSONALIZATION.md)); features not named keep their default"},
      {"retail.product_score", "products_per_key", T::kInteger, false, "15", "",
       "Best products kept per key"},
      {"retail.feeds", "max_products", T::kInteger, false, "300", "",
       "Products in a member's product list"},
      {"retail.feeds", "ranked_keys", T::kInteger, false, "200", "",
       "Keys ranked per member (after availability, boost and diversity)"},
      {"retail.feeds", "brand_level", T::kString, false, "brand", "",
       "Level grouping brand collections"},
      {"retail.feeds", "category_level", T::kString, false, "class", "",
       "Level grouping category collections"},
      {"retail.feeds", "collection_max_products", T::kInteger, false, "60", "",
       "Products per collection (full variant)"},
      {"retail.feeds", "min_collection_products", T::kInteger, false, "4", "",
       "Collections with fewer saleable products are dropped"},
      {"retail.feeds", "card_target_count", T::kInteger, false, "10", "",
       "Collections kept per member (the best by affinity)"},
      {"retail.feeds", "card_style_listing_maximum", T::kInteger, false, "4", "",
       "Products per card (card variants of every feed)"},
      {"retail.segments", "by", T::kStringList, false, "[\"division\", \"price_percentile\"]", "",
       "Segment parts: a catalog level (the member's primary node of it) or a numeric member "
       "feature (`recency`, `frequency`, `monetary`, `price_percentile`, a members-file column) "
       "cut into equal-count buckets"},
      {"retail.segments", "buckets", T::kInteger, false, "5", "",
       "Equal-count buckets of each numeric part (ties share a bucket)"},
      {"retail.segments", "price_percentile", T::kNumber, false, "90", "",
       "Percentile of the member's purchase prices (`price_percentile` feature)"},
      {"retail.segments", "purchase_events", T::kStringList, false, "[\"purchase\"]", "",
       "Event types counted as purchases (frequency, monetary, prices)"},
      {"retail.segments", "default_segment", T::kString, false, "0", "",
       "Segment of members with no purchase or an undefined part"},
      {"retail.segments", "members", T::kString, false, "", "",
       "Optional members file (CSV with a header): its numeric columns become member features"},
      {"retail.segments", "member_col", T::kString, false, "member", "",
       "Member id column of the members file"},
      {"retail.segments", "min_members", T::kInteger, false, "200", "",
       "Segments with fewer members (or no training pairs) are served by the global model"},
      {"retail.segments", "parallel", T::kInteger, false, "0", "",
       "Segment models trained at once, the model's threads split between them (0: as many as "
       "the model has threads; 1: one after another)"},
      {"retail.segments", "memory_mb", T::kInteger, false, "0", "",
       "Memory (MiB) the segments training at once may take together, by the memory model of "
       "docs/SCALING.md (0: half of the memory available when the stage starts)"},
      {"retail.segments", "size_threshold", T::kInteger, false, "0", "",
       "Members at which `params_above` replaces `params_below` (0: neither applies)"},
      {"retail.segments", "params_above", T::kParamTable, false, "", "",
       "Model parameters for segments with at least `size_threshold` members"},
      {"retail.segments", "params_below", T::kParamTable, false, "", "",
       "Model parameters for smaller segments"},
      {"retail.segments", "overrides", T::kNamedTables, false, "", "",
       "Per segment name, model parameters applied last (`overrides.13 = { factors = 16 }`)"},
      {"retail.segments", "evaluate", T::kBoolean, false, "true", "",
       "Measure every segment's model against the global model on one holdout (in the "
       "manifest)"},
      {"retail.segments", "holdout", T::kNumber, false, "0.2", "",
       "Share of each member's (member, key) pairs held out for that evaluation"},
      // ----------------------------------------------------------------- stream
      {"stream", "store", T::kString, true, "", "",
       "Serving store the live lists are written to: a directory (LMDB; relative to the "
       "workdir) or `redis://HOST:PORT/DB`, holding a snapshot published with its model "
       "(usually a `publish` output's store); `--store` overrides"},
      {"stream", "redis", T::kString, true, "", "",
       "Redis holding the event stream: `redis://HOST:PORT/DB`; `--redis` overrides "
       "(`--events FILE` replaces it)"},
      {"stream", "stream", T::kString, false, "events", "",
       "Key of the Redis stream of events; `--stream` overrides"},
      {"stream", "group", T::kString, false, "encore", "",
       "Consumer group (created at the start of the stream when absent); `--group` overrides"},
      {"stream", "consumer", T::kString, false, "encore-stream", "",
       "Consumer name in the group (a restarted consumer with the same name first re-reads its "
       "unacknowledged entries); `--consumer` overrides"},
      {"stream", "batch", T::kInteger, false, "512", "",
       "Most events applied in one batch, 1..100000; `--batch` overrides"},
      {"stream", "window_ms", T::kInteger, false, "20", "",
       "How long to wait for a batch to fill, 0..60000 (a burst of one user's events costs one "
       "rebuild); `--window-ms` overrides"},
      {"stream", "refresh_ms", T::kInteger, false, "1000", "",
       "How often to check the store for a new snapshot, 1..3600000; `--refresh-ms` overrides"},
      {"stream", "sync", T::kString, false, "disk", "",
       "`disk` (fsync at every batch: survives a machine crash) or `process` (survives a crash "
       "of the consumer, not of the machine; LMDB stores only); `--sync` overrides"},
      {"stream", "history", T::kString, false, "snapshot+live", "",
       "`snapshot+live` (Lambda) or `live` (Kappa): what a user's list is folded in from; "
       "`--history` overrides"},
      {"stream", "n", T::kInteger, false, "0 (the snapshot's published n)", "",
       "List length; `--n` overrides"},
      {"stream", "seen_exact_max", T::kInteger, false, "10000", "",
       "Seen-item exclusion is exact for users with up to this many items and a Bloom filter "
       "(false-positive rate `seen_fpr`) beyond, 0..100000000; `--seen-exact-max` overrides"},
      {"stream", "dead_letter", T::kString, false, "`STREAM:dead`", "",
       "Redis stream that rejected entries are appended to (fields, `reason`, `field`, "
       "`detail`, `source_stream`, `source_id`) before their XACK; `none`: not kept; "
       "`--dead-letter` overrides"},
      {"stream", "dedup_retention", T::kString, false, "`7d`", "",
       "How long applied event ids are kept (idempotence) past their event's time: an integer "
       "and s, m, h, d or w, or `none` (kept for good). Events older than it are rejected "
       "(`too_old`); `--dedup-retention` overrides"},
      {"stream", "seen_fpr", T::kNumber, false, "0.001", "",
       "The Bloom filter's target false-positive rate, in (0, 0.5]: the share of unseen "
       "items wrongly left out of a large-history user's list; `--seen-fpr` overrides"},
      // ---------------------------------------------------------------- outputs
      {"outputs.*", "kind", T::kString, true, "", "",
       "`csv`, `jsonl`, `postgres`, `publish` or `retail` (the six feeds of `[retail]`)"},
      {"outputs.*", "from", T::kString, true, "", "csv,jsonl,postgres",
       "The rows: a `[recommend.NAME]`"},
      {"outputs.*", "model", T::kString, true, "", "publish", "The model to publish"},
      {"outputs.*", "path", T::kString, true, "", "csv,jsonl,retail",
       "Destination directory, replaced as a whole; relative to the workdir"},
      {"outputs.*", "prefix", T::kString, false, "the output's name", "csv,jsonl",
       "File name prefix: `PREFIX-RUNID-00001.csv`, `PREFIX-RUNID.jsonl`"},
      {"outputs.*", "chunk_size", T::kSize, false, "0 (one file)", "csv",
       "At most this many bytes per file: bytes, or with `KB`, `MB`, `GB` (1 KB = 1024)"},
      {"outputs.*", "delimiter", T::kString, false, ",", "csv",
       "Field separator, one byte or `tab`"},
      {"outputs.*", "header", T::kBoolean, false, "true", "csv", "Header line in every file"},
      {"outputs.*", "derived", T::kStringTable, false, "", "csv,jsonl,postgres",
       "Extra columns from templates: `{ key = \"{user}-{row}\" }` ({row}: 1-based row number)"},
      {"outputs.*", "columns", T::kStringList, false, "the rows' columns, then derived ones",
       "csv,jsonl,postgres", "Columns written, in order"},
      {"outputs.*", "table", T::kString, true, "", "postgres", "Destination `[schema.]table`"},
      {"outputs.*", "conninfo", T::kString, false, "", "postgres",
       "libpq connection string (kept out of manifests); or `conninfo_env`"},
      {"outputs.*", "conninfo_env", T::kString, false, "", "postgres",
       "Environment variable holding the connection string"},
      {"outputs.*", "types", T::kStringTable, false, "score double precision, rank integer",
       "postgres", "SQL type per column (others: text)"},
      {"outputs.*", "store", T::kString, true, "", "publish,retail",
       "A directory (LMDB; relative to the workdir) or `redis://HOST:PORT/DB`"},
      {"outputs.*", "n", T::kInteger, false, "the model's `n`, else 20", "publish",
       "Recommendations per user payload"},
      {"outputs.*", "similar_n", T::kInteger, false, "20", "publish",
       "Similar items per item payload (0: none)"},
      {"outputs.*", "popular_n", T::kInteger, false, "100", "publish",
       "Items in the popular fallback"},
      {"outputs.*", "include_model", T::kBoolean, false, "true", "publish",
       "Store the model for fold-in requests"},
      {"outputs.*", "exclude_seen", T::kBoolean, false, "true", "publish",
       "User payloads omit the user's training items"},
      {"outputs.*", "keep", T::kInteger, false, "5", "publish,retail",
       "Snapshots kept in the store"},
      {"outputs.*", "high_water_mark", T::kString, false, "`auto`", "publish",
       "Lambda: the position up to which the batch data holds every event, written into the "
       "snapshot and the manifest so `encore stream --history snapshot+live` replays only the "
       "events after it. `auto`: the max event time of the prepared data (`time:SECONDS`; none "
       "without a time column, with `sample`, or for a model trained on a training part); "
       "`none`; or `time:SECONDS` / `id:MS-SEQ` (docs/STREAMING.md)"},
  };
  return keys;
}

namespace {

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\";
    out += c;
  }
  return out;
}

std::string SectionTitle(const std::string& section) {
  if (section.empty()) return "Top level";
  std::string s = section;
  for (size_t at; (at = s.find('*')) != std::string::npos;) s.replace(at, 1, "NAME");
  return "`[" + s + "]`";
}

}  // namespace

std::string PipelineKeysMarkdown() {
  std::string out;
  std::string section = "\x01";
  bool with_kinds = false;
  for (const ConfigKey& k : PipelineKeys()) {
    if (k.section != section) {
      section = k.section;
      with_kinds = section == "outputs.*";
      out += "\n### " + SectionTitle(section) + "\n\n";
      out += with_kinds ? "| key | type | required | default | kinds | meaning |\n"
                          "| --- | --- | --- | --- | --- | --- |\n"
                        : "| key | type | required | default | meaning |\n"
                          "| --- | --- | --- | --- | --- |\n";
    }
    std::string def = k.fallback;
    if (!def.empty() && def.find('`') == std::string::npos && def.find(' ') == std::string::npos) {
      def = "`" + def + "`";
    }
    out += "| `" + std::string(k.name) + "` | " + KeyTypeName(k.type) + " | " +
           (k.required ? "yes" : "") + " | " + Escape(def) + " | ";
    if (with_kinds) out += std::string(*k.kinds ? k.kinds : "all") + " | ";
    out += Escape(k.help) + " |\n";
  }
  return out;
}

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions
// and transpositions of neighbours each cost one.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 0;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (best.empty() || d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  const size_t limit = std::max<size_t>(1, std::min<size_t>(3, word.size() / 3));
  return !best.empty() && best_distance <= limit ? best : std::string();
}

}  // namespace encore::pipeline
