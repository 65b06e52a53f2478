"""``seeds_summary`` gathers the seeds that have finished, from the versioned files."""

from __future__ import annotations

import pytest

from fixres_kedro.pipelines.seeds.nodes import finished_seed_metrics, summarise_finished_seeds
from fixres_kedro.pipelines.seeds_summary.pipeline import create_pipeline

OLD, NEW = "2026-11-27T10.00.00.000Z", "2026-11-27T11.00.00.000Z"


def _partition(seed: int, run: str, version: str) -> str:
    name = f"seed_{seed}_{run}_metrics"
    return f"{name}.json/{version}/{name}"


def _loader(top1: float):
    return lambda: {"top1": top1, "loss": 1.0, "train_seconds": 5.0}


def test_only_seeds_with_all_three_runs_and_their_latest_versions():
    partitions = {
        _partition(0, "initial", OLD): _loader(0.1),
        _partition(0, "initial", NEW): _loader(0.2),  # rerun: the latest counts
        _partition(0, "finetune", OLD): _loader(0.3),
        _partition(0, "vanilla", OLD): _loader(0.4),
        _partition(1, "initial", OLD): _loader(0.5),  # seed 1 has not finished
        "initial_metrics.json/" + OLD + "/initial_metrics": _loader(0.9),  # not a seed's
        "split_summary.json/" + OLD + "/split_summary": _loader(0.9),
    }
    chosen = finished_seed_metrics(partitions)
    assert sorted(chosen) == ["seed_0_finetune", "seed_0_initial", "seed_0_vanilla"]
    assert chosen["seed_0_initial"]["top1"] == 0.2
    summary, comparison, _ = summarise_finished_seeds(partitions)
    assert list(summary["seeds"]) == [1, 1, 1] and comparison["seeds"] == [0]


def test_no_finished_seed_is_a_clear_error():
    with pytest.raises(ValueError, match=r"No seed has finished .* seeds \[1\]"):
        finished_seed_metrics({_partition(1, "initial", OLD): _loader(0.5)})


def test_the_pipeline_reads_the_partitioned_metrics():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"seed_metrics"}
    assert pipeline.outputs() == {"seeds_summary", "seeds_comparison", "seeds_plot"}
