// Distributed training and batch top-N over MPI ranks (see distributed.h).

#include "distributed/distributed.h"

#include <mpi.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "distributed/blocks.h"
#include "encore/batch.h"
#include "encore/dataset.h"
#include "encore/recommender.h"
#include "io/byte_source.h"
#include "io/output_file.h"
#include "io/reader_internal.h"
#include "model/factor_model.h"
#include "model/models.h"

namespace encore::distributed {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// User + system CPU seconds of this process so far.
double CpuSeconds() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// Records the fit's CPU seconds on this rank and the maximum over ranks.
void RecordFitCpu(double cpu_start, TrainResult* result) {
  result->fit_cpu_seconds = CpuSeconds() - cpu_start;
  MPI_Allreduce(&result->fit_cpu_seconds, &result->max_fit_cpu_seconds, 1, MPI_DOUBLE, MPI_MAX,
                MPI_COMM_WORLD);
}

// The first failing rank's status on every rank (OK when none failed):
// the agreement that keeps one rank's error from leaving the others waiting
// in a collective.
Status Agree(const Session& s, const Status& local) {
  const int mine = local.ok() ? s.size() : s.rank();
  int first = s.size();
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first == s.size()) return Status::OK();
  std::string msg = s.rank() == first ? local.message() : std::string();
  int code = s.rank() == first ? static_cast<int>(local.code()) : 0;
  uint64_t len = msg.size();
  MPI_Bcast(&len, 1, MPI_UINT64_T, first, MPI_COMM_WORLD);
  msg.resize(len);
  MPI_Bcast(msg.data(), static_cast<int>(len), MPI_CHAR, first, MPI_COMM_WORLD);
  MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
  return Status(static_cast<StatusCode>(code),
                "rank " + std::to_string(first) + " of " + std::to_string(s.size()) + ": " + msg);
}

// Fault injection for tests: ENCORE_MPI_KILL_RANK=R makes rank R kill itself
// with SIGKILL at the ENCORE_MPI_KILL_AT-th training exchange (default 1).
struct Fault {
  int rank = -1;
  uint64_t at = 1;
  uint64_t seen = 0;
  static Fault FromEnv() {
    Fault f;
    if (const char* r = std::getenv("ENCORE_MPI_KILL_RANK")) f.rank = std::atoi(r);
    if (const char* a = std::getenv("ENCORE_MPI_KILL_AT")) f.at = std::strtoull(a, nullptr, 10);
    return f;
  }
  void Tick(int rank) {
    if (rank != this->rank) return;
    if (++seen >= at) {
      std::fprintf(stderr, "encore: rank %d killed by ENCORE_MPI_KILL_RANK (fault injection)\n",
                   rank);
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
  }
};

// Block r of n things split into `ranks` contiguous blocks.
uint64_t BlockStart(uint64_t n, int ranks, int r) {
  return n * static_cast<uint64_t>(r) / static_cast<uint64_t>(ranks);
}

std::vector<int> BlockCounts(uint64_t n, int ranks) {
  std::vector<int> c(ranks);
  for (int r = 0; r < ranks; ++r) {
    c[r] = static_cast<int>(BlockStart(n, ranks, r + 1) - BlockStart(n, ranks, r));
  }
  return c;
}

std::vector<int> Displacements(const std::vector<int>& counts) {
  std::vector<int> d(counts.size(), 0);
  for (size_t i = 1; i < counts.size(); ++i) d[i] = d[i - 1] + counts[i - 1];
  return d;
}

// MPI counts are int: arrays indexed by id go in one call only up to this.
constexpr uint64_t kMaxMpiCount = static_cast<uint64_t>(INT32_MAX);
// Point-to-point messages of at most this many elements (2^28), so a total
// of any size goes through (MPI 3 has no large-count calls). Test hook:
// ENCORE_MPI_CHUNK=n sends n elements a message; the Session agrees the
// smallest over the ranks, so sender and receiver cut alike.
uint64_t g_chunk = uint64_t{1} << 28;

// The id arrays (row counts, blocks, factor rows) go in one call each.
Status CheckIdCounts(uint64_t users, uint64_t items) {
  if (users <= kMaxMpiCount && items <= kMaxMpiCount) return Status::OK();
  return Status::InvalidArgument(
      "the distributed fit takes at most " + std::to_string(kMaxMpiCount) +
      " users and items (MPI counts are int); this data has " + std::to_string(users) +
      " users and " + std::to_string(items) + " items: fit it on one process, or split the ids");
}

uint64_t ChunkFromEnv() {
  const char* e = std::getenv("ENCORE_MPI_CHUNK");
  const uint64_t n = e != nullptr ? std::strtoull(e, nullptr, 10) : 0;
  return n > 0 && n <= (uint64_t{1} << 28) ? n : uint64_t{1} << 28;
}

template <typename T>
void SendChunked(const T* data, uint64_t n, MPI_Datatype type, int dest, int tag) {
  for (uint64_t p = 0; p < n; p += g_chunk) {
    MPI_Send(data + p, static_cast<int>(std::min(g_chunk, n - p)), type, dest, tag, MPI_COMM_WORLD);
  }
}

template <typename T>
void RecvChunked(T* data, uint64_t n, MPI_Datatype type, int source, int tag) {
  for (uint64_t p = 0; p < n; p += g_chunk) {
    MPI_Recv(data + p, static_cast<int>(std::min(g_chunk, n - p)), type, source, tag,
             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
}

// Rank 0 receives every rank's `n` elements into `all` in rank order
// (`counts`: every rank's n, on rank 0); the others send theirs. No int
// limit on the total, unlike MPI_Gatherv.
template <typename T>
void GatherToRoot(const Session& s, const T* mine, uint64_t n, MPI_Datatype type, int tag,
                  const std::vector<uint64_t>& counts, T* all) {
  if (s.rank() != 0) {
    SendChunked(mine, n, type, 0, tag);
    return;
  }
  std::copy(mine, mine + n, all);
  uint64_t offset = n;
  for (int r = 1; r < s.size(); ++r) {
    RecvChunked(all + offset, counts[r], type, r, tag);
    offset += counts[r];
  }
}

// Test hook: ENCORE_MPI_SLOW_RANK=R makes rank R report its solve times
// ENCORE_MPI_SLOW_FACTOR times (default 10) longer than measured, so the
// balancer moves rows off it whatever the machine does.
struct Skew {
  int rank = -1;
  double factor = 10;
  static Skew FromEnv() {
    Skew k;
    if (const char* r = std::getenv("ENCORE_MPI_SLOW_RANK")) k.rank = std::atoi(r);
    if (const char* f = std::getenv("ENCORE_MPI_SLOW_FACTOR")) k.factor = std::atof(f);
    return k;
  }
};

// The FitExchange of a rank: contiguous owned user and item blocks, and the
// rows solved each half-sweep moved within the held margins (RowBalancer)
// to even out the ranks' solve times.
class MpiExchange final : public model::FitExchange {
 public:
  MpiExchange(const Session& s, const Blocks& users, const Blocks& items, ExchangeStats* stats)
      : s_(s),
        users_(users),
        items_(items),
        sides_{Side(items), Side(users)},
        fault_(Fault::FromEnv()),
        skew_(Skew::FromEnv()),
        stats_(stats) {}

  std::pair<uint32_t, uint32_t> users() const override { return Owned(users_); }
  std::pair<uint32_t, uint32_t> items() const override { return Owned(items_); }
  std::pair<uint32_t, uint32_t> EqualRows(bool user_side) const override {
    const uint64_t n = (user_side ? users_ : items_).rows();
    return {static_cast<uint32_t>(BlockStart(n, s_.size(), s_.rank())),
            static_cast<uint32_t>(BlockStart(n, s_.size(), s_.rank() + 1))};
  }

  void ShareEqualRows(bool user_side, float* data, uint32_t width) override {
    fault_.Tick(s_.rank());
    const uint64_t n = (user_side ? users_ : items_).rows();
    const std::vector<int> counts = BlockCounts(n, s_.size());
    Share(data, width, counts, Displacements(counts));
  }

  std::pair<uint32_t, uint32_t> SolveRows(bool user_side) override {
    Side& side = sides_[user_side ? 1 : 0];
    side.balancer.Rebalance();
    side.timing = true;
    side.began = Clock::now();
    return SolvedRows(user_side);
  }

  std::pair<uint32_t, uint32_t> SolvedRows(bool user_side) const override {
    const auto [a, b] = sides_[user_side ? 1 : 0].balancer.Range(s_.rank());
    return {static_cast<uint32_t>(a), static_cast<uint32_t>(b)};
  }

  // Y^T Y is k x k whatever the data size: one small MPI_Allreduce.
  void Sum(double* values, size_t n) override {
    fault_.Tick(s_.rank());
    const auto t = Clock::now();
    MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    stats_->exchange_seconds += Since(t);
    if (s_.size() > 1) stats_->allreduce_bytes += n * sizeof(double);
    ++stats_->calls;
  }

  // Every rank needs every row of the other side (a user's items can be any
  // items), so the solved rows go to everyone: MPI_Allgatherv, in place,
  // counted in rows of a contiguous `width`-float type (no int overflow of
  // counts). The first share after a SolveRows also shares every rank's
  // solve seconds (MPI_Allgather of one double) for the next Rebalance.
  void ShareRows(bool user_side, float* data, uint32_t width) override {
    fault_.Tick(s_.rank());
    Side& side = sides_[user_side ? 1 : 0];
    const auto t = Clock::now();
    if (side.timing) {
      side.timing = false;
      double mine = std::chrono::duration<double>(t - side.began).count();
      if (s_.rank() == skew_.rank) mine *= skew_.factor;
      std::vector<double> seconds(static_cast<size_t>(s_.size()));
      MPI_Allgather(&mine, 1, MPI_DOUBLE, seconds.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD);
      side.balancer.Record(seconds);
    }
    const std::vector<int> counts = side.balancer.Counts();
    Share(data, width, counts, side.balancer.Displacements(), t);
    (user_side ? stats_->solved_users : stats_->solved_items) =
        static_cast<uint64_t>(counts[s_.rank()]);
  }

 private:
  struct Side {
    explicit Side(const Blocks& b) : balancer(b) {}
    RowBalancer balancer;
    bool timing = false;
    Clock::time_point began;
  };
  std::pair<uint32_t, uint32_t> Owned(const Blocks& b) const {
    return {static_cast<uint32_t>(b.begin(s_.rank())), static_cast<uint32_t>(b.end(s_.rank()))};
  }

  // MPI_Allgatherv in place of rows of `width` floats (an MPI contiguous
  // type: no int overflow of counts), counted from `t`.
  void Share(float* data, uint32_t width, const std::vector<int>& counts,
             const std::vector<int>& displs, Clock::time_point t = Clock::now()) {
    MPI_Datatype row;
    MPI_Type_contiguous(static_cast<int>(width), MPI_FLOAT, &row);
    MPI_Type_commit(&row);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(), displs.data(), row,
                   MPI_COMM_WORLD);
    stats_->exchange_seconds += Since(t);
    MPI_Type_free(&row);
    uint64_t total = 0;
    for (int c : counts) total += static_cast<uint64_t>(c);
    stats_->gather_bytes += (total - static_cast<uint64_t>(counts[s_.rank()])) * width * 4;
    ++stats_->calls;
  }

  const Session& s_;
  const Blocks& users_;
  const Blocks& items_;
  Side sides_[2];  // [0] items, [1] users
  Fault fault_;
  Skew skew_;
  ExchangeStats* stats_;
};

// ---------------------------------------------------------------------------
// Reading this rank's share.

bool IsGzip(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char m[2] = {0, 0};
  f.read(reinterpret_cast<char*>(m), 2);
  return f.gcount() == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

bool FormatHasHeader(const ReadOptions& o) {
  if (o.header.has_value()) return *o.header;
  switch (o.format) {
    case InputFormat::kCsv:
    case InputFormat::kTsv:
    case InputFormat::kMlLatest:
    case InputFormat::kLastfm:
      return true;
    default:
      return false;
  }
}

// The first byte of line-aligned block r of a file of `size` bytes: the
// byte after the first '\n' at or after BlockStart - 1.
Result<uint64_t> LineStart(std::ifstream& f, const std::string& path, uint64_t size, int ranks,
                           int r) {
  if (r == 0) return uint64_t{0};
  if (r >= ranks) return size;
  uint64_t pos = BlockStart(size, ranks, r) - 1;
  f.clear();
  f.seekg(static_cast<std::streamoff>(pos));
  char buf[4096];
  while (pos < size) {
    f.read(buf, sizeof buf);
    const std::streamsize got = f.gcount();
    if (got <= 0)
      return Status::IOError("cannot read '" + path + "' at byte " + std::to_string(pos));
    const void* nl = std::memchr(buf, '\n', static_cast<size_t>(got));
    if (nl != nullptr) return pos + (static_cast<const char*>(nl) - buf) + 1;
    pos += static_cast<uint64_t>(got);
  }
  return size;
}

struct Share {
  std::vector<std::unique_ptr<io::ByteSource>> sources;
  std::string description;
};

Result<Share> ShareOf(const Session& s, const std::vector<std::string>& files,
                      const ReadOptions& read) {
  Share share;
  const int n = s.size(), r = s.rank();
  const bool one_plain = files.size() == 1 && files[0] != "-" &&
                         read.format != InputFormat::kBaskets && !IsGzip(files[0]);
  if (!one_plain) {
    // Whole files, contiguous blocks in order (so ids keep their order).
    const uint64_t first = BlockStart(files.size(), n, r),
                   last = BlockStart(files.size(), n, r + 1);
    if (files.size() == 1 && files[0] == "-") {
      return Status::InvalidArgument(
          "distributed training cannot read standard input (--input -): give a file every rank "
          "can open (a shared file system), or run without mpirun");
    }
    for (uint64_t i = first; i < last; ++i) {
      ENCORE_ASSIGN_OR_RETURN(auto src, io::ByteSource::Open(files[i]));
      share.sources.push_back(std::move(src));
      share.description += (share.description.empty() ? "" : ",") + files[i];
    }
    if (share.description.empty()) share.description = "(no file)";
    return share;
  }
  const std::string& path = files[0];
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open input '" + path + "' on rank " + std::to_string(r));
  f.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(f.tellg());
  ENCORE_ASSIGN_OR_RETURN(uint64_t begin, LineStart(f, path, size, n, r));
  ENCORE_ASSIGN_OR_RETURN(uint64_t end, LineStart(f, path, size, n, r + 1));
  std::string data;
  if (r > 0 && FormatHasHeader(read) && begin < end) {
    f.clear();
    f.seekg(0);
    std::string header;
    std::getline(f, header);
    data = header + "\n";
  }
  if (end > begin) {
    const size_t head = data.size();
    data.resize(head + (end - begin));
    f.clear();
    f.seekg(static_cast<std::streamoff>(begin));
    f.read(data.data() + head, static_cast<std::streamsize>(end - begin));
    if (static_cast<uint64_t>(f.gcount()) != end - begin) {
      return Status::IOError("short read of '" + path + "' bytes " + std::to_string(begin) + ".." +
                             std::to_string(end) + " on rank " + std::to_string(r));
    }
  }
  share.description = path + " bytes [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
  share.sources.push_back(io::ByteSource::FromString(path, std::move(data)));
  return share;
}

// ---------------------------------------------------------------------------
// Agreeing on ids.

std::string PackNames(const IdDictionary& d) {
  std::string out;
  for (uint32_t i = 0; i < d.size(); ++i) {
    const std::string_view name = d.Name(i);
    const uint32_t len = static_cast<uint32_t>(name.size());
    out.append(reinterpret_cast<const char*>(&len), sizeof len);
    out.append(name);
  }
  return out;
}

// Every rank's bytes, in rank order.
Result<std::string> AllGatherBytes(const Session& s, const std::string& mine,
                                   std::vector<uint64_t>* offsets) {
  if (mine.size() > static_cast<uint64_t>(INT32_MAX)) {
    return Status::InvalidArgument("rank " + std::to_string(s.rank()) + " holds " +
                                   std::to_string(mine.size()) +
                                   " bytes of ids, more than one MPI message carries (2 GiB); "
                                   "run with more ranks");
  }
  const int len = static_cast<int>(mine.size());
  std::vector<int> lens(s.size());
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
  uint64_t total = 0;
  for (int l : lens) total += static_cast<uint64_t>(l);
  if (total > static_cast<uint64_t>(INT32_MAX)) {
    return Status::InvalidArgument("the id dictionaries of all ranks hold " +
                                   std::to_string(total) +
                                   " bytes, more than one MPI_Allgatherv carries (2 GiB); see "
                                   "docs/SCALING.md (where the design stops scaling)");
  }
  std::vector<int> displs = Displacements(lens);
  std::string all(total, '\0');
  MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR,
                 MPI_COMM_WORLD);
  offsets->assign(s.size() + 1, 0);
  for (int r = 0; r < s.size(); ++r) (*offsets)[r + 1] = (*offsets)[r] + lens[r];
  return all;
}

// The global dictionary (first appearance over ranks in order) and this
// rank's local -> global map. Both collective calls are made on every rank
// before any error return, so every rank stays in step.
Result<IdDictionary> AgreeIds(const Session& s, const IdDictionary& local,
                              std::vector<uint32_t>* to_global) {
  std::vector<uint64_t> offsets;
  ENCORE_ASSIGN_OR_RETURN(std::string all, AllGatherBytes(s, PackNames(local), &offsets));
  IdDictionary global;
  to_global->clear();
  for (int r = 0; r < s.size(); ++r) {
    uint64_t p = offsets[r];
    while (p < offsets[r + 1]) {
      uint32_t len;
      std::memcpy(&len, all.data() + p, sizeof len);
      p += sizeof len;
      const uint32_t g = global.Intern(std::string_view(all.data() + p, len));
      p += len;
      if (r == s.rank()) to_global->push_back(g);
    }
  }
  return global;
}

// ---------------------------------------------------------------------------
// Shuffles.

struct Row {  // one input row, global indices
  uint32_t user, item;
  float value;
  uint32_t event;
  int64_t time;
};

struct Entry {  // one aggregated nonzero
  uint32_t item, user;
  float value;
};

// Every rank's out[r] goes to rank r; returns what this rank received, in
// rank order. Fails on every rank when a rank would send or receive more
// than MPI's int counts carry in one MPI_Alltoallv.
template <typename T>
Result<std::vector<T>> AllToAll(const Session& s, std::vector<std::vector<T>> out,
                                uint64_t* sent_bytes) {
  std::vector<uint64_t> send_total(s.size()), recv_total(s.size());
  for (int r = 0; r < s.size(); ++r) send_total[r] = out[r].size();
  MPI_Alltoall(send_total.data(), 1, MPI_UINT64_T, recv_total.data(), 1, MPI_UINT64_T,
               MPI_COMM_WORLD);
  uint64_t sent = 0, received = 0;
  for (int r = 0; r < s.size(); ++r) {
    sent += send_total[r];
    received += recv_total[r];
  }
  ENCORE_RETURN_IF_ERROR(Agree(
      s, std::max(sent, received) <= kMaxMpiCount
             ? Status::OK()
             : Status::InvalidArgument(
                   "rank " + std::to_string(s.rank()) + " would exchange " +
                   std::to_string(std::max(sent, received)) +
                   " input rows in one shuffle, more than MPI's int counts carry (2^31 - 1); "
                   "run with more ranks")));
  MPI_Datatype type;
  MPI_Type_contiguous(sizeof(T), MPI_BYTE, &type);
  MPI_Type_commit(&type);
  std::vector<int> send_counts(s.size()), recv_counts(s.size());
  for (int r = 0; r < s.size(); ++r) {
    send_counts[r] = static_cast<int>(send_total[r]);
    recv_counts[r] = static_cast<int>(recv_total[r]);
    if (r != s.rank()) *sent_bytes += out[r].size() * sizeof(T);
  }
  std::vector<int> sd = Displacements(send_counts), rd = Displacements(recv_counts);
  std::vector<T> send;
  send.reserve(static_cast<size_t>(sd.back()) + send_counts.back());
  for (auto& v : out) {  // each destination's rows freed once copied: a lower peak
    send.insert(send.end(), v.begin(), v.end());
    std::vector<T>().swap(v);
  }
  std::vector<T> recv(static_cast<size_t>(rd.back()) + recv_counts.back());
  MPI_Alltoallv(send.data(), send_counts.data(), sd.data(), type, recv.data(), recv_counts.data(),
                rd.data(), type, MPI_COMM_WORLD);
  MPI_Type_free(&type);
  return recv;
}

CsrMatrix EmptyRows(uint32_t rows, uint32_t cols) {
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.assign(uint64_t{rows} + 1, 0);
  return m;
}

// Rank 0 writes the model file (temporary name, then rename); every rank
// learns its outcome.
Result<TrainResult> WriteOnRankZero(const Session& s, std::unique_ptr<Recommender> model,
                                    Dataset data, const std::string& out, TrainResult result) {
  Status wrote;
  if (s.rank() == 0) {
    TrainedModel trained{std::move(model), std::move(data.users), std::move(data.items)};
    if (!out.empty()) {
      wrote = SaveModel(trained, out, &result.train.file_bytes);
      result.train.file = out;
    }
    result.model = std::move(trained);
  }
  ENCORE_RETURN_IF_ERROR(Agree(s, wrote));
  return result;
}

// Every rank's rows of `mine` (rows [u0, u1) of a users x items matrix, held
// as rows 0..u1-u0; blocks without margins) as one full matrix on every rank: MPI_Allgatherv of the
// row lengths, indices, values (and times when present).
CsrMatrix AllGatherRows(const Session& s, const CsrMatrix& mine, const Blocks& user_blocks,
                        uint64_t items, bool times, ExchangeStats* stats) {
  const int N = s.size();
  const uint64_t users = user_blocks.rows();
  std::vector<int> counts = user_blocks.Counts(), displs = Displacements(counts);
  std::vector<uint64_t> lengths(users);
  std::vector<uint64_t> own(mine.rows);
  for (uint32_t u = 0; u < mine.rows; ++u) own[u] = mine.RowLength(u);
  MPI_Allgatherv(own.data(), static_cast<int>(own.size()), MPI_UINT64_T, lengths.data(),
                 counts.data(), displs.data(), MPI_UINT64_T, MPI_COMM_WORLD);
  CsrMatrix m = EmptyRows(static_cast<uint32_t>(users), static_cast<uint32_t>(items));
  for (uint64_t u = 0; u < users; ++u) m.indptr[u + 1] = m.indptr[u] + lengths[u];
  std::vector<int> nz_counts(N);
  const int my_nz = static_cast<int>(mine.nnz());
  MPI_Allgather(&my_nz, 1, MPI_INT, nz_counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  std::vector<int> nz_displs = Displacements(nz_counts);
  m.indices.resize(m.indptr[users]);
  m.values.resize(m.indptr[users]);
  MPI_Allgatherv(mine.indices.data(), my_nz, MPI_UINT32_T, m.indices.data(), nz_counts.data(),
                 nz_displs.data(), MPI_UINT32_T, MPI_COMM_WORLD);
  MPI_Allgatherv(mine.values.data(), my_nz, MPI_FLOAT, m.values.data(), nz_counts.data(),
                 nz_displs.data(), MPI_FLOAT, MPI_COMM_WORLD);
  uint64_t per_nz = 8;
  if (times) {
    m.times.resize(m.indptr[users]);
    MPI_Allgatherv(mine.times.data(), my_nz, MPI_INT64_T, m.times.data(), nz_counts.data(),
                   nz_displs.data(), MPI_INT64_T, MPI_COMM_WORLD);
    per_nz += 8;
  }
  stats->gather_bytes += (m.nnz() - mine.nnz()) * per_nz + (users - mine.rows) * 8;
  stats->calls += times ? 5 : 4;
  return m;
}

// The RowExchange of a rank: a contiguous block of source items; the rows
// go to rank 0 (GatherToRoot; only rank 0 writes the model file).
class MpiRowExchange final : public model::RowExchange {
 public:
  MpiRowExchange(const Session& s, uint64_t items, ExchangeStats* stats)
      : s_(s),
        items_(items),
        first_(static_cast<uint32_t>(BlockStart(items, s.size(), s.rank()))),
        last_(static_cast<uint32_t>(BlockStart(items, s.size(), s.rank() + 1))),
        fault_(Fault::FromEnv()),
        stats_(stats) {}

  std::pair<uint32_t, uint32_t> items() const override { return {first_, last_}; }

  Status GatherRows(const Status& local, CsrMatrix* sim) override {
    fault_.Tick(s_.rank());
    ENCORE_RETURN_IF_ERROR(Agree(s_, local));
    const auto t = Clock::now();
    const int N = s_.size();
    std::vector<int> counts = BlockCounts(items_, N), displs = Displacements(counts);
    std::vector<uint64_t> own(last_ - first_), lengths(s_.rank() == 0 ? items_ : 0);
    for (uint32_t a = first_; a < last_; ++a) own[a - first_] = sim->RowLength(a);
    MPI_Gatherv(own.data(), static_cast<int>(own.size()), MPI_UINT64_T, lengths.data(),
                counts.data(), displs.data(), MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const uint64_t my_nz = sim->nnz();
    std::vector<uint64_t> nz_counts(N);
    MPI_Gather(&my_nz, 1, MPI_UINT64_T, nz_counts.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const uint64_t base = sim->indptr[first_];
    CsrMatrix full;
    if (s_.rank() == 0) {
      full = EmptyRows(sim->rows, sim->cols);
      for (uint64_t a = 0; a < items_; ++a) full.indptr[a + 1] = full.indptr[a] + lengths[a];
      full.indices.resize(full.indptr[items_]);
      full.values.resize(full.indptr[items_]);
    }
    GatherToRoot(s_, sim->indices.data() + base, my_nz, MPI_UINT32_T, 12, nz_counts,
                 full.indices.data());
    GatherToRoot(s_, sim->values.data() + base, my_nz, MPI_FLOAT, 13, nz_counts,
                 full.values.data());
    if (s_.rank() == 0) {
      stats_->gather_bytes += (full.nnz() - sim->nnz()) * 8 + (items_ - own.size()) * 8;
      *sim = std::move(full);
    }
    stats_->exchange_seconds += Since(t);
    stats_->calls += 4;
    return Status::OK();
  }

 private:
  const Session& s_;
  uint64_t items_;
  uint32_t first_, last_;
  Fault fault_;
  ExchangeStats* stats_;
};

// cooccurrence over ranks: the input was read and aggregated per user block
// as for the factor models; every rank then gets every row (the similarity
// rows of one source item need the rows of every user holding it), computes
// the rows of its block of source items, and rank 0 gathers them.
Result<TrainResult> FitCooccurrence(const Session& s, const ModelParams& params, IdDictionary users,
                                    IdDictionary items, Dataset local, bool has_times,
                                    const Blocks& user_blocks, uint64_t shuffle_bytes,
                                    Clock::time_point t, const std::string& out,
                                    TrainResult result) {
  const uint64_t u0 = user_blocks.begin(s.rank()), u1 = user_blocks.end(s.rank());
  const uint64_t I = items.size();
  Dataset data;
  data.users = std::move(users);
  data.items = std::move(items);
  // Every rank's matrix has times when the log has a time column (the flag
  // was agreed over ranks) and the decay asked for them.
  const bool gather_times = params.half_life_days > 0 && has_times;
  data.by_user = AllGatherRows(s, local.by_user, user_blocks, I, gather_times, &result.stats);
  local = Dataset();
  data.by_item = data.by_user.Transpose(params.threads);
  result.nonzeros = data.by_user.nnz();
  result.owned_users = u1 - u0;
  result.stats.shuffle_bytes = shuffle_bytes;
  result.shuffle_seconds = Since(t);
  Result<std::unique_ptr<Recommender>> created = CreateRecommender("cooccurrence", params);
  ENCORE_RETURN_IF_ERROR(Agree(s, created.status()));
  std::unique_ptr<Recommender> model = std::move(*created);
  MpiRowExchange exchange(s, I, &result.stats);
  result.owned_items = exchange.items().second - exchange.items().first;
  if (!model::SetCooccurrenceRowExchange(model.get(), &exchange)) {
    return Status::Internal("cooccurrence did not take a row exchange");
  }
  t = Clock::now();
  const double cpu = CpuSeconds();
  Status fit = model->Fit(data);
  model::SetCooccurrenceRowExchange(model.get(), nullptr);
  ENCORE_RETURN_IF_ERROR(Agree(s, fit));
  result.train.fit_seconds = Since(t);
  RecordFitCpu(cpu, &result);
  return WriteOnRankZero(s, std::move(model), std::move(data), out, std::move(result));
}

// Steps 4-5 of Train (and FitDataset): the fit from this rank's rows.
// `local` holds the aggregated rows of the users this rank holds,
// [h0, h1) = [held_begin, held_end) of `user_blocks` (by_user: rows 0..h1-h0
// x every item; by_item: its transpose, items x those users, ascending);
// it owns [u0, u1) of them. With `seen_on_rank0` (the same on every rank),
// rank 0 passes the whole users x items matrix as `seen` and it is not
// gathered; otherwise `seen` is null.
Result<TrainResult> FitOwnedRows(const Session& s, const std::string& kind,
                                 const ModelParams& params, IdDictionary users, IdDictionary items,
                                 Dataset local, bool has_times, const Blocks& user_blocks,
                                 const Blocks& item_blocks, bool seen_on_rank0,
                                 const CsrMatrix* seen, uint64_t shuffle_bytes, Clock::time_point t,
                                 const std::string& out, TrainResult result) {
  const int N = s.size();
  const int R = s.rank();
  const uint64_t U = users.size(), I = items.size();
  const uint32_t u0 = static_cast<uint32_t>(user_blocks.begin(R));
  const uint32_t u1 = static_cast<uint32_t>(user_blocks.end(R));
  const uint32_t h0 = static_cast<uint32_t>(user_blocks.held_begin(R));
  const uint32_t h1 = static_cast<uint32_t>(user_blocks.held_end(R));
  const uint32_t i0 = static_cast<uint32_t>(item_blocks.held_begin(R));
  const uint32_t i1 = static_cast<uint32_t>(item_blocks.held_end(R));
  result.owned_users = u1 - u0;
  result.owned_items = static_cast<uint32_t>(item_blocks.end(R) - item_blocks.begin(R));
  if (kind == "cooccurrence") {
    return FitCooccurrence(s, params, std::move(users), std::move(items), std::move(local),
                           has_times, user_blocks, shuffle_bytes, t, out, std::move(result));
  }
  // The owned users' nonzeros to the ranks holding their items (each
  // nonzero once per holder); ranks' user blocks ascend, so each item's
  // users arrive in ascending order.
  std::vector<Entry> entries;
  {
    std::vector<std::vector<Entry>> out(N);
    const CsrMatrix& bi = local.by_item;
    int holders[3];
    for (uint32_t i = 0; i < bi.rows; ++i) {
      const int n = item_blocks.HoldersOf(i, holders);
      for (uint64_t p = bi.indptr[i]; p < bi.indptr[i + 1]; ++p) {
        const uint32_t user = bi.indices[p] + h0;
        if (user < u0 || user >= u1) continue;  // a margin row: its owner sends it
        for (int h = 0; h < n; ++h) out[holders[h]].push_back(Entry{i, user, bi.values[p]});
      }
    }
    local.by_item = CsrMatrix();
    Result<std::vector<Entry>> got = AllToAll(s, std::move(out), &shuffle_bytes);
    if (!got.ok()) return got.status();  // the same on every rank
    entries = std::move(*got);
  }
  Dataset data;
  data.users = std::move(users);
  data.items = std::move(items);
  data.by_item = EmptyRows(static_cast<uint32_t>(I), static_cast<uint32_t>(U));
  {
    CsrMatrix& m = data.by_item;
    std::vector<uint64_t> count(uint64_t{i1 - i0} + 1, 0);
    for (const Entry& e : entries) ++count[e.item - i0 + 1];
    for (uint32_t i = 0; i < i1 - i0; ++i) count[i + 1] += count[i];
    for (uint64_t i = 0; i <= I; ++i) {
      m.indptr[i] = i <= i0 ? 0 : (i >= i1 ? count[i1 - i0] : count[i - i0]);
    }
    m.indices.resize(entries.size());
    m.values.resize(entries.size());
    std::vector<uint64_t> fill(count.begin(), count.end() - 1);
    for (const Entry& e : entries) {  // stable: rank order, then ascending users
      const uint64_t p = fill[e.item - i0]++;
      m.indices[p] = e.user;
      m.values[p] = e.value;
    }
  }
  std::vector<Entry>().swap(entries);
  // by_user: the held rows; rank 0 gathers every row (the model file's
  // seen matrix) unless it holds them already.
  const CsrMatrix& lb = local.by_user;
  auto held_rows = [&](CsrMatrix& m) {  // rows [h0, h1) from lb, every other row empty
    m = EmptyRows(static_cast<uint32_t>(U), static_cast<uint32_t>(I));
    for (uint64_t u = 0; u < U; ++u) {
      const uint64_t len = (u >= h0 && u < h1) ? lb.RowLength(static_cast<uint32_t>(u - h0)) : 0;
      m.indptr[u + 1] = m.indptr[u] + len;
    }
    m.indices.resize(m.indptr[U]);
    m.values.resize(m.indptr[U]);
    std::copy(lb.indices.begin(), lb.indices.end(), m.indices.begin() + m.indptr[h0]);
    std::copy(lb.values.begin(), lb.values.end(), m.values.begin() + m.indptr[h0]);
  };
  if (seen_on_rank0) {
    if (R == 0) {
      data.by_user = *seen;
    } else {
      held_rows(data.by_user);
    }
  } else {
    // Rank 0 gathers each rank's owned rows (lb rows u0 - h0 .. u1 - h0).
    std::vector<int> counts = user_blocks.Counts(), displs = Displacements(counts);
    std::vector<uint64_t> lengths(R == 0 ? U : 0);
    std::vector<uint64_t> mine(u1 - u0);
    for (uint32_t u = 0; u < u1 - u0; ++u) mine[u] = lb.RowLength(u + (u0 - h0));
    MPI_Gatherv(mine.data(), static_cast<int>(mine.size()), MPI_UINT64_T, lengths.data(),
                counts.data(), displs.data(), MPI_UINT64_T, 0, MPI_COMM_WORLD);
    const uint64_t nz0 = lb.indptr[u0 - h0], nz1 = lb.indptr[u1 - h0];
    const uint64_t my_nz = nz1 - nz0;
    std::vector<uint64_t> nz_counts(N);
    MPI_Gather(&my_nz, 1, MPI_UINT64_T, nz_counts.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    CsrMatrix& m = data.by_user;
    if (R == 0) {
      m = EmptyRows(static_cast<uint32_t>(U), static_cast<uint32_t>(I));
      for (uint64_t u = 0; u < U; ++u) m.indptr[u + 1] = m.indptr[u] + lengths[u];
      m.indices.resize(m.indptr[U]);
      m.values.resize(m.indptr[U]);
    }
    GatherToRoot(s, lb.indices.data() + nz0, my_nz, MPI_UINT32_T, 10, nz_counts,
                 m.indices.data());
    GatherToRoot(s, lb.values.data() + nz0, my_nz, MPI_FLOAT, 11, nz_counts, m.values.data());
    if (R != 0) held_rows(data.by_user);
  }
  local = Dataset();
  uint64_t nnz = data.by_user.indptr[u1] - data.by_user.indptr[u0];
  MPI_Allreduce(MPI_IN_PLACE, &nnz, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  result.nonzeros = nnz;
  result.stats.shuffle_bytes = shuffle_bytes;
  result.shuffle_seconds = Since(t);
  // 4. The fit: the model's own Fit, with an exchange.
  Result<std::unique_ptr<Recommender>> created = CreateRecommender(kind, params);
  std::unique_ptr<Recommender> model = std::move(*created);
  auto* factor_model = dynamic_cast<model::FactorModel*>(model.get());
  if (factor_model == nullptr) return Status::Internal(kind + " is not a factor model");
  MpiExchange exchange(s, user_blocks, item_blocks, &result.stats);
  factor_model->set_fit_exchange(&exchange);
  t = Clock::now();
  const double cpu = CpuSeconds();
  Status fit = model->Fit(data);
  factor_model->set_fit_exchange(nullptr);
  ENCORE_RETURN_IF_ERROR(Agree(s, fit));
  result.train.fit_seconds = Since(t);
  RecordFitCpu(cpu, &result);
  // 5. Rank 0 writes the model file; the others wait for its outcome.
  return WriteOnRankZero(s, std::move(model), std::move(data), out, std::move(result));
}

}  // namespace

bool LaunchedByMpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr ||
         std::getenv("PMI_SIZE") != nullptr;
}

Session::Session() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  // The same kernels on every rank (the lowest any node has): on mixed
  // nodes a row's result would otherwise depend on where it was solved.
  int level = model::KernelLevel();
  MPI_Allreduce(MPI_IN_PLACE, &level, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  model::CapKernelLevel(level);
  uint64_t chunk = ChunkFromEnv();
  MPI_Allreduce(MPI_IN_PLACE, &chunk, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  g_chunk = chunk;
}

Session::~Session() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool SupportsKind(const std::string& kind) {
  return kind == "ials" || kind == "als" || kind == "cooccurrence";
}

uint64_t EstimateRankBytes(uint64_t users, uint64_t items, uint64_t nonzeros, uint32_t factors,
                           int ranks, bool biases, double balance_margin) {
  const uint64_t n = static_cast<uint64_t>(std::max(ranks, 1));
  // Replicated: both factor matrices (+ biases, cold-start scores), the
  // scoring copy of the item factors, the row pointers of both
  // orientations, the id dictionaries (~40 B an id), the process and the
  // MPI runtime (24 MB, measured); over several ranks also the blocks' cost
  // prefix sums (8 B an id).
  const uint64_t replicated = (users + items) * (uint64_t{factors} * 4 + (biases ? 4 : 0)) +
                              items * (uint64_t{factors} * 4 + 4) + (users + items) * (8 + 40) +
                              (n > 1 ? (users + items) * 8 : 0) + (uint64_t{24} << 20);
  // Sharded, at the peak of the row shuffle: the rows this rank read, sent
  // (24 B each), and the rows of the users it holds, received (24 B), which
  // become its nonzeros in both orientations (8 B each). The held rows grow
  // by the balancing margins: one neighbour's at N = 2, two beyond.
  const double m = n > 1 ? std::clamp(balance_margin, 0.0, 1.0) : 0.0;
  const double held_share = 1.0 + m * (n > 2 ? 2.0 : 1.0);
  const double share = static_cast<double>(nonzeros) / static_cast<double>(n);
  const uint64_t shuffle = static_cast<uint64_t>(std::ceil(share * 24)) +
                           static_cast<uint64_t>(std::ceil(share * held_share * (24 + 8 + 8)));
  // During the fit rank 0 also holds the whole seen matrix it gathered
  // (8 B a nonzero, 8 B a user): it does not shrink with N, and beyond a
  // few ranks it is rank 0's peak.
  const uint64_t fit = static_cast<uint64_t>(std::ceil(share * held_share * (8 + 8))) +
                       (n > 1 ? nonzeros * 8 + users * 8 : 0);
  return replicated + std::max(shuffle, fit);
}

int RanksNeeded(uint64_t users, uint64_t items, uint64_t nonzeros, uint32_t factors, bool biases,
                uint64_t budget, int from, double balance_margin) {
  auto fits = [&](int n) {
    return EstimateRankBytes(users, items, nonzeros, factors, n, biases, balance_margin) <= budget;
  };
  constexpr int kMaxRanks = 1 << 20;
  from = std::max(from, 1);
  int upper = from;
  while (upper <= kMaxRanks && !fits(upper)) upper *= 2;
  if (upper > kMaxRanks) return 0;
  // The estimate falls with the rank count from 2 on: the fewest is in
  // (upper / 2, upper].
  for (int n = std::max(from, upper / 2 + 1); n < upper; ++n) {
    if (fits(n)) return n;
  }
  return upper;
}

Result<TrainResult> Train(Session& session, const std::string& kind, const ModelParams& params,
                          const InputOptions& input, const std::string& out,
                          const TrainOptions& options) {
  const Session& s = session;
  TrainResult result;
  result.rank = s.rank();
  result.ranks = s.size();
  if (!SupportsKind(kind)) {
    return Status::InvalidArgument("mpirun trains ials, als and cooccurrence only, not '" + kind +
                                   "'; run `encore train --model " + kind + "` without mpirun");
  }
  ENCORE_RETURN_IF_ERROR(Agree(s, CreateRecommender(kind, params).status()));
  if (!(options.balance_margin >= 0 && options.balance_margin <= 1)) {  // NaN too
    return Status::InvalidArgument("--balance-margin must be between 0 and 1 (a share of a "
                                   "block's cost), not " +
                                   std::to_string(options.balance_margin));
  }
  // 1. This rank's share of the input.
  auto t = Clock::now();
  InteractionLog log;
  {
    Status st;
    Result<ResolvedInput> resolved = ResolveInput(input);
    std::optional<Obfuscator> obfuscator;
    if (!resolved.ok()) st = resolved.status();
    if (st.ok() && !resolved->read.obfuscate_cols.empty()) {
      Result<Obfuscator> ob = LoadObfuscator(input);
      if (ob.ok()) {
        obfuscator.emplace(std::move(*ob));
        resolved->read.obfuscator = &*obfuscator;
      } else {
        st = ob.status();
      }
    }
    if (st.ok()) {
      Result<Share> share = ShareOf(s, input.files, resolved->read);
      if (!share.ok()) {
        st = share.status();
      } else if (share->sources.empty()) {
        // Fewer files than ranks: this rank reads nothing (an empty log).
      } else {
        // Rejected rows are written per rank (<rejects>.rank-R).
        ReadOptions read = resolved->read;
        if (!read.rejects_path.empty() && s.size() > 1) {
          read.rejects_path += ".rank-" + std::to_string(s.rank());
        }
        Result<InteractionLog> got =
            io::ReadInteractionsFromSources(std::move(share->sources), read, &result.read);
        if (got.ok()) {
          log = std::move(*got);
        } else {
          st = Status(got.status().code(),
                      got.status().message() + " (reading " + share->description + ")");
        }
      }
    }
    ENCORE_RETURN_IF_ERROR(Agree(s, st));
    // The bad-row limit holds for the whole input, not per rank.
    uint64_t counts[3] = {result.read.rows_read, result.read.rows_accepted,
                          result.read.rows_rejected};
    MPI_Allreduce(MPI_IN_PLACE, counts, 3, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    result.read.rows_read = counts[0];
    result.read.rows_accepted = counts[1];
    result.read.rows_rejected = counts[2];
    if (counts[2] > input.max_bad_rows) {
      return Status::InvalidArgument(
          std::to_string(counts[2]) + " rows were rejected over " + std::to_string(s.size()) +
          " ranks, more than --max-bad-rows " + std::to_string(input.max_bad_rows) +
          "; raise it to skip bad rows, and --rejects FILE to collect them");
    }
  }
  result.read_seconds = Since(t);
  t = Clock::now();
  // 2. Ids agreed in rank order: the single-process first-appearance order.
  std::vector<uint32_t> user_map, item_map, event_map;
  Result<IdDictionary> users = AgreeIds(s, log.users, &user_map);
  Result<IdDictionary> items = AgreeIds(s, log.items, &item_map);
  Result<IdDictionary> events = AgreeIds(s, log.events, &event_map);
  ENCORE_RETURN_IF_ERROR(
      Agree(s, users.ok() ? (items.ok() ? events.status() : items.status()) : users.status()));
  int flags[2] = {log.has_events ? 1 : 0, log.has_times ? 1 : 0};
  MPI_Allreduce(MPI_IN_PLACE, flags, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  const uint64_t U = users->size(), I = items->size();
  const int N = s.size();
  result.users = U;
  result.items = I;
  ENCORE_RETURN_IF_ERROR(CheckIdCounts(U, I));  // the same figures on every rank
  // Blocks of about equal cost: every rank's rows per user and item, summed.
  Blocks user_blocks, item_blocks;
  uint64_t nonzero_rows = 0;  // the input's rows, over all ranks
  {
    std::vector<uint32_t> user_rows(U, 0), item_rows(I, 0);
    for (size_t i = 0; i < log.size(); ++i) {
      ++user_rows[user_map[log.user[i]]];
      ++item_rows[item_map[log.item[i]]];
    }
    MPI_Allreduce(MPI_IN_PLACE, user_rows.data(), static_cast<int>(U), MPI_UINT32_T, MPI_SUM,
                  MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, item_rows.data(), static_cast<int>(I), MPI_UINT32_T, MPI_SUM,
                  MPI_COMM_WORLD);
    for (uint32_t n : user_rows) nonzero_rows += n;
    // cooccurrence replicates every row anyway: no margins.
    const double margin = kind == "cooccurrence" ? 0.0 : options.balance_margin;
    user_blocks = Blocks::ByCost(user_rows, Blocks::RowCost(params.factors), N, margin);
    item_blocks = Blocks::ByCost(item_rows, Blocks::RowCost(params.factors), N, margin);
  }
  const bool cooc = kind == "cooccurrence";
  if (cooc && options.memory_budget > 0) {
    return Status::InvalidArgument(
        "--memory-budget is checked for ials and als only (docs/SCALING.md has no memory "
        "model for cooccurrence, whose data is replicated on every rank); drop it");
  }
  if (cooc && nonzero_rows > kMaxMpiCount) {
    return Status::InvalidArgument(
        "cooccurrence over mpirun copies the whole input to every rank, in one MPI_Allgatherv "
        "(at most 2^31 - 1 rows); this input has " + std::to_string(nonzero_rows) +
        " rows: sample or filter it first (docs/SCALING.md, where the design stops scaling)");
  }
  // Up front, before the row shuffle (the peak it models): the memory model
  // against the declared budget (rows stand in for nonzeros: more than them
  // before duplicates are summed).
  const bool biases = kind == "als" && params.biases;
  result.estimated_bytes = EstimateRankBytes(U, I, nonzero_rows, params.factors, N, biases,
                                             options.balance_margin);
  if (options.memory_budget > 0 && result.estimated_bytes > options.memory_budget) {
    const int needed = RanksNeeded(U, I, nonzero_rows, params.factors, biases,
                                   options.memory_budget, N, options.balance_margin);
    const double mb = 1e6;
    std::string msg = "the memory budget of " + std::to_string(options.memory_budget / mb) +
                      " MB per rank is too small: " + kind + " with " +
                      std::to_string(params.factors) + " factors over " + std::to_string(U) +
                      " users x " + std::to_string(I) + " items (" + std::to_string(nonzero_rows) +
                      " rows) needs about " + std::to_string(result.estimated_bytes / mb) +
                      " MB on the busiest of " + std::to_string(N) +
                      " ranks (rank 0; docs/SCALING.md); ";
    if (needed > 0) {
      msg += "run with at least " + std::to_string(needed) + " ranks (mpirun -np " +
             std::to_string(needed) + ") or raise --memory-budget";
    } else {
      msg +=
          "what does not shrink with more ranks (the factor matrices every rank holds, and "
          "the seen matrix rank 0 gathers) exceeds it, so no rank count is enough: lower "
          "--factors or raise --memory-budget";
    }
    return Status::InvalidArgument(msg);
  }
  // 3. Rows to the ranks holding their users, in input order.
  uint64_t shuffle_bytes = 0;
  std::vector<Row> rows;
  {
    std::vector<std::vector<Row>> out(N);
    const size_t n = log.size();
    for (size_t i = 0; i < n; ++i) {
      Row row;
      row.user = user_map[log.user[i]];
      row.item = item_map[log.item[i]];
      row.value = log.value[i];
      row.event = log.has_events ? event_map[log.event[i]] : 0;
      row.time = log.has_times ? log.time[i] : 0;
      int holders[3];
      const int h = user_blocks.HoldersOf(row.user, holders);
      for (int k = 0; k < h; ++k) out[holders[k]].push_back(row);
    }
    log = InteractionLog();
    Result<std::vector<Row>> got = AllToAll(s, std::move(out), &shuffle_bytes);
    if (!got.ok()) return got.status();  // the same on every rank
    rows = std::move(*got);
  }
  // Build this rank's held users x all items (BuildDataset: the
  // single-process aggregation, over the same rows in the same order).
  const uint32_t u0 = static_cast<uint32_t>(user_blocks.held_begin(s.rank()));
  const uint32_t u1 = static_cast<uint32_t>(user_blocks.held_end(s.rank()));
  Result<ResolvedInput> resolved = ResolveInput(input);  // succeeded above
  DatasetOptions dopts = resolved->dataset;
  // cooccurrence's recency decay needs the times; the factor models do not.
  dopts.keep_times = cooc && params.half_life_days > 0;
  Result<Dataset> local_data = Status::Internal("not built");
  {
    InteractionLog part;
    for (uint32_t u = u0; u < u1; ++u) part.users.Intern(users->Name(u));
    part.items = items->Clone();
    part.events = events->Clone();
    part.has_events = flags[0] != 0;
    part.has_times = flags[1] != 0;
    for (const Row& row : rows) {
      part.user.push_back(row.user - u0);
      part.item.push_back(row.item);
      part.value.push_back(row.value);
      if (part.has_events) part.event.push_back(row.event);
      if (part.has_times) part.time.push_back(row.time);
    }
    std::vector<Row>().swap(rows);
    local_data = BuildDataset(std::move(part), dopts);
  }
  ENCORE_RETURN_IF_ERROR(Agree(s, local_data.status()));
  return FitOwnedRows(s, kind, params, std::move(*users), std::move(*items), std::move(*local_data),
                      flags[1] != 0, user_blocks, item_blocks, /*seen_on_rank0=*/false, nullptr,
                      shuffle_bytes, t, out, std::move(result));
}

namespace {

// What rank 0 tells the workers (FitCoordinator -> ServeFits), one
// MPI_Bcast of this struct per command; kFailed is followed by rank 0's
// message. The ranks run the same binary, so ModelParams travels as bytes.
enum Op : int32_t { kOpFit = 1, kOpDone = 2, kOpFailed = 3 };
struct Command {
  int32_t op = 0;
  char kind[32] = {};
  ModelParams params;
};
static_assert(std::is_trivially_copyable_v<Command>, "Command is sent as bytes");

void BcastCommand(Command* c) { MPI_Bcast(c, sizeof *c, MPI_BYTE, 0, MPI_COMM_WORLD); }

// Rank 0's `text` on every rank. Returns false (on every rank) when it is
// too long for one message.
bool BcastString(std::string* text) {
  uint64_t len = text->size();
  MPI_Bcast(&len, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (len > static_cast<uint64_t>(INT32_MAX)) return false;
  text->resize(len);
  MPI_Bcast(text->data(), static_cast<int>(len), MPI_CHAR, 0, MPI_COMM_WORLD);
  return true;
}

// Rank 0's dictionary on every rank (rank 0 keeps a copy of its own).
Result<IdDictionary> BcastIds(const Session& s, const IdDictionary* mine, const char* what) {
  std::string packed = s.rank() == 0 ? PackNames(*mine) : std::string();
  if (!BcastString(&packed)) {
    return Status::InvalidArgument(std::string("the ") + what +
                                   " ids hold more than 2 GiB, more than one MPI_Bcast carries; "
                                   "see docs/SCALING.md (where the design stops scaling)");
  }
  if (s.rank() == 0) return mine->Clone();
  IdDictionary ids;
  for (uint64_t p = 0; p < packed.size();) {
    uint32_t len;
    std::memcpy(&len, packed.data() + p, sizeof len);
    p += sizeof len;
    ids.Intern(std::string_view(packed.data() + p, len));
    p += len;
  }
  return ids;
}

// Test hook: ENCORE_MPI_FAIL_RANK=R makes rank R's fits fail with an error.
Status InjectedFailure(int rank) {
  const char* r = std::getenv("ENCORE_MPI_FAIL_RANK");
  if (r == nullptr || std::atoi(r) != rank) return Status::OK();
  return Status::Internal("fit failed by ENCORE_MPI_FAIL_RANK (fault injection)");
}

}  // namespace

Result<TrainResult> FitDataset(Session& session, const std::string& kind, const ModelParams& params,
                               const Dataset* data, const std::string& out) {
  const Session& s = session;
  const bool root = s.rank() == 0;
  const int N = s.size();
  TrainResult result;
  result.rank = s.rank();
  result.ranks = N;
  if (!SupportsKind(kind)) {  // the same kind on every rank: no agreement needed
    return Status::InvalidArgument("ials, als and cooccurrence fit over MPI ranks, not '" + kind +
                                   "'");
  }
  Status st = CreateRecommender(kind, params).status();
  if (st.ok() && root) {
    if (data == nullptr) {
      st = Status::Internal("FitDataset: rank 0 was given no dataset");
    } else if (!out.empty()) {
      io::OutputFileOptions out_options;
      out_options.what = "model file";
      out_options.gzip_by_extension = false;
      st = io::CheckOutputPath(out, out_options).status();  // fail before the fit
    }
  }
  ENCORE_RETURN_IF_ERROR(Agree(s, st));
  const auto t = Clock::now();
  // Sizes, then both dictionaries (every rank's model needs the sizes;
  // cooccurrence orders ties by item name).
  uint64_t head[4] = {0, 0, 0, 0};
  if (root) {
    head[0] = data->users.size();
    head[1] = data->items.size();
    head[2] = data->by_user.nnz();
    head[3] = data->by_user.times.empty() ? 0 : 1;
  }
  MPI_Bcast(head, 4, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  const uint64_t U = head[0], I = head[1], nnz = head[2];
  const bool times = head[3] != 0 && kind == "cooccurrence" && params.half_life_days > 0;
  ENCORE_RETURN_IF_ERROR(CheckIdCounts(U, I));  // the same figures on every rank
  if (kind == "cooccurrence" && nnz > kMaxMpiCount) {
    return Status::InvalidArgument(
        "cooccurrence over mpirun copies the whole dataset to every rank, in one "
        "MPI_Allgatherv (at most 2^31 - 1 nonzeros); this one has " + std::to_string(nnz) +
        ": fit it on one process, or sample it first");
  }
  Result<IdDictionary> users = BcastIds(s, root ? &data->users : nullptr, "user");
  if (!users.ok()) return users.status();  // the same on every rank
  Result<IdDictionary> items = BcastIds(s, root ? &data->items : nullptr, "item");
  if (!items.ok()) return items.status();
  // Blocks of about equal cost: rank 0 broadcasts the row counts, every
  // rank cuts the same blocks (with balancing margins for ials / als).
  Blocks user_blocks, item_blocks;
  {
    std::vector<uint32_t> user_nnz(U), item_nnz(I);
    if (root) {
      for (uint64_t u = 0; u < U; ++u) {
        user_nnz[u] = static_cast<uint32_t>(data->by_user.RowLength(static_cast<uint32_t>(u)));
      }
      for (uint32_t i : data->by_user.indices) ++item_nnz[i];
    }
    MPI_Bcast(user_nnz.data(), static_cast<int>(U), MPI_UINT32_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(item_nnz.data(), static_cast<int>(I), MPI_UINT32_T, 0, MPI_COMM_WORLD);
    const double margin = kind == "cooccurrence" ? 0.0 : kDefaultBalanceMargin;
    user_blocks = Blocks::ByCost(user_nnz, Blocks::RowCost(params.factors), N, margin);
    item_blocks = Blocks::ByCost(item_nnz, Blocks::RowCost(params.factors), N, margin);
  }
  // Each rank gets the rows of the users it holds (its block and margins)
  // from rank 0, point to point (held ranges overlap, which MPI_Scatterv
  // does not allow); the factor sweeps read no other rows.
  const uint32_t h0 = static_cast<uint32_t>(user_blocks.held_begin(s.rank()));
  const uint32_t h1 = static_cast<uint32_t>(user_blocks.held_end(s.rank()));
  const CsrMatrix* full = root ? &data->by_user : nullptr;
  Dataset local;
  local.by_user = EmptyRows(h1 - h0, static_cast<uint32_t>(I));
  CsrMatrix& lb = local.by_user;
  uint64_t shuffle_bytes = 0;
  if (root) {
    const CsrMatrix& m = *full;
    for (int r = 0; r < N; ++r) {
      const uint64_t a = user_blocks.held_begin(r), b = user_blocks.held_end(r);
      std::vector<uint64_t> lengths(b - a);
      for (uint64_t u = a; u < b; ++u) lengths[u - a] = m.RowLength(static_cast<uint32_t>(u));
      const uint64_t p = m.indptr[a];
      const uint64_t nz = m.indptr[b] - p;
      if (r == 0) {
        for (uint64_t u = 0; u < b - a; ++u) lb.indptr[u + 1] = lb.indptr[u] + lengths[u];
        lb.indices.assign(m.indices.begin() + p, m.indices.begin() + p + nz);
        lb.values.assign(m.values.begin() + p, m.values.begin() + p + nz);
        if (times) lb.times.assign(m.times.begin() + p, m.times.begin() + p + nz);
        continue;
      }
      MPI_Send(lengths.data(), static_cast<int>(lengths.size()), MPI_UINT64_T, r, 0,
               MPI_COMM_WORLD);
      SendChunked(m.indices.data() + p, nz, MPI_UINT32_T, r, 1);
      SendChunked(m.values.data() + p, nz, MPI_FLOAT, r, 2);
      if (times) SendChunked(m.times.data() + p, nz, MPI_INT64_T, r, 3);
      shuffle_bytes += nz * (times ? 16 : 8) + lengths.size() * 8;
    }
  } else {
    std::vector<uint64_t> lengths(h1 - h0);
    MPI_Recv(lengths.data(), static_cast<int>(lengths.size()), MPI_UINT64_T, 0, 0, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    for (uint32_t u = 0; u < h1 - h0; ++u) lb.indptr[u + 1] = lb.indptr[u] + lengths[u];
    const uint64_t nz = lb.indptr[h1 - h0];
    lb.indices.resize(nz);
    lb.values.resize(nz);
    RecvChunked(lb.indices.data(), nz, MPI_UINT32_T, 0, 1);
    RecvChunked(lb.values.data(), nz, MPI_FLOAT, 0, 2);
    if (times) {
      lb.times.resize(nz);
      RecvChunked(lb.times.data(), nz, MPI_INT64_T, 0, 3);
    }
  }
  if (kind != "cooccurrence") local.by_item = lb.Transpose(params.threads);
  ENCORE_RETURN_IF_ERROR(Agree(s, InjectedFailure(s.rank())));
  return FitOwnedRows(s, kind, params, std::move(*users), std::move(*items), std::move(local),
                      times, user_blocks, item_blocks, /*seen_on_rank0=*/true, full, shuffle_bytes,
                      t, out, std::move(result));
}

FitCoordinator::FitCoordinator(Session& session) : session_(session) {}

FitCoordinator::~FitCoordinator() {
  Finish(Status::FailedPrecondition("rank 0 ended the job without finishing it"));
}

Result<TrainedModel> FitCoordinator::Fit(const std::string& kind, const ModelParams& params,
                                         const Dataset& data, const std::string& path,
                                         TrainReport* report) {
  if (finished_) return Status::FailedPrecondition("FitCoordinator::Fit after Finish");
  Command c;
  if (!SupportsKind(kind) || kind.size() >= sizeof c.kind) {
    return Status::InvalidArgument("model kind '" + kind + "' does not fit over MPI ranks");
  }
  c.op = kOpFit;
  std::memcpy(c.kind, kind.data(), kind.size());
  c.params = params;
  BcastCommand(&c);
  ++fits_;
  ENCORE_ASSIGN_OR_RETURN(TrainResult r, FitDataset(session_, kind, params, &data, path));
  if (report != nullptr) *report = r.train;
  return std::move(*r.model);
}

std::string FitCoordinator::Describe() const {
  return std::to_string(session_.size()) + " MPI ranks";
}

void FitCoordinator::Finish(const Status& outcome) {
  if (finished_) return;
  finished_ = true;
  Command c;
  c.op = outcome.ok() ? kOpDone : kOpFailed;
  BcastCommand(&c);
  if (!outcome.ok()) {
    std::string message = outcome.message();
    if (message.size() > 4096) message.resize(4096);
    BcastString(&message);
  }
}

Status ServeFits(Session& session) {
  for (;;) {
    Command c;
    BcastCommand(&c);
    if (c.op == kOpDone) return Status::OK();
    if (c.op == kOpFailed) {
      std::string message;
      BcastString(&message);
      return Status::FailedPrecondition("rank 0 failed the job: " + message);
    }
    if (c.op != kOpFit) {
      return Status::Internal("rank " + std::to_string(session.rank()) +
                              " got an unknown command " + std::to_string(c.op) + " from rank 0");
    }
    const std::string kind(c.kind, strnlen(c.kind, sizeof c.kind));
    // A failed fit fails on every rank (agreed); rank 0 decides what follows.
    (void)FitDataset(session, kind, c.params, nullptr, "");
  }
}

Result<RecommendResult> RecommendParts(Session& session, const std::string& model_file,
                                       const RecommendRequest& request, const std::string& out_dir,
                                       bool jsonl, int threads) {
  const Session& s = session;
  RecommendResult result;
  result.ranks = s.size();
  namespace fs = std::filesystem;
  const fs::path dir(out_dir);
  const fs::path success = dir / "_SUCCESS";
  Status st;
  if (s.rank() == 0) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      st = Status::IOError("cannot create output directory '" + out_dir + "': " + ec.message());
    } else {
      fs::remove(success, ec);
      if (ec) {
        st = Status::IOError("cannot remove an old '" + success.string() + "': " + ec.message());
      }
    }
    // Parts of an earlier run (perhaps with more ranks) would join this
    // run's set: remove every part-* first.
    if (st.ok()) {
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("part-", 0) != 0) continue;
        std::error_code rm;
        fs::remove(e.path(), rm);
        if (rm) {
          st = Status::IOError("cannot remove an old part '" + e.path().string() +
                               "': " + rm.message());
          break;
        }
      }
      if (st.ok() && ec) {
        st = Status::IOError("cannot list output directory '" + out_dir + "': " + ec.message());
      }
    }
  }
  ENCORE_RETURN_IF_ERROR(Agree(s, st));
  Result<TrainedModel> model = LoadModel(model_file);
  ENCORE_RETURN_IF_ERROR(Agree(s, model.status()));
  if (threads > 0) model->model->set_threads(threads);
  Result<ResolvedRequest> resolved = ResolveRecommendRequest(*model, request);
  ENCORE_RETURN_IF_ERROR(Agree(s, resolved.status()));
  // The users of this rank: a block of the ids file, else of every user.
  std::vector<std::string> ids;
  const uint64_t total =
      resolved->id_names.empty() ? model->users.size() : resolved->id_names.size();
  const uint64_t first = BlockStart(total, s.size(), s.rank());
  const uint64_t last = BlockStart(total, s.size(), s.rank() + 1);
  for (uint64_t i = first; i < last; ++i) {
    ids.emplace_back(resolved->id_names.empty()
                         ? std::string(model->users.Name(static_cast<uint32_t>(i)))
                         : resolved->id_names[i]);
  }
  result.users = ids.size();
  char name[64];
  std::snprintf(name, sizeof name, "part-%05d.%s", s.rank(), jsonl ? "jsonl" : "csv");
  result.part = (dir / name).string();
  Status wrote;
  uint64_t rows = 0;
  if (ids.empty()) {
    // A rank without users still writes its (empty) part: the set is complete.
    wrote = io::WriteOutputFile(result.part, jsonl ? "" : "user,item,score,rank\n",
                                io::OutputFileOptions{});
  } else {
    Result<BatchReport> report = WriteRecommendations(*model, ids, resolved->query, result.part);
    if (report.ok()) {
      rows = report->rows;
    } else {
      wrote = report.status();
    }
  }
  Fault fault = Fault::FromEnv();
  fault.Tick(s.rank());
  ENCORE_RETURN_IF_ERROR(Agree(s, wrote));
  MPI_Allreduce(&rows, &result.rows, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  Status done;
  if (s.rank() == 0) done = io::WriteOutputFile(success.string(), "", io::OutputFileOptions{});
  ENCORE_RETURN_IF_ERROR(Agree(s, done));
  return result;
}

}  // namespace encore::distributed
