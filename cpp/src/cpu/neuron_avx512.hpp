// PortableActivations (neuron.hpp) written with AVX-512 intrinsics, for the
// passes built for AVX-512: 2^n by vscalefps instead of exponent-bit
// arithmetic (which needs a NaN guard around an integer conversion), and
// 1/d by vrcp14ps with one Newton step instead of a divide. The same Cephes
// polynomial, so the same accuracy (a few ulp); NaN in, NaN out.
#pragma once

#include "cpu/isa.hpp"

#ifdef MPSNN_X86_KERNELS
#include <immintrin.h>

#include <cstddef>

#define MPSNN_AVX512_INLINE inline __attribute__((always_inline, target("avx512f")))
// Called from templates without a target of their own: not always_inline.
#define MPSNN_AVX512 inline __attribute__((target("avx512f")))

namespace mpsnn::cpu {

struct Avx512Activations {
  MPSNN_AVX512_INLINE static __m512 exp(__m512 x) {
    // Clamped to where e^x is a normal float; min/max keep a NaN (second operand).
    x = _mm512_min_ps(_mm512_set1_ps(88.3762626647949f), x);
    x = _mm512_max_ps(_mm512_set1_ps(-87.3365447504f), x);
    const __m512 n =
        _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
  }
  // 1/d for d in [1, 2^128): vrcp14ps (2^-14) and a Newton step.
  MPSNN_AVX512_INLINE static __m512 reciprocal(__m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
  }
  // f over [0, count) in vectors of 16, the tail masked.
  template <typename F>
  MPSNN_AVX512_INLINE static void for_vectors(std::size_t count, F f) {
    std::size_t i = 0;
    for (; i + 16 <= count; i += 16) f(i, __mmask16(0xFFFF));
    if (i < count) f(i, __mmask16((1u << (count - i)) - 1));
  }

  MPSNN_AVX512 static void sigmoid(float* p, std::size_t count) {
    for_vectors(count, [&](std::size_t i, __mmask16 m) __attribute__((always_inline, target("avx512f"))) {
      const __m512 x = _mm512_maskz_loadu_ps(m, p + i);
      const __m512 e = exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
      _mm512_mask_storeu_ps(p + i, m, reciprocal(_mm512_add_ps(e, _mm512_set1_ps(1.0f))));
    });
  }
  MPSNN_AVX512 static void tanh(float* p, std::size_t count, float a, float b) {
    const __m512 va = _mm512_set1_ps(a), va2 = _mm512_set1_ps(2.0f * a), vb2 = _mm512_set1_ps(2.0f * b);
    for_vectors(count, [&](std::size_t i, __mmask16 m) __attribute__((always_inline, target("avx512f"))) {
      const __m512 e = exp(_mm512_mul_ps(vb2, _mm512_maskz_loadu_ps(m, p + i)));
      const __m512 q = reciprocal(_mm512_add_ps(e, _mm512_set1_ps(1.0f)));
      _mm512_mask_storeu_ps(p + i, m, _mm512_fnmadd_ps(va2, q, va));
    });
  }
  MPSNN_AVX512 static void tanh_and_slope(const float* x, float* value, float* slope, std::size_t count,
                                                  float a, float b) {
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    const __m512 va = _mm512_set1_ps(a), vab = _mm512_set1_ps(a * b), vb2 = _mm512_set1_ps(2.0f * b);
    for_vectors(count, [&](std::size_t i, __mmask16 m) __attribute__((always_inline, target("avx512f"))) {
      const __m512 e = exp(_mm512_mul_ps(vb2, _mm512_maskz_loadu_ps(m, x + i)));
      const __m512 t = _mm512_fnmadd_ps(two, reciprocal(_mm512_add_ps(e, one)), one);
      _mm512_mask_storeu_ps(value + i, m, _mm512_mul_ps(va, t));
      _mm512_mask_storeu_ps(slope + i, m, _mm512_mul_ps(vab, _mm512_fnmadd_ps(t, t, one)));
    });
  }
};

}  // namespace mpsnn::cpu

#undef MPSNN_AVX512_INLINE
#undef MPSNN_AVX512
#endif
