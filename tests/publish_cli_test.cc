// End-to-end tests of `encore publish` and `encore rollback` on an LMDB
// store directory: train -> publish -> publish -> rollback, and clear errors.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "encore/store.h"
#include "redis_server.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Plays of 20 users over 10 items in two taste groups.
std::string Plays() {
  std::string csv = "user,item,plays\n";
  for (int u = 0; u < 20; ++u) {
    for (int k = 0; k < 4; ++k) {
      const int item = (u % 2) * 5 + (u + k) % 5;
      csv += "u" + std::to_string(u) + ",i" + std::to_string(item) + "," + std::to_string(1 + k) +
             "\n";
    }
  }
  return csv;
}

class PublishCli : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("plays.csv"), Plays());
    auto train = RunEncore("train --model cooccurrence -i " + dir_.File("plays.csv") + " --out " +
                           dir_.File("model.enc") + " --quiet");
    ASSERT_EQ(train.exit_code, 0) << train.err;
  }
  std::string Store() const { return dir_.File("store"); }
  TempDir dir_;
};

TEST_F(PublishCli, PublishPublishRollback) {
  auto first = RunEncore("publish --model-file " + dir_.File("model.enc") + " --store " + Store() +
                         " --n 3 --quiet");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(Has(first.out, "published snapshot 1 to " + Store() +
                                 ": 20 user payloads, "
                                 "10 similar-item payloads, "))
      << first.out;
  EXPECT_TRUE(first.err.empty()) << first.err;
  EXPECT_EQ(ReadFile(Store() + "/CURRENT"), "1\n");

  auto second = RunEncore("publish --model-file " + dir_.File("model.enc") + " --store " + Store() +
                          " --no-model --keep 5 -q");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(Has(second.out, "published snapshot 2 to ")) << second.out;
  EXPECT_EQ(ReadFile(Store() + "/CURRENT"), "2\n");
  {
    auto store = Store::Open(Store());
    ASSERT_TRUE(store.ok());
    auto snap = (*store)->OpenSnapshot(1);
    ASSERT_TRUE(snap.ok());
    std::string payload;
    ASSERT_TRUE((*snap)->Get(Table::kUser, "u0", &payload).ok());
    EXPECT_EQ(payload.rfind("{\"user\":\"u0\",\"snapshot\":1,\"items\":[", 0), 0u) << payload;
    EXPECT_TRUE((*snap)->Get(Table::kMeta, "model", &payload).ok());
    auto newer = (*store)->OpenSnapshot(2);
    ASSERT_TRUE(newer.ok());
    EXPECT_EQ((*newer)->Get(Table::kMeta, "model", &payload).code(), StatusCode::kNotFound);
  }

  auto back = RunEncore("rollback --store " + Store());
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_TRUE(Has(back.out, "rolled back " + Store() + " from snapshot 2 to snapshot 1"))
      << back.out;
  EXPECT_TRUE(Has(back.out, "snapshot   created")) << back.out;
  EXPECT_EQ(ReadFile(Store() + "/CURRENT"), "1\n");

  // Nothing older than 1: the list, and a clear error.
  auto nothing = RunEncore("rollback --store " + Store());
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_TRUE(Has(nothing.err, "nothing to roll back to: snapshot 1 is the oldest kept"))
      << nothing.err;
  EXPECT_TRUE(Has(nothing.out, "1 ")) << nothing.out;
  EXPECT_TRUE(Has(nothing.out, "2 ")) << nothing.out;

  auto forward = RunEncore("rollback --store " + Store() + " --to 2");
  ASSERT_EQ(forward.exit_code, 0) << forward.err;
  EXPECT_EQ(ReadFile(Store() + "/CURRENT"), "2\n");

  auto unknown = RunEncore("rollback --store " + Store() + " --to 7");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(Has(unknown.err, "has no snapshot 7")) << unknown.err;
  EXPECT_EQ(ReadFile(Store() + "/CURRENT"), "2\n");

  auto list = RunEncore("rollback --store " + Store() + " --list");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Has(list.out, "*")) << list.out;
}

TEST_F(PublishCli, KeepPrunesOldSnapshots) {
  for (int i = 0; i < 3; ++i) {
    auto r = RunEncore("publish --model-file " + dir_.File("model.enc") + " --store " + Store() +
                       " --keep 2 --similar-n 0 -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(Has(r.out, " 0 similar-item payloads")) << r.out;
  }
  auto list = RunEncore("rollback --store " + Store() + " --list");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_FALSE(Has(list.out, "\n1 ")) << list.out;
  EXPECT_TRUE(Has(list.out, "\n2 ")) << list.out;
  EXPECT_TRUE(Has(list.out, "\n3 ")) << list.out;
}

TEST_F(PublishCli, ClearErrors) {
  auto bad_port = RunEncore("publish --model-file " + dir_.File("model.enc") +
                            " --store redis://localhost:notaport/0");
  EXPECT_EQ(bad_port.exit_code, 1);
  EXPECT_TRUE(Has(bad_port.err, "redis://localhost:notaport/0")) << bad_port.err;
  EXPECT_TRUE(Has(bad_port.err, "port")) << bad_port.err;

  auto bad_scheme = RunEncore("rollback --store rediss://localhost:6379/0");
  EXPECT_EQ(bad_scheme.exit_code, 1);
  EXPECT_TRUE(Has(bad_scheme.err, "unsupported store scheme 'rediss'")) << bad_scheme.err;

  std::filesystem::create_directories(dir_.File("home"));
  WriteFile(dir_.File("home/notes.txt"), "x");
  auto foreign =
      RunEncore("publish --model-file " + dir_.File("model.enc") + " --store " + dir_.File("home"));
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_TRUE(Has(foreign.err, "is not an encore store")) << foreign.err;

  auto missing = RunEncore("publish --model-file " + dir_.File("nope.enc") + " --store " + Store());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Has(missing.err, dir_.File("nope.enc"))) << missing.err;

  auto usage = RunEncore("publish --store " + Store());
  EXPECT_EQ(usage.exit_code, 2) << "--model-file is required";

  std::filesystem::create_directories(dir_.File("fresh"));  // an empty store
  auto empty = RunEncore("rollback --store " + dir_.File("fresh"));
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_TRUE(Has(empty.err, "no published snapshot yet")) << empty.err;
}

namespace encore {
namespace {

// Regression: a mistyped --store used to create an empty store and serve
// nothing (serve) or report "nothing published" (rollback).
TEST(PublishCliStore, ServeAndRollbackRefuseAStoreThatDoesNotExist) {
  testing::TempDir dir;
  for (const char* cmd : {"serve --port 0 --store ", "rollback --store "}) {
    auto r = testing::RunEncore(std::string(cmd) + dir.File("no-such-store"));
    EXPECT_EQ(r.exit_code, 1) << cmd << r.err;
    EXPECT_NE(r.err.find("no store at"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.File("no-such-store"))) << cmd;
  }
}

}  // namespace
}  // namespace encore

// A model larger than one Redis value (the server's proto-max-bulk-len,
// lowered here to its 1 MB minimum) is stored in chunks and read back whole;
// a live payload over the limit is refused before anything is sent.
TEST(PublishCliRedis, AModelOverTheValueLimitIsChunkedAndALivePayloadIsRefused) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok()) << "redis-server missing? run scripts/install-deps.sh";
  ASSERT_TRUE(redis.Command("CONFIG SET proto-max-bulk-len 1mb").ok());
  TempDir dir;
  auto gen = RunEncore("generate --profile plays --users 6000 --items 3000 --rows 40000 --seed 3 "
                       "--out " + dir.File("gen") + " --quiet");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto train = RunEncore("train --model ials --factors 64 --iterations 1 -i " +
                         dir.File("gen/plays.csv") + " --out " + dir.File("model.enc") + " --quiet");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const std::string model = ReadFile(dir.File("model.enc"));
  ASSERT_GT(model.size(), 2u << 20) << "the model must need at least three chunks";

  auto pub = RunEncore("publish --model-file " + dir.File("model.enc") + " --store " +
                       redis.Uri(2) + " --n 3 --quiet");
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  auto store = Store::Open(redis.Uri(2));
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto snap = (*store)->OpenSnapshot(1);
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  std::string stored;
  ASSERT_TRUE((*snap)->Get(Table::kMeta, "model", &stored).ok());
  EXPECT_EQ(stored.size(), model.size());
  EXPECT_TRUE(stored == model) << "the reassembled model differs from the file";
  std::string payload;
  ASSERT_TRUE((*snap)->Get(Table::kUser, "u1", &payload).ok() ||
              (*snap)->Get(Table::kMeta, "popular", &payload).ok());
  EXPECT_EQ(payload.find("encore-chunked"), std::string::npos);

  auto live = (*store)->OpenLive();
  ASSERT_TRUE(live.ok()) << live.status().message();
  LiveStore::Entry big;
  big.kind = LiveStore::Entry::Kind::kPayload;
  big.version = 1;
  big.key = "u1";
  big.value.assign(1u << 21, 'x');
  Status refused = (*live)->Write({big});
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.message();
  EXPECT_TRUE(Has(refused.message(), "live payload of user u1 is 2097152 bytes, over the limit of "
                                     "1048576 bytes"))
      << refused.message();
  EXPECT_TRUE(Has(refused.message(), "proto-max-bulk-len")) << refused.message();
  big.value = "{}";
  EXPECT_TRUE((*live)->Write({big}).ok()) << "the connection is still usable after a refusal";
}

}  // namespace
}  // namespace encore
