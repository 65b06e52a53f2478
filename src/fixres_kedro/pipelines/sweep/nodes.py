"""Nodes of the ``sweep`` pipeline: top-1 against test resolution, as in the FixRes paper."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from fixres_kedro.fixres import plots
from fixres_kedro.fixres.stats import binomial_stderr
from fixres_kedro.parameters import InputPipeline, RuntimeParams, SweepParams
from fixres_kedro.pipelines.training.nodes import Classifier


def evaluation_pipeline(transform: str, resolution: int, sweep: SweepParams) -> InputPipeline:
    """The test transform at one resolution.

    ``resize``: the whole image resized to ``resolution`` (the initial recipe's
    validation). ``resize_crop``: resized to ``resolution * resize_ratio`` and
    centre-cropped to ``resolution`` (the finetune recipe; the example's ratio is
    392 / 224 = 1.75).
    """
    if transform == "resize":
        return InputPipeline(name="resize", recipe="initial", image_size=resolution,
                             batch_size=sweep.batch_size)
    resize_to = int(round(resolution * sweep.resize_ratio))
    return InputPipeline(name="resize_crop", recipe="finetune", image_size=resolution,
                         resize_to=resize_to, batch_size=sweep.batch_size)


def evaluate_at_resolutions(
    model: Classifier,
    validation_split: pd.DataFrame,
    sweep: SweepParams,
    runtime: RuntimeParams,
) -> pd.DataFrame:
    """Evaluate one model at every test resolution with both test transforms.

    Returns one row per (transform, resolution): top-1, its binomial standard
    error, loss and the number of validation examples.
    """
    from fixres_kedro.fixres.dataset import make_dataset  # noqa: PLC0415
    from fixres_kedro.fixres.training import evaluate  # noqa: PLC0415

    rows = []
    count = len(validation_split)
    for transform in sweep.transforms:
        for resolution in sweep.resolutions:
            pipeline = evaluation_pipeline(transform, resolution, sweep)
            results = evaluate(model, make_dataset(validation_split, pipeline, False, runtime.workers))
            rows.append({
                "transform": transform,
                "resolution": resolution,
                "top1": results["top1"],
                "top1_stderr": binomial_stderr(results["top1"], count),
                "loss": results["loss"],
                "examples": count,
            })
    return pd.DataFrame(rows)


def plot_resolution_sweep(
    initial: pd.DataFrame, finetune: pd.DataFrame, vanilla: pd.DataFrame,
    initial_dataset: InputPipeline, finetune_dataset: InputPipeline, vanilla_dataset: InputPipeline,
) -> tuple[pd.DataFrame, Figure]:
    """One table of all sweeps and one plot of top-1 against test resolution per model.

    A dotted line marks each model's training resolution, where the FixRes paper
    expects the train/test discrepancy to be smallest for a model trained with
    random-resized crops.
    """
    parts = {"initial": (initial, initial_dataset), "finetune": (finetune, finetune_dataset),
             "vanilla": (vanilla, vanilla_dataset)}
    table = pd.concat(
        [frame.assign(model=name) for name, (frame, _) in parts.items()], ignore_index=True
    )[["model", "transform", "resolution", "top1", "top1_stderr", "loss", "examples"]]
    trained_at = {name: dataset.image_size for name, (_, dataset) in parts.items()}
    return table, plots.resolution_sweep(table, trained_at)
