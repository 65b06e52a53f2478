"""Checks of the run's parameters, so a wrong value fails at start with its key named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fixres_kedro.errors import InvalidParameterError
from fixres_kedro.fixres.input_pipeline import RECIPES, SHUFFLE_MODES
from fixres_kedro.fixres.model import FINETUNE_VARIANTS, PRECISIONS
from fixres_kedro.fixres.tfds_order import slice_bounds

RUNS = ("initial", "finetune", "vanilla")
# Keys that may be left out (their defaults are the example's).
OPTIONAL_KEYS = (
    "max_train_examples", "max_validation_examples", "early_stopping_patience",
    "shuffle", "precision", "variant", "data_parallel",
)
# ResNet50V2 downsamples by 32: a smaller input leaves no feature map to pool.
MIN_IMAGE_SIZE = 32




def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any) -> str | None:
    return None if _is_int(value) and value > 0 else "must be a positive integer"


def _optional_positive_int(value: Any) -> str | None:
    return None if value is None else _positive_int(value)


def _non_negative_int(value: Any) -> str | None:
    return None if _is_int(value) and value >= 0 else "must be an integer >= 0"


def _positive_number(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a positive number"


def _image_size(value: Any) -> str | None:
    if _is_int(value) and value >= MIN_IMAGE_SIZE:
        return None
    return f"must be an integer >= {MIN_IMAGE_SIZE} (ResNet50V2 downsamples by 32)"


def _one_of(choices: tuple) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(str, choices))}"

    return check


def _range(upper: float | None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            return "must be a pair [low, high]"
        if not 0 < low <= high or (upper is not None and high > upper):
            bound = f" <= {upper}" if upper is not None else ""
            return f"must satisfy 0 < low <= high{bound}"
        return None

    return check


def _at_least_one(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 1
    return None if ok else "must be a number >= 1 (the resize must hold the crop)"


def _split_slice(value: Any) -> str | None:
    try:
        slice_bounds(str(value), 100)
    except ValueError:
        return "must be a tfds slice such as 'train[:90%]'"
    return None


def _get(params: dict, key: str) -> Any:
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def validate_parameters(params: dict[str, Any]) -> None:
    """Raise ``InvalidParameterError`` naming every key whose value cannot work."""
    checks: dict[str, Callable[[Any], str | None]] = {
        "seed": _non_negative_int,
        "runtime.workers": _non_negative_int,
        "runtime.steps_per_execution": _positive_int,
        "runtime.jit_compile": _one_of(("auto", True, False)),
        "runtime.precision": _one_of(PRECISIONS),
        "runtime.data_parallel": _one_of((True, False)),
        "data.split.train": _split_slice,
        "data.split.validation": _split_slice,
        "data.split.max_train_examples": _optional_positive_int,
        "data.split.max_validation_examples": _optional_positive_int,
    }
    for run in RUNS:
        checks |= {
            f"{run}.dataset.recipe": _one_of(RECIPES),
            f"{run}.dataset.image_size": _image_size,
            f"{run}.dataset.batch_size": _positive_int,
            f"{run}.dataset.shuffle": _one_of(SHUFFLE_MODES),
            f"{run}.training.epochs": _positive_int,
            f"{run}.training.learning_rate": _positive_number,
            f"{run}.training.early_stopping_patience": _optional_positive_int,
        }
    # The fine-tuning variants and any other run with a training section.
    for run, section in params.items():
        if run in RUNS or not isinstance(section, dict) or "training" not in section:
            continue
        checks |= {
            f"{run}.training.variant": _one_of(FINETUNE_VARIANTS),
            f"{run}.training.epochs": _positive_int,
        }
    for run in RUNS:
        checks[f"{run}.training.variant"] = _one_of(FINETUNE_VARIANTS)
    if "sweep" in params:
        checks["sweep.resize_ratio"] = _at_least_one
    optional = {
        f"{run}.dataset.{key}": check
        for run in RUNS
        for key, check in (("area_range", _range(1.0)), ("aspect_ratio_range", _range(None)))
    }
    problems = []
    for key, check in checks.items():
        try:
            value = _get(params, key)
        except KeyError:
            if key.endswith(OPTIONAL_KEYS):
                continue
            problems.append(f"{key} is missing")
            continue
        if (message := check(value)) is not None:
            problems.append(f"{key} {message}, got {value!r}")
    for key, check in optional.items():
        try:
            value = _get(params, key)
        except KeyError:
            continue
        if (message := check(value)) is not None:
            problems.append(f"{key} {message}, got {value!r}")
    for run in RUNS:
        try:
            recipe = _get(params, f"{run}.dataset.recipe")
            size = _get(params, f"{run}.dataset.image_size")
        except KeyError:
            continue
        if recipe != "finetune":
            continue
        try:
            train_size = _get(params, f"{run}.dataset.train_image_size")
        except KeyError:
            problems.append(f"{run}.dataset.train_image_size is missing (the finetune recipe needs it)")
            continue
        if _positive_int(train_size) or (_is_int(size) and train_size > size):
            problems.append(
                f"{run}.dataset.train_image_size must be a positive integer no larger than "
                f"{run}.dataset.image_size ({size}), got {train_size!r}: the finetune "
                "recipe resizes to image_size / train_image_size * image_size and "
                "centre-crops image_size"
            )
    resolutions = params.get("sweep", {}).get("resolutions", []) if isinstance(params.get("sweep"), dict) else []
    for index, resolution in enumerate(resolutions):
        if (message := _image_size(resolution)) is not None:
            problems.append(f"sweep.resolutions[{index}] {message}, got {resolution!r}")
    if problems:
        raise InvalidParameterError("Invalid parameters: " + "; ".join(problems))
