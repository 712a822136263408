// The weight-gradient GEMM of a recurrent layer: Aᵀ·B over all its steps
// at once, A its gate gradients as small_gemm.hpp's GroupedMatrix (read in
// place, in the packed kernel's register groups), B rows gathered from
// anywhere, C rows written anywhere.
#pragma once

#include <cstddef>
#include <vector>

#include "cpu/small_gemm.hpp"

namespace mpsnn::cpu {

// Columns of the right operand of gemm_tn and where their product goes: row
// kk of the block is `columns` floats at rows[kk], or zeros where rows[kk] is
// null; row i of the product, `columns` floats, is written at c[i].
struct RowBlock {
  const float* const* rows;
  std::size_t columns;
  float* const* c;
};

// C[i][j] = Σ_kk A[kk][i] · B[kk][j] for i < m and a long k, on the pool, for
// each block B of `blocks`: the weight gradients of a recurrent layer, A its
// gate gradients ([T·B][4H], grouped), B its inputs or previous states (one row
// per step and batch row), C written where the block says (the caller's
// gradient arrays, gate by gate). A, B and every C must not overlap.
void gemm_tn(const GroupedMatrix& a, const std::vector<RowBlock>& blocks);

}  // namespace mpsnn::cpu
