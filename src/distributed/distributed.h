// Distributed jobs on MPI (OpenMPI's mpirun): training ials / als over N
// processes ("ranks") and batch top-N over ranks. docs/SCALING.md explains
// the design, its costs and where it stops scaling.
//
// Training (Train):
//  1. Each rank reads its share of the input: one plain file is split into N
//     byte ranges cut at line boundaries (ranks after the first are given the
//     header line); several files or a gzip file are split among ranks as
//     whole files, in order.
//  2. Ids are agreed: every rank learns every rank's dictionaries in rank
//     order, so a user's (item's) index is its first appearance in the input
//     read in order - the index a single process gives it.
//  3. Users and items are partitioned into N contiguous blocks of about
//     equal cost (a row's nonzeros + k/5, counts summed over ranks; see
//     blocks.h), each rank also holding a margin of its neighbours' rows.
//     Rows go to the ranks holding their user (MPI_Alltoallv, in input
//     order, so values aggregate exactly as on one process); the owned
//     users' nonzeros then go to the ranks holding their items.
//  4. Each half-sweep: Y^T Y summed over the owned rows with MPI_Allreduce
//     (k x k doubles), this rank's rows solved, the solved rows shared with
//     MPI_Allgatherv; between half-sweeps the boundaries move within the
//     margins to even out the ranks' measured solve times (RowBalancer).
//  5. Rank 0 gathers the seen matrix and writes the one model file.
// FitDataset runs steps 3-5 from a dataset rank 0 holds in memory (a
// pipeline's), and FitCoordinator / ServeFits run those fits for
// `mpirun -np N encore run`: rank 0 runs the pipeline, the others wait for
// its fit commands.
// Every step that can fail on one rank is followed by an agreement (an
// MPI_Allreduce of the outcome), so an error on any rank fails every rank
// with that rank's message, never a hang. A rank that dies makes mpirun end
// the job; the model file is written last (temporary name, then rename).
//
// Thread-safety: one call at a time per process (MPI is initialised for
// one calling thread; OpenMP threads work inside a rank).

#ifndef ENCORE_DISTRIBUTED_DISTRIBUTED_H_
#define ENCORE_DISTRIBUTED_DISTRIBUTED_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "encore/dataset.h"
#include "encore/input.h"
#include "encore/params.h"
#include "encore/status.h"
#include "encore/workflow.h"

namespace encore::distributed {

// Whether this process was started by an MPI launcher (mpirun / mpiexec set
// OMPI_COMM_WORLD_SIZE or PMIX_RANK). `encore train` then trains through Train.
bool LaunchedByMpi();

// MPI for the life of the object: MPI_Init on construction, MPI_Finalize on
// destruction. One per process.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
};

// Payload handed to MPI collectives by this rank, counted at the calls.
struct ExchangeStats {
  uint64_t allreduce_bytes = 0;  // doubles summed (Y^T Y, totals) x 8
  uint64_t gather_bytes = 0;     // factor rows received from other ranks
  uint64_t shuffle_bytes = 0;    // input rows and nonzeros sent to other ranks
  uint64_t calls = 0;
  double exchange_seconds = 0;  // time inside the training collectives
  // Rows this rank solved in the last half-sweep of each side (its owned
  // block, moved by the balancing; see TrainOptions::balance_margin).
  uint64_t solved_users = 0, solved_items = 0;
};

// The default TrainOptions::balance_margin, also used by FitDataset.
inline constexpr double kDefaultBalanceMargin = 0.3;

struct TrainOptions {
  // Declared memory per rank in bytes; 0 = not checked. Checked after the
  // ids are agreed, before matrices and factors are built.
  uint64_t memory_budget = 0;
  // ials / als: besides its own block of users (items), each rank holds the
  // rows of this share of an average block's cost on each side of it, so
  // that rows can move to the faster rank between half-sweeps (measured
  // solve times; the model does not depend on it). 0 keeps the blocks fixed.
  // Costs memory: the held nonzeros grow by up to 2x this share.
  double balance_margin = kDefaultBalanceMargin;
};

struct TrainResult {
  int rank = 0;
  int ranks = 1;
  std::optional<TrainedModel> model;  // rank 0 only
  TrainReport train;                  // rank 0: the file written
  ReadReport read;                    // rows_* summed over ranks
  uint64_t users = 0, items = 0, nonzeros = 0;
  uint32_t owned_users = 0, owned_items = 0;
  uint64_t estimated_bytes = 0;  // the memory model's figure for this rank
  ExchangeStats stats;           // this rank's training exchange
  double read_seconds = 0, shuffle_seconds = 0;
  // CPU seconds (user + system, getrusage) of the fit on this rank and the
  // largest over ranks. MPI's waiting inside collectives spins, so it counts.
  double fit_cpu_seconds = 0, max_fit_cpu_seconds = 0;
};

// The model kinds Train supports: the factor models als and ials
// (partitioned sweeps) and cooccurrence (similarity rows split over ranks;
// see FitCooccurrence in distributed.cc and docs/SCALING.md).
bool SupportsKind(const std::string& kind);

// Trains `kind` over every rank of `session`; every rank must call it with
// the same arguments. Rank 0 writes `out` (empty: not written). Errors are
// the same on every rank and name the rank that failed.
Result<TrainResult> Train(Session& session, const std::string& kind, const ModelParams& params,
                          const InputOptions& input, const std::string& out,
                          const TrainOptions& options);

// Fits `kind` from a dataset rank 0 already holds in memory (a pipeline's
// prepared data; ids are rank 0's), with the same partitioned sweeps as
// Train: rank 0 sends each rank the rows of the users it holds (its block
// and balancing margins, kDefaultBalanceMargin; MPI_Send) and broadcasts both
// dictionaries and the row counts (MPI_Bcast); the fit then runs as in
// Train from step 4, except that rank 0 keeps its own seen matrix instead
// of gathering it. Every rank must call it with the same kind and params;
// `data` is read on rank 0 only (null elsewhere). Rank 0 writes `out`
// (empty: not written) and gets the model. Errors are the same on every rank
// and name the rank that failed. Test hook: ENCORE_MPI_FAIL_RANK=R makes
// rank R fail each fit with an error after the scatter.
Result<TrainResult> FitDataset(Session& session, const std::string& kind, const ModelParams& params,
                               const Dataset* data, const std::string& out);

// Rank 0's side of a job whose model fits run over every rank (`mpirun -np N
// encore run`): Fit sends the workers (ServeFits on every other rank) a
// command - fit this kind with these params - and runs FitDataset with them.
// Finish ends the workers' loop with the job's outcome; the destructor
// finishes with a failure if Finish was not called (an early return or an
// exception on rank 0 must not leave the workers waiting).
// REQUIRES: rank 0; one thread.
class FitCoordinator final : public ModelFitter {
 public:
  explicit FitCoordinator(Session& session);
  ~FitCoordinator() override;
  FitCoordinator(const FitCoordinator&) = delete;
  FitCoordinator& operator=(const FitCoordinator&) = delete;

  bool Distributes(const std::string& kind) const override { return SupportsKind(kind); }
  Result<TrainedModel> Fit(const std::string& kind, const ModelParams& params, const Dataset& data,
                           const std::string& path, TrainReport* report) override;
  std::string Describe() const override;
  // Tells every worker the job is over: OK (they return OK) or failed (they
  // return an error with this message). Once; later calls do nothing.
  void Finish(const Status& outcome);
  // Fits made over the ranks so far.
  int fits() const { return fits_; }

 private:
  Session& session_;
  bool finished_ = false;
  int fits_ = 0;
};

// A worker rank's loop (every rank but 0): waits for rank 0's commands and
// takes part in each fit, until rank 0 finishes. Writes no file. Returns OK
// when rank 0 finished with success, else an error carrying rank 0's message
// (a failed fit is agreed over all ranks and does not end the loop: rank 0
// decides). REQUIRES: rank > 0.
Status ServeFits(Session& session);

// The memory model of docs/SCALING.md: bytes the busiest of `ranks` ranks
// (rank 0, which also gathers the seen matrix) needs to train `factors`
// factors over users x items with `nonzeros` nonzeros.
uint64_t EstimateRankBytes(uint64_t users, uint64_t items, uint64_t nonzeros, uint32_t factors,
                           int ranks, bool biases,
                           double balance_margin = kDefaultBalanceMargin);
// The fewest ranks, `from` or more, on which EstimateRankBytes fits in
// `budget` bytes; 0 when no rank count is enough (what does not shrink
// with N, the factors and rank 0's seen matrix, exceeds it).
int RanksNeeded(uint64_t users, uint64_t items, uint64_t nonzeros, uint32_t factors, bool biases,
                uint64_t budget, int from, double balance_margin = kDefaultBalanceMargin);

// Batch top-N: every rank loads `model_file`, ranks its block of users (of
// the ids file, else of every user, in index order) and writes
// `out_dir`/part-RRRRR.<csv|jsonl> (each part a complete file of its own,
// with the CSV header); rank 0 writes `out_dir`/_SUCCESS only when every
// rank succeeded. An old _SUCCESS and old part-* files are removed first, so
// a failed run never leaves a set that looks complete. Concatenating the
// parts in name order (CSV: skipping the headers after the first) gives the
// single-process `encore recommend` output. `threads` > 0 sets the model's
// threads (per rank).
struct RecommendResult {
  int ranks = 1;
  uint64_t users = 0;  // this rank's
  uint64_t rows = 0;   // summed over ranks
  std::string part;    // this rank's file
};
Result<RecommendResult> RecommendParts(Session& session, const std::string& model_file,
                                       const RecommendRequest& request, const std::string& out_dir,
                                       bool jsonl, int threads = 0);

}  // namespace encore::distributed

#endif  // ENCORE_DISTRIBUTED_DISTRIBUTED_H_
