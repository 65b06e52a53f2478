"""The whole ``fixres`` DAG in the smoke environment, through a real KedroSession."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from fixres_kedro.protocol import MODELS
from tests.conftest import SMOKE_DATA, TEST_PARAMS, run_smoke

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

VERSIONED = [
    f"{run}.{name}" for run in MODELS
    for name in ("model", "history", "metrics", "sample_grid", "training_curves")
] + ["model_comparison", "model_comparison_plot"]


def _versions(project: Path, name: str) -> list[Path]:
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="smoke") as session:
        dataset = session.load_context().catalog.get(name)
        return sorted(Path(path) for path in dataset.list_versions(full_path=True))


def test_every_output_exists_and_metrics_are_probabilities(smoke_project):
    bootstrap_project(smoke_project)
    with KedroSession.create(project_path=smoke_project, env="smoke") as session:
        catalog = session.load_context().catalog
        for name in sorted(pipelines["fixres"].all_outputs()):
            assert catalog.exists(name), f"{name} was not saved"
        summary = catalog.load("split_summary")
        assert summary["train"] == 48 and summary["validation"] == 24
        for run in MODELS:
            metrics = catalog.load(f"{run}.metrics")
            correct = metrics.top1 * metrics.validation_examples  # a count of photos
            assert metrics.validation_examples == 24 and correct == pytest.approx(round(correct))
            assert metrics.loss > 0 and metrics.epochs == 1
            assert metrics.images_per_second > 0
        table = catalog.load("model_comparison")
        assert list(table["model"]) == list(MODELS)
        assert table["top1"].between(0, 1).all()
        assert table["environment"].eq("smoke").all() and table["run_id"].nunique() == 1


def test_each_metrics_file_says_what_produced_it(smoke_project):
    bootstrap_project(smoke_project)
    with KedroSession.create(project_path=smoke_project, env="smoke") as session:
        catalog = session.load_context().catalog
        metrics = catalog.load("finetune.metrics")
        model_version = catalog.get("finetune.model").resolve_load_version()
        metrics_version = catalog.get("finetune.metrics").resolve_load_version()
    origin = metrics.provenance
    # The run id is the version every output of that run was saved under.
    assert origin.run_id == metrics_version == model_version
    assert origin.environment == "smoke" and origin.node == "finetune.evaluate_model"
    assert origin.inputs["finetune.model"] == model_version
    split_digest = (smoke_project / SMOKE_DATA / "02_intermediate" / "validation_split.parquet.sha256").read_text()
    assert origin.inputs["validation_split@decoded"] == "sha256:" + split_digest[:16]


def test_environments_keep_their_own_data(smoke_project):
    assert (smoke_project / SMOKE_DATA / "06_models" / "initial_model.keras").is_dir()
    assert not (smoke_project / "data" / "06_models").exists()


def test_second_run_adds_versions_and_single_nodes_rerun(smoke_project):
    run_smoke(smoke_project, pipeline_names=["fixres"])
    for name in VERSIONED:
        assert len(_versions(smoke_project, name)) == 2, name
    # Every node's inputs are persisted: one node alone reruns from them.
    run_smoke(smoke_project, node_names=["finetune.evaluate_model"])
    assert len(_versions(smoke_project, "finetune.metrics")) == 3
    latest = json.loads(_versions(smoke_project, "finetune.metrics")[-1].read_text())
    assert latest["model"] == "finetune" and 0.0 <= latest["top1"] <= 1.0


class _FailBefore:
    """A hook that breaks a run just before one node, like a crash late in a run."""

    def __init__(self, node_name: str) -> None:
        self.node_name = node_name

    @hook_impl
    def before_node_run(self, node):
        if node.name == self.node_name:
            raise RuntimeError("simulated crash")


def test_a_failed_run_leaves_earlier_versions_loadable(smoke_project):
    before = {name: _versions(smoke_project, name) for name in ("model_comparison", "vanilla.model")}
    bootstrap_project(smoke_project)
    with KedroSession.create(project_path=smoke_project, env="smoke", runtime_params=TEST_PARAMS) as session:
        session._hook_manager.register(_FailBefore("compare_models"))
        with pytest.raises(RuntimeError, match="simulated crash"):
            session.run(pipeline_names=["fixres"])
    # The failed run saved new models but no comparison; every earlier version still loads.
    assert _versions(smoke_project, "model_comparison") == before["model_comparison"]
    assert len(_versions(smoke_project, "vanilla.model")) == len(before["vanilla.model"]) + 1
    bootstrap_project(smoke_project)
    with KedroSession.create(project_path=smoke_project, env="smoke") as session:
        catalog = session.load_context().catalog
        for path in before["vanilla.model"]:
            loaded = catalog.load("vanilla.model", version=path.parent.name)
            assert loaded.name == "fixres_classifier"
        assert list(catalog.load("model_comparison")["model"]) == list(MODELS)
