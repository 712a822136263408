// Multiplies two matrices, takes one Adam step and runs an LSTM forward (BNNS
// API) on the CPU through the installed library, and prints inputs and results
// for the test to check.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <vector>

#include <mpsnn/mpsnn.hpp>

int main() {
  try {
    mpsnn::Device cpu("cpu");
    const std::size_t m = 3, n = 2, k = 4;
    std::vector<float> a(m * k), b(k * n), c(m * n);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = 0.5f * float(i) - 1.0f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = 1.0f / float(i + 1);
    mpsnn::Matrix left(cpu, m, k), right(cpu, k, n), result(cpu, m, n);
    left.write(a.data());
    right.write(b.data());

    mpsnn::CommandQueue queue(cpu);
    mpsnn::CommandBuffer buffer = queue.make_command_buffer();
    mpsnn::MatrixMultiplication(cpu, m, n, k).encode(buffer, left, right, result);
    bool handler_ran = false;
    buffer.add_completed_handler([&](mpsnn::CommandBuffer&) { handler_ran = true; });
    buffer.commit();
    buffer.wait_until_completed();
    result.read(c.data());

    std::printf("version %s handler %d\n", MPSNN_VERSION, handler_ran ? 1 : 0);
    for (float x : a) std::printf("a %.9g\n", x);
    for (float x : b) std::printf("b %.9g\n", x);
    for (float x : c) std::printf("c %.9g\n", x);

    // One Adam step on a vector (a 1-row matrix), updated in place.
    std::vector<float> w(4), g(4);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * float(i) - 0.5f, g[i] = 1.0f - 0.5f * float(i);
    mpsnn::Matrix weights(cpu, 1, 4), gradient(cpu, 1, 4);
    weights.write(w.data());
    gradient.write(g.data());
    mpsnn::OptimizerAdam adam(cpu, 0.1f);
    const mpsnn::OptimizerState state = adam.make_state(weights);
    mpsnn::CommandBuffer step = queue.make_command_buffer();
    adam.encode(step, gradient, weights, state);
    step.commit();
    step.wait_until_completed();
    std::vector<float> updated(4);
    weights.read(updated.data());
    for (std::size_t i = 0; i < w.size(); ++i) std::printf("adam %.9g %.9g %.9g\n", w[i], g[i], updated[i]);

    // An LSTM forward: T=2, B=1, I=2, H=3, default activations, weights
    // W_k[j][i] = 0.1 (k + 1) (j - i), U_k[j][i] = 0.05 (j + i - k), b_k[j] = 0.1 j.
    const std::size_t T = 2, I = 2, H = 3;
    std::vector<float> x{0.5f, -1.0f, 1.5f, 0.25f}, y(T * H);
    std::vector<std::vector<float>> iw(4, std::vector<float>(H * I)), hw(4, std::vector<float>(H * H)),
        bias(4, std::vector<float>(H));
    for (int g = 0; g < 4; ++g)
      for (std::size_t j = 0; j < H; ++j) {
        bias[g][j] = 0.1f * float(j);
        for (std::size_t i = 0; i < I; ++i) iw[g][j * I + i] = 0.1f * float(g + 1) * (float(j) - float(i));
        for (std::size_t i = 0; i < H; ++i) hw[g][j * H + i] = 0.05f * (float(j) + float(i) - float(g));
      }
    namespace bnns = mpsnn::bnns;
    bnns::LayerParametersLSTM lstm;
    lstm.input_size = I, lstm.hidden_size = H, lstm.batch_size = 1, lstm.num_layers = 1, lstm.seq_len = T;
    lstm.lstm_flags = bnns::lstm_default_activations;
    lstm.input_descriptor.data_desc = {x.data(), {T, 1, I}};
    lstm.output_descriptor.data_desc = {y.data(), {T, 1, H}};
    bnns::LSTMGateDescriptor* gates[4] = {&lstm.input_gate, &lstm.forget_gate, &lstm.candidate_gate, &lstm.output_gate};
    for (int g = 0; g < 4; ++g) {
      gates[g]->iw_desc[0] = {iw[g].data(), {1, 1, H, I}};
      gates[g]->hw_desc = {hw[g].data(), {1, 1, H, H}};
      gates[g]->b_desc = {bias[g].data(), {1, 1, H}};
    }
    bnns::direct_apply_lstm_batch_training_caching(lstm);
    for (float v : y) std::printf("lstm %.9g\n", v);

    try {  // bad input is an exception, never a crash
      mpsnn::Matrix(cpu, 0, 3);
    } catch (const std::invalid_argument& e) {
      std::printf("error %s\n", e.what());
    }
    try {
      mpsnn::CommandBuffer unused = queue.make_command_buffer();
      adam.encode(unused, mpsnn::Matrix(cpu, 1, 3), weights, state);
    } catch (const std::invalid_argument& e) {
      std::printf("error %s\n", e.what());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer failed: %s\n", e.what());
    return 1;
  }
}
