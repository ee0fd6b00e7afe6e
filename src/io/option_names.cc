// Names of reading and weighting options, shared by the CLI flags
// (src/cli/input_flags.cc) and pipeline files (src/pipeline/config.cc).

#include "encore/dataset.h"
#include "encore/reader.h"

namespace encore {

Result<char> ParseSeparator(const std::string& s) {
  if (s == "\\t" || s == "tab" || s == "\t") return '\t';
  if (s == "comma") return ',';
  if (s == "space") return ' ';
  if (s == "semicolon") return ';';
  if (s == "pipe") return '|';
  if (s.size() == 1) return s[0];
  return Status::InvalidArgument("separator '" + s +
                                 "' must be one byte (or tab, comma, space, semicolon, pipe)");
}

Result<TimeUnit> ParseTimeUnit(const std::string& text) {
  if (text == "auto") return TimeUnit::kAuto;
  if (text == "s") return TimeUnit::kSeconds;
  if (text == "ms") return TimeUnit::kMilliseconds;
  return Status::InvalidArgument("time unit '" + text + "': use auto, s or ms");
}

Result<Feedback> ParseFeedback(const std::string& name) {
  if (name == "implicit") return Feedback::kImplicit;
  if (name == "explicit") return Feedback::kExplicit;
  return Status::InvalidArgument("feedback '" + name + "': use implicit or explicit");
}

Result<ExplicitDuplicates> ParseExplicitDuplicates(const std::string& name) {
  if (name == "latest") return ExplicitDuplicates::kLatest;
  if (name == "mean") return ExplicitDuplicates::kMean;
  return Status::InvalidArgument("duplicates '" + name + "': use latest or mean");
}

}  // namespace encore
