"""ImageBatch: a list of images, as MPSImageBatch is an array of MPSImage."""

from __future__ import annotations

import numpy as np

from ._core import DataLayout, Device, Image


class ImageBatch(list):
    """A list of :class:`Image` with NumPy round trips over the whole batch."""

    @classmethod
    def from_numpy(
        cls,
        device: Device,
        array: np.ndarray,
        layout: DataLayout = DataLayout.feature_channels_x_height_x_width,
    ) -> "ImageBatch":
        """One image per leading index of a 4-d ``array`` ([N,C,H,W] or [N,H,W,C])."""
        if not isinstance(array, np.ndarray):
            raise ValueError(f"array must be a numpy.ndarray; got {type(array).__name__}")
        if array.ndim != 4:
            raise ValueError(
                f"array must have 4 dimensions (images first) in layout {layout.name}; got {array.ndim}"
            )
        if array.shape[0] == 0:
            raise ValueError("array holds no images")
        return cls(Image.from_numpy(device, array[i], layout) for i in range(array.shape[0]))

    def to_numpy(
        self, layout: DataLayout = DataLayout.feature_channels_x_height_x_width
    ) -> np.ndarray:
        """The images stacked on a new leading axis, each in ``layout``."""
        if not self:
            raise ValueError("the batch is empty")
        arrays = []
        for index, image in enumerate(self):
            if not isinstance(image, Image):
                raise ValueError(f"batch[{index}] is a {type(image).__name__}, not an mpsnn.Image")
            if image.number_of_images != 1:
                raise ValueError(f"batch[{index}] holds {image.number_of_images} images; expected 1")
            arrays.append(image.to_numpy(layout))
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"the images differ in shape: {sorted(shapes)}")
        return np.stack(arrays)
