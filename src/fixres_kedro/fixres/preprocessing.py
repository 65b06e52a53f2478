"""The Keras example's preprocessing: ``preprocess_initial``, ``preprocess_finetune`` and
the recipe that chooses between them (``InputPipeline``), in NumPy for every backend.

* ``preprocess_initial`` (the 128 px *initial* model, and the 224 px *vanilla* one):
  training = random distorted crop, bilinear resize to ``image_size``, random flip;
  validation = bilinear resize of the whole image.
* ``preprocess_finetune`` (the 224 px FixRes fine-tune): resize to ``resize_to``
  (``int(image_size / train_image_size * image_size)``: 392 for 224 after 128), random
  flip for training only, centre crop ``image_size``.

* ``preprocess_official`` (the ``finetune_official`` variant): the FixRes authors'
  fine-tuning transforms, which train on the test-time transform (see that function).
* ``preprocess_standard`` (the sweep's ``resize_shorter_crop``): the standard evaluation
  transform of torchvision, timm and the FixRes authors: the shorter side resized to
  ``image_size / crop_ratio``, the aspect kept, and the centre ``image_size`` square.

The random choices (``InputPipeline.draw``) are separate from the pixel work, so that a
batch's draws can be made from one generator whichever process computes its pixels.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, NamedTuple

import annotated_types

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fixres_kedro.fixres import transforms

Recipe = Literal["initial", "finetune", "official", "standard"]

# facebookresearch/FixRes transforms_v2.py:181,186: Resize(int((256 / 224) * test_size)),
# "to maintain same ratio w.r.t. 224 images" (the centre crop keeps 87.5% of the height).
OFFICIAL_RESIZE_RATIO = 256 / 224
# transforms_v2.py:188: ColorJitter(0.05, 0.05, 0.05) (brightness, contrast, saturation).
OFFICIAL_JITTER = 0.05


class OfficialDraw(NamedTuple):
    """The random choices of one training photo of the ``official`` recipe (the flip is
    ``draw``'s other half): the colour jitter and the crop's horizontal shift."""

    jitter: transforms.ColorJitter
    shift: int


def official_resize_height(image_size: int) -> int:
    """The height the ``official`` recipe resizes to before its ``image_size`` crop: 256
    for 224, as ``int((256 / 224) * test_size)`` (transforms_v2.py:186)."""
    return int(OFFICIAL_RESIZE_RATIO * image_size)


def official_draw(shape: tuple[int, ...], image_size: int, rng: np.random.Generator) -> OfficialDraw:
    """The colour jitter, then the crop shift of ``center_crop_new`` (transforms_v2.py:52-64):
    with ``j`` the left offset of the centred crop, a shift uniform in 0..j, to the left
    or the right with even odds (the top stays centred)."""
    jitter = transforms.ColorJitter.draw(rng, OFFICIAL_JITTER)
    height = official_resize_height(image_size)
    width = max(1, int(height * shape[1] / shape[0]))
    left = int(round((width - image_size) / 2.0))
    shift = int(rng.integers(left + 1)) if left > 0 else 0
    return OfficialDraw(jitter, shift if rng.integers(2) == 0 else -shift)


def preprocess_official(
    image: np.ndarray, image_size: int, draw: OfficialDraw | None, flip: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The FixRes authors' fine-tuning transform, which trains on the test-time one
    (facebookresearch/FixRes, imnet_finetune/train.py:125-129 trains on ``'val'``; no
    random-resized crop), with the augmentation of their best results (README.md:172-173,
    transforms_v2.py:185-191 ``val_train``):

    * the height resized to ``int(256 / 224 * image_size)``, aspect kept
      (``transforms.resize_height_pil``, their ``Resize``, Pillow's bilinear filter);
    * training: the random flip, the light colour jitter, and the centre crop shifted
      sideways by ``draw.shift``; validation (``val_test``, :180-184, and train.py:141):
      the centre crop (offsets rounded, as torchvision's ``CenterCrop``);
    * the crop zero-padded where a portrait photo is narrower than it, as PIL pads.
    """
    out = _output(image, image_size, out)
    resized = transforms.resize_height_pil(image, official_resize_height(image_size))
    if flip:
        resized = transforms.flip_left_right(resized)
    pixels = resized if draw is None else transforms.color_jitter(resized, draw.jitter)
    rows, cols = pixels.shape[:2]
    top = int(round((rows - image_size) / 2.0))
    left = int(round((cols - image_size) / 2.0)) + (draw.shift if draw is not None else 0)
    return transforms.crop_padded(pixels, top, left, image_size, image_size, out=out)


def standard_resize_shape(shape: tuple[int, ...], image_size: int, crop_ratio: float) -> tuple[int, int]:
    """(height, width) the standard transform resizes an ``HxW`` photo to: the shorter side
    ``floor(image_size / crop_ratio)`` (timm's ``scale_size``; 256 for 224 at 0.875), the
    longer ``int(shorter * long / short)`` as torchvision's ``Resize(int)`` computes it."""
    rows, cols = shape[:2]
    shorter = max(image_size, math.floor(image_size / crop_ratio + 1e-9))  # 1e-9: 224 / 0.875 is 256
    if rows <= cols:
        return shorter, max(shorter, int(shorter * cols / rows))
    return max(shorter, int(shorter * rows / cols)), shorter


def preprocess_standard(
    image: np.ndarray, image_size: int, crop_ratio: float, flip: bool, out: np.ndarray | None = None,
) -> np.ndarray:
    """The standard evaluation transform: the shorter side resized to ``image_size /
    crop_ratio`` with the aspect ratio kept (``standard_resize_shape``), the centre
    ``image_size`` square (Keras' offsets), the random ``flip`` for training only. The
    resize is ``transforms.resize_bilinear``, that of the example's two transforms, so that
    the sweep's three transforms differ in geometry only."""
    out = _output(image, image_size, out)
    height, width = standard_resize_shape(image.shape, image_size, crop_ratio)
    resized = transforms.work_array("standard_resize", (height, width, out.shape[2]))
    transforms.resize_bilinear(image, height, width, out=resized)
    window = transforms.center_crop(resized, image_size, image_size)
    if flip:
        return transforms.flip_left_right(window, out=out)
    np.copyto(out, window)
    return out


Shuffle = Literal["examples", "buffer", "batches", "none"]


def preprocess_initial(
    image: np.ndarray, image_size: int, crop: transforms.Box | None, flip: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The example's ``preprocess_initial``: ``crop`` (the random distorted crop, training
    only), the resize to ``image_size``, and the random ``flip``; float32, 0-255, written
    into ``out`` when given (one image of a preallocated batch)."""
    out = _output(image, image_size, out)
    if crop is not None:
        image = transforms.crop(image, crop)
    if not flip:
        return transforms.resize_bilinear(image, image_size, image_size, out=out)
    resized = transforms.work_array("flip", out.shape)
    transforms.resize_bilinear(image, image_size, image_size, out=resized)
    return transforms.flip_left_right(resized, out=out)


def preprocess_finetune(
    image: np.ndarray, image_size: int, resize_to: int, flip: bool, out: np.ndarray | None = None,
) -> np.ndarray:
    """The example's ``preprocess_finetune``: resize to ``resize_to``, the random ``flip``
    (training only), centre crop ``image_size``."""
    out = _output(image, image_size, out)
    resized = transforms.work_array("finetune_resize", (resize_to, resize_to, out.shape[2]))
    transforms.resize_bilinear(image, resize_to, resize_to, out=resized)
    if not flip:
        np.copyto(out, transforms.center_crop(resized, image_size, image_size))
        return out
    # The centre crop of the mirrored image is the mirror of the crop at the mirrored
    # offset (they differ when the margin is odd): copy only that window.
    top = (resize_to - image_size) // 2
    left = resize_to - image_size - (resize_to - image_size) // 2
    window = transforms.crop(resized, transforms.Box(top, left, image_size, image_size))
    return transforms.flip_left_right(window, out=out)


def _output(image: np.ndarray, size: int, out: np.ndarray | None) -> np.ndarray:
    if out is not None:
        return out
    channels = image.shape[2] if image.ndim == 3 else 1
    return np.empty((size, size, channels), np.float32)


class InputPipeline(BaseModel):
    """One input pipeline: the recipe and the numbers the example hard-codes.

    It is also the type of a model's ``dataset`` parameters (``seed`` is the dataset
    definition node's). ``shuffle``: ``examples`` (a new permutation of the split every
    epoch), ``buffer`` (tf.data's ``dataset.shuffle(shuffle_buffer)`` through the
    split's order, anew every epoch), ``batches`` (batches made once from the split's
    order, as ``.batch(batch_size)``, only their order shuffled each epoch) or ``none``.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str
    recipe: Recipe
    image_size: PositiveInt
    batch_size: PositiveInt = 32
    train_image_size: PositiveInt | None = None  # finetune: the low-res size the resize follows
    resize_to: PositiveInt | None = None  # finetune: overrides the resize it derives
    # standard: the centre crop's share of the shorter side (0.875: 224 out of 256)
    crop_ratio: Annotated[float, annotated_types.Gt(0.0), annotated_types.Le(1.0)] = 0.875
    # YAML gives lists: the pairs alone are not strict. Checked below: 0 < low <= high.
    area_range: tuple[float, float] = Field((0.05, 1.0), strict=False)
    aspect_ratio_range: tuple[float, float] = Field((0.75, 1.33), strict=False)
    shuffle: Shuffle = "examples"
    shuffle_buffer: PositiveInt = 1280  # shuffle: buffer
    seed: NonNegativeInt = 42

    @field_validator("area_range", "aspect_ratio_range")
    @classmethod
    def _ordered(cls, pair: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        low, high = pair
        upper = 1.0 if info.field_name == "area_range" else None
        if not 0 < low <= high or (upper is not None and high > upper):
            raise ValueError(f"must satisfy 0 < low <= high{f' <= {upper:g}' if upper else ''}")
        return pair

    @model_validator(mode="after")
    def _finetune_resize(self) -> InputPipeline:
        if self.recipe != "finetune":
            return self
        if self.resize_to is None and self.train_image_size is None:
            raise ValueError("train_image_size is missing (the finetune recipe needs it)")
        if self.resize_size < self.image_size:
            if self.resize_to is not None:
                raise ValueError(f"resize_to must be at least image_size ({self.image_size}), got "
                                 f"{self.resize_to}: the resize must hold the centre crop")
            raise ValueError(
                f"train_image_size must be no larger than image_size ({self.image_size}), got "
                f"{self.train_image_size}: the finetune recipe resizes to {self.resize_size} and "
                f"centre-crops {self.image_size}")
        return self

    @property
    def resize_size(self) -> int:
        """The finetune recipe's resize before the centre crop (392 for 224 after 128)."""
        if self.resize_to is not None:
            return self.resize_to
        if self.train_image_size is None:
            raise ValueError("the finetune recipe needs train_image_size or resize_to")
        return int(self.image_size / self.train_image_size * self.image_size)

    def draw(self, shape: tuple[int, ...], train: bool, rng: np.random.Generator
             ) -> tuple[transforms.Box | OfficialDraw | None, bool]:
        """The random choices for one photo of ``shape``: the crop box (initial recipe,
        training) and the flip (training), drawn from ``rng`` in that order; for the
        official recipe the flip, then its jitter and crop shift (``official_draw``), the
        order of their transforms_v2.py:186-189."""
        if not train:
            return None, False
        if self.recipe == "official":
            flip = bool(rng.random() < 0.5)
            return official_draw(shape, self.image_size, rng), flip
        box = None
        if self.recipe == "initial":
            box = transforms.sample_distorted_box(rng, shape[0], shape[1], self.area_range,
                                                  self.aspect_ratio_range)
        return box, bool(rng.random() < 0.5)

    def apply(self, image: np.ndarray, crop: transforms.Box | OfficialDraw | None, flip: bool,
              out: np.ndarray | None = None) -> np.ndarray:
        """The recipe's preprocessing with its random choices given (``draw``)."""
        if self.recipe == "initial":
            return preprocess_initial(image, self.image_size, crop, flip, out)
        if self.recipe == "official":
            return preprocess_official(image, self.image_size, crop, flip, out)
        if self.recipe == "standard":
            return preprocess_standard(image, self.image_size, self.crop_ratio, flip, out)
        return preprocess_finetune(image, self.image_size, self.resize_size, flip, out)

    def preprocess(self, image: np.ndarray, train: bool, rng: np.random.Generator,
                   out: np.ndarray | None = None) -> np.ndarray:
        """One decoded HxWx3 photo as a float32 model input (0-255): ``draw``, then ``apply``."""
        crop, flip = self.draw(image.shape, train, rng)
        return self.apply(image, crop, flip, out)


def buffer_shuffle(count: int, buffer_size: int, rng: np.random.Generator) -> np.ndarray:
    """The order ``tf.data.Dataset.shuffle(buffer_size)`` gives ``range(count)``.

    tf.data fills a buffer with the first ``buffer_size`` elements, then repeatedly
    emits one at a uniformly random place in the buffer and puts the next element there
    (once the input is used up, the buffer only empties). The draws are ``rng``'s, not
    TensorFlow's: the orders are alike in law, not equal.
    """
    buffer = list(range(min(buffer_size, count)))
    upcoming = len(buffer)
    order = np.empty(count, dtype=np.int64)
    for position in range(count):
        slot = int(rng.integers(len(buffer)))
        order[position] = buffer[slot]
        if upcoming < count:
            buffer[slot] = upcoming
            upcoming += 1
        else:
            buffer[slot] = buffer[-1]
            buffer.pop()
    return order
