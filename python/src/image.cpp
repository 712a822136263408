// DataLayout, ImageDescriptor, Image (NumPy round trips in either layout).
#include <vector>

#include "bindings.hpp"
#include "mpsnn/image.hpp"

namespace mpsnn::python {

namespace {

// (channels, height, width) of one image held as `shape` in `layout`.
std::vector<py::ssize_t> image_shape(const ImageDescriptor& d, DataLayout layout) {
  if (layout == DataLayout::feature_channels_x_height_x_width)
    return {py::ssize_t(d.feature_channels), py::ssize_t(d.height), py::ssize_t(d.width)};
  return {py::ssize_t(d.height), py::ssize_t(d.width), py::ssize_t(d.feature_channels)};
}

Image image_from_numpy(const Device& device, py::object object, DataLayout layout) {
  py::array array = as_array(object, "array");
  const DataType type = array_data_type(array, "array");
  if (array.ndim() != 3 && array.ndim() != 4)
    throw py::value_error(std::string("array must have 3 dimensions (one image) or 4 (images) in "
                                      "layout ") + to_string(layout) + "; got " +
                          std::to_string(array.ndim()));
  if (array.size() == 0) throw py::value_error("array is empty");
  const int first = array.ndim() == 4 ? 1 : 0;
  ImageDescriptor d;
  d.number_of_images = first ? array.shape(0) : 1;
  const bool channels_first = layout == DataLayout::feature_channels_x_height_x_width;
  d.feature_channels = array.shape(first + (channels_first ? 0 : 2));
  d.height = array.shape(first + (channels_first ? 1 : 0));
  d.width = array.shape(first + (channels_first ? 2 : 1));
  d.data_type = type;
  Image image(device, d);
  py::array packed = py::array::ensure(array, py::array::c_style);
  const auto* bytes = static_cast<const char*>(packed.data());
  const std::size_t per_image = d.elements_per_image() * size_of(type);
  py::gil_scoped_release release;
  for (std::size_t i = 0; i < d.number_of_images; ++i)
    image.write_bytes(bytes + i * per_image, layout, i);
  return image;
}

py::array image_to_numpy(const Image& image, DataLayout layout) {
  const ImageDescriptor& d = image.descriptor();
  std::vector<py::ssize_t> shape = image_shape(d, layout);
  if (d.number_of_images > 1) shape.insert(shape.begin(), py::ssize_t(d.number_of_images));
  py::array out(numpy_dtype(d.data_type), shape);
  auto* bytes = static_cast<char*>(out.mutable_data());
  const std::size_t per_image = d.elements_per_image() * size_of(d.data_type);
  py::gil_scoped_release release;
  for (std::size_t i = 0; i < d.number_of_images; ++i) image.read_bytes(bytes + i * per_image, layout, i);
  return out;
}

}  // namespace

void bind_image(py::module_& m) {
  py::enum_<DataLayout>(m, "DataLayout")
      .value("height_x_width_x_feature_channels", DataLayout::height_x_width_x_feature_channels)
      .value("feature_channels_x_height_x_width", DataLayout::feature_channels_x_height_x_width);

  py::class_<ImageDescriptor>(m, "ImageDescriptor")
      .def(py::init([](std::int64_t channels, std::int64_t width, std::int64_t height,
                       std::int64_t number_of_images, py::object dtype) {
             ImageDescriptor d{to_size(channels, "feature_channels"), to_size(width, "width"),
                               to_size(height, "height"), to_size(number_of_images, "number_of_images"),
                               to_data_type(dtype)};
             d.validate("image_descriptor");
             return d;
           }),
           py::arg("feature_channels"), py::arg("width"), py::arg("height"),
           py::arg("number_of_images") = 1, py::arg("dtype") = DataType::float32)
      .def_readonly("feature_channels", &ImageDescriptor::feature_channels)
      .def_readonly("width", &ImageDescriptor::width)
      .def_readonly("height", &ImageDescriptor::height)
      .def_readonly("number_of_images", &ImageDescriptor::number_of_images)
      .def_readonly("data_type", &ImageDescriptor::data_type);

  py::class_<Image>(m, "Image",
                    "Image(device, feature_channels, width, height, number_of_images=1, dtype=float32)")
      .def(py::init([](const Device& device, std::int64_t channels, std::int64_t width,
                       std::int64_t height, std::int64_t number_of_images, py::object dtype) {
             return Image(device, ImageDescriptor{to_size(channels, "feature_channels"),
                                                  to_size(width, "width"), to_size(height, "height"),
                                                  to_size(number_of_images, "number_of_images"),
                                                  to_data_type(dtype)});
           }),
           py::arg("device"), py::arg("feature_channels"), py::arg("width"), py::arg("height"),
           py::arg("number_of_images") = 1, py::arg("dtype") = DataType::float32)
      .def(py::init<const Device&, const ImageDescriptor&>(), py::arg("device"), py::arg("descriptor"))
      .def_static("from_numpy", &image_from_numpy, py::arg("device"), py::arg("array"),
                  py::arg("layout") = DataLayout::feature_channels_x_height_x_width,
                  "An image holding a copy of `array`: one image ([C,H,W] or [H,W,C] per `layout`) "
                  "or several ([N, ...]).")
      .def("to_numpy", &image_to_numpy, py::arg("layout") = DataLayout::feature_channels_x_height_x_width,
           "A copy in `layout`: [C,H,W] / [H,W,C], with a leading N when number_of_images > 1.")
      .def(
          "read_bytes",
          [](const Image& image, DataLayout layout, std::int64_t image_index) {
            const ImageDescriptor& d = image.descriptor();
            py::array out(numpy_dtype(d.data_type), image_shape(d, layout));
            void* data = out.mutable_data();
            const std::size_t index = to_size(image_index, "image_index", 0);
            py::gil_scoped_release release;
            image.read_bytes(data, layout, index);
            return out;
          },
          py::arg("layout"), py::arg("image_index") = 0)
      .def(
          "write_bytes",
          [](Image& image, py::array array, DataLayout layout, std::int64_t image_index) {
            const ImageDescriptor& d = image.descriptor();
            if (array_data_type(array, "array") != d.data_type)
              throw py::value_error(std::string("array dtype does not match the image's ") +
                                    to_string(d.data_type));
            const auto expected = image_shape(d, layout);
            if (array.ndim() != 3 || !std::equal(expected.begin(), expected.end(), array.shape()))
              throw py::value_error("array must have shape (" + std::to_string(expected[0]) + ", " +
                                    std::to_string(expected[1]) + ", " + std::to_string(expected[2]) +
                                    ") for layout " + to_string(layout));
            py::array packed = py::array::ensure(array, py::array::c_style);
            const std::size_t index = to_size(image_index, "image_index", 0);
            py::gil_scoped_release release;
            image.write_bytes(packed.data(), layout, index);
          },
          py::arg("array"), py::arg("layout"), py::arg("image_index") = 0)
      .def_property_readonly("device", &Image::device)
      .def_property_readonly("descriptor", &Image::descriptor)
      .def_property_readonly("feature_channels", &Image::feature_channels)
      .def_property_readonly("width", &Image::width)
      .def_property_readonly("height", &Image::height)
      .def_property_readonly("number_of_images", &Image::number_of_images)
      .def_property_readonly("data_type", &Image::data_type)
      .def("__repr__", [](const Image& i) {
        return "Image(device='" + i.device().name() + "', feature_channels=" +
               std::to_string(i.feature_channels()) + ", width=" + std::to_string(i.width()) +
               ", height=" + std::to_string(i.height()) + ", number_of_images=" +
               std::to_string(i.number_of_images()) + ", dtype=" + to_string(i.data_type()) + ")";
      });
}

}  // namespace mpsnn::python
