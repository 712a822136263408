#include "cpu/streaming_stores.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/small_gemm.hpp"

#ifdef MPSNN_X86_KERNELS
#include <immintrin.h>
#endif

namespace mpsnn::cpu {

#ifdef MPSNN_X86_KERNELS
namespace {

// How many of `count` floats at `to` lie before its next line boundary.
std::size_t floats_before_line(const float* to, std::size_t count) {
  return std::min(count, (64 - reinterpret_cast<std::uintptr_t>(to) % 64) % 64 / sizeof(float));
}

// Lines wholly inside [to, to + count) by streaming stores, the partial first
// and last by masked ordinary ones.
__attribute__((target("avx512f"))) void stream_avx512(const float* from, std::size_t count, float* to) {
  const std::size_t head = floats_before_line(to, count);
  if (head) {
    const __mmask16 lanes = __mmask16((1u << head) - 1);
    _mm512_mask_storeu_ps(to, lanes, _mm512_maskz_loadu_ps(lanes, from));
  }
  std::size_t j = head;
  for (; j + kLineFloats <= count; j += kLineFloats) _mm512_stream_ps(to + j, _mm512_loadu_ps(from + j));
  if (j < count) {
    const __mmask16 tail = __mmask16((1u << (count - j)) - 1);
    _mm512_mask_storeu_ps(to + j, tail, _mm512_maskz_loadu_ps(tail, from + j));
  }
}

// The same with 32-byte streaming stores, two to a line, and plain copies of
// the partial first and last lines.
__attribute__((target("avx2"))) void stream_avx2(const float* from, std::size_t count, float* to) {
  const std::size_t head = floats_before_line(to, count);
  std::memcpy(to, from, head * sizeof(float));
  std::size_t j = head;
  for (; j + kLineFloats <= count; j += kLineFloats) {
    _mm256_stream_ps(to + j, _mm256_loadu_ps(from + j));
    _mm256_stream_ps(to + j + 8, _mm256_loadu_ps(from + j + 8));
  }
  std::memcpy(to + j, from + j, (count - j) * sizeof(float));
}

}  // namespace

__attribute__((target("avx512f"))) void stream_group_rows(const float* from, std::size_t ld, std::size_t rows,
                                                         float* to) {
  for (std::size_t r = 0; r < rows; ++r) _mm512_stream_ps(to + r * kPanelWidth, _mm512_loadu_ps(from + r * ld));
}
#endif

void stream_floats(const float* from, std::size_t count, float* to) {
#ifdef MPSNN_X86_KERNELS
  if (reinterpret_cast<std::uintptr_t>(to) % sizeof(float) == 0) {
    if (kernel_isa() == KernelIsa::avx512) return stream_avx512(from, count, to);
    if (kernel_isa() == KernelIsa::avx2) return stream_avx2(from, count, to);
  }
#endif
  std::memcpy(to, from, count * sizeof(float));
}

void fence_streams() {
#ifdef MPSNN_X86_KERNELS
  _mm_sfence();
#endif
}

}  // namespace mpsnn::cpu
