"""The ``study`` report: every result of the FixRes study in one readable HTML page
(``report.html.j2``, its plots embedded)."""

from __future__ import annotations

import base64
import io
import math
import platform
from datetime import UTC, datetime
from typing import Any

import jinja2
from PIL import Image

from fixres_kedro.lazy_import import lazy_import

pd = lazy_import("pandas")

_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("fixres_kedro.pipelines.study", "."),
                                autoescape=True, undefined=jinja2.StrictUndefined)


def _pct(value: float, error: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return f"{value * 100:.1f}%"
    return f"{value * 100:.1f} ± {error * 100:.1f}%"


def _png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _distinct(frame: pd.DataFrame, column: str) -> list[str]:
    return sorted(set(frame[column].astype(str))) if column in frame else []


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="table", float_format=lambda v: f"{v:.3g}")


def _sweep_table(resolution_sweep: pd.DataFrame) -> pd.DataFrame:
    """Top-1 per model and test transform (rows; the transform in words where the table
    names it) and resolution (columns), then the measured best and the predicted resolution."""
    frame = resolution_sweep.assign(
        top1=[_pct(v, e) for v, e in zip(resolution_sweep["top1"], resolution_sweep["top1_stderr"])])
    if "transform_label" in frame:
        frame["transform"] = frame["transform_label"]
    keys = ["model", "transform"]
    table = frame.pivot_table(index=keys, columns="resolution", values="top1", aggfunc="first",
                              sort=False).reset_index()
    table.columns = [str(column) for column in table.columns]
    summaries = {"best_resolution": "best (measured)", "predicted_resolution": "predicted (Monte Carlo)",
                 "predicted_resolution_paper": "predicted (paper's formula)"}
    present = [column for column in summaries if column in frame]
    if present:
        firsts = frame.groupby(keys, sort=False)[present].first().round(0).reset_index()
        table = table.merge(firsts.rename(columns=summaries), on=keys, how="left")
    return table


def write_report(
    model_comparison: pd.DataFrame,
    finetune_variants: pd.DataFrame,
    resolution_sweep: pd.DataFrame,
    seeds_summary: pd.DataFrame,
    seeds_comparison: dict[str, Any],
    accuracy_vs_cost_plot: Image.Image,
    resolution_sweep_plot: Image.Image,
    finetune_variants_plot: Image.Image,
    seeds_plot: Image.Image,
) -> str:
    """A self-contained HTML report (its four plots embedded) that states every accuracy's
    uncertainty: ± one binomial standard error for single runs, the 95% t-interval
    over seeds for the multi-seed results.
    """
    models = model_comparison.assign(
        top1=[_pct(v, e) for v, e in zip(model_comparison["top1"], model_comparison["top1_stderr"])]
    )[["model", "description", "test_resolution", "epochs", "top1", "loss", "total_train_seconds",
       "images_per_second", "total_train_gflops", "peak_accelerator_memory_mb"]]
    variants = finetune_variants.assign(
        top1=[_pct(v, e) for v, e in zip(finetune_variants["top1"], finetune_variants["top1_stderr"])]
    )[["variant", "description", "test_resolution", "epochs", "top1", "loss", "train_seconds"]]
    sweep = _sweep_table(resolution_sweep)
    seeds = seeds_summary.assign(
        top1_mean=[f"{m * 100:.1f}%" for m in seeds_summary["top1_mean"]],
        top1_std=[f"{s * 100:.1f}" if not math.isnan(s) else "n/a" for s in seeds_summary["top1_std"]],
        top1_ci95=[
            f"[{lo * 100:.1f}, {hi * 100:.1f}]%" if not math.isnan(lo) else "n/a (one seed)"
            for lo, hi in zip(seeds_summary["top1_ci95_low"], seeds_summary["top1_ci95_high"])
        ],
    )[["model", "seeds", "top1_mean", "top1_std", "top1_ci95", "train_seconds_mean"]]
    paired = seeds_comparison
    low, high = paired.get("difference_ci95_low"), paired.get("difference_ci95_high")
    interval = ("n/a (needs two seeds)" if low is None or math.isnan(low)
                else f"[{low * 100:+.1f}, {high * 100:+.1f}] points")
    first = model_comparison.iloc[0]
    return _TEMPLATES.get_template("report.html.j2").render(
        origins=_distinct(model_comparison, "run_id"),
        environments=_distinct(model_comparison, "environment"),
        stamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        keras_version=first.get("keras_version", "?"), keras_backend=first.get("keras_backend", "?"),
        platform=platform.platform(),
        validation_photos=int(resolution_sweep["examples"].iloc[0]) if len(resolution_sweep) else 0,
        models=_table(models), variants=_table(variants), sweep=_table(sweep), seeds=_table(seeds),
        plots={"accuracy_vs_cost": _png(accuracy_vs_cost_plot), "finetune_variants": _png(finetune_variants_plot),
               "resolution_sweep": _png(resolution_sweep_plot), "seeds": _png(seeds_plot)},
        paired={"difference_mean": paired.get("difference_mean", float("nan")),
                "t_statistic": paired.get("t_statistic", float("nan")),
                "p_value": paired.get("p_value", float("nan")),
                "degrees_of_freedom": paired.get("degrees_of_freedom", 0), "seeds": paired.get("seeds")},
        interval=interval,
    )
