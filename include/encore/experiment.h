// Experiments: A/B tests of recommendation variants (docs/EXPERIMENTS.md).
//
// An Experiment is a declaration (a TOML file): its name, a salt, an
// optional start and stop, the variants with their traffic shares (which
// add up to 100) and the snapshot payload each one serves, the control
// variant, and users forced into a variant for QA.
//
// Assignment is sticky and stateless: a user's variant is a pure function of
// (salt, variant names, shares, user id). It uses weighted rendezvous
// hashing: every variant v draws u_v = H(salt, v, user) uniform in (0,1) and
// the user goes to the variant with the largest -share_v / ln(u_v), which
// happens with probability share_v / 100. The rule this buys (the one to
// rely on when changing a running experiment): raising a variant's share
// only moves users INTO it, lowering it only moves users OUT of it, adding a
// variant only moves users into the new one, and removing one only moves
// its own users; no other user ever changes variant. Changing the salt
// reshuffles everyone (a new experiment).
//
// AnalyzeExperiment reads logged events (encore/event.h with `rec` and
// `variant`): exposures ("exposure" events naming the recommendation id and
// variant a served answer carried) and outcomes (clicks, carts, purchases
// naming the same `rec`), and computes per-variant rates with fixed-horizon
// confidence intervals and, beside them, always-valid (sequential)
// confidence sequences that stay valid when the report is read every day,
// lifts against control, a sample-ratio-mismatch test and sample sizes. Every event is either
// counted or rejected with a reason; nothing is dropped silently.
//
// Thread-safety: an Experiment is immutable after loading; its const
// methods may be called from any number of threads.
#ifndef ENCORE_EXPERIMENT_H_
#define ENCORE_EXPERIMENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/event.h"
#include "encore/status.h"

namespace encore {

struct ExperimentVariant {
  std::string name;     // 1..64 of [A-Za-z0-9_.-]
  double share = 0;     // percent of traffic, >= 0; all shares add up to 100
  std::string payload;  // "default" (the snapshot's own user payloads) or a
                        // variant published with `encore publish --variant`
};

// 1..64 of [A-Za-z0-9_.-], not "default" (the snapshot's own payloads).
Status CheckVariantName(std::string_view name);

class Experiment {
 public:
  std::string name;
  std::string salt;
  std::optional<int64_t> start;  // unix seconds, inclusive
  std::optional<int64_t> stop;   // unix seconds, exclusive
  std::vector<ExperimentVariant> variants;
  size_t control = 0;                         // index into variants
  std::map<std::string, std::string> forced;  // user -> variant name

  // The index of the user's variant (forced users first).
  size_t Assign(std::string_view user) const;
  // Whether the experiment runs at `unix_seconds`.
  bool Active(int64_t unix_seconds) const;
  // The variant's index, or -1.
  int VariantIndex(std::string_view variant) const;
};

// Parses and validates a declaration; `origin` (a file name) prefixes errors:
//   name = "ials-vs-popularity"        required
//   salt = "2026-12"                   optional (default: the name)
//   start = "2026-12-01T00:00:00Z"     optional; ISO 8601 or unix seconds
//   stop  = "2027-01-01T00:00:00Z"     optional; after start
//   control = "control"                optional (default: the first variant)
//   [[variant]]                        two or more
//   name = "control"
//   share = 50                         percent; all shares add up to 100
//   payload = "default"                optional (default: "default")
//   [forced]                           optional
//   "qa-alice" = "treatment"
Result<Experiment> ParseExperiment(std::string_view toml, std::string_view origin);
Result<Experiment> LoadExperiment(const std::string& path);

// A recommendation id for an answer: "r" + 16 hex digits, unique per
// process call (a hash of the user, the clock and a counter).
std::string NewRecommendationId(std::string_view user);

struct ExperimentReportOptions {
  double confidence = 0.95;  // two-sided, of every interval
  double mde = 0.05;         // minimum detectable relative effect for sample sizes
  double power = 0.8;
  double srm_alpha = 0.001;  // flag a sample-ratio mismatch below this p-value
  // The always-valid intervals are tightest when a variant has this many
  // users (their mixing parameter, docs/EXPERIMENTS.md); > 0.
  double cs_users = 10000;
  std::string exposure = "exposure", click = "click", cart = "cart", purchase = "purchase";
};

// An estimate with its confidence interval.
struct Interval {
  double estimate = 0, low = 0, high = 0;
};

struct VariantReport {
  std::string name;
  double share = 0;
  bool control = false;
  uint64_t users = 0, exposures = 0, clicks = 0, carts = 0, purchases = 0;
  double revenue = 0;
  Interval ctr;               // clicks per exposure (delta method over users)
  Interval conversion;        // share of exposed users with a purchase
  Interval revenue_per_user;  // revenue / exposed users
  // Relative lifts against control (estimate 0.1 = +10%); absent for control.
  std::optional<Interval> ctr_lift, conversion_lift, revenue_lift;
  // The same quantities with always-valid intervals (the same estimates;
  // wider intervals that may be read at any time, AlwaysValidInterval).
  Interval ctr_always, conversion_always, revenue_per_user_always;
  std::optional<Interval> ctr_lift_always, conversion_lift_always, revenue_lift_always;
};

struct ExperimentReport {
  std::string experiment;
  double confidence = 0.95;
  std::vector<VariantReport> variants;
  // Sample-ratio mismatch: chi-square of exposed users against the shares.
  double srm_chi2 = 0, srm_p = 1;
  bool srm = false;  // srm_p < srm_alpha
  // Users per variant needed to detect a relative change of `mde` (from the
  // control's observed rates) at 1 - confidence with `power`.
  double mde = 0.05, power = 0.8;
  uint64_t sample_conversion = 0, sample_revenue = 0;
  uint64_t events = 0, accepted = 0;
  std::map<std::string, uint64_t> rejected;  // reason -> count
  std::string method;                        // how the intervals were computed
  double cs_users = 10000;                   // ExperimentReportOptions::cs_users
};

// The interval arithmetic behind the report, for tests and other callers.
// `variance` is the variance of the estimate (its squared standard error).
//
// FixedHorizonInterval: estimate +- z * sqrt(variance), z the two-sided
// normal quantile of `confidence`.
Interval FixedHorizonInterval(double estimate, double variance, double confidence);
// AlwaysValidInterval: the normal-mixture confidence sequence (Robbins;
// Johari et al. 2017 "always valid p-values"; in the asymptotic form of
// Waudby-Smith et al. 2021). With alpha = 1 - confidence, `units` the
// independent units (users) behind the estimate and rho^2 =
// TuneMixing(tightest_units, alpha) the mixing parameter:
//   half = sqrt(variance * (1 + 1 / (units rho^2)) * ln((1 + units rho^2) / alpha^2))
// The chance that ANY of the intervals computed as units grow misses the
// true value is at most alpha (asymptotically: normal estimates with a
// consistent variance). It always contains the fixed-horizon interval of the
// same confidence (for confidence >= 0.6). REQUIRES: units > 0,
// tightest_units > 0, 0 < confidence < 1.
Interval AlwaysValidInterval(double estimate, double variance, double units, double confidence,
                             double tightest_units);
// rho^2 making the always-valid interval narrowest at `tightest_units`:
// (2 ln(1/alpha) + ln(1 + 2 ln(1/alpha))) / tightest_units.
double TuneMixing(double tightest_units, double alpha);
// The relative lift t / c - 1 of two independent estimates and the variance
// of that estimate (delta method); nullopt when c <= 0.
struct LiftEstimate {
  double value = 0, variance = 0;
};
std::optional<LiftEstimate> RelativeLift(double t, double t_variance, double c, double c_variance);

Result<ExperimentReport> AnalyzeExperiment(const Experiment& experiment,
                                           std::span<const Event> events,
                                           const ExperimentReportOptions& options);
// The report as text (the default of `encore experiment report`) or JSON
// (--json). Callers may add rejections found before analysis (unreadable
// lines) to report.rejected first.
std::string ExperimentReportText(const ExperimentReport& report);
std::string ExperimentReportJson(const ExperimentReport& report);

}  // namespace encore

#endif  // ENCORE_EXPERIMENT_H_
