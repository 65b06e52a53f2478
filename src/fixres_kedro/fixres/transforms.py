"""Per-image operations of the FixRes input pipelines, in NumPy and OpenCV.

Each function reproduces the TensorFlow op that the Keras example uses, so that one
implementation serves every Keras backend and hosts without TensorFlow:

* ``sample_distorted_box`` follows ``tf.image.sample_distorted_bounding_box`` with no
  bounding boxes, ``min_object_covered=0`` and ``use_image_if_no_bounding_boxes=True``:
  per attempt an aspect ratio is drawn uniformly, the crop *height* is drawn uniformly
  between the heights that give the smallest and largest allowed area, the offset is
  drawn uniformly; after ``max_attempts`` failures the whole image is used.
* ``resize_bilinear`` is ``tf.image.resize(..., method="bilinear", antialias=False)``,
  that is bilinear interpolation with half-pixel centres (OpenCV's ``INTER_LINEAR``
  on float32 input computes the same sums; it places the source samples in float64
  where TensorFlow uses float32, so the two agree within 0.02 on the 0-255 scale for
  inputs up to 500 px, a gap that grows with the input size: about 0.02 at 1000 px).
* ``center_crop`` is ``keras.layers.CenterCrop``: the offset is ``(in - out) // 2``.
* ``flip_left_right`` is the flip of ``tf.image.random_flip_left_right``.

Images are ``HxWxC`` arrays; resize returns float32 in the input's value range
(0-255 for decoded photos), as ``tf.image.resize`` does.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

# OpenCV would otherwise start its own thread pool inside every loader worker thread.
cv2.setNumThreads(1)

# Per-thread work arrays (see ``work_array``) up to this many bytes; larger ones are
# allocated per call rather than kept alive by an idle thread.
WORK_ARRAY_MAX_BYTES = 16 * 1024 * 1024
_WORK = threading.local()


def work_array(name: str, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A reusable scratch array of ``shape`` for the calling thread (contents undefined).

    The loader threads transform thousands of photos per epoch through a few large
    float32 temporaries; reusing one buffer per thread and purpose spares the
    allocator (and the resident memory it keeps after freeing) that churn. The array
    is only valid until the same thread asks for ``name`` again.
    """
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    if count * dtype.itemsize > WORK_ARRAY_MAX_BYTES:
        return np.empty(shape, dtype)
    buffers = _WORK.__dict__.setdefault("buffers", {})
    buffer = buffers.get((name, dtype))
    if buffer is None or buffer.size < count:
        buffer = buffers[(name, dtype)] = np.empty(count, dtype)
    return buffer[:count].reshape(shape)


class Box(NamedTuple):
    """A crop box in pixels: top-left corner and size."""

    y: int
    x: int
    height: int
    width: int


def _round_half_even(value: float) -> int:
    # C's lrintf in the default rounding mode rounds halves to even, as round() does.
    return int(round(value))


def _random_crop_size(
    rng: np.random.Generator,
    image_height: int,
    image_width: int,
    area_range: tuple[float, float],
    aspect_ratio: float,
) -> tuple[int, int] | None:
    """One attempt of TensorFlow's GenerateRandomCrop: (height, width) or None."""
    f32 = np.float32
    min_area = f32(area_range[0]) * f32(image_width) * f32(image_height)
    max_area = f32(area_range[1]) * f32(image_width) * f32(image_height)
    height = _round_half_even(math.sqrt(min_area / aspect_ratio))
    max_height = _round_half_even(math.sqrt(max_area / aspect_ratio))
    if _round_half_even(max_height * aspect_ratio) > image_width:
        # The smallest max_height with round(max_height * aspect_ratio) <= width.
        max_height = int((image_width + 0.5 - 1e-7) / aspect_ratio)
        if _round_half_even(max_height * aspect_ratio) > image_width:
            max_height -= 1
    max_height = min(max_height, image_height)
    height = min(height, max_height)
    if height < max_height:
        height += int(rng.integers(0, max_height - height + 1))
    width = _round_half_even(height * aspect_ratio)
    area = width * height
    # TensorFlow nudges the height by one pixel when rounding left the allowed area.
    if area < min_area:
        height += 1
        width = _round_half_even(height * aspect_ratio)
        area = width * height
    if area > max_area:
        height -= 1
        width = _round_half_even(height * aspect_ratio)
        area = width * height
    if (
        area < min_area
        or area > max_area
        or width > image_width
        or height > image_height
        or width <= 0
        or height <= 0
    ):
        return None
    return height, width


def sample_distorted_box(
    rng: np.random.Generator,
    image_height: int,
    image_width: int,
    area_range: tuple[float, float] = (0.05, 1.0),
    aspect_ratio_range: tuple[float, float] = (0.75, 1.33),
    max_attempts: int = 100,
) -> Box:
    """Sample a random crop box as ``tf.image.sample_distorted_bounding_box`` does.

    The defaults are TensorFlow's (aspect ratios 3/4 to 4/3, 100 attempts) with the
    example's area range; the whole image is returned when no attempt succeeds.
    """
    low, high = aspect_ratio_range
    for _ in range(max_attempts):
        aspect_ratio = float(np.float32(rng.random() * (high - low) + low))
        size = _random_crop_size(rng, image_height, image_width, area_range, aspect_ratio)
        if size is None:
            continue
        height, width = size
        y = int(rng.integers(0, image_height - height)) if height < image_height else 0
        x = int(rng.integers(0, image_width - width)) if width < image_width else 0
        return Box(y, x, height, width)
    return Box(0, 0, image_height, image_width)


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """Slice ``box`` out of ``image`` (a view, no copy)."""
    return image[box.y : box.y + box.height, box.x : box.x + box.width]


def resize_bilinear(
    image: np.ndarray, height: int, width: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Resize to ``height`` x ``width`` as ``tf.image.resize`` (bilinear) does.

    Half-pixel centres, no antialiasing, float32 output. OpenCV computes the same
    interpolation; float32 input keeps it from rounding to 8 bits. With ``out`` (a
    float32 ``height x width x C`` array, e.g. one image of a preallocated batch) the
    result is written there and ``out`` is returned.
    """
    if image.dtype == np.float32 and image.flags.c_contiguous:
        source = image
    else:  # converted into a per-thread work array: the conversion is not kept
        source = work_array("resize_source", image.shape)
        np.copyto(source, image, casting="unsafe")
    resized = cv2.resize(source, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)
    if out is not None:
        if not np.shares_memory(resized, out):  # OpenCV could not write into ``out``
            np.copyto(out, resized.reshape(out.shape))
        return out
    if resized.ndim == 2:  # OpenCV drops a single channel axis
        resized = resized[..., None]
    return resized


def center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Crop the centre ``height`` x ``width`` as ``keras.layers.CenterCrop`` does."""
    top = (image.shape[0] - height) // 2
    left = (image.shape[1] - width) // 2
    if top < 0 or left < 0:
        raise ValueError(
            f"cannot centre-crop {height}x{width} out of a "
            f"{image.shape[0]}x{image.shape[1]} image"
        )
    return image[top : top + height, left : left + width]


# The dtypes cv2.flip copies natively; NumPy copies a reversed (negative-stride) view
# of an HxWx3 image element by element, 20 times slower (0.66 ms for 224x224x3 float32).
_CV2_FLIP_DTYPES = frozenset(map(np.dtype, ("uint8", "int8", "uint16", "int16", "int32",
                                            "float32", "float64")))


def flip_left_right(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Mirror the image horizontally.

    Without ``out``: a view, no copy. With ``out`` (same shape and dtype): the mirrored
    pixels are copied there, by OpenCV where it can, and ``out`` is returned.
    """
    if out is None:
        return image[:, ::-1]
    if (
        image.dtype in _CV2_FLIP_DTYPES
        and image.ndim in (2, 3)
        and (image.ndim == 2 or image.shape[2] <= 4)
        and out.shape == image.shape
        and out.dtype == image.dtype
        and not np.shares_memory(image, out)
    ):
        flipped = cv2.flip(image, 1, dst=out)
        if np.shares_memory(flipped, out):
            return out
    np.copyto(out, image[:, ::-1])
    return out


# --- The FixRes authors' fine-tuning transforms (facebookresearch/FixRes) ---------------
# torchvision on PIL images, as their imnet_finetune/transforms.py and transforms_v2.py
# compose them; the recipe that uses these is fixres.preprocessing.preprocess_official.


def resize_height_pil(image: np.ndarray, height: int) -> np.ndarray:
    """Resize to ``height`` rows, keeping the aspect ratio, as the authors' ``Resize``
    (imnet_finetune/transforms.py:24-31, ``largest=False``): the width becomes
    ``int(height * w / h)``. It sets the height whatever the orientation (a portrait
    photo ends narrower than ``height``), and resizes as torchvision does a PIL image:
    Pillow's bilinear filter, antialiased when it shrinks, rounded to 8 bits. uint8 out."""
    rows, cols = image.shape[:2]
    width = max(1, int(height * cols / rows))
    pixels = np.ascontiguousarray(image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8))
    resized = Image.fromarray(pixels.squeeze(-1) if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels)
    out = np.asarray(resized.resize((width, height), Image.BILINEAR))
    return out[..., None] if out.ndim == 2 else out


def crop_padded(image: np.ndarray, top: int, left: int, height: int, width: int,
                out: np.ndarray | None = None) -> np.ndarray:
    """``height`` x ``width`` from ``(top, left)``, zeros where the window leaves the
    image, as PIL's ``Image.crop`` (torchvision's ``CenterCrop`` on a PIL image) pads."""
    if out is None:
        out = np.zeros((height, width, image.shape[2]), np.float32)
    else:
        out[...] = 0
    rows, cols = image.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, rows), min(left + width, cols)
    if y1 > y0 and x1 > x0:
        out[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return out


class ColorJitter(NamedTuple):
    """One draw of torchvision's ``ColorJitter(brightness, contrast, saturation)``: the
    three factors and the order they apply in (a permutation of 0, 1, 2)."""

    brightness: float
    contrast: float
    saturation: float
    order: tuple[int, ...]

    @classmethod
    def draw(cls, rng: np.random.Generator, strength: float) -> ColorJitter:
        """Each factor uniform in [max(0, 1 - strength), 1 + strength], then a random
        order, as ``ColorJitter.get_params`` (hue 0)."""
        low, high = max(0.0, 1.0 - strength), 1.0 + strength
        factors = rng.uniform(low, high, 3)
        return cls(*map(float, factors), tuple(int(i) for i in rng.permutation(3)))


# PIL's RGB to L weights (ITU-R 601-2), which ImageEnhance's contrast and colour use.
_GREY = np.array([0.299, 0.587, 0.114], np.float32)


def _blend(degenerate: np.ndarray | float, image: np.ndarray, factor: float) -> np.ndarray:
    # PIL's Image.blend: degenerate + factor * (image - degenerate), clipped to 8 bits, truncated.
    return np.floor(np.clip(degenerate + factor * (image - degenerate), 0, 255))


def color_jitter(image: np.ndarray, jitter: ColorJitter) -> np.ndarray:
    """``jitter`` applied to an RGB image (0-255) as torchvision's ColorJitter does to a
    PIL image, through PIL's ``ImageEnhance``: brightness blends with black, contrast
    with the mean grey level (rounded), saturation with the image's grey version; float32."""
    x = image.astype(np.float32)
    for which in jitter.order:
        if which == 0:
            x = _blend(0.0, x, jitter.brightness)
        elif which == 1:
            mean = float(np.floor((np.round(x @ _GREY)).mean() + 0.5))
            x = _blend(mean, x, jitter.contrast)
        else:
            grey = np.round(x @ _GREY)[..., None]
            x = _blend(grey, x, jitter.saturation)
    return x
