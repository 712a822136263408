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

// Around code with vectors of several instruction sets. GCC warns that passing
// them by value outside a function of their set would change the ABI (the
// helpers are always inlined into one), and GCC 12's intrinsics headers warn
// of maybe-uninitialized vectors (their undefined-vector idiom): both without
// cause here. The second warning is GCC's alone.
#ifdef __clang__
#define MPSNN_BEGIN_VECTOR_CODE _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wpsabi\"")
#else
#define MPSNN_BEGIN_VECTOR_CODE                                                 \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wpsabi\"") \
      _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#endif
#define MPSNN_END_VECTOR_CODE _Pragma("GCC diagnostic pop")

}  // namespace mpsnn::cpu
