#include "cpu/isa.hpp"

#include <cstdlib>
#include <string>

namespace mpsnn::cpu {

namespace {

KernelIsa choose() {
  const char* asked = std::getenv("MPSNN_CPU_KERNELS");
  const std::string cap = asked ? asked : "";
#ifdef MPSNN_X86_KERNELS
  __builtin_cpu_init();
  if (cap != "avx2" && cap != "generic" && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
    return KernelIsa::avx512;
  if (cap != "generic" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return KernelIsa::avx2;
#endif
  return KernelIsa::generic;
}

}  // namespace

KernelIsa kernel_isa() {
  static const KernelIsa chosen = choose();
  return chosen;
}

}  // namespace mpsnn::cpu
