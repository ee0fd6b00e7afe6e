// Progress: reports how far a long step has got, in the right form for where
// stderr goes.
//
//  - terminal: one line redrawn in place (rows, MB/s or units/s, ETA when the
//    total is known);
//  - not a terminal: a plain log line every few seconds and one at the end;
//  - quiet: nothing.
//
// Thread-safety: Update may be called from one thread at a time. It reads the
// monotonic clock (tens of nanoseconds) and prints only when it is time to:
// call it every few thousand rows, not every row.

#ifndef ENCORE_PROGRESS_H_
#define ENCORE_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace encore {

class Progress {
 public:
  enum class Mode { kAuto, kTerminal, kLog, kQuiet };

  explicit Progress(Mode mode = Mode::kAuto, std::FILE* out = stderr);

  // Starts a step. total_bytes = 0 when unknown (no ETA then); `unit` names
  // what Update counts ("rows", "users"...). Steps that count no bytes show
  // no MB/s.
  void Start(const std::string& task, uint64_t total_bytes, const char* unit = "rows");
  // Starts a step that counts `unit`s only (users, items, iterations):
  // `total` of them when known (0: unknown), for the percentage, the rate in
  // units per second and the time left. Update with done_bytes = 0.
  void StartCount(const std::string& task, uint64_t total, const char* unit);
  // done_bytes and rows (counted in `unit`) are cumulative for the current step.
  void Update(uint64_t done_bytes, uint64_t rows);
  // Like Update, but prints now whatever the interval (for coarse steps such
  // as training iterations: the first and the last are always shown).
  void UpdateNow(uint64_t done_bytes, uint64_t rows);
  // Text appended to the step's lines (e.g. "change 0.0123") until the next Start.
  void SetDetail(std::string detail) { detail_ = std::move(detail); }
  // Ends the step with a summary line (terminal and log modes).
  void Finish();
  // A one-off informational line (suppressed in quiet mode).
  void Note(const std::string& line);

  bool quiet() const { return mode_ == Mode::kQuiet; }

  // A Progress that prints nothing.
  static Progress& Silent();

 private:
  void Print(bool final);

  Mode mode_;
  std::FILE* out_;
  std::string task_;
  const char* unit_ = "rows";
  uint64_t total_ = 0, done_ = 0, rows_ = 0;
  uint64_t total_count_ = 0;  // StartCount's total (0: bytes or unknown)
  std::string detail_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace encore

#endif  // ENCORE_PROGRESS_H_
