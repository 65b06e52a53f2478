"""The experiment's parameters, typed: every key, its type, its rules, in one place.

``conf/*/parameters*.yml`` holds one tree; ``ExperimentParameters`` is its type. The
project's context (``fixres_kedro.context``) checks the whole tree when the run starts,
before any hook or node reads a parameter, and a wrong value, a missing key or an unknown
one stops the run with one ``Error: Invalid parameters: ...`` line naming each key (an
unknown key with the closest valid one). The nodes take the sections they need typed
(``training: TrainingParams``); Kedro then hands them instances (``kedro/validation``).

Rules within a section live in its type (``InputPipeline`` checks its recipe, for
example); rules across sections (an image size the backbone can take) live in
``ExperimentParameters.validate``.
"""

from __future__ import annotations

from typing import Literal

from fixres_kedro.fixres.config import (
    Config,
    at_least,
    check,
    config,
    non_negative_int,
    optional,
    positive_int,
    positive_number,
)
from fixres_kedro.fixres.errors import Problem
from fixres_kedro.fixres.input_pipeline import InputPipeline
from fixres_kedro.fixres.model import BACKBONES, FINETUNE_VARIANTS, PRECISIONS, min_image_size
from fixres_kedro.fixres.tfds_order import slice_bounds

__all__ = [
    "DataParams", "ExperimentParameters", "InputPipeline", "ModelParams", "RunParams",
    "RuntimeParams", "SplitParams", "SweepParams", "TrainingParams", "VariantParams",
]


def _tfds_slice(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be a tfds slice such as 'train[:90%]'"
    try:
        slice_bounds(value, 100)
    except ValueError:
        return "must be a tfds slice such as 'train[:90%]'"
    return None


@config
class RuntimeParams(Config):
    """How the run executes: the same numbers whatever the settings (``conf/gpu``)."""

    workers: int = check(non_negative_int, 0)  # input-pipeline threads; 0: one per core
    steps_per_execution: int = check(positive_int, 1)
    jit_compile: bool | Literal["auto"] = "auto"
    precision: Literal[PRECISIONS] = "float32"  # type: ignore[valid-type]
    data_parallel: bool = False
    compilation_cache: bool = True  # keep compiled programs for the next run (.cache/)


@config
class ModelParams(Config):
    """The classifier: ``resnet50v2`` (the example's), or ``tiny`` (tests)."""

    backbone: Literal[BACKBONES] = "resnet50v2"  # type: ignore[valid-type]


@config
class SplitParams(Config):
    """tfds slices of the ``train`` split, and optional caps (the smoke environment)."""

    train: str = check(_tfds_slice, "train[:90%]")
    validation: str = check(_tfds_slice, "train[90%:]")
    max_train_examples: int | None = check(optional(positive_int), None)
    max_validation_examples: int | None = check(optional(positive_int), None)


@config
class DataParams(Config):
    """Where the photos come from (read by the catalog) and how they are split."""

    split: SplitParams = SplitParams()
    # Read by the catalog's flower_photos entry (--params data.source=archive,data.path=...).
    source: Literal["tfds", "archive", "image_folder"] | None = None
    path: str | None = None
    max_photo_megabytes: float | None = check(optional(positive_number), None)


@config
class TrainingParams(Config):
    """One training run: epochs, Adam's learning rate, early stopping (null: off).

    ``variant`` (fine-tuning runs only): ``example``, the Keras example's (``post_bn``
    and the classifier learn), or ``official``, the FixRes authors' (the classifier
    learns; ``post_bn`` re-estimates its statistics with scale and offset frozen).
    """

    epochs: int = check(positive_int)
    learning_rate: float = check(positive_number)
    early_stopping_patience: int | None = check(optional(positive_int), None)
    variant: Literal[FINETUNE_VARIANTS] = "example"  # type: ignore[valid-type]


@config
class RunParams(Config):
    """One run of the protocol: its input pipeline and its training."""

    dataset: InputPipeline
    training: TrainingParams


@config
class VariantParams(Config):
    """A fine-tuning variant of the ``variants`` pipeline: its training only (it uses
    the ``finetune`` run's input pipeline)."""

    training: TrainingParams


@config
class SweepParams(Config):
    """The test-resolution sweep: resolutions, transforms, the crop's resize ratio."""

    resolutions: tuple[int, ...]
    transforms: tuple[Literal["resize", "resize_crop"], ...] = ("resize", "resize_crop")
    resize_ratio: float = check(at_least(1.0, "the resize must hold the crop"), 1.75)
    batch_size: int = check(positive_int, 32)


@config
class ExperimentParameters(Config):
    """The whole parameter tree (``conf/base/parameters*.yml`` merged with the environment's
    and the command line's)."""

    seed: int = check(non_negative_int)
    runtime: RuntimeParams = RuntimeParams()
    model: ModelParams = ModelParams()
    data: DataParams = DataParams()
    initial: RunParams
    finetune: RunParams
    vanilla: RunParams
    finetune_official: VariantParams
    sweep: SweepParams
    seeds: tuple[int, ...]

    def validate(self) -> list[Problem]:
        problems = []
        smallest = min_image_size(self.model.backbone)
        why = f"must be an integer >= {smallest} (the {self.model.backbone} backbone's smallest input)"
        runs = {name: value for name, value in vars(self).items() if isinstance(value, RunParams)}
        for run, params in runs.items():
            if params.dataset.image_size < smallest:
                problems.append(Problem(f"{run}.dataset.image_size",
                                        f"{why}, got {params.dataset.image_size!r}"))
        for index, size in enumerate(self.sweep.resolutions):
            if size < smallest:
                problems.append(Problem(f"sweep.resolutions[{index}]", f"{why}, got {size!r}"))
        if any(seed < 0 for seed in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            problems.append(Problem("seeds", f"must be distinct integers >= 0, got {list(self.seeds)!r}"))
        return problems
