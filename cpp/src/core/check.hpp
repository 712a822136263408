// Argument checks shared by every kernel: each throws std::invalid_argument
// whose message starts with the kernel's name and names the argument.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "mpsnn/command.hpp"
#include "mpsnn/device.hpp"
#include "mpsnn/types.hpp"

namespace mpsnn::detail {

template <typename... Parts>
[[noreturn]] void fail_argument(const char* kernel, const Parts&... parts) {
  std::ostringstream message;
  message << "[" << kernel << "] ";
  (message << ... << parts);
  throw std::invalid_argument(message.str());
}

inline void check_same_device(const char* kernel, const char* what, const Device& actual,
                              const Device& expected) {
  if (actual != expected)
    fail_argument(kernel, what, " is on ", actual.name(), " but the kernel is on ",
                  expected.name());
}

inline void check_command_buffer(const char* kernel, const CommandBuffer& buffer,
                                 const Device& expected) {
  check_same_device(kernel, "command_buffer", buffer.device(), expected);
  if (buffer.status() != CommandBufferStatus::not_enqueued)
    fail_argument(kernel, "command_buffer was already committed; encode into a new one");
}

inline void check_data_type(const char* kernel, const char* what, DataType actual,
                            DataType expected) {
  if (actual != expected)
    fail_argument(kernel, what, " has data type ", to_string(actual), "; expected ",
                  to_string(expected));
}

}  // namespace mpsnn::detail
