// ials: CG against the exact solve, monotone loss, cluster recovery against
// popularity, cold start, fold-in and thread-count independence.

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "model/factor_model.h"
#include "test_data.h"

namespace encore::model {
namespace {

std::vector<float> RandomFactors(uint32_t rows, uint32_t k, uint64_t seed, float scale = 0.3f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, scale);
  std::vector<float> v(uint64_t{rows} * k);
  for (float& x : v) x = normal(rng);
  return v;
}

std::unique_ptr<Recommender> FitIals(const Dataset& data, const ModelParams& p) {
  auto m = CreateRecommender("ials", p);
  EXPECT_TRUE(m.ok());
  Status s = (*m)->Fit(data);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(m).value();
}

const FactorModel& AsFactors(const std::unique_ptr<Recommender>& m) {
  return dynamic_cast<const FactorModel&>(*m);
}

TEST(Ials, CgWithManyStepsMatchesCholesky) {
  const Dataset data = testing::MakeTestDataset();
  const uint32_t k = 6, items = data.by_user.cols, users = data.by_user.rows;
  const std::vector<float> y = RandomFactors(items, k, 1);
  ImplicitSweepOptions o;
  o.reg = 0.1f;
  o.alpha = 2.0f;
  o.solver = Solver::kCholesky;
  std::vector<float> exact(uint64_t{users} * k, 0.0f);
  ImplicitHalfSweep(data.by_user, y.data(), items, k, o, exact.data());
  o.solver = Solver::kCg;
  o.cg_steps = 3 * k;
  std::vector<float> cg = RandomFactors(users, k, 2);  // warm start anywhere
  ImplicitHalfSweep(data.by_user, y.data(), items, k, o, cg.data());
  for (size_t p = 0; p < exact.size(); ++p) {
    EXPECT_NEAR(cg[p], exact[p], 2e-3 * (1 + std::fabs(exact[p]))) << p;
  }
  // Few steps: not exact, but closer to the solution than the start.
  o.cg_steps = 1;
  std::vector<float> start = RandomFactors(users, k, 2), one = start;
  ImplicitHalfSweep(data.by_user, y.data(), items, k, o, one.data());
  double before = 0, after = 0;
  for (size_t p = 0; p < exact.size(); ++p) {
    before += std::pow(start[p] - exact[p], 2);
    after += std::pow(one[p] - exact[p], 2);
  }
  EXPECT_LT(after, before);
}

// Revisiting iALS: unobserved weight w0 and frequency-scaled reg. Cholesky
// solves (w0 Y^T Y + reg (n_u + w0 N)^nu I + sum (c - w0) y y^T) x = sum c p y
// exactly; CG with enough steps reaches the same point.
TEST(Ials, UnobservedWeightAndScaledRegSolveTheirNormalEquations) {
  const Dataset data = testing::MakeTestDataset();
  const uint32_t k = 5, items = data.by_user.cols, users = data.by_user.rows;
  const std::vector<float> y = RandomFactors(items, k, 6);
  ImplicitSweepOptions o;
  o.reg = 0.01f;
  o.alpha = 2.0f;
  o.unobserved_weight = 0.2f;
  o.reg_exponent = 1.0f;
  o.solver = Solver::kCholesky;
  std::vector<float> exact(uint64_t{users} * k, 0.0f);
  ImplicitHalfSweep(data.by_user, y.data(), items, k, o, exact.data());
  Eigen::MatrixXd ym(items, k);
  for (uint32_t i = 0; i < items; ++i) {
    for (uint32_t p = 0; p < k; ++p) ym(i, p) = y[i * k + p];
  }
  for (uint32_t u = 0; u < 6; ++u) {
    const uint64_t n_u = data.by_user.RowLength(u);
    if (n_u == 0) continue;
    Eigen::VectorXd c = Eigen::VectorXd::Constant(items, o.unobserved_weight);
    Eigen::VectorXd pref = Eigen::VectorXd::Zero(items);
    for (uint64_t e = data.by_user.indptr[u]; e < data.by_user.indptr[u + 1]; ++e) {
      c(data.by_user.indices[e]) = 1 + o.alpha * data.by_user.values[e];
      pref(data.by_user.indices[e]) = 1;
    }
    Eigen::MatrixXd a = ym.transpose() * c.asDiagonal() * ym;
    a.diagonal().array() += o.reg * (static_cast<double>(n_u) + o.unobserved_weight * items);
    const Eigen::VectorXd ref = a.ldlt().solve(ym.transpose() * c.cwiseProduct(pref));
    for (uint32_t p = 0; p < k; ++p) EXPECT_NEAR(exact[u * k + p], ref(p), 1e-4) << u;
  }
  o.solver = Solver::kCg;
  o.cg_steps = 4 * k;
  std::vector<float> cg = RandomFactors(users, k, 7);
  ImplicitHalfSweep(data.by_user, y.data(), items, k, o, cg.data());
  for (size_t p = 0; p < exact.size(); ++p) {
    EXPECT_NEAR(cg[p], exact[p], 2e-3 * (1 + std::fabs(exact[p]))) << p;
  }
}

TEST(Ials, DefaultRevisitedOptionsAreHuEtAlExactly) {
  const Dataset data = testing::MakeTestDataset();
  ModelParams p;
  p.factors = 6;
  p.iterations = 3;
  p.threads = 1;
  auto plain = FitIals(data, p);
  p.unobserved_weight = 1.0f;
  p.reg_exponent = 0.0f;
  auto same = FitIals(data, p);
  EXPECT_EQ(AsFactors(plain).user_factors(), AsFactors(same).user_factors());
  p.unobserved_weight = 0.5f;
  auto other = FitIals(data, p);
  EXPECT_NE(AsFactors(plain).user_factors(), AsFactors(other).user_factors());
}

// A random implicit matrix whose rows have the given lengths (distinct
// columns, values 1..20, some negative) over `cols` columns.
CsrMatrix RowsOfLengths(const std::vector<uint32_t>& lengths, uint32_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  CsrMatrix m;
  m.rows = static_cast<uint32_t>(lengths.size());
  m.cols = cols;
  m.indptr.push_back(0);
  std::vector<uint32_t> all(cols);
  for (uint32_t c = 0; c < cols; ++c) all[c] = c;
  for (uint32_t n : lengths) {
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<uint32_t> row(all.begin(), all.begin() + n);
    std::sort(row.begin(), row.end());
    for (uint32_t c : row) {
      m.indices.push_back(c);
      const float v = static_cast<float>(1 + rng() % 20);
      m.values.push_back(rng() % 7 == 0 ? -v : v);
    }
    m.indptr.push_back(m.indices.size());
  }
  return m;
}

// The CG row solver in every kernel build this CPU has (SSE2, AVX2 + FMA,
// AVX-512) gives the same factors, for factor counts on and off the kernels'
// register-held widths (16, 32, 64) and rows empty, shorter and longer than
// one 128-nonzero chunk of a pass.
TEST(Ials, CgKernelBuildsAgreeAcrossShapes) {
  const CsrMatrix m = RowsOfLengths({0, 1, 5, 40, 127, 128, 129, 300, 7}, 400, 11);
  for (uint32_t k : {13u, 16u, 32u, 64u, 70u}) {
    const std::vector<float> y = RandomFactors(400, k, 4);
    ImplicitSweepOptions o;
    o.alpha = 3.0f;
    o.reg = 0.1f;
    o.unobserved_weight = 0.5f;
    const std::vector<float> start = RandomFactors(m.rows, k, 5);
    std::vector<std::vector<float>> out;
    for (int build = 0; build < 3; ++build) {
      DisableWideKernelsForTesting(build == 0);
      DisableAvx512KernelsForTesting(build == 1);
      std::vector<float> x = start;
      ImplicitHalfSweep(m, y.data(), 400, k, o, x.data());
      out.push_back(std::move(x));
    }
    DisableWideKernelsForTesting(false);
    DisableAvx512KernelsForTesting(false);
    if (!WideKernelsEnabled()) GTEST_LOG_(INFO) << "no AVX2 on this CPU: baseline only";
    if (!Avx512KernelsEnabled()) GTEST_LOG_(INFO) << "no AVX-512 on this CPU: AVX2 twice";
    for (int build = 1; build < 3; ++build) {
      for (size_t p = 0; p < start.size(); ++p) {
        ASSERT_NEAR(out[build][p], out[0][p], 1e-4 * (1 + std::fabs(out[0][p])))
            << "k " << k << " build " << build << " row " << p / k;
      }
    }
    // The empty row is zero; the others moved from their start.
    for (uint32_t p = 0; p < k; ++p) EXPECT_EQ(out[0][p], 0.0f);
    EXPECT_NE(out[0][k], start[k]);
  }
}

// With enough steps from a zero start, CG reaches the exact (Cholesky)
// solution, chunk boundaries included, in every kernel build.
TEST(Ials, CgConvergesToTheCholeskySolution) {
  const CsrMatrix m = RowsOfLengths({3, 127, 128, 129, 260}, 300, 12);
  const uint32_t k = 16;
  const std::vector<float> y = RandomFactors(300, k, 6);
  ImplicitSweepOptions o;
  o.alpha = 2.0f;
  o.reg = 0.5f;
  o.solver = Solver::kCholesky;
  std::vector<float> exact(uint64_t{m.rows} * k, 0.0f);
  ImplicitHalfSweep(m, y.data(), 300, k, o, exact.data());
  o.solver = Solver::kCg;
  o.cg_steps = 4 * k;
  for (int build = 0; build < 3; ++build) {
    DisableWideKernelsForTesting(build == 0);
    DisableAvx512KernelsForTesting(build == 1);
    std::vector<float> x(exact.size(), 0.0f);
    ImplicitHalfSweep(m, y.data(), 300, k, o, x.data());
    for (size_t p = 0; p < x.size(); ++p) {
      EXPECT_NEAR(x[p], exact[p], 1e-3 * (1 + std::fabs(exact[p]))) << "build " << build << " " << p;
    }
  }
  DisableWideKernelsForTesting(false);
  DisableAvx512KernelsForTesting(false);
}

TEST(Ials, CholeskySolvesTheImplicitNormalEquations) {
  const Dataset data = testing::MakeTestDataset();
  const uint32_t k = 4, items = data.by_user.cols, users = data.by_user.rows;
  const std::vector<float> y = RandomFactors(items, k, 3);
  ImplicitSweepOptions o;
  o.reg = 0.2f;
  o.alpha = 3.0f;
  o.solver = Solver::kCholesky;
  std::vector<float> x(uint64_t{users} * k);
  ImplicitHalfSweep(data.by_user, y.data(), items, k, o, x.data());
  // Dense reference over all items: C_u = diag(c), p_u in {0, 1}.
  Eigen::MatrixXd ym(items, k);
  for (uint32_t i = 0; i < items; ++i) {
    for (uint32_t p = 0; p < k; ++p) ym(i, p) = y[i * k + p];
  }
  for (uint32_t u = 0; u < 5; ++u) {
    Eigen::VectorXd c = Eigen::VectorXd::Ones(items), pref = Eigen::VectorXd::Zero(items);
    for (uint64_t e = data.by_user.indptr[u]; e < data.by_user.indptr[u + 1]; ++e) {
      c(data.by_user.indices[e]) = 1 + o.alpha * data.by_user.values[e];
      pref(data.by_user.indices[e]) = 1;
    }
    Eigen::MatrixXd a = ym.transpose() * c.asDiagonal() * ym;
    a.diagonal().array() += o.reg;
    const Eigen::VectorXd ref = a.ldlt().solve(ym.transpose() * c.cwiseProduct(pref));
    for (uint32_t p = 0; p < k; ++p) EXPECT_NEAR(x[u * k + p], ref(p), 1e-4);
  }
}

TEST(Ials, LossDecreasesOverIterations) {
  const Dataset data = testing::MakeTestDataset();
  for (Solver solver : {Solver::kCg, Solver::kCholesky}) {
    double previous = INFINITY;
    for (uint32_t it = 1; it <= 5; ++it) {
      ModelParams p;
      p.factors = 6;
      p.iterations = it;
      p.reg = 0.1f;
      p.alpha = 2.0f;
      p.solver = solver;
      p.threads = 1;
      auto m = FitIals(data, p);
      const auto& f = AsFactors(m);
      const double loss = ImplicitLoss(data.by_user, f.user_factors().data(),
                                       f.item_factors().data(), 6, p.reg, p.alpha);
      EXPECT_LT(loss, previous) << "iteration " << it;
      previous = loss;
    }
  }
}

// Held-out precision@10: one interaction in four of each user is hidden.
struct Split {
  Dataset train;
  std::vector<std::set<uint32_t>> test;
};

Split HoldOut(const Dataset& full) {
  Split s;
  const CsrMatrix& m = full.by_user;
  CsrMatrix& t = s.train.by_user;
  t.rows = m.rows;
  t.cols = m.cols;
  t.indptr.push_back(0);
  s.test.resize(m.rows);
  for (uint32_t u = 0; u < m.rows; ++u) s.train.users.Intern(full.users.Name(u));
  for (uint32_t i = 0; i < m.cols; ++i) s.train.items.Intern(full.items.Name(i));
  for (uint32_t u = 0; u < m.rows; ++u) {
    for (uint64_t e = m.indptr[u]; e < m.indptr[u + 1]; ++e) {
      if ((e - m.indptr[u]) % 4 == 3) {
        s.test[u].insert(m.indices[e]);
      } else {
        t.indices.push_back(m.indices[e]);
        t.values.push_back(m.values[e]);
      }
    }
    t.indptr.push_back(t.indices.size());
  }
  s.train.by_item = t.Transpose(1);
  return s;
}

double PrecisionAt10(const Recommender& m, const Split& s) {
  QueryOptions q;
  q.n = 10;
  double hits = 0, users = 0;
  for (uint32_t u = 0; u < m.num_users(); ++u) {
    if (s.test[u].empty()) continue;
    for (const auto& r : Recommend(m, u, q)) hits += s.test[u].count(r.item);
    users += 1;
  }
  return hits / (10 * users);
}

TEST(Ials, RecoversClustersBetterThanPopularity) {
  testing::TestDataOptions t;
  t.users = 200;
  t.items = 100;
  t.clusters = 5;
  t.per_user = 16;
  const Split s = HoldOut(testing::MakeTestDataset(t));
  ModelParams p;
  p.factors = 8;
  p.iterations = 10;
  p.reg = 0.1f;
  p.alpha = 5.0f;
  const double ials = PrecisionAt10(*FitIals(s.train, p), s);
  auto pop = CreateRecommender("popularity", p);
  ASSERT_TRUE((*pop)->Fit(s.train).ok());
  const double popularity = PrecisionAt10(**pop, s);
  EXPECT_GT(ials, 0.1);
  EXPECT_GT(ials, 3 * popularity) << "ials " << ials << ", popularity " << popularity;
}

TEST(Ials, DeterministicAcrossThreadCounts) {
  const Dataset data = testing::MakeTestDataset();
  ModelParams p;
  p.factors = 7;
  p.iterations = 3;
  p.threads = 1;
  auto one = FitIals(data, p);
  p.threads = 2;
  auto two = FitIals(data, p);
  EXPECT_EQ(AsFactors(one).user_factors(), AsFactors(two).user_factors());
  EXPECT_EQ(AsFactors(one).item_factors(), AsFactors(two).item_factors());
}

TEST(Ials, ColdStartModes) {
  const Dataset data = testing::MakeTestDataset();
  const uint32_t cold_user = data.by_user.rows - 1, cold_item = data.by_user.cols - 1;
  ModelParams p;
  p.factors = 4;
  p.iterations = 3;
  auto drop = FitIals(data, p);
  const std::vector<float>& y = AsFactors(drop).item_factors();
  for (uint32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(y[uint64_t{cold_item} * 4 + p], 0.0f) << "no interactions: zero factors";
  }
  QueryOptions q;
  EXPECT_TRUE(Recommend(*drop, cold_user, q).empty());
  EXPECT_FALSE(drop->CanPredict(cold_user, 0));
  EXPECT_EQ(drop->Predict(cold_user, 0), 0.0f);

  p.cold_start = ColdStart::kPopular;
  auto popular = FitIals(data, p);
  q.n = 3;
  auto recs = Recommend(*popular, cold_user, q);
  ASSERT_EQ(recs.size(), 3u);
  const double users = data.by_user.rows;
  for (const auto& r : recs) {
    EXPECT_FLOAT_EQ(r.score, static_cast<float>(data.by_item.RowLength(r.item) / users));
  }
  for (uint32_t i = 0; i < data.by_user.cols; ++i) {
    EXPECT_LE(data.by_item.RowLength(i), data.by_item.RowLength(recs[0].item));
  }
  EXPECT_TRUE(popular->CanPredict(0, cold_item));
  EXPECT_EQ(popular->Predict(0, cold_item), 0.0f);
}

TEST(Ials, FoldInIsTheExactImplicitStep) {
  const Dataset data = testing::MakeTestDataset();
  ModelParams p;
  p.factors = 5;
  p.iterations = 4;
  p.alpha = 2.0f;
  auto m = FitIals(data, p);
  const auto& f = AsFactors(m);
  std::vector<ItemWeight> items;
  CsrMatrix one;
  one.rows = 1;
  one.cols = data.by_user.cols;
  one.indptr = {0};
  for (uint64_t e = data.by_user.indptr[1]; e < data.by_user.indptr[2]; ++e) {
    items.push_back({data.by_user.indices[e], data.by_user.values[e]});
    one.indices.push_back(data.by_user.indices[e]);
    one.values.push_back(data.by_user.values[e]);
  }
  one.indptr.push_back(one.indices.size());
  ImplicitSweepOptions o;
  o.reg = p.reg;
  o.alpha = p.alpha;
  o.solver = Solver::kCholesky;
  std::vector<float> x(5);
  ImplicitHalfSweep(one, f.item_factors().data(), one.cols, 5, o, x.data());
  std::vector<float> scores(m->num_items());
  ASSERT_TRUE(m->ScoreFoldIn(items, scores.data()).ok());
  for (uint32_t i = 0; i + 1 < m->num_items(); ++i) {
    double s = 0;
    for (uint32_t q = 0; q < 5; ++q) s += double{x[q]} * f.item_factors()[i * 5 + q];
    EXPECT_NEAR(scores[i], s, 1e-5);
  }
}

}  // namespace
}  // namespace encore::model

namespace encore::model {
namespace {

// The hooks the Python bindings use: per-iteration fit progress and the
// factor matrices viewed in place (als and ials share them via FactorModel).
TEST(FactorModelHooks, FitReportsEachIterationAndFactorsViewTheModel) {
  const Dataset data = testing::MakeTestDataset();
  for (const char* kind : {"ials", "als"}) {
    ModelParams p;
    p.factors = 4;
    p.iterations = 3;
    p.threads = 1;
    auto m = CreateRecommender(kind, p);
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE((*m)->Factors().has_value()) << kind;  // nothing before Fit
    std::vector<std::pair<uint32_t, uint32_t>> calls;
    (*m)->set_fit_callback([&](uint32_t done, uint32_t total) { calls.emplace_back(done, total); });
    ASSERT_TRUE((*m)->Fit(data).ok());
    const std::vector<std::pair<uint32_t, uint32_t>> want = {{1, 3}, {2, 3}, {3, 3}};
    EXPECT_EQ(calls, want) << kind;
    const auto view = (*m)->Factors();
    ASSERT_TRUE(view.has_value()) << kind;
    const auto& f = dynamic_cast<const FactorModel&>(**m);
    EXPECT_EQ(view->factors, 4u);
    EXPECT_EQ(view->users, f.user_factors().data());
    EXPECT_EQ(view->items, f.item_factors().data());
  }
  auto pop = CreateRecommender("popularity", ModelParams{});
  ASSERT_TRUE(pop.ok());
  ASSERT_TRUE((*pop)->Fit(data).ok());
  EXPECT_FALSE((*pop)->Factors().has_value());
}

}  // namespace
}  // namespace encore::model
