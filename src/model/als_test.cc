// als: the half-sweep against a dense reference, NNLS optimality, ALS-WR
// scaling, recovery of planted factors, biases, cold start and fold-in.

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "model/factor_model.h"
#include "test_data.h"

namespace encore::model {
namespace {

struct Rating {
  uint32_t user, item;
  float value;
};

Dataset MakeExplicit(uint32_t users, uint32_t items, const std::vector<Rating>& ratings) {
  InteractionLog log;
  for (uint32_t u = 0; u < users; ++u) log.users.Intern("u" + std::to_string(u));
  for (uint32_t i = 0; i < items; ++i) log.items.Intern("i" + std::to_string(i));
  for (const Rating& r : ratings) {
    log.user.push_back(r.user);
    log.item.push_back(r.item);
    log.value.push_back(r.value);
  }
  DatasetOptions o;
  o.feedback = Feedback::kExplicit;
  o.threads = 1;
  auto data = BuildDataset(std::move(log), o);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return std::move(data).value();
}

std::vector<float> RandomFactors(uint32_t rows, uint32_t k, uint64_t seed, float scale = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, scale);
  std::vector<float> v(uint64_t{rows} * k);
  for (float& x : v) x = normal(rng);
  return v;
}

// A small random explicit dataset; the last user has no ratings.
Dataset TinyRatings(uint32_t users, uint32_t items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Rating> ratings;
  for (uint32_t u = 0; u + 1 < users; ++u) {
    for (uint32_t i = 0; i < items; ++i) {
      if (rng() % 2) ratings.push_back({u, i, 1.0f + static_cast<float>(rng() % 5)});
    }
  }
  return MakeExplicit(users, items, ratings);
}

// The dense reference: for each row, assemble the normal equations in
// double and solve them with a QR decomposition.
// `bias_reg` < 0: the bias is penalised like the factors.
void ReferenceSweep(const CsrMatrix& m, const std::vector<float>& fixed, uint32_t k, double reg,
                    bool scale, const float* fixed_bias, double mu, std::vector<double>* x,
                    std::vector<double>* bias, double bias_reg = -1) {
  const int d = static_cast<int>(k) + (fixed_bias ? 1 : 0);
  x->assign(uint64_t{m.rows} * k, 0.0);
  bias->assign(m.rows, 0.0);
  for (uint32_t r = 0; r < m.rows; ++r) {
    const uint64_t n = m.RowLength(r);
    if (n == 0) continue;
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(d, d);
    Eigen::VectorXd b = Eigen::VectorXd::Zero(d);
    for (uint64_t e = m.indptr[r]; e < m.indptr[r + 1]; ++e) {
      const uint32_t j = m.indices[e];
      Eigen::VectorXd row(d);
      for (uint32_t p = 0; p < k; ++p) row(p) = fixed[uint64_t{j} * k + p];
      double t = m.values[e];
      if (fixed_bias) {
        row(k) = 1;
        t -= mu + fixed_bias[j];
      }
      a += row * row.transpose();
      b += t * row;
    }
    a.diagonal().array() += reg * (scale ? static_cast<double>(n) : 1.0);
    if (fixed_bias && bias_reg >= 0) {
      a(k, k) += (bias_reg - reg) * (scale ? static_cast<double>(n) : 1.0);
    }
    const Eigen::VectorXd z = a.colPivHouseholderQr().solve(b);
    for (uint32_t p = 0; p < k; ++p) (*x)[uint64_t{r} * k + p] = z(p);
    if (fixed_bias) (*bias)[r] = z(k);
  }
}

TEST(Als, HalfSweepEqualsDenseNormalEquations) {
  const Dataset data = TinyRatings(9, 7, 1);
  const uint32_t k = 3;
  const std::vector<float> items = RandomFactors(7, k, 2);
  const std::vector<float> item_bias = RandomFactors(7, 1, 3, 0.3f);
  for (bool scale : {true, false}) {
    for (bool biases : {false, true}) {
      ExplicitSweepOptions o;
      o.reg = 0.3f;
      o.scale_by_count = scale;
      std::vector<float> users(9 * k, 99.0f), user_bias(9, 99.0f);
      if (biases) {
        o.fixed_bias = item_bias.data();
        o.bias = user_bias.data();
        o.global_mean = 2.5f;
      }
      ExplicitHalfSweep(data.by_user, items.data(), k, o, users.data());
      std::vector<double> ref, ref_bias;
      ReferenceSweep(data.by_user, items, k, o.reg, scale, biases ? item_bias.data() : nullptr,
                     2.5, &ref, &ref_bias);
      for (size_t p = 0; p < users.size(); ++p) {
        EXPECT_NEAR(users[p], ref[p], 1e-4 * (1 + std::fabs(ref[p])))
            << "scale " << scale << " biases " << biases << " at " << p;
      }
      if (biases) {
        for (uint32_t u = 0; u < 9; ++u) EXPECT_NEAR(user_bias[u], ref_bias[u], 1e-4);
        EXPECT_EQ(user_bias[8], 0.0f) << "empty row";
      }
      for (uint32_t p = 0; p < k; ++p) EXPECT_EQ(users[8 * k + p], 0.0f) << "empty row";
    }
  }
}

// The kernel build the solvers use: 0 the baseline, 1 AVX2 + FMA, 2 AVX-512
// (each where the CPU has it, else the next one down).
void UseKernelBuild(int build) {
  DisableWideKernelsForTesting(build == 0);
  DisableAvx512KernelsForTesting(build == 1);
}

// The blocked Gram kernel and float Cholesky against the double reference
// for factor counts on and off the 8-float blocks (padded gather), rows
// longer than one 128-row pass, with and without biases, on every kernel
// build (AVX-512 and AVX2 + FMA where the CPU has them, and the baseline one).
TEST(Als, BlockedSolverMatchesDenseReferenceAcrossShapes) {
  const Dataset data = TinyRatings(6, 300, 21);  // ~150 ratings per user
  for (int build : {2, 1, 0}) {
    UseKernelBuild(build);
    for (uint32_t k : {5u, 8u, 13u, 24u}) {
      const std::vector<float> items = RandomFactors(300, k, 22, 0.3f);
      const std::vector<float> item_bias = RandomFactors(300, 1, 23, 0.3f);
      for (bool biases : {false, true}) {
        ExplicitSweepOptions o;
        o.reg = 0.1f;
        o.threads = 2;
        std::vector<float> users(6 * k, 99.0f), user_bias(6, 99.0f);
        if (biases) {
          o.fixed_bias = item_bias.data();
          o.bias = user_bias.data();
          o.global_mean = 3.0f;
        }
        ExplicitHalfSweep(data.by_user, items.data(), k, o, users.data());
        std::vector<double> ref, ref_bias;
        ReferenceSweep(data.by_user, items, k, o.reg, true, biases ? item_bias.data() : nullptr,
                       3.0, &ref, &ref_bias);
        for (size_t p = 0; p < users.size(); ++p) {
          EXPECT_NEAR(users[p], ref[p], 2e-4 * (1 + std::fabs(ref[p])))
              << "k " << k << " biases " << biases << " kernel build " << build
              << " at " << p;
        }
        if (biases) {
          for (uint32_t u = 0; u < 6; ++u) EXPECT_NEAR(user_bias[u], ref_bias[u], 2e-4);
        }
      }
    }
  }
  UseKernelBuild(2);
}

// Rows with fewer ratings than unknowns are solved in the dual (an n x n
// system): the same solution as the normal equations, with and without
// biases, with the bias's own penalty, on every kernel build.
TEST(Als, DualSolveOfShortRowsMatchesDenseReference) {
  const Dataset data = TinyRatings(12, 20, 31);  // ~10 ratings per user
  const uint32_t k = 24;
  const std::vector<float> items = RandomFactors(20, k, 32, 0.3f);
  const std::vector<float> item_bias = RandomFactors(20, 1, 33, 0.3f);
  for (int build : {2, 1, 0}) {
    UseKernelBuild(build);
    for (bool biases : {false, true}) {
      for (float bias_reg : {-1.0f, 0.7f}) {
        ExplicitSweepOptions o;
        o.reg = 0.1f;
        std::vector<float> users(12 * k, 99.0f), user_bias(12, 99.0f);
        if (biases) {
          o.fixed_bias = item_bias.data();
          o.bias = user_bias.data();
          o.global_mean = 3.0f;
          o.bias_reg = bias_reg;
        }
        ExplicitHalfSweep(data.by_user, items.data(), k, o, users.data());
        std::vector<double> ref, ref_bias;
        ReferenceSweep(data.by_user, items, k, o.reg, true, biases ? item_bias.data() : nullptr,
                       3.0, &ref, &ref_bias, bias_reg);
        for (size_t p = 0; p < users.size(); ++p) {
          ASSERT_NEAR(users[p], ref[p], 2e-4 * (1 + std::fabs(ref[p])))
              << "biases " << biases << " bias_reg " << bias_reg << " kernel build " << build
              << " at " << p;
        }
        if (biases) {
          for (uint32_t u = 0; u < 12; ++u) EXPECT_NEAR(user_bias[u], ref_bias[u], 2e-4);
        }
      }
    }
  }
  UseKernelBuild(2);
}

// Conjugate gradient (cg_steps > 0) warm-starts from the current factors: repeated sweeps against
// fixed item factors converge to the exact solution, and the error falls sweep after sweep. Rows
// of ~150 ratings (CG) and of 2-6 (exact in the dual), with and without biases.
TEST(Als, ConjugateGradientConvergesToTheExactSolve) {
  std::mt19937_64 rng(41);
  std::vector<Rating> ratings;
  for (uint32_t u = 0; u < 8; ++u) {
    const uint32_t every = u < 4 ? 2 : 60;  // users 4..7 have 2-6 ratings
    for (uint32_t i = 0; i < 300; ++i) {
      if (rng() % every == 0) ratings.push_back({u, i, 1.0f + static_cast<float>(rng() % 5)});
    }
  }
  const Dataset data = MakeExplicit(8, 300, ratings);
  for (int build : {2, 1, 0}) {
    UseKernelBuild(build);
    for (uint32_t k : {13u, 32u}) {
      const std::vector<float> items = RandomFactors(300, k, 42, 0.3f);
      const std::vector<float> item_bias = RandomFactors(300, 1, 43, 0.3f);
      for (bool biases : {false, true}) {
        ExplicitSweepOptions o;
        o.reg = 0.05f;
        o.threads = 2;
        o.cg_steps = 3;
        std::vector<float> users = RandomFactors(8, k, 44, 0.01f), user_bias(8, 0.0f);
        if (biases) {
          o.fixed_bias = item_bias.data();
          o.bias = user_bias.data();
          o.global_mean = 3.0f;
          o.bias_reg = 0.02f;
        }
        std::vector<double> ref, ref_bias;
        ReferenceSweep(data.by_user, items, k, o.reg, true, biases ? item_bias.data() : nullptr,
                       3.0, &ref, &ref_bias, biases ? 0.02 : -1.0);
        auto error = [&] {
          double e = 0;
          for (size_t p = 0; p < users.size(); ++p) e = std::max(e, std::fabs(users[p] - ref[p]));
          if (biases) {
            for (uint32_t u = 0; u < 8; ++u) e = std::max(e, std::fabs(user_bias[u] - ref_bias[u]));
          }
          return e;
        };
        double last = error();
        for (int sweep = 0; sweep < 4; ++sweep) {
          ExplicitHalfSweep(data.by_user, items.data(), k, o, users.data());
          const double now = error();
          EXPECT_TRUE(now < last || now < 1e-5) << "sweep " << sweep << " k " << k << " biases "
                                                << biases << ": " << now << " after " << last;
          last = now;
        }
        for (int sweep = 0; sweep < 40; ++sweep) {
          ExplicitHalfSweep(data.by_user, items.data(), k, o, users.data());
        }
        EXPECT_LT(error(), 1e-3) << "k " << k << " biases " << biases << " baseline kernels "
                                 << build;
        // Short rows are solved exactly in the dual, whatever the start.
        for (uint32_t u = 4; u < 8; ++u) {
          for (uint32_t p = 0; p < k; ++p) {
            EXPECT_NEAR(users[u * k + p], ref[u * k + p], 2e-4 * (1 + std::fabs(ref[u * k + p])));
          }
        }
      }
    }
  }
  UseKernelBuild(2);
}

TEST(Als, RegScaleByCountIsRegTimesRowCount) {
  const Dataset data = TinyRatings(9, 7, 4);
  const uint32_t k = 3;
  const std::vector<float> items = RandomFactors(7, k, 5);
  ExplicitSweepOptions scaled;
  scaled.reg = 0.5f;
  std::vector<float> users(9 * k);
  ExplicitHalfSweep(data.by_user, items.data(), k, scaled, users.data());
  for (uint32_t u = 0; u + 1 < 9; ++u) {
    const uint64_t begin = data.by_user.indptr[u], n = data.by_user.RowLength(u);
    ExplicitSweepOptions plain;
    plain.scale_by_count = false;
    plain.reg = 0.5f * static_cast<float>(n);
    std::vector<float> x(k);
    ExplicitSolveRow(data.by_user.indices.data() + begin, data.by_user.values.data() + begin, n,
                     items.data(), k, plain, x.data(), nullptr);
    for (uint32_t p = 0; p < k; ++p) EXPECT_NEAR(users[u * k + p], x[p], 1e-5);
    if (n > 1) {
      plain.reg = 0.5f;
      ExplicitSolveRow(data.by_user.indices.data() + begin, data.by_user.values.data() + begin,
                       n, items.data(), k, plain, x.data(), nullptr);
      double diff = 0;
      for (uint32_t p = 0; p < k; ++p) diff += std::fabs(users[u * k + p] - x[p]);
      EXPECT_GT(diff, 1e-4) << "scaling by n = " << n << " changes the solution";
    }
  }
}

TEST(Als, NonnegativeSolutionsSatisfyKkt) {
  const Dataset data = TinyRatings(12, 10, 6);
  const uint32_t k = 4;
  // Mixed-sign item factors so that the constraints bind.
  const std::vector<float> items = RandomFactors(10, k, 7);
  ExplicitSweepOptions o;
  o.reg = 0.05f;
  o.nonnegative = true;
  std::vector<float> users(12 * k);
  ExplicitHalfSweep(data.by_user, items.data(), k, o, users.data());
  int at_bound = 0;
  for (uint32_t u = 0; u + 1 < 12; ++u) {
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(k, k);
    Eigen::VectorXd b = Eigen::VectorXd::Zero(k), x(k);
    for (uint64_t e = data.by_user.indptr[u]; e < data.by_user.indptr[u + 1]; ++e) {
      Eigen::VectorXd y(k);
      for (uint32_t p = 0; p < k; ++p) y(p) = items[data.by_user.indices[e] * k + p];
      a += y * y.transpose();
      b += data.by_user.values[e] * y;
    }
    a.diagonal().array() += o.reg * static_cast<double>(data.by_user.RowLength(u));
    for (uint32_t p = 0; p < k; ++p) x(p) = users[u * k + p];
    const Eigen::VectorXd g = a * x - b;  // gradient of 1/2 x'Ax - b'x
    const double tol = 1e-4 * (1 + b.cwiseAbs().maxCoeff());
    for (uint32_t p = 0; p < k; ++p) {
      ASSERT_GE(x(p), 0.0);
      if (x(p) > 0) {
        EXPECT_NEAR(g(p), 0.0, tol) << "free variable " << p << " of row " << u;
      } else {
        EXPECT_GT(g(p), -tol) << "bound variable " << p << " of row " << u;
        ++at_bound;
      }
    }
  }
  EXPECT_GT(at_bound, 0) << "the test should exercise active constraints";
}

TEST(Als, NonnegativeFitHasNonnegativeFactors) {
  testing::TestDataOptions t;
  t.explicit_ratings = true;
  const Dataset data = testing::MakeTestDataset(t);
  ModelParams p;
  p.factors = 5;
  p.iterations = 5;
  p.nonnegative = true;
  p.biases = true;
  auto m = CreateRecommender("als", p);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Fit(data).ok());
  const auto& fm = dynamic_cast<const FactorModel&>(**m);
  for (float v : fm.user_factors()) ASSERT_GE(v, 0.0f);
  for (float v : fm.item_factors()) ASSERT_GE(v, 0.0f);
  bool negative_bias = false;
  for (float b : fm.item_biases()) negative_bias |= b < 0;
  EXPECT_TRUE(negative_bias) << "biases are not constrained";
}

struct Split {
  Dataset train;
  std::vector<Rating> test;
};

// R = mu + b_u + b_i + U V' + N(0, sigma^2), `observed` of the cells seen,
// one in ten of those held out.
Split Planted(uint32_t users, uint32_t items, uint32_t rank, float mu, float sigma,
              float bias_sd, double observed, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  const std::vector<float> u = RandomFactors(users, rank, seed + 1);
  const std::vector<float> v = RandomFactors(items, rank, seed + 2);
  const std::vector<float> bu = RandomFactors(users, 1, seed + 3, bias_sd);
  const std::vector<float> bi = RandomFactors(items, 1, seed + 4, bias_sd);
  Split s;
  std::vector<Rating> train;
  for (uint32_t a = 0; a < users; ++a) {
    for (uint32_t b = 0; b < items; ++b) {
      if (uniform(rng) >= observed) continue;
      float r = mu + bu[a] + bi[b] + sigma * normal(rng);
      for (uint32_t p = 0; p < rank; ++p) r += u[a * rank + p] * v[b * rank + p];
      (uniform(rng) < 0.1 ? s.test : train).push_back({a, b, r});
    }
  }
  s.train = MakeExplicit(users, items, train);
  return s;
}

double HeldOutRmse(const Recommender& m, const std::vector<Rating>& test) {
  double se = 0;
  size_t n = 0;
  for (const Rating& r : test) {
    if (!m.CanPredict(r.user, r.item)) continue;
    const double d = m.Predict(r.user, r.item) - r.value;
    se += d * d;
    ++n;
  }
  EXPECT_GT(n, test.size() * 9 / 10);
  return std::sqrt(se / static_cast<double>(n));
}

std::unique_ptr<Recommender> FitAls(const Dataset& data, const ModelParams& p) {
  auto m = CreateRecommender("als", p);
  EXPECT_TRUE(m.ok());
  Status s = (*m)->Fit(data);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(m).value();
}

TEST(Als, RecoversPlantedFactorsNearNoiseLevel) {
  const float sigma = 0.3f;
  const Split s = Planted(200, 100, 3, 0.0f, sigma, 0.0f, 0.3, 11);
  ModelParams p;
  p.factors = 3;
  p.iterations = 15;
  p.reg = 0.01f;
  auto m = FitAls(s.train, p);
  const double rmse = HeldOutRmse(*m, s.test);
  EXPECT_LT(rmse, 1.3 * sigma) << "held-out RMSE " << rmse;
}

// The default conjugate-gradient fit (solver=cg, 3 steps a sweep) predicts held-out ratings as
// well as the exact one (solver=cholesky), with and without biases.
TEST(Als, ConjugateGradientFitIsAsAccurateAsExact) {
  const float sigma = 0.3f;
  const Split s = Planted(300, 200, 8, 3.0f, sigma, 0.5f, 0.2, 15);
  for (bool biases : {false, true}) {
    ModelParams p;
    p.factors = 8;
    p.iterations = 15;
    p.reg = 0.02f;
    p.biases = biases;
    p.solver = Solver::kCholesky;
    const double exact = HeldOutRmse(*FitAls(s.train, p), s.test);
    p.solver = Solver::kCg;
    const double cg = HeldOutRmse(*FitAls(s.train, p), s.test);
    EXPECT_LT(cg, exact * 1.02) << "biases " << biases << ": cg " << cg << ", exact " << exact;
  }
}

TEST(Als, BiasesImproveRmseOnBiasedData) {
  const float sigma = 0.2f;
  const Split s = Planted(150, 80, 1, 3.0f, sigma, 1.0f, 0.3, 12);
  ModelParams p;
  p.factors = 1;
  p.iterations = 10;
  p.reg = 0.02f;
  const double plain = HeldOutRmse(*FitAls(s.train, p), s.test);
  p.biases = true;
  const double biased = HeldOutRmse(*FitAls(s.train, p), s.test);
  EXPECT_LT(biased, 0.6 * plain) << "with biases " << biased << ", without " << plain;
  EXPECT_LT(biased, 1.5 * sigma);
}

TEST(Als, BiasesHaveTheirOwnRegularisation) {
  const Split s = Planted(150, 80, 1, 3.0f, 0.2f, 1.0f, 0.3, 14);
  ModelParams p;
  p.factors = 2;
  p.iterations = 5;
  p.reg = 0.02f;
  p.biases = true;
  p.threads = 1;
  auto free_biases = FitAls(s.train, p);
  p.reg_user_bias = 1e6f;  // user biases pinned to ~0, item biases free
  auto pinned = FitAls(s.train, p);
  const auto& a = dynamic_cast<const FactorModel&>(*free_biases);
  const auto& b = dynamic_cast<const FactorModel&>(*pinned);
  double free_user = 0, pinned_user = 0, pinned_item = 0;
  for (float v : a.user_biases()) free_user = std::max(free_user, std::fabs(double{v}));
  for (float v : b.user_biases()) pinned_user = std::max(pinned_user, std::fabs(double{v}));
  for (float v : b.item_biases()) pinned_item = std::max(pinned_item, std::fabs(double{v}));
  EXPECT_GT(free_user, 0.3);
  EXPECT_LT(pinned_user, 1e-3);
  EXPECT_GT(pinned_item, 0.3);
  // Negative (the default) means "as reg": the same fit as leaving them unset.
  p.reg_user_bias = -1.0f;
  auto as_reg = FitAls(s.train, p);
  EXPECT_EQ(dynamic_cast<const FactorModel&>(*as_reg).user_biases(), a.user_biases());
}

TEST(Als, DeterministicAcrossThreadCounts) {
  const Split s = Planted(60, 40, 2, 3.0f, 0.3f, 0.5f, 0.4, 13);
  for (Solver solver : {Solver::kCg, Solver::kCholesky}) {
    ModelParams p;
    p.factors = 4;
    p.iterations = 3;
    p.biases = true;
    p.solver = solver;
    p.threads = 1;
    auto one = FitAls(s.train, p);
    p.threads = 2;
    auto two = FitAls(s.train, p);
    const auto& a = dynamic_cast<const FactorModel&>(*one);
    const auto& b = dynamic_cast<const FactorModel&>(*two);
    EXPECT_EQ(a.user_factors(), b.user_factors());
    EXPECT_EQ(a.item_factors(), b.item_factors());
    EXPECT_EQ(a.user_biases(), b.user_biases());
  }
}

TEST(Als, ColdStartModes) {
  testing::TestDataOptions t;
  t.explicit_ratings = true;
  const Dataset data = testing::MakeTestDataset(t);
  const uint32_t cold_user = data.by_user.rows - 1, cold_item = data.by_user.cols - 1;
  ModelParams p;
  p.factors = 4;
  p.iterations = 4;
  auto drop = FitAls(data, p);
  const auto& fd = dynamic_cast<const FactorModel&>(*drop);
  EXPECT_FALSE(drop->CanPredict(cold_user, 0));
  EXPECT_FALSE(drop->CanPredict(0, cold_item));
  EXPECT_EQ(drop->Predict(cold_user, 0), fd.global_mean());
  EXPECT_EQ(drop->Predict(0, cold_item), fd.global_mean());
  QueryOptions q;
  EXPECT_TRUE(Recommend(*drop, cold_user, q).empty());

  p.cold_start = ColdStart::kPopular;
  auto popular = FitAls(data, p);
  EXPECT_TRUE(popular->CanPredict(cold_user, 0));
  // Without biases: the item's mean rating damped towards the global mean by
  // 25 pseudo-ratings.
  const double mu = dynamic_cast<const FactorModel&>(*popular).global_mean();
  for (uint32_t i = 0; i < 3; ++i) {
    double dev = 0;
    const uint64_t n = data.by_item.RowLength(i);
    for (uint64_t e = data.by_item.indptr[i]; e < data.by_item.indptr[i + 1]; ++e) {
      dev += data.by_item.values[e] - mu;
    }
    EXPECT_NEAR(popular->Predict(cold_user, i), mu + dev / (static_cast<double>(n) + 25), 1e-5);
  }
  EXPECT_FLOAT_EQ(popular->Predict(0, cold_item), static_cast<float>(mu));
  q.n = 5;
  auto recs = Recommend(*popular, cold_user, q);
  ASSERT_EQ(recs.size(), 5u);
  for (const auto& r : recs) EXPECT_EQ(r.score, popular->Predict(cold_user, r.item));

  p.biases = true;
  auto biased = FitAls(data, p);
  const auto& fb = dynamic_cast<const FactorModel&>(*biased);
  EXPECT_FLOAT_EQ(biased->Predict(cold_user, 2), fb.global_mean() + fb.item_biases()[2]);
  EXPECT_FLOAT_EQ(biased->Predict(3, cold_item), fb.global_mean() + fb.user_biases()[3]);
}

TEST(Als, FoldInSolvesTheUserStep) {
  testing::TestDataOptions t;
  t.explicit_ratings = true;
  const Dataset data = testing::MakeTestDataset(t);
  ModelParams p;
  p.factors = 4;
  p.iterations = 5;
  p.biases = true;
  auto m = FitAls(data, p);
  const auto& fm = dynamic_cast<const FactorModel&>(*m);
  std::vector<ItemWeight> items;
  for (uint64_t e = data.by_user.indptr[2]; e < data.by_user.indptr[3]; ++e) {
    items.push_back({data.by_user.indices[e], data.by_user.values[e]});
  }
  std::vector<float> scores(m->num_items());
  ASSERT_TRUE(m->ScoreFoldIn(items, scores.data()).ok());
  // Solve the same step by hand.
  ExplicitSweepOptions o;
  o.reg = p.reg;
  o.global_mean = fm.global_mean();
  o.fixed_bias = fm.item_biases().data();
  float dummy = 0;
  o.bias = &dummy;
  std::vector<uint32_t> cols;
  std::vector<float> values;
  for (const auto& iw : items) {
    cols.push_back(iw.item);
    values.push_back(iw.weight);
  }
  std::vector<float> x(4);
  float b = 0;
  ExplicitSolveRow(cols.data(), values.data(), cols.size(), fm.item_factors().data(), 4, o,
                   x.data(), &b);
  for (uint32_t i = 0; i + 1 < m->num_items(); ++i) {
    double s = fm.global_mean() + b + fm.item_biases()[i];
    for (uint32_t q = 0; q < 4; ++q) s += double{x[q]} * fm.item_factors()[i * 4 + q];
    EXPECT_NEAR(scores[i], s, 1e-4);
  }
}

}  // namespace
}  // namespace encore::model
