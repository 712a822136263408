// The CPU backend's threads. Every kernel parallelises through this pool and
// calls the BLAS single-threaded, so that no second pool of spinning threads
// competes for the cores (OpenBLAS's own threads spin long after each call).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>

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

}  // namespace mpsnn::cpu
