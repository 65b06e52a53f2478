"""The real tf_flowers photo collection (``../shared/data/flower_photos.tgz``).

Read once per module (about 230 MB, a few seconds); CI has the file, elsewhere the
module is skipped when it is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixres_kedro.datasets import ImageSourceDataset
from fixres_kedro.fixres.tfds_order import tfds_hash
from fixres_kedro.pipelines.data.nodes import split_dataset

from .conftest import TF_FLOWERS_LABELS

ARCHIVE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flower_photos.tgz"
SPLIT = {"train": "train[:90%]", "validation": "train[90%:]"}
# shared/data/README.md
CLASS_COUNTS = {"daisy": 633, "dandelion": 898, "roses": 641, "sunflowers": 699, "tulips": 799}


def _load():
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is not here")
    return ImageSourceDataset(source="archive", path=str(ARCHIVE)).load()


@pytest.fixture(scope="module")
def photos():
    return _load()


@pytest.fixture(scope="module")
def split(photos):
    return split_dataset(photos, SPLIT)


def test_all_photos_are_read(photos):
    assert len(photos) == 3670 == sum(CLASS_COUNTS.values())
    assert photos["key"].is_unique
    assert photos["class_name"].value_counts().to_dict() == CLASS_COUNTS
    assert all(key.endswith(".jpg") for key in photos["key"])
    assert all(image[:2] == b"\xff\xd8" for image in photos["image"])  # JPEG, undecoded
    labels = dict(zip(photos["class_name"], photos["label"]))
    assert labels == {name: label for label, name in enumerate(TF_FLOWERS_LABELS)}


def test_photos_are_in_tfds_order(photos):
    hashes = [tfds_hash(key) for key in photos["key"]]
    assert hashes == sorted(hashes)


def test_split_sizes(split):
    train, validation, class_names, summary = split
    assert (len(train), len(validation)) == (3303, 367)
    assert (summary["train"], summary["validation"]) == (3303, 367)
    assert class_names == TF_FLOWERS_LABELS


def test_parts_are_the_two_ends_of_the_tfds_order(photos, split):
    train, validation, _, _ = split
    assert list(train["key"]) == list(photos["key"][:3303])
    assert list(validation["key"]) == list(photos["key"][3303:])


def test_no_photo_is_in_both_parts(split):
    train, validation, _, _ = split
    assert not set(train["key"]) & set(validation["key"])
    assert len(set(train["key"]) | set(validation["key"])) == 3670


def test_every_class_is_in_both_parts(split):
    train, validation, class_names, summary = split
    for part, rows in (("train", train), ("validation", validation)):
        assert set(rows["class_name"]) == set(CLASS_COUNTS), part
        assert all(count > 0 for count in summary["per_class"][part].values()), part
        assert summary["per_class"][part] == rows["class_name"].value_counts().to_dict()
    totals = {
        name: summary["per_class"]["train"][name] + summary["per_class"]["validation"][name]
        for name in class_names
    }
    assert totals == CLASS_COUNTS


def test_loading_and_splitting_again_gives_the_same_order(split):
    train, validation, class_names, summary = split
    again_train, again_validation, again_names, again_summary = split_dataset(_load(), SPLIT)
    assert list(again_train["key"]) == list(train["key"])
    assert list(again_validation["key"]) == list(validation["key"])
    assert list(again_train["label"]) == list(train["label"])
    assert again_names == class_names
    assert again_summary == summary
