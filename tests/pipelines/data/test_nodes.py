"""``split_dataset``: tfds slices of the photos, in the order they come."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from fixres_kedro.pipelines.data.nodes import split_dataset
from fixres_kedro.parameters import SplitParams

NAMES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]  # tf_flowers' label order
TFDS_SPLIT = {"train": "train[:90%]", "validation": "train[90%:]"}


@pytest.fixture
def photos() -> pd.DataFrame:
    """50 photos in "tfds order"; labels first appear in the order 0, 3, 1, 4, 2."""
    labels = [(3 * index) % 5 for index in range(50)]
    return pd.DataFrame(
        {
            "key": [f"{NAMES[label]}/{index:03d}.jpg" for index, label in enumerate(labels)],
            "label": labels,
            "class_name": [NAMES[label] for label in labels],
            "image": [bytes([index]) * 3 for index in range(50)],
        }
    )


def _counts(rows: pd.DataFrame) -> dict[str, int]:
    return {name: int((rows["class_name"] == name).sum()) for name in NAMES}


def test_sizes_and_contiguity(photos):
    train, validation, class_names, summary = split_dataset(photos, SplitParams(**TFDS_SPLIT))

    assert (len(train), len(validation)) == (45, 5)
    columns = list(photos.columns)
    assert train[columns].equals(photos.iloc[:45].reset_index(drop=True))
    assert validation[columns].equals(photos.iloc[45:].reset_index(drop=True))
    assert list(train.index) == list(range(45))
    assert list(validation.index) == list(range(5))
    assert list(train.columns) == [*columns, "sha256"]
    assert list(train["sha256"]) == [hashlib.sha256(blob).hexdigest() for blob in train["image"]]
    assert not set(train["key"]) & set(validation["key"])
    assert (summary["train"], summary["validation"]) == (45, 5)
    assert summary["slices"] == TFDS_SPLIT


def test_class_names_are_ordered_by_label(photos):
    _, _, class_names, _ = split_dataset(photos, SplitParams(**TFDS_SPLIT))
    assert list(photos["class_name"].drop_duplicates()) != NAMES  # not first-seen order
    assert class_names == NAMES


def test_summary_counts_per_class(photos):
    train, validation, _, summary = split_dataset(photos, SplitParams(**TFDS_SPLIT))
    assert summary["per_class"] == {"train": _counts(train), "validation": _counts(validation)}
    assert summary["per_class"]["train"] == {name: 9 for name in NAMES}
    assert summary["per_class"]["validation"] == {name: 1 for name in NAMES}
    assert all(isinstance(count, int) for part in summary["per_class"].values() for count in part.values())
    assert list(summary["per_class"]["train"]) == NAMES  # keyed in label order


def test_max_examples_keep_the_first_of_each_part(photos):
    split = {**TFDS_SPLIT, "max_train_examples": 7, "max_validation_examples": 2}
    train, validation, class_names, summary = split_dataset(photos, SplitParams(**split))

    assert list(train["key"]) == list(photos["key"][:7])
    assert list(validation["key"]) == list(photos["key"][45:47])
    assert list(validation.index) == [0, 1]
    assert (summary["train"], summary["validation"]) == (7, 2)
    assert summary["per_class"]["validation"] == _counts(validation)
    assert sum(summary["per_class"]["validation"].values()) == 2
    assert 0 in summary["per_class"]["validation"].values()  # absent classes are listed as 0
    assert class_names == NAMES  # from all photos, not from the kept ones


@pytest.mark.parametrize(
    ("limits", "sizes"),
    [
        ({"max_train_examples": None, "max_validation_examples": None}, (45, 5)),
        ({"max_train_examples": 100, "max_validation_examples": 100}, (45, 5)),
        ({"max_validation_examples": 3}, (45, 3)),
        ({"max_train_examples": 3}, (3, 5)),
    ],
)
def test_limits(photos, limits, sizes):
    train, validation, _, summary = split_dataset(photos, SplitParams(**{**TFDS_SPLIT, **limits}))
    assert (len(train), len(validation)) == sizes
    assert (summary["train"], summary["validation"]) == sizes


@pytest.mark.parametrize(
    ("split", "train_keys", "validation_keys"),
    [
        ({"train": "train[:80%]", "validation": "train[80%:]"}, slice(0, 40), slice(40, 50)),
        ({"train": "train[10:30]", "validation": "train[-5:]"}, slice(10, 30), slice(45, 50)),
        ({"train": "train", "validation": "train[:10%]"}, slice(0, 50), slice(0, 5)),
    ],
)
def test_other_slices(photos, split, train_keys, validation_keys):
    train, validation, _, summary = split_dataset(photos, SplitParams(**split))
    assert list(train["key"]) == list(photos["key"][train_keys])
    assert list(validation["key"]) == list(photos["key"][validation_keys])
    assert summary["slices"] == split


def test_rounding_follows_tfds():
    photos = pd.DataFrame(
        {"key": [f"daisy/{i}.jpg" for i in range(45)], "label": 0, "class_name": "daisy", "image": b""}
    )
    train, validation, class_names, _ = split_dataset(photos, SplitParams(**TFDS_SPLIT))
    assert (len(train), len(validation)) == (40, 5)  # 40.5 -> 40, as tfds rounds
    assert class_names == ["daisy"]


def test_input_is_left_alone(photos):
    before = photos.copy()
    split_dataset(photos, SplitParams(**{**TFDS_SPLIT, "max_train_examples": 3}))
    assert photos.equals(before)


def test_bad_slice_is_refused():
    with pytest.raises(ValueError, match="must be a tfds slice such as 'train\\[:90%\\]'"):
        SplitParams(train="first 90%", validation="train[90%:]")
