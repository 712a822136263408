#include "core/command_buffer_state.hpp"
#include "cpu/backend.hpp"
#include "cpu/gemm.hpp"

namespace mpsnn::cpu {

void CpuBackend::encode_matrix_multiplication(detail::CommandBufferState& buffer,
                                              const detail::MatrixMultiplicationArgs& args) {
  const auto ld = [](const detail::MatrixOperand& op) { return op.row_bytes / sizeof(float); };
  const std::size_t lda = ld(args.left), ldb = ld(args.right), ldc = ld(args.result);
  check_sgemm_sizes(args.rows, args.columns, args.interior, lda, ldb, ldc);
  buffer.add_command([args, lda, ldb, ldc] {
    for (std::size_t i = 0; i < args.batch; ++i)
      sgemm_parallel(args.transpose_left, args.transpose_right, args.rows, args.columns, args.interior,
            args.alpha, host<const float>(args.left.storage, args.left.offset_bytes + i * args.left.matrix_bytes),
            lda, host<const float>(args.right.storage, args.right.offset_bytes + i * args.right.matrix_bytes),
            ldb, args.beta,
            host<float>(args.result.storage, args.result.offset_bytes + i * args.result.matrix_bytes),
            ldc);
  });
}

}  // namespace mpsnn::cpu
