// DataType, MatrixDescriptor, Matrix (NumPy in and out; zero-copy on the CPU).
#include <pybind11/stl.h>

#include <vector>

#include "bindings.hpp"
#include "mpsnn/matrix.hpp"

namespace mpsnn::python {

DataType to_data_type(const py::handle& dtype, const char* name) {
  if (py::isinstance<DataType>(dtype)) return dtype.cast<DataType>();
  py::dtype resolved;
  try {
    resolved = py::dtype::from_args(py::reinterpret_borrow<py::object>(dtype));
  } catch (py::error_already_set&) {
    throw py::value_error(std::string(name) + " " + py::str(py::repr(dtype)).cast<std::string>() +
                          " is not a data type; expected mpsnn.float32 or mpsnn.float16");
  }
  if (resolved.equal(py::dtype::of<float>())) return DataType::float32;
  if (resolved.equal(py::dtype("float16"))) return DataType::float16;
  throw py::value_error(std::string(name) + " " + py::str(resolved).cast<std::string>() +
                        " is not supported; expected float32 or float16");
}

py::dtype numpy_dtype(DataType type) {
  return type == DataType::float16 ? py::dtype("float16") : py::dtype::of<float>();
}

DataType array_data_type(const py::array& array, const char* name) {
  const py::dtype dtype = array.dtype();
  if (dtype.equal(py::dtype::of<float>())) return DataType::float32;
  if (dtype.equal(py::dtype("float16"))) return DataType::float16;
  throw py::value_error(std::string(name) + " has dtype " + py::str(dtype).cast<std::string>() +
                        "; expected float32 or float16 (convert with array.astype(numpy.float32))");
}

namespace {

// The descriptor of an array whose elements a matrix can address in place.
MatrixDescriptor describe(const py::array& array, const char* name) {
  const DataType type = array_data_type(array, name);
  const auto element = static_cast<py::ssize_t>(size_of(type));
  if (array.ndim() != 2 && array.ndim() != 3)
    throw py::value_error(std::string(name) + " must have 2 dimensions (rows, columns) or 3 "
                          "(matrices, rows, columns); got " + std::to_string(array.ndim()));
  if (array.size() == 0) throw py::value_error(std::string(name) + " is empty");
  const bool batched = array.ndim() == 3;
  const py::ssize_t matrices = batched ? array.shape(0) : 1;
  const py::ssize_t rows = array.shape(batched ? 1 : 0), columns = array.shape(batched ? 2 : 1);
  const py::ssize_t column_stride = array.strides(batched ? 2 : 1);
  py::ssize_t row_stride = array.strides(batched ? 1 : 0);
  py::ssize_t matrix_stride = batched ? array.strides(0) : rows * row_stride;
  if (rows == 1) row_stride = columns * element;  // a single row's stride is arbitrary
  if (batched && matrices == 1) matrix_stride = rows * row_stride;
  const bool addressable = (columns == 1 || column_stride == element) &&
                           row_stride >= columns * element && row_stride % element == 0 &&
                           matrix_stride >= rows * row_stride && matrix_stride % element == 0;
  if (!addressable)
    throw py::value_error(std::string(name) + " is not laid out as rows of contiguous elements "
                          "(strides " + py::str(py::tuple(py::cast(std::vector<py::ssize_t>(
                              array.strides(), array.strides() + array.ndim())))).cast<std::string>() +
                          "); pass numpy.ascontiguousarray(" + name + ")");
  return MatrixDescriptor(rows, columns, type, matrices, row_stride, matrix_stride);
}

}  // namespace

std::vector<py::ssize_t> numpy_shape(const Matrix& matrix) {
  std::vector<py::ssize_t> shape;
  if (matrix.matrices() > 1) shape.push_back(matrix.matrices());
  shape.push_back(matrix.rows());
  shape.push_back(matrix.columns());
  return shape;
}

py::array to_numpy(const Matrix& matrix) {
  py::array out(numpy_dtype(matrix.data_type()), numpy_shape(matrix));
  void* data = out.mutable_data();
  {
    py::gil_scoped_release release;
    matrix.read(data);
  }
  return out;
}

void bind_matrix(py::module_& m) {
  py::enum_<DataType>(m, "DataType")
      .value("float32", DataType::float32)
      .value("float16", DataType::float16)
      .def_property_readonly("size", [](DataType t) { return size_of(t); })
      .def_property_readonly("numpy_dtype", &numpy_dtype);
  m.attr("float32") = DataType::float32;
  m.attr("float16") = DataType::float16;

  py::class_<Origin>(m, "Origin", "A position in a matrix: x is the row, y the column, z the matrix.")
      .def(py::init([](std::int64_t x, std::int64_t y, std::int64_t z) {
             return Origin{to_size(x, "x", 0), to_size(y, "y", 0), to_size(z, "z", 0)};
           }),
           py::arg("x") = 0, py::arg("y") = 0, py::arg("z") = 0)
      .def(py::init([](py::tuple t) {
        if (t.size() < 2 || t.size() > 3)
          throw py::value_error("origin must be (x, y) or (x, y, z); got " +
                                py::str(py::repr(t)).cast<std::string>());
        return Origin{to_size(t[0].cast<std::int64_t>(), "x", 0),
                      to_size(t[1].cast<std::int64_t>(), "y", 0),
                      t.size() == 3 ? to_size(t[2].cast<std::int64_t>(), "z", 0) : 0};
      }))
      .def_readwrite("x", &Origin::x)
      .def_readwrite("y", &Origin::y)
      .def_readwrite("z", &Origin::z)
      .def("__eq__", [](const Origin& a, const Origin& b) { return a.x == b.x && a.y == b.y && a.z == b.z; },
           py::is_operator())
      .def("__repr__", [](const Origin& o) {
        return "Origin(" + std::to_string(o.x) + ", " + std::to_string(o.y) + ", " +
               std::to_string(o.z) + ")";
      });
  py::implicitly_convertible<py::tuple, Origin>();

  py::class_<MatrixDescriptor>(m, "MatrixDescriptor")
      .def(py::init([](std::int64_t rows, std::int64_t columns, py::object dtype, std::int64_t matrices,
                       std::int64_t row_bytes, std::int64_t matrix_bytes) {
             MatrixDescriptor d(to_size(rows, "rows"), to_size(columns, "columns"),
                                to_data_type(dtype), to_size(matrices, "matrices"),
                                to_size(row_bytes, "row_bytes", 0), to_size(matrix_bytes, "matrix_bytes", 0));
             if (!d.row_bytes) d.row_bytes = MatrixDescriptor::row_bytes_from_columns(d.columns, d.data_type);
             if (!d.matrix_bytes) d.matrix_bytes = d.rows * d.row_bytes;
             d.validate("matrix_descriptor");
             return d;
           }),
           py::arg("rows"), py::arg("columns"), py::arg("dtype") = DataType::float32,
           py::arg("matrices") = 1, py::arg("row_bytes") = 0, py::arg("matrix_bytes") = 0)
      .def_static("row_bytes_from_columns",
                  [](std::int64_t columns, py::object dtype) {
                    return MatrixDescriptor::row_bytes_from_columns(to_size(columns, "columns"),
                                                                    to_data_type(dtype));
                  },
                  py::arg("columns"), py::arg("dtype") = DataType::float32)
      .def_readonly("rows", &MatrixDescriptor::rows)
      .def_readonly("columns", &MatrixDescriptor::columns)
      .def_readonly("matrices", &MatrixDescriptor::matrices)
      .def_readonly("row_bytes", &MatrixDescriptor::row_bytes)
      .def_readonly("matrix_bytes", &MatrixDescriptor::matrix_bytes)
      .def_readonly("data_type", &MatrixDescriptor::data_type)
      .def("__repr__", [](const MatrixDescriptor& d) {
        return "MatrixDescriptor(rows=" + std::to_string(d.rows) + ", columns=" +
               std::to_string(d.columns) + ", matrices=" + std::to_string(d.matrices) +
               ", row_bytes=" + std::to_string(d.row_bytes) + ", matrix_bytes=" +
               std::to_string(d.matrix_bytes) + ", dtype=" + to_string(d.data_type) + ")";
      });

  py::class_<Matrix>(m, "Matrix", py::buffer_protocol(),
                     "Matrix(device, rows, columns, dtype=float32) or Matrix(device, descriptor). "
                     "On the CPU, numpy.asarray(matrix) shares its memory.")
      .def(py::init([](const Device& device, std::int64_t rows, std::int64_t columns, py::object dtype) {
             return Matrix(device, to_size(rows, "rows"), to_size(columns, "columns"),
                           to_data_type(dtype));
           }),
           py::arg("device"), py::arg("rows"), py::arg("columns"), py::arg("dtype") = DataType::float32)
      .def(py::init<const Device&, const MatrixDescriptor&>(), py::arg("device"), py::arg("descriptor"))
      .def_static(
          "from_numpy",
          [](const Device& device, py::object object) {
            py::array array = as_array(object, "array");
            const MatrixDescriptor d = describe(array, "array");
            if (device.backend_name() == "cpu") {
              if (!array.writeable())
                throw py::value_error("array is read-only; a CPU matrix shares the array's memory, "
                                      "so pass a writable array (or array.copy())");
              return Matrix::wrap_host_memory(device, d, array.mutable_data(), hold(array));
            }
            Matrix matrix(device, MatrixDescriptor(d.rows, d.columns, d.data_type, d.matrices));
            py::array packed = py::array::ensure(array, py::array::c_style);
            matrix.write(packed.data());
            return matrix;
          },
          py::arg("device"), py::arg("array"),
          "A matrix over `array` ([rows, columns] or [matrices, rows, columns], float32 or float16): "
          "shares its memory on the CPU, copies it elsewhere.")
      .def("to_numpy", &to_numpy, "A copy of the elements as a new array.")
      .def_property_readonly("device", &Matrix::device)
      .def_property_readonly("descriptor", &Matrix::descriptor)
      .def_property_readonly("rows", &Matrix::rows)
      .def_property_readonly("columns", &Matrix::columns)
      .def_property_readonly("matrices", &Matrix::matrices)
      .def_property_readonly("row_bytes", &Matrix::row_bytes)
      .def_property_readonly("matrix_bytes", &Matrix::matrix_bytes)
      .def_property_readonly("data_type", &Matrix::data_type)
      .def_property_readonly("shape", [](const Matrix& m) { return py::tuple(py::cast(numpy_shape(m))); })
      .def_buffer([](Matrix& m) -> py::buffer_info {
        void* data = m.host_data();
        if (!data)
          throw py::buffer_error("matrix on " + m.device().name() +
                                 " is not host-visible; use matrix.to_numpy() for a copy");
        const auto element = static_cast<py::ssize_t>(size_of(m.data_type()));
        const char* format = m.data_type() == DataType::float16 ? "e" : "f";
        if (m.matrices() > 1)
          return py::buffer_info(data, element, format, 3,
                                 {py::ssize_t(m.matrices()), py::ssize_t(m.rows()), py::ssize_t(m.columns())},
                                 {py::ssize_t(m.matrix_bytes()), py::ssize_t(m.row_bytes()), element});
        return py::buffer_info(data, element, format, 2, {py::ssize_t(m.rows()), py::ssize_t(m.columns())},
                               {py::ssize_t(m.row_bytes()), element});
      })
      .def("__repr__", [](const Matrix& m) {
        return "Matrix(device='" + m.device().name() + "', rows=" + std::to_string(m.rows()) +
               ", columns=" + std::to_string(m.columns()) +
               (m.matrices() > 1 ? ", matrices=" + std::to_string(m.matrices()) : "") +
               ", dtype=" + to_string(m.data_type()) + ")";
      });
}

}  // namespace mpsnn::python
