#include "cpu/small_gemm.hpp"

#include "cpu/isa.hpp"
#include "cpu/streaming_stores.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#ifdef MPSNN_X86_KERNELS
#include <immintrin.h>
#endif

namespace mpsnn::cpu {

namespace {

// A panel's row as the instruction set's vectors: 1 of 16 floats (AVX-512), 2
// of 8 (AVX2), 4 of 4 (SSE, NEON). GCC split one 16-float vector type into
// narrower registers through the stack: the AVX2 and generic kernels ran at
// 1-3 FLOP a cycle, 15x slower than AVX-512.
typedef float v16 __attribute__((vector_size(64), aligned(4)));  // unaligned access
typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef float v4 __attribute__((vector_size(16), aligned(4)));
template <typename V>
constexpr int kVectors = int(kPanelWidth * sizeof(float) / sizeof(V));  // vectors a panel row

// Always inlined: the instruction set of the kernel function it lands in applies.
#define MPSNN_INLINE inline __attribute__((always_inline))

MPSNN_BEGIN_VECTOR_CODE

// One vector at a time: an array of them whose address is taken stays on the stack.
template <typename V>
MPSNN_INLINE V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
MPSNN_INLINE void store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

// K is walked in blocks so that one block of transposed rows (16 x kKBlock
// floats) stays in L2. Shorter blocks cost more than they save: each one
// reloads and stores the accumulators (k = 1024 at 16 rows: 80 GFLOP/s with
// blocks of 64, 96 with 256, 110 with 1024).
constexpr std::size_t kKBlock = 4096;

// Up to this many rows, the kernel reads A where it lies (a stream a row)
// rather than transposed: at B = 4 the transposition took ~4.5% of a step.
constexpr int kDirectRows = 4;

// Where the kernel's C lies: rows `ldc` floats apart, or rows anywhere
// (gemm_tn writes each gate's rows into the caller's gradient arrays).
struct StridedC {
  float* c;
  std::size_t ldc;
  float* row(std::size_t r) const { return c + r * ldc; }
  StridedC at(std::size_t r, std::size_t j) const { return {c + r * ldc + j, ldc}; }
};
struct RowsC {
  float* const* rows;
  std::size_t j;
  float* row(std::size_t r) const { return rows[r] + j; }
  RowsC at(std::size_t r, std::size_t j) const { return {rows + r, this->j + j}; }
};

// Where the kernel's A lies: transposed, a block of R rows as [k][R] (one
// stream, whatever R), or as it is, rows `lda` floats apart (R streams).
struct TransposedA {
  const float* at;
  float get(std::size_t kk, int r, int rows) const { return at[kk * rows + r]; }
};
struct DirectA {
  const float* a;
  std::size_t lda;
  float get(std::size_t kk, int r, int) const { return a[r * lda + kk]; }
};

// `rows` rows in blocks of at most `most`, as even as possible: with AVX2's 6,
// 8 rows as 4 + 4, not 6 + 2, whose block of 2 rows cannot cover the FMA
// latency (8 rows: 29-32 against 42-44 FLOP a TSC cycle with AVX-512's one
// block). A transposed A is laid out block by block, so the transposition and
// the kernel both block with this.
struct RowBlocks {
  std::size_t count, base, extra;
  RowBlocks(std::size_t rows, std::size_t most)
      : count((rows + most - 1) / most), base(count ? rows / count : 0), extra(count ? rows % count : 0) {}
  std::size_t start(std::size_t b) const { return b * base + std::min(b, extra); }
  std::size_t size(std::size_t b) const { return base + (b < extra); }
};

// R rows of one panel over k steps, against one sequential stream of the panel:
// R·L accumulator vectors live in registers for the whole k loop.
template <int R, typename V, typename A, typename C>
MPSNN_INLINE void panel_rows(std::size_t k, const A& at, const float* panel, const C& c, std::size_t width,
                             bool accumulate) {
  constexpr int L = kVectors<V>, lanes = kPanelWidth / L;
  V acc[R][L];
  for (int r = 0; r < R; ++r) {
    for (int l = 0; l < L; ++l)
      acc[r][l] = accumulate && width == kPanelWidth ? load<V>(c.row(r) + l * lanes) : V{};
    if (accumulate && width < kPanelWidth)
      for (std::size_t j = 0; j < width; ++j) acc[r][j / lanes][j % lanes] = c.row(r)[j];
  }
  for (std::size_t kk = 0; kk < k; ++kk) {
    __builtin_prefetch(panel + (kk + 16) * kPanelWidth);
    // The next panel's tile of C, which its accumulators start from.
    if (kk < std::size_t(R)) __builtin_prefetch(c.row(kk) + kPanelWidth, 1);
    V p[L];
    for (int l = 0; l < L; ++l) p[l] = load<V>(panel + kk * kPanelWidth + l * lanes);
    for (int r = 0; r < R; ++r) {
      const float x = at.get(kk, r, R);
      for (int l = 0; l < L; ++l) acc[r][l] += x * p[l];
    }
  }
  for (int r = 0; r < R; ++r) {
    if (width == kPanelWidth)
      for (int l = 0; l < L; ++l) store(c.row(r) + l * lanes, acc[r][l]);
    else
      for (std::size_t j = 0; j < width; ++j) c.row(r)[j] = acc[r][j / lanes][j % lanes];
  }
}

// R rows (fewer than kGroupedRows) of P adjacent full panels, `panel_floats`
// apart: one panel's R chains of FMAs cannot hide their latency, and each
// panel row loaded serves only R FMAs; P panels make R·P chains and share each
// element of A. k = 256, 512 columns, Zen 4, FLOP a TSC cycle (best of 3000):
// AVX-512 1 row 10 -> 14, 2 rows 20 -> 33, 3 rows 15 -> 30, 4 rows 39.4-40.9
// -> 43.1-43.8 (k = 128: 39.5 -> 43.4), 5-7 rows 41.6-42.9 -> 43.1-44.1,
// 8 rows 43.5 -> 43.7-44.1.
template <int R, int P, typename V, typename A, typename C>
MPSNN_INLINE void panel_group_rows(std::size_t k, const A& at, const float* panel, std::size_t panel_floats,
                                   const C& c, bool accumulate) {
  constexpr int L = kVectors<V>, lanes = kPanelWidth / L;
  V acc[R][P][L];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < P; ++q)
      for (int l = 0; l < L; ++l) acc[r][q][l] = accumulate ? load<V>(c.row(r) + q * kPanelWidth + l * lanes) : V{};
  for (std::size_t kk = 0; kk < k; ++kk) {
    float x[R];
    for (int r = 0; r < R; ++r) x[r] = at.get(kk, r, R);
    for (int q = 0; q < P; ++q) {
      V p[L];
      for (int l = 0; l < L; ++l) p[l] = load<V>(panel + q * panel_floats + kk * kPanelWidth + l * lanes);
      for (int r = 0; r < R; ++r)
        for (int l = 0; l < L; ++l) acc[r][q][l] += x[r] * p[l];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < P; ++q)
      for (int l = 0; l < L; ++l) store(c.row(r) + q * kPanelWidth + l * lanes, acc[r][q][l]);
}

// How many panels panel_group_rows takes together for `rows` rows (1: one at
// a time), with room for `accumulators` panels' accumulators, each `vectors`
// registers, and beside them the rows' broadcasts and a panel row: 32
// registers with AVX-512, 16 otherwise (AVX2, 3 rows, 2 panels: two
// accumulators spilled and the product ran at 19 FLOP a cycle against 33 one
// panel at a time).
constexpr std::size_t kGroupedRows = 9;
constexpr std::size_t group_panels(std::size_t rows, std::size_t accumulators, std::size_t vectors) {
  const std::size_t registers = vectors == 1 ? 32 : 16;
  if (rows == 0 || rows >= kGroupedRows) return 1;
  return std::max<std::size_t>(
      1, std::min({std::size_t(8), accumulators / rows, (registers - rows - vectors) / (rows * vectors)}));
}

// at[kk * rows + r] = a[r * lda + kk]: `rows` rows of A as [k][rows].
MPSNN_INLINE void transpose_rows(const float* a, std::size_t lda, std::size_t rows, std::size_t k, float* at) {
  for (std::size_t kk = 0; kk < k; ++kk)
    for (std::size_t r = 0; r < rows; ++r) at[kk * rows + r] = a[r * lda + kk];
}

#ifdef MPSNN_X86_KERNELS
// Transposes 16 rows of 16 floats in registers: v[i] becomes column i.
__attribute__((target("avx512f,avx512vl,fma"))) MPSNN_INLINE void transpose16x16(__m512 v[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i]), _mm512_castps_pd(t[4 * i + 2])));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i]), _mm512_castps_pd(t[4 * i + 2])));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
  }
  // u[4i + m], 128-bit lane L: rows 4i..4i+3 of column 4L + m. Gather the lanes.
  for (int m = 0; m < 4; ++m) {
    t[m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88);
    t[4 + m] = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xdd);
    t[8 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88);
    t[12 + m] = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xdd);
  }
  for (int m = 0; m < 4; ++m) {
    v[m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0x88);
    v[8 + m] = _mm512_shuffle_f32x4(t[m], t[8 + m], 0xdd);
    v[4 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0x88);
    v[12 + m] = _mm512_shuffle_f32x4(t[4 + m], t[12 + m], 0xdd);
  }
}

// transpose_rows for up to 16 rows, 16 columns of A at a time: 5x faster than
// element by element, which cost 8% of a recurrent step at 16 rows, k = 128.
// `Stream`: 16 rows to 64-byte aligned memory, by streaming stores.
template <bool Stream>
__attribute__((target("avx512f,avx512vl,fma"))) MPSNN_INLINE void transpose_tiles_avx512(const float* a,
                                                                                        std::size_t lda,
                                                                                        std::size_t rows,
                                                                                        std::size_t k, float* at) {
  const __mmask16 lanes = __mmask16((1u << rows) - 1);
  std::size_t kk = 0;
  for (; kk + 16 <= k; kk += 16) {
    __m512 v[16];
    for (std::size_t r = 0; r < 16; ++r) v[r] = r < rows ? _mm512_loadu_ps(a + r * lda + kk) : _mm512_setzero_ps();
    transpose16x16(v);
    for (int i = 0; i < 16; ++i) {
      if constexpr (Stream) _mm512_stream_ps(at + (kk + i) * rows, v[i]);
      else _mm512_mask_storeu_ps(at + (kk + i) * rows, lanes, v[i]);
    }
  }
  transpose_rows(a + kk, lda, rows, k - kk, at + kk * rows);
}
__attribute__((target("avx512f,avx512vl,fma"))) void transpose_rows_avx512(const float* a, std::size_t lda,
                                                                          std::size_t rows, std::size_t k,
                                                                          float* at) {
  transpose_tiles_avx512<false>(a, lda, rows, k, at);
}

// A transposed panel (its 16 source rows transposed) to 64-byte aligned
// memory by streaming stores, as stream_group_rows.
__attribute__((target("avx512f,avx512vl,fma"))) void stream_transposed_panel(const float* source, std::size_t stride,
                                                                            std::size_t k, float* panel) {
  transpose_tiles_avx512<true>(source, stride, kPanelWidth, k, panel);
}

// Transposes 8 rows of 8 floats in registers: v[i] becomes column i.
__attribute__((target("avx2,fma"))) MPSNN_INLINE void transpose8x8(__m256 v[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int m = 0; m < 4; ++m) {
    v[m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x20);
    v[4 + m] = _mm256_permute2f128_ps(u[m], u[4 + m], 0x31);
  }
}

// transpose_rows 8 rows and 8 columns of A at a time: element by element,
// A's transposition took ~14% of the AVX2 kernel's time at 16 rows, k = 128.
// Up to 8 rows (the kernel's blocks), a column's store spills its unused
// lanes into the next columns' slots, which later stores overwrite; only a
// store that would pass the call's last column is masked (vmaskmovps stores
// are microcoded on AMD: 4-6 rows, k = 128 took 480-565 ns masked, 118-128 ns
// so).
__attribute__((target("avx2,fma"))) void transpose_rows_avx2(const float* a, std::size_t lda, std::size_t rows,
                                                             std::size_t k, float* at) {
  for (std::size_t r0 = 0; r0 < rows; r0 += 8) {
    const std::size_t block = std::min<std::size_t>(8, rows - r0);
    const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(block)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    std::size_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
      __m256 v[8];
      for (std::size_t r = 0; r < 8; ++r)
        v[r] = r < block ? _mm256_loadu_ps(a + (r0 + r) * lda + kk) : _mm256_setzero_ps();
      transpose8x8(v);
      for (std::size_t i = 0; i < 8; ++i) {
        float* out = at + (kk + i) * rows + r0;
        const bool spill_ok = rows <= 8 && (kk + i) * rows + 8 <= k * rows;  // into later columns of this call
        if (block == 8 || spill_ok) _mm256_storeu_ps(out, v[i]);
        else _mm256_maskstore_ps(out, lanes, v[i]);
      }
    }
    for (; kk < k; ++kk)
      for (std::size_t r = 0; r < block; ++r) at[kk * rows + r0 + r] = a[(r0 + r) * lda + kk];
  }
}
#endif

// C (+)= A · P in RowBlocks of at most MaxRows rows of A. A transposed:
// block b holds [k][rows of b] at at + r0 * k, so each panel is
// streamed once per row block against one sequential stream of the block.
template <int MaxRows, int Accumulators, typename V, typename A, typename C>
MPSNN_INLINE void multiply_impl(std::size_t rows, std::size_t k, const A& a, const float* packed,
                                std::size_t columns, const C& c, bool accumulate) {
  const RowBlocks blocks(rows, MaxRows);
  for (std::size_t k0 = 0; k0 < k; k0 += kKBlock) {
    const std::size_t kb = std::min(kKBlock, k - k0);
    const bool add = accumulate || k0 > 0;
    std::size_t j = 0;
    // All rows as one block: past Accumulators rows (AVX2's 6, generic's 3,
    // where a transposed A lies in several blocks) group_panels gives 1.
    if (rows < kGroupedRows) {
      A a_block = a;
      if constexpr (std::is_same_v<A, TransposedA>) a_block.at += k0 * rows;
      else a_block.a += k0;
      const std::size_t group = group_panels(rows, Accumulators, kVectors<V>) * kPanelWidth;
      for (; j + group <= columns && group > kPanelWidth; j += group) {
        const float* panel = packed + j * k + k0 * kPanelWidth;
        switch (rows) {
#define MPSNN_GROUP(n)                                                                                      \
  case n:                                                                                                   \
    panel_group_rows<n, group_panels(n, Accumulators, kVectors<V>), V>(kb, a_block, panel, k * kPanelWidth, \
                                                                       c.at(0, j), add);                    \
    break;
          MPSNN_GROUP(1) MPSNN_GROUP(2) MPSNN_GROUP(3) MPSNN_GROUP(4) MPSNN_GROUP(5) MPSNN_GROUP(6) MPSNN_GROUP(7)
          MPSNN_GROUP(8)
#undef MPSNN_GROUP
          default: break;
        }
      }
    }
    for (; j < columns; j += kPanelWidth) {
      const float* panel = packed + j * k + k0 * kPanelWidth;
      const std::size_t width = std::min(kPanelWidth, columns - j);
      for (std::size_t b = 0; b < blocks.count; ++b) {
        const std::size_t r0 = blocks.start(b), block = blocks.size(b);
        A at_block = a;
        if constexpr (std::is_same_v<A, TransposedA>) at_block.at += r0 * k + k0 * block;
        else at_block.a += r0 * a.lda + k0;
        const C c_block = c.at(r0, j);
        switch (block) {
#define MPSNN_ROWS(n) \
  case n: if constexpr (n <= MaxRows) panel_rows<n, V>(kb, at_block, panel, c_block, width, add); break;
          MPSNN_ROWS(1) MPSNN_ROWS(2) MPSNN_ROWS(3) MPSNN_ROWS(4) MPSNN_ROWS(5) MPSNN_ROWS(6) MPSNN_ROWS(7)
          MPSNN_ROWS(8) MPSNN_ROWS(9) MPSNN_ROWS(10) MPSNN_ROWS(11) MPSNN_ROWS(12) MPSNN_ROWS(13) MPSNN_ROWS(14)
          MPSNN_ROWS(15) MPSNN_ROWS(16)
#undef MPSNN_ROWS
          default: break;
        }
      }
    }
  }
}

using Multiplier = void (*)(std::size_t, std::size_t, const float*, const float*, std::size_t, float*, std::size_t,
                            bool);
using RowsMultiplier = void (*)(std::size_t, std::size_t, const float*, const float*, std::size_t, float* const*,
                                std::size_t, bool);
using DirectMultiplier = void (*)(std::size_t, std::size_t, const float*, std::size_t, const float*, std::size_t,
                                  float*, std::size_t, bool);

// One build per instruction set, chosen at run time: the rows held in registers
// are as many as the register file allows (a panel is 1 zmm or 2 ymm or 4 xmm).
// The transposed A is laid out in blocks of these rows (Isa::rows).
constexpr int kAvx512Rows = 16, kAvx2Rows = 6, kGenericRows = 3;
#define MPSNN_KERNELS(isa, target, rows, V)                                                                          \
  target void multiply_##isa(std::size_t r, std::size_t k, const float* at, const float* packed,                    \
                             std::size_t columns, float* c, std::size_t ldc, bool accumulate) {                    \
    multiply_impl<rows, rows, V>(r, k, TransposedA{at}, packed, columns, StridedC{c, ldc}, accumulate);            \
  }                                                                                                                 \
  target void multiply_rows_##isa(std::size_t r, std::size_t k, const float* at, const float* packed,               \
                                  std::size_t columns, float* const* c_rows, std::size_t j, bool accumulate) {     \
    multiply_impl<rows, rows, V>(r, k, TransposedA{at}, packed, columns, RowsC{c_rows, j}, accumulate);            \
  }                                                                                                                 \
  target void multiply_direct_##isa(std::size_t r, std::size_t k, const float* a, std::size_t lda,                  \
                                    const float* packed, std::size_t columns, float* c, std::size_t ldc,            \
                                    bool accumulate) {                                                              \
    multiply_impl<std::min(kDirectRows, rows), rows, V>(r, k, DirectA{a, lda}, packed, columns, StridedC{c, ldc},    \
                                                     accumulate);                                                  \
  }
#ifdef MPSNN_X86_KERNELS
MPSNN_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,fma"))), kAvx512Rows, v16)
MPSNN_KERNELS(avx2, __attribute__((target("avx2,fma"))), kAvx2Rows, v8)
#endif
MPSNN_KERNELS(generic, , kGenericRows, v4)
#undef MPSNN_KERNELS
MPSNN_END_VECTOR_CODE

using Transposer = void (*)(const float*, std::size_t, std::size_t, std::size_t, float*);

// The instruction set's kernel, its transposition (of A, and for packing
// panels), and the rows of A its kernel holds in registers.
struct Isa {
  Multiplier multiply;
  RowsMultiplier multiply_rows;  // C's rows at c_rows[r] + j
  DirectMultiplier multiply_direct;  // A as it is, at most kDirectRows rows
  Transposer transpose;
  std::size_t rows;
  std::size_t vectors;  // registers a panel row takes
};

Isa choose() {
#ifdef MPSNN_X86_KERNELS
  if (kernel_isa() == KernelIsa::avx512)
    return {multiply_avx512, multiply_rows_avx512, multiply_direct_avx512, transpose_rows_avx512, kAvx512Rows, 1};
  if (kernel_isa() == KernelIsa::avx2)
    return {multiply_avx2, multiply_rows_avx2, multiply_direct_avx2, transpose_rows_avx2, kAvx2Rows, 2};
#endif
  return {multiply_generic, multiply_rows_generic, multiply_direct_generic, transpose_rows, kGenericRows, 4};
}

const Isa isa = choose();

}  // namespace

void pack_panels(const float* source, std::size_t stride, bool transposed, std::size_t k, std::size_t columns,
                 float* packed, std::size_t panel_stride, bool stream) {
  if (!panel_stride) panel_stride = k * kPanelWidth;
  bool streamed = false;
  for (std::size_t j0 = 0; j0 < columns; j0 += kPanelWidth) {
    float* panel = packed + j0 / kPanelWidth * panel_stride;
    const std::size_t width = std::min(kPanelWidth, columns - j0);
#ifdef MPSNN_X86_KERNELS
    if (stream && width == kPanelWidth && kernel_isa() == KernelIsa::avx512 &&
        reinterpret_cast<std::uintptr_t>(panel) % 64 == 0) {
      if (transposed) stream_transposed_panel(source + j0 * stride, stride, k, panel);
      else stream_group_rows(source + j0, stride, k, panel);
      streamed = true;
      continue;
    }
#endif
    if (width < kPanelWidth) std::fill(panel, panel + k * kPanelWidth, 0.0f);
    if (transposed && width == kPanelWidth) {  // a panel is its 16 source rows transposed
      isa.transpose(source + j0 * stride, stride, kPanelWidth, k, panel);
    } else if (transposed) {  // 16 x 16 tiles: contiguous reads, writes within one tile
      for (std::size_t k0 = 0; k0 < k; k0 += kPanelWidth)
        for (std::size_t i = 0; i < width; ++i)
          for (std::size_t kk = k0; kk < std::min(k, k0 + kPanelWidth); ++kk)
            panel[kk * kPanelWidth + i] = source[(j0 + i) * stride + kk];
    } else if (width == kPanelWidth) {  // a constant size: one vector move, not a call
      for (std::size_t kk = 0; kk < k; ++kk)
        std::memcpy(panel + kk * kPanelWidth, source + kk * stride + j0, kPanelWidth * sizeof(float));
    } else {
      for (std::size_t kk = 0; kk < k; ++kk)
        std::memcpy(panel + kk * kPanelWidth, source + kk * stride + j0, width * sizeof(float));
    }
  }
  if (streamed) fence_streams();
}

namespace {

// The calling thread's buffer for A transposed.
float* transposed_buffer(std::size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// The lines of some regions, prefetched into L2 a few at a time.
class Prefetcher {
 public:
  Prefetcher(const PrefetchRegion* regions, std::size_t count, std::size_t steps) : regions_(regions), count_(count) {
    std::size_t lines = 0;
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t r = 0; r < regions[i].rows; ++r) lines += row_lines(regions[i], r);
    per_step_ = steps ? (lines + steps - 1) / steps : lines;
  }
  void step() {
    for (std::size_t n = 0; n < per_step_ && region_ < count_;) {
      const PrefetchRegion& region = regions_[region_];
      if (row_ < region.rows && line_ < row_lines(region, row_)) {
        __builtin_prefetch(first_line(region, row_) + 64 * line_++, 0, 2);
        ++n;
      } else {
        line_ = 0;
        if (++row_ >= region.rows) ++region_, row_ = 0;
      }
    }
  }

 private:
  // Row r's first cache line, and how many lines it touches.
  static const char* first_line(const PrefetchRegion& region, std::size_t r) {
    const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(region.data) + r * region.stride;
    return reinterpret_cast<const char*>(start / 64 * 64);
  }
  static std::size_t row_lines(const PrefetchRegion& region, std::size_t r) {
    const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(region.data) + r * region.stride;
    return region.bytes ? (start % 64 + region.bytes + 63) / 64 : 0;
  }

  const PrefetchRegion* regions_;
  std::size_t count_, per_step_, region_ = 0, row_ = 0, line_ = 0;
};

}  // namespace

bool small_gemm_transposes(std::size_t rows) { return rows > kDirectRows; }

void transpose_columns(std::size_t rows, std::size_t k, const float* a, std::size_t lda, std::size_t c0,
                       std::size_t c1, float* at) {
  const RowBlocks blocks(rows, isa.rows);
  for (std::size_t b = 0; b < blocks.count; ++b) {
    const std::size_t r0 = blocks.start(b), block = blocks.size(b);  // [k][block] at at + r0·k
    isa.transpose(a + r0 * lda + c0, lda, block, c1 - c0, at + r0 * k + c0 * block);
  }
}

void small_gemm(std::size_t rows, std::size_t k, const float* a, std::size_t lda, const PanelTarget* targets,
                std::size_t count, const PrefetchRegion* prefetch, std::size_t prefetch_count,
                const float* transposed) {
  // With regions to prefetch, the product runs panel by panel, a share of the
  // lines fetched after each.
  const std::size_t step =
      prefetch_count ? kPanelWidth * group_panels(rows, isa.rows, isa.vectors) : ~std::size_t(0) / 2;
  std::size_t steps = 0;
  for (std::size_t i = 0; prefetch_count && i < count; ++i) steps += (targets[i].columns + step - 1) / step;
  Prefetcher prefetcher(prefetch, prefetch_count, steps);
  // Up to kDirectRows rows, A is read where it lies: transposing a few rows'
  // streams would cost more than it saves.
  const float* at = small_gemm_transposes(rows) ? transposed : nullptr;
  if (small_gemm_transposes(rows) && !transposed) {
    float* buffer = transposed_buffer(k * rows);
    transpose_columns(rows, k, a, lda, 0, k, buffer);
    at = buffer;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const PanelTarget& t = targets[i];
    for (std::size_t j = 0; j < t.columns; j += step) {
      const std::size_t columns = std::min(step, t.columns - j);
      prefetcher.step();
      if (at) isa.multiply(rows, k, at, t.packed + j * k, columns, t.c + j, t.ldc, t.accumulate);
      else isa.multiply_direct(rows, k, a, lda, t.packed + j * k, columns, t.c + j, t.ldc, t.accumulate);
    }
  }
}

std::size_t kernel_rows() { return isa.rows; }

std::size_t group_width(const GroupedMatrix& a, std::size_t q) { return std::min(isa.rows, a.m - q * isa.rows); }
float* group_data(const GroupedMatrix& a, std::size_t q) { return a.data + q * isa.rows * a.k; }

void copy_to_groups(const float* source, std::size_t ld, std::size_t rows, std::size_t c0, std::size_t c1,
                    const GroupedMatrix& grouped, std::size_t row0) {
  const std::size_t g = isa.rows;
  for (std::size_t q = c0 / g; q * g < c1; ++q) {
    const std::size_t w = group_width(grouped, q), begin = std::max(c0, q * g), end = std::min(c1, q * g + w);
    float* to = group_data(grouped, q) + row0 * w + (begin - q * g);
    const float* from = source + begin;
#ifdef MPSNN_X86_KERNELS
    // 1-2% of a step at B = 4-32 (a read of each line before its write saved).
    if (w == kPanelWidth && end - begin == kPanelWidth && reinterpret_cast<std::uintptr_t>(to) % 64 == 0) {
      stream_group_rows(from, ld, rows, to);
      continue;
    }
#endif
    if (end - begin == kPanelWidth) {  // a constant size: one vector move, not a call
      for (std::size_t r = 0; r < rows; ++r) std::memcpy(to + r * w, from + r * ld, kPanelWidth * sizeof(float));
    } else {
      for (std::size_t r = 0; r < rows; ++r) std::memcpy(to + r * w, from + r * ld, (end - begin) * sizeof(float));
    }
  }
}

void small_gemm(std::size_t rows, const GroupedMatrix& a, std::size_t row0, const float* packed, std::size_t columns,
                float* c, std::size_t ldc, bool accumulate) {
  // As the other small_gemm, but each block of A's rows is transposed group by
  // group: a group's [rows][w] tile is the block's next w rows of [k][rows].
  const std::size_t k = a.m;
  float* at = transposed_buffer(k * rows);
  const RowBlocks blocks(rows, isa.rows);
  for (std::size_t b = 0; b < blocks.count; ++b) {
    const std::size_t r0 = blocks.start(b), block = blocks.size(b);
    for (std::size_t q = 0; q * isa.rows < k; ++q) {
      const std::size_t w = group_width(a, q);
      isa.transpose(group_data(a, q) + (row0 + r0) * w, w, block, w, at + r0 * k + q * isa.rows * block);
    }
  }
  isa.multiply(rows, k, at, packed, columns, c, ldc, accumulate);
}

void multiply_group(std::size_t rows, std::size_t k, const float* at, const float* packed, std::size_t columns,
                    float* const* c_rows, std::size_t j, bool accumulate) {
  isa.multiply_rows(rows, k, at, packed, columns, c_rows, j, accumulate);
}

}  // namespace mpsnn::cpu
