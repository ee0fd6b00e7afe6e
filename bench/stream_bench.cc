// stream_bench: live events under serving load (bench/stream_bench.sh runs it).
//
// Needs a running redis-server, `encore stream` consuming --stream into a
// store and `encore serve` on that store at --port. Three things at once for
// --seconds:
//   producer  XADDs view/cart/purchase events of users u0..u<users-1> on items
//             i0..i<items-1> at --rate events/s (paced every millisecond);
//   load      --load-threads threads GET random users' lists as fast as they can;
//   probes    every --probe-ms a brand-new user "probe-K" gets one event; the
//             probe then GETs its list until it answers 200: the time from
//             before the XADD to that answer is the event-to-served latency.
// Prints events/s produced, the consumer's applied count, GETs/s, probe p50/p99/max.
//
// Ids are u<k> and i<k> zero-padded like `encore generate`'s.
// Usage: stream_bench --redis URI --stream KEY --port P [--rate 2000] [--seconds 20]
//        [--users 20000] [--items 2000] [--load-threads 1] [--probe-ms 50]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "http_test_client.h"
#include "stream/redis_events.h"

namespace {

using Clock = std::chrono::steady_clock;
using encore::testing::HttpConnection;
using encore::testing::HttpReply;

// "u0042": ids as `encore generate` writes them (zero-padded to the width of the largest).
std::string Id(char prefix, uint32_t k, uint32_t count) {
  std::string digits = std::to_string(k);
  const size_t width = std::to_string(count - 1).size();
  return std::string(1, prefix) + std::string(width - std::min(width, digits.size()), '0') + digits;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::string redis, stream = "events";
  int port = 0, rate = 2000, seconds = 20, users = 20000, items = 2000, load_threads = 1,
      probe_ms = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--redis")
      redis = v;
    else if (a == "--stream")
      stream = v;
    else if (a == "--port")
      port = std::atoi(v.c_str());
    else if (a == "--rate")
      rate = std::atoi(v.c_str());
    else if (a == "--seconds")
      seconds = std::atoi(v.c_str());
    else if (a == "--users")
      users = std::atoi(v.c_str());
    else if (a == "--items")
      items = std::atoi(v.c_str());
    else if (a == "--load-threads")
      load_threads = std::atoi(v.c_str());
    else if (a == "--probe-ms")
      probe_ms = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (redis.empty() || port == 0) {
    std::fprintf(stderr, "usage: stream_bench --redis URI --stream KEY --port P ...\n");
    return 2;
  }
  const auto bench_start = Clock::now();
  std::atomic<bool> done{false};
  std::atomic<uint64_t> produced{0}, gets{0}, get_errors{0};

  std::thread producer([&] {
    auto log = encore::stream::RedisEventLog::Open(redis, stream);
    if (!log.ok()) {
      std::fprintf(stderr, "producer: %s\n", log.status().ToString().c_str());
      std::exit(1);
    }
    std::mt19937 rng(1);
    const char* types[] = {"view", "view", "view", "cart", "purchase"};
    const auto start = Clock::now();
    std::vector<std::vector<std::pair<std::string, std::string>>> entries;
    std::vector<std::string> ids;
    uint64_t sent = 0;
    while (!done.load()) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      const uint64_t due = static_cast<uint64_t>(elapsed * rate);
      entries.clear();
      for (; sent < due; ++sent) {
        entries.push_back({{"user", Id('u', rng() % users, users)},
                           {"item", Id('i', rng() % items, items)},
                           {"event", types[rng() % 5]},
                           {"id", "b" + std::to_string(sent)}});
      }
      if (!entries.empty()) {
        if (auto s = (*log)->Append(entries, &ids); !s.ok()) {
          std::fprintf(stderr, "producer: %s\n", s.ToString().c_str());
          std::exit(1);
        }
        produced += entries.size();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });

  std::vector<std::thread> loaders;
  for (int t = 0; t < load_threads; ++t) {
    loaders.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      HttpConnection conn(static_cast<uint16_t>(port));
      while (!done.load()) {
        HttpReply r =
            conn.Request("GET", "/v1/users/" + Id('u', rng() % users, users) + "/recommendations");
        if (r.status == 0) {
          ++get_errors;
          break;
        }
        ++gets;
      }
    });
  }

  std::vector<double> latencies;
  {
    auto log = encore::stream::RedisEventLog::Open(redis, stream);
    if (!log.ok()) return 1;
    HttpConnection conn(static_cast<uint16_t>(port));
    std::mt19937 rng(7);
    std::vector<std::string> ids;
    const auto end = Clock::now() + std::chrono::seconds(seconds);
    // Warm-up: the first second is not measured.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    for (int k = 0; Clock::now() < end; ++k) {
      const std::string user = "probe-" + std::to_string(k);
      const auto t0 = Clock::now();
      if (!(*log)
               ->Append(
                   {{{"user", user}, {"item", Id('i', rng() % items, items)}, {"event", "view"}}},
                   &ids)
               .ok())
        return 1;
      bool seen = false;
      while (Clock::now() - t0 < std::chrono::seconds(5)) {
        HttpReply r = conn.Request("GET", "/v1/users/" + user + "/recommendations");
        if (r.status == 200) {
          seen = true;
          break;
        }
      }
      if (seen) latencies.push_back(Ms(Clock::now() - t0));
      std::this_thread::sleep_until(t0 + std::chrono::milliseconds(probe_ms));
    }
  }
  done = true;
  producer.join();
  for (auto& t : loaders) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - bench_start).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    if (latencies.empty()) return -1.0;
    return latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))];
  };
  std::printf(
      "rate target %d ev/s: produced %.0f ev/s; GET load %.0f req/s (%llu errors); probes %zu: "
      "event-to-served p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
      rate, produced.load() / wall, gets.load() / wall,
      static_cast<unsigned long long>(get_errors.load()), latencies.size(), pct(0.5), pct(0.99),
      latencies.empty() ? -1.0 : latencies.back());
  return 0;
}
