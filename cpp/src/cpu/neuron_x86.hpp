// PortableActivations (neuron.hpp) written with x86 intrinsics, for the passes
// built for AVX-512 and AVX2. The same Cephes polynomial as exp_approx, so the
// same accuracy (a few ulp), and NaN in, NaN out; but no NaN guard around the
// integer conversion of 2^n (the vector conversion is defined for NaN, and a
// NaN x makes a NaN polynomial anyway), 1/d by a reciprocal estimate and
// Newton steps (two on AVX2, whose estimate has 12 bits) instead of a divide,
// and on AVX-512 2^n by vscalefps.
#pragma once

#include "cpu/isa.hpp"

#ifdef MPSNN_X86_KERNELS
#include <immintrin.h>

#include <cstddef>

MPSNN_BEGIN_VECTOR_CODE

namespace mpsnn::cpu {

#define MPSNN_TARGET_INLINE(isa) static inline __attribute__((always_inline, target(isa)))
#define MPSNN_LAMBDA(isa) __attribute__((always_inline, target(isa)))

// A vector type's operations: masks for the first n lanes, e^x's last step
// (p · 2^n), and an estimate of 1/d.
struct Avx512Ops {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr std::size_t width = 16;
  MPSNN_TARGET_INLINE("avx512f") Mask first(std::size_t n) { return Mask((1u << n) - 1); }  // n < 16
  MPSNN_TARGET_INLINE("avx512f") V load(const float* p) { return _mm512_loadu_ps(p); }
  MPSNN_TARGET_INLINE("avx512f") void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  MPSNN_TARGET_INLINE("avx512f") V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  MPSNN_TARGET_INLINE("avx512f") void store(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  MPSNN_TARGET_INLINE("avx512f") V set(float x) { return _mm512_set1_ps(x); }
  MPSNN_TARGET_INLINE("avx512f") V add(V a, V b) { return _mm512_add_ps(a, b); }
  MPSNN_TARGET_INLINE("avx512f") V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  MPSNN_TARGET_INLINE("avx512f") V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  MPSNN_TARGET_INLINE("avx512f") V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  MPSNN_TARGET_INLINE("avx512f") V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  MPSNN_TARGET_INLINE("avx512f") V min(V a, V b) { return _mm512_min_ps(a, b); }
  MPSNN_TARGET_INLINE("avx512f") V max(V a, V b) { return _mm512_max_ps(a, b); }
  MPSNN_TARGET_INLINE("avx512f") V round(V x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  MPSNN_TARGET_INLINE("avx512f") V scale(V p, V n) { return _mm512_scalef_ps(p, n); }
  MPSNN_TARGET_INLINE("avx512f") V reciprocal_estimate(V d) { return _mm512_rcp14_ps(d); }  // 2^-14
};

struct Avx2Ops {
  using V = __m256;
  using Mask = __m256i;
  static constexpr std::size_t width = 8;
  MPSNN_TARGET_INLINE("avx2,fma") Mask first(std::size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));  // n < 8
  }
  MPSNN_TARGET_INLINE("avx2,fma") V load(const float* p) { return _mm256_loadu_ps(p); }
  MPSNN_TARGET_INLINE("avx2,fma") void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  MPSNN_TARGET_INLINE("avx2,fma") V load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  MPSNN_TARGET_INLINE("avx2,fma") void store(float* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
  MPSNN_TARGET_INLINE("avx2,fma") V set(float x) { return _mm256_set1_ps(x); }
  MPSNN_TARGET_INLINE("avx2,fma") V add(V a, V b) { return _mm256_add_ps(a, b); }
  MPSNN_TARGET_INLINE("avx2,fma") V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  MPSNN_TARGET_INLINE("avx2,fma") V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  MPSNN_TARGET_INLINE("avx2,fma") V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  MPSNN_TARGET_INLINE("avx2,fma") V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  MPSNN_TARGET_INLINE("avx2,fma") V min(V a, V b) { return _mm256_min_ps(a, b); }
  MPSNN_TARGET_INLINE("avx2,fma") V max(V a, V b) { return _mm256_max_ps(a, b); }
  MPSNN_TARGET_INLINE("avx2,fma") V round(V x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // n in [-126, 127] (exp clamps x): 2^n from its exponent bits.
  MPSNN_TARGET_INLINE("avx2,fma") V scale(V p, V n) {
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  }
  // 1.5 · 2^-12, so two Newton steps: with one, sigmoid(0) read 0.49999997,
  // saturated gates 0.99999994 rather than 1 (a saturated forget gate shrank
  // c by 6e-8 a step) and results ran low twice as often as high. 0 for d past
  // 2^126 (and the Newton steps keep it 0: sigmoid 0 below -87).
  MPSNN_TARGET_INLINE("avx2,fma") V reciprocal_estimate(V d) {
    const V r = _mm256_rcp_ps(d);
    return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r);
  }
};

// The activations' array functions over Ops, built for `isa`. Not always
// inlined: activate<> and evaluate<>, which call them, have no target.
#define MPSNN_VECTOR_ACTIVATIONS(Name, Ops, isa)                                                                  \
  struct Name {                                                                                                  \
    using V = Ops::V;                                                                                            \
    MPSNN_TARGET_INLINE(isa) V exp(V x) {                                                                        \
      x = Ops::min(Ops::set(88.3762626647949f), x); /* a NaN x stays: min and max return their second operand */ \
      x = Ops::max(Ops::set(-87.3365447504f), x);                                                                \
      const V n = Ops::round(Ops::mul(x, Ops::set(1.44269504088896341f)));                                       \
      V r = Ops::fnmadd(n, Ops::set(0.693359375f), x);                                                           \
      r = Ops::fnmadd(n, Ops::set(-2.12194440e-4f), r);                                                          \
      V p = Ops::set(1.9875691500e-4f);                                                                          \
      p = Ops::fmadd(p, r, Ops::set(1.3981999507e-3f));                                                          \
      p = Ops::fmadd(p, r, Ops::set(8.3334519073e-3f));                                                          \
      p = Ops::fmadd(p, r, Ops::set(4.1665795894e-2f));                                                          \
      p = Ops::fmadd(p, r, Ops::set(1.6666665459e-1f));                                                          \
      p = Ops::fmadd(p, r, Ops::set(5.0000001201e-1f));                                                          \
      p = Ops::fmadd(Ops::mul(p, r), r, Ops::add(r, Ops::set(1.0f)));                                            \
      return Ops::scale(p, n);                                                                                   \
    }                                                                                                            \
    /* f(i, load, store) over whole vectors, then the tail with masked loads and stores (not masked */          \
    /* on every vector: AMD runs AVX2's vmaskmovps store microcoded, and the passes ran ~3x slower) */          \
    template <typename F>                                                                                        \
    MPSNN_TARGET_INLINE(isa) void for_vectors(std::size_t count, F f) {                                          \
      std::size_t i = 0;                                                                                         \
      for (; i + Ops::width <= count; i += Ops::width)                                                           \
        f(i, [](const float* p) MPSNN_LAMBDA(isa) { return Ops::load(p); },                                      \
          [](float* p, V v) MPSNN_LAMBDA(isa) { Ops::store(p, v); });                                            \
      if (i == count) return;                                                                                    \
      const Ops::Mask m = Ops::first(count - i);                                                                 \
      f(i, [m](const float* p) MPSNN_LAMBDA(isa) { return Ops::load(p, m); },                                    \
        [m](float* p, V v) MPSNN_LAMBDA(isa) { Ops::store(p, m, v); });                                          \
    }                                                                                                            \
    /* 1/d for d in [1, 2^128): the estimate and a Newton step. d stays finite: exp's clamp keeps */           \
    /* n <= 127 (88.376... · log2 e rounds to 127.49999), and 1/inf would make inf · 0 = NaN here */            \
    MPSNN_TARGET_INLINE(isa) V reciprocal(V d) {                                                                 \
      const V r = Ops::reciprocal_estimate(d);                                                                   \
      return Ops::fmadd(r, Ops::fnmadd(d, r, Ops::set(1.0f)), r);                                                \
    }                                                                                                            \
    /* One vector's sigmoid, and its a·tanh(b·x) = a - 2a / (e^(2b·x) + 1) given a, 2a and 2b: the array */     \
    /* functions below, and the LSTM passes that fuse several activations a vector at a time */                  \
    MPSNN_TARGET_INLINE(isa) V sigmoid_of(V x) {                                                                 \
      return reciprocal(Ops::add(exp(Ops::sub(Ops::set(0.0f), x)), Ops::set(1.0f)));                             \
    }                                                                                                            \
    MPSNN_TARGET_INLINE(isa) V tanh_of(V x, V a, V a2, V b2) {                                                   \
      return Ops::fnmadd(a2, reciprocal(Ops::add(exp(Ops::mul(b2, x)), Ops::set(1.0f))), a);                     \
    }                                                                                                            \
    static inline __attribute__((target(isa))) void sigmoid(float* p, std::size_t count) {                      \
      for_vectors(count, [&](std::size_t i, auto load, auto store) MPSNN_LAMBDA(isa) {                           \
        store(p + i, sigmoid_of(load(p + i)));                                                                   \
      });                                                                                                        \
    }                                                                                                            \
    static inline __attribute__((target(isa))) void tanh(float* p, std::size_t count, float a, float b) {        \
      const V va = Ops::set(a), va2 = Ops::set(2.0f * a), vb2 = Ops::set(2.0f * b);                              \
      for_vectors(count, [&](std::size_t i, auto load, auto store) MPSNN_LAMBDA(isa) {                           \
        store(p + i, tanh_of(load(p + i), va, va2, vb2));                                                        \
      });                                                                                                        \
    }                                                                                                            \
    static inline __attribute__((target(isa))) void tanh_and_slope(const float* x, float* value, float* slope,   \
                                                                   std::size_t count, float a, float b) {        \
      const V one = Ops::set(1.0f), two = Ops::set(2.0f), va = Ops::set(a), vab = Ops::set(a * b);               \
      const V vb2 = Ops::set(2.0f * b);                                                                          \
      for_vectors(count, [&](std::size_t i, auto load, auto store) MPSNN_LAMBDA(isa) {                           \
        const V t = tanh_of(load(x + i), one, two, vb2);                                                         \
        store(value + i, Ops::mul(va, t));                                                                       \
        store(slope + i, Ops::mul(vab, Ops::fnmadd(t, t, one)));                                                 \
      });                                                                                                        \
    }                                                                                                            \
  };

MPSNN_VECTOR_ACTIVATIONS(Avx512Activations, Avx512Ops, "avx512f")
MPSNN_VECTOR_ACTIVATIONS(Avx2Activations, Avx2Ops, "avx2,fma")

#undef MPSNN_VECTOR_ACTIVATIONS
#undef MPSNN_TARGET_INLINE
#undef MPSNN_LAMBDA

}  // namespace mpsnn::cpu

MPSNN_END_VECTOR_CODE
#endif
