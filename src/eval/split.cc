// Train/test splits and k-fold assignments (see encore/evaluate.h and
// docs/METRICS.md, "Splits").

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "encore/evaluate.h"
#include "eval/random.h"
#include "util/random.h"
#include "util/threads.h"

namespace encore {

namespace {

// Below this many users, one thread does the per-user work.
constexpr uint32_t kMinUsersPerThread = 4096;

int UserThreads(uint32_t users, int requested) {
  if (users < 2 * kMinUsersPerThread) return 1;
  return ResolveThreads(requested);
}

// Marks exactly `t` of the `n` labels starting at `out` with `label`, chosen
// uniformly (selection sampling: each subset of size t is equally likely).
void SampleExactly(uint64_t n, uint64_t t, eval::SplitRng* rng, uint8_t label, uint8_t* out) {
  for (uint64_t j = 0; j < n && t > 0; ++j) {
    if (rng->Below(n - j) < t) {
      out[j] = label;
      --t;
    }
  }
}

Status CheckFraction(double f) {
  if (!(f > 0 && f < 1)) {
    return Status::InvalidArgument("the test fraction must be between 0 and 1 (exclusive), not " +
                                   std::to_string(f));
  }
  return Status::OK();
}

Status EmptyTest(const char* what) {
  return Status::InvalidArgument(std::string("the ") + what +
                                 " split holds out nothing: raise the test fraction, lower "
                                 "--min-train, or use more data");
}

// random: round(f * nnz) nonzeros, uniformly.
Result<FoldAssignment> RandomHoldout(const Dataset& data, const SplitOptions& o) {
  ENCORE_RETURN_IF_ERROR(CheckFraction(o.test_fraction));
  FoldAssignment a;
  a.folds = 1;
  a.fold.assign(data.nnz(), kTrainOnly);
  const uint64_t t = std::llround(o.test_fraction * static_cast<double>(data.nnz()));
  if (t == 0) return EmptyTest("random");
  eval::SplitRng rng(o.seed);
  SampleExactly(data.nnz(), t, &rng, 0, a.fold.data());
  return a;
}

// user: per user, round(f * n_u) or leave_k random nonzeros, when at least
// min_train stay in training.
Result<FoldAssignment> UserHoldout(const Dataset& data, const SplitOptions& o) {
  if (o.leave_k == 0) ENCORE_RETURN_IF_ERROR(CheckFraction(o.test_fraction));
  const CsrMatrix& m = data.by_user;
  FoldAssignment a;
  a.folds = 1;
  a.fold.assign(m.nnz(), kTrainOnly);
#pragma omp parallel for schedule(dynamic, 1024) num_threads(UserThreads(m.rows, o.threads))
  for (uint32_t u = 0; u < m.rows; ++u) {
    const uint64_t n = m.RowLength(u);
    const uint64_t t =
        o.leave_k > 0 ? o.leave_k : static_cast<uint64_t>(std::llround(o.test_fraction * n));
    if (t == 0 || n < t + o.min_train) continue;
    eval::SplitRng rng(eval::StreamSeed(o.seed, u));
    SampleExactly(n, t, &rng, 0, a.fold.data() + m.indptr[u]);
  }
  if (a.Count(0) == 0) return EmptyTest("user");
  return a;
}

// time: a global cutoff (given, or the time quantile leaving a fraction
// f of the nonzeros at or after it), or each user's leave_k latest.
Result<FoldAssignment> TimeHoldout(const Dataset& data, const SplitOptions& o) {
  const CsrMatrix& m = data.by_user;
  if (m.times.size() != m.nnz() || m.nnz() == 0) {
    return Status::FailedPrecondition(
        "a time split needs interaction times, and this dataset has none: read it with a time "
        "column (--time-col, or a format that has one)");
  }
  FoldAssignment a;
  a.folds = 1;
  a.fold.assign(m.nnz(), kTrainOnly);
  if (o.leave_k > 0) {
#pragma omp parallel num_threads(UserThreads(m.rows, o.threads))
    {
      std::vector<uint64_t> order;
#pragma omp for schedule(dynamic, 1024)
      for (uint32_t u = 0; u < m.rows; ++u) {
        const uint64_t begin = m.indptr[u], n = m.RowLength(u);
        if (n < uint64_t{o.leave_k} + o.min_train) continue;
        order.resize(n);
        std::iota(order.begin(), order.end(), begin);
        // Latest first; equal times: the larger item index counts as later.
        std::sort(order.begin(), order.end(), [&m](uint64_t x, uint64_t y) {
          return m.times[x] != m.times[y] ? m.times[x] > m.times[y] : x > y;
        });
        for (uint32_t j = 0; j < o.leave_k; ++j) a.fold[order[j]] = 0;
      }
    }
    if (a.Count(0) == 0) return EmptyTest("time");
    return a;
  }
  int64_t cutoff;
  if (o.cutoff) {
    cutoff = *o.cutoff;
  } else {
    ENCORE_RETURN_IF_ERROR(CheckFraction(o.test_fraction));
    const uint64_t t = std::llround(o.test_fraction * static_cast<double>(m.nnz()));
    if (t == 0) return EmptyTest("time");
    std::vector<int64_t> times = m.times;
    auto nth = times.begin() + static_cast<int64_t>(m.nnz() - t);
    std::nth_element(times.begin(), nth, times.end());
    cutoff = *nth;
  }
  for (uint64_t j = 0; j < m.nnz(); ++j) {
    if (m.times[j] >= cutoff) a.fold[j] = 0;
  }
  if (a.Count(0) == 0) {
    return Status::InvalidArgument(
        "the time split holds out nothing: no interaction is at or "
        "after the cutoff " +
        std::to_string(cutoff));
  }
  if (a.Count(kTrainOnly) == 0) {
    return Status::InvalidArgument(
        "the time split leaves nothing for training: every "
        "interaction is at or after the cutoff " +
        std::to_string(cutoff));
  }
  return a;
}

}  // namespace

uint64_t FoldAssignment::Count(uint8_t f) const {
  return static_cast<uint64_t>(std::count(fold.begin(), fold.end(), f));
}

Result<SplitMethod> ParseSplitMethod(const std::string& name) {
  if (name == "random") return SplitMethod::kRandom;
  if (name == "user") return SplitMethod::kUser;
  if (name == "time") return SplitMethod::kTime;
  return Status::InvalidArgument("unknown split '" + name + "'; expected random, user or time");
}

const char* SplitMethodName(SplitMethod method) {
  switch (method) {
    case SplitMethod::kRandom:
      return "random";
    case SplitMethod::kUser:
      return "user";
    case SplitMethod::kTime:
      return "time";
  }
  return "?";
}

Result<FoldAssignment> HoldoutSplit(const Dataset& data, const SplitOptions& options) {
  if (data.nnz() == 0) return Status::InvalidArgument("cannot split an empty dataset");
  if (options.cutoff && options.method != SplitMethod::kTime) {
    return Status::InvalidArgument("a cutoff time applies to the time split only");
  }
  if (options.leave_k > 0 && options.method == SplitMethod::kRandom) {
    return Status::InvalidArgument(
        "leave-k-out applies per user: use the user split (random items) or the time split "
        "(latest items)");
  }
  if (options.leave_k > 0 && options.cutoff) {
    return Status::InvalidArgument("give either a cutoff time or leave-k, not both");
  }
  switch (options.method) {
    case SplitMethod::kRandom:
      return RandomHoldout(data, options);
    case SplitMethod::kUser:
      return UserHoldout(data, options);
    case SplitMethod::kTime:
      return TimeHoldout(data, options);
  }
  return Status::Internal("unknown split method");
}

Result<FoldAssignment> KFoldSplit(const Dataset& data, const FoldOptions& o) {
  if (o.folds < 2 || o.folds > kMaxFolds) {
    return Status::InvalidArgument("the number of folds must be in 2.." +
                                   std::to_string(kMaxFolds) + ", not " + std::to_string(o.folds));
  }
  const CsrMatrix& m = data.by_user;
  if (m.nnz() < o.folds) {
    return Status::InvalidArgument("cannot deal " + std::to_string(m.nnz()) +
                                   " interactions into " + std::to_string(o.folds) + " folds");
  }
  FoldAssignment a;
  a.folds = o.folds;
  a.fold.assign(m.nnz(), kTrainOnly);
  if (!o.per_user) {
    // Labels 0, 1, .., K-1, 0, 1, .. shuffled (Fisher-Yates): fold sizes
    // differ by at most one.
    for (uint64_t j = 0; j < m.nnz(); ++j) a.fold[j] = static_cast<uint8_t>(j % o.folds);
    eval::SplitRng rng(o.seed);
    Shuffle(rng, a.fold.data(), m.nnz());
    return a;
  }
#pragma omp parallel num_threads(UserThreads(m.rows, o.threads))
  {
    std::vector<uint64_t> order;
#pragma omp for schedule(dynamic, 1024)
    for (uint32_t u = 0; u < m.rows; ++u) {
      const uint64_t begin = m.indptr[u], n = m.RowLength(u);
      const uint64_t largest_fold = (n + o.folds - 1) / o.folds;
      if (n == 0 || n < largest_fold + o.min_train) continue;
      eval::SplitRng rng(eval::StreamSeed(o.seed, u));
      order.resize(n);
      std::iota(order.begin(), order.end(), begin);
      for (uint64_t j = n - 1; j > 0; --j) std::swap(order[j], order[rng.Below(j + 1)]);
      const uint64_t first = rng.Below(o.folds);
      for (uint64_t j = 0; j < n; ++j) {
        a.fold[order[j]] = static_cast<uint8_t>((first + j) % o.folds);
      }
    }
  }
  for (uint32_t f = 0; f < o.folds; ++f) {
    if (a.Count(static_cast<uint8_t>(f)) == 0) {
      return Status::InvalidArgument("per-user folds: fold " + std::to_string(f + 1) +
                                     " is empty (too few users with enough interactions for " +
                                     std::to_string(o.folds) + " folds and --min-train " +
                                     std::to_string(o.min_train) + ")");
    }
  }
  return a;
}

TrainTest MakeTrainTest(const Dataset& data, const FoldAssignment& assignment, uint32_t fold,
                        int threads) {
  ENCORE_CHECK(assignment.fold.size() == data.nnz());
  ENCORE_CHECK(fold < assignment.folds);
  std::vector<uint8_t> in_test(data.nnz());
  for (uint64_t j = 0; j < in_test.size(); ++j) in_test[j] = assignment.fold[j] == fold;
  TrainTest tt;
  tt.test = SelectNonzeros(data.by_user, in_test);
  for (uint8_t& x : in_test) x = !x;
  tt.train = DatasetFromMatrix(data, SelectNonzeros(data.by_user, in_test), threads);
  return tt;
}

}  // namespace encore
