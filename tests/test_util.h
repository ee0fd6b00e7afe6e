// Helpers shared by tests: temporary directories, file writing, running the CLI.

#ifndef ENCORE_TESTS_TEST_UTIL_H_
#define ENCORE_TESTS_TEST_UTIL_H_

#include <string>

namespace encore::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // path()/name
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& contents);
std::string ReadFile(const std::string& path);
// Writes `contents` gzip-compressed.
void WriteGzipFile(const std::string& path, const std::string& contents);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// `toml` with its `workdir = "work"` made absolute, DIR/work: a relative
// workdir is relative to the current directory, which tests do not change.
std::string WorkdirIn(const TempDir& dir, std::string toml);

// Runs the encore binary with `args` (a shell-quoted string) and optional env prefix.
CommandResult RunEncore(const std::string& args, const std::string& env = "");

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TEST_UTIL_H_
