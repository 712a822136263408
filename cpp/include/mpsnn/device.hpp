// Devices and the backends behind them.
//
// A Device names one processor of one backend ("cpu", "cuda:1"). It is a small
// value: copies compare equal and refer to the same processor. Which backends a
// build contains, and why any of them is unusable here, is what backends() says.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mpsnn/export.hpp"

namespace mpsnn {

namespace detail {
class Backend;
}

struct BackendInfo {
  std::string name;      // "cpu", "cuda", "metal"
  bool built = false;    // compiled into this library
  bool available = false;// usable on this machine now
  int device_count = 0;  // devices usable now (0 when not available)
  std::string reason;    // why not available ("not built: ...", "no GPU"); empty when available
};

// Every backend this library knows, in order of preference (best first).
MPSNN_API std::vector<BackendInfo> backends();

class MPSNN_API Device {
 public:
  // spec: "cpu", "cuda", "cuda:N", "metal". Throws std::invalid_argument for a
  // malformed spec and std::runtime_error, carrying the backend's reason, for a
  // backend or index not usable here.
  explicit Device(std::string_view spec);

  // The best available device: CUDA, then Metal, then the CPU.
  static Device default_device();

  std::string backend_name() const;  // "cpu", "cuda", "metal"
  int index() const { return index_; }
  std::string name() const;         // "cpu", "cuda:0"
  std::string description() const; // e.g. the CPU model or GPU name

  bool operator==(const Device& other) const {
    return backend_ == other.backend_ && index_ == other.index_;
  }
  bool operator!=(const Device& other) const { return !(*this == other); }

  // For the library's own kernels.
  detail::Backend& backend() const { return *backend_; }

 private:
  detail::Backend* backend_;
  int index_;
};

}  // namespace mpsnn
