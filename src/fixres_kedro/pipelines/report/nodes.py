"""Nodes of the ``report`` pipeline: the three models side by side."""

from __future__ import annotations

import logging

from fixres_kedro.fixres.figure_type import Figure
from fixres_kedro.fixres.stats import binomial_stderr
from fixres_kedro.lazy_import import lazy_import
from fixres_kedro.metrics import Metrics, mixed_origins

pd = lazy_import("pandas")
plots = lazy_import("fixres_kedro.fixres.plots")  # matplotlib

logger = logging.getLogger(__name__)

DESCRIPTIONS = {
    "initial": "low-res, from scratch at {train} px",
    "finetune": "FixRes: low-res model, BN fine-tune at {test} px",
    "vanilla": "vanilla, from scratch at {test} px",
}


def compare_models(
    initial_metrics: Metrics,
    finetune_metrics: Metrics,
    vanilla_metrics: Metrics,
) -> tuple[pd.DataFrame, Figure]:
    """Tabulate and plot the top-1 accuracy, loss and cost of the three models.

    ``top1_stderr`` is the binomial standard error of each accuracy on its
    validation set, so that a reader sees how large a difference must be to matter.
    ``total_train_*`` adds the low-res model's cost to FixRes', which starts from it.
    ``run_id`` and ``environment`` say where each row comes from; a warning is logged when
    they differ.
    """
    warning = mixed_origins([initial_metrics, finetune_metrics, vanilla_metrics])
    if warning:
        logger.warning("Comparing models: %s", warning)
    rows = []
    for metrics in (initial_metrics, finetune_metrics, vanilla_metrics):
        spec = metrics.dataset
        rows.append(
            {
                "model": metrics.model,
                "description": DESCRIPTIONS.get(metrics.model, "{test} px").format(
                    train=spec.get("train_image_size") or spec["image_size"],
                    test=spec["image_size"],
                ),
                "test_resolution": spec["image_size"],
                "epochs": metrics.epochs,
                "top1": metrics.top1,
                "top1_stderr": binomial_stderr(metrics.top1, metrics.validation_examples),
                "loss": metrics.loss,
                "train_seconds": metrics.train_seconds,
                "images_per_second": metrics.images_per_second,
                "train_gflops": metrics.train_flops_estimate / 1e9,
                "peak_accelerator_memory_mb": (metrics.peak_accelerator_memory_bytes or float("nan")) / 2**20,
                "run_id": metrics.provenance.run_id,
                "environment": metrics.provenance.environment,
                "keras_backend": metrics.keras_backend,
                "keras_version": metrics.keras_version,
            }
        )
    table = pd.DataFrame(rows)
    # FixRes' cost includes training the low-res model it starts from.
    table["total_train_gflops"] = table["train_gflops"]
    table["total_train_seconds"] = table["train_seconds"]
    is_finetune = table["model"] == "finetune"
    table.loc[is_finetune, "total_train_gflops"] += table.loc[table["model"] == "initial", "train_gflops"].sum()
    table.loc[is_finetune, "total_train_seconds"] += table.loc[table["model"] == "initial", "train_seconds"].sum()
    figure, axis = plots.figure(7, 4.5)
    plots.bars_with_errors(
        axis, list(table["model"]), table["top1"].to_numpy() * 100, table["top1_stderr"].to_numpy() * 100,
        notes=[f"{top1:.1%}\n{seconds:.0f} s" if seconds >= 10 else f"{top1:.1%}\n{seconds:.1f} s"
               for top1, seconds in zip(table["top1"], table["train_seconds"])],
    )
    axis.set_ylabel("validation top-1 (%), ±1 s.e.")
    axis.set_title("FixRes vs training at the test resolution")
    if warning:
        figure.text(0.5, 0.01, f"Warning: {warning}", ha="center", fontsize=7, color="tab:red", wrap=True)
    return table, figure


def plot_accuracy_vs_cost(model_comparison: pd.DataFrame) -> Figure:
    """Top-1 against total training cost (estimated FLOPs and wall time) per model."""
    figure, axes = plots.figure(11, 4, 1, 2, sharey=True)
    for axis, column, label in (
        (axes[0], "total_train_gflops", "training cost (estimated GFLOPs)"),
        (axes[1], "total_train_seconds", "training wall time (s)"),
    ):
        axis.errorbar(model_comparison[column], model_comparison["top1"] * 100,
                      yerr=model_comparison["top1_stderr"] * 100, fmt="o", capsize=5)
        for _, row in model_comparison.iterrows():
            axis.annotate(row["model"], (row[column], row["top1"] * 100),
                          xytext=(6, 6), textcoords="offset points")
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
        axis.margins(x=0.15)  # room for the labels right of the points
    axes[0].set_ylabel("validation top-1 (%), ±1 s.e.")
    figure.suptitle("Accuracy against training cost (FixRes includes its low-res model)")
    return figure
