#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace encore::testing {

namespace {

// The tests start encore hundreds of times: hand it the OpenMP wait policy it
// would otherwise re-execute itself to get (util/threads.h), so that no start
// pays for loading the program twice (about 50 ms on the 2-vCPU machine).
// Cli.OpenMpThreadsWaitPassivelyUnlessTheUserChose unsets it to test the
// re-exec itself. (A value already set by whoever runs the tests is kept.)
const bool kPassiveWaitForChildren = [] {
  setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  return true;
}();

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/encore_test_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream f(path, std::ios::binary);
  f << contents;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteGzipFile(const std::string& path, const std::string& contents) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  gzwrite(f, contents.data(), static_cast<unsigned>(contents.size()));
  gzclose(f);
}

std::string WorkdirIn(const TempDir& dir, std::string toml) {
  const std::string from = "workdir = \"work\"";
  const size_t at = toml.find(from);
  if (at != std::string::npos) toml.replace(at, from.size(), "workdir = \"" + dir.File("work") + "\"");
  return toml;
}

CommandResult RunEncore(const std::string& args, const std::string& env) {
  TempDir dir;
  std::string cmd = env + " " + ENCORE_BINARY + " " + args + " >" + dir.File("out") + " 2>" +
                    dir.File("err") + " </dev/null";
  int rc = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadFile(dir.File("out"));
  r.err = ReadFile(dir.File("err"));
  return r;
}

}  // namespace encore::testing
