// Argument checks shared by every kernel: each throws std::invalid_argument
// whose message starts with the kernel's name and names the argument.
#pragma once

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

// A byte range one argument spans, for the aliasing checks.
struct Extent {
  const char* begin;
  const char* end;
  bool written;
  std::size_t id;  // the caller's, to name the argument
};

// The ids of a pair of extents that overlap where one of them is written, if
// any. Sorted by start, an extent overlaps an earlier one exactly when it
// starts before the furthest end seen so far; tracking that end separately
// for written extents finds every written/any pair in one pass.
inline bool find_written_overlap(std::vector<Extent> extents, std::pair<std::size_t, std::size_t>& ids) {
  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) { return a.begin < b.begin; });
  const Extent* furthest = nullptr;
  const Extent* furthest_written = nullptr;
  for (const Extent& e : extents) {
    const Extent* other = nullptr;
    if (furthest_written && e.begin < furthest_written->end)
      other = furthest_written;
    else if (e.written && furthest && e.begin < furthest->end)
      other = furthest;
    if (other) {
      ids = {e.id, other->id};
      return true;
    }
    if (!furthest || e.end > furthest->end) furthest = &e;
    if (e.written && (!furthest_written || e.end > furthest_written->end)) furthest_written = &e;
  }
  return false;
}

}  // namespace mpsnn::detail
