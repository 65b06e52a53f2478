"""The ``study`` report: every result of the FixRes study in one readable HTML page."""

from __future__ import annotations

import base64
import html
import io
import math
import platform
from datetime import UTC, datetime
from typing import Any

import keras
import pandas as pd
from PIL import Image


def _pct(value: float, error: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return f"{value * 100:.1f}%"
    return f"{value * 100:.1f} ± {error * 100:.1f}%"


def _png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="table", float_format=lambda v: f"{v:.3g}")


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
    sweep = resolution_sweep.assign(
        top1=[_pct(v, e) for v, e in zip(resolution_sweep["top1"], resolution_sweep["top1_stderr"])]
    ).pivot_table(index=["model", "transform"], columns="resolution", values="top1", aggfunc="first").reset_index()
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
    interval = "n/a (needs two seeds)" if low is None or math.isnan(low) else f"[{low * 100:+.1f}, {high * 100:+.1f}] points"
    count = int(model_comparison["epochs"].size and resolution_sweep["examples"].iloc[0])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    origins = model_comparison.get("run_id", pd.Series(dtype=object)).astype(str)
    environments = model_comparison.get("environment", pd.Series(dtype=object)).astype(str)
    mixed = origins.nunique() > 1 or environments.nunique() > 1
    warning = (
        f'<p class="warning">Warning: the three models come from {origins.nunique()} runs '
        f"({html.escape(', '.join(sorted(set(origins))))}) in environment(s) "
        f"{html.escape(', '.join(sorted(set(environments))))}: they may not be comparable.</p>"
        if mixed else ""
    )
    provenance = (f"Run {html.escape(origins.iloc[0])}, environment {html.escape(environments.iloc[0])}. "
                  if not mixed and len(origins) else "")
    body = f"""
<h1>FixRes on tf_flowers: study report</h1>
{warning}
<p>{provenance}Generated {stamp} with Keras {keras.__version__} ({keras.backend.backend()} backend) on
{html.escape(platform.platform())}. Validation set: {count} photos. Accuracies are top-1 on the
validation set; ± is one binomial standard error (sqrt(p(1-p)/n), about 2.3 points at 75% on
367 photos), so single-run differences smaller than about twice that are not evidence.</p>
<h2>1. The example's protocol (one run per model)</h2>
{_table(models)}
{_png(accuracy_vs_cost_plot)}
<h2>2. Fine-tuning variants, all from the same low-res model</h2>
{_table(variants)}
{_png(finetune_variants_plot)}
<h2>3. Top-1 against test resolution</h2>
<p><code>resize</code>: the whole image resized; <code>resize_crop</code>: resized to 1.75x and
centre-cropped, the example's finetune transform.</p>
{_table(sweep)}
{_png(resolution_sweep_plot)}
<h2>4. Several seeds</h2>
{_table(seeds)}
{_png(seeds_plot)}
<p>Paired by seed, FixRes minus vanilla: mean {paired.get('difference_mean', float('nan')) * 100:+.1f}
points, 95% interval {interval}, t = {paired.get('t_statistic', float('nan')):.2f} with
{paired.get('degrees_of_freedom', 0)} degrees of freedom, over seeds {paired.get('seeds')}.</p>
"""
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right}"
             "img{max-width:100%}.warning{color:#b00;font-weight:bold}")
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>FixRes study</title><style>{style}</style></head><body>{body}</body></html>"
