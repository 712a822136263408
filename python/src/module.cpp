#include "bindings.hpp"
#include "mpsnn/config.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "mpsnn: Metal Performance Shaders-style training on CPUs and NVIDIA GPUs";
  m.attr("__version__") = MPSNN_VERSION;
  mpsnn::python::bind_runtime(m);
  mpsnn::python::bind_matrix(m);
  mpsnn::python::bind_image(m);
  mpsnn::python::bind_kernels(m);
  mpsnn::python::bind_bnns(m);
  mpsnn::python::bind_optimizer(m);
}
