// Encoded kernels: MatrixMultiplication.
#include "bindings.hpp"
#include "mpsnn/matrix_multiplication.hpp"

namespace mpsnn::python {

void bind_kernels(py::module_& m) {
  py::class_<MatrixMultiplication>(
      m, "MatrixMultiplication",
      "result = alpha * op(left) * op(right) + beta * result (MPSMatrixMultiplication).")
      .def(py::init([](const Device& device, std::int64_t result_rows, std::int64_t result_columns,
                       std::int64_t interior_columns, bool transpose_left, bool transpose_right,
                       double alpha, double beta) {
             return MatrixMultiplication(device, transpose_left, transpose_right,
                                         to_size(result_rows, "result_rows"),
                                         to_size(result_columns, "result_columns"),
                                         to_size(interior_columns, "interior_columns"), alpha, beta);
           }),
           py::arg("device"), py::arg("result_rows"), py::arg("result_columns"),
           py::arg("interior_columns"), py::kw_only(), py::arg("transpose_left") = false,
           py::arg("transpose_right") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0)
      .def("encode", &MatrixMultiplication::encode, py::arg("command_buffer"), py::arg("left_matrix"),
           py::arg("right_matrix"), py::arg("result_matrix"))
      .def_property_readonly("device", &MatrixMultiplication::device)
      .def_readwrite("transpose_left", &MatrixMultiplication::transpose_left)
      .def_readwrite("transpose_right", &MatrixMultiplication::transpose_right)
      .def_readwrite("alpha", &MatrixMultiplication::alpha)
      .def_readwrite("beta", &MatrixMultiplication::beta)
      .def_readonly("result_rows", &MatrixMultiplication::result_rows)
      .def_readonly("result_columns", &MatrixMultiplication::result_columns)
      .def_readonly("interior_columns", &MatrixMultiplication::interior_columns)
      .def_readwrite("left_matrix_origin", &MatrixMultiplication::left_matrix_origin)
      .def_readwrite("right_matrix_origin", &MatrixMultiplication::right_matrix_origin)
      .def_readwrite("result_matrix_origin", &MatrixMultiplication::result_matrix_origin)
      .def_property(
          "batch_start", [](const MatrixMultiplication& k) { return k.batch_start; },
          [](MatrixMultiplication& k, std::int64_t v) { k.batch_start = to_size(v, "batch_start", 0); })
      .def_property(
          "batch_size", [](const MatrixMultiplication& k) { return k.batch_size; },
          [](MatrixMultiplication& k, std::int64_t v) { k.batch_size = to_size(v, "batch_size", 0); });
}

}  // namespace mpsnn::python
