"""The standard evaluation transform (the sweep's ``resize_shorter_crop``): the shorter side
resized to S / crop_ratio, the aspect ratio kept, the centre S x S, on non-square photos."""

from __future__ import annotations

import numpy as np
import pytest

from fixres_kedro.fixres.preprocessing import InputPipeline, standard_resize_shape


def ramps(height: int, width: int) -> np.ndarray:
    """Channel 0 holds each pixel's row, channel 1 its column: a bilinear resize of a
    linear ramp is exact away from the borders, so the output says where it sampled."""
    rows, cols = np.meshgrid(np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32),
                             indexing="ij")
    return np.stack([rows, cols, np.zeros_like(rows)], axis=-1)


@pytest.mark.parametrize(("shape", "size", "resized"), [
    ((300, 400), 224, (256, 341)),   # landscape: 224 / 0.875 = 256; int(256 * 400 / 300) = 341
    ((500, 333), 224, (384, 256)),   # portrait: int(256 * 500 / 333) = 384
    ((240, 320), 64, (73, 97)),      # floor(64 / 0.875) = floor(73.14) = 73; int(73 * 4 / 3) = 97
    ((200, 200), 128, (146, 146)),   # square: floor(146.29)
])
def test_the_shorter_side_becomes_s_over_crop_ratio_and_the_aspect_is_kept(shape, size, resized):
    assert standard_resize_shape(shape, size, 0.875) == resized


@pytest.mark.parametrize("shape", [(300, 400), (500, 333)])
def test_each_output_pixel_samples_the_photo_where_the_hand_computation_says(shape):
    """Output (i, j) of the S x S crop of the (h, w) resize samples photo row
    (top + i + 0.5) * H / h - 0.5 and column (left + j + 0.5) * W / w - 0.5 (half-pixel
    centres), with top = (h - S) // 2 and left = (w - S) // 2."""
    height, width = shape
    size = 224
    pipeline = InputPipeline(name="t", recipe="standard", image_size=size, crop_ratio=0.875)
    out = pipeline.preprocess(ramps(height, width), train=False, rng=np.random.default_rng(0))
    assert out.shape == (size, size, 3)
    h, w = (256, 341) if height < width else (384, 256)
    top, left = (h - size) // 2, (w - size) // 2
    expected_rows = (top + np.arange(size) + 0.5) * height / h - 0.5
    expected_cols = (left + np.arange(size) + 0.5) * width / w - 0.5
    np.testing.assert_allclose(out[:, 0, 0], expected_rows, atol=2e-3)
    np.testing.assert_allclose(out[0, :, 1], expected_cols, atol=2e-3)
    # The same scale along both axes (up to the longer side's integer size): no squashing.
    row_step, col_step = np.diff(out[:, 0, 0]).mean(), np.diff(out[0, :, 1]).mean()
    assert row_step == pytest.approx(col_step, rel=4e-3)


def test_the_square_transforms_squash_where_the_standard_one_does_not():
    """The example's resize scales a 300 x 400 photo by 224/300 and 224/400: unequal steps."""
    photo = ramps(300, 400)
    squashed = InputPipeline(name="t", recipe="initial", image_size=224).preprocess(
        photo, train=False, rng=np.random.default_rng(0))
    assert np.diff(squashed[:, 0, 0]).mean() / np.diff(squashed[0, :, 1]).mean() == pytest.approx(300 / 400, rel=1e-3)


def test_training_flips_the_same_crop():
    photo = np.random.default_rng(1).uniform(0, 255, (300, 400, 3)).astype(np.float32)
    pipeline = InputPipeline(name="t", recipe="standard", image_size=96, crop_ratio=0.8)
    kept = pipeline.apply(photo, None, False)
    flipped = pipeline.apply(photo, None, True)
    np.testing.assert_array_equal(flipped, kept[:, ::-1])
    assert kept.shape == (96, 96, 3)


@pytest.mark.parametrize("ratio", [0.0, 1.2])
def test_crop_ratio_must_be_in_0_1(ratio):
    with pytest.raises(ValueError, match="crop_ratio"):
        InputPipeline(name="t", recipe="standard", image_size=96, crop_ratio=ratio)
