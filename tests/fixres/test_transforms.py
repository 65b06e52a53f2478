"""The NumPy/OpenCV image operations against the TensorFlow ops they reimplement.

The comparisons with TensorFlow skip where it is not installed; the invariants of the
box sampler and the crop/flip helpers run everywhere.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from fixres_kedro.fixres import transforms
from fixres_kedro.fixres.transforms import Box

# Largest |resize_bilinear - tf.image.resize| accepted, on the 0-255 scale, for inputs
# up to 500 px. Measured: <= 0.012 (500x375 -> 224x224, worst case a 0/255 checkerboard),
# 0.0 to 5e-5 when the size ratio is exact in binary (333x500 -> 128x128). The gap is
# TensorFlow placing the source samples in float32 where OpenCV uses float64 (see
# test_resize_gap_is_float32_sample_positions); it grows with the input size.
RESIZE_ATOL = 0.02

# Two-sample Kolmogorov-Smirnov: the critical value for significance ALPHA, per statistic.
KS_SAMPLES = 2000
KS_C_ALPHA = 1.95  # c(alpha) for alpha = 0.001: sqrt(-ln(alpha / 2) / 2)
KS_CRITICAL = KS_C_ALPHA * math.sqrt(2 / KS_SAMPLES)  # about 0.062 for 2000 + 2000


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _image(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    if kind == "float":
        return rng.uniform(0, 255, shape).astype(np.float32)
    return rng.integers(0, 256, shape, dtype=np.uint8)


# --------------------------------------------------------------------------- resize

RESIZE_CASES = [
    ((333, 500, 3), (128, 128)),  # downscale, ratio exact in binary
    ((500, 375, 3), (224, 224)),  # the worst measured case
    ((375, 500, 3), (224, 224)),
    ((40, 30, 3), (128, 128)),  # upscale
    ((300, 400, 3), (392, 392)),  # the finetune recipe's resize
    ((120, 90, 3), (64, 100)),  # non-square target
    ((31, 47, 3), (301, 455)),  # large non-square upscale
    ((57, 211, 1), (31, 17)),  # single channel
    ((7, 5, 3), (3, 2)),
    ((1, 1, 3), (4, 5)),
    ((64, 64, 3), (64, 64)),  # identity
]


@pytest.mark.parametrize("kind", ["float", "uint8"])
@pytest.mark.parametrize(("shape", "size"), RESIZE_CASES)
def test_resize_matches_tf_image_resize(tf, shape, size, kind):
    rng = np.random.default_rng(zlib.crc32(repr((shape, size, kind)).encode()))
    image = _image(rng, shape, kind)
    ours = transforms.resize_bilinear(image, *size)
    theirs = tf.image.resize(image, list(size)).numpy()
    assert ours.dtype == np.float32
    assert ours.shape == theirs.shape == (*size, shape[2])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=RESIZE_ATOL)


def test_resize_checkerboard_worst_case_within_tolerance(tf):
    # Neighbouring pixels 0 and 255 apart make any sample-position error largest.
    yy, xx = np.indices((500, 375))
    image = np.repeat((((yy + xx) % 2) * 255.0)[..., None], 3, axis=2).astype(np.float32)
    ours = transforms.resize_bilinear(image, 224, 224)
    theirs = tf.image.resize(image, [224, 224]).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=RESIZE_ATOL)


def _reference_resize(image: np.ndarray, height: int, width: int, dtype) -> np.ndarray:
    """Half-pixel bilinear resize in float64, with sample positions computed in dtype."""
    image = image.astype(np.float64)

    def axis(n_in: int, n_out: int):
        scale = dtype(n_in) / dtype(n_out)
        pos = ((np.arange(n_out).astype(dtype) + dtype(0.5)) * scale - dtype(0.5)).astype(
            np.float64
        )
        low = np.floor(pos)
        frac = np.where(pos < 0, 0.0, pos - low)
        return (
            np.clip(low, 0, n_in - 1).astype(int),
            np.clip(low + 1, 0, n_in - 1).astype(int),
            frac,
        )

    y0, y1, fy = axis(image.shape[0], height)
    x0, x1, fx = axis(image.shape[1], width)
    fx = fx[None, :, None]
    top = image[y0][:, x0] * (1 - fx) + image[y0][:, x1] * fx
    bottom = image[y1][:, x0] * (1 - fx) + image[y1][:, x1] * fx
    return top * (1 - fy)[:, None, None] + bottom * fy[:, None, None]


@pytest.mark.parametrize(("shape", "size"), [((500, 375, 3), (224, 224)), ((300, 400, 3), (392, 392))])
def test_resize_gap_is_float32_sample_positions(tf, shape, size):
    """TF equals a reference with float32 positions; OpenCV one with float64 positions."""
    image = _image(np.random.default_rng(3), shape, "float")
    ours = transforms.resize_bilinear(image, *size)
    theirs = tf.image.resize(image, list(size)).numpy()
    assert np.abs(ours - theirs).max() > 1e-3  # the gap this test explains
    np.testing.assert_allclose(theirs, _reference_resize(image, *size, np.float32), atol=1e-3)
    np.testing.assert_allclose(ours, _reference_resize(image, *size, np.float64), atol=1e-3)


def test_resize_keeps_single_channel_axis():
    out = transforms.resize_bilinear(np.zeros((10, 12, 1), np.uint8), 5, 6)
    assert out.shape == (5, 6, 1)
    assert out.dtype == np.float32


# ----------------------------------------------------------------- centre crop, flip

@pytest.mark.parametrize(
    ("shape", "size"),
    [
        ((10, 10, 3), (5, 5)),  # odd differences
        ((11, 10, 3), (4, 7)),  # odd and odd
        ((12, 9, 3), (4, 3)),  # even and even
        ((9, 8, 3), (9, 8)),  # nothing to crop
        ((392, 392, 3), (224, 224)),
        ((393, 391, 1), (224, 224)),
    ],
)
def test_center_crop_matches_keras_center_crop(shape, size):
    keras = pytest.importorskip("keras")
    image = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    ours = transforms.center_crop(image, *size)
    theirs = keras.ops.convert_to_numpy(keras.layers.CenterCrop(*size)(image[None]))[0]
    assert ours.shape == (*size, shape[2])
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("size", [(11, 5), (5, 11), (11, 11)])
def test_center_crop_rejects_too_small_input(size):
    with pytest.raises(ValueError, match="cannot centre-crop"):
        transforms.center_crop(np.zeros((10, 10, 3)), *size)


@pytest.mark.parametrize("shape", [(5, 7, 3), (1, 1, 1), (6, 4, 1)])
def test_flip_matches_tf(tf, shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(
        transforms.flip_left_right(image), tf.image.flip_left_right(image).numpy()
    )


# ----------------------------------------------------------------- box sampler

BOX_SIZES = [(240, 320), (500, 375), (100, 1000)]


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (ties handled, as scipy's ks_2samp)."""
    a, b = np.sort(a), np.sort(b)
    values = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, values, side="right") / len(a)
    cdf_b = np.searchsorted(b, values, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def _box_statistics(boxes: np.ndarray, height: int, width: int) -> dict[str, np.ndarray]:
    y, x, h, w = boxes.T.astype(np.float64)
    return {
        "area": h * w / (height * width),
        "aspect": w / h,
        "y": y / height,
        "x": x / width,
    }


def _ks_by_statistic(a: np.ndarray, b: np.ndarray, height: int, width: int) -> dict[str, float]:
    sa, sb = _box_statistics(a, height, width), _box_statistics(b, height, width)
    return {name: _ks_statistic(sa[name], sb[name]) for name in sa}


def _our_boxes(height: int, width: int, seed: int, **kwargs) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array(
        [transforms.sample_distorted_box(rng, height, width, **kwargs) for _ in range(KS_SAMPLES)]
    )


def _tf_boxes(tf, height: int, width: int, area_range=(0.05, 1.0), seed: int = 7) -> np.ndarray:
    """KS_SAMPLES boxes from tf.image.stateless_sample_distorted_bounding_box, as (y, x, h, w)."""

    @tf.function
    def draw(seeds):
        def one(one_seed):
            begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
                tf.constant([height, width, 3]),
                bounding_boxes=tf.zeros([1, 0, 4]),
                seed=one_seed,
                area_range=area_range,
                min_object_covered=0,
                use_image_if_no_bounding_boxes=True,
            )
            return tf.stack([begin[0], begin[1], size[0], size[1]])

        return tf.map_fn(one, seeds, fn_output_signature=tf.int32)

    seeds = np.stack([np.arange(KS_SAMPLES), np.full(KS_SAMPLES, seed)], axis=1)
    return draw(tf.constant(seeds, tf.int64)).numpy()


def _uniform_area_boxes(height: int, width: int, seed: int) -> np.ndarray:
    """A wrong sampler: torchvision's RandomResizedCrop (area uniform, log-uniform aspect)."""
    rng = np.random.default_rng(seed)
    boxes = []
    for _ in range(KS_SAMPLES):
        for _ in range(10):
            area = height * width * rng.uniform(0.05, 1.0)
            aspect = math.exp(rng.uniform(math.log(0.75), math.log(1.33)))
            w = int(round(math.sqrt(area * aspect)))
            h = int(round(math.sqrt(area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                boxes.append(
                    (rng.integers(0, height - h + 1), rng.integers(0, width - w + 1), h, w)
                )
                break
        else:
            boxes.append((0, 0, height, width))
    return np.array(boxes)


@pytest.fixture(scope="module")
def tf_boxes(tf):
    return {size: _tf_boxes(tf, *size) for size in BOX_SIZES}


@pytest.mark.parametrize("size", BOX_SIZES)
def test_box_distribution_matches_tf(tf_boxes, size):
    ks = _ks_by_statistic(_our_boxes(*size, seed=11), tf_boxes[size], *size)
    assert max(ks.values()) < KS_CRITICAL, ks


@pytest.mark.parametrize("size", BOX_SIZES)
def test_box_distribution_check_rejects_uniform_area_sampler(tf_boxes, size):
    ks = _ks_by_statistic(_uniform_area_boxes(*size, seed=11), tf_boxes[size], *size)
    # Not a near miss: the area distribution alone is far outside the critical value.
    assert ks["area"] > 2 * KS_CRITICAL, ks


@pytest.mark.parametrize("size", BOX_SIZES)
def test_tf_offsets_exclude_the_last_position_as_ours_do(tf_boxes, size):
    """TF draws the offset in [0, H - h), never H - h itself, unless h == H."""
    for boxes in (tf_boxes[size], _our_boxes(*size, seed=5)):
        y, x, h, w = boxes.T
        assert np.all((h == size[0]) | (y + h < size[0]))
        assert np.all((w == size[1]) | (x + w < size[1]))


@pytest.mark.parametrize("size", [*BOX_SIZES, (1, 1), (5, 7), (7, 5), (32, 32)])
def test_box_invariants(size):
    height, width = size
    min_area = np.float32(0.05) * np.float32(width) * np.float32(height)
    rng = np.random.default_rng(1)
    for _ in range(KS_SAMPLES):
        box = transforms.sample_distorted_box(rng, height, width)
        assert isinstance(box, Box)
        assert all(type(value) is int for value in box)
        y, x, h, w = box
        assert 0 <= y and y + h <= height and 0 <= x and x + w <= width
        assert h >= 1 and w >= 1
        assert min_area <= h * w <= height * width
        if box != Box(0, 0, height, width):
            # The width is round(h * aspect) with the aspect in [0.75, 1.33].
            assert 0.75 - 0.5 / h <= w / h <= 1.33 + 0.5 / h


def test_box_is_deterministic_for_a_seed():
    first = _our_boxes(240, 320, seed=9)[:50]
    np.testing.assert_array_equal(first, _our_boxes(240, 320, seed=9)[:50])


def test_whole_image_when_no_attempt_succeeds(tf):
    # A 100x1000 image holds no 3:4..4:3 crop of half its area.
    for seed in range(20):
        box = transforms.sample_distorted_box(
            np.random.default_rng(seed), 100, 1000, area_range=(0.5, 1.0)
        )
        assert box == Box(0, 0, 100, 1000)
    theirs = _tf_boxes(tf, 100, 1000, area_range=(0.5, 1.0))
    assert np.all(theirs == [0, 0, 100, 1000])


def test_whole_image_when_no_attempt_succeeds_without_tf():
    box = transforms.sample_distorted_box(
        np.random.default_rng(0), 100, 1000, area_range=(0.5, 1.0), max_attempts=3
    )
    assert box == Box(0, 0, 100, 1000)


def test_crop_slices_the_box():
    image = np.arange(5 * 6).reshape(5, 6, 1)
    np.testing.assert_array_equal(
        transforms.crop(image, Box(1, 2, 3, 4)), image[1:4, 2:6]
    )


# ----------------------------------------------------------------- recipes


def test_finetune_geometry_matches_tf(tf):
    keras = pytest.importorskip("keras")
    from fixres_kedro.fixres.preprocessing import InputPipeline

    pipeline = InputPipeline(name="finetune", recipe="finetune", image_size=224, train_image_size=128)
    assert pipeline.resize_size == 392
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    expected = keras.ops.convert_to_numpy(
        keras.layers.CenterCrop(224, 224)(tf.image.resize(image, [392, 392])[None])
    )[0]

    validation = pipeline.preprocess(image, train=False, rng=np.random.default_rng(0))
    assert validation.shape == (224, 224, 3) and validation.dtype == np.float32
    np.testing.assert_allclose(validation, expected, rtol=0, atol=RESIZE_ATOL)

    mirrored = expected[:, ::-1]
    flips = []
    for seed in range(16):
        out = pipeline.preprocess(image, train=True, rng=np.random.default_rng(seed))
        plain = np.abs(out - expected).max() <= RESIZE_ATOL
        flipped = np.abs(out - mirrored).max() <= RESIZE_ATOL
        assert plain != flipped  # one or the other, never neither
        flips.append(flipped)
    assert any(flips) and not all(flips)


def test_initial_recipe_matches_tf(tf):
    from fixres_kedro.fixres.preprocessing import InputPipeline

    pipeline = InputPipeline(name="initial", recipe="initial", image_size=128)
    image = np.random.default_rng(1).integers(0, 256, (333, 500, 3), dtype=np.uint8)

    validation = pipeline.preprocess(image, train=False, rng=np.random.default_rng(0))
    np.testing.assert_allclose(
        validation, tf.image.resize(image, [128, 128]).numpy(), rtol=0, atol=RESIZE_ATOL
    )

    for seed in range(8):
        out = pipeline.preprocess(image, train=True, rng=np.random.default_rng(seed))
        assert out.shape == (128, 128, 3) and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 255
        # The same draws, replayed with the TF ops: box, crop, resize, flip.
        replay = np.random.default_rng(seed)
        box = transforms.sample_distorted_box(replay, 333, 500)
        expected = tf.image.resize(transforms.crop(image, box), [128, 128])
        if replay.random() < 0.5:
            expected = tf.image.flip_left_right(expected)
        np.testing.assert_allclose(out, expected.numpy(), rtol=0, atol=RESIZE_ATOL)
