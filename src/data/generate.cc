// Generate: seeded synthetic data. The model is described in
// docs/GENERATE.md; this file is laid out as
//
//   1. random numbers: SplitMix64 hashing, xoshiro256** streams, samplers;
//   2. text output: integer formatting into a growable block buffer;
//   3. the World: the latent structure every row draws from (clusters,
//      popularity, activity, taste factors, prices), built once, read-only;
//   4. one row filler per output file;
//   5. the pipeline: worker threads fill blocks, the caller writes them in
//      order to a temporary file which is renamed when complete;
//   6. options and Generate().
//
// Determinism: every random decision comes from a generator seeded by
// Hash(seed, stream, index), where stream names the decision (item ranks,
// events block, ...) and index the entity or block. Blocks hold a fixed
// kBlockRows rows, so which thread fills a block never matters.

#include "encore/generate.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <numbers>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "data/fashion.h"
#include "io/output_file.h"
#include "util/random.h"

namespace encore {
namespace {

// ---------------------------------------------------------------------------
// Model constants (documented in docs/GENERATE.md). Changing any of them
// changes the output for a given seed.

constexpr uint64_t kBlockRows = 65536;  // rows per independently seeded block

// Popularity and activity: weight 1 / (rank + offset), ranks from 0.
constexpr double kItemZipfOffset = 1.0;        // classic Zipf, exponent 1
constexpr double kUserZipfOffset = 10.0;       // flatter at the very top
constexpr double kUserCapShareOfItems = 0.25;  // no user expects more rows than items / 4

// Clusters and per-user sampling.
constexpr double kInCluster = 0.75;        // P(a user's item comes from the home cluster)
constexpr double kClusterFill = 0.5;       // ... lowered so a user expects <= half of it
constexpr double kSpread = 0.35;           // item share cap = kSpread / expected draws
constexpr double kBasketInCluster = 0.85;  // P(a basket item comes from the home cluster)
constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio

// Ratings: kGlobalMean + b_u + b_i + kFactorScale * (p_u . q_i) + noise.
constexpr int kDim = 8;                    // taste factor dimensions
constexpr double kUserFactorNoise = 0.35;  // per dimension, around the unit cluster centre
constexpr double kItemFactorNoise = 0.35;
constexpr double kUserBiasSd = 0.35;
constexpr double kItemBiasSd = 0.30;
constexpr double kGlobalMean = 3.1;
constexpr double kFactorScale = 0.9;
constexpr double kRatingNoiseSd = 0.5;

// Plays: 1 + floor(exp(N(mean + intensity_u, kPlaysLogSd^2))).
constexpr double kPlaysLogMeanIn = 1.6;   // home-cluster items
constexpr double kPlaysLogMeanOut = 0.5;  // other items
constexpr double kPlaysLogSd = 1.0;
constexpr double kUserIntensitySpread = 1.0;  // intensity_u ~ U(-0.5, 0.5) * spread
constexpr uint64_t kMaxPlays = 100000;

// Retail funnel.
constexpr double kCartIn = 0.15;          // P(view -> cart), home-cluster item
constexpr double kCartOut = 0.05;         // P(view -> cart), other items
constexpr double kViewToWishlist = 0.03;  // P(view -> wishlist) when not carted
constexpr double kCartToPurchase = 0.45;  // after a cart
constexpr double kCartToWishlist = 0.20;  // after a cart, instead of buying
constexpr double kZeroInventory = 0.10;
constexpr int kLaunchYears = 6;  // launch dates: up to 6 years before kStartTime

// Baskets: P(size = k) ~ k^-1.5 for k in 1..kMaxBasket.
constexpr int kMaxBasket = 30;

// Time: rows spread evenly over a year from kStartTime, plus jitter.
constexpr int64_t kStartTime = 1672531200;  // 2023-01-01T00:00:00Z
constexpr int64_t kSpanSeconds = 365LL * 86400;
constexpr uint64_t kTimeJitter = 1800;

// Stream tags: each independent random decision has its own, so adding or
// changing one never shifts another.
enum Stream : uint64_t {
  kItemClusterStream = 1,
  kItemRankStream,
  kUserRankStream,
  kHomeIndexStream,
  kHomeCoinStream,
  kIntensityStream,
  kCentreStream,
  kUserFactorStream,
  kItemFactorStream,
  kPriceStream,
  kDivisionStream,
  kClassCountStream,
  kSubclassCountStream,
  kBrandStream,
  kEmailStream,
  kPhaseStream,
  kRatingsBlocks = 100,
  kPlaysBlocks,
  kEventsBlocks,
  kCatalogBlocks,
  kBasketsBlocks,
  kRatingsUsers = 200,
  kPlaysUsers,
  kEventsUsers,
};

// ---------------------------------------------------------------------------
// 1. Random numbers. std:: distributions are avoided on purpose: their
// algorithms are implementation-defined, so the same seed would give other
// data with another standard library.

// A bijective scramble of one word.
inline uint64_t Mix(uint64_t x) { return SplitMix64Next(&x); }

inline uint64_t Hash(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  return Mix(Mix(Mix(Mix(a) ^ b) ^ c) ^ d);
}

inline double ToUnit(uint64_t x) { return UnitFromBits(x); }

// xoshiro256** seeded through SplitMix64, plus the samplers the model needs.
class Rng : public Xoshiro256 {
 public:
  explicit Rng(uint64_t seed) : Xoshiro256(seed) {}

  // Standard normal by Box-Muller; the second value of each pair is kept.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - Uniform();  // (0, 1], so the log is finite
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

 private:
  double spare_ = 0;
  bool has_spare_ = false;
};

// Fisher-Yates shuffle of 0..n-1.
std::vector<uint32_t> RandomPermutation(uint64_t n, Rng& rng) {
  std::vector<uint32_t> perm(n);
  for (uint64_t i = 0; i < n; ++i) perm[i] = static_cast<uint32_t>(i);
  Shuffle(rng, perm.data(), n);
  return perm;
}

// Walker's alias method (Vose's construction): O(1) draws from a discrete
// distribution with two random words.
struct AliasEntry {
  uint32_t threshold;  // keep the drawn slot when the 32-bit coin is below this
  uint32_t alias;      // otherwise take this slot
};

// Fills `out` (weights.size() entries) for `weights` (>= 0, positive sum).
void BuildAlias(std::span<const double> weights, std::span<AliasEntry> out) {
  const size_t n = weights.size();
  double total = 0;
  for (double w : weights) total += w;
  std::vector<double> p(n);
  // Small slots stack up from the front, large ones down from the back.
  std::vector<uint32_t> work(n);
  size_t small_end = 0, large_begin = n;
  for (size_t i = 0; i < n; ++i) {
    p[i] = weights[i] * static_cast<double>(n) / total;
    if (p[i] < 1.0) {
      work[small_end++] = static_cast<uint32_t>(i);
    } else {
      work[--large_begin] = static_cast<uint32_t>(i);
    }
  }
  auto threshold = [](double prob) {
    return prob >= 1.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(prob * 4294967296.0);
  };
  while (small_end > 0 && large_begin < n) {
    const uint32_t s = work[--small_end];
    const uint32_t l = work[large_begin];
    out[s] = {threshold(p[s]), l};
    p[l] -= 1.0 - p[s];
    if (p[l] < 1.0) {  // l becomes small
      ++large_begin;
      work[small_end++] = l;
    }
  }
  // What is left has probability 1 up to rounding.
  for (size_t k = 0; k < small_end; ++k) out[work[k]] = {0xFFFFFFFFu, work[k]};
  for (size_t k = large_begin; k < n; ++k) out[work[k]] = {0xFFFFFFFFu, work[k]};
}

inline uint32_t SampleAlias(const AliasEntry* table, uint64_t n, uint64_t r1, uint64_t r2) {
  const uint64_t slot = ScaleBelow(r1, n);
  const AliasEntry& e = table[slot];
  return (r2 >> 32) < e.threshold ? static_cast<uint32_t>(slot) : e.alias;
}

class AliasTable {
 public:
  AliasTable() = default;
  explicit AliasTable(std::span<const double> weights) : entries_(weights.size()) {
    BuildAlias(weights, entries_);
  }
  uint32_t Sample(Rng& rng) const {
    const uint64_t r1 = rng.Next();
    return SampleAlias(entries_.data(), entries_.size(), r1, rng.Next());
  }
  // From two given random words (for hash-derived, stateless draws).
  uint32_t Sample(uint64_t r1, uint64_t r2) const {
    return SampleAlias(entries_.data(), entries_.size(), r1, r2);
  }

 private:
  std::vector<AliasEntry> entries_;
};

// ---------------------------------------------------------------------------
// 2. Text output.

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int DecimalDigits(uint64_t v) {
  int digits = 1;
  while (v >= 10) {
    v /= 10;
    ++digits;
  }
  return digits;
}

// Writes the low `width` decimal digits of v, zero-padded.
inline char* PutPadded(char* p, uint64_t v, int width) {
  char* q = p + width;
  while (q - p >= 2) {
    q -= 2;
    std::memcpy(q, &kDigitPairs[2 * (v % 100)], 2);
    v /= 100;
  }
  if (q > p) *--q = static_cast<char>('0' + v % 10);
  return p + width;
}

inline char* PutUint(char* p, uint64_t v) { return PutPadded(p, v, DecimalDigits(v)); }

inline char* PutChars(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// "u00042": prefix and the 1-based index, padded to `width`.
inline char* PutId(char* p, char prefix, uint32_t index, int width) {
  *p++ = prefix;
  return PutPadded(p, uint64_t{index} + 1, width);
}

// 1999 cents -> "19.99".
inline char* PutCents(char* p, uint64_t cents) {
  p = PutUint(p, cents / 100);
  *p++ = '.';
  return PutPadded(p, cents % 100, 2);
}

// Days since 1970-01-01 -> "YYYY-MM-DD".
char* PutDate(char* p, int64_t epoch_days) {
  const std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{epoch_days}}};
  p = PutPadded(p, static_cast<uint64_t>(static_cast<int>(date.year())), 4);
  *p++ = '-';
  p = PutPadded(p, static_cast<unsigned>(date.month()), 2);
  *p++ = '-';
  return PutPadded(p, static_cast<unsigned>(date.day()), 2);
}

// The rows of one block. Writers ask for room for a whole row, write through
// the raw pointer and commit the end, so the inner loops have no checks.
class BlockBuffer {
 public:
  char* Reserve(size_t n) {
    if (capacity_ - size_ < n) Grow(size_ + n);
    return data_.get() + size_;
  }
  void Commit(char* end) { size_ = static_cast<size_t>(end - data_.get()); }
  void Clear() { size_ = 0; }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  void Grow(size_t needed) {
    size_t capacity = std::max<size_t>(needed, capacity_ * 2);
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0, capacity_ = 0;
};

// Row `row` of `rows` spread evenly over the year; callers add jitter.
inline int64_t RowTime(uint64_t row, uint64_t rows) {
  return kStartTime +
         static_cast<int64_t>((static_cast<unsigned __int128>(row) * kSpanSeconds) / rows);
}

// ---------------------------------------------------------------------------
// 3. The World.

// Weight of popularity rank r (0 = most popular).
inline double ZipfWeight(uint64_t rank, double offset) {
  return 1.0 / (static_cast<double>(rank) + offset);
}

// Lowers the largest of `weights` (sorted descending) to a common level so
// that none gets more than `cap` of `draws` in expectation. Real logs have no
// user who rated more items than exist; an uncapped Zipf law would have.
void CapWeights(std::vector<double>& weights, double draws, double cap) {
  const size_t n = weights.size();
  double total = 0;
  for (double w : weights) total += w;
  if (draws * weights[0] / total <= cap) return;
  if (cap * static_cast<double>(n) <= draws) {  // even uniform activity exceeds the cap
    std::fill(weights.begin(), weights.end(), 1.0);
    return;
  }
  // Capping the first k weights at L gives the top share L / (k L + tail_k);
  // solve draws * L / (k L + tail_k) = cap for the k where L fits.
  double head = 0;
  for (size_t k = 1; k < n; ++k) {
    head += weights[k - 1];
    const double denominator = draws - cap * static_cast<double>(k);
    if (denominator <= 0) break;
    const double level = cap * (total - head) / denominator;
    if (level <= weights[k - 1] && level >= weights[k]) {
      for (size_t i = 0; i < k; ++i) weights[i] = level;
      return;
    }
  }
  std::fill(weights.begin(), weights.end(), 1.0);
}

// Items in decreasing popularity with their cumulative shares (a view into
// World), sampled at a position x / 2^64 of the unit interval.
//
// At(x, cap) lowers every share above `cap` to the cap and scales the others
// up to compensate. A user expecting E draws uses cap = kSpread / E, so no
// item is expected more than kSpread times: the most popular items are
// taken at most once, as by a real user, instead of again and again.
struct PopularityList {
  const uint32_t* items;  // most popular first
  const double* cdf;      // n + 1 cumulative shares: cdf[0] = 0, cdf[n] = 1
  const uint32_t* guide;  // n entries: guide[k] = index of the item at position k / n
  uint64_t n;

  double Share(uint64_t j) const { return cdf[j + 1] - cdf[j]; }

  uint32_t At(uint64_t x, double cap) const {
    if (cap * static_cast<double>(n) <= 1.0) return items[ScaleBelow(x, n)];  // all capped
    uint64_t capped = 0;  // items whose share exceeds the cap: a prefix
    if (Share(0) > cap) {
      // Usually a short prefix: gallop from the front, then bisect.
      uint64_t lo = 1, hi = 2;
      while (hi < n && Share(hi - 1) > cap) {
        lo = hi;
        hi = std::min(n, 2 * hi);
      }
      while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (Share(mid) > cap) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      capped = lo;
    }
    const double head = static_cast<double>(capped) * cap;
    const double t = ToUnit(x) * (head + (1.0 - cdf[capped]));
    if (t < head) return items[std::min(capped - 1, static_cast<uint64_t>(t / cap))];
    // The last j in [capped, n) with cdf[j] <= target: start from the
    // guide, which is at most a few items short, and walk.
    const double target = cdf[capped] + (t - head);
    const uint64_t k = std::min(n - 1, static_cast<uint64_t>(target * static_cast<double>(n)));
    uint64_t j = std::max<uint64_t>(guide[k], capped);
    while (j > capped && cdf[j] > target) --j;
    while (j + 1 < n && cdf[j + 1] <= target) ++j;
    return items[j];
  }
};

// Cumulative shares of `weights`, normalised so the last is exactly 1.
void FillCdf(std::span<const double> weights, double* cdf) {
  double total = 0;
  for (double w : weights) total += w;
  double sum = 0;
  cdf[0] = 0;
  for (size_t j = 0; j < weights.size(); ++j) {
    sum += weights[j];
    cdf[j + 1] = sum / total;
  }
  cdf[weights.size()] = 1.0;
}

// The guide table of a PopularityList (Chen and Asau's indexed search).
void FillGuide(const double* cdf, uint64_t n, uint32_t* guide) {
  uint64_t j = 0;
  for (uint64_t k = 0; k < n; ++k) {
    const double position = static_cast<double>(k) / static_cast<double>(n);
    while (j + 1 < n && cdf[j + 1] <= position) ++j;
    guide[k] = static_cast<uint32_t>(j);
  }
}

// Everything rows are drawn from. Built once per Generate call; const
// afterwards, so the worker threads share it freely.
class World {
 public:
  // Clusters, item popularity and user activity (every profile).
  explicit World(const GenerateOptions& options);
  // Taste factors and biases (ratings).
  void AddFactors();
  // Catalog prices (retail).
  void AddPrices();

  uint64_t seed() const { return seed_; }
  uint64_t users() const { return users_; }
  uint64_t items() const { return items_; }
  uint32_t clusters() const { return clusters_; }
  int user_width() const { return user_width_; }
  int item_width() const { return item_width_; }

  uint32_t SampleUser(Rng& rng) const { return user_activity_.Sample(rng); }

  // A stateless function of the user, so it costs no memory per user.
  uint32_t HomeCluster(uint32_t user) const {
    return cluster_share_.Sample(Hash(seed_, kHomeIndexStream, user),
                                 Hash(seed_, kHomeCoinStream, user));
  }

  // P(a draw of `user` comes from the home cluster): kInCluster, less for
  // users who would otherwise need more than kClusterFill of their cluster.
  double HomeProbability(uint32_t user, uint32_t home) const {
    const double expected = ExpectedDraws(user);
    return std::min(kInCluster, kClusterFill * static_cast<double>(ClusterSize(home)) / expected);
  }

  // The item of the `ordinal`-th draw (0-based) of `user` from one source in
  // a file: the home cluster if `from_home`, else all items; by popularity
  // either way. Each user walks a Weyl sequence with the golden ratio from
  // a random phase per source; successive positions stay evenly spread, and
  // with shares capped for the user's expected number of draws an item is
  // rarely hit twice. Independent draws would repeat pairs a lot.
  uint32_t UserItem(uint32_t user, uint32_t home, uint32_t ordinal, bool from_home) const {
    const double p_home = HomeProbability(user, home);
    const double expected = ExpectedDraws(user) * (from_home ? p_home : 1.0 - p_home);
    const double cap = kSpread / std::max(expected, kSpread);
    const uint64_t x = Hash(seed_, kPhaseStream, user, from_home ? 1 : 0) + ordinal * kGoldenGamma;
    return (from_home ? ClusterList(home) : GlobalList()).At(x, cap);
  }

  // From `cluster` by popularity with probability p_in, else from all items
  // by popularity: independent draws (baskets).
  uint32_t SampleItem(Rng& rng, uint32_t cluster, double p_in) const {
    const bool from_home = rng.Chance(p_in);
    return (from_home ? ClusterList(cluster) : GlobalList()).At(rng.Next(), 1.0);
  }

  uint32_t ItemCluster(uint32_t item) const { return item_cluster_[item]; }
  uint64_t ClusterSize(uint32_t cluster) const {
    return cluster_begin_[cluster + 1] - cluster_begin_[cluster];
  }

  // REQUIRES: AddFactors(). The noiseless part of a rating.
  double Affinity(uint32_t user, uint32_t item) const {
    const float* u = &user_factors_[size_t{user} * kDim];
    const float* v = &item_factors_[size_t{item} * kDim];
    float dot = 0;
    for (int d = 0; d < kDim; ++d) dot += u[d] * v[d];
    return kGlobalMean + user_bias_[user] + item_bias_[item] + kFactorScale * dot;
  }

  // REQUIRES: AddPrices().
  uint32_t PriceCents(uint32_t item) const { return price_cents_[item]; }

 private:
  double ExpectedDraws(uint32_t user) const { return draws_ * user_share_[user]; }
  PopularityList GlobalList() const {
    return {items_by_rank_.data(), item_cdf_.data(), item_guide_.data(), items_};
  }
  PopularityList ClusterList(uint32_t c) const {
    const uint64_t begin = cluster_begin_[c];
    return {&cluster_items_[begin], &cluster_cdf_[begin + c], &cluster_guide_[begin],
            ClusterSize(c)};
  }

  uint64_t seed_, users_, items_;
  uint32_t clusters_;
  int user_width_, item_width_;
  double draws_;  // draws of a user per file, about the row count

  AliasTable cluster_share_;             // relative cluster sizes
  AliasTable user_activity_;             // users by activity
  std::vector<float> user_share_;        // each user's expected share of the draws
  std::vector<uint32_t> items_by_rank_;  // global popularity
  std::vector<double> item_cdf_;
  std::vector<uint32_t> item_guide_;
  std::vector<uint32_t> item_cluster_;
  // Cluster c owns cluster_items_[cluster_begin_[c], cluster_begin_[c + 1])
  // (most popular first), the matching guide entries and ClusterSize(c) + 1
  // cumulative shares from cluster_cdf_[cluster_begin_[c] + c].
  std::vector<uint64_t> cluster_begin_;
  std::vector<uint32_t> cluster_items_;
  std::vector<double> cluster_cdf_;
  std::vector<uint32_t> cluster_guide_;

  std::vector<float> user_factors_, item_factors_, user_bias_, item_bias_;
  std::vector<uint32_t> price_cents_;
};

World::World(const GenerateOptions& options)
    : seed_(options.seed),
      users_(options.users),
      items_(options.items),
      clusters_(options.clusters),
      user_width_(DecimalDigits(options.users)),
      item_width_(DecimalDigits(options.items)),
      draws_(static_cast<double>(options.rows)) {
  // Cluster sizes vary about 3:1 between the largest and the smallest.
  {
    std::vector<double> share(clusters_);
    for (uint32_t c = 0; c < clusters_; ++c) share[c] = 1.0 / std::sqrt(c + 2.0);
    cluster_share_ = AliasTable(share);
  }

  // Item popularity: a random rank per item, Zipf weight by rank.
  std::vector<uint32_t> rank_of(items_);
  {
    Rng rng(Hash(seed_, kItemRankStream));
    items_by_rank_ = RandomPermutation(items_, rng);
    std::vector<double> weight(items_);
    for (uint64_t r = 0; r < items_; ++r) {
      rank_of[items_by_rank_[r]] = static_cast<uint32_t>(r);
      weight[r] = ZipfWeight(r, kItemZipfOffset);
    }
    item_cdf_.resize(items_ + 1);
    FillCdf(weight, item_cdf_.data());
    item_guide_.resize(items_);
    FillGuide(item_cdf_.data(), items_, item_guide_.data());
  }

  // Item clusters, independent of popularity; every cluster gets an item.
  {
    Rng rng(Hash(seed_, kItemClusterStream));
    const std::vector<uint32_t> order = RandomPermutation(items_, rng);
    item_cluster_.resize(items_);
    for (uint64_t k = 0; k < items_; ++k) {
      item_cluster_[order[k]] =
          k < clusters_ ? static_cast<uint32_t>(k) : cluster_share_.Sample(rng);
    }
    cluster_begin_.assign(uint64_t{clusters_} + 1, 0);
    for (uint32_t c : item_cluster_) ++cluster_begin_[c + 1];
    for (uint32_t c = 0; c < clusters_; ++c) cluster_begin_[c + 1] += cluster_begin_[c];
    // Within a cluster, items keep their global popularity order and weight.
    std::vector<uint64_t> fill(cluster_begin_.begin(), cluster_begin_.end() - 1);
    cluster_items_.resize(items_);
    for (uint32_t item : items_by_rank_) cluster_items_[fill[item_cluster_[item]]++] = item;
    cluster_cdf_.resize(items_ + clusters_);
    cluster_guide_.resize(items_);
    std::vector<double> weight;
    for (uint32_t c = 0; c < clusters_; ++c) {
      weight.clear();
      for (uint64_t k = cluster_begin_[c]; k < cluster_begin_[c + 1]; ++k) {
        weight.push_back(ZipfWeight(rank_of[cluster_items_[k]], kItemZipfOffset));
      }
      double* cdf = &cluster_cdf_[cluster_begin_[c] + c];
      FillCdf(weight, cdf);
      FillGuide(cdf, weight.size(), &cluster_guide_[cluster_begin_[c]]);
    }
  }

  // User activity: Zipf by a random rank, capped (see CapWeights).
  std::vector<double> activity(users_);
  user_share_.resize(users_);
  {
    std::vector<double> by_rank(users_);
    for (uint64_t r = 0; r < users_; ++r) by_rank[r] = ZipfWeight(r, kUserZipfOffset);
    const double cap = std::max(1.0, kUserCapShareOfItems * static_cast<double>(items_));
    CapWeights(by_rank, draws_, cap);
    double total = 0;
    for (double w : by_rank) total += w;
    Rng rng(Hash(seed_, kUserRankStream));
    const std::vector<uint32_t> user_at_rank = RandomPermutation(users_, rng);
    for (uint64_t r = 0; r < users_; ++r) {
      activity[user_at_rank[r]] = by_rank[r];
      user_share_[user_at_rank[r]] = static_cast<float>(by_rank[r] / total);
    }
  }
  user_activity_ = AliasTable(activity);
}

void World::AddFactors() {
  // Cluster centres: random unit vectors.
  std::vector<double> centres(size_t{clusters_} * kDim);
  {
    Rng rng(Hash(seed_, kCentreStream));
    for (uint32_t c = 0; c < clusters_; ++c) {
      double* v = &centres[size_t{c} * kDim];
      double norm = 0;
      for (int d = 0; d < kDim; ++d) {
        v[d] = rng.Normal();
        norm += v[d] * v[d];
      }
      norm = std::sqrt(norm);
      for (int d = 0; d < kDim; ++d) v[d] /= norm;
    }
  }
  // Each user and item: its cluster's centre plus noise, and a bias.
  auto scatter = [&](uint64_t n, Stream stream, double noise, double bias_sd, auto cluster_of,
                     std::vector<float>& factors, std::vector<float>& bias) {
    Rng rng(Hash(seed_, stream));
    factors.resize(n * kDim);
    bias.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      const double* centre = &centres[size_t{cluster_of(static_cast<uint32_t>(i))} * kDim];
      for (int d = 0; d < kDim; ++d) {
        factors[i * kDim + d] = static_cast<float>(centre[d] + noise * rng.Normal());
      }
      bias[i] = static_cast<float>(bias_sd * rng.Normal());
    }
  };
  scatter(
      users_, kUserFactorStream, kUserFactorNoise, kUserBiasSd,
      [this](uint32_t u) { return HomeCluster(u); }, user_factors_, user_bias_);
  scatter(
      items_, kItemFactorStream, kItemFactorNoise, kItemBiasSd,
      [this](uint32_t i) { return item_cluster_[i]; }, item_factors_, item_bias_);
}

void World::AddPrices() {
  // Log-normal prices around a per-department level, ending in .99.
  Rng rng(Hash(seed_, kPriceStream));
  std::vector<double> level(clusters_);
  for (double& l : level) l = std::log(25.0) + 0.8 * rng.Normal();
  price_cents_.resize(items_);
  for (uint64_t i = 0; i < items_; ++i) {
    const double dollars = std::exp(level[item_cluster_[i]] + 0.4 * rng.Normal());
    const double whole = std::clamp(std::floor(dollars), 0.0, 9999.0);
    price_cents_[i] = static_cast<uint32_t>(whole) * 100 + 99;
  }
}

// ---------------------------------------------------------------------------
// 4. Row fillers. Each fills rows [first, first + count) of its file, which
// form block `block`, from a generator seeded by (seed, file, block).

// The working state of one block; the pipeline reuses it block after block.
struct Block {
  // For files with a user_stream, per row (events: per session, of which a
  // prefix is used): the user, their home cluster, whether the item comes
  // from it, and how many draws the user made from that source earlier in
  // the file.
  std::vector<uint32_t> users;
  std::vector<uint32_t> homes;
  std::vector<uint8_t> from_home;
  std::vector<uint32_t> ordinals;
  // Files with unique_pairs: per row, the item (chosen in stage 2).
  std::vector<uint32_t> items;
  BlockBuffer text;
};

// One output file.
struct FileSpec {
  std::string name;    // "ratings.csv"
  std::string header;  // first line with its newline, or empty
  uint64_t rows = 0;
  double row_bytes = 0;  // rough mean, for the progress ETA
  // Non-zero: the pipeline draws Block::users, homes and from_home from this
  // stream and numbers each user's draws in file order (Block::ordinals)
  // before calling fill.
  uint64_t user_stream = 0;
  // Each (user, item) pair at most once: stage 2 chooses the items (in
  // Block::items), skipping a user's items already taken (ratings: one
  // rating per user and item, as in real rating data).
  bool unique_pairs = false;
  std::function<void(uint64_t block, uint64_t first, uint64_t count, Block* out)> fill;
};

// user,item,rating,timestamp
FileSpec RatingsFile(const World& world, uint64_t rows) {
  FileSpec spec;
  spec.name = "ratings.csv";
  spec.header = "user,item,rating,timestamp\n";
  spec.rows = rows;
  spec.row_bytes = world.user_width() + world.item_width() + 17;
  spec.user_stream = kRatingsUsers;
  spec.unique_pairs = true;
  spec.fill = [&world, rows](uint64_t block, uint64_t first, uint64_t count, Block* out) {
    Rng rng(Hash(world.seed(), kRatingsBlocks, block));
    const size_t max_row = world.user_width() + world.item_width() + 40;
    for (uint64_t j = 0; j < count; ++j) {
      const uint32_t user = out->users[j];
      const uint32_t item = out->items[j];
      const double score = world.Affinity(user, item) + kRatingNoiseSd * rng.Normal();
      const int stars = static_cast<int>(std::clamp(std::floor(score + 0.5), 1.0, 5.0));
      const int64_t time = RowTime(first + j, rows) + static_cast<int64_t>(rng.Below(kTimeJitter));
      char* p = out->text.Reserve(max_row);
      p = PutId(p, 'u', user, world.user_width());
      *p++ = ',';
      p = PutId(p, 'i', item, world.item_width());
      *p++ = ',';
      *p++ = static_cast<char>('0' + stars);
      *p++ = ',';
      p = PutUint(p, static_cast<uint64_t>(time));
      *p++ = '\n';
      out->text.Commit(p);
    }
  };
  return spec;
}

// user,item,plays
FileSpec PlaysFile(const World& world, uint64_t rows) {
  FileSpec spec;
  spec.name = "plays.csv";
  spec.header = "user,item,plays\n";
  spec.rows = rows;
  spec.row_bytes = world.user_width() + world.item_width() + 6.5;
  spec.user_stream = kPlaysUsers;
  spec.fill = [&world](uint64_t block, uint64_t first, uint64_t count, Block* out) {
    Rng rng(Hash(world.seed(), kPlaysBlocks, block));
    const size_t max_row = world.user_width() + world.item_width() + 40;
    for (uint64_t j = 0; j < count; ++j) {
      const uint32_t user = out->users[j];
      const uint32_t home = out->homes[j];
      const uint32_t item = world.UserItem(user, home, out->ordinals[j], out->from_home[j]);
      // Log-normal count: more plays for home-cluster items and heavy listeners.
      const double intensity =
          kUserIntensitySpread * (ToUnit(Hash(world.seed(), kIntensityStream, user)) - 0.5);
      const double mean = (world.ItemCluster(item) == home ? kPlaysLogMeanIn : kPlaysLogMeanOut);
      const double plays = std::exp(mean + intensity + kPlaysLogSd * rng.Normal());
      const uint64_t played = std::min<uint64_t>(kMaxPlays, 1 + static_cast<uint64_t>(plays));
      char* p = out->text.Reserve(max_row);
      p = PutId(p, 'u', user, world.user_width());
      *p++ = ',';
      p = PutId(p, 'i', item, world.item_width());
      *p++ = ',';
      p = PutUint(p, played);
      *p++ = '\n';
      out->text.Commit(p);
    }
  };
  return spec;
}

// user,email,item,event,timestamp,price. Rows are sessions: a view, maybe a
// cart, then maybe a purchase or a wishlist. A block ends after exactly
// `count` rows, cutting its last session short if needed.
FileSpec EventsFile(const World& world, uint64_t rows) {
  FileSpec spec;
  spec.name = "events.csv";
  spec.header = "user,email,item,event,timestamp,price\n";
  spec.rows = rows;
  spec.row_bytes = 2.0 * world.user_width() + world.item_width() + 40;
  spec.user_stream = kEventsUsers;
  spec.fill = [&world, rows](uint64_t block, uint64_t first, uint64_t count, Block* out) {
    static constexpr std::string_view kDomains[] = {"@example.com", "@example.org", "@example.net"};
    Rng rng(Hash(world.seed(), kEventsBlocks, block));
    const size_t max_row = 2 * world.user_width() + world.item_width() + 80;
    const uint64_t end = first + count;
    uint64_t row = first;
    auto emit = [&](uint32_t user, uint32_t item, std::string_view event, int64_t time) {
      char* p = out->text.Reserve(max_row);
      p = PutId(p, 'u', user, world.user_width());
      *p++ = ',';
      p = PutId(p, 'u', user, world.user_width());
      p = PutChars(p, kDomains[Hash(world.seed(), kEmailStream, user) % 3]);
      *p++ = ',';
      p = PutId(p, 'i', item, world.item_width());
      *p++ = ',';
      p = PutChars(p, event);
      *p++ = ',';
      p = PutUint(p, static_cast<uint64_t>(time));
      *p++ = ',';
      p = PutCents(p, world.PriceCents(item));
      *p++ = '\n';
      out->text.Commit(p);
      ++row;
    };
    // At most `count` sessions: the pipeline drew that many users.
    for (uint64_t session = 0; row < end; ++session) {
      const uint32_t user = out->users[session];
      const uint32_t home = out->homes[session];
      const uint32_t item =
          world.UserItem(user, home, out->ordinals[session], out->from_home[session]);
      const bool liked = world.ItemCluster(item) == home;
      int64_t time = RowTime(row, rows) + static_cast<int64_t>(rng.Below(kTimeJitter));
      emit(user, item, "view", time);
      if (rng.Chance(liked ? kCartIn : kCartOut)) {
        if (row == end) break;
        time += 20 + static_cast<int64_t>(rng.Below(600));
        emit(user, item, "cart", time);
        const double next = rng.Uniform();
        if (row == end) break;
        time += 30 + static_cast<int64_t>(rng.Below(1800));
        if (next < kCartToPurchase) {
          emit(user, item, "purchase", time);
        } else if (next < kCartToPurchase + kCartToWishlist) {
          emit(user, item, "wishlist", time);
        }
      } else if (rng.Chance(kViewToWishlist)) {
        if (row == end) break;
        emit(user, item, "wishlist", time + 5 + static_cast<int64_t>(rng.Below(120)));
      }
    }
  };
  return spec;
}

// Pronounceable fake brand names from a hash: 2-3 syllables and an ending.
std::string BrandName(uint64_t h) {
  static constexpr std::string_view kSyllables[] = {
      "ka",  "lo",  "mi",  "ra",  "ve", "to",  "zu",  "ne",  "po",  "si",  "da",
      "re",  "fi",  "ga",  "mo",  "tu", "bel", "cor", "dan", "fel", "lin", "mar",
      "nor", "sol", "tal", "vin", "ar", "el",  "is",  "on",  "ul",  "qua"};
  static constexpr std::string_view kEndings[] = {"", "n", "x", "s", "a", "ia", "o", "ex"};
  const int syllables = 2 + static_cast<int>(h & 1);
  h >>= 1;
  std::string name;
  for (int k = 0; k < syllables; ++k, h >>= 5) name += kSyllables[h & 31];
  name += kEndings[h & 7];
  name[0] = static_cast<char>(name[0] - 'a' + 'A');
  return name;
}

// The retail product hierarchy. Department d is taste cluster d; the rest is
// derived from hashes, so it costs no memory and stays consistent.
class Hierarchy {
 public:
  explicit Hierarchy(const World& world)
      : world_(world),
        divisions_(std::clamp<uint32_t>((world.clusters() + 2) / 3, 1, std::size(kDivisionNames))),
        department_width_(DecimalDigits(world.clusters())) {}

  std::string_view Division(uint32_t department) const {
    const uint32_t d =
        department < divisions_
            ? department
            : static_cast<uint32_t>(Hash(world_.seed(), kDivisionStream, department) % divisions_);
    return kDivisionNames[d];
  }
  uint32_t Classes(uint32_t department) const {
    return 2 + static_cast<uint32_t>(Hash(world_.seed(), kClassCountStream, department) % 5);
  }
  uint32_t Subclasses(uint32_t department, uint32_t cls) const {
    return 1 +
           static_cast<uint32_t>(Hash(world_.seed(), kSubclassCountStream, department, cls) % 4);
  }
  uint32_t Brands(uint32_t department) const {
    return static_cast<uint32_t>(std::min<uint64_t>(40, 2 + world_.ClusterSize(department) / 20));
  }
  // "D07". Classes and subclasses append 1-based numbers: "D07-C3", "D07-C3-S2".
  char* PutDepartment(char* p, uint32_t department) const {
    *p++ = 'D';
    return PutPadded(p, uint64_t{department} + 1, department_width_);
  }

 private:
  static constexpr std::string_view kDivisionNames[] = {
      "Apparel", "Home",   "Electronics", "Grocery", "Beauty", "Sports",
      "Toys",    "Garden", "Books",       "Health",  "Office", "Automotive"};

  const World& world_;
  uint32_t divisions_;
  int department_width_;
};

// item,division,department,class,subclass,brand,launch_date,inventory
FileSpec CatalogFile(const World& world) {
  FileSpec spec;
  spec.name = "catalog.csv";
  spec.header = "item,division,department,class,subclass,brand,launch_date,inventory\n";
  spec.rows = world.items();
  spec.row_bytes = world.item_width() + 60;
  spec.fill = [&world, hierarchy = Hierarchy(world)](uint64_t block, uint64_t first, uint64_t count,
                                                     Block* block_out) {
    BlockBuffer* out = &block_out->text;
    Rng rng(Hash(world.seed(), kCatalogBlocks, block));
    const int64_t start_day = kStartTime / 86400;
    for (uint64_t i = first; i < first + count; ++i) {
      const uint32_t item = static_cast<uint32_t>(i);
      const uint32_t department = world.ItemCluster(item);
      const uint32_t cls = static_cast<uint32_t>(rng.Below(hierarchy.Classes(department)));
      const uint32_t sub = static_cast<uint32_t>(rng.Below(hierarchy.Subclasses(department, cls)));
      // Brands within a department: a few big ones, many small ones.
      const double u = rng.Uniform();
      const uint32_t brand = static_cast<uint32_t>(u * u * hierarchy.Brands(department));
      const std::string brand_name = BrandName(Hash(world.seed(), kBrandStream, department, brand));
      const int64_t launch = start_day - 1 - static_cast<int64_t>(rng.Below(kLaunchYears * 365));
      uint64_t inventory = 0;
      if (!rng.Chance(kZeroInventory)) {
        inventory =
            static_cast<uint64_t>(std::clamp(std::exp(3.0 + 1.2 * rng.Normal()), 1.0, 100000.0));
      }
      const std::string_view division = hierarchy.Division(department);
      char* p = out->Reserve(world.item_width() + division.size() + brand_name.size() + 96);
      p = PutId(p, 'i', item, world.item_width());
      *p++ = ',';
      p = PutChars(p, division);
      *p++ = ',';
      p = hierarchy.PutDepartment(p, department);
      *p++ = ',';
      p = hierarchy.PutDepartment(p, department);
      p = PutChars(p, "-C");
      p = PutUint(p, cls + 1);
      *p++ = ',';
      p = hierarchy.PutDepartment(p, department);
      p = PutChars(p, "-C");
      p = PutUint(p, cls + 1);
      p = PutChars(p, "-S");
      p = PutUint(p, sub + 1);
      *p++ = ',';
      p = PutChars(p, brand_name);
      *p++ = ',';
      p = PutDate(p, launch);
      *p++ = ',';
      p = PutUint(p, inventory);
      *p++ = '\n';
      out->Commit(p);
    }
  };
  return spec;
}

// One basket per line: distinct items, mostly from the shopper's cluster.
FileSpec BasketsFile(const World& world, uint64_t rows) {
  std::vector<double> size_weight(kMaxBasket);
  double mean_size = 0, total = 0;
  for (int k = 1; k <= kMaxBasket; ++k) {
    size_weight[k - 1] = 1.0 / (k * std::sqrt(static_cast<double>(k)));  // k^-1.5
    mean_size += k * size_weight[k - 1];
    total += size_weight[k - 1];
  }
  FileSpec spec;
  spec.name = "baskets.csv";
  spec.rows = rows;
  spec.row_bytes = mean_size / total * (world.item_width() + 2);
  spec.fill = [&world, sizes = AliasTable(size_weight)](uint64_t block, uint64_t first,
                                                        uint64_t count, Block* block_out) {
    BlockBuffer* out = &block_out->text;
    Rng rng(Hash(world.seed(), kBasketsBlocks, block));
    const uint64_t max_size = std::min<uint64_t>(kMaxBasket, world.items());
    uint32_t basket[kMaxBasket];
    for (uint64_t row = 0; row < count; ++row) {
      const uint32_t home = world.HomeCluster(world.SampleUser(rng));
      const uint64_t size = std::min<uint64_t>(max_size, 1 + sizes.Sample(rng));
      auto taken = [&](uint32_t item, uint64_t n) {
        return std::find(basket, basket + n, item) != basket + n;
      };
      for (uint64_t k = 0; k < size; ++k) {
        uint32_t item = 0;
        bool found = false;
        // A few tries in the cluster, a few in the whole catalogue, then the
        // next free item (only small catalogues get that far).
        for (int attempt = 0; attempt < 16 && !found; ++attempt) {
          item = world.SampleItem(rng, home, attempt < 8 ? kBasketInCluster : 0.0);
          found = !taken(item, k);
        }
        if (!found) {
          item = static_cast<uint32_t>(rng.Below(world.items()));
          while (taken(item, k)) item = static_cast<uint32_t>((item + 1) % world.items());
        }
        basket[k] = item;
      }
      char* p = out->Reserve(size * (world.item_width() + 2) + 1);
      for (uint64_t k = 0; k < size; ++k) {
        if (k > 0) *p++ = ',';
        p = PutId(p, 'i', basket[k], world.item_width());
      }
      *p++ = '\n';
      out->Commit(p);
    }
  };
  return spec;
}

// ---------------------------------------------------------------------------
// 5. The pipeline.

// Stage 2 of files with unique_pairs: the next draw of a row's user that
// gives an item the user has not taken yet. Runs in block order (one worker
// at a time), so the result depends on the seed alone.
class UniquePairs {
 public:
  UniquePairs(const World& world, uint64_t rows) : world_(world) {
    if (rows == 0) return;
    taken_.reserve(rows);
    per_user_.assign(world.users(), 0);
  }

  // Chooses block->items[j] (and ordinals[j]) for row j; may move the row to
  // another user when its user has taken every item (dense configurations).
  void Take(Block* block, uint64_t j, std::vector<uint32_t>* draws) {
    const uint32_t items = static_cast<uint32_t>(world_.items());
    uint32_t user = block->users[j];
    while (per_user_[user] >= items) {  // Validate() keeps rows <= users * items / 2
      user = user + 1 == world_.users() ? 0 : user + 1;
      block->users[j] = user;
      block->homes[j] = world_.HomeCluster(user);
    }
    const uint32_t home = block->homes[j];
    bool from_home = block->from_home[j] != 0;
    uint32_t item = 0;
    for (int tries = 0;; ++tries) {
      // A few more positions of the user's own sequence keep the popularity
      // shape; a home cluster the user has exhausted gives way to all items;
      // after that the next free item id (rare: very heavy users).
      if (tries == kTriesInSource) from_home = false;
      if (tries < 2 * kTriesInSource) {
        const uint32_t ordinal = (*draws)[2 * uint64_t{user} + (from_home ? 1 : 0)]++;
        block->ordinals[j] = ordinal;
        item = world_.UserItem(user, home, ordinal, from_home);
      } else {
        item = item + 1 == items ? 0 : item + 1;
      }
      if (taken_.insert(uint64_t{user} << 32 | item).second) break;
    }
    block->from_home[j] = from_home ? 1 : 0;
    block->items[j] = item;
    ++per_user_[user];
  }

 private:
  static constexpr int kTriesInSource = 16;
  const World& world_;
  absl::flat_hash_set<uint64_t> taken_;
  std::vector<uint32_t> per_user_;
};

void ReportBlock(Progress* progress, uint64_t bytes, uint64_t rows) {
  progress->Update(bytes, rows);
}

// Writes the file of `spec` to dir/name.tmp, renamed to dir/name when
// complete. Up to `threads` workers each take the next block and fill it:
//
//   1. draw the block's users (files with a user_stream), in parallel;
//   2. number each user's draws, in block order: one worker at a time takes
//      its turn on the shared per-user counters;
//   3. fill the rows, in parallel.
//
// The calling thread writes the blocks in order. Block b lives in slot
// b % slots, so workers run at most `slots` blocks ahead of the writer.
Status WriteFile(const FileSpec& spec, const World& world, const std::string& dir, int threads,
                 Progress* progress, GeneratedFile* result) {
  const std::string path = (std::filesystem::path(dir) / spec.name).string();
  // A regular file is replaced atomically; a FIFO or a device written through.
  io::OutputFileOptions out_options;
  out_options.what = "generated file";
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<io::OutputFile> file,
                          io::OutputFile::Open(path, out_options));

  const uint64_t blocks = (spec.rows + kBlockRows - 1) / kBlockRows;
  const uint64_t workers = std::clamp<uint64_t>(static_cast<uint64_t>(threads), 1, blocks);
  const uint64_t slots = 2 * workers + 1;
  std::vector<Block> slot_blocks(slots);
  // Stage 2 counters: per user, draws from all items and from the home cluster.
  std::vector<uint32_t> draws(spec.user_stream != 0 ? 2 * world.users() : 0);
  // unique_pairs: the (user, item) pairs taken so far and items per user.
  UniquePairs pairs(world, spec.unique_pairs ? spec.rows : 0);
  std::mutex mu;
  std::condition_variable block_ready, slot_free, counters_free;
  std::vector<char> ready(slots, 0);  // guarded by mu
  uint64_t next_block = 0;            // next block to claim; guarded by mu
  uint64_t counted = 0;               // blocks through stage 2; guarded by mu
  uint64_t written = 0;               // blocks written; guarded by mu
  bool stop = false;                  // guarded by mu

  auto work = [&] {
    for (;;) {
      uint64_t b;
      {
        std::unique_lock<std::mutex> lock(mu);
        slot_free.wait(
            lock, [&] { return stop || next_block >= blocks || next_block < written + slots; });
        if (stop || next_block >= blocks) return;
        b = next_block++;
      }
      Block& block = slot_blocks[b % slots];
      const uint64_t first = b * kBlockRows;
      const uint64_t count = std::min(kBlockRows, spec.rows - first);
      if (spec.user_stream != 0) {
        Rng rng(Hash(world.seed(), spec.user_stream, b));
        block.users.resize(count);
        block.homes.resize(count);
        block.from_home.resize(count);
        for (uint64_t j = 0; j < count; ++j) {
          const uint32_t user = world.SampleUser(rng);
          block.users[j] = user;
          block.homes[j] = world.HomeCluster(user);
          block.from_home[j] = rng.Chance(world.HomeProbability(user, block.homes[j])) ? 1 : 0;
        }
        {
          // Blocks are claimed in order and every claimed block gets here,
          // so the turn always comes.
          std::unique_lock<std::mutex> lock(mu);
          counters_free.wait(lock, [&] { return counted == b; });
        }
        block.ordinals.resize(count);
        if (spec.unique_pairs) {
          block.items.resize(count);
          for (uint64_t j = 0; j < count; ++j) pairs.Take(&block, j, &draws);
        } else {
          for (uint64_t j = 0; j < count; ++j) {
            block.ordinals[j] = draws[2 * uint64_t{block.users[j]} + block.from_home[j]]++;
          }
        }
        {
          std::lock_guard<std::mutex> lock(mu);
          ++counted;
        }
        counters_free.notify_all();
      }
      block.text.Clear();
      spec.fill(b, first, count, &block);
      {
        std::lock_guard<std::mutex> lock(mu);
        ready[b % slots] = 1;
      }
      block_ready.notify_all();
    }
  };

  progress->Start("generate " + path, static_cast<uint64_t>(spec.row_bytes * spec.rows));
  Status status;
  uint64_t bytes = spec.header.size();
  status = file->Write(spec.header);
  std::vector<std::thread> pool;
  if (status.ok()) {
    for (uint64_t w = 0; w < workers; ++w) pool.emplace_back(work);
  }
  for (uint64_t b = 0; status.ok() && b < blocks; ++b) {
    const uint64_t slot = b % slots;
    {
      std::unique_lock<std::mutex> lock(mu);
      block_ready.wait(lock, [&] { return ready[slot] != 0; });
    }
    // Workers leave the slot alone until `written` passes b.
    const BlockBuffer& text = slot_blocks[slot].text;
    status = file->Write(std::string_view(text.data(), text.size()));
    bytes += text.size();
    ReportBlock(progress, bytes, std::min(spec.rows, (b + 1) * kBlockRows));
    {
      std::lock_guard<std::mutex> lock(mu);
      ready[slot] = 0;
      ++written;
    }
    slot_free.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  slot_free.notify_all();
  for (std::thread& t : pool) t.join();

  if (status.ok()) status = file->Commit();
  if (!status.ok()) return status;  // dropping `file` removes its temporary
  progress->Finish();
  *result = {path, spec.rows, bytes};
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------
// 6. Options and Generate().

Result<GenerateProfile> ParseGenerateProfile(const std::string& name) {
  if (name == "ratings") return GenerateProfile::kRatings;
  if (name == "plays") return GenerateProfile::kPlays;
  if (name == "retail") return GenerateProfile::kRetail;
  if (name == "baskets") return GenerateProfile::kBaskets;
  if (name == "fashion") return GenerateProfile::kFashion;
  return Status::InvalidArgument("unknown profile '" + name +
                                 "': use ratings, plays, retail, baskets or fashion");
}

const char* GenerateProfileName(GenerateProfile profile) {
  switch (profile) {
    case GenerateProfile::kRatings:
      return "ratings";
    case GenerateProfile::kPlays:
      return "plays";
    case GenerateProfile::kRetail:
      return "retail";
    case GenerateProfile::kBaskets:
      return "baskets";
    case GenerateProfile::kFashion:
      return "fashion";
  }
  return "unknown";
}

Status GenerateOptions::Validate() const {
  auto count = [](const char* what, uint64_t value, uint64_t max) -> Status {
    if (value == 0 || value > max) {
      return Status::InvalidArgument(std::string(what) + " must be between 1 and " +
                                     std::to_string(max) + " (got " + std::to_string(value) +
                                     "); set --" + what);
    }
    return Status::OK();
  };
  ENCORE_RETURN_IF_ERROR(count("users", users, kMaxEntities));
  ENCORE_RETURN_IF_ERROR(count("items", items, kMaxEntities));
  ENCORE_RETURN_IF_ERROR(count("rows", rows, UINT64_MAX));
  if (profile != GenerateProfile::kFashion && (clusters == 0 || clusters > items)) {
    return Status::InvalidArgument("clusters must be between 1 and items (" +
                                   std::to_string(items) + "), got " + std::to_string(clusters) +
                                   "; set --clusters");
  }
  if (threads < 0 || threads > kMaxThreads) {
    return Status::InvalidArgument("threads must be between 0 (all cores) and " +
                                   std::to_string(kMaxThreads) + ", got " +
                                   std::to_string(threads) + "; set --threads");
  }
  if (out_dir.empty()) return Status::InvalidArgument("the output directory is empty; set --out");
  // Ratings are unique per (user, item): leave room for them.
  if (profile == GenerateProfile::kRatings && rows > users * items / 2) {
    return Status::InvalidArgument(
        "ratings: " + std::to_string(rows) + " rows do not fit " + std::to_string(users) +
        " users x " + std::to_string(items) +
        " items at one rating per user and item (at most half of the pairs); lower --rows or "
        "raise --users or --items");
  }
  return Status::OK();
}

Result<GenerateReport> Generate(const GenerateOptions& options, Progress* progress) {
  ENCORE_RETURN_IF_ERROR(options.Validate());
  if (progress == nullptr) progress = &Progress::Silent();

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec || !std::filesystem::is_directory(options.out_dir, ec)) {
    return Status::IOError("cannot create output directory " + options.out_dir + ": " +
                           (ec ? ec.message() : std::string("a file is in the way")));
  }
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  if (options.profile == GenerateProfile::kFashion) return GenerateFashion(options, progress);

  World world(options);
  std::vector<FileSpec> files;
  switch (options.profile) {
    case GenerateProfile::kRatings:
      world.AddFactors();
      files.push_back(RatingsFile(world, options.rows));
      break;
    case GenerateProfile::kPlays:
      files.push_back(PlaysFile(world, options.rows));
      break;
    case GenerateProfile::kRetail:
      world.AddPrices();
      files.push_back(CatalogFile(world));
      files.push_back(EventsFile(world, options.rows));
      break;
    case GenerateProfile::kBaskets:
      files.push_back(BasketsFile(world, options.rows));
      break;
    case GenerateProfile::kFashion:
      break;
  }

  GenerateReport report;
  for (const FileSpec& spec : files) {
    GeneratedFile file;
    ENCORE_RETURN_IF_ERROR(WriteFile(spec, world, options.out_dir, threads, progress, &file));
    report.rows += file.rows;
    report.bytes += file.bytes;
    report.files.push_back(std::move(file));
  }
  return report;
}

}  // namespace encore
