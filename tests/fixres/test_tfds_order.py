"""``tfds_order``: tfds' split slicing and example order, checked against tfds itself."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fixres_kedro.fixres.tfds_order import slice_bounds, tfds_hash, tfds_order

KEYS = [
    "daisy/100080576_f52e8ee070_n.jpg",
    "dandelion/10043234166_e6dd915111_n.jpg",
    "roses/10090824183_d02c613f10_m.jpg",
    "sunflowers/1008566138_6927679c8a.jpg",
    "tulips/10094729603_eeca3f2cb6.jpg",
    "tulips/LICENSE.txt",
    "",
    "Daisy/Ünïcödé photo.jpg",
    "a/b/c.jpg",
]


# --- slice_bounds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "count", "expected"),
    [
        ("train[:90%]", 3670, ("train", 0, 3303)),
        ("train[90%:]", 3670, ("train", 3303, 3670)),
        ("train", 3670, ("train", 0, 3670)),
        ("train[10:20]", 3670, ("train", 10, 20)),
        ("train[10:]", 100, ("train", 10, 100)),
        ("train[:20]", 100, ("train", 0, 20)),
        ("train[-10:]", 100, ("train", 90, 100)),
        ("train[:-10]", 100, ("train", 0, 90)),
        ("train[-20:-10]", 100, ("train", 80, 90)),
        ("train[-10%:]", 3670, ("train", 3303, 3670)),
        ("train[:-10%]", 3670, ("train", 0, 3303)),
        ("train[10%:20%]", 3670, ("train", 367, 734)),
        ("validation[:50%]", 10, ("validation", 0, 5)),
        (" train [ :90% ] ", 3670, ("train", 0, 3303)),
        # Percent bounds round to the closest example, halves to even (Python's round).
        ("train[:90%]", 50, ("train", 0, 45)),
        ("train[:90%]", 45, ("train", 0, 40)),  # 40.5 -> 40
        ("train[:90%]", 5, ("train", 0, 4)),  # 4.5 -> 4
        ("train[:90%]", 15, ("train", 0, 14)),  # 13.5 -> 14
        ("train[90%:]", 15, ("train", 14, 15)),
        ("train[:90%]", 7, ("train", 0, 6)),  # 6.3 -> 6
        ("train[90%:]", 7, ("train", 6, 7)),
        ("train[:90%]", 1, ("train", 0, 1)),  # 0.9 -> 1
        ("train[90%:]", 1, ("train", 1, 1)),
        ("train[:90%]", 0, ("train", 0, 0)),
        ("train[90%:]", 0, ("train", 0, 0)),
    ],
)
def test_slice_bounds(spec, count, expected):
    assert slice_bounds(spec, count) == expected


@pytest.mark.parametrize("count", [0, 1, 2, 5, 9, 10, 11, 45, 50, 99, 3669, 3670, 3671])
def test_slices_partition_the_split(count):
    """train[:p%] and train[p%:] meet exactly: nothing lost, nothing twice."""
    for percent in (1, 10, 33, 50, 67, 90, 99):
        _, train_start, train_stop = slice_bounds(f"train[:{percent}%]", count)
        _, validation_start, validation_stop = slice_bounds(f"train[{percent}%:]", count)
        assert train_start == 0
        assert train_stop == validation_start
        assert validation_stop == count


@pytest.mark.parametrize("spec", ["train[:90.5%]", "train[a:b]", "90%", "train[:90%", "train[::2]", ""])
def test_slice_bounds_rejects_what_it_cannot_parse(spec):
    with pytest.raises(ValueError, match="not a tfds split slice"):
        slice_bounds(spec, 100)


def _tfds_bounds(spec: str, count: int) -> tuple[str, int, int] | None:
    """tfds' own resolution of ``spec`` on a split of ``count`` examples (None if it refuses)."""
    splits = pytest.importorskip("tensorflow_datasets.core.splits")
    try:
        (instruction,) = splits.ReadInstruction.from_spec(spec).to_absolute(
            {"train": SimpleNamespace(num_examples=count)}
        )
    except ValueError:
        return None
    start = 0 if instruction.from_ is None else instruction.from_
    stop = count if instruction.to is None else instruction.to
    return instruction.splitname, start, stop


TFDS_SPECS = [
    "train",
    "train[:90%]",
    "train[90%:]",
    "train[:10%]",
    "train[10%:]",
    "train[10%:20%]",
    "train[33%:67%]",
    "train[:1%]",
    "train[99%:]",
    "train[:0%]",
    "train[0%:]",
    "train[:100%]",
    "train[-10%:]",
    "train[:-10%]",
    "train[-75%:-25%]",
    "train[10:20]",
    "train[2:]",
    "train[:3]",
    "train[-3:]",
    "train[:-1]",
    "train[-5:-2]",
]


@pytest.mark.parametrize("spec", TFDS_SPECS)
def test_slice_bounds_match_tfds(spec):
    compared = 0
    for count in [*range(0, 202), 999, 1000, 1001, 3303, 3669, 3670, 3671, 12345]:
        expected = _tfds_bounds(spec, count)
        if expected is None:  # tfds refuses absolute bounds beyond the split
            continue
        assert slice_bounds(spec, count) == expected, (spec, count)
        compared += 1
    assert compared >= 180


def test_tf_flowers_split_sizes_match_tfds():
    assert _tfds_bounds("train[:90%]", 3670) == ("train", 0, 3303)
    assert _tfds_bounds("train[90%:]", 3670) == ("train", 3303, 3670)


# --- tfds_hash / tfds_order --------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_tfds_hash_matches_tfds_hasher(key):
    hashing = pytest.importorskip("tensorflow_datasets.core.hashing")
    assert tfds_hash(key) == hashing.Hasher("train").hash_key(key)
    assert tfds_hash(key, salt="test") == hashing.Hasher("test").hash_key(key)


def test_tfds_hash_normalises_windows_separators():
    hashing = pytest.importorskip("tensorflow_datasets.core.hashing")
    assert tfds_hash("daisy\\photo.jpg") == tfds_hash("daisy/photo.jpg")
    assert tfds_hash("daisy\\photo.jpg") == hashing.Hasher("train").hash_key("daisy\\photo.jpg")


def test_tfds_hash_is_salted_by_the_split_name():
    assert tfds_hash("daisy/a.jpg", salt="train") != tfds_hash("daisy/a.jpg", salt="test")
    assert 0 <= tfds_hash("daisy/a.jpg") < 2**128


def test_tfds_order_sorts_by_the_tfds_hash():
    hashing = pytest.importorskip("tensorflow_datasets.core.hashing")
    hasher = hashing.Hasher("train")
    order = tfds_order(KEYS)
    assert sorted(order) == list(range(len(KEYS)))
    assert [KEYS[i] for i in order] == sorted(KEYS, key=hasher.hash_key)


def test_tfds_order_without_tfds():
    keys = [f"roses/{i}.jpg" for i in range(20)]
    order = tfds_order(iter(keys))  # any iterable
    assert [tfds_hash(keys[i]) for i in order] == sorted(tfds_hash(key) for key in keys)
    assert tfds_order([]) == []
    assert tfds_order(keys, salt="test") != order
