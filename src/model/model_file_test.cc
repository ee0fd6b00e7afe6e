// Model files keep every parameter exactly: save -> load gives the same
// bits for random float and double parameters, and the parameter text is
// the shortest that reads back exactly.

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "encore/model_io.h"
#include "encore/recommender.h"
#include "test_data.h"
#include "test_util.h"

namespace encore {
namespace {

template <typename T>
bool SameBits(T a, T b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// A positive finite value of type T with random bits (any exponent,
// subnormals included), below `max`.
template <typename T, typename Bits>
T RandomPositive(std::mt19937_64& rng, T max) {
  for (;;) {
    Bits bits = static_cast<Bits>(rng());
    bits &= ~(Bits{1} << (sizeof(Bits) * 8 - 1));  // sign bit off
    T v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v) && v > 0 && v < max) return v;
  }
}

TEST(ModelFile, RandomParametersRoundTripExactly) {
  Dataset data = testing::MakeTestDataset();
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    ModelParams p;
    p.reg = RandomPositive<float, uint32_t>(rng, 1e30f);
    p.alpha = RandomPositive<float, uint32_t>(rng, 1e30f);
    p.init_scale = RandomPositive<float, uint32_t>(rng, 1e30f);
    p.half_life_days = RandomPositive<double, uint64_t>(rng, 1e300);
    if (round % 10 == 0) {  // the values %g used to round
      p.reg = 0.123456789f;
      p.alpha = 40.0000038f;
      p.half_life_days = 1.0 / 3.0;
    }
    auto m = CreateRecommender("popularity", p);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE((*m)->Fit(data).ok());
    TrainedModel trained{std::move(m).value(), std::move(data.users), std::move(data.items)};
    auto loaded = ParseModel(SerializeModel(trained), "memory");
    data.users = std::move(trained.users);
    data.items = std::move(trained.items);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    const ModelParams& q = loaded->model->params();
    EXPECT_TRUE(SameBits(q.reg, p.reg)) << p.reg << " became " << q.reg;
    EXPECT_TRUE(SameBits(q.alpha, p.alpha)) << p.alpha << " became " << q.alpha;
    EXPECT_TRUE(SameBits(q.init_scale, p.init_scale)) << p.init_scale;
    EXPECT_TRUE(SameBits(q.half_life_days, p.half_life_days)) << p.half_life_days;
    EXPECT_EQ(ModelParamsToList(q), ModelParamsToList(p));
  }
}

TEST(ModelFile, ParameterTextIsShortestAndOldTextStillReads) {
  ModelParams p;
  p.reg = 0.1f;
  p.half_life_days = 2.5;
  for (const auto& [name, value] : ModelParamsToList(p)) {
    if (name == "reg") {
      EXPECT_EQ(value, "0.1");
    }
    if (name == "half_life_days") {
      EXPECT_EQ(value, "2.5");
    }
  }
  // Files written before the change hold %g text (6 significant digits):
  // it still reads, as the value it names.
  ModelParams q;
  ASSERT_TRUE(SetModelParam(&q, "reg", "0.123457").ok());
  EXPECT_EQ(q.reg, 0.123457f);
  ASSERT_TRUE(SetModelParam(&q, "half_life_days", "1e-05").ok());
  EXPECT_EQ(q.half_life_days, 1e-05);
  // Beyond float's range is an error, not infinity.
  EXPECT_FALSE(SetModelParam(&q, "reg", "1e39").ok());
}

TEST(ModelWriter, ASinkGetsTheSameBytesAsTheBuffer) {
  // Small fields, an array larger than the 1 MB gather, arrays around it.
  std::vector<float> big(600000), small(1000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f;
  for (size_t i = 0; i < small.size(); ++i) small[i] = static_cast<float>(i);
  auto write = [&](ModelWriter* w) {
    for (int round = 0; round < 3; ++round) {
      w->Put<uint32_t>(7);
      w->PutString("kind");
      for (int j = 0; j < 300; ++j) w->PutArray(small);  // 1.2 MB in small pieces
      w->PutArray(big);
      w->Put<double>(0.25);
    }
  };
  ModelWriter buffered;
  write(&buffered);
  std::string streamed;
  size_t pieces = 0, largest = 0;
  ModelWriter sink([&](std::string_view piece) {
    streamed.append(piece);
    ++pieces;
    largest = std::max(largest, piece.size());
  });
  write(&sink);
  sink.Flush();
  EXPECT_EQ(streamed, buffered.buffer());
  EXPECT_EQ(sink.size(), buffered.buffer().size());
  EXPECT_EQ(buffered.size(), buffered.buffer().size());
  EXPECT_GT(pieces, 3u);
  EXPECT_EQ(largest, big.size() * sizeof(float));  // the big array unbuffered
  ModelWriter counter = ModelWriter::Counter();
  write(&counter);
  EXPECT_EQ(counter.size(), buffered.buffer().size());
  EXPECT_TRUE(counter.buffer().empty());
}

TEST(ModelFile, StreamedFileIsTheSerializedBytes) {
  for (const std::string kind : {"ials", "cooccurrence", "popularity"}) {
    Dataset data = testing::MakeTestDataset();
    ModelParams p;
    p.factors = 8;
    p.iterations = 2;
    auto m = CreateRecommender(kind, p);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE((*m)->Fit(data).ok());
    TrainedModel trained{std::move(m).value(), std::move(data.users), std::move(data.items)};
    testing::TempDir dir;
    uint64_t bytes = 0;
    ASSERT_TRUE(SaveModel(trained, dir.File("m.bin"), &bytes).ok());
    std::ifstream f(dir.File("m.bin"), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string serialized = SerializeModel(trained);
    EXPECT_TRUE(ss.str() == serialized) << kind;
    EXPECT_EQ(bytes, serialized.size()) << kind;
    auto loaded = LoadModel(dir.File("m.bin"));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(SerializeModel(*loaded) == serialized) << kind;
  }
}

TEST(ModelFile, AWriteErrorIsAnIOErrorNamingThePath) {
  Dataset data = testing::MakeTestDataset();
  auto m = CreateRecommender("popularity", ModelParams{});
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Fit(data).ok());
  TrainedModel trained{std::move(m).value(), std::move(data.users), std::move(data.items)};
  // A character device is written through; /dev/full fails every write.
  const Status st = SaveModel(trained, "/dev/full");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/dev/full"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace encore
