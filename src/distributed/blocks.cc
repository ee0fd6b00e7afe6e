// Blocks and RowBalancer (see blocks.h).

#include "distributed/blocks.h"

#include <algorithm>

namespace encore::distributed {

uint64_t Blocks::RowCost(uint32_t factors) { return std::max<uint64_t>(1, factors / 5); }

Blocks Blocks::ByCost(const std::vector<uint32_t>& nonzeros, uint64_t per_row, int ranks,
                      double margin) {
  const uint64_t n = nonzeros.size();
  const size_t N = static_cast<size_t>(std::max(ranks, 1));
  Blocks b;
  b.cost_.assign(n + 1, 0);
  for (uint64_t i = 0; i < n; ++i) b.cost_[i + 1] = b.cost_[i] + nonzeros[i] + per_row;
  const long double total = static_cast<long double>(b.cost_[n]);
  b.starts_.assign(N + 1, n);
  b.starts_[0] = 0;
  uint64_t i = 0;
  for (size_t r = 1; r < N; ++r) {
    // The first row whose midpoint lies past r/N of the total cost.
    const long double target = total * static_cast<long double>(r) / static_cast<long double>(N);
    while (i < n && static_cast<long double>(b.cost_[i]) +
                            static_cast<long double>(nonzeros[i] + per_row) / 2 <
                        target) {
      ++i;
    }
    b.starts_[r] = i;
  }
  b.held_begin_.assign(N, 0);
  b.held_end_.assign(N, n);
  for (size_t r = 0; r < N; ++r) {
    b.held_begin_[r] = b.starts_[r];
    b.held_end_[r] = b.starts_[r + 1];
  }
  const double m = std::clamp(margin, 0.0, 1.0);
  const uint64_t reach = static_cast<uint64_t>(m * static_cast<double>(b.cost_[n]) / N);
  if (reach == 0) return b;
  for (size_t r = 1; r < N; ++r) {
    // Boundary r may move to rows within `reach` of its cost, not past the
    // neighbouring boundaries.
    const uint64_t s = b.starts_[r], c = b.cost_[s];
    const uint64_t below = c > reach ? c - reach : 0;
    uint64_t lo = static_cast<uint64_t>(
        std::lower_bound(b.cost_.begin(), b.cost_.end(), below) - b.cost_.begin());
    uint64_t hi = static_cast<uint64_t>(
                      std::upper_bound(b.cost_.begin(), b.cost_.end(), c + reach) -
                      b.cost_.begin()) -
                  1;
    lo = std::clamp(lo, b.starts_[r - 1], s);
    hi = std::clamp(hi, s, b.starts_[r + 1]);
    b.held_begin_[r] = lo;
    b.held_end_[r - 1] = hi;
  }
  return b;
}

std::vector<int> Blocks::Counts() const {
  std::vector<int> c(starts_.size() - 1);
  for (size_t r = 0; r + 1 < starts_.size(); ++r) {
    c[r] = static_cast<int>(starts_[r + 1] - starts_[r]);
  }
  return c;
}

int Blocks::OwnerOf(uint64_t i) const {
  return static_cast<int>(std::upper_bound(starts_.begin(), starts_.end() - 1, i) -
                          starts_.begin()) -
         1;
}

int Blocks::HoldersOf(uint64_t i, int out[3]) const {
  // held_begin(r) >= begin(r - 1) and held_end(r) <= end(r + 1), so only
  // the owner's neighbours can hold a row besides the owner.
  const int owner = OwnerOf(i);
  int n = 0;
  for (int r = std::max(0, owner - 1); r <= std::min(ranks() - 1, owner + 1); ++r) {
    if (held_begin_[r] <= i && i < held_end_[r]) out[n++] = r;
  }
  return n;
}

RowBalancer::RowBalancer(const Blocks& blocks)
    : blocks_(blocks), starts_(blocks.starts()), speed_(blocks.ranks(), 0.0) {}

std::vector<int> RowBalancer::Counts() const {
  std::vector<int> c(starts_.size() - 1);
  for (size_t r = 0; r + 1 < starts_.size(); ++r) {
    c[r] = static_cast<int>(starts_[r + 1] - starts_[r]);
  }
  return c;
}

std::vector<int> RowBalancer::Displacements() const {
  std::vector<int> d(starts_.size() - 1);
  for (size_t r = 0; r + 1 < starts_.size(); ++r) d[r] = static_cast<int>(starts_[r]);
  return d;
}

void RowBalancer::Record(const std::vector<double>& seconds) {
  for (size_t r = 0; r < speed_.size() && r < seconds.size(); ++r) {
    const uint64_t work = blocks_.Cost(starts_[r], starts_[r + 1]);
    if (!(seconds[r] > 0) || work == 0) continue;
    const double s = static_cast<double>(work) / seconds[r];
    // Smoothed: one descheduled half-sweep moves the boundary half as far.
    speed_[r] = speed_[r] > 0 ? 0.5 * (speed_[r] + s) : s;
  }
}

void RowBalancer::Rebalance() {
  const int N = blocks_.ranks();
  bool movable = false;
  for (int r = 1; r < N; ++r) movable |= blocks_.held_begin(r) < blocks_.held_end(r - 1);
  if (!movable) return;
  double known = 0;
  int measured = 0;
  for (double s : speed_) {
    if (s > 0) {
      known += s;
      ++measured;
    }
  }
  if (measured == 0) return;
  const double mean = known / measured;
  double total_speed = 0;
  for (double s : speed_) total_speed += s > 0 ? s : mean;
  const std::vector<uint64_t>& cost = blocks_.cost_prefix();
  const double total = static_cast<double>(cost.back());
  double before = 0;  // speed of the ranks before boundary r
  for (int r = 1; r < N; ++r) {
    before += speed_[r - 1] > 0 ? speed_[r - 1] : mean;
    const double target = total * before / total_speed;
    uint64_t b = static_cast<uint64_t>(
        std::lower_bound(cost.begin(), cost.end(), target,
                         [](uint64_t c, double t) { return static_cast<double>(c) < t; }) -
        cost.begin());
    if (b >= cost.size()) b = cost.size() - 1;
    if (b > 0 && target - static_cast<double>(cost[b - 1]) < static_cast<double>(cost[b]) - target) {
      --b;
    }
    b = std::clamp(b, blocks_.held_begin(r), blocks_.held_end(r - 1));
    starts_[r] = std::max(b, starts_[r - 1]);
  }
}

}  // namespace encore::distributed
