// Helpers shared by the pipeline end-to-end tests: deterministic event
// files, reading manifests, checking output directories, and running the
// encore binary in the background (for watch).

#ifndef ENCORE_TESTS_PIPELINE_TEST_UTIL_H_
#define ENCORE_TESTS_PIPELINE_TEST_UTIL_H_

#include <fcntl.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace encore::testing {

// user,item,event,ts rows: `users` users with `per_user` events each over
// `items` items (clicks, and a purchase every third row), seeded.
inline std::string EventsCsv(int users, int items, int per_user, uint64_t seed,
                             const std::string& user_prefix = "u") {
  std::string out = "user,item,event,ts\n";
  uint64_t x = seed * 2654435761u + 1;
  for (int u = 0; u < users; ++u) {
    for (int k = 0; k < per_user; ++k) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const int cluster = u % 4;
      const int item = (cluster * (items / 4) + static_cast<int>((x >> 33) % (items / 2))) % items;
      out += user_prefix + std::to_string(u) + ",i" + std::to_string(item) + "," +
             ((k % 3 == 2) ? "purchase" : "click") + "," +
             std::to_string(1700000000 + u * 100 + k) + "\n";
    }
  }
  return out;
}

// Files directly in `dir`, sorted (empty when it does not exist).
inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every path under `root` (recursive, relative), sorted: a snapshot of a tree.
inline std::vector<std::string> Tree(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root, ec)) {
    out.push_back(std::filesystem::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The run directory names under WORKDIR/runs, sorted.
inline std::vector<std::string> RunDirs(const std::string& workdir) {
  std::vector<std::string> out;
  for (const auto& name : ListDir(workdir + "/runs")) out.push_back(name);
  return out;
}

// The line of `text` whose first word is `word` (empty when none).
inline std::string LineOf(const std::string& text, const std::string& word) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.rfind(word + " ", 0) == 0) return line;
    start = end + 1;
  }
  return "";
}

inline std::string JsonString(simdjson::dom::element e) {
  std::string_view sv;
  if (e.get(sv) != simdjson::SUCCESS) return "<not a string>";
  return std::string(sv);
}

// A child process running the encore binary with stdout/stderr to files.
class Background {
 public:
  Background(const std::vector<std::string>& args, const std::string& out_path,
             const std::string& err_path) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      std::vector<char*> argv;
      std::string binary = ENCORE_BINARY;
      argv.push_back(binary.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // The exit code, or -1 when it had to be killed after `guard` (a hang guard).
  int Wait(std::chrono::seconds guard) {
    const auto deadline = std::chrono::steady_clock::now() + guard;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        done_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
};

// Polls `cond` every 20 ms until it holds or `guard` passes (a hang guard).
template <typename F>
bool WaitFor(F&& cond, std::chrono::seconds guard) {
  const auto deadline = std::chrono::steady_clock::now() + guard;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

}  // namespace encore::testing

#endif  // ENCORE_TESTS_PIPELINE_TEST_UTIL_H_
