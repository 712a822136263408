// Multiplies two matrices and takes one Adam step on the CPU device through the
// installed library, and prints inputs and results for the test to check.
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
