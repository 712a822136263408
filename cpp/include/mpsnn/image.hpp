// Images and image batches (MPSImage, MPSImageBatch).
//
// An Image holds `number_of_images` images of `feature_channels` x `height` x
// `width` elements in backend memory, stored feature-channels-major
// ([number_of_images, feature_channels, height, width]); read_bytes/write_bytes
// convert to and from either MPSDataLayout. Copies of the handle share memory.
// An ImageBatch is a list of images, as MPSImageBatch is an array of MPSImage.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "mpsnn/device.hpp"
#include "mpsnn/export.hpp"
#include "mpsnn/types.hpp"

namespace mpsnn {

namespace detail {
class Storage;
}

// MPSDataLayout: the order of host elements of one image.
enum class DataLayout {
  height_x_width_x_feature_channels,  // [height, width, feature_channels]
  feature_channels_x_height_x_width,  // [feature_channels, height, width]
};
MPSNN_API const char* to_string(DataLayout layout);

struct MPSNN_API ImageDescriptor {
  std::size_t feature_channels = 0;
  std::size_t width = 0;
  std::size_t height = 0;
  std::size_t number_of_images = 1;
  DataType data_type = DataType::float32;

  std::size_t elements_per_image() const { return feature_channels * width * height; }
  // Throws std::invalid_argument naming `what` unless every size is positive.
  void validate(const char* what) const;
};

class MPSNN_API Image {
 public:
  // New zero-filled memory on `device`.
  Image(const Device& device, const ImageDescriptor& descriptor);

  const Device& device() const { return device_; }
  const ImageDescriptor& descriptor() const { return descriptor_; }
  std::size_t feature_channels() const { return descriptor_.feature_channels; }
  std::size_t width() const { return descriptor_.width; }
  std::size_t height() const { return descriptor_.height; }
  std::size_t number_of_images() const { return descriptor_.number_of_images; }
  DataType data_type() const { return descriptor_.data_type; }

  // Blocking copies of image `image_index`; `host` holds elements_per_image()
  // elements in `layout`. Do not overlap with command buffers using the image.
  void read_bytes(void* host, DataLayout layout, std::size_t image_index = 0) const;
  void write_bytes(const void* host, DataLayout layout, std::size_t image_index = 0);

  // For the library's own kernels.
  const std::shared_ptr<detail::Storage>& storage() const { return storage_; }

 private:
  Device device_;
  ImageDescriptor descriptor_;
  std::shared_ptr<detail::Storage> storage_;
};

using ImageBatch = std::vector<Image>;

}  // namespace mpsnn
