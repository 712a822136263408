// Compiled when the Metal backend is not built: the backend exists and says why.
#include "core/backend.hpp"

namespace mpsnn::detail {
std::unique_ptr<Backend> make_metal_backend() {
#if defined(__APPLE__)
  return make_unbuilt_backend("metal", "not built: this version of mpsnn has no Metal kernels yet");
#else
  return make_unbuilt_backend("metal", "not built: Metal needs macOS or iOS");
#endif
}
}  // namespace mpsnn::detail
