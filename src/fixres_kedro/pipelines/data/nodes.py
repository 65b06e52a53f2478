"""Nodes of the ``data`` pipeline: the train / validation split of the photos."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fixres_kedro.fixres.tfds_order import slice_bounds
from fixres_kedro.parameters import SplitParams


def split_dataset(
    photos: pd.DataFrame, split: SplitParams
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], dict[str, Any]]:
    """Split the photos as ``tfds.load(split=[train, validation])`` would.

    ``photos`` come in tfds' order of the ``train`` split, so each tfds slice
    (``train[:90%]``, ``train[90%:]``) is a contiguous range. ``max_train_examples``
    and ``max_validation_examples`` keep only the first examples of each part (the
    smoke environment). Returns both parts, the class names (index = label) and a
    summary of the counts per class.
    """
    names = (
        photos[["label", "class_name"]].drop_duplicates().sort_values("label")["class_name"]
    )
    class_names = list(names)
    parts = {}
    split = SplitParams.coerce(split)
    for part in ("train", "validation"):
        _, start, stop = slice_bounds(getattr(split, part), len(photos))
        rows = photos.iloc[start:stop]
        limit = getattr(split, f"max_{part}_examples")
        if limit is not None:
            rows = rows.iloc[:limit]
        parts[part] = rows.reset_index(drop=True)
    summary = {
        "train": len(parts["train"]),
        "validation": len(parts["validation"]),
        "slices": {part: getattr(split, part) for part in ("train", "validation")},
        "per_class": {
            part: {
                name: int((rows["class_name"] == name).sum()) for name in class_names
            }
            for part, rows in parts.items()
        },
    }
    return parts["train"], parts["validation"], class_names, summary
