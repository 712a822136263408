#include <stdexcept>
#include <string>
#include <utility>

#include "core/command_buffer_state.hpp"

namespace mpsnn {

const char* to_string(CommandBufferStatus status) {
  switch (status) {
    case CommandBufferStatus::not_enqueued: return "not_enqueued";
    case CommandBufferStatus::enqueued: return "enqueued";
    case CommandBufferStatus::committed: return "committed";
    case CommandBufferStatus::scheduled: return "scheduled";
    case CommandBufferStatus::completed: return "completed";
    case CommandBufferStatus::error: return "error";
  }
  return "unknown";
}

namespace detail {

CommandBufferState::CommandBufferState(Device device, std::shared_ptr<QueueImpl> queue)
    : device_(std::move(device)), queue_(std::move(queue)) {}

void CommandBufferState::require_not_committed(const char* action) const {
  if (status_ != CommandBufferStatus::not_enqueued)
    throw std::logic_error(std::string("[command_buffer] cannot ") + action +
                           ": the command buffer was already committed (status " +
                           to_string(status_) + "); make a new one from the queue");
}

void CommandBufferState::add_command(Command command) {
  std::lock_guard<std::mutex> lock(mutex_);
  require_not_committed("encode");
  commands_.push_back(std::move(command));
}

void CommandBufferState::add_completed_handler(CommandBuffer::CompletedHandler handler) {
  if (!handler) throw std::invalid_argument("[command_buffer] handler is empty");
  std::lock_guard<std::mutex> lock(mutex_);
  require_not_committed("add a completed handler");
  handlers_.push_back(std::move(handler));
}

void CommandBufferState::commit() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    require_not_committed("commit");
    status_ = CommandBufferStatus::committed;
  }
  queue_->submit(shared_from_this());
}

void CommandBufferState::wait_until_completed() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (status_ == CommandBufferStatus::not_enqueued)
    throw std::logic_error(
        "[command_buffer] wait_until_completed() on a command buffer that was never committed; "
        "call commit() first");
  if (!finished_ && queue_->on_queue_thread())
    throw std::logic_error(
        "[command_buffer] wait_until_completed() from a completed handler of the same queue "
        "would never return");
  finished_cv_.wait(lock, [this] { return finished_; });
  if (error_) std::rethrow_exception(error_);
}

CommandBufferStatus CommandBufferState::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

std::exception_ptr CommandBufferState::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

std::vector<Command> CommandBufferState::take_commands() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::move(commands_);
}

void CommandBufferState::mark_scheduled() {
  std::lock_guard<std::mutex> lock(mutex_);
  status_ = CommandBufferStatus::scheduled;
}

void CommandBufferState::finish(std::exception_ptr error) {
  std::vector<CommandBuffer::CompletedHandler> handlers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = error;
    status_ = error ? CommandBufferStatus::error : CommandBufferStatus::completed;
    handlers = std::move(handlers_);
  }
  CommandBuffer self(shared_from_this());
  for (auto& handler : handlers) {
    try {
      handler(self);
    } catch (...) {
      // A handler must not throw; one that does cannot stop the queue.
    }
  }
  handlers.clear();  // release captured state before waiters resume
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  finished_cv_.notify_all();
}

}  // namespace detail

CommandBuffer::CommandBuffer(std::shared_ptr<detail::CommandBufferState> state)
    : state_(std::move(state)) {}

void CommandBuffer::commit() { state_->commit(); }
void CommandBuffer::wait_until_completed() { state_->wait_until_completed(); }
void CommandBuffer::add_completed_handler(CompletedHandler handler) {
  state_->add_completed_handler(std::move(handler));
}
void CommandBuffer::encode_host_function(std::function<void()> function) {
  if (!function) throw std::invalid_argument("[command_buffer] function is empty");
  device().backend().encode_host_function(*state_, std::move(function));
}
CommandBufferStatus CommandBuffer::status() const { return state_->status(); }
std::exception_ptr CommandBuffer::error_exception() const { return state_->error(); }
const Device& CommandBuffer::device() const { return state_->device(); }

std::string CommandBuffer::error() const {
  auto error = state_->error();
  if (!error) return {};
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

CommandQueue::CommandQueue(const Device& device)
    : device_(device), impl_(device.backend().make_queue(device.index())) {}

CommandBuffer CommandQueue::make_command_buffer() {
  return CommandBuffer(std::make_shared<detail::CommandBufferState>(device_, impl_));
}

}  // namespace mpsnn
