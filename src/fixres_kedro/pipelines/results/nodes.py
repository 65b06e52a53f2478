"""Nodes of the ``results`` pipeline: ``docs/results.md``, written from the study's outputs.

``write_results_page`` reads every seed's three ``Metrics`` (``seed_<n>.<model>.metrics``),
the configured seeds, the resolution sweep and the fine-tuning variants, and renders
``results.md.j2`` (next to this module). Every number on the page is computed here, from
those inputs only; the template only lays them out. The statistics are ``fixres.stats``' (Student-t
quantiles, the paired t-test); the wording of each comparison follows from its interval:

* an interval that contains 0 says that no difference is shown;
* an interval above (below) 0 says that the first model is higher (lower), by at least the
  interval's bound nearest 0, and nothing more.

A study that is not whole is said to be so at the top of the page, never averaged
silently: configured seeds without all three models' metrics are listed and left out of
every statistic (all statistics are over the same complete seeds), and metrics that come
from several runs or environments (``fixres_kedro.metrics.mixed_origins``) are flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2
import numpy as np

from fixres_kedro.fixres.figure_type import Figure
from fixres_kedro.fixres.stats import mean_interval, paired_difference
from fixres_kedro.lazy_import import lazy_import
from fixres_kedro.metrics import Metrics, mixed_origins
from fixres_kedro.protocol import MODELS

pd = lazy_import("pandas")
plots = lazy_import("fixres_kedro.fixres.plots")  # matplotlib

CONFIDENCE = 0.95  # that of fixres.stats.mean_interval
SWEEP_PLOT = "images/results_sweep.png"
"""Where the page links the sweep's picture, relative to the page (catalog: results_sweep_plot)."""

NAMES = {"initial": "low-res model, trained and evaluated at {size} px",
         "finetune": "FixRes: the low-res model with {final_bn} and the classifier fine-tuned at {size} px",
         "vanilla": "vanilla: trained from scratch and evaluated at {size} px"}
COMPARISONS = (("finetune", "vanilla", "FixRes - vanilla"),
               ("finetune", "initial", "FixRes - low-res"))
TRANSFORMS = {"resize": "the whole photo squashed to S x S",
              "resize_crop": "squashed to 1.75S x 1.75S, centre S x S (the example's finetune transform)",
              "resize_shorter_crop": "shorter side to S / 0.875, centre S x S (standard)"}
"""The sweep's test transforms in words, for a table without its ``transform_label`` column."""


# --- statistics -------------------------------------------------------------------------

# --- formatting -------------------------------------------------------------------------

def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None) -> str:
    """A proportion as a percentage with two decimals: ``75.75%``."""
    return "n/a" if _nan(value) else f"{value * 100:.2f}%"


def points(value: float | None, sign: bool = True) -> str:
    """A proportion (or difference of two) in percentage points: ``+1.36``."""
    return "n/a" if _nan(value) else (f"{value * 100:+.2f}" if sign else f"{value * 100:.2f}")


def interval(low: float, high: float, sign: bool = False, unit: str = "%") -> str:
    if _nan(low) or _nan(high):
        return "n/a"
    return f"[{points(low, sign)}, {points(high, sign)}]{unit}"


def seconds(value: float | None) -> str:
    return "n/a" if _nan(value) else f"{value:.1f}"


def gflops(value: float | None) -> str:
    return "n/a" if _nan(value) or not value else f"{value / 1e9:.4g}"


def mebibytes(value: float | None) -> str:
    return "not recorded" if _nan(value) else f"{value / 2**20:.0f}"


def _pvalue(value: float) -> str:
    return "n/a" if _nan(value) else f"{value:.3g}"


def _verdict(label: str, comparison: dict[str, float]) -> str:
    """What ``comparison`` shows, and no more: the sentence of the page."""
    first, second = (part.strip() for part in label.split(" - "))
    n, low, high = comparison["n"], comparison["ci95_low"], comparison["ci95_high"]
    if n < 2:
        return (f"{label}: {n} paired seed(s); an interval needs at least two, so no "
                f"difference is shown.")
    bounds = interval(low, high, sign=True, unit=" points")
    if low > 0:
        return (f"{label}: {first} is higher than {second} on these {n} seeds; the "
                f"{CONFIDENCE:.0%} interval {bounds} excludes 0, so the difference is at "
                f"least {points(low, sign=False)} points at this confidence.")
    if high < 0:
        return (f"{label}: {first} is lower than {second} on these {n} seeds; the "
                f"{CONFIDENCE:.0%} interval {bounds} excludes 0, so the difference is at "
                f"least {points(-high, sign=False)} points at this confidence.")
    return (f"{label}: no difference is shown; the {CONFIDENCE:.0%} interval {bounds} "
            f"contains 0 ({n} seeds).")


# --- inputs -----------------------------------------------------------------------------

def as_metrics(value: Metrics | Mapping[str, Any]) -> Metrics:
    """A ``Metrics`` from the typed record or from its JSON (an untyped catalog entry)."""
    return value if isinstance(value, Metrics) else Metrics.model_validate(dict(value))


def _seed_of(metrics: Metrics) -> int:
    seed = metrics.dataset.get("seed")
    if seed is None:
        raise ValueError(f"{metrics.model} metrics without parameters.dataset.seed: not a seed's run")
    return int(seed)


def index_metrics(metrics: Iterable[Metrics | Mapping[str, Any]]) -> dict[tuple[int, str], Metrics]:
    """The metrics by ``(seed, model)``; two for one pair is an error, not an average."""
    indexed: dict[tuple[int, str], Metrics] = {}
    for value in metrics:
        record = as_metrics(value)
        key = (_seed_of(record), record.model)
        if key in indexed:
            raise ValueError(f"two metrics for seed {key[0]}, model {key[1]}")
        indexed[key] = record
    return indexed


# --- the page ---------------------------------------------------------------------------

def _template() -> jinja2.Template:
    text = resources.files(__package__).joinpath("results.md.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return environment.from_string(text)


def _run_date(run_id: str | None) -> str:
    """The date of a Kedro run id (its save version, ``2026-11-29T10.15.02.123Z``)."""
    return (run_id or "")[:10] or "unknown"


def transform_labels(sweep: pd.DataFrame) -> dict[str, str]:
    """Each test transform of the sweep in words: the table's ``transform_label`` (it holds
    the sweep's own ratios), else ``TRANSFORMS``."""
    labels = dict(TRANSFORMS)
    if "transform_label" in sweep:
        labels.update(zip(sweep["transform"], sweep["transform_label"]))
    return {transform: labels[transform] for transform in TRANSFORMS
            if transform in set(sweep["transform"])}


def _sweep_rows(sweep: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    labels = transform_labels(sweep)
    columns = [(model, transform) for model in MODELS for transform in labels
               if ((sweep["model"] == model) & (sweep["transform"] == transform)).any()]
    rows = []
    for resolution in sorted(sweep["resolution"].unique()):
        cells = []
        for model, transform in columns:
            match = sweep[(sweep["model"] == model) & (sweep["transform"] == transform)
                          & (sweep["resolution"] == resolution)]
            cells.append("n/a" if match.empty else
                         f"{pct(match['top1'].iloc[0])} ± {points(match['top1_stderr'].iloc[0], sign=False)}")
        rows.append({"resolution": int(resolution), "cells": cells})
    # The measured best resolution beside the one predicted before measuring (the sweep's
    # predict_test_resolutions node), where the table has them.
    summaries = (("best_resolution", "best (measured)", "{:.0f}"),
                 ("predicted_resolution", "predicted (Monte Carlo)", "{:.0f}"),
                 ("predicted_resolution_paper", "predicted (paper's formula)", "{:.0f}"))
    for column, title, form in summaries:
        if column not in sweep:
            continue
        cells = []
        for model, transform in columns:
            values = sweep.loc[(sweep["model"] == model) & (sweep["transform"] == transform), column]
            cells.append("n/a" if values.empty or _nan(values.iloc[0]) else form.format(values.iloc[0]))
        rows.append({"resolution": f"**{title}**", "cells": cells})
    return [f"{model}: {labels[transform]}" for model, transform in columns], rows


def _costs(indexed: dict[tuple[int, str], Metrics], seeds: list[int]) -> list[dict[str, str]]:
    """Per route to a 224 px model, its cost per seed (mean over the seeds, and total):
    FixRes' route is the low-res model's training plus its fine-tune."""
    routes = (("FixRes: initial (low-res), then finetune", ("initial", "finetune")),
              ("vanilla: from scratch at the test resolution", ("vanilla",)))
    rows = []
    for name, models in routes:
        train = [sum(indexed[s, m].train_seconds for m in models) for s in seeds]
        flops = [sum(indexed[s, m].train_flops_estimate for m in models) for s in seeds]
        memory = [indexed[s, m].peak_accelerator_memory_bytes for s in seeds for m in models]
        recorded = [value for value in memory if value is not None]
        rows.append({
            "route": name,
            "train_seconds": seconds(float(np.mean(train))) if seeds else "n/a",
            "train_seconds_total": seconds(float(np.sum(train))) if seeds else "n/a",
            "gflops": gflops(float(np.mean(flops))) if seeds else "n/a",
            "peak_memory_mib": mebibytes(max(recorded)) if recorded else "not recorded",
        })
    return rows


def _provenance(records: list[Metrics], generated: datetime) -> dict[str, Any]:
    def values(getter) -> str:
        found = sorted({str(getter(record)) for record in records if getter(record) is not None})
        return ", ".join(found) if found else "not recorded"

    runs: dict[str, list[str]] = {}
    for record in records:
        runs.setdefault(str(record.provenance.run_id), []).append(
            f"seed {record.dataset.get('seed')} {record.model}")
    return {
        "commits": values(lambda r: r.provenance.git_commit),
        "dirty": values(lambda r: r.provenance.git_dirty),
        "backends": values(lambda r: r.keras_backend and f"{r.keras_backend} (Keras {r.keras_version})"),
        "devices": values(lambda r: (r.parameters.get("runtime") or {}).get("device")
                          or getattr(r, "device", None)),
        "environments": values(lambda r: r.provenance.environment),
        "run_dates": values(lambda r: _run_date(r.provenance.run_id)),
        "runs": [{"run_id": run, "what": ", ".join(what)} for run, what in sorted(runs.items())],
        "generated": generated.strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_results_page(
    seeds: Sequence[int],
    resolution_sweep: pd.DataFrame,
    finetune_variants: pd.DataFrame,
    *metrics: Metrics | Mapping[str, Any],
    sweep_plot: str = SWEEP_PLOT,
    generated: datetime | None = None,
) -> str:
    """The Markdown of ``docs/results.md``.

    Args:
        seeds: the configured seeds (``params:seeds``); those without all three models'
            metrics are stated as missing and left out of every statistic.
        resolution_sweep: ``model, transform, resolution, top1, top1_stderr, loss, examples``.
        finetune_variants: ``variant, description, test_resolution, epochs, top1,
            top1_stderr, loss, train_seconds``.
        *metrics: every seed's ``Metrics`` (or their JSON), in any order; each names its
            seed (``parameters.dataset.seed``) and model. Seeds not configured are listed
            and left out.
        sweep_plot: the sweep picture's path relative to the page.
        generated: the page's date (default: now).
    """
    indexed = index_metrics(metrics)
    configured = sorted({int(seed) for seed in seeds})
    complete = [s for s in configured if all((s, m) in indexed for m in MODELS)]
    missing = [{"seed": s, "models": ", ".join(m for m in MODELS if (s, m) not in indexed)}
               for s in configured if s not in complete]
    unconfigured = sorted({s for s, _ in indexed} - set(configured))
    used = [indexed[s, m] for s in complete for m in MODELS]
    origins = mixed_origins(used) if used else None

    sizes = {model: ", ".join(sorted({str(indexed[s, model].dataset.get("image_size")) for s in complete}))
             or "?" for model in MODELS}
    # Metrics written before they recorded the network are the example's ResNet50V2.
    backbone = ", ".join(sorted({record.backbone or "ResNet50V2" for record in used})) or "ResNet50V2"
    final_bn = ", ".join(sorted({record.final_batch_norm or "post_bn" for record in used})) or "post_bn"
    summary = []
    for model in MODELS:
        result = mean_interval([indexed[s, model].top1 for s in complete], bounds=(0.0, 1.0))
        summary.append({"model": model, "name": NAMES[model].format(size=sizes[model], final_bn=final_bn), "n": result["n"], "mean": pct(result["mean"]),
                        "std": points(result["std"], sign=False),
                        "interval": interval(result["ci95_low"], result["ci95_high"])})
    comparisons = []
    for first, second, label in COMPARISONS:
        result = paired_difference([indexed[s, first].top1 for s in complete],
                                   [indexed[s, second].top1 for s in complete])
        comparisons.append({"label": label, "n": result["n"], "mean": points(result["mean"]),
                            "std": points(result["std"], sign=False),
                            "interval": interval(result["ci95_low"], result["ci95_high"], sign=True, unit=""),
                            "t": "n/a" if _nan(result["t_statistic"]) else f"{result['t_statistic']:+.2f}",
                            "df": result["degrees_of_freedom"], "p": _pvalue(result["p_value"]),
                            "verdict": _verdict(label, result)})
    per_seed = [{"seed": s, "cells": [pct(indexed[s, m].top1) for m in MODELS],
                 "run_id": ", ".join(sorted({str(indexed[s, m].provenance.run_id) for m in MODELS}))}
                for s in complete]
    sweep_columns, sweep_rows = _sweep_rows(resolution_sweep)
    variants = [{"variant": row.variant, "description": row.description,
                 "test_resolution": int(row.test_resolution), "epochs": int(row.epochs),
                 "top1": f"{pct(row.top1)} ± {points(row.top1_stderr, sign=False)}",
                 "loss": f"{row.loss:.4f}", "train_seconds": seconds(row.train_seconds)}
                for row in finetune_variants.itertuples(index=False)]
    examples = sorted({record.validation_examples for record in used})
    context = {
        "configured": configured, "complete": complete, "missing": missing,
        "unconfigured": unconfigured, "mixed_origins": origins, "confidence": f"{CONFIDENCE:.0%}",
        "models": list(MODELS), "summary": summary, "comparisons": comparisons, "per_seed": per_seed,
        "sweep_columns": sweep_columns, "sweep_rows": sweep_rows, "sweep_plot": sweep_plot,
        "sweep_predicted": "predicted_resolution" in resolution_sweep,
        "transforms": transform_labels(resolution_sweep), "variants": variants,
        "sweep_examples": ", ".join(str(v) for v in sorted(resolution_sweep["examples"].unique()))
        if "examples" in resolution_sweep else "n/a",
        "validation_examples": ", ".join(map(str, examples)) or "n/a",
        "costs": _costs(indexed, complete), "sizes": sizes,
        "backbone": backbone, "final_bn": final_bn,
        "provenance": _provenance(used, generated or datetime.now(UTC)),
    }
    return _template().render(**context)


def plot_results_sweep(resolution_sweep: pd.DataFrame) -> Figure:
    """Top-1 against test resolution, one line per model and test transform, ± 1 s.e."""
    figure = plots.Figure(figsize=(9, 5), layout="constrained")
    axis = figure.subplots()
    styles = {"resize": "-", "resize_crop": "--", "resize_shorter_crop": ":"}
    labels = transform_labels(resolution_sweep)
    for model in MODELS:
        for transform, style in styles.items():
            part = resolution_sweep[(resolution_sweep["model"] == model)
                                    & (resolution_sweep["transform"] == transform)].sort_values("resolution")
            if part.empty:
                continue
            axis.errorbar(part["resolution"], part["top1"] * 100, yerr=part["top1_stderr"] * 100,
                          linestyle=style, marker="o", capsize=3, label=f"{model}, {labels[transform]}")
    axis.set_xlabel("test resolution S (px)")
    axis.set_ylabel("validation top-1 (%), ±1 s.e.")
    axis.set_title("Top-1 against test resolution")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="x-small")
    return figure
