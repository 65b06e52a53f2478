"""The HTML study report states every accuracy with its uncertainty."""

from __future__ import annotations

import pandas as pd
from PIL import Image

from fixres_kedro.pipelines.study.nodes import write_report


def test_report_is_self_contained_html_with_uncertainties():
    comparison = pd.DataFrame([
        {"model": m, "description": m, "test_resolution": r, "epochs": 1, "top1": t, "top1_stderr": 0.023,
         "loss": 1.0, "train_seconds": 10.0, "total_train_seconds": 10.0, "images_per_second": 5.0,
         "train_gflops": 1.0, "total_train_gflops": 1.0, "peak_accelerator_memory_mb": float("nan")}
        for m, r, t in (("initial", 128, 0.7), ("finetune", 224, 0.75), ("vanilla", 224, 0.72))
    ])
    variants = pd.DataFrame([
        {"variant": v, "description": v, "test_resolution": 224, "epochs": 1, "top1": 0.7,
         "top1_stderr": 0.02, "loss": 1.0, "train_seconds": 1.0}
        for v in ("example", "official", "bn_stats", "none")
    ])
    sweep = pd.DataFrame([
        {"model": m, "transform": tr, "resolution": r, "top1": 0.6, "top1_stderr": 0.025, "loss": 1.0, "examples": 367}
        for m in ("initial", "finetune", "vanilla") for tr in ("resize", "resize_crop") for r in (128, 224)
    ])
    seeds = pd.DataFrame([
        {"model": m, "seeds": 3, "top1_mean": 0.7, "top1_std": 0.02, "top1_ci95_low": 0.65,
         "top1_ci95_high": 0.75, "train_seconds_mean": 10.0}
        for m in ("initial", "finetune", "vanilla")
    ])
    paired = {"seeds": [0, 1, 2], "difference_mean": 0.03, "difference_ci95_low": -0.01,
              "difference_ci95_high": 0.07, "t_statistic": 2.1, "degrees_of_freedom": 2}
    plots = [Image.new("RGB", (20, 10), colour) for colour in ("red", "green", "blue", "white")]
    page = write_report(comparison, variants, sweep, seeds, paired, *plots)
    assert page.startswith("<!DOCTYPE html>")
    assert "75.0 ± 2.3%" in page            # single runs: ± one standard error
    assert "[65.0, 75.0]%" in page          # seeds: the 95% interval
    assert "[-1.0, +7.0] points" in page    # the paired comparison
    assert "Validation set: 367 photos" in page
    assert page.count("data:image/png;base64,") == 4  # cost, variants, sweep and seeds plots


def test_the_sweep_table_names_transforms_and_sets_predicted_beside_best():
    from fixres_kedro.pipelines.study.nodes import _sweep_table  # noqa: PLC0415

    sweep = pd.DataFrame([
        {"model": m, "transform": tr, "transform_label": f"{tr} in words", "resolution": r,
         "top1": 0.6 + r / 1000, "top1_stderr": 0.025, "loss": 1.0, "examples": 367,
         "best_resolution": 224, "predicted_resolution": 183.4, "predicted_resolution_paper": 163.1}
        for m in ("initial", "finetune", "vanilla") for tr in ("resize", "resize_crop", "resize_shorter_crop")
        for r in (128, 224)
    ])
    table = _sweep_table(sweep)
    assert list(table.columns) == ["model", "transform", "128", "224", "best (measured)",
                                   "predicted (Monte Carlo)", "predicted (paper's formula)"]
    assert list(table["transform"][:3]) == ["resize in words", "resize_crop in words", "resize_shorter_crop in words"]
    assert (table["best (measured)"] == 224).all() and (table["predicted (Monte Carlo)"] == 183).all()
    assert (table["predicted (paper's formula)"] == 163).all() and len(table) == 9
