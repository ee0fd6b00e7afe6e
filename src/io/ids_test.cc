#include "encore/ids.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace encore
