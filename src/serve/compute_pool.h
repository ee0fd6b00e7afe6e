// ComputePool: a few threads of their own for the requests that compute with
// the model (fold-in, explanations), with a bounded queue, so that a burst of
// them waits here instead of holding up plain GETs on the serving threads,
// and a burst larger than the queue is refused at once (the caller answers
// 503 with Retry-After) instead of growing without bound.
//
// Thread-safety: Submit may be called from any thread. Stop and the
// destructor from one controlling thread; tasks still queued at Stop are
// destroyed without running.

#ifndef ENCORE_SERVE_COMPUTE_POOL_H_
#define ENCORE_SERVE_COMPUTE_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "serve/metrics.h"

namespace encore::serve {

class ComputePool {
 public:
  // REQUIRES: threads >= 1, queue_limit >= 1. `metrics` (may be null) counts
  // queued, started and refused tasks and must outlive the pool.
  ComputePool(int threads, uint32_t queue_limit, Metrics* metrics);
  ~ComputePool();
  ComputePool(const ComputePool&) = delete;
  ComputePool& operator=(const ComputePool&) = delete;

  // Queues `task`; false (and the task is dropped) when queue_limit tasks
  // already wait, or after Stop.
  bool Submit(std::function<void()> task);
  // Lets running tasks finish, drops the queued ones, joins the threads.
  void Stop();

 private:
  void Loop();

  const uint32_t queue_limit_;
  Metrics* const metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                        // guarded by mu_
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace encore::serve

#endif  // ENCORE_SERVE_COMPUTE_POOL_H_
