// End-to-end tests of the encore command line: exit codes, output contracts,
// and the promise that obfuscated values never reach stdout, stderr or files.

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "test_util.h"

namespace encore {
namespace {

using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

TEST(Cli, StatsJsonHasTheContractKeys) {
  TempDir dir;
  WriteFile(dir.File("r.csv"), "user,item,rating\nu1,a,5\nu1,b,3\nu2,a,4\n");
  auto r = RunEncore("stats --input " + dir.File("r.csv") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key : {"\"rows_read\": 3", "\"rows_accepted\": 3", "\"rows_rejected\": 0",
                          "\"users\": 2", "\"items\": 2", "\"nonzeros\": 3", "\"density\": 0.75"}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
  }
  EXPECT_NE(r.err.find("rows read 3, accepted 3, rejected 0"), std::string::npos) << r.err;
}

// encore re-executes itself with OMP_WAIT_POLICY=PASSIVE unless the user set it (util/threads.h):
// what counts is what libgomp read when it was loaded, which it prints with
// OMP_DISPLAY_ENV=verbose (GOMP_SPINCOUNT is 0 for passive waits).
TEST(Cli, OpenMpThreadsWaitPassivelyUnlessTheUserChose) {
  auto r = RunEncore("--version", "env -u OMP_WAIT_POLICY OMP_DISPLAY_ENV=verbose");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("encore "), std::string::npos) << r.out;
  const size_t last = r.err.rfind("OPENMP DISPLAY ENVIRONMENT BEGIN");
  ASSERT_NE(last, std::string::npos) << r.err;
  EXPECT_NE(r.err.find("OMP_WAIT_POLICY = 'PASSIVE'", last), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("GOMP_SPINCOUNT = '0'", last), std::string::npos)
      << "the re-executed process must wait passively: " << r.err;

  r = RunEncore("--version", "OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("OPENMP DISPLAY ENVIRONMENT BEGIN"),
            r.err.rfind("OPENMP DISPLAY ENVIRONMENT BEGIN"))
      << "a user-set policy is not re-executed: " << r.err;
  EXPECT_NE(r.err.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << r.err;
}

TEST(Cli, StatsPrintsATableByDefault) {
  TempDir dir;
  WriteFile(dir.File("r.tsv"), "1\t10\t4\t964982703\n2\t10\t3\t964982704\n");
  auto r = RunEncore("stats --input " + dir.File("r.tsv") + " --format movielens --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("density"), std::string::npos);
  EXPECT_NE(r.out.find("per user"), std::string::npos);
  EXPECT_TRUE(r.err.empty()) << "--quiet prints nothing on stderr: " << r.err;
}

TEST(Cli, TooManyBadRowsExitNonZeroWithOneLineNamingTheFirst) {
  TempDir dir;
  WriteFile(dir.File("r.csv"), "user,item,rating\nu,a,1\nu,b,oops\nu,c,2\nu,d,bad\n");
  auto r = RunEncore("stats --input " + dir.File("r.csv") + " --max-bad-rows 1 --quiet");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "exactly one line: " << r.err;
  EXPECT_NE(r.err.find("r.csv:3: unparsable number 'oops'"), std::string::npos) << r.err;
}

TEST(Cli, BadRowsWithinTheLimitAreReportedAndWrittenToRejects) {
  TempDir dir;
  WriteFile(dir.File("r.csv"), "user,item,rating\nu,a,1\nu,b,oops\nu,c,2\n");
  auto r = RunEncore("stats --input " + dir.File("r.csv") + " --max-bad-rows 5 --rejects " +
                     dir.File("rej.csv") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"rows_rejected\": 1"), std::string::npos);
  EXPECT_NE(r.err.find("rejected " + dir.File("r.csv") + ":3:"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dir.File("rej.csv")), "u,b,oops\n");
}

TEST(Cli, MissingFileAndUnknownColumnGiveClearErrors) {
  auto missing = RunEncore("stats --input /nonexistent/x.csv");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/x.csv"), std::string::npos) << missing.err;
  TempDir dir;
  WriteFile(dir.File("r.csv"), "user,item\nu,a\n");
  auto col = RunEncore("stats --input " + dir.File("r.csv") + " --item-col album");
  EXPECT_EQ(col.exit_code, 1);
  EXPECT_NE(col.err.find("no column named 'album'"), std::string::npos) << col.err;
  auto fmt = RunEncore("stats --input " + dir.File("r.csv") + " --format parquet");
  EXPECT_NE(fmt.exit_code, 0);
  EXPECT_NE(fmt.err.find("parquet"), std::string::npos) << fmt.err;
}

TEST(Cli, WeightsSumPerUserAndItem) {
  TempDir dir;
  WriteFile(dir.File("e.csv"),
            "user,item,event\nm,p,view\nm,p,view\nm,p,cart\nm,p,purchase\nn,p,wishlist\n");
  auto r = RunEncore("stats --input " + dir.File("e.csv") +
                     " --weights view=3,cart=10,wishlist=30,purchase=40 --json --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // m,p = 3+3+10+40 = 56 and n,p = 30: two nonzeros with exactly those values.
  EXPECT_NE(r.out.find("\"56\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"30\""), std::string::npos) << r.out;
}

TEST(Cli, ObfuscationRefusesToRunWithoutAKey) {
  TempDir dir;
  WriteFile(dir.File("p.csv"), "email,item\nsecret.person@example.com,a\n");
  auto r = RunEncore("stats --input " + dir.File("p.csv") + " --user-col email --obfuscate email",
                     "env -u ENCORE_OBFUSCATION_KEY");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ENCORE_OBFUSCATION_KEY"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("secret.person"), std::string::npos);
  EXPECT_EQ(r.err.find("secret.person"), std::string::npos);
}

TEST(Cli, ObfuscatedValuesReachNoOutputStream) {
  TempDir dir;
  WriteFile(dir.File("key"), "a-key-for-the-obfuscation-test-0123\n");
  WriteFile(dir.File("p.csv"),
            "email,street,item,quantity\n"
            "hidden.alice@example.com,12 Secret Row,a,1\n"
            "hidden.bob@example.com,34 Private Way,b,lots\n"
            "hidden.carol@example.com,56 Unlisted Rd\n"
            "hidden.dave@example.com,\"78 Concealed Ct,c,1\n");
  for (std::string how : {std::string(" --obfuscation-key-file ") + dir.File("key"),
                          std::string(" --max-bad-rows 3 --obfuscation-key-file ") + dir.File("key")}) {
    auto r = RunEncore("stats --input " + dir.File("p.csv") +
                       " --user-col email --obfuscate email,street --rejects " +
                       dir.File("rej.csv") + how + " --json");
    std::string all = r.out + r.err + ReadFile(dir.File("rej.csv"));
    for (const char* secret : {"hidden.", "Secret Row", "Private Way", "Unlisted", "Concealed"}) {
      EXPECT_EQ(all.find(secret), std::string::npos) << secret << " leaked in: " << all;
    }
  }
  // The environment variable works as well as the key file.
  auto env = RunEncore("stats --input " + dir.File("p.csv") +
                           " --user-col email --obfuscate email,street --max-bad-rows 3 --json",
                       "ENCORE_OBFUSCATION_KEY=another-key-of-enough-length");
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_NE(env.out.find("\"users\": 1"), std::string::npos) << env.out;
}

TEST(Cli, HelpDescribesEveryInputFlag) {
  auto r = RunEncore("stats --help");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--input", "--format", "--sep", "--header", "--no-header", "--user-col", "--item-col",
        "--value-col", "--event-col", "--time-col", "--weights", "--transform", "--obfuscate",
        "--obfuscation-key-file", "--max-bad-rows", "--rejects", "--json", "--quiet"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

TEST(Cli, DocsCliMdMatchesEveryHelpText) {
  std::string doc = ReadFile(std::string(ENCORE_SOURCE_DIR) + "/docs/CLI.md");
  auto root = RunEncore("--help");
  ASSERT_EQ(root.exit_code, 0);
  std::vector<std::string> commands;
  size_t at = root.out.find("Subcommands:");
  ASSERT_NE(at, std::string::npos);
  std::string rest = root.out.substr(at + 12);
  size_t pos = 0;
  while ((pos = rest.find("\n  ", pos)) != std::string::npos) {
    pos += 3;
    size_t end = rest.find(' ', pos);
    commands.push_back(rest.substr(pos, end - pos));
  }
  ASSERT_FALSE(commands.empty());
  for (const auto& cmd : commands) {
    auto help = RunEncore(cmd + " --help");
    ASSERT_EQ(help.exit_code, 0) << cmd;
    std::string text = help.out;
    // The binary path differs; compare from the first option line on.
    text = text.substr(text.find("Options:"));
    EXPECT_NE(doc.find(text), std::string::npos)
        << "docs/CLI.md is stale for '" << cmd << "': run scripts/gen-cli-docs.sh";
    // Its subcommands (encore experiment replay, ...) are documented too.
    const size_t subs = help.out.find("Subcommands:");
    if (subs == std::string::npos) continue;
    const std::string list = help.out.substr(subs + 12);
    size_t p = 0;
    while ((p = list.find("\n  ", p)) != std::string::npos) {
      p += 3;
      const std::string sub = list.substr(p, list.find(' ', p) - p);
      auto sub_help = RunEncore(cmd + " " + sub + " --help");
      ASSERT_EQ(sub_help.exit_code, 0) << cmd << " " << sub;
      EXPECT_NE(doc.find("### encore " + cmd + " " + sub + "\n"), std::string::npos) << sub;
      EXPECT_NE(doc.find(sub_help.out.substr(sub_help.out.find("Options:"))), std::string::npos)
          << "docs/CLI.md is stale for '" << cmd << " " << sub
          << "': run scripts/gen-cli-docs.sh";
    }
  }
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

TEST(Cli, TrainThenRecommendReturnsOriginalIds) {
  TempDir dir;
  WriteFile(dir.File("r.csv"),
            "user,item\n\"Smith, J.\",\"Abbey Road\"\n\"Smith, J.\",Help\nann,Help\nann,Revolver\n"
            "bob,Revolver\nbob,Help\n");
  auto train = RunEncore("train --model popularity --input " + dir.File("r.csv") + " --out " +
                         dir.File("m.bin") + " --json --quiet");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("\"fit_seconds\""), std::string::npos) << train.out;
  auto rec = RunEncore("recommend --model-file " + dir.File("m.bin") + " --n 2 --out " +
                       dir.File("recs.csv") + " --quiet");
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  std::string csv = ReadFile(dir.File("recs.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "user,item,score,rank");
  EXPECT_NE(csv.find("\"Smith, J.\",Revolver,2,1\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("ann,Abbey Road,1,1\n"), std::string::npos) << csv;
  WriteFile(dir.File("users.txt"), "ann\nnobody\n");
  auto some = RunEncore("recommend --model-file " + dir.File("m.bin") + " --users " +
                        dir.File("users.txt") + " --out " + dir.File("recs.jsonl"));
  ASSERT_EQ(some.exit_code, 0) << some.err;
  EXPECT_EQ(ReadFile(dir.File("recs.jsonl")),
            "{\"user\":\"ann\",\"item\":\"Abbey Road\",\"score\":1,\"rank\":1}\n");
  EXPECT_NE(some.err.find("1 unknown"), std::string::npos) << some.err;
  EXPECT_NE(some.err.find("unknown id: nobody"), std::string::npos) << some.err;
}

TEST(Cli, DamagedModelFileIsAClearError) {
  TempDir dir;
  WriteFile(dir.File("m.bin"), "not a model at all");
  auto r = RunEncore("recommend --model-file " + dir.File("m.bin") + " --out " + dir.File("o.csv"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not an encore model file"), std::string::npos) << r.err;
  EXPECT_FALSE(std::ifstream(dir.File("o.csv")).good()) << "no output on failure";
}

TEST(Cli, UnknownModelAndBadParameterAreErrors) {
  TempDir dir;
  WriteFile(dir.File("r.csv"), "user,item\nu,a\n");
  auto model = RunEncore("train --model svd --input " + dir.File("r.csv") + " --out " +
                         dir.File("m.bin"));
  EXPECT_EQ(model.exit_code, 1);
  EXPECT_NE(model.err.find("known models"), std::string::npos) << model.err;
  auto param = RunEncore("train --model als --factors ten --input " + dir.File("r.csv") +
                         " --out " + dir.File("m.bin"));
  EXPECT_EQ(param.exit_code, 1);
  EXPECT_NE(param.err.find("--factors"), std::string::npos) << param.err;
}

TEST(Cli, DocsParametersMdMatchesTheTable) {
  auto r = RunEncore("params --markdown");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(ReadFile(std::string(ENCORE_SOURCE_DIR) + "/docs/PARAMETERS.md"), r.out)
      << "docs/PARAMETERS.md is stale: run build/release/encore params --markdown > "
         "docs/PARAMETERS.md";
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

TEST(Cli, ExamplesReadCleanly) {
  const std::string ex = std::string(ENCORE_SOURCE_DIR) + "/examples/";
  auto p = testing::RunEncore("stats --input " + ex + "purchases.csv --user-col email --item-col "
                              "album --value-col quantity --time-col purchased_at --obfuscate "
                              "email,street --json --quiet",
                              "ENCORE_OBFUSCATION_KEY=an-example-key-of-enough-length");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("\"users\": 4"), std::string::npos) << p.out;
  EXPECT_EQ(p.out.find("example.com"), std::string::npos) << "emails obfuscated";
  auto j = testing::RunEncore("stats --input " + ex + "events.jsonl --format jsonl --weights "
                              "view=3,cart=10,wishlist=30,purchase=40 --json --quiet");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_NE(j.out.find("\"53\""), std::string::npos) << "3 + 10 + 40 for m1/p10: " << j.out;
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// The README's main job must keep working: run the demo end to end, small.
TEST(Cli, DemoRunsEndToEnd) {
  testing::TempDir dir;
  auto r = testing::RunEncore("demo --users 2000 --items 400 --rows 30000 --quiet --out " +
                              dir.File("demo"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* step : {"== 1. generate", "== 3. profile", "== 4. evaluate", "ials",
                           "== 6. sample recommendations", "Next:"}) {
    EXPECT_NE(r.out.find(step), std::string::npos) << step << " in " << r.out;
  }
  EXPECT_TRUE(std::ifstream(dir.File("demo/ials.model")).good());
  EXPECT_EQ(r.out.find("@example.com"), std::string::npos) << "emails are obfuscated";
}

}  // namespace
}  // namespace encore
