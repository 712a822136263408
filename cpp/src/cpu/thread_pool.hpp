// The CPU backend's threads. Every kernel parallelises through this pool and
// calls the BLAS single-threaded, so that no second pool of spinning threads
// competes for the cores (OpenBLAS's own threads spin long after each call).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace mpsnn::cpu {

// Runs task(p) for p in [0, parts) on up to threads() threads, the caller
// included, and returns when all are done, rethrowing the first exception.
// A nested call (from inside a task) runs serially on the calling thread.
void parallel_for(int parts, const std::function<void(int)>& task);

// Threads in the pool, the caller included: MPSNN_NUM_THREADS, else the cores.
int threads();

// How many of `wanted` parts a parallel_for called here runs at the same time
// (1 inside a task): at most this many may share a SpinBarrier.
int concurrent_parts(int wanted);

// A barrier for the `count` participants of one parallel_for.
class SpinBarrier {
 public:
  explicit SpinBarrier(int count) : count_(count) {}
  void wait();

 private:
  const int count_;
  std::atomic<int> arrived_{0};
  std::atomic<unsigned> generation_{0};
};

// [begin, end) of part p when `size` items are split into `parts`, in
// multiples of `grain` where possible.
inline void split(std::size_t size, int parts, int p, std::size_t grain, std::size_t& begin, std::size_t& end) {
  const std::size_t chunks = (size + grain - 1) / grain;
  begin = std::min(size, chunks * p / parts * grain);
  end = std::min(size, chunks * (p + 1) / parts * grain);
}

// Items [0, size) dealt to `parts` parts as split() deals them, each part
// claiming runs of its own from the front and, once those are gone, runs of
// another's from the back. On cores of equal speed each part does its own
// items in order, as a static split would (same locality, no item moves); a
// slower core (a VM's vCPU whose core another guest shares, a hybrid CPU's
// efficiency core) hands its last items to the faster ones instead of holding
// everyone up. Claims are lock-free; any number of parts may claim at once.
// MPSNN_CPU_SCHEDULE=static keeps every part to its own items;
// MPSNN_CPU_SCHEDULE=others_first has each part take the others' items before
// its own (a test mode: every item is stolen where it can be).
class StealingSplit {
 public:
  StealingSplit(std::size_t size, int parts);

  // Claims [begin, end) for `part`: of its own items [lo, hi), the run
  // [lo, lo + front(lo, hi)); of the part with the most left, [hi - back(lo, hi), hi).
  // front and back return 1..hi-lo. False once no part has items left.
  template <typename Front, typename Back>
  bool next(int part, std::size_t& begin, std::size_t& end, const Front& front, const Back& back) {
    if (mode() != Mode::others_first && claim_front(part, begin, end, front)) return true;
    for (;;) {
      int victim = -1;
      std::size_t most = 0;
      if (mode() != Mode::static_split)
        for (int p = 0; p < parts_; ++p) {
          const std::uint64_t bounds = ranges_[p].bounds.load(std::memory_order_relaxed);
          const std::size_t left = hi(bounds) - std::min(hi(bounds), lo(bounds));
          if (p != part && left > most) most = left, victim = p;
        }
      if (victim < 0) return mode() == Mode::others_first && claim_front(part, begin, end, front);
      std::uint64_t bounds = ranges_[victim].bounds.load(std::memory_order_relaxed);
      if (lo(bounds) >= hi(bounds)) continue;
      const std::size_t taken = back(lo(bounds), hi(bounds)), last = hi(bounds);
      if (ranges_[victim].bounds.compare_exchange_weak(bounds, pack(lo(bounds), last - taken),
                                                       std::memory_order_acquire)) {
        begin = last - taken, end = last;
        return true;
      }
    }
  }
  // One item at a time.
  bool next(int part, std::size_t& item) {
    std::size_t end;
    const auto one = [](std::size_t, std::size_t) { return std::size_t(1); };
    return next(part, item, end, one, one);
  }

 private:
  enum class Mode { stealing, static_split, others_first };
  static Mode mode();
  // A part's unclaimed items [lo, hi) in one word, claimed by compare-and-swap.
  static std::uint64_t pack(std::size_t lo, std::size_t hi) { return std::uint64_t(lo) | std::uint64_t(hi) << 32; }
  static std::size_t lo(std::uint64_t bounds) { return std::size_t(bounds & 0xffffffffu); }
  static std::size_t hi(std::uint64_t bounds) { return std::size_t(bounds >> 32); }
  template <typename Front>
  bool claim_front(int part, std::size_t& begin, std::size_t& end, const Front& front) {
    std::uint64_t bounds = ranges_[part].bounds.load(std::memory_order_relaxed);
    for (;;) {
      if (lo(bounds) >= hi(bounds)) return false;
      const std::size_t first = lo(bounds), taken = front(first, hi(bounds));
      if (ranges_[part].bounds.compare_exchange_weak(bounds, pack(first + taken, hi(bounds)),
                                                     std::memory_order_acquire)) {
        begin = first, end = first + taken;
        return true;
      }
    }
  }
  struct alignas(64) Range {
    std::atomic<std::uint64_t> bounds;
  };
  int parts_;
  std::unique_ptr<Range[]> ranges_;
};

}  // namespace mpsnn::cpu
