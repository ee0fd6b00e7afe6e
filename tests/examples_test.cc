// Every file in examples/ runs as a newcomer runs it: the folder is copied
// into an empty directory (a fresh checkout, no data, no database, no
// environment), build/release/encore is linked there, and each file's own
// commands (its header comment, or the README's sh blocks) run from that
// directory exactly as written. A file this test has no recipe for fails it,
// so a new example cannot go untested. Afterwards examples/ must be
// unchanged: runs land in the working directory, never in the source tree.
//
// Servers: yahoo_music_als.toml's database output runs against a throwaway
// PostgreSQL (its no-database path, --only csv, runs without one); the live
// demo starts its own redis-server.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "postgres_server.h"
#include "test_util.h"

namespace encore {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

struct Shell {
  int exit_code = -1;
  std::string output;
};

// Runs `script` with bash in `dir` with a clean environment plus `env`.
Shell RunIn(const std::string& dir, const std::string& script, const std::string& env = "") {
  TempDir tmp;
  testing::WriteFile(tmp.File("script.sh"), "set -euo pipefail\n" + script + "\n");
  const std::string cmd = "cd '" + dir + "' && env -i PATH=\"$PATH\" HOME=\"$HOME\" " + env +
                          " bash " + tmp.File("script.sh") + " >" + tmp.File("out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  Shell s;
  s.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  s.output = ReadFile(tmp.File("out"));
  return s;
}

// The ```sh blocks of a markdown file, joined.
std::string ShBlocks(const std::string& markdown) {
  std::istringstream in(markdown);
  std::string line, out;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      inside = !inside && line == "```sh";
      continue;
    }
    if (inside) out += line + "\n";
  }
  return out;
}

// The commands in a file's header comment: lines "#   build/release/..."
// or "#   export ...", with trailing comments dropped; "&" lines (servers)
// are skipped, and so are the lines naming `skip`.
std::string HeaderCommands(const std::string& text, const std::string& skip = "") {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("#   ", 0) != 0) {
      if (line.empty() || line[0] != '#') break;  // the header ends
      continue;
    }
    std::string cmd = line.substr(4);
    if (cmd.rfind("build/release/encore ", 0) != 0 && cmd.rfind("export ", 0) != 0) continue;
    if (size_t hash = cmd.find("  #"); hash != std::string::npos) cmd.resize(hash);
    while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
    if (cmd.ends_with("&")) continue;
    if (!skip.empty() && cmd.find(skip) != std::string::npos) continue;
    out += cmd + "\n";
  }
  return out;
}

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    files[fs::relative(e.path(), dir).string()] = e.is_regular_file() ? ReadFile(e.path()) : "/";
  }
  return files;
}

TEST(Examples, EveryFileRunsFromAFreshCheckoutAsWritten) {
  const std::string source = std::string(ENCORE_SOURCE_DIR) + "/examples";
  TempDir root;
  fs::copy(source, root.File("examples"), fs::copy_options::recursive);
  fs::create_directories(root.File("build/release"));
  fs::create_symlink(ENCORE_BINARY, root.File("build/release/encore"));
  const auto before = Snapshot(root.File("examples"));
  auto example = [&](const std::string& name) { return ReadFile(root.File("examples/" + name)); };

  std::string error;
  testing::PostgresServer* pg = testing::SharedPostgresServer(&error);
  ASSERT_NE(pg, nullptr) << error;

  // Each file: the commands that run it (empty: read by another file's run).
  const std::map<std::string, std::string> recipes = {
      {"README.md", ShBlocks(example("README.md"))},
      {"bigdatariver_batch.toml", HeaderCommands(example("bigdatariver_batch.toml"))},
      {"pono_cooccurrence.toml", HeaderCommands(example("pono_cooccurrence.toml"))},
      {"ruelala_personalization.toml", HeaderCommands(example("ruelala_personalization.toml"))},
      // Without ENCORE_PG first (the no-database path), then with it.
      {"yahoo_music_als.toml",
       "build/release/encore run examples/yahoo_music_als.toml --only csv\n"
       "export ENCORE_PG='" +
           pg->conninfo() +
           "'\n"
           "build/release/encore run examples/yahoo_music_als.toml\n"},
      {"live/demo.sh", "examples/live/demo.sh\n"},
      {"data/purchases-2024.csv", ""},                           // pono_cooccurrence.toml
      {"data/ydata-ymusic-user-artist-ratings-sample.txt", ""},  // yahoo_music_als.toml
      {"purchases.csv", ""},                                     // README.md
      {"events.jsonl", ""},                                      // README.md
  };
  for (const auto& [file, contents] : before) {
    if (contents == "/") continue;  // a directory
    EXPECT_TRUE(recipes.count(file)) << "examples/" << file
                                     << " has no recipe in tests/examples_test.cc: say how a "
                                        "newcomer runs it";
  }
  std::set<std::string> ran;  // a pipeline run twice as written (README and header) runs once
  for (const auto& [file, recipe] : recipes) {
    EXPECT_TRUE(before.count(file)) << "examples/" << file << " is gone: update the recipes";
    std::string script;
    std::istringstream in(recipe);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("build/release/encore run ", 0) == 0 && !ran.insert(line).second) continue;
      script += line + "\n";
    }
    if (recipe.empty()) continue;
    SCOPED_TRACE("examples/" + file);
    Shell s = RunIn(root.path(), script);
    EXPECT_EQ(s.exit_code, 0) << "running examples/" << file << ":\n"
                              << script << "\noutput:\n"
                              << s.output;
    EXPECT_EQ(s.output.find("warning"), std::string::npos) << s.output;
  }

  // Each pipeline wrote its run where the newcomer stood.
  EXPECT_TRUE(fs::exists(root.File("runs/bigdatariver/out/top5/_SUCCESS")));
  EXPECT_TRUE(fs::exists(root.File("runs/bigdatariver/store")));
  EXPECT_TRUE(fs::exists(root.File("runs/pono/out/top20/_SUCCESS")));
  EXPECT_TRUE(fs::exists(root.File("runs/yahoo/out/top5/_SUCCESS")));
  EXPECT_TRUE(fs::exists(root.File("rl/store")));
  EXPECT_TRUE(fs::exists(root.File("recs.csv")));
  // ... and nothing into the source tree.
  const auto after = Snapshot(root.File("examples"));
  for (const auto& [file, contents] : after) {
    EXPECT_TRUE(before.count(file)) << "a run wrote examples/" << file << " into the source tree";
  }
  EXPECT_TRUE(before == after) << "examples/ changed";
}

}  // namespace
}  // namespace encore
