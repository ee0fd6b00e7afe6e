#include "encore/progress.h"

#include <unistd.h>

#include <cinttypes>

namespace encore {

namespace {
constexpr auto kTerminalInterval = std::chrono::milliseconds(200);
constexpr auto kLogInterval = std::chrono::seconds(5);

std::string HumanCount(uint64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fG", n / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 10000) std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%" PRIu64, n);
  return buf;
}
}  // namespace

Progress::Progress(Mode mode, std::FILE* out) : mode_(mode), out_(out) {
  if (mode_ == Mode::kAuto) mode_ = isatty(fileno(out_)) ? Mode::kTerminal : Mode::kLog;
}

Progress& Progress::Silent() {
  static Progress silent(Mode::kQuiet);
  return silent;
}

void Progress::Start(const std::string& task, uint64_t total_bytes, const char* unit) {
  task_ = task;
  unit_ = unit;
  total_ = total_bytes;
  total_count_ = 0;
  detail_.clear();
  done_ = rows_ = 0;
  start_ = last_print_ = std::chrono::steady_clock::now();
}

void Progress::StartCount(const std::string& task, uint64_t total, const char* unit) {
  Start(task, 0, unit);
  total_count_ = total;
}

void Progress::UpdateNow(uint64_t done_bytes, uint64_t rows) {
  done_ = done_bytes;
  rows_ = rows;
  if (mode_ == Mode::kQuiet) return;
  last_print_ = std::chrono::steady_clock::now();
  Print(false);
}

void Progress::Update(uint64_t done_bytes, uint64_t rows) {
  done_ = done_bytes;
  rows_ = rows;
  if (mode_ == Mode::kQuiet) return;
  auto now = std::chrono::steady_clock::now();
  auto interval = mode_ == Mode::kTerminal ? std::chrono::duration_cast<std::chrono::milliseconds>(kTerminalInterval)
                                           : std::chrono::duration_cast<std::chrono::milliseconds>(kLogInterval);
  if (now - last_print_ < interval) return;
  last_print_ = now;
  Print(false);
}

void Progress::Finish() {
  if (mode_ == Mode::kQuiet) return;
  Print(true);
}

void Progress::Note(const std::string& line) {
  if (mode_ == Mode::kQuiet) return;
  std::fprintf(out_, "%s%s\n", mode_ == Mode::kTerminal ? "\r\033[K" : "", line.c_str());
  std::fflush(out_);
}

void Progress::Print(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char rate[48] = "";
  if (done_ > 0 && secs > 0) {
    std::snprintf(rate, sizeof rate, ", %.1f MB/s", done_ / 1e6 / secs);
  } else if (rows_ > 0 && secs > 0) {
    const double per_second = rows_ / secs;
    if (per_second >= 10) {
      std::snprintf(rate, sizeof rate, ", %s %s/s", HumanCount(uint64_t(per_second)).c_str(), unit_);
    } else {
      std::snprintf(rate, sizeof rate, ", %.2f s per %s", secs / rows_,
                    total_count_ > 0 && unit_[0] != 0 ? unit_ : "unit");
    }
  }
  // The fraction done: by bytes when their total is known, else by count.
  double fraction = -1;
  if (total_ > 0 && done_ > 0) fraction = double(done_) / total_;
  if (total_ == 0 && total_count_ > 0 && rows_ > 0) fraction = double(rows_) / total_count_;
  char eta[48] = "";
  if (!final && fraction > 0 && fraction < 1) {
    std::snprintf(eta, sizeof eta, ", ETA %.0fs", secs * (1 / fraction - 1));
  }
  char pct[24] = "";
  if (!final && total_ > 0) std::snprintf(pct, sizeof pct, " %.0f%%", 100.0 * done_ / total_);
  if (!final && total_ == 0 && total_count_ > 0) {
    std::snprintf(pct, sizeof pct, " %.0f%%", 100.0 * rows_ / total_count_);
  }
  std::string count = HumanCount(rows_);
  if (total_count_ > 0) count += "/" + HumanCount(total_count_);
  const std::string detail = detail_.empty() ? "" : ", " + detail_;
  if (mode_ == Mode::kTerminal) {
    std::fprintf(out_, "\r\033[K%s:%s %s %s%s%s%s", task_.c_str(), pct, count.c_str(), unit_, rate,
                 detail.c_str(), eta);
    if (final) std::fprintf(out_, " in %.2fs\n", secs);
  } else {
    std::fprintf(out_, "encore: %s:%s %s %s%s%s%s%s\n", task_.c_str(), pct, count.c_str(), unit_,
                 rate, detail.c_str(), eta,
                 final ? (" (done in " + std::to_string(secs).substr(0, 5) + "s)").c_str() : "");
  }
  std::fflush(out_);
}

}  // namespace encore
