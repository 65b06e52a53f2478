"""Nodes of the ``report`` pipeline: the three models side by side."""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DESCRIPTIONS = {
    "initial": "low-res, from scratch at {train} px",
    "finetune": "FixRes: low-res model, BN fine-tune at {test} px",
    "vanilla": "vanilla, from scratch at {test} px",
}


def compare_models(
    initial_metrics: dict[str, Any],
    finetune_metrics: dict[str, Any],
    vanilla_metrics: dict[str, Any],
) -> tuple[pd.DataFrame, Figure]:
    """Tabulate and plot the top-1 accuracy, loss and cost of the three models.

    ``top1_stderr`` is the binomial standard error of each accuracy on its
    validation set, so that a reader sees how large a difference must be to matter.
    """
    rows = []
    for metrics in (initial_metrics, finetune_metrics, vanilla_metrics):
        spec = metrics["parameters"]["dataset"]
        count = metrics["validation_examples"]
        top1 = metrics["top1"]
        rows.append(
            {
                "model": metrics["model"],
                "description": DESCRIPTIONS.get(metrics["model"], "{test} px").format(
                    train=spec.get("train_image_size") or spec["image_size"],
                    test=spec["image_size"],
                ),
                "test_resolution": spec["image_size"],
                "epochs": metrics["epochs"],
                "top1": top1,
                "top1_stderr": math.sqrt(top1 * (1 - top1) / count) if count else float("nan"),
                "loss": metrics["loss"],
                "train_seconds": metrics["train_seconds"],
                "images_per_second": metrics["images_per_second"],
            }
        )
    table = pd.DataFrame(rows)
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.bar(table["model"], table["top1"] * 100, yerr=table["top1_stderr"] * 100, capsize=6)
    for x, (top1, seconds) in enumerate(zip(table["top1"], table["train_seconds"])):
        axis.annotate(f"{top1:.1%}\n{seconds:.0f} s", (x, top1 * 100), ha="center", va="bottom",
                      xytext=(0, 8), textcoords="offset points", fontsize=8)
    axis.set_ylabel("validation top-1 (%), ±1 s.e.")
    axis.set_ylim(0, 110)
    axis.set_title("FixRes vs training at the test resolution")
    figure.tight_layout()
    return table, figure
