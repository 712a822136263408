// A GEMM for few rows against a right operand packed once and reused: the
// recurrent step of an RNN, C[B][n] (+)= A[B][K] · P[K][n], where P stays the
// same for every step of a sequence. Packing P into 16-column panels lets each
// step stream it exactly once with all rows' accumulators in registers, where a
// general BLAS re-packs it on every call.
#pragma once

#include <cstddef>

namespace mpsnn::cpu {

constexpr std::size_t kPanelWidth = 16;
constexpr std::size_t kLineFloats = 64 / sizeof(float);  // a cache line

// Floats a packed operand of k rows and `columns` columns occupies.
inline std::size_t packed_panel_size(std::size_t k, std::size_t columns) {
  return (columns + kPanelWidth - 1) / kPanelWidth * kPanelWidth * k;
}

// Packs the k x columns operand whose element (kk, j) is source[j * stride + kk]
// (`transposed`: the rows of a weight matrix) or source[kk * stride + j].
// Panels lie `panel_stride` floats apart (0: k * kPanelWidth, contiguous), so
// that operands stacked along k can be packed one part at a time. `stream`:
// by streaming stores where the CPU has them (AVX-512), for operands too large
// to stay in cache until they are read, whose lines would otherwise be read
// from memory before being written, and written back later.
void pack_panels(const float* source, std::size_t stride, bool transposed, std::size_t k,
                 std::size_t columns, float* packed, std::size_t panel_stride = 0, bool stream = false);

// One packed right operand P and the C it makes ([rows][ldc], `columns`
// wide): C[r][j] = (accumulate ? C[r][j] : 0) + Σ_kk A[r][kk] · P[kk][j].
struct PanelTarget {
  const float* packed;
  std::size_t columns;
  float* c;
  std::size_t ldc;
  bool accumulate;
};
// Memory the caller will read next: small_gemm fetches it into L2 a little
// after each panel (the LSTM's backward step reads its cached gates and cells
// from memory; fetched in one burst, they stall on the fill buffers instead).
// `rows` rows of `bytes` each, `stride` bytes apart (a slice of columns).
struct PrefetchRegion {
  const void* data;
  std::size_t bytes, rows = 1, stride = 0;
};

// small_gemm for several right operands sharing A: A is transposed once. With
// `prefetch`, also fetches those regions into L2 while it runs. `transposed`:
// A as transpose_columns laid it out (rows·k floats), used instead of
// transposing it here when small_gemm_transposes(rows).
void small_gemm(std::size_t rows, std::size_t k, const float* a, std::size_t lda, const PanelTarget* targets,
                std::size_t count, const PrefetchRegion* prefetch = nullptr, std::size_t prefetch_count = 0,
                const float* transposed = nullptr);

// Whether small_gemm reads A transposed for this many rows (a few it reads in place).
bool small_gemm_transposes(std::size_t rows);

// Columns [c0, c1) of A (rows x k, rows `lda` apart) into `at` (rows·k floats)
// where small_gemm transposes them to: threads that each make some columns of
// one A, and then all multiply it, transpose only their own.
void transpose_columns(std::size_t rows, std::size_t k, const float* a, std::size_t lda, std::size_t c0,
                       std::size_t c1, float* at);

// A [k][m] matrix stored as column groups of kernel_rows() columns (the last
// may be narrower): group q, columns [q·g, q·g + w_q), at data + q·g·k as
// [k][w_q]. gemm_tn reads it in place, as its kernel's register block; the
// LSTM writes its gate gradients this way while they are hot.
struct GroupedMatrix {
  float* data;
  std::size_t k, m;
};

// The group width of GroupedMatrix: the rows of A the kernel holds in registers.
std::size_t kernel_rows();
// Group q's width and first float.
std::size_t group_width(const GroupedMatrix& a, std::size_t q);
float* group_data(const GroupedMatrix& a, std::size_t q);

// C's rows at c_rows[r] + j (+)= A · P: A a group read in place ([k][rows]
// at `at`), P `columns` wide as pack_panels lays it out (gemm_tn's kernel).
void multiply_group(std::size_t rows, std::size_t k, const float* at, const float* packed, std::size_t columns,
                    float* const* c_rows, std::size_t j, bool accumulate);

// Rows [row0, row0 + rows), columns [c0, c1) of `grouped` = those of source
// (element (r, c) at source[r·ld + c]). Where grouped.data is 64-byte aligned
// and groups are 16 wide, with streaming stores: a grouped matrix is written
// once and read later, so its lines are not first read from memory. Weakly
// ordered (streaming_stores.hpp): fence_streams() before another thread reads
// them (once, after the last copy: a fence after every copy, four a backward
// step, cost 1-4% of the backward at 128/32/100, 256/4/150 and 256/16/150).
void copy_to_groups(const float* source, std::size_t ld, std::size_t rows, std::size_t c0, std::size_t c1,
                    const GroupedMatrix& grouped, std::size_t row0);

// small_gemm with A = rows [row0, row0 + rows) of a GroupedMatrix (k = its m).
void small_gemm(std::size_t rows, const GroupedMatrix& a, std::size_t row0, const float* packed, std::size_t columns,
                float* c, std::size_t ldc, bool accumulate);

}  // namespace mpsnn::cpu
