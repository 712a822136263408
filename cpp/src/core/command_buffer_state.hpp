// The state behind a CommandBuffer handle, shared by every backend's queue.
#pragma once

#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "core/backend.hpp"
#include "mpsnn/command.hpp"

namespace mpsnn::detail {

class CommandBufferState : public std::enable_shared_from_this<CommandBufferState> {
 public:
  CommandBufferState(Device device, std::shared_ptr<QueueImpl> queue);

  const Device& device() const { return device_; }
  QueueImpl& queue() const { return *queue_; }

  // Encoding side (the user's thread).
  void add_command(Command command);
  void add_completed_handler(CommandBuffer::CompletedHandler handler);
  void commit();
  void wait_until_completed();
  CommandBufferStatus status() const;
  std::exception_ptr error() const;

  // Queue side.
  std::vector<Command> take_commands();
  void mark_scheduled();
  // Sets the final status, runs the completed handlers, then wakes waiters.
  void finish(std::exception_ptr error);

 private:
  void require_not_committed(const char* action) const;  // caller holds mutex_

  Device device_;
  std::shared_ptr<QueueImpl> queue_;
  mutable std::mutex mutex_;
  std::condition_variable finished_cv_;
  CommandBufferStatus status_ = CommandBufferStatus::not_enqueued;
  bool finished_ = false;
  std::exception_ptr error_;
  std::vector<Command> commands_;
  std::vector<CommandBuffer::CompletedHandler> handlers_;
};

}  // namespace mpsnn::detail
