"""``kedro prune``: remove old versions of the versioned outputs, keeping what matters.

Every run adds a version of every model, history, metrics file and plot
(``<folder>/<name>/<version>/<name>``); models are about 95 MB each. ``prune`` keeps, for
each versioned output of an environment's data root,

* the newest ``keep`` versions, and
* every version named by a kept metrics file's ``provenance`` (its run, which is the
  version all that run's outputs were saved under, and the versions of its inputs: the
  model it evaluated),

and removes the other versions (``dry_run``: only lists them). Nothing that is not a Kedro
version folder is touched.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")  # Kedro's save versions


@dataclass
class Plan:
    """What ``prune`` keeps and removes, by version folder."""

    keep: list[Path] = field(default_factory=list)
    remove: list[Path] = field(default_factory=list)
    freed_bytes: int = 0  # measured when planned: the folders are gone once pruned


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def versioned_outputs(root: Path) -> dict[Path, list[Path]]:
    """Each versioned output under ``root`` and its version folders, oldest first."""
    outputs: dict[Path, list[Path]] = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and VERSION.match(p.name)):
        if (folder / folder.parent.name).exists():  # <name>/<version>/<name>
            outputs.setdefault(folder.parent, []).append(folder)
    return outputs


def _referenced(metrics_versions: list[Path]) -> set[str]:
    """The versions a set of metrics files name in their provenance."""
    named: set[str] = set()
    for folder in metrics_versions:
        try:
            provenance = json.loads((folder / folder.parent.name).read_text()).get("provenance", {})
        except (OSError, ValueError):
            continue
        named |= {value for value in [provenance.get("run_id"), *provenance.get("inputs", {}).values()]
                  if isinstance(value, str) and VERSION.match(value)}
    return named


def plan(root: Path, keep: int) -> Plan:
    """Which version folders under ``root`` to keep and which to remove."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    outputs = versioned_outputs(root)
    newest = {output: versions[-keep:] for output, versions in outputs.items()}
    kept_metrics = [folder for output, versions in newest.items() if output.name.endswith("_metrics.json")
                    for folder in versions]
    referenced = _referenced(kept_metrics)
    result = Plan()
    for output, versions in outputs.items():
        for folder in versions:
            (result.keep if folder in newest[output] or folder.name in referenced else result.remove).append(folder)
    result.freed_bytes = sum(_size(folder) for folder in result.remove)
    return result


def prune(root: Path, keep: int, dry_run: bool = False) -> Plan:
    """Remove (or with ``dry_run`` only plan to remove) old versions under ``root``."""
    result = plan(root, keep)
    if not dry_run:
        for folder in result.remove:
            shutil.rmtree(folder)
    return result
