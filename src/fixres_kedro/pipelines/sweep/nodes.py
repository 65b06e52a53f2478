"""Nodes of the ``sweep`` pipeline: top-1 against test resolution, as in the FixRes paper."""

from __future__ import annotations

import numpy as np

from fixres_kedro.fixres.apparent_size import predict_test_resolution
from fixres_kedro.fixres.figure_type import Figure
from fixres_kedro.fixres.stats import binomial_stderr
from fixres_kedro.lazy_import import lazy_import
from fixres_kedro.parameters import InputPipeline, RuntimeParams, SweepParams, SweepTransform
from fixres_kedro.pipelines.training.nodes import Classifier
from fixres_kedro.protocol import MODELS

pd = lazy_import("pandas")
plots = lazy_import("fixres_kedro.fixres.plots")  # matplotlib


def evaluation_pipeline(transform: SweepTransform, resolution: int, sweep: SweepParams) -> InputPipeline:
    """The test transform at one resolution.

    ``resize``: the whole image resized to ``resolution`` (the initial recipe's
    validation). ``resize_crop``: resized to ``resolution * resize_ratio`` and
    centre-cropped to ``resolution`` (the finetune recipe; the example's ratio is
    392 / 224 = 1.75). Both squash the photo to a square. ``resize_shorter_crop``: the
    standard one (torchvision, timm, the FixRes authors): the shorter side resized to
    ``resolution / crop_ratio``, the aspect ratio kept, the centre square cropped.
    """
    if transform == "resize":
        return InputPipeline(name="resize", recipe="initial", image_size=resolution,
                             batch_size=sweep.batch_size)
    if transform == "resize_shorter_crop":
        return InputPipeline(name="resize_shorter_crop", recipe="standard", image_size=resolution,
                             crop_ratio=sweep.crop_ratio, batch_size=sweep.batch_size)
    resize_to = int(round(resolution * sweep.resize_ratio))
    return InputPipeline(name="resize_crop", recipe="finetune", image_size=resolution,
                         resize_to=resize_to, batch_size=sweep.batch_size)


def transform_label(transform: SweepTransform, sweep: SweepParams) -> str:
    """What the test transform does to a photo, in words, for the plot and the tables."""
    if transform == "resize":
        return "whole photo squashed to S x S"
    if transform == "resize_crop":
        return f"squashed to {sweep.resize_ratio:g}S x {sweep.resize_ratio:g}S, centre S x S"
    return f"shorter side to S / {sweep.crop_ratio:g}, centre S x S (standard)"


def evaluate_at_resolutions(
    model: Classifier,
    validation_split: pd.DataFrame,
    sweep: SweepParams,
    runtime: RuntimeParams,
) -> pd.DataFrame:
    """Evaluate one model at every test resolution with every test transform.

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


def predict_test_resolutions(
    validation_split: pd.DataFrame,
    initial_dataset: InputPipeline, finetune_dataset: InputPipeline, vanilla_dataset: InputPipeline,
    sweep: SweepParams, seed: int,
) -> pd.DataFrame:
    """The test resolution FixRes predicts for each model and test transform, before the
    sweep measures it (``fixres.apparent_size``): where objects appear as large as under
    the model's own training transform.

    One row per (model, transform): the paper's formula (square photos, the crop's area
    uniform: ``predicted_resolution_paper``, with its E[1/sqrt(s)]) and the Monte Carlo
    over the project's crop sampler and the validation photos' shapes
    (``predicted_resolution`` ± ``predicted_resolution_stderr``, with its E[1/sqrt(s)]).
    """
    shapes = [tuple(image.shape[:2]) for image in validation_split["image"]]
    rng = np.random.default_rng(seed)
    rows = []
    for model, dataset in zip(MODELS, (initial_dataset, finetune_dataset, vanilla_dataset)):
        for transform in sweep.transforms:
            prediction = predict_test_resolution(
                dataset, lambda size, t=transform: evaluation_pipeline(t, size, sweep),
                shapes, sweep.prediction_draws, rng)
            rows.append({
                "model": model, "transform": transform, "train_resolution": dataset.image_size,
                "predicted_resolution": prediction.monte_carlo,
                "predicted_resolution_stderr": prediction.monte_carlo_stderr,
                "predicted_resolution_paper": prediction.paper,
                "inverse_sqrt_area": prediction.inverse_sqrt_area,
                "inverse_sqrt_area_paper": prediction.paper_inverse_sqrt_area,
            })
    return pd.DataFrame(rows)


def plot_resolution_sweep(
    initial: pd.DataFrame, finetune: pd.DataFrame, vanilla: pd.DataFrame,
    initial_dataset: InputPipeline, finetune_dataset: InputPipeline, vanilla_dataset: InputPipeline,
    predictions: pd.DataFrame, sweep: SweepParams,
) -> tuple[pd.DataFrame, Figure]:
    """One table of all sweeps and one plot of top-1 against test resolution per model.

    A dotted line marks each model's training resolution; per test transform, a star
    marks the measured best resolution and a dashed line the predicted one
    (``predict_test_resolutions``). The table's rows carry the transform's name in words
    (``transform_label``), the measured ``best_resolution`` of their model and transform,
    and the predictions.
    """
    parts = {"initial": (initial, initial_dataset), "finetune": (finetune, finetune_dataset),
             "vanilla": (vanilla, vanilla_dataset)}
    table = pd.concat(
        [frame.assign(model=name) for name, (frame, _) in parts.items()], ignore_index=True
    )[["model", "transform", "resolution", "top1", "top1_stderr", "loss", "examples"]]
    table["transform_label"] = [transform_label(t, sweep) for t in table["transform"]]
    best = table.loc[table.groupby(["model", "transform"], sort=False)["top1"].idxmax(),
                     ["model", "transform", "resolution"]].rename(columns={"resolution": "best_resolution"})
    predicted = predictions[["model", "transform", "predicted_resolution", "predicted_resolution_stderr",
                             "predicted_resolution_paper"]]
    table = table.merge(best, on=["model", "transform"], how="left").merge(
        predicted, on=["model", "transform"], how="left")
    trained_at = {name: dataset.image_size for name, (_, dataset) in parts.items()}
    return table, plots.resolution_sweep(table, trained_at)
