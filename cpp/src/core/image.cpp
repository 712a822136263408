#include <cstring>
#include <vector>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "mpsnn/image.hpp"

namespace mpsnn {

const char* to_string(DataLayout layout) {
  return layout == DataLayout::height_x_width_x_feature_channels
             ? "height_x_width_x_feature_channels"
             : "feature_channels_x_height_x_width";
}

void ImageDescriptor::validate(const char* what) const {
  if (feature_channels == 0 || width == 0 || height == 0 || number_of_images == 0)
    detail::fail_argument(what, "feature_channels, width, height and number_of_images must be "
                          "positive; got ", feature_channels, ", ", width, ", ", height, ", ",
                          number_of_images);
  const double bytes = double(elements_per_image()) * double(number_of_images) * size_of(data_type);
  if (bytes > double(std::size_t(1) << 48))
    detail::fail_argument(what, "size is too large (", bytes, " bytes)");
}

Image::Image(const Device& device, const ImageDescriptor& descriptor)
    : device_(device), descriptor_(descriptor) {
  descriptor_.validate("image");
  storage_ = device.backend().allocate(
      device.index(),
      descriptor_.elements_per_image() * descriptor_.number_of_images * size_of(descriptor_.data_type));
}

namespace {

void check_index(const ImageDescriptor& d, std::size_t image_index, const void* host) {
  if (!host) detail::fail_argument("image", "host is null");
  if (image_index >= d.number_of_images)
    detail::fail_argument("image", "image_index ", image_index, " is out of range; the image holds ",
                          d.number_of_images);
}

// Reorders one image between [C,H,W] and [H,W,C]; `element` is 2 or 4 bytes.
void permute(const char* source, char* destination, const ImageDescriptor& d, bool to_channels_last) {
  const std::size_t c_count = d.feature_channels, plane = d.height * d.width;
  const std::size_t element = size_of(d.data_type);
  for (std::size_t c = 0; c < c_count; ++c)
    for (std::size_t p = 0; p < plane; ++p) {
      const std::size_t chw = c * plane + p, hwc = p * c_count + c;
      const std::size_t from = to_channels_last ? chw : hwc, to = to_channels_last ? hwc : chw;
      std::memcpy(destination + to * element, source + from * element, element);
    }
}

}  // namespace

void Image::read_bytes(void* host, DataLayout layout, std::size_t image_index) const {
  check_index(descriptor_, image_index, host);
  const std::size_t bytes = descriptor_.elements_per_image() * size_of(descriptor_.data_type);
  if (layout == DataLayout::feature_channels_x_height_x_width) {
    device_.backend().copy_to_host(*storage_, image_index * bytes, host, bytes);
    return;
  }
  std::vector<char> staging(bytes);
  device_.backend().copy_to_host(*storage_, image_index * bytes, staging.data(), bytes);
  permute(staging.data(), static_cast<char*>(host), descriptor_, true);
}

void Image::write_bytes(const void* host, DataLayout layout, std::size_t image_index) {
  check_index(descriptor_, image_index, host);
  const std::size_t bytes = descriptor_.elements_per_image() * size_of(descriptor_.data_type);
  if (layout == DataLayout::feature_channels_x_height_x_width) {
    device_.backend().copy_from_host(*storage_, image_index * bytes, host, bytes);
    return;
  }
  std::vector<char> staging(bytes);
  permute(static_cast<const char*>(host), staging.data(), descriptor_, false);
  device_.backend().copy_from_host(*storage_, image_index * bytes, staging.data(), bytes);
}

}  // namespace mpsnn
