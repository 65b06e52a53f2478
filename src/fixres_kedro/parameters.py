"""The experiment's parameters as pydantic models: every key, its type and its rules.

Nodes take the sections they need typed (``training: TrainingParams``) and Kedro
validates them (``kedro/validation``). ``ParametersHook`` checks the whole tree against
``ExperimentParameters`` first, so that an unknown key or a rule across sections stops the
run too; ``problems`` turns pydantic's errors into the one-line ``Invalid parameters: ...``.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any, Literal, Union

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from fixres_kedro.fixres.backbones import FinetuneVariant, backbone_name, min_image_size
from fixres_kedro.fixres.errors import InvalidParameterError, Problem
from fixres_kedro.fixres import memory
from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.datasets.photo_source.tfds_order import slice_bounds

__all__ = [
    "DataParams", "ExperimentParameters", "InputPipeline", "ModelParams", "ModelRunParams",
    "RuntimeParams", "SplitParams", "SweepParams", "SweepTransform", "TrainingParams", "VariantParams",
    "check_parameters", "problems",
]

Precision = Literal["float32", "mixed_bfloat16", "mixed_float16"]


class _Section(BaseModel):
    # Strict: YAML's 1 is not True, "3" is not 3. Frozen: a node cannot change what
    # another reads. Extra keys are mistakes (a typo would otherwise be ignored).
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class RuntimeParams(_Section):
    """How the run executes; the numbers are the same whatever these are (``conf/gpu``)."""

    workers: NonNegativeInt = 0  # input-pipeline threads; 0: one per core
    steps_per_execution: PositiveInt = 1
    jit_compile: bool | Literal["auto"] = "auto"
    precision: Precision = "float32"
    data_parallel: bool = False
    compilation_cache: bool = True  # keep compiled programs for the next run (.cache/)
    require_accelerator: bool = False  # refuse to train on the CPU (the gpu environment)


class ModelParams(_Section):
    """The classifier: a ``keras.applications`` constructor's name in any case
    (``resnet50v2``, the example's; ``fixres.backbones.BACKBONES``), or ``tiny`` (tests)."""

    backbone: str = "resnet50v2"

    @field_validator("backbone")
    @classmethod
    def _known(cls, name: str) -> str:
        return backbone_name(name)  # lower case: ResNet50 and resnet50 are one backbone


def _tfds_slice(value: str) -> str:
    try:
        slice_bounds(value, 100)
    except ValueError:
        raise ValueError("must be a tfds slice such as 'train[:90%]'") from None
    return value


class SplitParams(_Section):
    """tfds slices of the ``train`` split, and optional caps (the smoke environment)."""

    train: str = "train[:90%]"
    validation: str = "train[90%:]"
    max_train_examples: PositiveInt | None = None
    max_validation_examples: PositiveInt | None = None

    _slices = field_validator("train", "validation")(_tfds_slice)


class DataParams(_Section):
    """Where the photos come from (read by the catalog) and how they are split."""

    split: SplitParams = SplitParams()
    # Read by the catalog's flower_photos entry (--params data.source=archive,data.path=...).
    source: Literal["tfds", "archive", "image_folder"] | None = None
    path: str | None = None
    max_photo_megabytes: PositiveFloat | None = None


class TrainingParams(_Section):
    """One training: epochs, the optimizer (Adam, the example's, or SGD as PyTorch's, the
    FixRes authors': ``fixres.training.make_optimizer``) and its learning rate, early
    stopping (null: off), and for a fine-tuning the variant
    (``fixres.backbones.FinetuneVariant``)."""

    epochs: PositiveInt
    learning_rate: PositiveFloat
    early_stopping_patience: PositiveInt | None = None
    variant: FinetuneVariant = "example"
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: Annotated[float, annotated_types.Ge(0.0), annotated_types.Lt(1.0)] = 0.0  # sgd
    weight_decay: Annotated[float, annotated_types.Ge(0.0)] = 0.0  # sgd: L2 added to the gradient
    lr_step_epochs: PositiveInt | None = None  # the rate / 10 every this many epochs (StepLR)

    @model_validator(mode="after")
    def _sgd_settings(self) -> TrainingParams:
        if self.optimizer != "sgd" and (self.momentum or self.weight_decay):
            raise ValueError("momentum and weight_decay are SGD's: they need optimizer: sgd")
        return self


class ModelRunParams(_Section):
    """One model of the protocol: its input pipeline and its training."""

    dataset: InputPipeline
    training: TrainingParams


class VariantParams(_Section):
    """A fine-tuning variant (``variants`` pipeline): its input pipeline (the official
    variant's is the FixRes authors' recipe) and its training."""

    dataset: InputPipeline
    training: TrainingParams


SweepTransform = Literal["resize", "resize_crop", "resize_shorter_crop"]


class SweepParams(_Section):
    """The test-resolution sweep: resolutions, transforms (``pipelines.sweep.nodes.
    evaluation_pipeline``), the square crop's resize ratio, the standard crop's share of
    the shorter side, and the Monte Carlo draws of the predicted test resolution."""

    resolutions: tuple[PositiveInt, ...] = Field(strict=False)
    transforms: tuple[SweepTransform, ...] = Field(
        ("resize", "resize_crop", "resize_shorter_crop"), strict=False)
    resize_ratio: Annotated[float, annotated_types.Ge(1.0)] = 1.75  # the resize must hold the crop
    crop_ratio: Annotated[float, annotated_types.Gt(0.0), annotated_types.Le(1.0)] = 0.875
    prediction_draws: Annotated[int, annotated_types.Ge(2)] = 20000
    batch_size: PositiveInt = 32


class ExperimentParameters(_Section):
    """The whole tree: ``conf/base/parameters*.yml`` merged with the environment's and the
    command line's."""

    seed: NonNegativeInt
    runtime: RuntimeParams = RuntimeParams()
    model: ModelParams = ModelParams()
    data: DataParams = DataParams()
    initial: ModelRunParams
    finetune: ModelRunParams
    vanilla: ModelRunParams
    finetune_official: VariantParams
    sweep: SweepParams
    seeds: tuple[NonNegativeInt, ...] = Field(strict=False)

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("must be distinct integers >= 0")
        return seeds

    @model_validator(mode="after")
    def _fits_the_backbone(self) -> ExperimentParameters:
        smallest = min_image_size(self.model.backbone)
        why = f"must be an integer >= {smallest} (the {self.model.backbone} backbone's smallest input)"
        wrong = [f"{name}.dataset.image_size {why}, got {run.dataset.image_size!r}"
                 for name, run in self if isinstance(run, (ModelRunParams, VariantParams))
                 and run.dataset.image_size < smallest]
        wrong += [f"sweep.resolutions[{index}] {why}, got {size!r}"
                  for index, size in enumerate(self.sweep.resolutions) if size < smallest]
        if wrong:
            raise ValueError("; ".join(wrong))
        return self

    @model_validator(mode="after")
    def _fits_the_memory(self) -> ExperimentParameters:
        # Here, before the split is read: too large a batch would otherwise end in a
        # MemoryError traceback at its first allocation (fixres.memory).
        memories = memory.host_memories(self.runtime.data_parallel)
        steps = [(f"{name}.dataset.image_size", run.dataset.image_size, f"{name}.dataset.batch_size",
                  run.dataset.batch_size)
                 for name, run in self if isinstance(run, (ModelRunParams, VariantParams))]
        steps += [(f"sweep.resolutions[{index}]", size, "sweep.batch_size", self.sweep.batch_size)
                  for index, size in enumerate(self.sweep.resolutions)]
        smallest = min_image_size(self.model.backbone)
        wrong: dict[str, str] = {}  # one line per key named: a batch too large for two sizes once
        for step in sorted(steps, key=lambda step: -step[1]):
            found = _too_large(*step, memories, smallest)
            if found and found[0] not in wrong:
                wrong[found[0]] = found[1]
        if wrong:
            raise ValueError("; ".join(wrong.values()))
        return self


def _too_large(size_key: str, size: int, batch_key: str, batch: int,
               memories: tuple[memory.Memory, ...], smallest: int) -> tuple[str, str] | None:
    """The key to lower and why, when a batch of ``batch`` images of ``size`` cannot fit
    ``memories``: the image size when not even one image fits, else the batch size."""
    short = memory.too_small(batch, size, memories)
    if short is None:
        return None
    why = (f"one batch and its activations (~{memory.size_text(memory.needed_bytes(batch, size, short))}) "
           f"must fit {short}")
    largest_size = memory.largest_image_size(batch, memories)
    most_images = memory.largest_batch_size(size, memories)
    if most_images == 0:
        return size_key, f"{size_key} must be at most {largest_size} with {batch_key} {batch}, got {size}: {why}"
    other = f" (or {size_key} at most {largest_size})" if largest_size >= smallest else ""
    return batch_key, (f"{batch_key} must be at most {most_images} with {size_key} {size}{other}, "
                       f"got {batch}: {why}")


def check_parameters(parameters: dict[str, Any]) -> ExperimentParameters:
    """``parameters`` as ``ExperimentParameters``; ``InvalidParameterError`` naming every
    wrong key in one line otherwise."""
    try:
        return ExperimentParameters.model_validate(parameters)
    except ValidationError as error:
        raise InvalidParameterError(problems(error, ExperimentParameters)) from None


# --- pydantic's errors as one line each --------------------------------------------------

def problems(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Each of ``error``'s errors as a ``Problem``: the dotted key, what it must be, what it
    got, and for an unknown key the closest valid one."""
    found: dict[str, Problem] = {}
    for item in error.errors(include_url=False):
        loc = _field_loc(model, list(item["loc"]))
        key = _dotted(loc)
        if key in found:  # each member of a union fails on its own; one line says all
            continue
        kind, got = item["type"], item.get("input")
        if kind == "missing":
            found[key] = Problem(key, "is missing")
        elif kind == "extra_forbidden":
            found[key] = Problem(key, "is not a parameter", _closest(model, loc))
        elif kind == "value_error":
            text = str(item["ctx"]["error"])
            if text.startswith("must "):  # a field's own rule
                found[key] = Problem(key, f"{text}, got {_show(got)}")
            else:  # a rule across fields: its text starts with the field it names
                found[key] = Problem("", _dotted([*loc, text]))
        else:
            what = _describe(_annotation(model, loc))
            found[key] = Problem(key, f"must be {what}, got {_show(got)}" if what else item["msg"])
    return list(found.values())


def _field_loc(model: type[BaseModel], loc: list[Any]) -> list[Any]:
    """``loc`` without the names pydantic gives the members of a union (``bool``)."""
    kept: list[Any] = []
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            kept.append(part)
        elif current is not None:
            kept.append(part)
            field = current.model_fields.get(part)
            current = next((t for t in _members(field.annotation) if _is_model(t)), None) if field else None
        # else: a union member's tag under a field that is not a model
    return kept


def _dotted(loc: list[Any]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _show(value: Any) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


def _model_at(model: type[BaseModel], loc: list[Any]) -> type[BaseModel] | None:
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        inner = field and next((t for t in _members(field.annotation) if _is_model(t)), None)
        if inner is None:
            return None
        model = inner
    return model


def _closest(model: type[BaseModel], loc: list[Any]) -> str | None:
    parent = _model_at(model, loc[:-1])
    if parent is None:
        return None
    close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1, cutoff=0.6)
    return _dotted([*loc[:-1], close[0]]) if close else None


def _annotation(model: type[BaseModel], loc: list[Any]) -> Any:
    names = [part for part in loc if isinstance(part, str)]
    parent = _model_at(model, names[:-1])
    if parent is None or not names or names[-1] not in parent.model_fields:
        return None
    field = parent.model_fields[names[-1]]
    if isinstance(loc[-1], int):  # one item of a tuple
        return next((typing.get_args(t)[0] for t in _members(field.annotation)
                     if typing.get_origin(t) is tuple), None)
    return Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [member for arg in typing.get_args(annotation) for member in _members(arg)]
    return [annotation]


def _describe(annotation: Any) -> str | None:
    """What a value of ``annotation`` must be, in words: ``a positive integer or null``."""
    if annotation is None:
        return None
    members = _members(annotation)
    if type(None) in members:
        rest = [member for member in members if member is not type(None)]
        inner = _describe(rest[0] if len(rest) == 1 else Union[tuple(rest)])
        return f"{inner} or null" if inner else None
    if len(members) > 1:
        parts = [_describe(member) for member in members]
        return " or ".join(parts) if all(parts) else None
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *metadata = typing.get_args(annotation)
        return _bounded(base, metadata)
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation)))
    if origin is tuple:
        item = _describe(typing.get_args(annotation)[0])
        return f"a list of {item.removeprefix('a ').removeprefix('an ')}s" if item else "a list"
    return _bounded(annotation, [])


def _bounded(base: Any, metadata: list[Any]) -> str | None:
    if base is bool:
        return "true or false"
    if _is_model(base):
        return "a mapping of parameters"
    noun = {int: "integer", float: "number", str: "string"}.get(base)
    if noun is None:
        return None
    article = "an" if noun == "integer" else "a"
    limits = []
    for bound in metadata:
        if isinstance(bound, annotated_types.Gt) and bound.gt == 0 and len(metadata) == 1:
            return f"a positive {noun}"
        if isinstance(bound, annotated_types.Gt):
            limits.append(f"> {bound.gt}" if noun == "integer" else f"> {bound.gt:g}")
        if isinstance(bound, annotated_types.Le):
            limits.append(f"<= {bound.le}" if noun == "integer" else f"<= {bound.le:g}")
        if isinstance(bound, annotated_types.Ge):
            limits.append(f">= {bound.ge}" if noun == "integer" else f">= {bound.ge:g}")
        if isinstance(bound, annotated_types.Lt):
            limits.append(f"< {bound.lt}" if noun == "integer" else f"< {bound.lt:g}")
    return f"{article} {noun} {' and '.join(limits)}" if limits else f"{article} {noun}"
