// Which vector instruction set the CPU kernels run: the widest the CPU has, or
// a narrower one that MPSNN_CPU_KERNELS names (avx2, generic; other values:
// the widest), so that the tests run every width on one machine.
#pragma once

namespace mpsnn::cpu {

enum class KernelIsa { avx512, avx2, generic };

// Chosen once per process.
KernelIsa kernel_isa();

// Set where the kernels are built once per x86 instruction set (GCC or Clang
// target attributes and intrinsics); elsewhere only the generic build exists.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MPSNN_X86_KERNELS 1
#endif

}  // namespace mpsnn::cpu
