"""Nodes of the ``variants`` pipeline: four ways to move the low-res model to 224 px."""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DESCRIPTIONS = {
    "example": "post_bn (scale, offset, statistics) + classifier trained (Keras example)",
    "official": "classifier trained, post_bn statistics re-estimated, scale/offset frozen (FixRes code)",
    "bn_stats": "post_bn statistics re-estimated at the test resolution, no gradient step",
    "none": "no fine-tuning: the low-res model at the test resolution",
}


def compare_finetune_variants(
    example: dict[str, Any], official: dict[str, Any], bn_stats: dict[str, Any], none: dict[str, Any]
) -> tuple[pd.DataFrame, Figure]:
    """One table (and bar chart) of the four fine-tuning variants' top-1 and cost.

    Every variant starts from the same low-res model and is evaluated on the same
    validation pipeline (resize, centre crop at the test resolution).
    """
    rows = []
    for variant, metrics in zip(DESCRIPTIONS, (example, official, bn_stats, none)):
        count, top1 = metrics["validation_examples"], metrics["top1"]
        rows.append({
            "variant": variant,
            "description": DESCRIPTIONS[variant],
            "test_resolution": metrics["parameters"]["dataset"]["image_size"],
            "epochs": metrics["epochs"],
            "top1": top1,
            "top1_stderr": math.sqrt(top1 * (1 - top1) / count) if count else float("nan"),
            "loss": metrics["loss"],
            "train_seconds": metrics["train_seconds"],
        })
    table = pd.DataFrame(rows)
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.bar(table["variant"], table["top1"] * 100, yerr=table["top1_stderr"] * 100, capsize=6)
    axis.set_ylabel("validation top-1 (%), ±1 s.e.")
    axis.set_title("Fine-tuning variants from the same low-res model")
    figure.tight_layout()
    return table, figure
