"""Nodes of the ``variants`` pipeline: four ways to move the low-res model to 224 px."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from fixres_kedro.fixres import plots
from fixres_kedro.fixres.stats import binomial_stderr
from fixres_kedro.metrics import Metrics

DESCRIPTIONS = {
    "example": "post_bn (scale, offset, statistics) + classifier trained (Keras example)",
    "official": "classifier trained, post_bn statistics re-estimated, scale/offset frozen (FixRes code)",
    "bn_stats": "post_bn statistics re-estimated at the test resolution, no gradient step",
    "none": "no fine-tuning: the low-res model at the test resolution",
}


def compare_finetune_variants(
    example: Metrics, official: Metrics, bn_stats: Metrics, none: Metrics
) -> tuple[pd.DataFrame, Figure]:
    """One table (and bar chart) of the four fine-tuning variants' top-1 and cost.

    Every variant starts from the same low-res model and is evaluated on the same
    validation pipeline (resize, centre crop at the test resolution).
    """
    rows = []
    for variant, metrics in zip(DESCRIPTIONS, (example, official, bn_stats, none)):
        rows.append({
            "variant": variant,
            "description": DESCRIPTIONS[variant],
            "test_resolution": metrics.dataset["image_size"],
            "epochs": metrics.epochs,
            "top1": metrics.top1,
            "top1_stderr": binomial_stderr(metrics.top1, metrics.validation_examples),
            "loss": metrics.loss,
            "train_seconds": metrics.train_seconds,
        })
    table = pd.DataFrame(rows)
    figure, axis = plots.figure(8, 4.5)
    plots.bars_with_errors(axis, list(table["variant"]), table["top1"].to_numpy() * 100,
                           table["top1_stderr"].to_numpy() * 100)
    axis.set_ylabel("validation top-1 (%), ±1 s.e.")
    axis.set_title("Fine-tuning variants from the same low-res model")
    return table, figure
