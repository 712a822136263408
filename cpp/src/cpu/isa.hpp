// Which vector instruction set the CPU kernels run: the widest the CPU has, or
// a narrower one that MPSNN_CPU_KERNELS names (avx2, generic; other values:
// the widest), so that the tests run every width on one machine.
#pragma once

namespace mpsnn::cpu {

enum class KernelIsa { avx512, avx2, generic };

// Chosen once per process.
KernelIsa kernel_isa();

// A function for x86 builds compiled for one instruction set (the passes and
// GEMM kernels are built once for each and chosen by kernel_isa()).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MPSNN_X86_KERNELS 1
#endif

}  // namespace mpsnn::cpu
