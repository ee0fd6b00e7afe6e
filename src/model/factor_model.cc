// FactorModel: scoring (single, blocked batch, subset), similar items, cold start,
// fold-in scoring and model-file state shared by als and ials.
//
// No Eigen here: the scoring kernel is a small register-blocked outer-product
// loop written with GCC vector extensions, so that every score has the same
// bits whichever path (batch block, single user, allow list, Predict)
// computes it. See the header for the exactness argument.

#include "model/factor_model.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "encore/model_io.h"
#include "model/rank_order.h"
#include "model/vec_kernels.h"
#include "util/huge_pages.h"
#include "util/random.h"

namespace encore::model {

namespace {

using vec::Load4;
using vec::Store4;
using vec::V4;

constexpr uint32_t kPanel = 8;       // items per packed panel (two V4 lanes)
constexpr uint32_t kUserBlock = 32;  // users scored together in a batch

// Items per ScoreBatchSlice slice (a multiple of 32, the AVX-512 tile).
constexpr uint32_t kSliceItems = 1024;

// The reference dot product: sequential over p, starting from 0. Every lane
// of the blocked kernel computes exactly this sum.
inline float DotSeq(const float* x, const float* y, uint32_t k) {
  float acc = 0;
  for (uint32_t p = 0; p < k; ++p) acc += x[p] * y[p];
  return acc;
}

// Scores MR users (rows of x, stride k) against one packed panel of kPanel
// items, writing `width` (<= kPanel) scores per user into out (row stride
// ldo). With offsets, score = (dot + uoff[r]) + ioff[j].
template <int MR>
inline void ScoreTile(const float* x, uint32_t k, const float* panel, const float* uoff,
                      const float* ioff, float* out, size_t ldo, uint32_t width) {
  V4 acc0[MR], acc1[MR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    acc0[r] = V4{0, 0, 0, 0};
    acc1[r] = V4{0, 0, 0, 0};
  }
  for (uint32_t p = 0; p < k; ++p) {
    const V4 y0 = Load4(panel + p * kPanel);
    const V4 y1 = Load4(panel + p * kPanel + 4);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const float xv = x[r * k + p];
      const V4 b = {xv, xv, xv, xv};
      acc0[r] += b * y0;
      acc1[r] += b * y1;
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
    float tmp[kPanel];
    Store4(tmp, acc0[r]);
    Store4(tmp + 4, acc1[r]);
    float* o = out + r * ldo;
    if (uoff != nullptr) {
      for (uint32_t j = 0; j < width; ++j) o[j] = (tmp[j] + uoff[r]) + ioff[j];
    } else {
      for (uint32_t j = 0; j < width; ++j) o[j] = tmp[j];
    }
  }
}

#if defined(__x86_64__)
#define ENCORE_HAVE_AVX2_KERNELS 1

// The AVX2 + FMA kernels: the same loops, 8 users x 8 items per tile, each
// lane accumulating fma(x[p], y[p], acc) for p = 0 .. k-1; DotFma is the
// scalar reference for this arithmetic.
__attribute__((target("avx2,fma"))) float DotFma(const float* x, const float* y, uint32_t k) {
  float acc = 0;
  for (uint32_t p = 0; p < k; ++p) acc = __builtin_fmaf(x[p], y[p], acc);
  return acc;
}

template <int MR>
__attribute__((target("avx2,fma"))) inline void ScoreTileFma(const float* x, uint32_t k,
                                                             const float* panel, const float* uoff,
                                                             const float* ioff, float* out,
                                                             size_t ldo, uint32_t width) {
  __m256 acc[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r] = _mm256_setzero_ps();
  for (uint32_t p = 0; p < k; ++p) {
    const __m256 y = _mm256_loadu_ps(panel + p * kPanel);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * k + p), y, acc[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    float tmp[kPanel];
    _mm256_storeu_ps(tmp, acc[r]);
    float* o = out + r * ldo;
    if (uoff != nullptr) {
      for (uint32_t j = 0; j < width; ++j) o[j] = (tmp[j] + uoff[r]) + ioff[j];
    } else {
      for (uint32_t j = 0; j < width; ++j) o[j] = tmp[j];
    }
  }
}

// Items [begin, end) (begin a multiple of kPanel); out row r (stride n)
// starts at item begin's score.
__attribute__((target("avx2,fma"))) void ScoreRowsFma(const float* x, const float* uoff,
                                                      uint32_t rows, uint32_t k,
                                                      const float* packed, const float* ioff,
                                                      uint32_t begin, uint32_t end, size_t n,
                                                      float* out) {
  const float zero_offsets[kPanel] = {};
  for (uint32_t i0 = begin; i0 < end; i0 += kPanel) {
    const float* panel = packed + uint64_t{i0 / kPanel} * k * kPanel;
    const uint32_t width = std::min(kPanel, end - i0);
    const float* io = ioff != nullptr ? ioff + i0 : zero_offsets;
    uint32_t r = 0;
    for (; r + 8 <= rows; r += 8) {
      ScoreTileFma<8>(x + uint64_t{r} * k, k, panel, uoff ? uoff + r : nullptr, io,
                      out + uint64_t{r} * n + (i0 - begin), n, width);
    }
    const float* xr = x + uint64_t{r} * k;
    const float* ur = uoff ? uoff + r : nullptr;
    float* o = out + uint64_t{r} * n + (i0 - begin);
    switch (rows - r) {
      case 7:
        ScoreTileFma<7>(xr, k, panel, ur, io, o, n, width);
        break;
      case 6:
        ScoreTileFma<6>(xr, k, panel, ur, io, o, n, width);
        break;
      case 5:
        ScoreTileFma<5>(xr, k, panel, ur, io, o, n, width);
        break;
      case 4:
        ScoreTileFma<4>(xr, k, panel, ur, io, o, n, width);
        break;
      case 3:
        ScoreTileFma<3>(xr, k, panel, ur, io, o, n, width);
        break;
      case 2:
        ScoreTileFma<2>(xr, k, panel, ur, io, o, n, width);
        break;
      case 1:
        ScoreTileFma<1>(xr, k, panel, ur, io, o, n, width);
        break;
      default:
        break;
    }
  }
}
#define ENCORE_HAVE_AVX512_KERNELS 1

// The AVX-512 kernel: the same arithmetic as the AVX2 one (each lane
// accumulates fma(x[p], y[p], acc) for p = 0 .. k-1, starting from 0, so the
// scores are bit-identical to ScoreRowsFma's and to DotFma), 16 items per
// zmm register. Items are packed in panels of kWidePanel; a tile is MR users
// x NP panels (NP = 2: 32 items, 2 panel loads and MR broadcasts per MR x 2
// fused multiply-adds, 16 accumulators of the 32 registers).
constexpr uint32_t kWidePanel = 16;

template <int MR, int NP>
__attribute__((target("avx512f,avx512vl,avx2,fma"))) inline void ScoreTile512(
    const float* x, uint32_t k, const float* panel, const float* uoff, const float* ioff,
    float* out, size_t ldo, uint32_t width) {
  __m512 acc[NP][MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 2
    for (int q = 0; q < NP; ++q) acc[q][r] = _mm512_setzero_ps();
  }
  const uint64_t panel_stride = uint64_t{k} * kWidePanel;
  for (uint32_t p = 0; p < k; ++p) {
    __m512 y[NP];
#pragma GCC unroll 2
    for (int q = 0; q < NP; ++q) y[q] = _mm512_loadu_ps(panel + q * panel_stride + p * kWidePanel);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 b = _mm512_set1_ps(x[r * k + p]);
#pragma GCC unroll 2
      for (int q = 0; q < NP; ++q) acc[q][r] = _mm512_fmadd_ps(b, y[q], acc[q][r]);
    }
  }
  // (dot + uoff[r]) + ioff[j], lane by lane: the same two roundings as the
  // scalar epilogue of the other kernels.
#pragma GCC unroll 2
  for (int q = 0; q < NP; ++q) {
    const uint32_t done = q * kWidePanel;
    const uint32_t w = width > done ? std::min(kWidePanel, width - done) : 0;
    const __mmask16 mask = static_cast<__mmask16>((1u << w) - 1);
    const __m512 io = uoff != nullptr ? _mm512_maskz_loadu_ps(mask, ioff + done) : __m512{};
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      __m512 v = acc[q][r];
      if (uoff != nullptr) v = _mm512_add_ps(_mm512_add_ps(v, _mm512_set1_ps(uoff[r])), io);
      _mm512_mask_storeu_ps(out + r * ldo + done, mask, v);
    }
  }
}

// Users in tiles of MR (8, then one tail tile) against NP panels.
template <int NP>
__attribute__((target("avx512f,avx512vl,avx2,fma"))) inline void ScoreColumn512(
    const float* x, const float* uoff, uint32_t rows, uint32_t k, const float* panel,
    const float* io, size_t n, float* out, uint32_t width) {
  uint32_t r = 0;
  for (; r + 8 <= rows; r += 8) {
    ScoreTile512<8, NP>(x + uint64_t{r} * k, k, panel, uoff ? uoff + r : nullptr, io,
                        out + uint64_t{r} * n, n, width);
  }
  const float* xr = x + uint64_t{r} * k;
  const float* ur = uoff ? uoff + r : nullptr;
  float* o = out + uint64_t{r} * n;
  switch (rows - r) {
    case 7:
      ScoreTile512<7, NP>(xr, k, panel, ur, io, o, n, width);
      break;
    case 6:
      ScoreTile512<6, NP>(xr, k, panel, ur, io, o, n, width);
      break;
    case 5:
      ScoreTile512<5, NP>(xr, k, panel, ur, io, o, n, width);
      break;
    case 4:
      ScoreTile512<4, NP>(xr, k, panel, ur, io, o, n, width);
      break;
    case 3:
      ScoreTile512<3, NP>(xr, k, panel, ur, io, o, n, width);
      break;
    case 2:
      ScoreTile512<2, NP>(xr, k, panel, ur, io, o, n, width);
      break;
    case 1:
      ScoreTile512<1, NP>(xr, k, panel, ur, io, o, n, width);
      break;
    default:
      break;
  }
}

// Items [begin, end) (begin a multiple of kWidePanel); out row r (stride
// n) starts at item begin's score.
__attribute__((target("avx512f,avx512vl,avx2,fma"))) void ScoreRows512(
    const float* x, const float* uoff, uint32_t rows, uint32_t k, const float* packed,
    const float* ioff, uint32_t begin, uint32_t end, size_t n, float* out) {
  const float zero_offsets[2 * kWidePanel] = {};
  uint32_t i0 = begin;
  for (; i0 + kWidePanel < end; i0 += 2 * kWidePanel) {
    const float* panel = packed + uint64_t{i0 / kWidePanel} * k * kWidePanel;
    const uint32_t width = std::min(2 * kWidePanel, end - i0);
    const float* io = ioff != nullptr ? ioff + i0 : zero_offsets;
    ScoreColumn512<2>(x, uoff, rows, k, panel, io, n, out + (i0 - begin), width);
  }
  if (i0 < end) {
    const float* panel = packed + uint64_t{i0 / kWidePanel} * k * kWidePanel;
    const float* io = ioff != nullptr ? ioff + i0 : zero_offsets;
    ScoreColumn512<1>(x, uoff, rows, k, panel, io, n, out + (i0 - begin), end - i0);
  }
}
#endif  // __x86_64__

std::atomic<bool> g_disable_wide_kernels{false};
std::atomic<bool> g_disable_avx512_kernels{false};

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

bool WideKernelsEnabled() {
#ifdef ENCORE_HAVE_AVX2_KERNELS
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return supported && !g_disable_wide_kernels.load();
#else
  return false;
#endif
}

void DisableWideKernelsForTesting(bool disable) { g_disable_wide_kernels.store(disable); }

bool Avx512KernelsSupported() {
#ifdef ENCORE_HAVE_AVX512_KERNELS
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return supported;
#else
  return false;
#endif
}

bool Avx512KernelsEnabled() {
  return Avx512KernelsSupported() && WideKernelsEnabled() && !g_disable_avx512_kernels.load();
}

void DisableAvx512KernelsForTesting(bool disable) { g_disable_avx512_kernels.store(disable); }

void FillNormalRange(SplitMix64 rng, float scale, bool absolute, size_t size, size_t begin,
                     size_t end, float* v) {
  const size_t first = begin - begin % 2;
  rng.Skip(first);
  for (size_t i = first; i < end; i += 2) {
    const double u1 = 1.0 - rng.Uniform();  // (0, 1]
    const double u2 = rng.Uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    float z0 = static_cast<float>(radius * std::cos(angle)) * scale;
    float z1 = static_cast<float>(radius * std::sin(angle)) * scale;
    if (absolute) {
      z0 = std::fabs(z0);
      z1 = std::fabs(z1);
    }
    if (i >= begin) v[i] = z0;
    if (i + 1 < end && i + 1 < size) v[i + 1] = z1;
  }
}

uint64_t NormalDraws(size_t size) { return size + size % 2; }

int KernelLevel() { return Avx512KernelsEnabled() ? 2 : WideKernelsEnabled() ? 1 : 0; }

void CapKernelLevel(int level) {
  if (level < 2) g_disable_avx512_kernels.store(true);
  if (level < 1) g_disable_wide_kernels.store(true);
}

void FactorModel::InitFactors(uint32_t users, uint32_t items, bool biases, bool nonnegative) {
  k_ = params_.factors;
  // The sweeps read the other side's rows at random: huge pages keep those
  // reads from missing the TLB (also in the Python module, which cannot
  // re-execute with glibc's huge-page tunable; docs/SCALING.md).
  for (auto [v, rows] : {std::pair{&user_factors_, users}, std::pair{&item_factors_, items}}) {
    const uint64_t n = uint64_t{rows} * k_;
    if (v->capacity() < n) {
      std::vector<float>().swap(*v);
      v->reserve(n);
      AdviseHugePages(v->data(), n * sizeof(float));
    }
    v->assign(n, 0.0f);
  }
  // One stream: the users' draws, then the items'. A distributed fit fills
  // an equal share of each side per process and shares it (the draws are
  // ~0.3 s of serial work at 250,000 x 64).
  SplitMix64 rng(params_.seed);
  for (const bool user_side : {true, false}) {
    std::vector<float>& v = user_side ? user_factors_ : item_factors_;
    uint64_t begin = 0, end = v.size();
    if (exchange_ != nullptr) {
      const auto [a, b] = exchange_->EqualRows(user_side);
      begin = uint64_t{a} * k_;
      end = uint64_t{b} * k_;
    }
    FillNormalRange(rng, params_.init_scale, nonnegative, v.size(), begin, end, v.data());
    if (exchange_ != nullptr) exchange_->ShareEqualRows(user_side, v.data(), k_);
    rng.Skip(NormalDraws(v.size()));
  }
  has_biases_ = biases;
  user_biases_.assign(biases ? users : 0, 0.0f);
  item_biases_.assign(biases ? items : 0, 0.0f);
  cold_user_scores_.assign(items, 0.0f);
  global_mean_ = 0;
  default_prediction_ = 0;
}

void FactorModel::BuildDerived() {
  wide_kernels_ = WideKernelsEnabled();
  avx512_kernels_ = Avx512KernelsEnabled();
  const uint32_t n = num_items();
#ifdef ENCORE_HAVE_AVX512_KERNELS
  const uint32_t width = avx512_kernels_ ? kWidePanel : kPanel;
#else
  const uint32_t width = kPanel;
#endif
  const uint32_t panels = (n + width - 1) / width;
  packed_items_.assign(uint64_t{panels} * k_ * width, 0.0f);
  for (uint32_t i = 0; i < n; ++i) {
    float* panel = packed_items_.data() + uint64_t{i / width} * k_ * width;
    const float* y = item_factors_.data() + uint64_t{i} * k_;
    for (uint32_t p = 0; p < k_; ++p) panel[p * width + i % width] = y[p];
  }
  item_norms_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const float* y = item_factors_.data() + uint64_t{i} * k_;
    item_norms_[i] = std::sqrt(DotSeq(y, y, k_));
  }
  item_cold_.assign(n, 1);
  for (uint32_t item : seen_.indices) item_cold_[item] = 0;
  cold_items_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    if (item_cold_[i]) cold_items_.push_back(i);
  }
}

void FactorModel::ScoreRows(const float* x, const float* offsets, uint32_t rows, float* out) const {
  ScoreRowRange(x, offsets, rows, 0, num_items(), out, num_items());
}

void FactorModel::ScoreRowRange(const float* x, const float* offsets, uint32_t rows, uint32_t begin,
                                uint32_t end, float* out, size_t n) const {
  const float* ioff = has_biases_ ? item_biases_.data() : nullptr;
  const float* uoff = has_biases_ ? offsets : nullptr;
#ifdef ENCORE_HAVE_AVX512_KERNELS
  if (avx512_kernels_) {
    ScoreRows512(x, uoff, rows, k_, packed_items_.data(), ioff, begin, end, n, out);
    return;
  }
#endif
#ifdef ENCORE_HAVE_AVX2_KERNELS
  if (wide_kernels_) {
    ScoreRowsFma(x, uoff, rows, k_, packed_items_.data(), ioff, begin, end, n, out);
    return;
  }
#endif
  float zero_offsets[kPanel] = {};
  for (uint32_t i0 = begin; i0 < end; i0 += kPanel) {
    const float* panel = packed_items_.data() + uint64_t{i0 / kPanel} * k_ * kPanel;
    const uint32_t width = std::min(kPanel, end - i0);
    // The item offsets of a partial last panel are read only up to width.
    const float* io = ioff != nullptr ? ioff + i0 : zero_offsets;
    uint32_t r = 0;
    for (; r + 4 <= rows; r += 4) {
      ScoreTile<4>(x + uint64_t{r} * k_, k_, panel, uoff ? uoff + r : nullptr, io,
                   out + uint64_t{r} * n + (i0 - begin), n, width);
    }
    const float* xr = x + uint64_t{r} * k_;
    const float* ur = uoff ? uoff + r : nullptr;
    float* o = out + uint64_t{r} * n + (i0 - begin);
    switch (rows - r) {
      case 3:
        ScoreTile<3>(xr, k_, panel, ur, io, o, n, width);
        break;
      case 2:
        ScoreTile<2>(xr, k_, panel, ur, io, o, n, width);
        break;
      case 1:
        ScoreTile<1>(xr, k_, panel, ur, io, o, n, width);
        break;
      default:
        break;
    }
  }
}

float FactorModel::ScoreOne(const float* x, float offset, uint32_t item) const {
  const float* y = item_factors_.data() + uint64_t{item} * k_;
#ifdef ENCORE_HAVE_AVX2_KERNELS
  const float dot = wide_kernels_ ? DotFma(x, y, k_) : DotSeq(x, y, k_);
#else
  const float dot = DotSeq(x, y, k_);
#endif
  return has_biases_ ? (dot + offset) + item_biases_[item] : dot;
}

void FactorModel::ApplyColdItems(float user_offset, uint32_t begin, uint32_t end,
                                 float* scores) const {
  const auto first = std::lower_bound(cold_items_.begin(), cold_items_.end(), begin);
  const auto last = std::lower_bound(first, cold_items_.end(), end);
  if (first == last) return;
  float value = kNegInf;
  if (params_.cold_start == ColdStart::kPopular) {
    value = has_biases_ ? user_offset : default_prediction_;
  }
  for (auto it = first; it != last; ++it) scores[*it - begin] = value;
}

void FactorModel::ScoreColdUser(uint32_t begin, uint32_t end, float* scores) const {
  if (params_.cold_start == ColdStart::kPopular) {
    std::copy(cold_user_scores_.begin() + begin, cold_user_scores_.begin() + end, scores);
  } else {
    std::fill(scores, scores + (end - begin), kNegInf);
  }
}

void FactorModel::ScoreItems(uint32_t user, float* scores) const {
  if (UserIsCold(user)) {
    ScoreColdUser(0, num_items(), scores);
    return;
  }
  const float offset = UserOffset(user);
  ScoreRows(user_factors_.data() + uint64_t{user} * k_, &offset, 1, scores);
  ApplyColdItems(offset, 0, num_items(), scores);
}

bool FactorModel::CanPredict(uint32_t user, uint32_t item) const {
  if (user >= num_users() || item >= num_items()) return false;
  if (params_.cold_start == ColdStart::kPopular) return true;
  return !UserIsCold(user) && !item_cold_[item];
}

float FactorModel::Predict(uint32_t user, uint32_t item) const {
  const bool popular = params_.cold_start == ColdStart::kPopular;
  if (UserIsCold(user)) return popular ? cold_user_scores_[item] : default_prediction_;
  const float offset = UserOffset(user);
  if (item_cold_[item]) {
    return popular && has_biases_ ? offset : default_prediction_;
  }
  return ScoreOne(user_factors_.data() + uint64_t{user} * k_, offset, item);
}

void FactorModel::ScoreBatch(std::span<const uint32_t> users, float* out) const {
  ScoreBatchSlice(users, 0, num_items(), out, num_items());
}

uint32_t FactorModel::batch_block() const { return kUserBlock; }

Recommender::SliceShape FactorModel::slice_shape() const {
  // 128 users x 1024 items: 512 KiB of scores and 1024 * k * 4 bytes of item
  // panels (256 KiB at k = 64) stay in a 1 MiB L2 while the ranker selects,
  // and each item panel is read from memory once per 128 users.
  return {4 * kUserBlock, kSliceItems};
}

void FactorModel::ScoreBatchSlice(std::span<const uint32_t> users, uint32_t begin, uint32_t end,
                                  float* out, size_t ld) const {
  // Warm users are packed and scored by one blocked kernel call; cold users
  // get their rows afterwards. A block of up to kUserBlock users at a time.
  std::vector<float> xb;
  std::vector<float> offsets;
  std::vector<size_t> warm;  // row of each packed user
  std::vector<size_t> cold;  // rows of cold users
  for (size_t b = 0; b < users.size(); b += kUserBlock) {
    const size_t e = std::min(users.size(), b + kUserBlock);
    xb.resize(uint64_t{kUserBlock} * k_);
    offsets.resize(kUserBlock);
    warm.clear();
    cold.clear();
    for (size_t r = b; r < e; ++r) {
      const uint32_t u = users[r];
      if (UserIsCold(u)) {
        cold.push_back(r);
        continue;
      }
      const size_t slot = warm.size();
      std::copy_n(user_factors_.data() + uint64_t{u} * k_, k_, xb.data() + slot * k_);
      offsets[slot] = UserOffset(u);
      warm.push_back(r);
    }
    if (!warm.empty()) {
      // Scored into rows b, b + 1, ... (which may be cold users' rows); then
      // moved to their own rows, last first (a warm user's row is never
      // before its slot).
      float* base = out + b * ld;
      ScoreRowRange(xb.data(), offsets.data(), static_cast<uint32_t>(warm.size()), begin, end,
                    base, ld);
      for (size_t slot = warm.size(); slot-- > 0;) {
        float* row = out + warm[slot] * ld;
        if (row != base + slot * ld) std::copy_n(base + slot * ld, end - begin, row);
        ApplyColdItems(offsets[slot], begin, end, row);
      }
    }
    // Last: the packed scores may have passed through these rows.
    for (size_t r : cold) ScoreColdUser(begin, end, out + r * ld);
  }
}

void FactorModel::ScoreSubset(uint32_t user, std::span<const uint32_t> items, float* scores) const {
  const bool popular = params_.cold_start == ColdStart::kPopular;
  if (UserIsCold(user)) {
    for (uint32_t item : items) scores[item] = popular ? cold_user_scores_[item] : kNegInf;
    return;
  }
  const float offset = UserOffset(user);
  const float* x = user_factors_.data() + uint64_t{user} * k_;
  const float cold_value = popular ? (has_biases_ ? offset : default_prediction_) : kNegInf;
  for (uint32_t item : items)
    scores[item] = item_cold_[item] ? cold_value : ScoreOne(x, offset, item);
}

Status FactorModel::ScoreFoldIn(std::span<const ItemWeight> items, float* scores) const {
  for (const ItemWeight& iw : items) {
    if (iw.item >= num_items()) {
      return Status::InvalidArgument("fold-in: unknown item index " + std::to_string(iw.item) +
                                     " (the model has " + std::to_string(num_items()) + " items)");
    }
    if (!std::isfinite(iw.weight)) {
      return Status::InvalidArgument("fold-in: the weight of item " + std::to_string(iw.item) +
                                     " is not finite");
    }
  }
  if (items.empty()) {
    ScoreColdUser(0, num_items(), scores);
    return Status::OK();
  }
  std::vector<float> x(k_, 0.0f);
  float bias = 0;
  SolveFoldIn(items, x.data(), &bias);
  const float offset = has_biases_ ? global_mean_ + bias : 0.0f;
  ScoreRows(x.data(), &offset, 1, scores);
  ApplyColdItems(offset, 0, num_items(), scores);
  return Status::OK();
}

Status FactorModel::ScoreFoldInSubset(std::span<const ItemWeight> items,
                                      std::span<const uint32_t> subset, float* scores) const {
  // Checks the items and handles the empty visitor as ScoreFoldIn does.
  std::vector<float> probe(embedding_dim(), 0.0f);
  const bool popular = params_.cold_start == ColdStart::kPopular;
  if (items.empty()) {
    for (uint32_t item : subset) scores[item] = popular ? cold_user_scores_[item] : kNegInf;
    return Status::OK();
  }
  for (const ItemWeight& iw : items) {
    if (iw.item >= num_items() || !std::isfinite(iw.weight)) {
      return FoldInEmbedding(items, probe.data()).status();  // the same error message
    }
  }
  std::vector<float> x(k_, 0.0f);
  float bias = 0;
  SolveFoldIn(items, x.data(), &bias);
  const float offset = has_biases_ ? global_mean_ + bias : 0.0f;
  const float cold_value = popular ? (has_biases_ ? offset : default_prediction_) : kNegInf;
  for (uint32_t item : subset) {
    scores[item] = item_cold_[item] ? cold_value : ScoreOne(x.data(), offset, item);
  }
  return Status::OK();
}

Status FactorModel::SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const {
  if (item >= num_items()) {
    return Status::InvalidArgument("similar items: unknown item index " + std::to_string(item));
  }
  TopN top(n);
  const float* y = item_factors_.data() + uint64_t{item} * k_;
  const float norm = item_norms_[item];
  for (uint32_t j = 0; j < num_items(); ++j) {
    if (j == item) continue;
    float s = 0;
    if (norm > 0 && item_norms_[j] > 0) {
      s = DotSeq(y, item_factors_.data() + uint64_t{j} * k_, k_) / (norm * item_norms_[j]);
    }
    top.Push(j, s);
  }
  *out = top.Take();
  return Status::OK();
}

void FactorModel::ItemEmbedding(uint32_t item, float* out) const {
  std::copy_n(item_factors_.data() + uint64_t{item} * k_, k_, out);
  if (has_biases_) out[k_] = item_biases_[item];
}

bool FactorModel::UserEmbedding(uint32_t user, float* out) const {
  if (UserIsCold(user)) return false;
  std::copy_n(user_factors_.data() + uint64_t{user} * k_, k_, out);
  if (has_biases_) out[k_] = 1.0f;
  return true;
}

Result<bool> FactorModel::FoldInEmbedding(std::span<const ItemWeight> items, float* out) const {
  for (const ItemWeight& iw : items) {
    if (iw.item >= num_items()) {
      return Status::InvalidArgument("fold-in: unknown item index " + std::to_string(iw.item) +
                                     " (the model has " + std::to_string(num_items()) + " items)");
    }
    if (!std::isfinite(iw.weight)) {
      return Status::InvalidArgument("fold-in: the weight of item " + std::to_string(iw.item) +
                                     " is not finite");
    }
  }
  if (items.empty()) return false;
  float bias = 0;
  std::fill_n(out, k_, 0.0f);
  SolveFoldIn(items, out, &bias);
  if (has_biases_) out[k_] = 1.0f;
  return true;
}

void FactorModel::SaveState(ModelWriter* w) const {
  w->Put<uint32_t>(k_);
  w->Put<uint8_t>(has_biases_ ? 1 : 0);
  w->Put<float>(global_mean_);
  w->Put<float>(default_prediction_);
  w->PutArray(user_factors_);
  w->PutArray(item_factors_);
  w->PutArray(user_biases_);
  w->PutArray(item_biases_);
  w->PutArray(cold_user_scores_);
}

Status FactorModel::LoadState(ModelReader* r) {
  ENCORE_RETURN_IF_ERROR(r->Get(&k_, "factor count"));
  if (k_ != params_.factors) {
    return r->Invalid("factor count " + std::to_string(k_) + " (the parameters say " +
                      std::to_string(params_.factors) + ")");
  }
  uint8_t biases = 0;
  ENCORE_RETURN_IF_ERROR(r->Get(&biases, "bias flag"));
  if (biases > 1) return r->Invalid("bias flag");
  has_biases_ = biases == 1;
  ENCORE_RETURN_IF_ERROR(r->Get(&global_mean_, "global mean"));
  ENCORE_RETURN_IF_ERROR(r->Get(&default_prediction_, "default prediction"));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&user_factors_, "user factors", uint64_t{num_users()} * k_));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&item_factors_, "item factors", uint64_t{num_items()} * k_));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&user_biases_, "user biases", has_biases_ ? num_users() : 0));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&item_biases_, "item biases", has_biases_ ? num_items() : 0));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&cold_user_scores_, "cold-start scores", num_items()));
  auto all_finite = [](const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
  };
  if (!std::isfinite(global_mean_) || !std::isfinite(default_prediction_) ||
      !all_finite(user_factors_) || !all_finite(item_factors_) || !all_finite(user_biases_) ||
      !all_finite(item_biases_) || !all_finite(cold_user_scores_)) {
    return r->Invalid("factors (a value is not finite)");
  }
  BuildDerived();
  OnFactorsReady();
  return Status::OK();
}

}  // namespace encore::model
