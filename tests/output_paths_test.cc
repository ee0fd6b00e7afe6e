// End-to-end tests of the output-path rule (docs/OUTPUTS.md, io/output_file.h):
// every kind of path an output flag may name, through the real CLI. Outputs
// never destroy what is not theirs: a symlink stays a symlink, a FIFO a FIFO,
// a device a device; directories and sockets are refused; "-" is stdout;
// ".gz" is gzip; formats encore does not write are refused.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "test_util.h"

namespace encore {
namespace {

using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

constexpr char kData[] =
    "user,item,rating\nu1,a,5\nu1,b,3\nu2,a,4\nu2,c,1\nu3,b,2\nu3,c,5\nu4,a,1\n";

class OutputPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("r.csv"), kData);
    auto r = RunEncore("train --model popularity --input " + dir_.File("r.csv") + " --out " +
                       model() + " -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto ref = RunEncore("recommend --model-file " + model() + " --n 2 --out " +
                         dir_.File("reference.csv") + " -q");
    ASSERT_EQ(ref.exit_code, 0) << ref.err;
    reference_ = ReadFile(dir_.File("reference.csv"));
    ASSERT_NE(reference_.find("user,item,score,rank\n"), std::string::npos);
  }
  std::string model() const { return dir_.File("m.bin"); }
  testing::CommandResult Recommend(const std::string& out) {
    return RunEncore("recommend --model-file " + model() + " --n 2 --out '" + out + "' -q");
  }
  // Names in the directory that look like an output temporary.
  std::vector<std::string> Temporaries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (name.find(".tmp") != std::string::npos) out.push_back(name);
    }
    return out;
  }

  TempDir dir_;
  std::string reference_;
};

TEST_F(OutputPaths, NewPathIsCreated) {
  auto r = Recommend(dir_.File("new.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dir_.File("new.csv")), reference_);
  EXPECT_TRUE(Temporaries().empty());
}

TEST_F(OutputPaths, RegularFileIsReplacedAtomicallyKeepingItsMode) {
  const std::string path = dir_.File("old.csv");
  WriteFile(path, "old contents\n");
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  auto r = Recommend(path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(path), reference_);
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino) << "replaced by rename, not rewritten in place";
  EXPECT_EQ(after.st_mode & 07777, 0640u);
  EXPECT_TRUE(Temporaries().empty());
}

TEST_F(OutputPaths, SymlinkIsFollowedAndKept) {
  const std::string link = dir_.File("link.csv");
  WriteFile(dir_.File("target.csv"), "old\n");
  ASSERT_EQ(::symlink("target.csv", link.c_str()), 0);
  auto r = Recommend(link);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(link)) << "the link itself is never replaced";
  EXPECT_EQ(ReadFile(dir_.File("target.csv")), reference_);

  // A dangling link: its target is created, the link stays.
  const std::string dangling = dir_.File("dangling.csv");
  ASSERT_EQ(::symlink("created.csv", dangling.c_str()), 0);
  r = Recommend(dangling);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(dangling));
  EXPECT_EQ(ReadFile(dir_.File("created.csv")), reference_);
  EXPECT_TRUE(Temporaries().empty());
}

TEST_F(OutputPaths, FifoIsWrittenThroughToItsReader) {
  const std::string fifo = dir_.File("pipe.csv");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] {
    std::ifstream in(fifo, std::ios::binary);  // blocks until the writer opens
    received.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  });
  auto r = Recommend(fifo);
  reader.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(received, reference_);
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO is still a FIFO";
  EXPECT_TRUE(Temporaries().empty());
}

TEST_F(OutputPaths, CharacterDeviceIsWrittenThrough) {
  auto r = Recommend("/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::lstat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null is still a character device";
}

TEST_F(OutputPaths, DashAndDevStdoutWriteToStandardOutput) {
  auto r = Recommend("-");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, reference_);
  r = Recommend("/dev/stdout");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, reference_);
  struct stat st {};
  ASSERT_EQ(::lstat("/dev/stdout", &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "/dev/stdout is still a symlink";
}

TEST_F(OutputPaths, DirectoryIsRefusedNamingPathAndKind) {
  std::filesystem::create_directory(dir_.File("outdir"));
  auto r = Recommend(dir_.File("outdir"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'" + dir_.File("outdir") + "' is a directory"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::is_directory(dir_.File("outdir")));
}

TEST_F(OutputPaths, SocketIsRefused) {
  const std::string path = dir_.File("s.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto r = Recommend(path);
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a socket"), std::string::npos) << r.err;
}

TEST_F(OutputPaths, MissingDirectoryIsNamed) {
  auto r = Recommend(dir_.File("no/such/dir/x.csv"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("directory '" + dir_.File("no/such/dir") + "' does not exist"),
            std::string::npos)
      << r.err;
}

TEST_F(OutputPaths, CsvGzIsGzipReadableByZlib) {
  const std::string path = dir_.File("recs.csv.gz");
  auto r = Recommend(path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string raw = ReadFile(path);
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(raw[1]), 0x8b);
  gzFile gz = gzopen(path.c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  std::string text;
  char buf[4096];
  int n;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  gzclose(gz);
  EXPECT_EQ(text, reference_);

  // .jsonl.gz is JSON Lines, compressed.
  r = RunEncore("train --model cooccurrence --input " + dir_.File("r.csv") + " --out " +
                dir_.File("co.bin") + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunEncore("similar --model-file " + dir_.File("co.bin") + " --out " +
                dir_.File("s.jsonl.gz") + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  gz = gzopen(dir_.File("s.jsonl.gz").c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  n = gzread(gz, buf, sizeof buf);
  gzclose(gz);
  ASSERT_GT(n, 0);
  EXPECT_EQ(buf[0], '{');
}

TEST_F(OutputPaths, FormatsEncoreDoesNotWriteAreRefusedNotWrittenAsCsv) {
  for (const char* name :
       {"recs.parquet", "recs.xlsx", "recs.json", "recs.tsv", "recs.parquet.gz", "recs.zip"}) {
    auto r = Recommend(dir_.File(name));
    EXPECT_EQ(r.exit_code, 1) << name;
    EXPECT_NE(r.err.find("encore does not write"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir_.File(name))) << name;
  }
}

TEST_F(OutputPaths, ModelFilesFollowTheSameRule) {
  // A symlinked model file: the target is written, the link kept.
  WriteFile(dir_.File("m-target.bin"), "old");
  ASSERT_EQ(::symlink("m-target.bin", dir_.File("m-link.bin").c_str()), 0);
  auto r = RunEncore("train --model popularity --input " + dir_.File("r.csv") + " --out " +
                     dir_.File("m-link.bin") + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(dir_.File("m-link.bin")));
  EXPECT_EQ(ReadFile(dir_.File("m-target.bin")), ReadFile(model()));

  // "-": the model on stdout, the summary on stderr.
  r = RunEncore("train --model popularity --input " + dir_.File("r.csv") + " --out - -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ReadFile(model()));
  EXPECT_NE(r.err.find("trained popularity"), std::string::npos) << r.err;

  // A directory is refused before any reading or fitting.
  r = RunEncore("train --model popularity --input " + dir_.File("r.csv") + " --out " + dir_.path() +
                " -q");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model file '" + dir_.path() + "' is a directory"), std::string::npos)
      << r.err;
}

TEST_F(OutputPaths, RejectsFileFollowsTheRule) {
  WriteFile(dir_.File("bad.csv"), "user,item,rating\nu,a,1\nu,b,oops\n");
  ASSERT_EQ(::symlink("rej-target.csv", dir_.File("rej.csv").c_str()), 0);
  auto r = RunEncore("stats --input " + dir_.File("bad.csv") + " --max-bad-rows 5 --rejects " +
                     dir_.File("rej.csv") + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(dir_.File("rej.csv")));
  EXPECT_EQ(ReadFile(dir_.File("rej-target.csv")), "u,b,oops\n");
  r = RunEncore("stats --input " + dir_.File("bad.csv") +
                " --max-bad-rows 5 --rejects /dev/null -q");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunEncore("stats --input " + dir_.File("bad.csv") + " --max-bad-rows 5 --rejects " +
                dir_.path() + " -q");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

TEST_F(OutputPaths, GeneratedFilesFollowTheRule) {
  std::filesystem::create_directory(dir_.File("gen"));
  WriteFile(dir_.File("elsewhere.csv"), "old\n");
  ASSERT_EQ(::symlink("../elsewhere.csv", dir_.File("gen/ratings.csv").c_str()), 0);
  auto r = RunEncore("generate --profile ratings --users 50 --items 20 --rows 200 --out " +
                     dir_.File("gen") + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(dir_.File("gen/ratings.csv")));
  EXPECT_EQ(ReadFile(dir_.File("elsewhere.csv")).rfind("user,item,rating,timestamp\n", 0), 0u);
}

TEST_F(OutputPaths, TemporariesOfACrashedWriterAreRemovedAtTheNextWrite) {
  // A pid that is surely gone: a child that has exited and been reaped.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  const std::string stale = dir_.File(".recs.csv.tmp-" + std::to_string(child) + "-0");
  const std::string live = dir_.File(".recs.csv.tmp-" + std::to_string(::getpid()) + "-7");
  WriteFile(stale, "half a file");
  WriteFile(live, "another writer's file, still running");
  auto r = Recommend(dir_.File("recs.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(stale)) << "left by a dead process: removed";
  EXPECT_TRUE(std::filesystem::exists(live)) << "its writer is alive: kept";
}

TEST(OutputPathsPipeline, SymlinkedOutputDirectoryIsFollowedAndKept) {
  TempDir dir;
  WriteFile(dir.File("p.toml"), testing::WorkdirIn(dir, R"(name = "p"
workdir = "work"
[sources.r]
generate = { profile = "ratings", users = 50, items = 20, rows = 300, seed = 1 }
[models.pop]
kind = "popularity"
[recommend.top]
model = "pop"
n = 3
[outputs.csv]
kind = "csv"
from = "top"
path = "out"
prefix = "recs"
)"));
  std::filesystem::create_directories(dir.File("work/real"));
  ASSERT_EQ(::symlink("real", dir.File("work/out").c_str()), 0);
  auto r = RunEncore("run " + dir.File("p.toml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(dir.File("work/out")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("work/real/_SUCCESS")));
  r = RunEncore("run " + dir.File("p.toml"));  // and again: replaced through the link
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(dir.File("work/out")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("work/real/_SUCCESS")));
}

}  // namespace
}  // namespace encore
