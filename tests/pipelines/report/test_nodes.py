"""The comparison of the three models and its cost plot."""

from __future__ import annotations

import math

import pytest

from fixres_kedro.metrics import Metrics, mixed_origins
from fixres_kedro.pipelines.report.nodes import compare_models, plot_accuracy_vs_cost


def _metrics(model: str, size: int, top1: float, seconds: float, flops: float, train_size: int | None = None,
             **extra) -> Metrics:
    return Metrics(**{
        "model": model, "top1": top1, "loss": 0.9, "validation_examples": 367, "epochs": 30,
        "train_seconds": seconds, "images_per_second": 1000.0, "train_flops_estimate": flops,
        "peak_accelerator_memory_bytes": None,
        "parameters": {"dataset": {"image_size": size, "train_image_size": train_size}}, **extra,
    })


def test_compare_models_tabulates_errors_and_adds_the_low_res_cost_to_fixres():
    table, figure = compare_models(
        _metrics("initial", 128, 0.70, 100.0, 2e12),
        _metrics("finetune", 224, 0.75, 20.0, 1e12, train_size=128),
        _metrics("vanilla", 224, 0.72, 300.0, 6e12),
    )
    rows = table.set_index("model")
    assert list(table["model"]) == ["initial", "finetune", "vanilla"]
    assert rows.loc["finetune", "top1_stderr"] == pytest.approx(math.sqrt(0.75 * 0.25 / 367))
    assert rows.loc["finetune", "total_train_seconds"] == pytest.approx(120.0)
    assert rows.loc["finetune", "total_train_gflops"] == pytest.approx(3000.0)
    assert rows.loc["vanilla", "total_train_gflops"] == pytest.approx(6000.0)
    assert rows.loc["finetune", "description"] == "FixRes: low-res model, BN fine-tune at 224 px"
    assert math.isnan(rows.loc["initial", "peak_accelerator_memory_mb"])
    assert figure.axes
    assert len(plot_accuracy_vs_cost(table).axes) == 2


def test_metrics_of_different_runs_or_environments_are_flagged(caplog):
    def origin(run_id, env):
        return _metrics("initial", 128, 0.7, 1.0, 1.0, provenance={"run_id": run_id, "environment": env})

    assert mixed_origins([origin("a", "local"), origin("a", "local")]) is None
    assert "2 runs (a, b)" in mixed_origins([origin("a", "local"), origin("b", "local")])
    assert "2 environment(s) (local, smoke)" in mixed_origins([origin("a", "local"), origin("a", "smoke")])
    with caplog.at_level("WARNING"):
        table, _ = compare_models(origin("a", "local"), origin("b", "smoke"), origin("a", "local"))
    assert list(table["run_id"]) == ["a", "b", "a"] and list(table["environment"]) == ["local", "smoke", "local"]
    assert "may not be comparable" in caplog.text
