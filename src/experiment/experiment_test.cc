#include "encore/experiment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "util/random.h"

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
  EXPECT_NE(ExperimentReportText(*r).find("lift: click-through"), std::string::npos);
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

// The always-valid interval by hand: confidence 0.95 (alpha 0.05), tightest
// at 10000 users, an estimate 0.1 with variance 1e-4 over 2500 users.
//   l = 2 ln(20) = 5.991465;  rho^2 = (l + ln(1 + l)) / 10000
//     = (5.991465 + 1.944690) / 10000 = 7.936155e-4
//   x = 2500 rho^2 = 1.984039
//   half^2 = 1e-4 (1 + 1/x) ln((1 + x) / 0.0025)
//          = 1e-4 * 1.504022 * ln(1193.6155) = 1e-4 * 1.504022 * 7.084742
//          = 1.065560e-3;  half = 0.0326429
TEST(AlwaysValidInterval, MatchesAHandWorkedExample) {
  EXPECT_NEAR(TuneMixing(10000, 0.05), 7.936155e-4, 1e-9);
  const Interval i = AlwaysValidInterval(0.1, 1e-4, 2500, 0.95, 10000);
  EXPECT_DOUBLE_EQ(i.estimate, 0.1);
  EXPECT_NEAR(i.high - 0.1, 0.0326429, 1e-6);
  EXPECT_NEAR(0.1 - i.low, 0.0326429, 1e-6);
  // The fixed-horizon interval: 0.1 +- 1.959964 * 0.01.
  const Interval f = FixedHorizonInterval(0.1, 1e-4, 0.95);
  EXPECT_NEAR(f.high - 0.1, 0.01959964, 1e-7);
  // The lift: 0.12 / 0.10 - 1 = 0.2, variance 1.2^2 (1e-4/0.0144 + 1e-4/0.01)
  //   = 1.44 * 0.016944 = 0.0244 (the delta method).
  auto lift = RelativeLift(0.12, 1e-4, 0.10, 1e-4);
  ASSERT_TRUE(lift);
  EXPECT_NEAR(lift->value, 0.2, 1e-12);
  EXPECT_NEAR(lift->variance, 0.0244, 1e-12);
  EXPECT_FALSE(RelativeLift(0.1, 1e-4, 0, 1e-4));
}

TEST(AlwaysValidInterval, AlwaysContainsTheFixedHorizonIntervalOfTheSameLevel) {
  for (double confidence : {0.8, 0.9, 0.95, 0.99, 0.999}) {
    for (double tightest : {100.0, 10000.0, 1e6}) {
      for (double n = 1; n < 1e8; n *= 1.7) {
        const Interval f = FixedHorizonInterval(0.3, 0.02 / n, confidence);
        const Interval a = AlwaysValidInterval(0.3, 0.02 / n, n, confidence, tightest);
        EXPECT_LT(a.low, f.low) << confidence << " " << tightest << " " << n;
        EXPECT_GT(a.high, f.high) << confidence << " " << tightest << " " << n;
      }
    }
  }
}

// A/A experiments read every day: 30 days of 200 new users per variant and
// day, each converting with probability 0.1 in both variants, 400 runs
// (fixed seed). A run is a false positive when, on any day, the conversion
// lift's interval excludes 0 (or the control's rate interval excludes the
// true 0.1). Stopping at the first "significant" day with the fixed-horizon
// interval does that far more often than 5%; the always-valid interval stays
// below 5%.
TEST(AlwaysValidInterval, KeepsTheFalsePositiveRateUnderAlphaWhenPeekingDaily) {
  const int runs = 400, days = 30, per_day = 200;
  const double p = 0.1, confidence = 0.95, alpha = 1 - confidence;
  SplitMix64 rng(20261206);
  int fixed_lift = 0, always_lift = 0, fixed_rate = 0, always_rate = 0;
  for (int run = 0; run < runs; ++run) {
    double n = 0, conv[2] = {0, 0};
    bool fl = false, al = false, fr = false, ar = false;
    for (int day = 0; day < days; ++day) {
      for (int u = 0; u < per_day; ++u) {
        conv[0] += rng.Uniform() < p;
        conv[1] += rng.Uniform() < p;
      }
      n += per_day;
      // Per-user conversion is 0/1: the mean and the variance of the mean
      // as AnalyzeExperiment computes them (sample variance / n).
      double mean[2], var[2];
      for (int v = 0; v < 2; ++v) {
        mean[v] = conv[v] / n;
        var[v] = mean[v] * (1 - mean[v]) * n / (n - 1) / n;
      }
      auto lift = RelativeLift(mean[1], var[1], mean[0], var[0]);
      ASSERT_TRUE(lift);
      const Interval lf = FixedHorizonInterval(lift->value, lift->variance, confidence);
      const Interval la = AlwaysValidInterval(lift->value, lift->variance, n, confidence, 10000);
      fl |= lf.low > 0 || lf.high < 0;
      al |= la.low > 0 || la.high < 0;
      const Interval rf = FixedHorizonInterval(mean[0], var[0], confidence);
      const Interval ra = AlwaysValidInterval(mean[0], var[0], n, confidence, 10000);
      fr |= rf.low > p || rf.high < p;
      ar |= ra.low > p || ra.high < p;
    }
    fixed_lift += fl;
    always_lift += al;
    fixed_rate += fr;
    always_rate += ar;
  }
  std::printf(
      "A/A daily peeking over %d runs: false positives fixed %d (lift) %d (rate), "
      "always-valid %d (lift) %d (rate)\n",
      runs, fixed_lift, fixed_rate, always_lift, always_rate);
  EXPECT_LE(always_lift, alpha * runs);
  EXPECT_LE(always_rate, alpha * runs);
  EXPECT_GT(fixed_lift, 2 * alpha * runs);
  EXPECT_GT(fixed_rate, 2 * alpha * runs);
}

TEST(ExperimentReport, ReportsAlwaysValidIntervalsBesideTheFixedOnes) {
  Experiment e = Parse(kTwoVariants);
  e.start.reset();
  e.stop.reset();
  Simulation sim = Simulate(e, 4000, {0.10, 0.12}, {0.3, 0.3}, 9);
  ExperimentReportOptions options;
  options.cs_users = 5000;
  auto r = AnalyzeExperiment(e, sim.events, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const VariantReport& v : r->variants) {
    EXPECT_EQ(v.ctr_always.estimate, v.ctr.estimate);
    EXPECT_LT(v.ctr_always.low, v.ctr.low);
    EXPECT_GT(v.ctr_always.high, v.ctr.high);
    EXPECT_LT(v.conversion_always.low, v.conversion.low);
    EXPECT_GT(v.revenue_per_user_always.high, v.revenue_per_user.high);
  }
  const VariantReport& t = r->variants[1];
  ASSERT_TRUE(t.ctr_lift && t.ctr_lift_always);
  EXPECT_LT(t.ctr_lift_always->low, t.ctr_lift->low);
  EXPECT_GT(t.ctr_lift_always->high, t.ctr_lift->high);
  EXPECT_FALSE(r->variants[0].ctr_lift_always);
  EXPECT_NE(r->method.find("always-valid"), std::string::npos);
  const std::string json = ExperimentReportJson(*r);
  EXPECT_NE(json.find("\"always_valid\":{\"ctr\":{"), std::string::npos);
  EXPECT_NE(json.find("\"cs_users\":5000"), std::string::npos);
  EXPECT_NE(ExperimentReportText(*r).find("always-valid interval"), std::string::npos);
  options.cs_users = 0;
  auto bad = AnalyzeExperiment(e, sim.events, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--cs-users"), std::string::npos);
}

TEST(RecommendationId, IsFreshForEveryAnswer) {
  const std::string a = NewRecommendationId("u1"), b = NewRecommendationId("u1");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 17u);
  EXPECT_EQ(a[0], 'r');
}

}  // namespace
}  // namespace encore
