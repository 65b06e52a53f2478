"""Parameter validation: the shipped configurations pass, wrong values name their key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from fixres_kedro.errors import InvalidParameterError
from fixres_kedro.parameters import validate_parameters
from fixres_kedro.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[1] / "conf"


def _parameters(env: str) -> dict:
    loader = OmegaConfigLoader(str(CONF), env=env, **{
        k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"
    })
    return loader["parameters"]


@pytest.mark.parametrize("env", ["local", "smoke"])
def test_shipped_parameters_are_valid(env):
    validate_parameters(_parameters(env))


def test_smoke_merges_over_base():
    params = _parameters("smoke")
    assert params["initial"]["dataset"]["image_size"] == 32
    assert params["initial"]["dataset"]["area_range"] == [0.05, 1.0]  # kept from base
    assert params["initial"]["training"]["learning_rate"] == 1e-3
    assert params["finetune"]["dataset"]["train_image_size"] == 32


def test_base_is_the_example_protocol():
    params = _parameters("local")
    assert params["data"]["split"] == {
        "train": "train[:90%]", "validation": "train[90%:]",
        "max_train_examples": None, "max_validation_examples": None,
    }
    assert [params[r]["dataset"]["image_size"] for r in ("initial", "finetune", "vanilla")] == [128, 224, 224]
    assert params["finetune"]["dataset"]["train_image_size"] == 128
    assert [params[r]["training"]["epochs"] for r in ("initial", "finetune", "vanilla")] == [30, 10, 30]
    assert [params[r]["training"]["learning_rate"] for r in ("initial", "finetune", "vanilla")] == [1e-3, 1e-4, 1e-3]
    assert {params[r]["dataset"]["batch_size"] for r in ("initial", "finetune", "vanilla")} == {32}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("initial.training.epochs", -1, "initial.training.epochs must be a positive integer, got -1"),
        ("vanilla.training.learning_rate", 0, "vanilla.training.learning_rate must be a positive number"),
        ("initial.dataset.image_size", 16, "initial.dataset.image_size must be an integer >= 32"),
        ("finetune.dataset.recipe", "zoom", "finetune.dataset.recipe must be one of initial, finetune"),
        ("initial.dataset.shuffle", "sometimes", "initial.dataset.shuffle must be one of examples, batches, none"),
        ("initial.dataset.area_range", [0.5, 0.1], "initial.dataset.area_range must satisfy 0 < low <= high <= 1.0"),
        ("finetune.dataset.train_image_size", 256, "finetune.dataset.train_image_size must be a positive integer no larger than finetune.dataset.image_size (224)"),
        ("data.split.train", "train[:ninety]", "data.split.train must be a tfds slice"),
        ("data.split.max_train_examples", 0, "data.split.max_train_examples must be a positive integer"),
        ("runtime.steps_per_execution", 0, "runtime.steps_per_execution must be a positive integer"),
        ("seed", "abc", "seed must be an integer >= 0"),
    ],
)
def test_a_wrong_value_names_its_key(key, value, message):
    params = copy.deepcopy(_parameters("local"))
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    node[leaf] = value
    with pytest.raises(InvalidParameterError) as error:
        validate_parameters(params)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_key_is_named():
    params = copy.deepcopy(_parameters("local"))
    del params["vanilla"]["training"]["epochs"]
    with pytest.raises(InvalidParameterError, match="vanilla.training.epochs is missing"):
        validate_parameters(params)
