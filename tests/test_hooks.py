"""The project's hooks: their order, seeding, precision, checkpoints; and that the
parameters are checked before any of them runs."""

from __future__ import annotations

import signal
import time

import keras
import numpy as np
import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import node

from fixres_kedro import settings
from fixres_kedro.errors import InvalidParameterError, StoppedError
from fixres_kedro.fixres.checkpoint import Checkpoints
from fixres_kedro.protocol import BACKEND_TAG
from fixres_kedro.hooks import (
    StopHook,
    CheckpointHook,
    CompilationCacheHook,
    DeviceHook,
    DistributionHook,
    PrecisionHook,
    ResumeHintHook,
    SeedHook,
    node_seed,
)
from tests.conftest import TEST_PARAMS, copy_project

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend


def test_hooks_place_the_devices_first_then_the_cache_then_precision_then_seeds(monkeypatch):
    """The order pluggy really calls the project's hooks in before a node that trains."""
    manager = _create_hook_manager()
    called = []
    for hook in settings.HOOKS:
        if hasattr(hook, "before_node_run"):
            kind = type(hook)
            monkeypatch.setattr(hook, "before_node_run", hook_impl(
                lambda node=None, catalog=None, inputs=None, run_id=None, kind=kind: called.append(kind)))
        manager.register(hook)
    task = node(lambda: None, inputs=None, outputs="x", name="initial.train_model", tags=BACKEND_TAG)
    manager.hook.before_node_run(node=task, catalog=_catalog(seed=1, runtime={}), inputs={}, is_async=False,
                                 run_id="r")
    # StopHook first: it names the running nodes when a signal comes.
    assert called[:6] == [StopHook, DistributionHook, DeviceHook, CompilationCacheHook, PrecisionHook, SeedHook]


def test_a_stop_swallowed_by_an_except_is_raised_again_until_a_node_reports_it():
    """Code that swallows exceptions (logging does while it writes) cannot lose a Ctrl-C."""
    hook, before = StopHook(), signal.getsignal(signal.SIGINT)
    hook.before_pipeline_run()
    task = node(lambda: None, inputs=None, outputs="x", name="initial.train_model")
    hook.before_node_run(task)
    try:
        signal.raise_signal(signal.SIGINT)
    except Exception:  # noqa: BLE001, S110 - what logging.Handler.handleError does
        pass
    with pytest.raises(StoppedError) as stopped:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.01)
    assert str(stopped.value).startswith("stopped by Ctrl-C (SIGINT) during initial.train_model: ")
    assert stopped.value.exit_code == 130
    hook.on_node_error(stopped.value)  # reported: no more repeats
    time.sleep(3 * StopHook.AGAIN)
    hook.on_pipeline_error()
    assert signal.getsignal(signal.SIGINT) is before


def test_node_seeds_depend_on_the_seed_and_the_node_and_follow_seed_namespaces():
    assert node_seed("initial.train_model", "initial", 42) == node_seed("initial.train_model", "initial", 42)
    assert node_seed("initial.train_model", "initial", 42) != node_seed("vanilla.train_model", "vanilla", 42)
    assert node_seed("initial.train_model", "initial", 42) != node_seed("initial.train_model", "initial", 7)
    # In the namespace seed_3, the study's seed (3) replaces the parameter.
    name = "seed_3.initial.train_model"
    assert node_seed(name, "seed_3.initial", 42) == node_seed(name, "seed_3.initial", 7)
    assert node_seed(name, "seed_3.initial", 42) != node_seed(name, "seed_4.initial", 42)


def _catalog(**params) -> DataCatalog:
    catalog = DataCatalog()
    for key, value in params.items():
        catalog[f"params:{key}"] = MemoryDataset(value)
    return catalog


def test_seed_hook_makes_a_node_draw_the_same_numbers_alone_or_in_a_run():
    hook, catalog = SeedHook(), _catalog(seed=42)
    task = node(lambda: None, inputs=None, outputs="nothing", name="initial.train_model", namespace="initial",
                tags=BACKEND_TAG)
    hook.before_node_run(task, catalog)
    first = np.random.random(3), keras.random.uniform((3,))
    hook.before_node_run(task, catalog)
    again = np.random.random(3), keras.random.uniform((3,))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first[1]), keras.ops.convert_to_numpy(again[1]))


def test_precision_hook_sets_the_policy_from_typed_or_raw_parameters():
    try:
        task = node(lambda: None, inputs=None, outputs="x", name="t", tags=BACKEND_TAG)
        PrecisionHook().before_node_run(task, _catalog(runtime={"precision": "mixed_bfloat16"}))
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy("float32")


def test_checkpoint_hook_removes_a_checkpoint_only_once_all_its_outputs_are_saved(tmp_path):
    checkpoints = Checkpoints(tmp_path)
    saver = checkpoints.open("initial", "key")
    model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 2)), np.ones(4), epochs=1, verbose=0, callbacks=[saver])
    task = node(lambda c: (None, None), inputs="training_checkpoints", outputs=["initial.model", "initial.history"],
                name="initial.train_model")
    hook = CheckpointHook()
    hook.after_node_run(task, {"training_checkpoints": checkpoints})
    hook.after_dataset_saved("initial.history", task)
    assert (saver.directory / "epoch-0001").is_dir()  # the model is not saved yet
    hook.after_dataset_saved("initial.model", task)
    assert not saver.directory.exists()


def test_a_failed_node_leaves_its_checkpoint_and_frees_its_lock(tmp_path):
    checkpoints = Checkpoints(tmp_path)
    saver = checkpoints.open("initial", "key")
    saver.acquire()
    task = node(lambda c: None, inputs="training_checkpoints", outputs="x", name="initial.train_model")
    CheckpointHook().on_node_error(task, {"training_checkpoints": checkpoints})
    assert saver.directory.is_dir()
    again = Checkpoints(tmp_path).open("initial", "key")
    again.acquire()  # the lock is free: a rerun resumes
    again.release()


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hook_impl
    def after_catalog_created(self) -> None:
        self.calls.append("after_catalog_created")

    @hook_impl
    def before_pipeline_run(self) -> None:
        self.calls.append("before_pipeline_run")

    @hook_impl
    def before_node_run(self) -> None:
        self.calls.append("before_node_run")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"seed": "abc"}, "Invalid parameters: seed must be an integer >= 0, got 'abc'"),
        ({"runtime": {"precision": "fp8"}}, "runtime.precision must be one of float32, mixed_bfloat16, mixed_float16"),
        ({"initial": {"training": {"epoch": 5}}}, "initial.training.epoch is not a parameter (did you mean initial.training.epochs?)"),
    ],
)
def test_parameters_are_checked_before_any_hook_or_node(tmp_path, params, message):
    project = copy_project(tmp_path)
    bootstrap_project(project)
    recorder = _Recorder()
    with KedroSession.create(project_path=project, env="smoke", runtime_params={**TEST_PARAMS, **params}) as session:
        session._hook_manager.register(recorder)
        with pytest.raises(InvalidParameterError) as error:
            session.run(pipeline_names=["data"])
    assert message in str(error.value) and "\n" not in str(error.value)
    assert recorder.calls == []


def test_the_pace_warning_gives_the_whole_runs_trainings_left(caplog):
    """The first slow training's warning also says how long the run's other trainings will
    take at its pace, scaled by their resolution, epochs and what learns; once the run ends
    the warning is the training's own again."""
    import logging  # noqa: PLC0415

    from fixres_kedro.hooks import PaceHook  # noqa: PLC0415
    from fixres_kedro.pipeline_registry import register_pipelines  # noqa: PLC0415

    pipeline = register_pipelines()["fixres"]
    params = {"initial": (128, 30), "finetune": (224, 10), "vanilla": (224, 30)}
    catalog = DataCatalog({f"params:{name}.{part}": MemoryDataset(value)
                           for name, (size, epochs) in params.items()
                           for part, value in (("dataset", {"image_size": size}), ("training", {"epochs": epochs}))})
    training_logger = logging.getLogger("fixres_kedro.fixres.training")
    nodes = {each.name: each for each in pipeline.nodes}

    def warn(seconds_per_step: float, epochs: int) -> str:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=training_logger.name):
            training_logger.warning("x trains on the CPU (a GPU host takes minutes; docs/gpu.md)",
                                    extra={"pace": {"seconds_per_step": seconds_per_step,
                                                    "steps_per_epoch": 100, "epochs": epochs}})
        return caplog.records[-1].getMessage()

    hook = PaceHook()
    hook.before_pipeline_run(pipeline=pipeline, catalog=catalog)
    hook.before_node_run(node=nodes["initial.train_model"])
    # initial: 2 s x 100 steps x 30 epochs = 6000 s; finetune 6000 x 224² x 10 / (3 x 128² x 30)
    # = 2042 s; vanilla 6000 x 224² / 128² = 18375 s: 26417 s in all.
    assert warn(2.0, 30) == ("x trains on the CPU; the run's 3 trainings left take about 7 h 20 min in all "
                             "(a GPU host takes minutes; docs/gpu.md)")
    hook.after_node_run(node=nodes["initial.train_model"])
    hook.before_node_run(node=nodes["vanilla.train_model"])
    # vanilla at 6.125 s a step: 18375 s; the fine-tuning a third of its work per epoch, a third
    # of its epochs: 2042 s.
    assert warn(6.125, 30).endswith("the run's 2 trainings left take about 5 h 40 min in all "
                                    "(a GPU host takes minutes; docs/gpu.md)")
    hook.after_pipeline_run()
    assert warn(6.125, 30) == "x trains on the CPU (a GPU host takes minutes; docs/gpu.md)"


def test_a_failed_run_that_saved_outputs_names_its_resume_on_the_error_line(tmp_path):
    from kedro.io import Version  # noqa: PLC0415
    from kedro.pipeline import Pipeline  # noqa: PLC0415
    from kedro_datasets.json import JSONDataset  # noqa: PLC0415

    from fixres_kedro.cli import user_message  # noqa: PLC0415
    from fixres_kedro.errors import DamagedInputError  # noqa: PLC0415

    run_id = "2026-12-04T13.30.00.000Z"
    catalog = DataCatalog({name: JSONDataset(filepath=str(tmp_path / f"{name}.json"), version=Version(None, run_id))
                           for name in ("initial.metrics", "vanilla.metrics")})
    pipeline = Pipeline([node(lambda: {}, None, "initial.metrics", name="a"),
                         node(lambda: {}, None, "vanilla.metrics", name="b")])
    params = {"run_id": run_id}

    def failure() -> Exception:
        try:
            raise DamagedInputError("validation_split.parquet is damaged")
        except DamagedInputError as error:
            try:
                raise RuntimeError("a node failed") from error
            except RuntimeError as wrapper:
                return wrapper

    nothing_saved = failure()
    ResumeHintHook().on_pipeline_error(nothing_saved, params, pipeline, catalog)
    assert user_message(nothing_saved) == "validation_split.parquet is damaged"  # a rerun is all it takes

    catalog.save("initial.metrics", {"top1": 0.5})
    one_saved = failure()
    ResumeHintHook().on_pipeline_error(one_saved, params, pipeline, catalog)
    assert user_message(one_saved) == (
        f"validation_split.parquet is damaged (run {run_id} saved 1 of its outputs: once this is fixed, "
        f"the same command with --resume {run_id} continues it)")

    stopped = StoppedError("stopped by SIGTERM: run the same command with --resume ...", exit_code=143)
    ResumeHintHook().on_pipeline_error(stopped, params, pipeline, catalog)
    assert not getattr(stopped, "__notes__", None)  # its own line names the resume
