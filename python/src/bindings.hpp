// Helpers shared by the binding files.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mpsnn/types.hpp"

namespace mpsnn {
class Matrix;
}

namespace py = pybind11;

namespace mpsnn::python {

void bind_runtime(py::module_& m);
void bind_matrix(py::module_& m);
void bind_image(py::module_& m);
void bind_kernels(py::module_& m);
void bind_bnns(py::module_& m);
void bind_optimizer(py::module_& m);

// A size from Python: ValueError naming `name` unless it is >= minimum.
inline std::size_t to_size(std::int64_t value, const char* name, std::int64_t minimum = 1) {
  if (value < minimum)
    throw py::value_error(std::string(name) + " must be " +
                          (minimum == 1 ? "positive" : ">= " + std::to_string(minimum)) +
                          "; got " + std::to_string(value));
  return static_cast<std::size_t>(value);
}

// DataType from a DataType, a NumPy dtype, a type or a string.
DataType to_data_type(const py::handle& dtype, const char* name = "dtype");
// The NumPy dtype of a DataType.
py::dtype numpy_dtype(DataType type);
// `object` as an ndarray; ValueError naming `name` for anything else.
inline py::array as_array(const py::object& object, const char* name) {
  if (!py::isinstance<py::array>(object))
    throw py::value_error(std::string(name) + " must be a numpy.ndarray; got " +
                          py::str(py::type::of(object).attr("__name__")).cast<std::string>());
  return py::reinterpret_borrow<py::array>(object);
}
// A matrix's NumPy shape: [rows, columns], or [matrices, rows, columns] for a batch.
std::vector<py::ssize_t> numpy_shape(const Matrix& matrix);
// A copy of a matrix's elements, in that shape.
py::array to_numpy(const Matrix& matrix);
// DataType of an array's dtype; ValueError naming `name` for anything else.
DataType array_data_type(const py::array& array, const char* name);

// Holds a Python object from C++ code that may release it on another thread.
inline std::shared_ptr<void> hold(py::object object) {
  return std::shared_ptr<void>(new py::object(std::move(object)), [](void* p) {
    if (!Py_IsInitialized()) return;  // interpreter gone: leak rather than crash
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
}

// A Python exception raised on a queue's thread, kept so that every
// wait_until_completed() can raise it again (error_already_set restores once).
class PythonError : public std::exception {
 public:
  explicit PythonError(py::error_already_set& error)
      : exception_(hold(error.value())),
        message_(error.what()) {}
  const char* what() const noexcept override { return message_.c_str(); }
  PyObject* exception() const { return static_cast<py::object*>(exception_.get())->ptr(); }

 private:
  std::shared_ptr<void> exception_;
  std::string message_;
};

// Calls a held Python callable with the GIL, turning its exception into PythonError.
template <typename... Args>
void call_held(const std::shared_ptr<void>& held, Args&&... args) {
  py::gil_scoped_acquire gil;
  try {
    (*static_cast<py::object*>(held.get()))(std::forward<Args>(args)...);
  } catch (py::error_already_set& error) {
    throw PythonError(error);
  }
}

}  // namespace mpsnn::python
