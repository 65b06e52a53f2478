"""The test resolution that FixRes predicts from a model's training crops (Touvron et al.
2019, "Fixing the train-test resolution discrepancy", Section 3.1, "apparent object size").

The paper's argument, for a square ``H x H`` photo and crops of aspect ratio 1: a
random-resized crop keeps the area fraction ``s`` of the photo, a square of side
``sqrt(s) H``, resized to ``K_train``: an object of ``r`` pixels appears ``r K_train /
(sqrt(s) H)`` pixels large. The test transform resizes the shorter side to
``K_test^image = K_test / crop_ratio``: it appears ``r K_test / (crop_ratio H)`` large. The
two agree on average, E[r_train / r_test] = 1, when

    K_test = K_train * crop_ratio * E[1 / sqrt(s)],

and with ``s`` uniform on ``[s_min, s_max]`` (torchvision's ``RandomResizedCrop``)

    E[1 / sqrt(s)] = 2 (sqrt(s_max) - sqrt(s_min)) / (s_max - s_min)   (= 2 / (1 + sqrt(s_min)) for s_max = 1).

This module computes the same prediction without the paper's two simplifications:

* the photos' own shapes, and every transform's *magnification* (output pixels per photo
  pixel, the geometric mean of the two axes when a transform squashes): a crop ``h x w``
  resized to ``K x K`` magnifies by ``K / sqrt(h w)``; the standard test transform by
  ``K_test^image / min(H, W)``. The prediction is ``S * E[m_train / m_test(S)]`` over the
  photos and the training draws, for any ``S`` (``m_test`` is proportional to ``S``).
* the project's crop sampler (``transforms.sample_distorted_box``, TensorFlow's), which
  draws the crop's *height* uniformly between those of the smallest and largest area, not
  the area: ``sqrt(s)`` is uniform, and E[1 / sqrt(s)] = ln(1 / a) / (1 - a) with ``a =
  sqrt(s_min)`` (``s_max = 1``), larger than the paper's (1.93 against 1.63 for s_min =
  0.05): small crops are drawn more often. Where a crop's aspect ratio does not fit the
  photo, the largest heights are cut off, and after 100 failed attempts the whole photo
  is used; only the Monte Carlo (``mean_inverse_sqrt_area``) sees those.

No Kedro here: the sweep pipeline's ``predict_test_resolutions`` node calls
``predict_test_resolution``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from fixres_kedro.fixres import transforms
from fixres_kedro.fixres.preprocessing import InputPipeline, official_resize_height, standard_resize_shape

Shape = tuple[int, int]
BoxSampler = Callable[[np.random.Generator, int, int, tuple[float, float], tuple[float, float]], transforms.Box]

# m_test is proportional to the test resolution up to the integer rounding of the resized
# sizes; at this resolution that rounding changes the prediction by less than 0.1%.
REFERENCE_RESOLUTION = 4096


def paper_inverse_sqrt_area(area_range: tuple[float, float]) -> float:
    """E[1 / sqrt(s)] for the area fraction ``s`` uniform on ``area_range``: the paper's
    assumption (torchvision's ``RandomResizedCrop``)."""
    low, high = area_range
    if math.isclose(low, high):
        return 1.0 / math.sqrt(low)
    return 2.0 * (math.sqrt(high) - math.sqrt(low)) / (high - low)


def height_uniform_inverse_sqrt_area(area_range: tuple[float, float]) -> float:
    """E[1 / sqrt(s)] when ``sqrt(s)`` is uniform between ``sqrt`` of ``area_range``'s
    bounds: the project's sampler on a photo where every crop fits (aspect ratio 1 on a
    square photo): ln(sqrt(high) / sqrt(low)) / (sqrt(high) - sqrt(low))."""
    low, high = (math.sqrt(bound) for bound in area_range)
    if math.isclose(low, high):
        return 1.0 / low
    return math.log(high / low) / (high - low)


def uniform_area_box(
    rng: np.random.Generator, image_height: int, image_width: int,
    area_range: tuple[float, float], aspect_ratio_range: tuple[float, float], max_attempts: int = 10,
) -> transforms.Box:
    """A crop box as torchvision's ``RandomResizedCrop.get_params`` draws it: the area
    fraction uniform on ``area_range``, the aspect ratio log-uniform, ``max_attempts``
    tries, then the centred largest crop of an allowed ratio. The paper's sampler, for
    comparison with the project's (``transforms.sample_distorted_box``)."""
    area = image_height * image_width
    log_low, log_high = math.log(aspect_ratio_range[0]), math.log(aspect_ratio_range[1])
    for _ in range(max_attempts):
        target = area * rng.uniform(*area_range)
        ratio = math.exp(rng.uniform(log_low, log_high))
        width = int(round(math.sqrt(target * ratio)))
        height = int(round(math.sqrt(target / ratio)))
        if 0 < width <= image_width and 0 < height <= image_height:
            y = int(rng.integers(0, image_height - height + 1))
            x = int(rng.integers(0, image_width - width + 1))
            return transforms.Box(y, x, height, width)
    ratio = image_width / image_height
    if ratio < aspect_ratio_range[0]:
        width, height = image_width, int(round(image_width / aspect_ratio_range[0]))
    elif ratio > aspect_ratio_range[1]:
        height, width = image_height, int(round(image_height * aspect_ratio_range[1]))
    else:
        height, width = image_height, image_width
    return transforms.Box((image_height - height) // 2, (image_width - width) // 2, height, width)


class Estimate(NamedTuple):
    """A Monte Carlo mean and its standard error."""

    mean: float
    stderr: float


def _estimate(values: np.ndarray) -> Estimate:
    return Estimate(float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values))))


def mean_inverse_sqrt_area(
    shapes: Sequence[Shape], area_range: tuple[float, float], aspect_ratio_range: tuple[float, float],
    draws: int, rng: np.random.Generator, sampler: BoxSampler = transforms.sample_distorted_box,
) -> Estimate:
    """E[sqrt(H W / (h w))] (E[1 / sqrt(s)]) over ``draws`` crops of ``sampler``, each of a
    photo drawn uniformly from ``shapes`` (``(height, width)``)."""
    return _estimate(np.array([
        math.sqrt(height * width / (box.height * box.width))
        for height, width in (shapes[int(i)] for i in rng.integers(0, len(shapes), draws))
        for box in [sampler(rng, height, width, area_range, aspect_ratio_range)]
    ]))


def train_magnification(pipeline: InputPipeline, shape: Shape, box: transforms.Box | None = None) -> float:
    """Output pixels per photo pixel of ``pipeline``'s training transform on a ``shape``
    photo (the geometric mean of the two axes' where it squashes); ``box``: the random
    crop of the ``initial`` recipe (None: the whole photo)."""
    height, width = shape
    if pipeline.recipe == "initial":
        crop_height, crop_width = (box.height, box.width) if box is not None else shape
        return pipeline.image_size / math.sqrt(crop_height * crop_width)
    return test_magnification(pipeline, shape)  # the other recipes train on their test geometry


def test_magnification(pipeline: InputPipeline, shape: Shape) -> float:
    """Output pixels per photo pixel of ``pipeline``'s validation transform on a ``shape``
    photo: ``initial`` squashes the photo to ``image_size``, ``finetune`` to ``resize_size``
    (then crops), ``standard`` and ``official`` keep the aspect ratio."""
    height, width = shape
    if pipeline.recipe == "initial":
        return pipeline.image_size / math.sqrt(height * width)
    if pipeline.recipe == "finetune":
        return pipeline.resize_size / math.sqrt(height * width)
    if pipeline.recipe == "standard":
        resized = standard_resize_shape(shape, pipeline.image_size, pipeline.crop_ratio)
        return min(resized) / min(height, width)
    return official_resize_height(pipeline.image_size) / height  # official: the height is set


class Prediction(NamedTuple):
    """The test resolution where objects appear as large as in training, by the paper's
    formula (square photos, area uniform) and by the Monte Carlo over the project's sampler
    and the photos' shapes, with the E[1 / sqrt(s)] each uses (1 for a recipe without a
    random crop)."""

    paper: float
    monte_carlo: float
    monte_carlo_stderr: float
    paper_inverse_sqrt_area: float
    inverse_sqrt_area: float


def predict_test_resolution(
    train: InputPipeline, at_resolution: Callable[[int], InputPipeline], shapes: Sequence[Shape],
    draws: int, rng: np.random.Generator,
) -> Prediction:
    """The test resolution that removes the apparent-size discrepancy between ``train``'s
    training transform and the test transform ``at_resolution(S)`` (an ``InputPipeline``
    whose validation transform is the test one at resolution ``S``).

    Paper: on a square photo, E[m_train] / m_test(1) with the crop's E[1 / sqrt(s)] of the
    uniform area law. Monte Carlo: ``S * E[m_train / m_test(S)]`` over ``draws`` photos of
    ``shapes``, each with a crop of the project's sampler for the ``initial`` recipe.
    """
    reference = at_resolution(REFERENCE_RESOLUTION)
    random_crop = train.recipe == "initial"
    square = (REFERENCE_RESOLUTION, REFERENCE_RESOLUTION)
    paper_factor = paper_inverse_sqrt_area(train.area_range) if random_crop else 1.0
    paper = (REFERENCE_RESOLUTION * paper_factor * train_magnification(train, square)
             / test_magnification(reference, square))
    ratios, inverse_roots = [], []
    for index in rng.integers(0, len(shapes), draws):
        shape = shapes[int(index)]
        box = (transforms.sample_distorted_box(rng, *shape, train.area_range, train.aspect_ratio_range)
               if random_crop else None)
        ratios.append(train_magnification(train, shape, box) / test_magnification(reference, shape))
        inverse_roots.append(1.0 if box is None else math.sqrt(shape[0] * shape[1] / (box.height * box.width)))
    estimate = _estimate(REFERENCE_RESOLUTION * np.array(ratios))
    return Prediction(paper, estimate.mean, estimate.stderr, paper_factor, float(np.mean(inverse_roots)))
