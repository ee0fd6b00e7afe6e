#include "serve/compute_pool.h"

#include "encore/status.h"

namespace encore::serve {

ComputePool::ComputePool(int threads, uint32_t queue_limit, Metrics* metrics)
    : queue_limit_(queue_limit), metrics_(metrics) {
  ENCORE_CHECK(threads >= 1 && queue_limit >= 1);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

ComputePool::~ComputePool() { Stop(); }

bool ComputePool::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stop_ || tasks_.size() >= queue_limit_) {
      if (metrics_ != nullptr) metrics_->ComputeRejected();
      return false;
    }
    tasks_.push_back(std::move(task));
    if (metrics_ != nullptr) metrics_->ComputeQueued();
  }
  cv_.notify_one();
  return true;
}

void ComputePool::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    if (stop_ && threads_.empty()) return;
    stop_ = true;
    dropped.swap(tasks_);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  if (metrics_ != nullptr) {
    for (size_t i = 0; i < dropped.size(); ++i) metrics_->ComputeStarted();  // no longer waiting
  }
}

void ComputePool::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
    if (stop_) return;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    if (metrics_ != nullptr) metrics_->ComputeStarted();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace encore::serve
