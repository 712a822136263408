// Command queues and command buffers, as in Metal.
//
// Kernels encode work into a CommandBuffer; encoding only records it and never
// blocks. commit() hands the buffer to its queue, which runs committed buffers
// in commit order, asynchronously (CPU: a worker thread per queue; CUDA: a
// stream). wait_until_completed() blocks until the buffer has run and rethrows
// the first exception a command raised; the queue carries on with later buffers.
//
// Matrices and images encoded into a buffer stay alive until it completes. The
// queue orders work within itself only: work on different queues that touches
// the same memory must be ordered by the caller (wait, or a completed handler).
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "mpsnn/device.hpp"
#include "mpsnn/export.hpp"

namespace mpsnn {

namespace detail {
class QueueImpl;
class CommandBufferState;
}  // namespace detail

// MTLCommandBufferStatus.
enum class CommandBufferStatus { not_enqueued, enqueued, committed, scheduled, completed, error };
MPSNN_API const char* to_string(CommandBufferStatus status);

class CommandBuffer;

class MPSNN_API CommandQueue {
 public:
  explicit CommandQueue(const Device& device);
  const Device& device() const { return device_; }
  CommandBuffer make_command_buffer();

 private:
  Device device_;
  std::shared_ptr<detail::QueueImpl> impl_;
};

// A handle: copies refer to the same buffer.
class MPSNN_API CommandBuffer {
 public:
  using CompletedHandler = std::function<void(CommandBuffer&)>;

  // Starts the encoded work. Throws std::logic_error when already committed.
  void commit();
  // Blocks until the buffer completed; rethrows the error it completed with.
  // Throws std::logic_error when the buffer was never committed, or when called
  // on the thread that runs this queue's work (a completed handler), which
  // would never return.
  void wait_until_completed();
  // Runs handler once the buffer completed or failed, before waiters wake, on
  // the queue's thread. Must be added before commit(); must not throw.
  void add_completed_handler(CompletedHandler handler);

  // Records `function` to run on the host in order with the buffer's other
  // work (CUDA: a host function on the stream). An exception it throws fails
  // the buffer and skips the rest of it.
  void encode_host_function(std::function<void()> function);

  CommandBufferStatus status() const;
  // The error message the buffer completed with; empty when none.
  std::string error() const;
  std::exception_ptr error_exception() const;
  const Device& device() const;

  // For the library's own kernels.
  detail::CommandBufferState& state() const { return *state_; }

 private:
  friend class CommandQueue;
  friend class detail::CommandBufferState;
  explicit CommandBuffer(std::shared_ptr<detail::CommandBufferState> state);
  std::shared_ptr<detail::CommandBufferState> state_;
};

}  // namespace mpsnn
