"""The study pipelines (variants, sweep, seeds, report) in the smoke environment."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from fixres_kedro.pipelines.results.nodes import write_results_page
from fixres_kedro.protocol import MODELS

from tests.conftest import SMOKE_DATA, run_smoke
from tests.pipelines.results.test_nodes import SECTIONS, expected_interval, floats, section, table_rows

pytestmark = pytest.mark.study


@pytest.fixture(scope="module")
def study_project(smoke_project):
    # The smoke environment's two seeds decide the namespaces (read for the session's env).
    run_smoke(smoke_project, pipeline_names=["variants", "sweep", "seeds"])
    run_smoke(smoke_project, pipeline_names=["study"], node_names=["write_report"])
    return smoke_project


def _catalog(project):
    bootstrap_project(project)
    session = KedroSession.create(project_path=project, env="smoke")
    return session.load_context().catalog


def test_variants_table_has_the_four_variants(study_project):
    table = _catalog(study_project).load("finetune_variants")
    assert list(table["variant"]) == ["example", "official", "bn_stats", "none"]
    assert table["top1"].between(0, 1).all()
    assert list(table["epochs"]) == [1, 1, 0, 0]


def test_sweep_covers_every_model_transform_and_resolution(study_project):
    catalog = _catalog(study_project)
    table = catalog.load("resolution_sweep")
    assert len(table) == 3 * 3 * 3  # models x transforms x smoke resolutions
    assert set(table["resolution"]) == {32, 48, 64}
    assert set(table["transform"]) == {"resize", "resize_crop", "resize_shorter_crop"}
    assert table["transform_label"].nunique() == 3
    # The predicted best resolution beside the measured one, for each model and transform.
    predictions = catalog.load("test_resolution_prediction")
    assert len(predictions) == 3 * 3 and (predictions["predicted_resolution"] > 0).all()
    assert table["predicted_resolution"].notna().all() and table["best_resolution"].isin([32, 48, 64]).all()


def test_seeds_are_aggregated_with_intervals(study_project):
    catalog = _catalog(study_project)
    summary = catalog.load("seeds_summary")
    assert list(summary["seeds"]) == [2, 2, 2]
    assert (summary["top1_ci95_low"] <= summary["top1_mean"]).all()
    comparison = catalog.load("seeds_comparison")
    assert comparison["seeds"] == [0, 1] and len(comparison["differences"]) == 2
    for seed in (0, 1):
        metrics = catalog.load(f"seed_{seed}.finetune.metrics")
        assert metrics.dataset["seed"] == seed


def test_report_states_uncertainties(study_project):
    page = _catalog(study_project).load("study_report")
    assert "± " in page and "95% interval" in page and page.count("<table") == 4
    assert page.count("data:image/png;base64,") == 4


def _latest(folder, name: str):
    return sorted((folder / name).glob("*/*"))[-1]


def test_the_results_page_of_the_smoke_study(study_project):
    """The page written from this study's files: its numbers are theirs."""
    reporting = study_project / SMOKE_DATA / "08_reporting"
    records = [json.loads(_latest(reporting, f"seed_{s}.{m}_metrics.json").read_text())
               for s in (0, 1) for m in MODELS]
    text = write_results_page([0, 1], pd.read_csv(_latest(reporting, "resolution_sweep.csv")),
                              pd.read_csv(_latest(reporting, "finetune_variants.csv")), *records)
    for title in SECTIONS:
        assert title in text
    rows = table_rows(text, "## Top-1 over seeds")
    for model in MODELS:
        values = [r["top1"] for r in records if r["model"] == model]
        mean, std, low, high = expected_interval(values, (0, 100))
        assert floats(rows[model][1]) == [pytest.approx(mean, abs=0.005)]
        if std > 0:
            assert floats(rows[model][3]) == [pytest.approx(low, abs=0.005), pytest.approx(high, abs=0.005)]
    assert records[0]["provenance"]["run_id"] in text
    assert "environment" in text and "smoke" in section(text, "## Provenance")
