#include "cli/input_flags.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "data/feedback_check.h"

namespace encore::cli {

void InputFlags::Register(CLI::App* app) {
  app->add_option("-i,--input", inputs, "Input file(s); .gz is decompressed (repeatable)")
      ->required();
  for (const InputOptionInfo& info : InputOptionTable()) {
    if (*info.flag == 0) continue;
    if (info.type == InputOptionType::kBool) {
      const std::string no = "--no-" + std::string(info.flag + 2);
      options_[info.name] = app->add_flag(info.flag, header_, info.help);
      options_[std::string("no-") + info.name] =
          app->add_flag(no, no_header_, "The opposite of " + std::string(info.flag));
      continue;
    }
    std::string help = info.help;
    if (*info.values) {
      std::string values = info.values;
      for (size_t at = 0; (at = values.find(',', at)) != std::string::npos; at += 3) {
        values.replace(at, 1, " | ");
      }
      help += ": " + values;
    }
    if (*info.default_value == 0 && *info.default_doc)
      help += " (default: " + std::string(info.default_doc) + ")";
    CLI::Option* option = app->add_option(info.flag, text_[info.name], help);
    if (*info.default_value) option->default_str(info.default_value);
    if (info.type == InputOptionType::kCount) option->type_name("UINT");
    options_[info.name] = option;
  }
  app->add_option("--threads", threads, "Threads (0 = all cores)")->capture_default_str();
  app->add_flag("-q,--quiet", quiet, "No progress or summary lines on stderr");
}

Result<InputOptions> InputFlags::Resolve() const {
  InputOptions o;
  o.files = inputs;
  o.threads = threads;
  if (header_ && no_header_) return Status::InvalidArgument("--header and --no-header conflict");
  for (const InputOptionInfo& info : InputOptionTable()) {
    auto option = options_.find(info.name);
    if (option == options_.end()) continue;
    std::string text;
    if (info.type == InputOptionType::kBool) {
      if (!header_ && !no_header_) continue;
      text = header_ ? "true" : "false";
    } else {
      if (option->second->count() == 0) continue;
      text = text_.at(info.name);
    }
    Status s = info.set(&o, text);
    if (!s.ok()) return Status::InvalidArgument(std::string(info.flag) + ": " + s.message());
  }
  return o;
}

Result<InteractionLog> ReadInputReporting(const InputOptions& options, bool quiet,
                                          ReadReport* report) {
  Progress progress(quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
  Result<InteractionLog> log = ReadInput(options, report, &progress);
  if (!log.ok()) return log.status();  // one line, naming the first offending row
  if (!quiet) {
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
          options.rejects_path.empty() ? " (--rejects FILE lists them all)" : "");
    }
  }
  return log;
}

Result<Dataset> LoadInput(const InputOptions& options, bool quiet, ReadReport* report) {
  ENCORE_ASSIGN_OR_RETURN(ResolvedInput resolved, ResolveInput(options));
  Result<InteractionLog> log = ReadInputReporting(options, quiet, report);
  if (!log.ok()) return log.status();
  // Implicit by default only: warn when the data looks like ratings.
  const bool check =
      !options.feedback.has_value() && resolved.dataset.feedback == Feedback::kImplicit;
  const ValueScale scale = check ? ScanValues(*log) : ValueScale{};
  Result<Dataset> data = BuildDataset(std::move(log).value(), resolved.dataset);
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
