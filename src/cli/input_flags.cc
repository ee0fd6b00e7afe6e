#include "cli/input_flags.h"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "data/feedback_check.h"

namespace encore::cli {

namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

void InputFlags::Register(CLI::App* app) {
  app->add_option("-i,--input", inputs, "Input file(s); .gz is decompressed (repeatable)")
      ->required();
  app->add_option("--format", format,
                  "csv | tsv | jsonl | movielens | ml-latest | lastfm | baskets")
      ->capture_default_str();
  app->add_option("--sep", sep, "Field separator, one byte (or tab); default from --format");
  app->add_flag("--header", header, "The first line is a header (default for csv, tsv)");
  app->add_flag("--no-header", no_header, "The file has no header line");
  app->add_option("--user-col", user_col, "User id column: header name or 1-based number");
  app->add_option("--item-col", item_col, "Item id column: header name or 1-based number");
  app->add_option("--value-col", value_col,
                  "Rating / count / quantity column (absent: each row counts 1)");
  app->add_option("--event-col", event_col, "Event type column (view, cart, purchase...)");
  app->add_option("--time-col", time_col,
                  "Timestamp column: unix seconds or milliseconds, or ISO-8601");
  app->add_option("--time-unit", time_unit, "Numeric timestamps: auto | s | ms")
      ->capture_default_str();
  app->add_option("--attributes", attributes,
                  "Other columns to keep, comma-separated (default: all named columns; 'none')");
  app->add_option("--weights", weights,
                  "Event weights, e.g. view=3,cart=10,wishlist=30,purchase=40");
  app->add_option("--transform", transform, "Value transform after summing: none | log1p | binary")
      ->capture_default_str();
  app->add_option("--feedback", feedback,
                  "implicit (sum per user and item) | explicit (one rating per user and item); "
                  "default: explicit for movielens and ml-latest, implicit otherwise");
  app->add_option("--duplicates", duplicates,
                  "Explicit feedback, repeated (user, item): latest (by time) | mean")
      ->capture_default_str();
  app->add_option("--obfuscate", obfuscate,
                  "Columns to replace by a keyed hash at import, e.g. email,street");
  app->add_option("--obfuscation-key-file", obfuscation_key_file,
                  "File holding the obfuscation key (else $ENCORE_OBFUSCATION_KEY)");
  app->add_option("--max-bad-rows", max_bad_rows,
                  "Rejected rows tolerated before failing")
      ->capture_default_str();
  app->add_option("--rejects", rejects,
                  "Write each rejected record verbatim to FILE (obfuscated columns masked)");
  app->add_option("--threads", threads, "Threads (0 = all cores)")->capture_default_str();
  app->add_flag("-q,--quiet", quiet, "No progress or summary lines on stderr");
}

Status InputFlags::Resolve(ReadOptions* read, DatasetOptions* dataset,
                           std::unique_ptr<Obfuscator>* obfuscator) const {
  ENCORE_ASSIGN_OR_RETURN(read->format, ParseInputFormat(format));
  if (!sep.empty()) {
    Result<char> c = ParseSeparator(sep);
    if (!c.ok()) return Status::InvalidArgument("--sep: " + c.status().message());
    read->separator = *c;
  }
  if (header && no_header) return Status::InvalidArgument("--header and --no-header conflict");
  if (header) read->header = true;
  if (no_header) read->header = false;
  if (!user_col.empty()) read->user_col = ColumnRef::Parse(user_col);
  if (!item_col.empty()) read->item_col = ColumnRef::Parse(item_col);
  if (!value_col.empty()) read->value_col = ColumnRef::Parse(value_col);
  if (!event_col.empty()) read->event_col = ColumnRef::Parse(event_col);
  if (!time_col.empty()) read->time_col = ColumnRef::Parse(time_col);
  Result<TimeUnit> unit = ParseTimeUnit(time_unit);
  if (!unit.ok()) return Status::InvalidArgument("--time-unit: " + unit.status().message());
  read->time_unit = *unit;
  if (attributes == "none") {
    read->keep_all_attributes = false;
  } else {
    read->attribute_cols = SplitList(attributes);
  }
  if (!weights.empty()) {
    ENCORE_ASSIGN_OR_RETURN(dataset->weights, ParseWeights(weights));
    for (const auto& [name, w] : dataset->weights) read->known_events.push_back(name);
  }
  ENCORE_ASSIGN_OR_RETURN(dataset->transform, ParseValueTransform(transform));
  std::string fb = feedback;
  if (fb.empty()) {
    fb = read->format == InputFormat::kMovieLens || read->format == InputFormat::kMlLatest
             ? "explicit"
             : "implicit";
  }
  Result<Feedback> parsed_feedback = ParseFeedback(fb);
  if (!parsed_feedback.ok()) {
    return Status::InvalidArgument("--feedback: " + parsed_feedback.status().message());
  }
  dataset->feedback = *parsed_feedback;
  if (dataset->feedback == Feedback::kExplicit && !weights.empty()) {
    return Status::InvalidArgument(
        "--weights applies to implicit feedback; drop it or pass "
        "--feedback implicit");
  }
  Result<ExplicitDuplicates> dup = ParseExplicitDuplicates(duplicates);
  if (!dup.ok()) return Status::InvalidArgument("--duplicates: " + dup.status().message());
  dataset->duplicates = *dup;
  dataset->threads = threads;
  read->obfuscate_cols = SplitList(obfuscate);
  if (!read->obfuscate_cols.empty()) {
    ENCORE_ASSIGN_OR_RETURN(Obfuscator o, Obfuscator::FromFileOrEnv(obfuscation_key_file));
    *obfuscator = std::make_unique<Obfuscator>(std::move(o));
    read->obfuscator = obfuscator->get();
  }
  read->rejects_path = rejects;
  read->max_bad_rows = max_bad_rows;
  return Status::OK();
}

Result<Dataset> LoadInput(const InputFlags& flags, ReadReport* report) {
  ReadOptions read;
  DatasetOptions dataset;
  std::unique_ptr<Obfuscator> obfuscator;
  ENCORE_RETURN_IF_ERROR(flags.Resolve(&read, &dataset, &obfuscator));
  Progress progress(flags.progress_mode());
  Result<InteractionLog> log = ReadInteractions(flags.inputs, read, report, &progress);
  if (!log.ok()) return log.status();  // one line, naming the first offending row
  if (!flags.quiet) {
    std::fprintf(stderr, "encore: rows read %llu, accepted %llu, rejected %llu\n",
                 static_cast<unsigned long long>(report->rows_read),
                 static_cast<unsigned long long>(report->rows_accepted),
                 static_cast<unsigned long long>(report->rows_rejected));
    for (const Rejection& r : report->first_rejections) {
      std::fprintf(stderr, "encore: rejected %s:%llu: %s\n", r.file.c_str(),
                   static_cast<unsigned long long>(r.line), r.reason.c_str());
    }
    if (report->rows_rejected > report->first_rejections.size()) {
      std::fprintf(
          stderr, "encore: ... and %llu more rejected rows%s\n",
          static_cast<unsigned long long>(report->rows_rejected - report->first_rejections.size()),
          flags.rejects.empty() ? " (--rejects FILE lists them all)" : "");
    }
  }
  // Implicit by default only: warn when the data looks like ratings.
  const bool check = flags.feedback.empty() && dataset.feedback == Feedback::kImplicit;
  const ValueScale scale = check ? ScanValues(*log) : ValueScale{};
  Result<Dataset> data = BuildDataset(std::move(log).value(), dataset);
  if (check && data.ok()) {
    const std::string reason = ExplicitLookingReason(scale, report->value_column, data->nnz());
    if (!reason.empty()) {
      std::fprintf(stderr,
                   "encore: warning: the input looks like explicit ratings (%s) but is read as "
                   "implicit feedback, which sums repeated (user, item) values; pass "
                   "--feedback explicit (or --feedback implicit if the values are counts)\n",
                   reason.c_str());
    }
  }
  return data;
}

int PrintError(const Status& status) {
  std::fprintf(stderr, "encore: error: %s\n", status.message().c_str());
  return kExitError;
}

}  // namespace encore::cli
