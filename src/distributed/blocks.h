// How the users (or items) of a distributed fit are split over the ranks, and
// how the split moves during the fit to even out the ranks' solve times.
// Plain arithmetic, no MPI: every rank computes the same blocks and the same
// moves from the same inputs.

#ifndef ENCORE_DISTRIBUTED_BLOCKS_H_
#define ENCORE_DISTRIBUTED_BLOCKS_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace encore::distributed {

// Rank r owns the contiguous block [begin(r), end(r)) and holds the data of
// the wider range [held_begin(r), held_end(r)): its block plus a margin of
// each neighbour's rows, so that the boundary between ranks r - 1 and r can
// move anywhere in [held_begin(r), held_end(r - 1)] without moving data.
// Blocks are cut to about equal cost, a row costing its nonzeros plus
// `per_row` (the k x k work of its solve, in units of nonzeros: RowCost).
// Ids are numbered in first-appearance order, so the heaviest users and
// items come first and blocks of equal row counts gave rank 0 ~90% of the
// nonzeros of a Zipf-like log at N = 2 (docs/BENCHMARKS.md).
class Blocks {
 public:
  // The per-row cost of a k-factor solve in nonzeros, fitted to perf samples
  // of the CG row solves of two ranks (docs/BENCHMARKS.md): a row's k x k
  // work cost about k / 3 of its nonzeros with the AVX2 kernels (k = 32);
  // with the AVX-512 kernels the k x k product got cheaper than the
  // nonzeros' random row reads, and at k = 64 rank 0 did 1.33x rank 1's CG
  // work with k / 3, 1.26x with k / 4, 0.95x with k / 5, 0.91x with k / 7.
  static uint64_t RowCost(uint32_t factors);

  Blocks() = default;
  // `nonzeros[i]`: row i's nonzeros over every rank. `margin`: the cost of
  // the rows a rank holds beyond each edge of its block, as a share of the
  // average block's cost (0: it holds its block only; clamped to [0, 1]).
  static Blocks ByCost(const std::vector<uint32_t>& nonzeros, uint64_t per_row, int ranks,
                       double margin);

  int ranks() const { return static_cast<int>(starts_.size()) - 1; }
  uint64_t rows() const { return starts_.back(); }
  uint64_t begin(int r) const { return starts_[r]; }
  uint64_t end(int r) const { return starts_[r + 1]; }
  uint64_t held_begin(int r) const { return held_begin_[r]; }
  uint64_t held_end(int r) const { return held_end_[r]; }
  // Rows per rank (MPI counts).
  std::vector<int> Counts() const;
  // The rank owning row `i`: the last r with begin(r) <= i (empty blocks skipped).
  int OwnerOf(uint64_t i) const;
  // The ranks holding row `i` (its owner, and a neighbour when `i` is in
  // its margin), ascending; at most three.
  int HoldersOf(uint64_t i, int out[3]) const;
  // The summed cost of rows [a, b).
  uint64_t Cost(uint64_t a, uint64_t b) const { return cost_[b] - cost_[a]; }

  const std::vector<uint64_t>& starts() const { return starts_; }
  const std::vector<uint64_t>& cost_prefix() const { return cost_; }

 private:
  std::vector<uint64_t> starts_{0, 0};  // ranks + 1 entries, starts[0] = 0, starts[ranks] = n
  std::vector<uint64_t> held_begin_{0}, held_end_{0};  // per rank
  std::vector<uint64_t> cost_{0};                      // n + 1 prefix sums of the row costs
};

// The rows each rank solves in the half-sweeps of one side, moved between
// half-sweeps so that the ranks' measured solve times even out: each rank's
// speed (cost solved per second, smoothed over half-sweeps) sets its share
// of the total cost, and each boundary stays where both of its ranks hold
// the data (Blocks::held_*). Starts at the owned blocks.
class RowBalancer {
 public:
  explicit RowBalancer(const Blocks& blocks);
  // Rank r's rows for the coming half-sweep.
  std::pair<uint64_t, uint64_t> Range(int r) const { return {starts_[r], starts_[r + 1]}; }
  const std::vector<uint64_t>& starts() const { return starts_; }
  std::vector<int> Counts() const;
  std::vector<int> Displacements() const;
  // Every rank's seconds for its Range in the half-sweep just done.
  void Record(const std::vector<double>& seconds);
  // Moves the boundaries for the next half-sweep from the recorded speeds
  // (nothing before the first Record, or when the blocks hold no margin).
  void Rebalance();

 private:
  const Blocks& blocks_;
  std::vector<uint64_t> starts_;
  std::vector<double> speed_;  // per rank; 0 = not measured
};

}  // namespace encore::distributed

#endif  // ENCORE_DISTRIBUTED_BLOCKS_H_
