#include "encore/ids.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace encore {
namespace {

TEST(IdDictionary, RoundTripReturnsOriginalBytes) {
  IdDictionary d;
  const std::string weird("a\0b\xff,\"x\"", 8);
  std::vector<std::string> ids = {"007", "7", "", weird, "émile@example.com",
                                  std::string(1 << 19, 'z'), "18446744073709551615"};
  std::vector<uint32_t> idx;
  for (const auto& id : ids) idx.push_back(d.Intern(id));
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(idx[i], i) << "dense indices in insertion order";
    EXPECT_EQ(d.Name(idx[i]), ids[i]);
    EXPECT_EQ(d.Intern(ids[i]), idx[i]) << "interning twice gives the same index";
  }
  EXPECT_EQ(d.size(), ids.size());
  EXPECT_FALSE(d.Find("07").has_value());
}

TEST(IdDictionary, ManyIdsSurviveArenaGrowth) {
  IdDictionary d;
  for (int i = 0; i < 300000; ++i) d.Intern("user-" + std::to_string(i));
  for (int i = 0; i < 300000; i += 997) {
    EXPECT_EQ(d.Name(*d.Find("user-" + std::to_string(i))), "user-" + std::to_string(i));
  }
  IdDictionary moved = std::move(d);
  EXPECT_EQ(moved.Name(5), "user-5");
}

// A slot keeps 24 bits of the hash, the length (capped at 255) and the
// first 8 bytes: ids alike in all of these must still be told apart.
TEST(IdDictionary, IdsAlikeInTheirSlotAreDistinct) {
  IdDictionary d;
  const std::vector<std::string> ids = {
      "",                                   // empty
      std::string("ab", 2),                 // short
      std::string("ab\0", 3),               // the same bytes padded with NUL
      std::string("ab\0\0\0\0\0\0", 8),      // ... up to the inline width
      std::string("ab\0\0\0\0\0\0\0", 9),    // ... and past it
      "abcdefgh",                           // exactly 8 bytes inline
      "abcdefghX",                          // 8 inline bytes alike, tails differ
      "abcdefghY",
      "abcdefghXY",                         // same prefix, other length
      std::string(255, 'q'),                // lengths at and past the cap of 255
      std::string(256, 'q'),
      std::string(300, 'q'),
      std::string(300, 'q') + "r",
      std::string(299, 'q') + "r",
  };
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(d.Intern(ids[i]), i) << i;
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(d.Intern(ids[i]), i) << i;
    EXPECT_EQ(d.Find(ids[i]), std::optional<uint32_t>(i)) << i;
    EXPECT_EQ(d.Name(static_cast<uint32_t>(i)), ids[i]) << i;
  }
  EXPECT_FALSE(d.Find("abcdefghZ").has_value());
  EXPECT_FALSE(d.Find(std::string(301, 'q')).has_value());
}

// Random ids of 0-40 bytes from a small alphabet (many share prefixes and
// lengths) against std::unordered_map, across many table growths.
TEST(IdDictionary, AgreesWithUnorderedMapOnRandomIds) {
  std::mt19937_64 rng(5);
  IdDictionary d;
  std::unordered_map<std::string, uint32_t> ref;
  for (int step = 0; step < 200000; ++step) {
    std::string id(rng() % 41, 'a');
    for (char& c : id) c = "ab\0"[rng() % 3];
    const auto it = ref.find(id);
    const std::optional<uint32_t> found = d.Find(id);
    ASSERT_EQ(found.has_value(), it != ref.end()) << step;
    const uint32_t idx = d.Intern(id);
    if (it == ref.end()) {
      ASSERT_EQ(idx, ref.size());
      ref.emplace(id, idx);
    } else {
      ASSERT_EQ(idx, it->second);
    }
  }
  ASSERT_EQ(d.size(), ref.size());
  for (const auto& [id, idx] : ref) ASSERT_EQ(d.Name(idx), id);
}

}  // namespace
}  // namespace encore
