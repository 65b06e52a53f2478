"""Nodes of the ``sweep`` pipeline: top-1 against test resolution, as in the FixRes paper."""

from __future__ import annotations

import math
from typing import Any

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fixres_kedro.fixres.input_pipeline import ImageBatches, InputPipeline  # noqa: E402
from fixres_kedro.fixres.model import evaluate  # noqa: E402

TRANSFORMS = ("resize", "resize_crop")


def evaluation_pipeline(transform: str, resolution: int, sweep: dict[str, Any], runtime: dict[str, Any]) -> InputPipeline:
    """The test transform at one resolution.

    ``resize``: the whole image resized to ``resolution`` (the initial recipe's
    validation). ``resize_crop``: resized to ``resolution * resize_ratio`` and
    centre-cropped to ``resolution`` (the finetune recipe; the example's ratio is
    392 / 224 = 1.75).
    """
    common = {"batch_size": sweep.get("batch_size", 32), "workers": runtime.get("workers", 0)}
    if transform == "resize":
        return InputPipeline(name="resize", recipe="initial", image_size=resolution, **common)
    resize_to = int(round(resolution * sweep["resize_ratio"]))
    return InputPipeline(name="resize_crop", recipe="finetune", image_size=resolution, resize_to=resize_to, **common)


def evaluate_at_resolutions(
    model: keras.Model,
    validation_split: pd.DataFrame,
    sweep: dict[str, Any],
    runtime: dict[str, Any],
) -> pd.DataFrame:
    """Evaluate one model at every test resolution with both test transforms.

    Returns one row per (transform, resolution): top-1, its binomial standard
    error, loss and the number of validation examples.
    """
    rows = []
    count = len(validation_split)
    for transform in sweep.get("transforms", TRANSFORMS):
        for resolution in sweep["resolutions"]:
            pipeline = evaluation_pipeline(transform, resolution, sweep, runtime)
            results = evaluate(model, ImageBatches.from_split(validation_split, pipeline, train=False))
            top1 = results["top1"]
            rows.append({
                "transform": transform,
                "resolution": resolution,
                "top1": top1,
                "top1_stderr": math.sqrt(top1 * (1 - top1) / count),
                "loss": results["loss"],
                "examples": count,
            })
    return pd.DataFrame(rows)


def plot_resolution_sweep(
    initial: pd.DataFrame, finetune: pd.DataFrame, vanilla: pd.DataFrame,
    initial_spec: dict[str, Any], finetune_spec: dict[str, Any], vanilla_spec: dict[str, Any],
) -> tuple[pd.DataFrame, Figure]:
    """One table of all sweeps and one plot of top-1 against test resolution per model.

    A dotted line marks each model's training resolution, where the FixRes paper
    expects the train/test discrepancy to be smallest for a model trained with
    random-resized crops.
    """
    parts = {"initial": (initial, initial_spec), "finetune": (finetune, finetune_spec), "vanilla": (vanilla, vanilla_spec)}
    table = pd.concat(
        [frame.assign(model=name) for name, (frame, _) in parts.items()], ignore_index=True
    )[["model", "transform", "resolution", "top1", "top1_stderr", "loss", "examples"]]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
    for axis, (name, (frame, spec)) in zip(axes, parts.items()):
        for transform, rows in frame.groupby("transform"):
            axis.errorbar(rows["resolution"], rows["top1"] * 100, yerr=rows["top1_stderr"] * 100,
                          marker="o", capsize=3, label=transform)
        axis.axvline(spec["image_size"], linestyle=":", color="grey", label=f"trained/fine-tuned at {spec['image_size']}")
        axis.set_title(name)
        axis.set_xlabel("test resolution (px)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[0].set_ylabel("validation top-1 (%), ±1 s.e.")
    figure.suptitle("Top-1 against test resolution")
    figure.tight_layout()
    return table, figure
