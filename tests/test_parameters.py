"""Typed parameters: the shipped configurations pass, and every wrong, missing or unknown
key is named in one line, before any hook or node runs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pydantic import ValidationError
from kedro.config import OmegaConfigLoader

from fixres_kedro.errors import InvalidParameterError
from fixres_kedro.fixres import memory
from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.parameters import (
    ExperimentParameters,
    ModelRunParams,
    RuntimeParams,
    TrainingParams,
    check_parameters,
)
from fixres_kedro.protocol import MODELS
from fixres_kedro.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[1] / "conf"
ENVIRONMENTS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("base", "local"))


def _parameters(env: str) -> dict:
    loader = OmegaConfigLoader(str(CONF), env=env, **{
        k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"
    })
    return loader["parameters"]


@pytest.mark.parametrize("env", ["local", *ENVIRONMENTS])
def test_shipped_parameters_are_valid(env):
    check_parameters(_parameters(env))


def test_the_models_of_the_protocol_are_the_parameter_sections():
    models = [name for name, field in ExperimentParameters.model_fields.items()
              if field.annotation is ModelRunParams]
    assert tuple(models) == MODELS


def test_smoke_merges_over_base():
    params = check_parameters(_parameters("smoke"))
    assert params.initial.dataset.image_size == 32
    assert params.initial.dataset.area_range == (0.05, 1.0)  # kept from base
    assert params.initial.training.learning_rate == 1e-3
    assert params.finetune.dataset.train_image_size == 32


def test_base_is_the_example_protocol():
    params = check_parameters(_parameters("local"))
    split = params.data.split
    assert (split.train, split.validation, split.max_train_examples) == ("train[:90%]", "train[90%:]", None)
    assert [getattr(params, r).dataset.image_size for r in MODELS] == [128, 224, 224]
    assert params.finetune.dataset.train_image_size == 128
    assert params.finetune.dataset.resize_size == 392
    assert [getattr(params, r).training.epochs for r in MODELS] == [30, 10, 30]
    assert [getattr(params, r).training.learning_rate for r in MODELS] == [1e-3, 1e-4, 1e-3]
    assert {getattr(params, r).dataset.batch_size for r in MODELS} == {32}
    assert params.model.backbone == "resnet50v2" and params.runtime.precision == "float32"
    assert len(params.seeds) >= 5


def _with(key: str, value: object) -> dict:
    params = copy.deepcopy(_parameters("local"))
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return params


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("initial.training.epochs", -1, "initial.training.epochs must be a positive integer, got -1"),
        ("vanilla.training.learning_rate", 0, "vanilla.training.learning_rate must be a positive number, got 0"),
        ("initial.dataset.image_size", 16, "initial.dataset.image_size must be an integer >= 32"),
        ("finetune.dataset.recipe", "zoom", "finetune.dataset.recipe must be one of initial, finetune, official, standard, got 'zoom'"),
        ("initial.dataset.shuffle", "sometimes", "initial.dataset.shuffle must be one of examples, buffer, batches, none"),
        ("initial.dataset.area_range", [0.5, 0.1], "initial.dataset.area_range must satisfy 0 < low <= high <= 1, got [0.5, 0.1]"),
        ("finetune.dataset.train_image_size", 256,
         "finetune.dataset.train_image_size must be no larger than image_size (224), got 256"),
        ("data.split.train", "train[:ninety]", "data.split.train must be a tfds slice"),
        ("data.split.max_train_examples", 0, "data.split.max_train_examples must be a positive integer or null"),
        ("runtime.steps_per_execution", 0, "runtime.steps_per_execution must be a positive integer"),
        ("runtime.precision", "fp8", "runtime.precision must be one of float32, mixed_bfloat16, mixed_float16, got 'fp8'"),
        ("runtime.jit_compile", "sometimes", "runtime.jit_compile must be true or false or one of auto, got 'sometimes'"),
        ("seed", "abc", "seed must be an integer >= 0, got 'abc'"),
        ("sweep.resolutions", [128, 16], "sweep.resolutions[1] must be an integer >= 32"),
        ("sweep.crop_ratio", 1.2, "sweep.crop_ratio must be a number > 0 and <= 1, got 1.2"),
        ("sweep.transforms", ["resize", "center"],
         "sweep.transforms[1] must be one of resize, resize_crop, resize_shorter_crop, got 'center'"),
        ("model.backbone", "vgg", "model.backbone must be one of resnet50v2, resnet101v2, "),
        ("finetune_official.training.momentum", 1.0, "finetune_official.training.momentum must be a number >= 0 and < 1, got 1.0"),
        ("seeds", [1, 1], "seeds must be distinct integers >= 0"),
    ],
)
def test_a_wrong_value_names_its_key(key, value, message):
    with pytest.raises(InvalidParameterError) as error:
        check_parameters(_with(key, value))
    assert message in str(error.value)
    assert str(error.value).startswith("Invalid parameters: ")
    assert "\n" not in str(error.value)


GIB = 2**30


@pytest.fixture
def host_of_16_gib(monkeypatch):
    """A host with 16 GiB of RAM and no GPU, whatever this one has."""
    ram = (memory.Memory("RAM", 16 * GIB, memory.ACTIVATION_FACTOR),)
    monkeypatch.setattr(memory, "host_memories", lambda data_parallel=False: ram)
    return ram


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # The probe: 112 GiB for one image, refused before any allocation.
        ("finetune.dataset.image_size", 100000,
         "finetune.dataset.image_size must be at most 2364 with finetune.dataset.batch_size 32, got 100000: "
         "one batch and its activations (~27.9 TiB) must fit the 16.0 GiB of RAM here"),
        ("initial.dataset.batch_size", 10**5,
         "initial.dataset.batch_size must be at most 10922 with initial.dataset.image_size 128 "
         "(or initial.dataset.image_size at most 42), got 100000: "),
        # No image size under the backbone's smallest (32) is offered.
        ("vanilla.dataset.batch_size", 10**6,
         "vanilla.dataset.batch_size must be at most 3566 with vanilla.dataset.image_size 224, got 1000000: "),
        # A batch too large for the sweep is named once, at its largest resolution.
        ("sweep.batch_size", 10**5,
         "sweep.batch_size must be at most 1747 with sweep.resolutions[6] 320 (or sweep.resolutions[6] at most 42), got 100000: "),
        ("sweep.resolutions", [128, 20000],
         "sweep.resolutions[1] must be at most 2364 with sweep.batch_size 32, got 20000"),
    ],
)
def test_a_batch_the_host_cannot_hold_names_the_key_and_its_bound(host_of_16_gib, key, value, message):
    with pytest.raises(InvalidParameterError) as error:
        check_parameters(_with(key, value))
    text = str(error.value)
    assert message in text and "\n" not in text
    assert text.count("must be at most") == 1, text


def test_the_bound_is_the_host_memory(host_of_16_gib):
    """2364 is the largest image size whose batch of 32 fits 16 GiB: 2365 is refused."""
    check_parameters(_with("vanilla.dataset.image_size", 2364))
    with pytest.raises(InvalidParameterError, match="vanilla.dataset.batch_size must be at most 31 with"):
        check_parameters(_with("vanilla.dataset.image_size", 2365))


@pytest.mark.parametrize("env", ["local", *ENVIRONMENTS])
def test_shipped_parameters_fit_a_small_host(monkeypatch, env):
    """A laptop (4 GiB of RAM), or a 4 GiB GPU: every shipped environment still runs."""
    small = (memory.Memory("RAM", 4 * GIB, memory.HOST_COPIES), memory.Memory("GPU memory", 4 * GIB, memory.ACTIVATION_FACTOR))
    monkeypatch.setattr(memory, "host_memories", lambda data_parallel=False: small)
    check_parameters(_parameters(env))
    ram_only = (memory.Memory("RAM", 4 * GIB, memory.ACTIVATION_FACTOR),)
    monkeypatch.setattr(memory, "host_memories", lambda data_parallel=False: ram_only)
    check_parameters(_parameters(env))


def test_a_missing_key_is_named():
    params = copy.deepcopy(_parameters("local"))
    del params["vanilla"]["training"]["epochs"]
    with pytest.raises(InvalidParameterError, match="vanilla.training.epochs is missing"):
        check_parameters(params)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("initial.training.epoch", "initial.training.epoch is not a parameter (did you mean initial.training.epochs?)"),
        ("runtime.worker", "runtime.worker is not a parameter (did you mean runtime.workers?)"),
        ("vanila", "vanila is not a parameter (did you mean vanilla?)"),
        ("nonsense_key", "nonsense_key is not a parameter"),
    ],
)
def test_an_unknown_key_is_refused_with_the_closest_valid_one(key, message):
    with pytest.raises(InvalidParameterError) as error:
        check_parameters(_with(key, 5 if "." in key else {"training": {"epochs": 1}}))
    assert message in str(error.value)


def test_a_smaller_backbone_takes_smaller_images():
    params = _with("initial.dataset.image_size", 16)
    params["model"] = {"backbone": "tiny"}
    assert check_parameters(params).initial.dataset.image_size == 16


def test_every_problem_is_named_at_once():
    params = _with("seed", -1)
    params["runtime"]["workers"] = "all"
    with pytest.raises(InvalidParameterError) as error:
        check_parameters(params)
    assert "seed must be" in str(error.value) and "runtime.workers must be" in str(error.value)


def test_sections_are_the_types_kedro_hands_to_the_nodes():
    runtime = RuntimeParams(workers=2)
    assert (runtime.steps_per_execution, runtime.jit_compile, runtime.precision) == (1, "auto", "float32")
    assert RuntimeParams.model_validate({"workers": 2}) == runtime
    training = TrainingParams(epochs=3, learning_rate=0.1)
    assert training.model_dump() == {"epochs": 3, "learning_rate": 0.1, "early_stopping_patience": None,
                                     "variant": "example", "optimizer": "adam", "momentum": 0.0,
                                     "weight_decay": 0.0, "lr_step_epochs": None}
    pipeline = InputPipeline(name="t", recipe="initial", image_size=64, area_range=[0.1, 0.9])
    assert pipeline.area_range == (0.1, 0.9) and pipeline.model_copy(update={"seed": 3}).seed == 3
    with pytest.raises(ValidationError, match="frozen"):
        training.epochs = 4  # a node cannot change what another reads


def test_the_backbone_is_any_keras_application_by_name_with_its_smallest_input():
    params = check_parameters(_with("model.backbone", "EfficientNetV2B0"))
    assert params.model.backbone == "efficientnetv2b0"  # the case does not matter
    with pytest.raises(InvalidParameterError) as error:
        check_parameters(_with("model.backbone", "Xception") | {"sweep": {"resolutions": [64, 128]}})
    assert ("sweep.resolutions[0] must be an integer >= 71 (the xception backbone's smallest input), got 64"
            in str(error.value))


def test_the_official_variant_is_the_fixres_authors_recipe():
    official = check_parameters(_parameters("local")).finetune_official
    assert official.dataset.recipe == "official" and official.dataset.image_size == 224
    training = official.training
    assert (training.variant, training.optimizer, training.momentum, training.weight_decay) == (
        "official", "sgd", 0.9, 1e-4)
    # 8 * 1e-3 * batch / 512 (imnet_finetune/train.py:208) at the example's batch of 32.
    assert training.learning_rate == pytest.approx(8 * 1e-3 * official.dataset.batch_size / 512)
    assert (training.epochs, training.lr_step_epochs) == (10, 30)
    with pytest.raises(InvalidParameterError, match="momentum and weight_decay are SGD's"):
        check_parameters(_with("finetune.training.momentum", 0.9))
