#include "encore/experiment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace encore {
namespace {

constexpr const char* kTwoVariants = R"(
name = "ials-vs-pop"
salt = "s1"
start = "2026-12-01T00:00:00Z"
stop = "2027-01-01T00:00:00Z"
control = "control"

[[variant]]
name = "control"
share = 50

[[variant]]
name = "treatment"
share = 50
payload = "treatment"

[forced]
"qa-alice" = "treatment"
"qa-bob" = "control"
)";

Experiment Parse(const std::string& text) {
  auto e = ParseExperiment(text, "exp.toml");
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? *e : Experiment();
}

std::string ErrorOf(const std::string& text) {
  auto e = ParseExperiment(text, "exp.toml");
  return e.ok() ? std::string("(parsed)") : e.status().message();
}

TEST(ExperimentDeclaration, ParsesEveryField) {
  Experiment e = Parse(kTwoVariants);
  EXPECT_EQ(e.name, "ials-vs-pop");
  EXPECT_EQ(e.salt, "s1");
  ASSERT_EQ(e.variants.size(), 2u);
  EXPECT_EQ(e.variants[0].payload, "default");
  EXPECT_EQ(e.variants[1].payload, "treatment");
  EXPECT_EQ(e.control, 0u);
  ASSERT_TRUE(e.start && e.stop);
  EXPECT_EQ(*e.start, 1796083200);  // 2026-12-01T00:00:00Z
  EXPECT_TRUE(e.Active(*e.start));
  EXPECT_FALSE(e.Active(*e.start - 1));
  EXPECT_FALSE(e.Active(*e.stop));
  EXPECT_EQ(e.forced.size(), 2u);
}

TEST(ExperimentDeclaration, RejectsBadDeclarationsWithClearErrors) {
  const std::string variants = "[[variant]]\nname = \"a\"\nshare = 50\n[[variant]]\nname = \"b\"\n";
  EXPECT_NE(ErrorOf("name = \"x\"\n" + variants + "share = 40\n").find("add up to 90, not 100"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\n" + variants + "share = 50\n[forced]\n\"u\" = \"c\"\n")
                .find("forced user 'u' names an unknown variant; declared: a, b"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\ncontrol = \"zz\"\n" + variants + "share = 50\n")
                .find("'control' names no declared variant"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\n[[variant]\n").find("exp.toml:2: not valid TOML"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\n[[variant]]\nname = \"a\"\nshare = 100\n")
                .find("at least two variants"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\n[[variant]]\nname = \"a\"\nshare = 50\n[[variant]]\nname = "
                    "\"a\"\nshare = 50\n")
                .find("declared twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\nshares = 3\n" + variants + "share = 50\n")
                .find("unknown key 'shares'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\n" + variants + "share = -5\n").find("'share' must be a number"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\n[[variant]]\nname = \"bad name\"\nshare = 50\n")
                .find("may hold only letters"),
            std::string::npos);
  EXPECT_NE(ErrorOf(variants + "share = 50\n").find("'name' is missing"), std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\nstart = 100\nstop = 50\n" + variants + "share = 50\n")
                .find("'stop' must be after 'start'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name = \"x\"\n").find("no variants"), std::string::npos);
}

TEST(ExperimentAssignment, IsStickyHonoursSharesAndForcedUsers) {
  Experiment e = Parse(std::string(kTwoVariants));
  e.variants[0].share = 30;
  e.variants[1].share = 70;
  const int n = 100000;
  int treatment = 0;
  for (int u = 0; u < n; ++u) {
    const std::string id = "user" + std::to_string(u);
    const size_t v = e.Assign(id);
    EXPECT_EQ(v, e.Assign(id));
    treatment += v == 1;
  }
  // 4 standard deviations of a binomial(100000, 0.7).
  EXPECT_NEAR(treatment, 0.7 * n, 4 * std::sqrt(n * 0.7 * 0.3));
  EXPECT_EQ(e.Assign("qa-alice"), 1u);
  EXPECT_EQ(e.Assign("qa-bob"), 0u);
  // Another salt is another shuffle.
  Experiment other = e;
  other.salt = "s2";
  int same = 0;
  for (int u = 0; u < 2000; ++u)
    same += e.Assign("u" + std::to_string(u)) == other.Assign("u" + std::to_string(u));
  EXPECT_LT(same, 1900);
}

TEST(ExperimentAssignment, ChangingSharesOnlyMovesUsersIntoOrOutOfTheChangedVariant) {
  Experiment before = Parse(
      "name = \"x\"\n[[variant]]\nname = \"a\"\nshare = 34\n[[variant]]\nname = \"b\"\nshare = "
      "33\n[[variant]]\nname = \"c\"\nshare = 33\n");
  Experiment grown = before;  // a: 34 -> 50; b and c give up users
  grown.variants[0].share = 50;
  grown.variants[1].share = 25;
  grown.variants[2].share = 25;
  Experiment added = before;  // a fourth variant joins
  added.variants.push_back({"d", 20, "default"});
  int moved = 0;
  for (int u = 0; u < 20000; ++u) {
    const std::string id = "u" + std::to_string(u);
    const size_t was = before.Assign(id);
    const size_t now = grown.Assign(id);
    if (was != now) {
      ++moved;
      EXPECT_EQ(now, 0u) << id << " moved between b and c";
    }
    const size_t with_d = added.Assign(id);
    EXPECT_TRUE(with_d == was || with_d == 3u) << id;
  }
  EXPECT_GT(moved, 2000);  // about 16% of users must move into a
}

// Simulated traffic: each user sees `exposures` answers; a click follows an
// exposure with probability ctr[v], a purchase of price 10 with purchase[v].
struct Simulation {
  std::vector<Event> events;
};

Simulation Simulate(const Experiment& e, int users, const std::vector<double>& ctr,
                    const std::vector<double>& purchase, uint32_t seed,
                    double drop_treatment_users = 0) {
  Simulation s;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  int rec = 0;
  for (int u = 0; u < users; ++u) {
    const std::string user = "u" + std::to_string(u);
    const size_t v = e.Assign(user);
    if (v == 1 && unit(rng) < drop_treatment_users) continue;  // planted SRM
    for (int x = 0; x < 3; ++x) {
      Event ex;
      ex.user = user;
      ex.item = "i" + std::to_string(x);
      ex.type = "exposure";
      ex.rec = "r" + std::to_string(rec++);
      ex.variant = e.variants[v].name;
      s.events.push_back(ex);
      if (unit(rng) < ctr[v]) {
        Event c = ex;
        c.type = "click";
        c.variant.clear();
        s.events.push_back(c);
        if (unit(rng) < purchase[v]) {
          Event p = c;
          p.type = "purchase";
          p.price = 10;
          s.events.push_back(p);
        }
      }
    }
  }
  return s;
}

TEST(ExperimentReport, RecoversAPlantedLiftWithinItsInterval) {
  Experiment e = Parse(kTwoVariants);
  e.start.reset();
  e.stop.reset();
  Simulation sim = Simulate(e, 20000, {0.10, 0.12}, {0.3, 0.3}, 7);
  auto r = AnalyzeExperiment(e, sim.events, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->variants.size(), 2u);
  const VariantReport& t = r->variants[1];
  ASSERT_TRUE(t.ctr_lift);
  EXPECT_LT(t.ctr_lift->low, 0.2);  // the planted lift 0.12 / 0.10 - 1
  EXPECT_GT(t.ctr_lift->high, 0.2);
  EXPECT_GT(t.ctr_lift->low, 0);  // and it is detected
  // The control's rate is within 4 standard errors of the planted 0.10 (a
  // 95% interval misses the truth one run in twenty by design).
  const Interval& c = r->variants[0].ctr;
  EXPECT_LT(std::fabs(c.estimate - 0.10), 4 * (c.high - c.low) / (2 * 1.959964));
  EXPECT_FALSE(r->srm) << r->srm_p;
  EXPECT_EQ(r->accepted, r->events);
  EXPECT_GT(r->sample_conversion, 0u);
  EXPECT_NE(r->method.find("fixed-horizon"), std::string::npos);
  EXPECT_NE(ExperimentReportText(*r).find("lift vs control"), std::string::npos);
  EXPECT_NE(ExperimentReportJson(*r).find("\"srm\":{"), std::string::npos);
}

TEST(ExperimentReport, FlagsAPlantedSampleRatioMismatch) {
  Experiment e = Parse(kTwoVariants);
  e.start.reset();
  e.stop.reset();
  Simulation sim = Simulate(e, 20000, {0.1, 0.1}, {0.3, 0.3}, 8, /*drop_treatment_users=*/0.05);
  auto r = AnalyzeExperiment(e, sim.events, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->srm) << r->srm_p;
  EXPECT_NE(ExperimentReportText(*r).find("SAMPLE RATIO MISMATCH"), std::string::npos);
}

TEST(ExperimentReport, CountsEveryRejectedEvent) {
  Experiment e = Parse(kTwoVariants);
  std::vector<Event> events;
  auto make = [](std::string type, std::string rec, std::string variant, int64_t t) {
    Event x;
    x.user = "u1";
    x.item = "i1";
    x.type = std::move(type);
    x.rec = std::move(rec);
    x.variant = std::move(variant);
    x.time = t;
    return x;
  };
  const int64_t inside = 1796100000, outside = 1700000000;
  events.push_back(make("exposure", "r1", "control", inside));    // ok
  events.push_back(make("exposure", "r2", "nope", inside));       // unknown variant
  events.push_back(make("exposure", "r3", "control", outside));   // outside the window
  events.push_back(make("click", "r1", "", inside));              // ok
  events.push_back(make("click", "r9", "", inside));              // no exposure
  events.push_back(make("purchase", "r1", "treatment", inside));  // variant mismatch
  events.push_back(make("click", "", "", inside));                // no rec
  events.push_back(make("view", "r1", "", inside));               // unknown type
  events.push_back(make("exposure", "", "control", inside));      // exposure without rec
  auto r = AnalyzeExperiment(e, events, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 2u);
  uint64_t rejected = 0;
  for (const auto& [_, n] : r->rejected) rejected += n;
  EXPECT_EQ(r->accepted + rejected, events.size());
  EXPECT_EQ(r->rejected["unknown_variant"], 1u);
  EXPECT_EQ(r->rejected["outside_window"], 1u);
  EXPECT_EQ(r->rejected["no_matching_exposure"], 1u);
  EXPECT_EQ(r->rejected["variant_mismatch"], 1u);
  EXPECT_EQ(r->rejected["outcome_without_rec"], 1u);
  EXPECT_EQ(r->rejected["unknown_event_type"], 1u);
  EXPECT_EQ(r->rejected["exposure_without_rec"], 1u);
}

TEST(RecommendationId, IsFreshForEveryAnswer) {
  const std::string a = NewRecommendationId("u1"), b = NewRecommendationId("u1");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 17u);
  EXPECT_EQ(a[0], 'r');
}

}  // namespace
}  // namespace encore
