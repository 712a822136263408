#include "cpu/gemm_tn.hpp"

#include <algorithm>
#include <cstring>

#include "cpu/thread_pool.hpp"

namespace mpsnn::cpu {

namespace {

// gemm_tn's blocking: per block of kTnK rows of A and B, the parts pack B's
// panels together, then each multiplies its groups of A (kTnK x 16 floats,
// read in place) by every panel. Each block reloads C's tiles, so blocks are
// long: 256 -> 1024 rows took a thread from 90 to 97-104 GFLOP/s on the LSTM's
// weight-gradient shapes.
constexpr std::size_t kTnK = 1024;
constexpr std::size_t kTnColumns = 512;

// Panels of the block's columns [g0, g1) over rows [k0, k0 + kb), panel q at
// packed + q * kb * kPanelWidth.
void pack_row_panels(const RowBlock& block, std::size_t g0, std::size_t g1, std::size_t k0, std::size_t kb,
                     float* packed) {
  for (std::size_t j = g0; j < g1; j += kPanelWidth) {
    float* panel = packed + (j - g0) / kPanelWidth * kb * kPanelWidth;
    const std::size_t width = std::min(kPanelWidth, g1 - j);
    if (width < kPanelWidth) std::fill(panel, panel + kb * kPanelWidth, 0.0f);
    for (std::size_t kk = 0; kk < kb; ++kk) {
      const float* row = block.rows[k0 + kk];
      float* to = panel + kk * kPanelWidth;
      if (!row) std::fill(to, to + width, 0.0f);
      else if (width == kPanelWidth) std::memcpy(to, row + j, kPanelWidth * sizeof(float));
      else std::memcpy(to, row + j, width * sizeof(float));
    }
  }
}

}  // namespace

void gemm_tn(const GroupedMatrix& a, const std::vector<RowBlock>& blocks) {
  // Column chunks of at most kTnColumns, each one or more pieces of blocks,
  // every piece starting on a panel: a chunk is packed once a k block, and
  // each group of A meets all its panels while it is in L1 (a chunk per block
  // read A twice at H = 128: +1.7%).
  struct Piece {
    const RowBlock* block;
    std::size_t j0, j1, panel;  // the block's columns [j0, j1), from the chunk's panel `panel` on
    std::size_t panels() const { return (j1 - j0 + kPanelWidth - 1) / kPanelWidth; }
  };
  constexpr std::size_t kChunkPanels = kTnColumns / kPanelWidth;
  std::vector<std::vector<Piece>> chunks;
  std::size_t chunk_panels = kChunkPanels;  // of the last chunk: none open yet
  for (const RowBlock& block : blocks)
    for (std::size_t j0 = 0; j0 < block.columns;) {
      if (chunk_panels == kChunkPanels) chunks.emplace_back(), chunk_panels = 0;
      const std::size_t j1 = std::min(block.columns, j0 + (kChunkPanels - chunk_panels) * kPanelWidth);
      chunks.back().push_back({&block, j0, j1, chunk_panels});
      chunk_panels += chunks.back().back().panels();
      j0 = j1;
    }
  const std::size_t m = a.m, k = a.k, group = kernel_rows();
  const int parts = concurrent_parts(int(std::min<std::size_t>(threads(), (m + group - 1) / group)));
  thread_local std::vector<float> shared;  // two B blocks: one is packed while the other is read
  const std::size_t buffer = kTnK * kTnColumns;
  if (shared.size() < 2 * buffer) shared.resize(2 * buffer);
  float* const packed[2] = {shared.data(), shared.data() + buffer};
  // Each k block's groups of A, dealt among the parts (a slower core hands on its last ones).
  const std::size_t groups = (m + group - 1) / group, k_blocks = (k + kTnK - 1) / kTnK;
  std::vector<StealingSplit> dealt;
  dealt.reserve(chunks.size() * k_blocks);
  for (std::size_t i = 0; i < chunks.size() * k_blocks; ++i) dealt.emplace_back(groups, parts);
  SpinBarrier barrier(parts);
  parallel_for(parts, [&](int part) {
    int next = 0;
    StealingSplit* block_groups = dealt.data();
    for (const std::vector<Piece>& chunk : chunks) {
      const std::size_t panels = chunk.back().panel + chunk.back().panels();
      for (std::size_t k0 = 0; k0 < k; k0 += kTnK, next ^= 1) {
        const std::size_t kb = std::min(kTnK, k - k0);
        std::size_t p0, p1;
        split(panels, parts, part, 1, p0, p1);
        // Safe to overwrite: every part passed the previous barrier, so none still reads this buffer.
        for (const Piece& piece : chunk) {
          // This part's panels [p0, p1) of the chunk that are the piece's [q0, q1).
          const std::size_t q0 = std::max(p0, piece.panel) - piece.panel;
          const std::size_t q1 = std::min(p1 - std::min(p1, piece.panel), piece.panels());
          if (q0 < q1)
            pack_row_panels(*piece.block, piece.j0 + q0 * kPanelWidth, std::min(piece.j1, piece.j0 + q1 * kPanelWidth),
                            k0, kb, packed[next] + (piece.panel + q0) * kb * kPanelWidth);
        }
        barrier.wait();
        StealingSplit& deal = *block_groups++;
        for (std::size_t g; deal.next(part, g);) {
          const std::size_t r0 = g * group, w = group_width(a, g);
          const float* at = group_data(a, g) + k0 * w;  // [kb][w], in place
          for (const Piece& piece : chunk)
            multiply_group(w, kb, at, packed[next] + piece.panel * kb * kPanelWidth, piece.j1 - piece.j0,
                           piece.block->c + r0, piece.j0, k0 > 0);
        }
      }
    }
  });
}

}  // namespace mpsnn::cpu
