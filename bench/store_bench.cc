// store_bench: publishes a synthetic snapshot to a store and times
// Snapshot::Get from several threads (random existing keys), the serving hot
// path. For an LMDB store it also times three ways of reading the same
// environment with the raw LMDB API, the measurement behind the choice
// documented in src/store/lmdb_store.cc:
//   long-lived  one read transaction per thread, kept (what the store does)
//   renew       mdb_txn_reset + mdb_txn_renew around every get
//   begin       mdb_txn_begin + mdb_txn_abort around every get
//
//   build/release/bench/store_bench /tmp/bench-store [keys=1000000] [value=200]
//       [threads=2] [gets=2000000]
//   build/release/bench/store_bench redis://127.0.0.1:6379/0 keys=100000 gets=200000
//
// Prints one line per measurement and a final JSON line.

#include <lmdb.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "encore/store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string uri;
  uint64_t keys = 1'000'000;
  uint64_t value = 200;
  int threads = 2;
  uint64_t gets = 2'000'000;  // per thread
};

std::string Key(uint64_t k) { return "user" + std::to_string(k); }

// xorshift: cheap, deterministic per thread.
uint64_t Next(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

// Runs body(thread, gets) on `threads` threads; returns gets per second.
double Run(int threads, uint64_t gets, const std::function<uint64_t(int, uint64_t)>& body) {
  std::vector<std::thread> pool;
  std::vector<uint64_t> found(threads, 0);
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { found[t] = body(t, gets); });
  for (auto& th : pool) th.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  uint64_t total = 0;
  for (uint64_t f : found) total += f;
  if (total != gets * threads)
    std::fprintf(stderr, "store_bench: %llu misses!\n",
                 static_cast<unsigned long long>(gets * threads - total));
  return static_cast<double>(gets) * threads / seconds;
}

// MDB key of a user document: the table byte, then the id.
MDB_val MdbKey(const std::string& id, char* buf) {
  buf[0] = static_cast<char>(encore::Table::kUser);
  std::memcpy(buf + 1, id.data(), id.size());
  return MDB_val{id.size() + 1, buf};
}

void RawLmdb(const std::string& dir, const Args& a, std::map<std::string, double>* results) {
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_mapsize(env, 1 << 20);
  if (int rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644)) {
    std::fprintf(stderr, "store_bench: cannot open %s: %s\n", dir.c_str(), mdb_strerror(rc));
    return;
  }
  MDB_dbi dbi = 0;
  MDB_txn* open_txn = nullptr;
  if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &open_txn) != 0 ||
      mdb_dbi_open(open_txn, nullptr, 0, &dbi) != 0 || mdb_txn_commit(open_txn) != 0) {
    std::fprintf(stderr, "store_bench: cannot open the database in %s\n", dir.c_str());
    mdb_env_close(env);
    return;
  }
  auto lookup = [&](MDB_txn* txn, uint64_t* seed, std::string* out) {
    char buf[64];
    MDB_val k = MdbKey(Key(Next(seed) % a.keys), buf), v;
    if (mdb_get(txn, dbi, &k, &v) != 0) return 0;
    out->assign(static_cast<const char*>(v.mv_data), v.mv_size);
    return 1;
  };
  (*results)["raw_long_lived"] = Run(a.threads, a.gets, [&](int t, uint64_t n) {
    uint64_t seed = 88172645463325252ull + t, hits = 0;
    std::string value;
    MDB_txn* txn = nullptr;
    mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    for (uint64_t i = 0; i < n; ++i) hits += lookup(txn, &seed, &value);
    mdb_txn_abort(txn);
    return hits;
  });
  (*results)["raw_renew"] = Run(a.threads, a.gets, [&](int t, uint64_t n) {
    uint64_t seed = 88172645463325252ull + t, hits = 0;
    std::string value;
    MDB_txn* txn = nullptr;
    mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    mdb_txn_reset(txn);
    for (uint64_t i = 0; i < n; ++i) {
      mdb_txn_renew(txn);
      hits += lookup(txn, &seed, &value);
      mdb_txn_reset(txn);
    }
    mdb_txn_abort(txn);
    return hits;
  });
  (*results)["raw_begin"] = Run(a.threads, a.gets, [&](int t, uint64_t n) {
    uint64_t seed = 88172645463325252ull + t, hits = 0;
    std::string value;
    for (uint64_t i = 0; i < n; ++i) {
      MDB_txn* txn = nullptr;
      mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
      hits += lookup(txn, &seed, &value);
      mdb_txn_abort(txn);
    }
    return hits;
  });
  mdb_env_close(env);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s DIR|redis://HOST:PORT/DB [keys=N] [value=BYTES] "
                 "[threads=N] [gets=N]\n",
                 argv[0]);
    return 2;
  }
  Args a;
  a.uri = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    std::string name = arg.substr(0, eq), value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (name == "keys")
      a.keys = std::strtoull(value.c_str(), nullptr, 10);
    else if (name == "value")
      a.value = std::strtoull(value.c_str(), nullptr, 10);
    else if (name == "threads")
      a.threads = std::atoi(value.c_str());
    else if (name == "gets")
      a.gets = std::strtoull(value.c_str(), nullptr, 10);
    else {
      std::fprintf(stderr, "store_bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  auto store = encore::Store::Open(a.uri);
  if (!store.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", store.status().ToString().c_str());
    return 1;
  }
  auto start = Clock::now();
  auto writer = (*store)->BeginSnapshot();
  if (!writer.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", writer.status().ToString().c_str());
    return 1;
  }
  const std::string value(a.value, 'v');
  for (uint64_t k = 0; k < a.keys; ++k) {
    encore::Status s = (*writer)->Put(encore::Table::kUser, Key(k), value);
    if (!s.ok()) {
      std::fprintf(stderr, "store_bench: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  const uint64_t version = (*writer)->info().version;
  if (encore::Status s = (*writer)->Commit(); !s.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  writer->reset();
  const double publish_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("published %llu keys of %llu bytes in %.2f s\n",
              static_cast<unsigned long long>(a.keys), static_cast<unsigned long long>(a.value),
              publish_seconds);

  auto snap = (*store)->OpenSnapshot(version);
  if (!snap.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", snap.status().ToString().c_str());
    return 1;
  }
  std::map<std::string, double> results;
  const encore::Snapshot& snapshot = **snap;
  results["store_get"] = Run(a.threads, a.gets, [&](int t, uint64_t n) {
    uint64_t seed = 88172645463325252ull + t, hits = 0;
    std::string out;
    for (uint64_t i = 0; i < n; ++i) {
      hits += snapshot.Get(encore::Table::kUser, Key(Next(&seed) % a.keys), &out).ok();
    }
    return hits;
  });
  if (a.uri.rfind("redis://", 0) != 0 && a.uri.rfind("memory:", 0) != 0) {
    char name[32];
    std::snprintf(name, sizeof name, "%020llu", static_cast<unsigned long long>(version));
    RawLmdb(a.uri + "/snapshots/" + name, a, &results);
  }
  std::string json = "{\"keys\":" + std::to_string(a.keys) +
                     ",\"threads\":" + std::to_string(a.threads) +
                     ",\"publish_seconds\":" + std::to_string(publish_seconds);
  for (const auto& [name, rate] : results) {
    std::printf("%-16s %12.0f gets/s (%d threads)\n", name.c_str(), rate, a.threads);
    json += ",\"" + name + "_per_s\":" + std::to_string(static_cast<uint64_t>(rate));
  }
  std::printf("%s}\n", json.c_str());
  if (encore::Status s = (*store)->Prune(1); !s.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", s.ToString().c_str());
  }
  return 0;
}
