"""The figures of the experiment, drawn on ``matplotlib.figure.Figure`` objects.

No ``pyplot``: a ``Figure`` made directly needs no GUI backend, keeps no global state
(nothing to close, safe in worker threads) and leaves a notebook's own backend alone.
Kedro's ``MatplotlibDataset`` saves these figures as PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def figure(width: float, height: float, rows: int = 1, columns: int = 1, **options: Any
           ) -> tuple[Figure, Any]:
    """A ``width`` x ``height`` inch figure and its axes (``Figure.subplots``)."""
    canvas = Figure(figsize=(width, height), layout="constrained")
    return canvas, canvas.subplots(rows, columns, **options)


def training_curves(history: Mapping[str, Any], title: str) -> Figure:
    """Loss and accuracy per epoch, training and validation (``history["history"]``)."""
    logs = history["history"]
    epochs = np.arange(1, history["epochs_run"] + 1)
    canvas, (loss_axis, accuracy_axis) = figure(10, 4, 1, 2)
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.plot(epochs, logs[metric], marker="o", label="train")
        axis.plot(epochs, logs[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    canvas.suptitle(title)
    return canvas


def bars_with_errors(
    axis: Axes, labels: list[str], values: np.ndarray, errors: np.ndarray,
    notes: list[str] | None = None,
) -> None:
    """Bars of percentages with ±1 s.e. whiskers; ``notes`` written above the whiskers."""
    positions = np.arange(len(labels))
    axis.bar(positions, values, yerr=errors, capsize=6, color="tab:blue", alpha=0.85)
    axis.set_xticks(positions, labels)
    for x, (value, error) in enumerate(zip(values, errors)):
        note = notes[x] if notes else f"{value:.1f}%"
        # Above the error bar, so the whisker never runs through the text.
        top = value + (0 if np.isnan(error) else error)
        axis.annotate(note, (x, top), ha="center", va="bottom", xytext=(0, 4),
                      textcoords="offset points", fontsize=8)
    axis.set_ylim(0, max(105.0, float(np.nanmax(values + np.nan_to_num(errors))) + 15))


def resolution_sweep(sweep: pd.DataFrame, trained_at: Mapping[str, int] | None = None) -> Figure:
    """Top-1 (±1 s.e.) against test resolution, one panel per model, one line per test
    transform (named by its ``transform_label`` where the table has one); a dotted line
    marks the resolution each model was trained or fine-tuned at. Where the table has
    ``predicted_resolution``, a dashed line of the transform's colour marks it, and a star
    the measured best resolution, so the two stand side by side.
    """
    models = list(dict.fromkeys(sweep["model"]))
    canvas, axes = figure(5 * len(models), 4.5, 1, len(models), sharey=True, squeeze=False)
    for axis, model in zip(axes[0], models):
        for transform, rows in sweep[sweep["model"] == model].groupby("transform", sort=False):
            rows = rows.sort_values("resolution")
            name = rows["transform_label"].iloc[0] if "transform_label" in rows else transform
            line = axis.errorbar(rows["resolution"], rows["top1"] * 100, yerr=rows["top1_stderr"] * 100,
                                 marker="o", capsize=3, label=name)
            colour = line.lines[0].get_color()
            best = rows.loc[rows["top1"].idxmax()]
            axis.plot([best["resolution"]], [best["top1"] * 100], marker="*", markersize=14,
                      color=colour, linestyle="none", label=f"best measured: {int(best['resolution'])}")
            if "predicted_resolution" in rows and not pd.isna(rows["predicted_resolution"].iloc[0]):
                predicted = float(rows["predicted_resolution"].iloc[0])
                axis.axvline(predicted, linestyle="--", color=colour, alpha=0.8,
                             label=f"predicted: {predicted:.0f}")
        if trained_at and model in trained_at:
            axis.axvline(trained_at[model], linestyle=":", color="grey",
                         label=f"trained/fine-tuned at {trained_at[model]}")
        axis.set_title(model)
        axis.set_xlabel("test resolution S (px)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6)
    axes[0][0].set_ylabel("validation top-1 (%), ±1 s.e.")
    canvas.suptitle("Top-1 against test resolution: measured best (star) and predicted (dashed)")
    return canvas
