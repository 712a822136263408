// A command queue on the CPU: one worker thread runs committed buffers in order.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/command_buffer_state.hpp"
#include "cpu/backend.hpp"

namespace mpsnn::cpu {

namespace {

// Kept alive by the worker itself, so the queue may be destroyed from any
// thread, the worker included (when a handler drops the last reference).
struct WorkerState {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::shared_ptr<detail::CommandBufferState>> pending;
  bool shutting_down = false;
};

void run_worker(std::shared_ptr<WorkerState> state) {
  for (;;) {
    std::shared_ptr<detail::CommandBufferState> buffer;
    {
      std::unique_lock<std::mutex> lock(state->mutex);
      state->wake.wait(lock, [&] { return state->shutting_down || !state->pending.empty(); });
      if (state->pending.empty()) return;
      buffer = std::move(state->pending.front());
      state->pending.pop_front();
    }
    buffer->mark_scheduled();
    std::exception_ptr error;
    for (auto& command : buffer->take_commands()) {
      try {
        command();
      } catch (...) {
        error = std::current_exception();
        break;
      }
    }
    buffer->finish(error);
  }
}

class CpuQueue final : public detail::QueueImpl {
 public:
  CpuQueue() : state_(std::make_shared<WorkerState>()), worker_(run_worker, state_) {}

  ~CpuQueue() override {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->shutting_down = true;  // the worker drains what is pending, then exits
    }
    state_->wake.notify_all();
    if (worker_.get_id() == std::this_thread::get_id())
      worker_.detach();
    else
      worker_.join();
  }

  void submit(std::shared_ptr<detail::CommandBufferState> buffer) override {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->pending.push_back(std::move(buffer));
    }
    state_->wake.notify_one();
  }

  bool on_queue_thread() const override { return std::this_thread::get_id() == worker_.get_id(); }

 private:
  std::shared_ptr<WorkerState> state_;
  std::thread worker_;
};

}  // namespace

void CpuBackend::encode_host_function(detail::CommandBufferState& buffer,
                                      std::function<void()> function) {
  buffer.add_command(std::move(function));  // the worker already runs on the host
}

std::shared_ptr<detail::QueueImpl> CpuBackend::make_queue(int) {
  return std::make_shared<CpuQueue>();
}

}  // namespace mpsnn::cpu
