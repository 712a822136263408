// Device, backends(), CommandQueue, CommandBuffer.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "mpsnn/command.hpp"
#include "mpsnn/device.hpp"

namespace mpsnn::python {

void bind_runtime(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const PythonError& e) {
      PyErr_SetObject(PyExceptionInstance_Class(e.exception()), e.exception());
    }
  });

  py::class_<BackendInfo>(m, "BackendInfo", "What one backend of this build can do here.")
      .def_readonly("name", &BackendInfo::name)
      .def_readonly("built", &BackendInfo::built)
      .def_readonly("available", &BackendInfo::available)
      .def_readonly("device_count", &BackendInfo::device_count)
      .def_property_readonly("reason",
                             [](const BackendInfo& b) -> py::object {
                               return b.reason.empty() ? py::object(py::none()) : py::object(py::str(b.reason));
                             })
      .def("__repr__", [](const BackendInfo& b) {
        return "BackendInfo(name='" + b.name + "', built=" + (b.built ? "True" : "False") +
               ", available=" + (b.available ? "True" : "False") +
               ", device_count=" + std::to_string(b.device_count) +
               (b.reason.empty() ? "" : ", reason='" + b.reason + "'") + ")";
      });
  m.def("backends", &backends,
        "Every backend, best first, with whether it is built and usable here, and why not.");

  py::class_<Device>(m, "Device", "One processor of one backend: Device('cpu'), Device('cuda:1').")
      .def(py::init<std::string_view>(), py::arg("spec"))
      .def_static("default", &Device::default_device, "The best available device.")
      .def_property_readonly("backend", &Device::backend_name)
      .def_property_readonly("index", &Device::index)
      .def_property_readonly("name", &Device::name)
      .def_property_readonly("description", &Device::description)
      .def("__eq__", [](const Device& a, const Device& b) { return a == b; }, py::is_operator())
      .def("__hash__", [](const Device& d) { return std::hash<std::string>()(d.name()); })
      .def("__repr__", [](const Device& d) { return "Device('" + d.name() + "')"; });

  py::enum_<CommandBufferStatus>(m, "CommandBufferStatus")
      .value("not_enqueued", CommandBufferStatus::not_enqueued)
      .value("enqueued", CommandBufferStatus::enqueued)
      .value("committed", CommandBufferStatus::committed)
      .value("scheduled", CommandBufferStatus::scheduled)
      .value("completed", CommandBufferStatus::completed)
      .value("error", CommandBufferStatus::error);

  py::class_<CommandBuffer>(m, "CommandBuffer",
                            "Encoded work: commit() starts it, wait_until_completed() waits.")
      .def("commit", &CommandBuffer::commit)
      .def("wait_until_completed", &CommandBuffer::wait_until_completed,
           py::call_guard<py::gil_scoped_release>(),
           "Blocks until the buffer ran; raises the error a command raised, if any.")
      .def(
          "add_completed_handler",
          [](CommandBuffer& buffer, py::function handler) {
            auto held = hold(std::move(handler));
            buffer.add_completed_handler([held](CommandBuffer& done) {
              if (!Py_IsInitialized()) return;
              try {
                call_held(held, done);
              } catch (PythonError& e) {
                py::gil_scoped_acquire gil;
                PyErr_SetObject(PyExceptionInstance_Class(e.exception()), e.exception());
                PyErr_WriteUnraisable(py::str("completed handler of an mpsnn CommandBuffer").ptr());
              }
            });
          },
          py::arg("handler"),
          "Calls handler(command_buffer) on the queue's thread once the buffer completed.")
      .def(
          "encode_host_function",
          [](CommandBuffer& buffer, py::function function) {
            auto held = hold(std::move(function));
            buffer.encode_host_function([held] { call_held(held); });
          },
          py::arg("function"),
          "Runs function() on the host in order with the buffer's other work; an exception it "
          "raises fails the buffer and is raised again by wait_until_completed().")
      .def_property_readonly("status", &CommandBuffer::status)
      .def_property_readonly("error",
                             [](const CommandBuffer& b) -> py::object {
                               auto message = b.error();
                               return b.error_exception() ? py::object(py::str(message)) : py::none();
                             })
      .def_property_readonly("device", &CommandBuffer::device)
      .def("__repr__", [](const CommandBuffer& b) {
        return std::string("CommandBuffer(device='") + b.device().name() + "', status=" +
               to_string(b.status()) + ")";
      });

  py::class_<CommandQueue>(m, "CommandQueue", "Runs committed command buffers in order.")
      .def(py::init<const Device&>(), py::arg("device"))
      .def_property_readonly("device", &CommandQueue::device)
      .def("make_command_buffer", &CommandQueue::make_command_buffer)
      .def("command_buffer", &CommandQueue::make_command_buffer,
           "Alias of make_command_buffer (Objective-C's name).")
      .def("__repr__", [](const CommandQueue& q) {
        return "CommandQueue(device='" + q.device().name() + "')";
      });
}

}  // namespace mpsnn::python
