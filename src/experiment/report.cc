// Experiment analysis (encore/experiment.h): exposures and outcomes joined by
// recommendation id, per-variant rates with fixed-horizon intervals, lifts,
// the sample-ratio-mismatch test and sample sizes.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "encore/experiment.h"
#include "util/json_writer.h"

namespace encore {
namespace {

// The standard normal quantile (Acklam's rational approximation, refined by
// one Newton step on erfc; |error| < 1e-12).
double NormalQuantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - 0.02425) {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

// The upper regularized incomplete gamma function Q(s, x) (series below
// s + 1, Lentz's continued fraction above).
double GammaQ(double s, double x) {
  if (x <= 0) return 1;
  const double lg = std::lgamma(s);
  if (x < s + 1) {
    double sum = 1 / s, term = sum;
    for (int n = 1; n < 1000; ++n) {
      term *= x / (s + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
    }
    return std::max(0.0, 1 - sum * std::exp(-x + s * std::log(x) - lg));
  }
  const double tiny = 1e-300;
  double b = x + 1 - s, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::exp(-x + s * std::log(x) - lg) * h;
}

struct UserTotals {
  double exposures = 0, clicks = 0, carts = 0, purchases = 0, revenue = 0;
};

struct Moments {
  double n = 0, mean = 0, var = 0;  // var: sample variance (n - 1)
};

template <typename F>
Moments Compute(const std::vector<UserTotals>& users, F f) {
  Moments m;
  m.n = static_cast<double>(users.size());
  if (users.empty()) return m;
  for (const auto& u : users) m.mean += f(u);
  m.mean /= m.n;
  if (users.size() > 1) {
    for (const auto& u : users) m.var += (f(u) - m.mean) * (f(u) - m.mean);
    m.var /= m.n - 1;
  }
  return m;
}

// A mean and the variance of its estimate.
struct Estimate {
  double value = 0, var = 0;
};

Estimate MeanEstimate(const Moments& m) { return {m.mean, m.n > 0 ? m.var / m.n : 0}; }

// Clicks per exposure: a ratio of two per-user means, with the delta-method
// variance (users, not exposures, are the independent units).
Estimate RatioEstimate(const std::vector<UserTotals>& users) {
  Estimate e;
  if (users.empty()) return e;
  const Moments x = Compute(users, [](const UserTotals& u) { return u.exposures; });
  const Moments y = Compute(users, [](const UserTotals& u) { return u.clicks; });
  if (x.mean <= 0) return e;
  e.value = y.mean / x.mean;
  double var = 0;
  if (users.size() > 1) {
    for (const auto& u : users) {
      const double r = u.clicks - e.value * u.exposures;
      var += r * r;
    }
    var /= x.n - 1;
  }
  e.var = var / (x.n * x.mean * x.mean);
  return e;
}

Interval ToInterval(const Estimate& e, double z) {
  const double half = z * std::sqrt(std::max(0.0, e.var));
  return {e.value, e.value - half, e.value + half};
}

// The always-valid interval of a per-variant estimate over `users` units;
// with no user, the estimate alone (as the fixed-horizon interval gives).
Interval ToAlwaysValid(const Estimate& e, double users, double confidence, double cs_users) {
  if (!(users > 0)) return {e.value, e.value, e.value};
  return AlwaysValidInterval(e.value, e.var, users, confidence, cs_users);
}

// Relative lift t / c - 1 with the fixed-horizon and the always-valid
// interval; the always-valid one counts the harmonic mean of the two
// variants' users as its units (the users of each variant under an equal
// split).
struct LiftIntervals {
  std::optional<Interval> fixed, always;
};
LiftIntervals Lift(const Estimate& t, double t_users, const Estimate& c, double c_users,
                   double confidence, double cs_users) {
  LiftIntervals out;
  auto lift = RelativeLift(t.value, t.var, c.value, c.var);
  if (!lift) return out;
  out.fixed = FixedHorizonInterval(lift->value, lift->variance, confidence);
  if (t_users > 0 && c_users > 0) {
    const double units = 2 * t_users * c_users / (t_users + c_users);
    out.always = AlwaysValidInterval(lift->value, lift->variance, units, confidence, cs_users);
  }
  return out;
}

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * v);
  return buf;
}

std::string Fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void WriteInterval(JsonWriter* w, std::string_view key, const Interval& i) {
  w->Key(key);
  w->BeginObject();
  w->Key("estimate");
  w->Double(i.estimate);
  w->Key("low");
  w->Double(i.low);
  w->Key("high");
  w->Double(i.high);
  w->EndObject();
}

}  // namespace

Interval FixedHorizonInterval(double estimate, double variance, double confidence) {
  return ToInterval({estimate, variance}, NormalQuantile(1 - (1 - confidence) / 2));
}

double TuneMixing(double tightest_units, double alpha) {
  const double l = 2 * std::log(1 / alpha);
  return (l + std::log(1 + l)) / tightest_units;
}

Interval AlwaysValidInterval(double estimate, double variance, double units, double confidence,
                             double tightest_units) {
  const double alpha = 1 - confidence;
  const double x = units * TuneMixing(tightest_units, alpha);  // units * rho^2
  const double half =
      std::sqrt(std::max(0.0, variance) * (1 + 1 / x) * std::log((1 + x) / (alpha * alpha)));
  return {estimate, estimate - half, estimate + half};
}

std::optional<LiftEstimate> RelativeLift(double t, double t_variance, double c, double c_variance) {
  if (!(c > 0)) return std::nullopt;
  const double ratio = t / c;
  double var =
      t > 0 ? ratio * ratio * (t_variance / (t * t) + c_variance / (c * c)) : t_variance / (c * c);
  return LiftEstimate{ratio - 1, var};
}

Result<ExperimentReport> AnalyzeExperiment(const Experiment& experiment,
                                           std::span<const Event> events,
                                           const ExperimentReportOptions& options) {
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return Status::InvalidArgument("confidence must be between 0 and 1 (e.g. 0.95)");
  }
  if (!(options.mde > 0))
    return Status::InvalidArgument("the minimum detectable effect must be > 0");
  if (!(options.power > 0 && options.power < 1)) {
    return Status::InvalidArgument("power must be between 0 and 1 (e.g. 0.8)");
  }
  if (!(options.cs_users > 0)) {
    return Status::InvalidArgument(
        "--cs-users (the users per variant where the always-valid intervals are tightest) must "
        "be > 0, e.g. 10000");
  }
  ExperimentReport report;
  report.experiment = experiment.name;
  report.confidence = options.confidence;
  report.mde = options.mde;
  report.power = options.power;
  report.cs_users = options.cs_users;
  report.events = events.size();
  const double z = NormalQuantile(1 - (1 - options.confidence) / 2);
  auto reject = [&](const char* reason) { ++report.rejected[reason]; };

  // Pass 1: exposures define recommendation ids -> (user, variant).
  struct Exposure {
    std::string user;
    size_t variant;
  };
  std::unordered_map<std::string, Exposure> recs;
  std::set<std::string> seen_ids;
  const size_t k = experiment.variants.size();
  std::vector<std::unordered_map<std::string, UserTotals>> users(k);
  std::vector<char> counted(events.size(), 0);
  auto duplicate = [&](const Event& e) {
    if (e.id.empty()) return false;
    return !seen_ids.insert(e.id).second;
  };
  auto in_window = [&](const Event& e) { return !e.time || experiment.Active(*e.time); };
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.type != options.exposure) continue;
    counted[i] = 1;
    if (duplicate(e)) {
      reject("duplicate_id");
      continue;
    }
    if (e.rec.empty()) {
      reject("exposure_without_rec");
      continue;
    }
    if (e.variant.empty()) {
      reject("exposure_without_variant");
      continue;
    }
    const int v = experiment.VariantIndex(e.variant);
    if (v < 0) {
      reject("unknown_variant");
      continue;
    }
    if (!in_window(e)) {
      reject("outside_window");
      continue;
    }
    auto [it, inserted] = recs.try_emplace(e.rec, Exposure{e.user, static_cast<size_t>(v)});
    if (!inserted && (it->second.user != e.user || it->second.variant != static_cast<size_t>(v))) {
      reject("conflicting_exposure");
      continue;
    }
    users[v][e.user].exposures += 1;
    ++report.accepted;
  }
  // Pass 2: outcomes joined to their exposure.
  for (size_t i = 0; i < events.size(); ++i) {
    if (counted[i]) continue;
    const Event& e = events[i];
    const bool click = e.type == options.click, cart = e.type == options.cart,
               purchase = e.type == options.purchase;
    if (!click && !cart && !purchase) {
      reject("unknown_event_type");
      continue;
    }
    if (duplicate(e)) {
      reject("duplicate_id");
      continue;
    }
    if (e.rec.empty()) {
      reject("outcome_without_rec");
      continue;
    }
    auto it = recs.find(e.rec);
    if (it == recs.end()) {
      reject(!e.variant.empty() && experiment.VariantIndex(e.variant) < 0 ? "unknown_variant"
                                                                          : "no_matching_exposure");
      continue;
    }
    const Exposure& x = it->second;
    if (!e.variant.empty() && e.variant != experiment.variants[x.variant].name) {
      reject(experiment.VariantIndex(e.variant) < 0 ? "unknown_variant" : "variant_mismatch");
      continue;
    }
    if (e.user != x.user) {
      reject("user_mismatch");
      continue;
    }
    UserTotals& u = users[x.variant][x.user];
    if (click) u.clicks += 1;
    if (cart) u.carts += 1;
    if (purchase) {
      u.purchases += 1;
      u.revenue += e.price.value_or(0) * e.quantity;
    }
    ++report.accepted;
  }

  // Per variant.
  std::vector<Estimate> ctr(k), conv(k), rev(k);
  uint64_t total_users = 0;
  for (size_t v = 0; v < k; ++v) {
    std::vector<UserTotals> list;
    list.reserve(users[v].size());
    for (auto& [_, t] : users[v]) list.push_back(t);
    VariantReport r;
    r.name = experiment.variants[v].name;
    r.share = experiment.variants[v].share;
    r.control = v == experiment.control;
    r.users = list.size();
    for (const auto& t : list) {
      r.exposures += static_cast<uint64_t>(t.exposures);
      r.clicks += static_cast<uint64_t>(t.clicks);
      r.carts += static_cast<uint64_t>(t.carts);
      r.purchases += static_cast<uint64_t>(t.purchases);
      r.revenue += t.revenue;
    }
    ctr[v] = RatioEstimate(list);
    conv[v] = MeanEstimate(
        Compute(list, [](const UserTotals& t) { return t.purchases > 0 ? 1.0 : 0.0; }));
    rev[v] = MeanEstimate(Compute(list, [](const UserTotals& t) { return t.revenue; }));
    r.ctr = ToInterval(ctr[v], z);
    r.conversion = ToInterval(conv[v], z);
    r.revenue_per_user = ToInterval(rev[v], z);
    const double n = static_cast<double>(r.users), cl = options.confidence, cs = options.cs_users;
    r.ctr_always = ToAlwaysValid(ctr[v], n, cl, cs);
    r.conversion_always = ToAlwaysValid(conv[v], n, cl, cs);
    r.revenue_per_user_always = ToAlwaysValid(rev[v], n, cl, cs);
    total_users += r.users;
    report.variants.push_back(std::move(r));
  }
  const size_t c = experiment.control;
  for (size_t v = 0; v < k; ++v) {
    if (v == c) continue;
    VariantReport& r = report.variants[v];
    const double nt = static_cast<double>(r.users),
                 nc = static_cast<double>(report.variants[c].users);
    const double cl = options.confidence, cs = options.cs_users;
    LiftIntervals l = Lift(ctr[v], nt, ctr[c], nc, cl, cs);
    r.ctr_lift = l.fixed;
    r.ctr_lift_always = l.always;
    l = Lift(conv[v], nt, conv[c], nc, cl, cs);
    r.conversion_lift = l.fixed;
    r.conversion_lift_always = l.always;
    l = Lift(rev[v], nt, rev[c], nc, cl, cs);
    r.revenue_lift = l.fixed;
    r.revenue_lift_always = l.always;
  }

  // Sample-ratio mismatch over variants with a positive share.
  double chi2 = 0;
  int df = -1;
  for (size_t v = 0; v < k; ++v) {
    if (!(experiment.variants[v].share > 0)) continue;
    const double expected = total_users * experiment.variants[v].share / 100;
    ++df;
    if (expected > 0) {
      const double d = report.variants[v].users - expected;
      chi2 += d * d / expected;
    }
  }
  report.srm_chi2 = chi2;
  report.srm_p = df > 0 && total_users > 0 ? GammaQ(df / 2.0, chi2 / 2) : 1;
  report.srm = report.srm_p < options.srm_alpha;

  // Sample sizes per variant for a relative change of mde from control.
  const double zz = z + NormalQuantile(options.power);
  const double p1 = conv[c].value, p2 = p1 * (1 + options.mde);
  if (p1 > 0 && p2 < 1) {
    report.sample_conversion = static_cast<uint64_t>(
        std::ceil(zz * zz * (p1 * (1 - p1) + p2 * (1 - p2)) / ((p2 - p1) * (p2 - p1))));
  }
  const double mu = rev[c].value,
               sd2 = rev[c].var * std::max(1.0, double(report.variants[c].users));
  if (mu > 0) {
    const double delta = mu * options.mde;
    report.sample_revenue = static_cast<uint64_t>(std::ceil(2 * zz * zz * sd2 / (delta * delta)));
  }
  report.method =
      "fixed-horizon: normal-approximation " + Fixed(100 * options.confidence, 0) +
      "% intervals (users are the units; click-through rate and lifts by the delta method), valid "
      "once, at the sample size planned in advance; looking daily and stopping at the first "
      "significant result inflates false positives. always-valid: normal-mixture confidence "
      "sequences at the same level, tightest at " +
      Fixed(options.cs_users, 0) +
      " users per variant (--cs-users); they may be read every day and stopped on at any time.";
  return report;
}

std::string ExperimentReportText(const ExperimentReport& r) {
  std::string s;
  auto line = [&](const std::string& x) { s += x + "\n"; };
  line("experiment " + r.experiment);
  auto ci = [](const Interval& i, bool pct, int digits) {
    if (pct) return Percent(i.estimate) + " [" + Percent(i.low) + ", " + Percent(i.high) + "]";
    return Fixed(i.estimate, digits) + " [" + Fixed(i.low, digits) + ", " + Fixed(i.high, digits) +
           "]";
  };
  for (const auto& v : r.variants) {
    line("");
    line("variant " + v.name + (v.control ? " (control)" : "") + ", share " + Fixed(v.share, 2) +
         "%");
    line("  users " + std::to_string(v.users) + ", exposures " + std::to_string(v.exposures) +
         ", clicks " + std::to_string(v.clicks) + ", carts " + std::to_string(v.carts) +
         ", purchases " + std::to_string(v.purchases) + ", revenue " + Fixed(v.revenue, 2));
    line("                     estimate [fixed-horizon interval]  always-valid interval");
    auto row = [&](const std::string& label, const Interval& fixed, const Interval& always,
                   bool pct, int digits) {
      std::string left = label + ci(fixed, pct, digits);
      if (left.size() < 55) left.resize(55, ' ');
      const std::string a = pct ? Percent(always.low) : Fixed(always.low, digits);
      const std::string b = pct ? Percent(always.high) : Fixed(always.high, digits);
      line(left + "  [" + a + ", " + b + "]");
    };
    row("  click-through rate ", v.ctr, v.ctr_always, true, 0);
    row("  conversion         ", v.conversion, v.conversion_always, true, 0);
    row("  revenue per user   ", v.revenue_per_user, v.revenue_per_user_always, false, 4);
    auto lift_row = [&](const std::string& label, const std::optional<Interval>& fixed,
                        const std::optional<Interval>& always) {
      if (!fixed) return;
      row(label, *fixed, always ? *always : *fixed, true, 0);
    };
    lift_row("  lift: click-through ", v.ctr_lift, v.ctr_lift_always);
    lift_row("  lift: conversion    ", v.conversion_lift, v.conversion_lift_always);
    lift_row("  lift: revenue/user  ", v.revenue_lift, v.revenue_lift_always);
  }
  line("");
  char buf[160];
  std::snprintf(buf, sizeof buf, "sample ratio: chi-square %.3f, p = %.3g%s", r.srm_chi2, r.srm_p,
                r.srm ? "  SAMPLE RATIO MISMATCH: assignment or logging is broken; do not trust "
                        "the lifts"
                      : " (no mismatch)");
  line(buf);
  line("sample size per variant to detect " + Percent(r.mde) + " relative at power " +
       Fixed(r.power, 2) + ": conversion " +
       (r.sample_conversion ? std::to_string(r.sample_conversion) : std::string("n/a")) +
       " users, revenue per user " +
       (r.sample_revenue ? std::to_string(r.sample_revenue) : std::string("n/a")) + " users");
  std::string rej;
  uint64_t rejected = 0;
  for (const auto& [reason, n] : r.rejected) {
    rej += (rej.empty() ? "" : ", ") + reason + " " + std::to_string(n);
    rejected += n;
  }
  line("events " + std::to_string(r.events) + ": accepted " + std::to_string(r.accepted) +
       ", rejected " + std::to_string(rejected) + (rej.empty() ? "" : " (" + rej + ")"));
  line("intervals: " + r.method);
  return s;
}

std::string ExperimentReportJson(const ExperimentReport& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("experiment");
  w.String(r.experiment);
  w.Key("confidence");
  w.Double(r.confidence);
  w.Key("method");
  w.String(r.method);
  w.Key("cs_users");
  w.Double(r.cs_users);
  w.Key("variants");
  w.BeginArray();
  for (const auto& v : r.variants) {
    w.BeginObject();
    w.Key("name");
    w.String(v.name);
    w.Key("share");
    w.Double(v.share);
    w.Key("control");
    w.Bool(v.control);
    w.Key("users");
    w.Uint(v.users);
    w.Key("exposures");
    w.Uint(v.exposures);
    w.Key("clicks");
    w.Uint(v.clicks);
    w.Key("carts");
    w.Uint(v.carts);
    w.Key("purchases");
    w.Uint(v.purchases);
    w.Key("revenue");
    w.Double(v.revenue);
    WriteInterval(&w, "ctr", v.ctr);
    WriteInterval(&w, "conversion", v.conversion);
    WriteInterval(&w, "revenue_per_user", v.revenue_per_user);
    if (v.ctr_lift || v.conversion_lift || v.revenue_lift) {
      w.Key("lift");
      w.BeginObject();
      if (v.ctr_lift) WriteInterval(&w, "ctr", *v.ctr_lift);
      if (v.conversion_lift) WriteInterval(&w, "conversion", *v.conversion_lift);
      if (v.revenue_lift) WriteInterval(&w, "revenue_per_user", *v.revenue_lift);
      w.EndObject();
    }
    w.Key("always_valid");
    w.BeginObject();
    WriteInterval(&w, "ctr", v.ctr_always);
    WriteInterval(&w, "conversion", v.conversion_always);
    WriteInterval(&w, "revenue_per_user", v.revenue_per_user_always);
    if (v.ctr_lift_always || v.conversion_lift_always || v.revenue_lift_always) {
      w.Key("lift");
      w.BeginObject();
      if (v.ctr_lift_always) WriteInterval(&w, "ctr", *v.ctr_lift_always);
      if (v.conversion_lift_always) WriteInterval(&w, "conversion", *v.conversion_lift_always);
      if (v.revenue_lift_always) WriteInterval(&w, "revenue_per_user", *v.revenue_lift_always);
      w.EndObject();
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("srm");
  w.BeginObject();
  w.Key("chi2");
  w.Double(r.srm_chi2);
  w.Key("p");
  w.Double(r.srm_p);
  w.Key("mismatch");
  w.Bool(r.srm);
  w.EndObject();
  w.Key("sample_size");
  w.BeginObject();
  w.Key("mde");
  w.Double(r.mde);
  w.Key("power");
  w.Double(r.power);
  w.Key("conversion");
  w.Uint(r.sample_conversion);
  w.Key("revenue_per_user");
  w.Uint(r.sample_revenue);
  w.EndObject();
  w.Key("events");
  w.BeginObject();
  w.Key("read");
  w.Uint(r.events);
  w.Key("accepted");
  w.Uint(r.accepted);
  w.Key("rejected");
  w.BeginObject();
  for (const auto& [reason, n] : r.rejected) {
    w.Key(reason);
    w.Uint(n);
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return w.str();
}

}  // namespace encore
