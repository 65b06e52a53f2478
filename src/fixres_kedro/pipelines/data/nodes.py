"""Nodes of the ``data`` pipeline: the train / validation split of the photos."""

from __future__ import annotations

import hashlib
from typing import Any

from fixres_kedro.datasets.photo_source.tfds_order import read_order, tf_flowers_example_size
from fixres_kedro.lazy_import import lazy_import
from fixres_kedro.parameters import SplitParams

pd = lazy_import("pandas")


def split_dataset(
    photos: pd.DataFrame, split: SplitParams
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], dict[str, Any]]:
    """Split the photos as ``tfds.load(split=[train, validation])`` would, in its order.

    ``photos`` come in the order tfds stores the ``train`` split (by key hash), so each
    tfds slice (``train[:90%]``, ``train[90%:]``) holds a contiguous range of them; tfds
    reads that range from the shards it wrote, interleaved in blocks of 16, and each part
    keeps that order (``datasets.photo_source.tfds_order.read_order``; the shards follow from the
    photos' sizes, serialized as tf_flowers' examples). ``max_train_examples`` and
    ``max_validation_examples`` keep only the first examples of each part, in that order
    (the smoke environment). Each row gets the ``sha256`` of its photo's bytes, which
    names the damaged row when the split no longer matches its file digest. Returns both parts, the class names (index = label) and
    a summary of the counts per class.
    """
    names = (
        photos[["label", "class_name"]].drop_duplicates().sort_values("label")["class_name"]
    )
    class_names = list(names)
    parts = {}
    sizes = [tf_flowers_example_size(len(image), int(label))
             for image, label in zip(photos["image"], photos["label"])]
    for part in ("train", "validation"):
        rows = photos.iloc[read_order(sizes, getattr(split, part))]
        limit = getattr(split, f"max_{part}_examples")
        if limit is not None:
            rows = rows.iloc[:limit]
        rows = rows.reset_index(drop=True)
        parts[part] = rows.assign(sha256=[hashlib.sha256(blob).hexdigest() for blob in rows["image"]])
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
