import numpy as np
import pytest

import mpsnn

CHW = mpsnn.DataLayout.feature_channels_x_height_x_width
HWC = mpsnn.DataLayout.height_x_width_x_feature_channels


def test_image_fields(cpu):
    image = mpsnn.Image(cpu, feature_channels=3, width=5, height=4)
    assert (image.feature_channels, image.width, image.height, image.number_of_images) == (3, 5, 4, 1)
    assert image.to_numpy(CHW).shape == (3, 4, 5) and image.to_numpy(HWC).shape == (4, 5, 3)
    assert not image.to_numpy().any()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_round_trips_in_both_layouts(cpu, rng, dtype):
    chw = rng.standard_normal((3, 4, 5)).astype(dtype)
    hwc = np.transpose(chw, (1, 2, 0))
    for layout, array in ((CHW, chw), (HWC, hwc)):
        image = mpsnn.Image.from_numpy(cpu, array, layout)
        assert (image.feature_channels, image.height, image.width) == (3, 4, 5)
        np.testing.assert_array_equal(image.to_numpy(CHW), chw)  # layout conversion is exact
        np.testing.assert_array_equal(image.to_numpy(HWC), hwc)


def test_several_images_in_one_image(cpu, rng):
    nhwc = rng.standard_normal((2, 4, 5, 3), dtype=np.float32)
    image = mpsnn.Image.from_numpy(cpu, nhwc, HWC)
    assert image.number_of_images == 2
    np.testing.assert_array_equal(image.to_numpy(CHW), np.transpose(nhwc, (0, 3, 1, 2)))
    np.testing.assert_array_equal(image.read_bytes(HWC, image_index=1), nhwc[1])
    image.write_bytes(nhwc[0] * 2, HWC, image_index=1)
    np.testing.assert_array_equal(image.to_numpy(HWC)[1], nhwc[0] * 2)


def test_image_batch_round_trip(cpu, rng):
    nchw = rng.standard_normal((3, 2, 4, 4), dtype=np.float32)
    batch = mpsnn.ImageBatch.from_numpy(cpu, nchw)
    assert len(batch) == 3 and all(isinstance(i, mpsnn.Image) for i in batch)
    np.testing.assert_array_equal(batch.to_numpy(), nchw)
    np.testing.assert_array_equal(batch.to_numpy(HWC), np.transpose(nchw, (0, 2, 3, 1)))


def test_bad_image_input(cpu):
    with pytest.raises(ValueError, match="feature_channels must be positive"):
        mpsnn.Image(cpu, 0, 4, 4)
    with pytest.raises(ValueError, match="width must be positive"):
        mpsnn.Image(cpu, 3, -4, 4)
    with pytest.raises(ValueError, match="array has dtype float64"):
        mpsnn.Image.from_numpy(cpu, np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match="3 dimensions"):
        mpsnn.Image.from_numpy(cpu, np.ones((4, 4), np.float32))
    with pytest.raises(ValueError, match="empty"):
        mpsnn.Image.from_numpy(cpu, np.ones((0, 4, 4), np.float32))
    image = mpsnn.Image(cpu, 3, 4, 4)
    with pytest.raises(ValueError, match="image_index 1 is out of range"):
        image.read_bytes(CHW, image_index=1)
    with pytest.raises(ValueError, match=r"shape \(4, 4, 3\)"):
        image.write_bytes(np.ones((3, 4, 4), np.float32), HWC)
    with pytest.raises(ValueError, match="dtype"):
        image.write_bytes(np.ones((3, 4, 4), np.float16), CHW)
    with pytest.raises(ValueError, match="4 dimensions"):
        mpsnn.ImageBatch.from_numpy(cpu, np.ones((3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="differ in shape"):
        mpsnn.ImageBatch([mpsnn.Image(cpu, 1, 2, 2), mpsnn.Image(cpu, 1, 3, 3)]).to_numpy()
