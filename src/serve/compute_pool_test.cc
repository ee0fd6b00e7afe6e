#include "serve/compute_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace encore::serve {
namespace {

TEST(ComputePool, RunsTasksAndRefusesBeyondItsQueue) {
  Metrics metrics;
  ComputePool pool(1, 2, &metrics);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  // The one thread takes the first task and blocks in it.
  ASSERT_TRUE(pool.Submit([&] {
    started.set_value();
    released.wait();
    ran.fetch_add(1);
  }));
  started.get_future().wait();
  // Two may wait; the third is refused at once.
  EXPECT_TRUE(pool.Submit([&] { ran.fetch_add(1); }));
  EXPECT_TRUE(pool.Submit([&] { ran.fetch_add(1); }));
  EXPECT_FALSE(pool.Submit([&] { ran.fetch_add(100); }));
  const std::string page = metrics.Render(Metrics::SnapshotState());
  EXPECT_NE(page.find("encore_compute_queue_depth 2\n"), std::string::npos) << page;
  EXPECT_NE(page.find("encore_compute_rejected_total 1\n"), std::string::npos) << page;
  release.set_value();
  std::promise<void> last;
  while (!pool.Submit([&] { last.set_value(); })) {
  }
  last.get_future().wait();  // FIFO: everything before it ran
  EXPECT_EQ(ran.load(), 3);
  pool.Stop();
  EXPECT_FALSE(pool.Submit([] {}));
  EXPECT_NE(metrics.Render(Metrics::SnapshotState()).find("encore_compute_queue_depth 0\n"),
            std::string::npos);
}

TEST(ComputePool, StopDropsQueuedTasksWithoutRunningThem) {
  ComputePool pool(1, 1u << 30, nullptr);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.Submit([&] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.Submit([&] { ran.fetch_add(1); }));
  std::thread stopper([&] { pool.Stop(); });
  // Submit fails once Stop has dropped the queue (the limit is never reached).
  while (pool.Submit([] {})) {
  }
  release.set_value();  // only now may the thread look for more work
  stopper.join();
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
}  // namespace encore::serve
