// End-to-end: `encore explain` (text and JSON), `encore train --ann hnsw`,
// `encore index`, and `recommend` / `similar` with --approximate.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <string>

#include "test_util.h"

namespace encore {
namespace {

using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

// A JSON number as double, whether written as an integer or not.
double Num(simdjson::dom::element e) {
  if (e.is_double()) return e.get_double().value();
  if (e.is_int64()) return static_cast<double>(e.get_int64().value());
  return static_cast<double>(e.get_uint64().value());
}

// 40 users in 4 taste groups over 32 items; deterministic.
std::string ClusteredCsv() {
  std::string csv = "user,item,rating\n";
  for (int u = 0; u < 40; ++u) {
    const int group = u % 4;
    for (int k = 0; k < 6; ++k) {
      const int item = group * 8 + (u * 7 + k * 3) % 8;
      csv += "u" + std::to_string(u) + ",i" + std::to_string(item) + "," +
             std::to_string(1 + (u + k) % 3) + "\n";
    }
    csv += "u" + std::to_string(u) + ",i" + std::to_string((u * 5) % 32) + ",1\n";
  }
  return csv;
}

TEST(ExplainCli, TextAndJsonAddUp) {
  TempDir dir;
  WriteFile(dir.File("d.csv"), ClusteredCsv());
  const std::string model = dir.File("m.bin");
  auto t = RunEncore("train --model ials --factors 6 --iterations 6 --seed 3 --threads 1 --input " +
                     dir.File("d.csv") + " --out " + model + " --quiet");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  auto j = RunEncore("explain --model-file " + model + " --user u1 --item i3 --json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(j.out);
  EXPECT_EQ(std::string_view(doc["model"].get_string().value()), "ials");
  const double score = Num(doc["score"]);
  double sum = Num(doc["base"]);
  size_t n = 0;
  simdjson::dom::array contributions = doc["contributions"].get_array().value();
  for (simdjson::dom::element c : contributions) {
    sum += Num(c["contribution"]);
    EXPECT_EQ(std::string_view(c["item"].get_string().value()).substr(0, 1), "i");
    ++n;
  }
  EXPECT_EQ(n, 7u) << "u1's items";
  EXPECT_NEAR(sum, score, 1e-4 * (1 + std::fabs(score)));

  auto text = RunEncore("explain --model-file " + model + " --user u1 --item i3 --top 2");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("ials score of i3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("item,weight,contribution"), std::string::npos) << text.out;

  // A visitor's items instead of a user.
  auto v = RunEncore("explain --model-file " + model + " --items i1,i2,i3 --item i4 --json");
  ASSERT_EQ(v.exit_code, 0) << v.err;
  simdjson::dom::element vd = parser.parse(v.out);
  EXPECT_EQ(simdjson::dom::array(vd["contributions"].get_array().value()).size(), 3u);

  // Co-occurrence lists counts.
  const std::string cooc = dir.File("c.bin");
  ASSERT_EQ(RunEncore("train --model cooccurrence --input " + dir.File("d.csv") + " --out " + cooc +
                      " --quiet")
                .exit_code,
            0);
  auto c = RunEncore("explain --model-file " + cooc + " --user u0 --item i2 --json");
  if (c.exit_code == 0) {
    EXPECT_NE(c.out.find("\"together\""), std::string::npos) << c.out;
  } else {
    EXPECT_NE(c.err.find("co-occurs with none"), std::string::npos) << c.err;
  }

  // Errors: unknown user, unknown item, both or neither of --user/--items.
  auto bad = RunEncore("explain --model-file " + model + " --user nobody --item i3");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unknown user 'nobody'"), std::string::npos) << bad.err;
  EXPECT_EQ(RunEncore("explain --model-file " + model + " --user u1 --item nothing").exit_code, 1);
  EXPECT_EQ(RunEncore("explain --model-file " + model + " --item i3").exit_code, 1);
}

TEST(AnnCli, TrainWithIndexThenApproximateQueries) {
  TempDir dir;
  WriteFile(dir.File("d.csv"), ClusteredCsv());
  const std::string model = dir.File("m.bin");
  auto t =
      RunEncore("train --model bpr --factors 6 --iterations 20 --threads 1 --ann hnsw --input " +
                dir.File("d.csv") + " --out " + model + " --quiet");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find(model + ".ann"), std::string::npos) << t.out;
  EXPECT_FALSE(ReadFile(model + ".ann").empty());

  auto exact = RunEncore("recommend --model-file " + model + " --n 5 --out " +
                         dir.File("exact.csv") + " --quiet");
  auto approx =
      RunEncore("recommend --model-file " + model + " --n 5 --approximate --ef 64 --out " +
                dir.File("approx.csv") + " --quiet");
  ASSERT_EQ(exact.exit_code, 0) << exact.err;
  ASSERT_EQ(approx.exit_code, 0) << approx.err;
  EXPECT_FALSE(ReadFile(dir.File("exact.csv")).empty());
  EXPECT_EQ(ReadFile(dir.File("approx.csv")), ReadFile(dir.File("exact.csv")))
      << "32 items: the index finds every exact list";
  auto sim = RunEncore("similar --model-file " + model + " --n 3 --approximate --out " +
                       dir.File("sim.csv") + " --quiet");
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  EXPECT_FALSE(ReadFile(dir.File("sim.csv")).empty());

  // A model without its index: a clear error; `encore index` writes one.
  const std::string bare = dir.File("bare.bin");
  ASSERT_EQ(RunEncore("train --model ials --threads 1 --input " + dir.File("d.csv") + " --out " +
                      bare + " --quiet")
                .exit_code,
            0);
  const std::string out = " --out " + dir.File("r.csv") + " --quiet";
  auto missing = RunEncore("recommend --model-file " + bare + " --approximate" + out);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("encore index"), std::string::npos) << missing.err;
  auto idx = RunEncore("index --model-file " + bare + " --threads 1 --json --quiet");
  ASSERT_EQ(idx.exit_code, 0) << idx.err;
  EXPECT_NE(idx.out.find("\"items\": 32"), std::string::npos) << idx.out;
  EXPECT_EQ(RunEncore("recommend --model-file " + bare + " --approximate" + out).exit_code, 0);

  // Retraining replaces the model: the old index is refused, not used.
  ASSERT_EQ(RunEncore("train --model ials --seed 9 --threads 1 --input " + dir.File("d.csv") +
                      " --out " + bare + " --quiet")
                .exit_code,
            0);
  auto stale = RunEncore("recommend --model-file " + bare + " --approximate" + out);
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_NE(stale.err.find("another model"), std::string::npos) << stale.err;

  // Models without embeddings.
  const std::string pop = dir.File("p.bin");
  ASSERT_EQ(RunEncore("train --model popularity --input " + dir.File("d.csv") + " --out " + pop +
                      " --quiet")
                .exit_code,
            0);
  auto no = RunEncore("index --model-file " + pop + " --quiet");
  EXPECT_EQ(no.exit_code, 1);
  EXPECT_NE(no.err.find("no item embeddings"), std::string::npos) << no.err;
}

}  // namespace
}  // namespace encore
