"""docs/results.md: complete, its numbers those of the metrics (parsed back from the page and
checked against statistics computed here, independently), and honest about missing seeds and
mixed run origins."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

from fixres_kedro.metrics import Metrics
from fixres_kedro.pipelines.results.nodes import TRANSFORMS, plot_results_sweep, write_results_page
from fixres_kedro.pipelines.results.pipeline import create_pipeline
from fixres_kedro.protocol import MODELS

SECTIONS = ["# FixRes on tf_flowers: results", "## Status of the study", "## Top-1 over seeds",
            "## Paired differences", "## Accuracy against test resolution", "## Fine-tuning variants",
            "## Cost of each route to a", "## Provenance"]
RUN = "2026-12-01T10.00.00.000Z"
SIZES = {"initial": 128, "finetune": 224, "vanilla": 224}
# Top-1 per seed: FixRes above vanilla on every seed by about 2 points (an interval above
# 0), FixRes against the low-res model mixed (an interval containing 0).
TOP1 = {
    "initial": [0.7575, 0.7920, 0.7490, 0.7810, 0.7740],
    "finetune": [0.7711, 0.7880, 0.7740, 0.7900, 0.7620],
    "vanilla": [0.7480, 0.7700, 0.7550, 0.7680, 0.7410],
}


def metrics(model: str, seed: int, top1: float, run_id: str = RUN, environment: str = "gpu",
            **extra) -> Metrics:
    return Metrics(
        model=model, top1=top1, loss=1.0 - top1, validation_examples=367,
        epochs={"initial": 30, "finetune": 10, "vanilla": 30}[model],
        train_seconds={"initial": 60.0, "finetune": 20.0, "vanilla": 150.0}[model] + seed,
        train_flops_estimate={"initial": 1.0e15, "finetune": 0.5e15, "vanilla": 3.0e15}[model],
        peak_accelerator_memory_bytes={"initial": 2, "finetune": 3, "vanilla": 5}[model] * 2**30,
        parameters={"dataset": {"seed": seed, "image_size": SIZES[model]}},
        keras_backend="jax", keras_version="3.15.1",
        provenance={"run_id": run_id, "environment": environment, "git_commit": "abc123",
                    "git_dirty": False},
        **extra,
    )


def study(seeds=range(5), **kwargs) -> list[Metrics]:
    return [metrics(model, seed, TOP1[model][seed], **kwargs) for seed in seeds for model in MODELS]


def sweep() -> pd.DataFrame:
    rows = []
    for model in MODELS:
        for transform in ("resize", "resize_crop"):
            for index, resolution in enumerate((128, 224, 288)):
                top1 = 0.6 + 0.05 * index + (0.01 if transform == "resize_crop" else 0) \
                    + {"initial": 0.0, "finetune": 0.02, "vanilla": 0.03}[model]
                rows.append({"model": model, "transform": transform, "resolution": resolution,
                             "top1": top1, "top1_stderr": math.sqrt(top1 * (1 - top1) / 367),
                             "loss": 1.0, "examples": 367})
    return pd.DataFrame(rows)


def variants() -> pd.DataFrame:
    return pd.DataFrame([
        {"variant": name, "description": f"the {name} variant", "test_resolution": 224,
         "epochs": epochs, "top1": top1, "top1_stderr": 0.02, "loss": 0.8, "train_seconds": seconds}
        for name, epochs, top1, seconds in (("example", 10, 0.7711, 20.0), ("official", 10, 0.7690, 19.0),
                                            ("bn_stats", 0, 0.7612, 1.5), ("none", 0, 0.7004, 0.0))
    ])


def page(seeds=range(5), records=None) -> str:
    return write_results_page(list(seeds), sweep(), variants(), *(records if records is not None else study()),
                              generated=datetime(2026, 12, 3, tzinfo=UTC))


# --- parsing the page back ----------------------------------------------------------------

NUMBER = r"([+-]?\d+\.\d+)"


def section(text: str, title: str) -> str:
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def table_rows(text: str, title: str) -> dict[str, list[str]]:
    """The rows of the first Markdown table of a section, by their first cell."""
    rows = {}
    for line in section(text, title).splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def floats(cell: str) -> list[float]:
    return [float(value) for value in re.findall(NUMBER, cell)]


def expected_interval(values, bounds=(-100, 100)) -> tuple[float, float, float, float]:
    """Mean, std and 95% t-interval in points, computed here with numpy and scipy, kept
    within what the quantity can take (an accuracy: 0 to 100; a difference: -100 to 100)."""
    values = np.asarray(values) * 100
    mean, std = values.mean(), values.std(ddof=1)
    half = stats.t.ppf(0.975, len(values) - 1) * std / np.sqrt(len(values))
    return mean, std, max(mean - half, bounds[0]), min(mean + half, bounds[1])


# --- synthetic studies --------------------------------------------------------------------

def test_the_page_has_every_section_and_picture():
    text = page()
    for title in SECTIONS:
        assert title in text
    assert "![Top-1 against test resolution](images/results_sweep.png)" in text
    assert "Every configured seed has all three models' metrics." in text
    assert "Every metric used comes from one run in one environment." in text


def test_the_page_names_the_network_and_the_layer_its_metrics_record():
    """The question and the FixRes row name the study's backbone and its fine-tuned layer;
    metrics from before they were recorded are the example's ResNet50V2 and post_bn."""
    text = page(records=study(backbone="EfficientNetV2B0", final_batch_norm="top_bn"))
    assert "Does training EfficientNetV2B0 at low resolution (128 px) and fine-tuning only its last BatchNorm (`top_bn`)" in text
    assert "FixRes: the low-res model with top_bn and the classifier fine-tuned at 224 px" in text
    assert "ResNet50V2" not in text.split("## ")[0] and "post_bn" not in text
    assert "Does training ResNet50V2 at low resolution (128 px) and fine-tuning only its last BatchNorm (`post_bn`)" in page()


def test_each_models_mean_std_and_interval_are_those_of_the_metrics():
    rows = table_rows(page(), "## Top-1 over seeds")
    for model in MODELS:
        n, mean, std, bounds = rows[model]
        expected_mean, expected_std, low, high = expected_interval(TOP1[model], (0, 100))
        assert int(n) == 5
        assert floats(mean) == [pytest.approx(expected_mean, abs=0.005)]
        assert floats(std) == [pytest.approx(expected_std, abs=0.005)]
        assert floats(bounds) == [pytest.approx(low, abs=0.005), pytest.approx(high, abs=0.005)]


def test_per_seed_top1_on_the_page_is_each_metrics_file():
    rows = table_rows(page(), "Per seed:")
    for seed in range(5):
        assert [floats(cell)[0] for cell in rows[str(seed)][:3]] == \
            [pytest.approx(TOP1[model][seed] * 100, abs=0.005) for model in MODELS]


@pytest.mark.parametrize(("label", "other"), [("FixRes - vanilla", "vanilla"), ("FixRes - low-res", "initial")])
def test_paired_differences_interval_and_t_test(label, other):
    rows = table_rows(page(), "## Paired differences")
    n, mean, std, bounds, t, p = rows[label]
    differences = np.subtract(TOP1["finetune"], TOP1[other])
    expected_mean, expected_std, low, high = expected_interval(differences)
    test = stats.ttest_rel(TOP1["finetune"], TOP1[other])
    assert int(n) == 5
    assert floats(mean) == [pytest.approx(expected_mean, abs=0.005)]
    assert floats(std) == [pytest.approx(expected_std, abs=0.005)]
    assert floats(bounds) == [pytest.approx(low, abs=0.005), pytest.approx(high, abs=0.005)]
    assert floats(t)[0] == pytest.approx(test.statistic, abs=0.005)
    assert t.endswith("(4)")
    assert float(p) == pytest.approx(test.pvalue, rel=1e-2)


def test_wording_follows_the_intervals():
    text = section(page(), "## Paired differences")
    # FixRes - vanilla: every seed's difference is positive, the interval is above 0.
    assert expected_interval(np.subtract(TOP1["finetune"], TOP1["vanilla"]))[2] > 0
    assert "FixRes - vanilla: FixRes is higher than vanilla on these 5 seeds" in text
    # FixRes - low-res: the interval contains 0.
    low, high = expected_interval(np.subtract(TOP1["finetune"], TOP1["initial"]))[2:]
    assert low < 0 < high
    assert "FixRes - low-res: no difference is shown" in text
    assert "higher than low-res" not in text and "lower than low-res" not in text


def test_a_lower_model_is_said_lower_and_one_seed_shows_nothing():
    swapped = [metrics(m, r.dataset["seed"], r.top1 if m == "initial" else TOP1[{"finetune": "vanilla", "vanilla": "finetune"}[m]][r.dataset["seed"]])
               for r in study() for m in [r.model]]
    assert "FixRes - vanilla: FixRes is lower than vanilla" in page(records=swapped)
    one = page(seeds=[0], records=study(seeds=[0]))
    assert "1 paired seed(s); an interval needs at least two, so no difference is shown" in one
    assert "is higher" not in one and "is lower" not in one


def test_missing_seeds_are_stated_and_left_out_of_the_statistics():
    records = [r for r in study() if not (r.dataset["seed"] == 4 or (r.dataset["seed"] == 3 and r.model == "vanilla"))]
    text = page(seeds=range(6), records=records)
    assert "**Incomplete study: 3 configured seed(s) have missing metrics" in text
    assert "seed 3: missing vanilla" in text
    assert "seed 4: missing initial, finetune, vanilla" in text
    assert "seed 5: missing initial, finetune, vanilla" in text
    rows = table_rows(text, "## Top-1 over seeds")
    # Seed 3's initial and finetune are not averaged in: every statistic is over seeds 0-2.
    assert floats(rows["finetune"][1]) == [pytest.approx(np.mean(TOP1["finetune"][:3]) * 100, abs=0.005)]
    assert int(rows["finetune"][0]) == 3
    assert "Every configured seed" not in text


def test_unconfigured_seeds_are_named_and_left_out():
    text = page(seeds=range(4), records=study())
    assert "Metrics of seeds that are not configured were left out: 4." in text
    assert int(table_rows(text, "## Top-1 over seeds")["initial"][0]) == 4


def test_mixed_origins_are_stated():
    records = study(seeds=range(3)) + study(seeds=range(3, 5), run_id="2026-12-02T09.00.00.000Z", environment="local")
    text = page(records=records)
    assert "**Mixed run origins: these results come from 2 runs" in text
    assert "2026-12-02T09.00.00.000Z" in section(text, "## Provenance")
    assert "in 2 environment(s) (gpu, local)" in text
    assert "Every metric used comes from one run" not in text


def test_two_metrics_for_one_seed_and_model_are_an_error():
    with pytest.raises(ValueError, match="two metrics for seed 0"):
        page(records=study() + [metrics("initial", 0, 0.5)])


def test_metrics_as_json_read_the_same():
    assert page(records=[r.model_dump(mode="json") for r in study()]) == page()


def test_sweep_and_variants_on_the_page_are_their_tables():
    text = page()
    table = sweep()
    rows = table_rows(text, "## Accuracy against test resolution")
    header = rows.pop("resolution")
    named = {label: transform for transform, label in TRANSFORMS.items()}
    for resolution, cells in rows.items():
        for column, cell in zip(header, cells):
            model, label = column.split(": ", 1)
            transform = named[label]
            row = table[(table["model"] == model) & (table["transform"] == transform) & (table["resolution"] == int(resolution))]
            assert floats(cell) == [pytest.approx(row.top1.iloc[0] * 100, abs=0.005),
                                    pytest.approx(row.top1_stderr.iloc[0] * 100, abs=0.005)]
    assert len(rows) == 3 and len(header) == 6
    variant_rows = table_rows(text, "## Fine-tuning variants")
    for row in variants().itertuples():
        assert floats(variant_rows[row.variant][3])[0] == pytest.approx(row.top1 * 100, abs=0.005)
        assert float(variant_rows[row.variant][5]) == pytest.approx(row.train_seconds, abs=0.05)


def test_cost_of_each_route_includes_the_low_res_training():
    rows = table_rows(page(), "## Cost of each route")
    fixres = next(cells for name, cells in rows.items() if name.startswith("FixRes"))
    vanilla = next(cells for name, cells in rows.items() if name.startswith("vanilla"))
    seeds = np.arange(5)
    assert float(fixres[0]) == pytest.approx(np.mean(60 + seeds + 20 + seeds), abs=0.05)
    assert float(fixres[1]) == pytest.approx(np.sum(80 + 2 * seeds), abs=0.05)
    assert float(fixres[2]) == pytest.approx(1.5e6, rel=1e-3)  # GFLOPs
    assert float(fixres[3]) == 3 * 1024  # MiB: the larger of the two models' peaks
    assert float(vanilla[0]) == pytest.approx(np.mean(150 + seeds), abs=0.05)


def test_provenance():
    text = section(page(), "## Provenance")
    for expected in ("abc123", "jax (Keras 3.15.1)", "gpu", "2026-12-01", RUN, "page generated 2026-12-03"):
        assert expected in text


def test_the_sweep_figure_and_the_pipeline():
    assert isinstance(plot_results_sweep(sweep()), Figure)
    pipeline = create_pipeline(seeds=[0, 3])
    assert pipeline.outputs() == {"results_page", "results_sweep_plot"}
    assert pipeline.inputs() == {"params:seeds", "resolution_sweep", "finetune_variants",
                                 *(f"seed_{s}.{m}.metrics" for s in (0, 3) for m in MODELS)}


def _predicted_sweep() -> pd.DataFrame:
    """The sweep node's table: three transforms named in words, best and predicted."""
    table = pd.concat([sweep(), sweep().query("transform == 'resize'").assign(transform="resize_shorter_crop")],
                      ignore_index=True)
    table["transform_label"] = table["transform"].map(
        {"resize": "squash S", "resize_crop": "square 1.5S, crop S", "resize_shorter_crop": "short S/0.9, crop S"})
    predicted = {"initial": 183.4, "finetune": 224.0, "vanilla": 320.6}
    table["best_resolution"] = 288
    table["predicted_resolution"] = table["model"].map(predicted)
    table["predicted_resolution_paper"] = table["model"].map(predicted) - 20
    return table


def test_the_page_names_the_three_transforms_and_sets_predicted_beside_best():
    table = _predicted_sweep()
    text = write_results_page(list(range(5)), table, variants(), *study(), generated=datetime(2026, 12, 3, tzinfo=UTC))
    rows = table_rows(text, "## Accuracy against test resolution")
    header = rows.pop("resolution")
    assert header[:3] == ["initial: squash S", "initial: square 1.5S, crop S", "initial: short S/0.9, crop S"]
    assert len(header) == 9
    assert rows["**best (measured)**"] == ["288"] * 9
    assert rows["**predicted (Monte Carlo)**"] == ["183"] * 3 + ["224"] * 3 + ["321"] * 3
    assert rows["**predicted (paper's formula)**"][0] == "163"
    assert "`resize_shorter_crop`: short S/0.9, crop S" in text
    figure = plot_results_sweep(table)
    legend = [entry.get_text() for entry in figure.axes[0].get_legend().get_texts()]
    assert "vanilla, short S/0.9, crop S" in legend and len(legend) == 9
