// The fast CPU LSTM. The input projection of all steps is one GEMM (or part
// of each step, when threads own rows and W and U fit L2); then each thread
// runs, per step, a packed small-batch GEMM against U and the fused
// element-wise passes for its share (a slice of hidden units, with one barrier
// a step, or a slice of the batch, with none: see Plan). Backward mirrors it,
// with dx inside the step when threads own rows; the weight gradients are one
// GEMM over all steps after the loop (gemm_tn). The reference kernel beside
// it (lstm_reference.cpp) is its check.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/command_buffer_state.hpp"
#include "cpu/gemm.hpp"
#include "cpu/gemm_tn.hpp"
#include "cpu/lstm_cell.hpp"
#include "cpu/lstm_common.hpp"
#include "cpu/small_gemm.hpp"
#include "cpu/streaming_stores.hpp"
#include "cpu/thread_pool.hpp"

namespace mpsnn::cpu {

namespace {

using detail::LstmConfig;
enum : std::size_t { slot_gates, slot_cells, slot_out0, slot_out1, slot_input, slot_row, slot_dg, slot_dx0,
                     slot_dx1, slot_dh, slot_dc, slot_packed, slot_packed_w, slot_sums, slot_unwanted, slot_dg_step,
                     slot_dg_rows, slot_h_transposed, slot_dg_transposed, slot_packed_w_backward, slot_hot_gates };

// A sequence as [T][B][width]: `step` elements between steps, `row` between
// batch rows (contiguous unless it is the user's, in NSE).
struct Sequence {
  const float* data;
  std::size_t step, row;
  bool contiguous;
  const float* at(std::size_t t, std::size_t b) const { return data + t * step + b * row; }
};

// The user's x, y, dy or dx as a Sequence.
Sequence user_sequence(const LstmConfig& c, const float* data, std::size_t width) {
  return {data, c.step_stride(width), c.row_stride(width), !c.batch_first};
}

// The input of layer l.
Sequence layer_input(const LstmConfig& c, std::size_t l, const float* x, const float* below,
                     const std::uint8_t* mask) {
  const std::size_t width = c.layer_input(l);
  if (l == 0) return user_sequence(c, x, width);
  if (!mask) return {below, c.batch * width, width, true};
  const std::size_t count = c.seq_len * c.batch * width;
  float* dropped = scratch(slot_input, count);
  apply_dropout(c, below, dropped, mask, count);
  return {dropped, c.batch * width, width, true};
}

// The L2 cache of one core and the L3 that the kernels plan for (Zen 4,
// Sapphire Rapids: 1-2 MB, 32+ MB).
constexpr std::size_t kL2Bytes = std::size_t(1) << 20;
constexpr std::size_t kL3Bytes = std::size_t(32) << 20;

// A slice of at most this many hidden units, not all whole lines, makes its
// gates apart from the training cache (forward_direction says why).
constexpr std::size_t kNarrowSliceUnits = 64;

// How a recurrence is shared among threads. With 8+ batch rows a thread, each
// thread runs the whole recurrence for its own rows, with no synchronisation,
// even when U does not fit its L2: 8 rows make 16 FLOP per weight loaded, and
// this beat the other plan by 1-8% at H = 512 (B = 16 and 64), by 2-3% at
// H = 768. Not once U takes half of L3: with every thread streaming all of it
// each step it did not stay there (2 cores, H = 1024, B = 16: 5% slower than
// slices of units, which read it once among them; B = 32: even). Otherwise
// each thread owns a slice of hidden units (its weights stay in its cache) and
// the threads meet at a barrier every step, unless U fits L2 and slices of 4+
// rows make as many parts as slices of units would: then rows again, since a
// barrier a step waits for the slowest thread (on a 16-core VM, 128/32/100
// spent 42 us a step as 8 parts of units, ~8x their arithmetic). Slices of 2
// rows only where they make more parts than 4 rows or units would (16-core
// host, 128/32/100: 16 parts of 2 rows 24-31% faster than 8 of 4; 2-core VM,
// 256/4/150: 2 parts of 2 rows 0-11% slower than 2 of 128 units). Either way a
// part gets at least kMinStepFlopsPerPart of each step's GEMM, so that tiny
// steps are not split into parts smaller than a barrier's cost. The floor is
// low: on a 16-core Xeon, 256/4/150 ran in 13 ms as 16 parts, 19-21 ms as 2
// (1 MFLOP each).
constexpr double kMinStepFlopsPerPart = 1.25e5;
constexpr std::size_t kMinRowsPerPart = 4, kFewestRowsPerPart = 2;
struct Plan {
  int parts;
  bool by_rows;
  // Parts on slices of units multiply the same A (h, or the step's gate
  // gradients): each transposes its own columns of it once for all, into two
  // buffers (a part may write the next step's while another still multiplies
  // this one's).
  bool shares_transposition;
  Plan(const LstmConfig& c) {
    const std::size_t H = c.hidden_size, B = c.batch;
    const double step_flops = 2.0 * double(B) * double(4 * H) * double(H);
    // Parts share a SpinBarrier, so no more than run at once (1 inside a pool task).
    const std::size_t useful = std::size_t(concurrent_parts(
        int(std::min<std::size_t>(threads(), std::size_t(step_flops / kMinStepFlopsPerPart)))));
    const std::size_t unit_parts = std::max<std::size_t>(1, std::min(useful, H / kPanelWidth));
    const std::size_t row_parts = std::min(useful, B / kMinRowsPerPart);
    const std::size_t narrow_row_parts = std::min(useful, B / kFewestRowsPerPart);
    const std::size_t u_bytes = 4 * H * H * sizeof(float);
    const bool u_fits = u_bytes <= kL2Bytes;
    const bool narrow_rows = u_fits && narrow_row_parts > std::max(row_parts, unit_parts);
    by_rows = useful > 1 && u_bytes < kL3Bytes / 2 &&
              (B >= 8 * useful || (u_fits && row_parts > 1 && row_parts >= unit_parts) || narrow_rows);
    parts = int(!by_rows ? unit_parts : B >= 8 * useful ? useful : narrow_rows ? narrow_row_parts : row_parts);
    shares_transposition = !by_rows && parts > 1 && small_gemm_transposes(B);
    static const bool verbose = std::getenv("MPSNN_VERBOSE") != nullptr;
    if (verbose)
      std::fprintf(stderr, "mpsnn: LSTM recurrence, H=%zu B=%zu: %d part(s), by %s\n", H, B, parts,
                   by_rows ? "batch rows" : "hidden units");
  }
  // Rows [r0, r1) and units [j0, j1) of one part.
  struct Part {
    std::size_t r0 = 0, r1 = 0, j0 = 0, j1 = 0;
    std::size_t rows() const { return r1 - r0; }
    std::size_t units() const { return j1 - j0; }
    bool empty() const { return r0 == r1 || j0 == j1; }
  };
  Part part(const LstmConfig& c, int p) const {
    Part part{0, c.batch, 0, c.hidden_size};
    if (by_rows) split(c.batch, parts, p, 1, part.r0, part.r1);
    else split(c.hidden_size, parts, p, kPanelWidth, part.j0, part.j1);
    return part;
  }
};

// The four gates' matrices M_k ([H][n] each: W_k or U_k) packed as the right
// operand of small_gemm. `transposed`: Σ_i A[r][i] · M_k[j][i], gate k's
// panels at k · packed_panel_size(n, H) (forward). Otherwise Σ_c A[r][c] ·
// M_{c/H}[c%H][j] with c over all 4H gate rows: each panel stacks the gates
// along k (backward).
// By streaming stores where a thread's share would not fit its L2 (512/16/25
// on 2 cores: -1 to -2% a step, the next call's forward faster too, with no
// dirty lines to write back); otherwise a thread packs the panels that it
// multiplies on slices of units, and they stay in its L2 for the first step.
const float* pack_gates(int slot, const float* const* m, std::size_t H, std::size_t n, bool transposed) {
  const std::size_t panel = packed_panel_size(n, H);
  float* packed = scratch(slot, 4 * std::max(panel, packed_panel_size(H, n)));
  const std::size_t columns = transposed ? H : n;
  const bool stream = 4 * panel * sizeof(float) / threads() > kL2Bytes;
  parallel_for(threads(), [&](int part) {
    std::size_t j0, j1;
    split(columns, threads(), part, kPanelWidth, j0, j1);
    if (j0 == j1) return;
    for (int k = 0; k < 4; ++k) {
      if (transposed)
        pack_panels(m[k] + j0 * n, n, true, n, j1 - j0, packed + k * panel + j0 * n, 0, stream);
      else
        pack_panels(m[k] + j0, n, false, H, j1 - j0, packed + j0 * 4 * H + k * H * kPanelWidth, 4 * H * kPanelWidth,
                    stream);
    }
  });
  return packed;
}

// C[r][k·H + j] (+)= Σ_i A[r][i] · M_k[j][i] for the gate columns [j0, j1)
// against pack_gates(..., transposed): one call when gates' panels abut.
// `transposed`: A as transpose_columns made it, or null.
void gates_gemm(std::size_t rows, std::size_t n, const float* a, std::size_t lda, const float* packed, std::size_t H,
                std::size_t j0, std::size_t j1, float* c, std::size_t ldc, bool accumulate,
                const float* transposed = nullptr) {
  const std::size_t panel = packed_panel_size(n, H);
  PanelTarget targets[4];
  const bool abut = j0 == 0 && j1 == H && H % kPanelWidth == 0;
  if (abut) targets[0] = {packed, 4 * H, c, ldc, accumulate};
  else
    for (int k = 0; k < 4; ++k) targets[k] = {packed + k * panel + j0 * n, j1 - j0, c + k * H + j0, ldc, accumulate};
  small_gemm(rows, n, a, lda, targets, abut ? 1 : 4, nullptr, 0, transposed);
}

// run(r, count, j0, j1) over rows [0, rows) and columns [0, columns) of a
// product whose left operand is k floats wide (columns: hidden units, each
// with its four gates, for the projection; dx's columns for dx). Threads get
// equal runs of tiles of 16 rows x 16 columns in row-major order (by rows
// alone, 400 rows made 25 groups for 16 threads: 2 for some, 1 for others),
// and a thread done with its own takes the last row group of another's; whole
// row groups come in chunks whose transposed rows (count x k floats, a quarter
// of L2) stay in L2 while every panel passes, a partial group alone (its rows
// transposed by each thread that has part of it).
template <typename Run>
void for_tiles(std::size_t rows, std::size_t k, std::size_t columns, const Run& run) {
  const std::size_t floats = kL2Bytes / 4 / sizeof(float);
  const std::size_t chunk_groups = std::max<std::size_t>(1, floats / k / kPanelWidth);
  const std::size_t panels = (columns + kPanelWidth - 1) / kPanelWidth;
  const std::size_t tiles = (rows + kPanelWidth - 1) / kPanelWidth * panels;
  const auto own_run = [&](std::size_t lo, std::size_t hi) {  // whole groups, or to the group's end
    if (lo % panels == 0 && hi - lo >= panels) return std::min((hi - lo) / panels, chunk_groups) * panels;
    return std::min(panels - lo % panels, hi - lo);
  };
  const auto last_group = [&](std::size_t lo, std::size_t hi) { return hi - std::max(lo, (hi - 1) / panels * panels); };
  StealingSplit dealt(tiles, threads());
  parallel_for(threads(), [&](int part) {
    for (std::size_t t0, t1; dealt.next(part, t0, t1, own_run, last_group);) {
      const std::size_t r = t0 / panels * kPanelWidth, p = t0 % panels;
      if (p > 0 || t1 - t0 < panels)
        run(r, std::min(kPanelWidth, rows - r), p * kPanelWidth, std::min(columns, (p + t1 - t0) * kPanelWidth));
      else
        run(r, std::min(rows, r + (t1 - t0) / panels * kPanelWidth) - r, 0, columns);
    }
  });
}

// Units [j0, j1) of each gate of `rows` rows, between two [rows][4H] buffers.
void copy_gate_columns(const float* from, float* to, std::size_t rows, std::size_t H, std::size_t j0,
                       std::size_t j1) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < 4; ++k)
      std::memcpy(to + r * 4 * H + k * H + j0, from + r * 4 * H + k * H + j0, (j1 - j0) * sizeof(float));
}

// gates_gemm of all units over many rows.
void gates_gemm_parallel(std::size_t rows, std::size_t n, const float* a, std::size_t lda, const float* packed,
                         std::size_t H, float* c, std::size_t ldc) {
  for_tiles(rows, n, H, [&](std::size_t r, std::size_t count, std::size_t j0, std::size_t j1) {
    gates_gemm(count, n, a + r * lda, lda, packed, H, j0, j1, c + r * ldc, ldc, false);
  });
}

// Each gate's peephole as what the kernels do with it: full ones ([H][H]) go
// through GEMMs, diagonal ones ([H]) into the fused passes; null where absent.
struct Peepholes {
  const float* full[4] = {nullptr, nullptr, nullptr, nullptr};
  const float* diagonal[4] = {nullptr, nullptr, nullptr, nullptr};
  Peepholes(const LstmConfig& c, const Gates<const float>& p) {
    std::copy(p.v, p.v + 4, c.peephole_diagonal ? diagonal : full);
  }
};

// y: the user's output in the call's layout, or null (not the last layer).
// `training`: the activated gates must end in `gates` (the training cache).
void forward_direction(const LstmConfig& c, std::size_t l, std::size_t d, const Sequence& in,
                       const Gates<const float>& p, const float* h0, const float* c0, float* gates, float* cells,
                       float* out, float* y, float* hn, float* cn, bool training) {
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, G4 = 4 * H, DH = c.directions * H;
  const std::size_t width = c.layer_input(l);
  const Plan plan(c);
  const float* packed_w = pack_gates(slot_packed_w, p.w, H, width, true);
  // The input projection: with each thread on its own rows and W and U both in
  // its L2, inside the step (gates stay in cache between the projection and
  // the step); otherwise for all steps at once, before the recurrence.
  const bool project_in_step = plan.by_rows && 16 * H * (width + H) <= kL2Bytes;
  if (!project_in_step) {
    if (in.contiguous) {
      gates_gemm_parallel(T * B, width, in.data, width, packed_w, H, gates, G4);
    } else {
      for (std::size_t b = 0; b < B; ++b)
        gates_gemm_parallel(T, width, in.data + b * in.row, in.step, packed_w, H, gates + b * G4, B * G4);
    }
  }
  const Peepholes peepholes(c, p);
  const float* const* full = peepholes.full;
  const float* packed_u = pack_gates(slot_packed, p.u, H, H, true);
  float* h_transposed = plan.shares_transposition ? scratch(slot_h_transposed, 2 * B * H) : nullptr;
  SpinBarrier barrier(plan.parts);
  parallel_for(plan.parts, [&](int part) {
    const Plan::Part range = plan.part(c, part);
    const std::size_t r0 = range.r0, j0 = range.j0, j1 = range.j1;
    const std::size_t rows = range.rows(), n = range.units();
    const bool work = !range.empty();
    float* squashed = scratch(slot_row, H);
    // The gates are made in a buffer of the thread's own and go into the
    // training cache once activated. With the projection in the step, by
    // streaming stores: it wrote the cache's cold lines, each read from memory
    // first (128/32/100 on 2 cores: -1 to -4%). On narrow slices of units
    // whose edges are not on line boundaries (H not a multiple of 16: the
    // cache's sections are 64-byte aligned), copied in and out: there a
    // slice's edges share lines with the next slice's, which every pass over
    // the gates took back and forth (16-core host, 16 parts, cache 16 bytes
    // past a line: copied, -5 to -7% at 256/4/150 and 256/16/150, -2 to -3% at
    // 1024/16/100 and 512/16/25; 2 parts of 128 units: +1 to +2%). Where the
    // edges are on boundaries, copying only costs (forward 3-8% slower at
    // 256/16/150 and 512/16/25).
    const bool narrow_slice = !plan.by_rows && plan.parts > 1 && n <= kNarrowSliceUnits &&
                              H % kLineFloats != 0 && rows * G4 * sizeof(float) <= kL2Bytes;
    float* hot = project_in_step || narrow_slice ? scratch(slot_hot_gates, rows * G4) : nullptr;
    const CellSlice slice{c, rows, j0, j1, p.b, peepholes.diagonal};
    for (std::size_t s = 0; s < T; ++s) {
      const std::size_t t = d == 0 ? s : T - 1 - s, previous = d == 0 ? t - 1 : t + 1;
      const std::size_t h_ld = s == 0 ? H : DH;
      const float* h_prev = s == 0 ? (h0 ? h0 + r0 * H : nullptr) : out + (previous * B + r0) * DH + d * H;
      const float* c_prev = s == 0 ? (c0 ? c0 + r0 * H : nullptr) : cells + (previous * B + r0) * H;
      float* g_cache = gates + (t * B + r0) * G4;
      float* g = hot ? hot : g_cache;
      float* c_new = cells + (t * B + r0) * H;
      if (work) {
        if (project_in_step)
          gates_gemm(rows, width, in.data + t * in.step + r0 * in.row, in.row, packed_w, H, j0, j1, g, G4, false);
        else if (hot)
          copy_gate_columns(g_cache, hot, rows, H, j0, j1);
        const float* h_prev_transposed = h_transposed && s > 0 ? h_transposed + (s - 1) % 2 * B * H : nullptr;
        if (h_prev) gates_gemm(rows, H, h_prev, h_ld, packed_u, H, j0, j1, g, G4, true, h_prev_transposed);
        for (int k = 0; k < 3; ++k)
          if (full[k] && c_prev)
            sgemm(false, true, rows, n, H, 1.0f, c_prev, H, full[k] + j0 * H, H, 1.0f, g + k * H + j0, G4);
        forward_cell(slice, g, c_prev, c_new);
      }
      if (full[3]) {  // the output gate's peephole reads every unit's new cell
        if (!plan.by_rows) barrier.wait();
        if (work) sgemm(false, true, rows, n, H, 1.0f, c_new, H, full[3] + j0 * H, H, 1.0f, g + 3 * H + j0, G4);
      }
      if (work)
        forward_output(slice, g, c_new, out + (t * B + r0) * DH + d * H, DH,
                       y ? y + t * c.step_stride(DH) + r0 * c.row_stride(DH) + d * H : nullptr, c.row_stride(DH),
                       squashed);
      if (work && hot && training) {
        if (project_in_step) stream_floats(hot, rows * G4, g_cache);
        else copy_gate_columns(hot, g_cache, rows, H, j0, j1);
      }
      if (work && h_transposed && s + 1 < T)
        transpose_columns(B, H, out + t * B * DH + d * H, DH, j0, j1, h_transposed + s % 2 * B * H);
      if (!plan.by_rows) barrier.wait();  // the next step's GEMM reads every unit's h
    }
    if (project_in_step && training) fence_streams();  // the gates streamed into the cache
  });
  const std::size_t last = d == 0 ? T - 1 : 0;
  for (std::size_t r = 0; r < B; ++r) {
    if (hn) std::memcpy(hn + r * H, out + (last * B + r) * DH + d * H, H * sizeof(float));
    if (cn) std::memcpy(cn + r * H, cells + (last * B + r) * H, H * sizeof(float));
  }
}

// Gradients of one direction of one layer. dy: the gradient of the layer's
// output ([T][B][DH] as `step` and `row` strides say), or null; dx
// (accumulated when `accumulate_dx`): [T][B][I_l].
// Parameter gradients are written where `grads` has them.
void backward_direction(const LstmConfig& c, std::size_t l, std::size_t d, const Sequence& in,
                        const Gates<const float>& p, const Gates<float>& grads, const float* h0, const float* c0,
                        const float* gates, const float* cells, const float* out, const Sequence& dy,
                        const float* dhn, const float* dcn, float* dx, bool accumulate_dx, float* dh0,
                        float* dc0) {
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, G4 = 4 * H, DH = c.directions * H;
  const std::size_t width = c.layer_input(l);
  const Peepholes peepholes(c, p);
  const float* const* full = peepholes.full;
  // Gate gradients, grouped for gemm_tn and the dx product, copied there from
  // a buffer of two steps (read hot by the step's GEMMs, or transposed from
  // it into dg_transposed, and by the full peepholes' products; a barrier a
  // step keeps the parts a step apart at most); also by rows for full
  // peepholes.
  const GroupedMatrix dgates{scratch(slot_dg, T * B * G4), T * B, G4};
  float* step_dg = scratch(slot_dg_step, 2 * B * G4);
  float* dgates_rows = full[0] || full[1] || full[2] || full[3] ? scratch(slot_dg_rows, T * B * G4) : nullptr;
  float* dh = scratch(slot_dh, B * H);  // gradient reaching h of the step being processed
  float* dc = scratch(slot_dc, B * H);  // gradient reaching c of the step being processed

  const Plan plan(c);
  float* dg_transposed = plan.shares_transposition ? scratch(slot_dg_transposed, 2 * B * G4) : nullptr;
  const float* packed_u = pack_gates(slot_packed, p.u, H, H, false);
  // dx: with each thread on its own rows, inside the step, from the same
  // transposed gate gradients as dh, while W and U stay in a quarter of L3
  // (H = 1024: 32 MB streamed from memory every step, 14% slower); otherwise
  // for all steps after the loop.
  const bool dx_in_step = dx && plan.by_rows && 16 * H * (width + H) <= kL3Bytes / 4;
  // Not the forward's buffer: dx reads this one on every core at the end of
  // the call, and the next call's first pass rewriting it right after waited
  // on their invalidations (16 cores, H = 1024: 1.9 ms, 0.4-0.55 apart).
  const float* packed_w = dx ? pack_gates(slot_packed_w_backward, p.w, H, width, false) : nullptr;
  // Diagonal peephole and bias gradients: accumulators [4H] of each part
  // (dv of part p at sums + 2p·4H, db after it), summed after the loop. The
  // bias sums come from the step's hot gate gradients: summed from dgates
  // after the loop they cost ~4% of a step at H = 128 (a second pass over it).
  const bool want_b = grads.b[0] || grads.b[1] || grads.b[2] || grads.b[3];
  float* sums = scratch(slot_sums, plan.parts * 2 * G4);
  std::fill(sums, sums + plan.parts * 2 * G4, 0.0f);
  SpinBarrier barrier(plan.parts);
  parallel_for(plan.parts, [&](int part) {
    const Plan::Part range = plan.part(c, part);
    const std::size_t r0 = range.r0, r1 = range.r1, j0 = range.j0, j1 = range.j1;
    const std::size_t rows = range.rows(), n = range.units();
    const bool work = !range.empty();
    float* squashed = scratch(slot_row, 3 * H);
    const CellSlice slice{c, rows, j0, j1, p.b, peepholes.diagonal};
    for (std::size_t r = r0; r < r1; ++r)
      for (std::size_t j = j0; j < j1; ++j) {
        dh[r * H + j] = dhn ? dhn[r * H + j] : 0.0f;
        dc[r * H + j] = dcn ? dcn[r * H + j] : 0.0f;
      }
    for (std::size_t s = 0; s < T; ++s) {
      const std::size_t t = d == 0 ? T - 1 - s : s, previous = d == 0 ? t - 1 : t + 1;
      const float* c_prev = s == T - 1 ? (c0 ? c0 + r0 * H : nullptr) : cells + (previous * B + r0) * H;
      const float* g = gates + (t * B + r0) * G4;
      const float* c_now = cells + (t * B + r0) * H;
      float* dg = step_dg + (s % 2) * B * G4 + r0 * G4;
      float* dhr = dh + r0 * H;
      float* dcr = dc + r0 * H;
      if (work)
        backward_output(slice, g, c_now, dhr, dy.data ? dy.at(t, r0) + d * H : nullptr, dy.row, dcr, dg, squashed);
      if (full[3]) {  // every unit's output gate reaches this slice's cells
        if (!plan.by_rows) barrier.wait();
        if (work) sgemm(false, false, rows, n, H, 1.0f, dg + 3 * H, G4, full[3] + j0, H, 1.0f, dcr + j0, H);
      }
      if (work) {
        float* dv = sums + part * 2 * G4;
        backward_gates(slice, g, c_now, c_prev, dcr, dg, dv, want_b ? dv + G4 : nullptr);
        if (dgates_rows) copy_gate_columns(dg, dgates_rows + (t * B + r0) * G4, rows, H, j0, j1);
        for (int k = 0; k < 4; ++k) {
          copy_to_groups(dg, G4, rows, k * H + j0, k * H + j1, dgates, t * B + r0);
          if (dg_transposed) transpose_columns(B, G4, dg, G4, k * H + j0, k * H + j1, dg_transposed + s % 2 * B * G4);
        }
      }
      if (!plan.by_rows) barrier.wait();  // the GEMMs below read every unit's gate gradients
      if (!work) continue;
      for (int k = 0; k < 3; ++k)
        if (full[k]) sgemm(false, false, rows, n, H, 1.0f, dg + k * H, G4, full[k] + j0, H, 1.0f, dcr + j0, H);
      const PanelTarget targets[2] = {{packed_u + j0 * G4, n, dhr + j0, H, false},
                                      {packed_w, width, dx_in_step ? dx + (t * B + r0) * width : nullptr, width,
                                       accumulate_dx}};
      // What the next step reads from memory (written by the forward long
      // before): its gates, its previous cells, its dy, fetched during the
      // GEMMs. The element-wise passes ran 2x slower on them cold (128/32/100:
      // -2.5% a step fetched). A part's own units only: with 16 parts of units
      // at H = 1024, each fetching whole rows moved 16x the data into every L2.
      PrefetchRegion next[6];
      std::size_t regions = 0;
      if (s + 1 < T) {
        const std::size_t tn = d == 0 ? t - 1 : t + 1, unit_bytes = n * sizeof(float);
        for (int k = 0; k < 4; ++k)
          next[regions++] = {gates + (tn * B + r0) * G4 + k * H + j0, unit_bytes, rows, G4 * sizeof(float)};
        const std::size_t before_next = d == 0 ? tn - 1 : tn + 1;  // the step whose cells the next one reads
        if (s + 2 < T) next[regions++] = {cells + (before_next * B + r0) * H + j0, unit_bytes, rows, H * sizeof(float)};
        if (dy.data) next[regions++] = {dy.at(tn, r0) + d * H + j0, unit_bytes, rows, dy.row * sizeof(float)};
      }
      small_gemm(rows, G4, dg, G4, targets, dx_in_step ? 2 : 1, next, regions,
                 dg_transposed ? dg_transposed + s % 2 * B * G4 : nullptr);
    }
    fence_streams();  // the gate gradients streamed into dgates, which gemm_tn reads on every thread
  });
  if (dh0) std::memcpy(dh0, dh, B * H * sizeof(float));
  if (dc0) std::memcpy(dc0, dc, B * H * sizeof(float));

  // Parameter gradients over all steps at once. U and V pair step t's gate
  // gradients with the state before it: for the forward direction steps 1..
  // with states 0.., for the backward one the reverse.
  const std::size_t later = d == 0 ? 1 : 0, earlier = d == 0 ? 0 : 1, first = d == 0 ? 0 : T - 1;
  // dW and dU in one pass over dgates: [dW | dU] = dgatesᵀ · [x | h_prev]
  // with one row of x and h_prev per (step, batch row).
  const bool want_w = grads.w[0] || grads.w[1] || grads.w[2] || grads.w[3];
  const bool want_u = grads.u[0] || grads.u[1] || grads.u[2] || grads.u[3];
  std::vector<const float*> x_rows(want_w ? T * B : 0), h_rows(want_u ? T * B : 0);
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t b = 0; b < B; ++b) {
      if (want_w) x_rows[t * B + b] = in.data + t * in.step + b * in.row;
      if (!want_u) continue;
      const bool initial = t == first;
      const std::size_t previous = d == 0 ? t - 1 : t + 1;
      h_rows[t * B + b] = initial ? (h0 ? h0 + b * H : nullptr) : out + (previous * B + b) * DH + d * H;
    }
  // Row i of the product goes straight into the caller's array of gate i / H;
  // that of a gate whose gradient is not wanted, beside one that is, into
  // scratch (a row of its own: parts write their rows at the same time).
  const std::size_t widest = std::max(width, H);
  std::vector<float*> dw_rows(want_w ? G4 : 0), du_rows(want_u ? G4 : 0);
  float* unwanted = scratch(slot_unwanted, want_w || want_u ? G4 * widest : 0);
  for (std::size_t i = 0; i < G4; ++i) {
    const std::size_t k = i / H, j = i % H;
    if (want_w) dw_rows[i] = grads.w[k] ? grads.w[k] + j * width : unwanted + i * widest;
    if (want_u) du_rows[i] = grads.u[k] ? grads.u[k] + j * H : unwanted + i * widest;
  }
  std::vector<RowBlock> blocks;
  if (want_w) blocks.push_back({x_rows.data(), width, dw_rows.data()});
  if (want_u) blocks.push_back({h_rows.data(), H, du_rows.data()});
  if (!blocks.empty()) gemm_tn(dgates, blocks);
  for (int part = 1; part < plan.parts; ++part)  // sums of part 0 += those of the others
    for (std::size_t i = 0; i < 2 * G4; ++i) sums[i] += sums[part * 2 * G4 + i];
  for (int k = 0; k < 4; ++k)
    if (grads.b[k]) std::memcpy(grads.b[k], sums + G4 + k * H, H * sizeof(float));
  for (int k = 0; k < 4; ++k) {
    float* dv = grads.v[k];
    if (!dv || !p.v[k]) continue;
    if (c.peephole_diagonal) {
      std::memcpy(dv, sums + k * H, H * sizeof(float));
    } else {
      const float* dgk = dgates_rows + k * H;
      if (k < 3) {  // V_k reads the previous cell
        if (T > 1)
          sgemm_parallel(true, false, H, H, (T - 1) * B, 1.0f, dgk + later * B * G4, G4, cells + earlier * B * H, H,
                         0.0f, dv, H);
        else
          std::fill(dv, dv + H * H, 0.0f);
        if (c0) sgemm_parallel(true, false, H, H, B, 1.0f, dgk + first * B * G4, G4, c0, H, 1.0f, dv, H);
      } else {  // the output gate's reads the new one
        sgemm_parallel(true, false, H, H, T * B, 1.0f, dgk, G4, cells, H, 0.0f, dv, H);
      }
    }
  }
  if (dx && !dx_in_step) {  // dx (+)= dgates · [W_i; W_f; W_c; W_o]
    for_tiles(T * B, G4, width, [&](std::size_t r, std::size_t count, std::size_t j0, std::size_t j1) {
      small_gemm(count, dgates, r, packed_w + j0 * G4, j1 - j0, dx + r * width + j0, width, accumulate_dx);
    });
  }
}

}  // namespace

void lstm_forward_fast(const detail::LstmForwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, DH = c.directions * H;
  const bool training = bool(args.cache);
  const LstmCache cache{c, host<char>(args.cache)};
  const float* below = nullptr;
  for (std::size_t l = 0; l < c.num_layers; ++l) {
    std::uint8_t* mask = training && c.uses_dropout(l) ? cache.mask(l) : nullptr;
    if (mask) write_dropout_mask(c, l, mask);
    const Sequence in = layer_input(c, l, host<const float>(args.x), below, mask);
    float* out = training ? cache.output(l) : scratch(l % 2 ? slot_out1 : slot_out0, T * B * DH);
    // The last layer's steps also go to the user's y as they are made (the
    // BNNS front refuses y overlapping anything the layer reads).
    float* y = l + 1 == c.num_layers ? host<float>(args.y) : nullptr;
    for (std::size_t d = 0; d < c.directions; ++d) {
      float* gates = training ? cache.gates(l, d) : scratch(slot_gates, T * B * 4 * H);
      float* cells = training ? cache.cells(l, d) : scratch(slot_cells, T * B * H);
      forward_direction(c, l, d, in, Gates<const float>(args.weights, c, l, d), state(host<float>(args.h0), c, l, d),
                        state(host<float>(args.c0), c, l, d), gates, cells, out, y,
                        state(host<float>(args.hn), c, l, d), state(host<float>(args.cn), c, l, d), training);
    }
    below = out;
  }
}

void lstm_backward_fast(const detail::LstmBackwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, DH = c.directions * c.hidden_size;
  const LstmCache cache{c, host<char>(args.cache)};
  Sequence dy = user_sequence(c, host<const float>(args.dy), DH);  // read in place, as x is
  for (std::size_t l = c.num_layers; l-- > 0;) {
    const std::uint8_t* mask = c.uses_dropout(l) ? cache.mask(l) : nullptr;
    const Sequence in = layer_input(c, l, host<const float>(args.x), l ? cache.output(l - 1) : nullptr, mask);
    const std::size_t width = c.layer_input(l);
    // Ping-pong: this layer's input gradient becomes the output gradient of
    // the layer below. The first layer's lands in the user's dx directly
    // where the layouts agree (SNE).
    float* user_dx = l == 0 ? host<float>(args.dx) : nullptr;
    float* dx = user_dx && !c.batch_first ? user_dx
                : l > 0 || user_dx        ? scratch(l % 2 ? slot_dx1 : slot_dx0, T * B * width)
                                          : nullptr;
    for (std::size_t d = 0; d < c.directions; ++d)
      backward_direction(c, l, d, in, Gates<const float>(args.weights, c, l, d), Gates<float>(args.gradients, c, l, d),
                         state(host<float>(args.h0), c, l, d), state(host<float>(args.c0), c, l, d),
                         cache.gates(l, d), cache.cells(l, d), cache.output(l), dy,
                         state(host<float>(args.dhn), c, l, d), state(host<float>(args.dcn), c, l, d), dx, d > 0,
                         state(host<float>(args.dh0), c, l, d), state(host<float>(args.dc0), c, l, d));
    if (l == 0) {
      if (user_dx && dx != user_dx) scatter_steps(c, dx, user_dx, width);
    } else {
      if (mask) apply_dropout(c, dx, dx, mask, T * B * width);
      dy = {dx, B * width, width, true};
    }
  }
}

void CpuBackend::encode_lstm_forward(detail::CommandBufferState& buffer, const detail::LstmForwardArgs& args) {
  buffer.add_command([args] { args.reference ? lstm_forward_reference(args) : lstm_forward_fast(args); });
}

void CpuBackend::encode_lstm_backward(detail::CommandBufferState& buffer, const detail::LstmBackwardArgs& args) {
  buffer.add_command([args] { args.reference ? lstm_backward_reference(args) : lstm_backward_fast(args); });
}

}  // namespace mpsnn::cpu
