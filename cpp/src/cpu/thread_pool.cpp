#include "cpu/thread_pool.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MPSNN_PAUSE() _mm_pause()
#else
#define MPSNN_PAUSE() std::this_thread::yield()
#endif

namespace mpsnn::cpu {

namespace {

thread_local bool inside_task = false;

class Pool {
 public:
  Pool() {
    int n = int(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("MPSNN_NUM_THREADS")) n = std::atoi(env);
    size_ = n < 1 ? 1 : n;
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    sleep_cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return size_; }

  void run(int parts, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> one_region_at_a_time(run_mutex_);
    task_ = &task;
    parts_ = parts;
    error_ = nullptr;
    remaining_.store(size_ - 1);
    {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    sleep_cv_.notify_all();
    execute(0);
    while (remaining_.load(std::memory_order_acquire) != 0) MPSNN_PAUSE();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void execute(int index) {
    inside_task = true;
    for (int p = index; p < parts_; p += size_) {
      try {
        (*task_)(p);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    inside_task = false;
  }

  void work(int index) {
    unsigned seen = 0;
    for (;;) {
      // Spin briefly (regions come in quick succession inside a kernel), then sleep.
      const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spin_until)
        for (int i = 0; i < 64; ++i) MPSNN_PAUSE();
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        sleep_cv_.wait(lock, [&] { return generation_.load() != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
      execute(index);
      remaining_.fetch_sub(1, std::memory_order_release);
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_, sleep_mutex_, error_mutex_;
  std::condition_variable sleep_cv_;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> remaining_{0};
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0;
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

int threads() { return pool().size(); }

int concurrent_parts(int wanted) { return inside_task ? 1 : std::max(1, std::min(wanted, pool().size())); }

void parallel_for(int parts, const std::function<void(int)>& task) {
  if (parts <= 1 || inside_task || pool().size() == 1) {
    for (int p = 0; p < parts; ++p) task(p);
    return;
  }
  pool().run(parts, task);
}

void SpinBarrier::wait() {
  const unsigned generation = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_) {
    arrived_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    return;
  }
  for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
    if (spins < 4096) MPSNN_PAUSE();
    else std::this_thread::yield();  // another process holds the core: let it run
  }
}

StealingSplit::StealingSplit(std::size_t size, int parts)
    : parts_(parts), ranges_(new Range[std::size_t(std::max(parts, 1))]) {
  if (size >= (std::uint64_t(1) << 32)) throw std::length_error("StealingSplit: more than 2^32 items");
  for (int p = 0; p < parts; ++p) {
    std::size_t begin, end;
    split(size, parts, p, 1, begin, end);
    ranges_[p].bounds.store(pack(begin, end), std::memory_order_relaxed);
  }
}

StealingSplit::Mode StealingSplit::mode() {
  static const Mode asked = [] {
    const char* env = std::getenv("MPSNN_CPU_SCHEDULE");
    const std::string name = env ? env : "stealing";
    if (name == "static") return Mode::static_split;
    if (name == "others_first") return Mode::others_first;
    if (name != "stealing")
      std::fprintf(stderr, "mpsnn: MPSNN_CPU_SCHEDULE=%s is not stealing, static or others_first: stealing\n",
                   name.c_str());
    return Mode::stealing;
  }();
  return asked;
}

}  // namespace mpsnn::cpu
