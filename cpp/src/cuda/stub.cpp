// Compiled when the CUDA backend is not built: the backend exists and says why.
#include "core/backend.hpp"

namespace mpsnn::detail {
std::unique_ptr<Backend> make_cuda_backend() {
  return make_unbuilt_backend(
      "cuda", "not built: this version of mpsnn has no CUDA kernels yet (CPU backend only)");
}
}  // namespace mpsnn::detail
