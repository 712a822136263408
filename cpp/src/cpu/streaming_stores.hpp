// Stores that bypass the cache (x86 streaming stores): for memory written once
// and read back much later (the training cache, gemm_tn's grouped gate
// gradients, packed weights past L2), whose lines would otherwise be read from
// memory before being written. Weakly ordered: fence_streams() before another
// thread reads what they wrote.
#pragma once

#include <cstddef>

#include "cpu/isa.hpp"

namespace mpsnn::cpu {

// `count` floats, by streaming stores where the CPU has them (whole lines;
// the partial first and last by ordinary stores), else copied.
void stream_floats(const float* from, std::size_t count, float* to);
void fence_streams();

#ifdef MPSNN_X86_KERNELS
// `rows` rows of 16 floats, `ld` apart at `from`, to 64-byte aligned `to`
// (a panel's rows, or a 16-wide group's). AVX-512 only.
void stream_group_rows(const float* from, std::size_t ld, std::size_t rows, float* to);
#endif

}  // namespace mpsnn::cpu
