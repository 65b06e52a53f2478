"""``ReportFolder``: a partitioned reporting folder that may be empty."""

from __future__ import annotations

import json

from fixres_kedro.datasets import ReportFolder


def _folder(path) -> ReportFolder:
    return ReportFolder(path=str(path), dataset="json.JSONDataset", filename_suffix=".json")


def test_an_empty_or_missing_folder_loads_as_no_partitions(tmp_path):
    assert _folder(tmp_path / "missing").load() == {}
    (tmp_path / "notes.txt").write_text("not a report")
    assert _folder(tmp_path).load() == {}


def test_versioned_files_load_by_partition(tmp_path):
    version = tmp_path / "seed_0_initial_metrics.json" / "2026-11-27T10.00.00.000Z"
    version.mkdir(parents=True)
    (version / "seed_0_initial_metrics.json").write_text(json.dumps({"top1": 0.5}))
    partitions = _folder(tmp_path).load()
    assert list(partitions) == ["seed_0_initial_metrics.json/2026-11-27T10.00.00.000Z/seed_0_initial_metrics"]
    assert next(iter(partitions.values()))() == {"top1": 0.5}
