// The CPU GEMM provider: the one place that talks to the BLAS (OpenBLAS from
// the scipy-openblas32 wheel on Linux, Accelerate on Apple).
#pragma once

#include <cstddef>
#include <string>

namespace mpsnn::cpu {

// Row-major C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, where op
// transposes when asked. lda/ldb/ldc are row strides in elements. Throws
// std::invalid_argument when a size exceeds the BLAS's 32-bit integers.
void sgemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
           float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
           float beta, float* c, std::size_t ldc);

// The same, split across the CPU backend's threads when it is large enough to
// gain (the BLAS itself runs single-threaded: see thread_pool.hpp).
void sgemm_parallel(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                    float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                    float beta, float* c, std::size_t ldc);

// Throws std::invalid_argument unless every size fits the BLAS's integers;
// encode calls it so that sgemm never fails inside a command buffer.
void check_sgemm_sizes(std::size_t m, std::size_t n, std::size_t k, std::size_t lda,
                       std::size_t ldb, std::size_t ldc);

// The BLAS and its configuration ("OpenBLAS 0.3.x ... SkylakeX"), for device descriptions.
std::string blas_description();

}  // namespace mpsnn::cpu
