// The fused element-wise passes of one LSTM step over some batch rows and
// hidden units [j0, j1) of one thread (docs/lstm-layout.md: gates i, f, c, o).
// Compiled once per instruction set and chosen at run time: at small hidden
// sizes these passes, not the GEMMs, bound a step. Under the usual activations
// (sigmoid gates, a·tanh(b·x) candidate and cell) the x86 builds run each as
// one pass a vector of units at a time.
#pragma once

#include <cstddef>

#include "core/lstm.hpp"

namespace mpsnn::cpu {

// `rows` batch rows starting at the pointers given, hidden units [j0, j1).
struct CellSlice {
  const detail::LstmConfig& c;
  std::size_t rows, j0, j1;
  const float* const* bias;  // per gate [H], or null (zeros)
  const float* const* v;     // per gate diagonal peephole [H], or null (none, or full: done by GEMM)
};

// gates: [rows][4H] pre-activations in, activations out (the output gate's only
// after forward_output). c_prev: [rows][H] or null (zeros).
void forward_cell(const CellSlice& s, float* gates, const float* c_prev, float* c_new);
// h: [rows][ld] of hidden output, also written to h_copy ([rows][ld_copy]) unless
// null; `scratch` holds j1 - j0 floats.
void forward_output(const CellSlice& s, float* gates, const float* c_new, float* h, std::size_t ld, float* h_copy,
                    std::size_t ld_copy, float* scratch);

// dy: [rows][ld_dy] or null. Writes the output gate's pre-activation gradient into
// dgates and adds the cell's gradient through h to dc. `scratch`: 3 (j1 - j0).
void backward_output(const CellSlice& s, const float* gates, const float* c_now, const float* dh,
                     const float* dy, std::size_t ld_dy, float* dc, float* dgates, float* scratch);
// Gradients of the input, forget and cell gates; moves dc one step back;
// accumulates diagonal peephole gradients into dv ([4][H]) where s.v[k] is set
// and, unless db is null, every gate's pre-activation gradient (the bias
// gradients) into db ([4][H]).
void backward_gates(const CellSlice& s, const float* gates, const float* c_now, const float* c_prev, float* dc,
                    float* dgates, float* dv, float* db);

}  // namespace mpsnn::cpu
