"""Nodes of the ``variants`` pipeline: four ways to move the low-res model to 224 px."""

from __future__ import annotations

from fixres_kedro.fixres.figure_type import Figure
from fixres_kedro.fixres.stats import binomial_stderr
from fixres_kedro.lazy_import import lazy_import
from fixres_kedro.metrics import Metrics

pd = lazy_import("pandas")
plots = lazy_import("fixres_kedro.fixres.plots")  # matplotlib

# Each variant's recipe in one line: what learns, the optimizer, the transforms.
DESCRIPTIONS = {
    "example": "Keras example: final BN (scale, offset, statistics) + classifier, Adam; "
               "square resize, flip, centre crop",
    "official": "FixRes code: classifier only, SGD momentum 0.9 wd 1e-4, final BN statistics in "
                "training mode; height to 256/224 of the crop, flip, jitter 0.05, shifted centre crop "
                "(tested: centre crop)",
    "bn_stats": "final BN statistics re-estimated at the test resolution, no gradient step; "
                "square resize, centre crop",
    "none": "no fine-tuning: the low-res model at the test resolution; square resize, centre crop",
}


def compare_finetune_variants(
    example: Metrics, official: Metrics, bn_stats: Metrics, none: Metrics
) -> tuple[pd.DataFrame, Figure]:
    """One table (and bar chart) of the four fine-tuning variants' top-1 and cost.

    Every variant starts from the same low-res model and is evaluated at the same test
    resolution, on its own recipe's validation transform: the example's square resize
    and centre crop, or for ``official`` the authors' aspect-kept resize and centre crop.
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
