#include "cpu/gemm.hpp"

#include "cpu/thread_pool.hpp"

#include <climits>
#include <stdexcept>
#include <string>

#if defined(MPSNN_BLAS_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define MPSNN_CBLAS(name) cblas_##name
#else
#include <cblas.h>  // scipy-openblas32: every symbol carries the scipy_ prefix
#define MPSNN_CBLAS(name) scipy_cblas_##name
#endif

namespace mpsnn::cpu {

namespace {

int blas_int(std::size_t value, const char* what) {
  if (value > static_cast<std::size_t>(INT_MAX))
    throw std::invalid_argument(std::string("[gemm] ") + what + " = " + std::to_string(value) +
                                " exceeds the BLAS's 32-bit limit");
  return static_cast<int>(value);
}

// OpenBLAS (this copy is mpsnn's own) runs each call on the calling thread.
[[maybe_unused]] const bool blas_single_threaded = [] {
#if !defined(MPSNN_BLAS_ACCELERATE)
  scipy_openblas_set_num_threads(1);
#endif
  return true;
}();

}  // namespace

void sgemm(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
           float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
           float beta, float* c, std::size_t ldc) {
  MPSNN_CBLAS(sgemm)(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
                     transpose_b ? CblasTrans : CblasNoTrans, blas_int(m, "m"), blas_int(n, "n"),
                     blas_int(k, "k"), alpha, a, blas_int(lda, "lda"), b, blas_int(ldb, "ldb"),
                     beta, c, blas_int(ldc, "ldc"));
}

void sgemm_parallel(bool transpose_a, bool transpose_b, std::size_t m, std::size_t n, std::size_t k,
                    float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                    float beta, float* c, std::size_t ldc) {
  const int parts = threads();
  if (parts == 1 || 2.0 * double(m) * double(n) * double(k) < 4e6) {
    sgemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const bool by_columns = n >= m;  // split the larger side of C
  parallel_for(parts, [&](int p) {
    std::size_t begin, end;
    split(by_columns ? n : m, parts, p, 16, begin, end);
    if (begin == end) return;
    if (by_columns)
      sgemm(transpose_a, transpose_b, m, end - begin, k, alpha, a, lda, transpose_b ? b + begin * ldb : b + begin,
            ldb, beta, c + begin, ldc);
    else
      sgemm(transpose_a, transpose_b, end - begin, n, k, alpha, transpose_a ? a + begin : a + begin * lda, lda, b,
            ldb, beta, c + begin * ldc, ldc);
  });
}

void check_sgemm_sizes(std::size_t m, std::size_t n, std::size_t k, std::size_t lda,
                       std::size_t ldb, std::size_t ldc) {
  blas_int(m, "m"), blas_int(n, "n"), blas_int(k, "k");
  blas_int(lda, "lda"), blas_int(ldb, "ldb"), blas_int(ldc, "ldc");
}

std::string blas_description() {
#if defined(MPSNN_BLAS_ACCELERATE)
  return "Accelerate";
#else
  return std::string(scipy_openblas_get_config());
#endif
}

}  // namespace mpsnn::cpu
