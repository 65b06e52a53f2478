"""``tfds_order``: tfds' split slicing, sharding and read order, checked against tfds itself.

Pure and fast: where tensorflow-datasets is installed, its own functions (no TensorFlow
needed) are compared with ours; ``tests/datasets/test_tfds_parity.py`` checks the whole
read order against tfds and tf.data themselves.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fixres_kedro.datasets.photo_source.tfds_order import (
    FileInstruction,
    file_instructions,
    interleave_order,
    number_of_shards,
    read_order,
    shard_boundaries,
    slice_bounds,
    tf_flowers_example_size,
    tfds_hash,
    tfds_order,
)

MiB = 1 << 20
GiB = 1 << 30

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


# --- tf_flowers_example_size ---------------------------------------------------------

TF_FLOWERS_NAMES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
# Photo lengths where a protobuf length prefix grows by a byte (2**7, 2**14, 2**21 less
# the bytes the enclosing messages add), and ordinary ones.
IMAGE_SIZES = [0, 1, 80, 100, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 7019,
               16_374, 16_375, 16_376, 16_377, 16_378, 16_379, 16_380, 16_383, 16_384, 65_536,
               281_953, 2_097_100, 2_097_108, 2_097_109, 2_097_112, 2_097_113, 2_097_152, 3 * MiB]


def test_example_size_by_hand():
    # Example{features{feature{"image": bytes_list{""}}, feature{"label": int64_list{0}}}}
    assert tf_flowers_example_size(0, 0) == 33
    # From 16 KiB to just under 2 MiB every length prefix takes 3 bytes.
    for size in (16_384, 100_000, 281_953, 2_097_112):
        assert tf_flowers_example_size(size, 4) == size + 43
    assert tf_flowers_example_size(2_097_113, 4) == 2_097_113 + 44
    # Labels take one byte up to 127.
    assert tf_flowers_example_size(500, 127) + 1 == tf_flowers_example_size(500, 128)


def test_example_size_grows_with_the_photo():
    sizes = [tf_flowers_example_size(size, 1) for size in range(0, 20_000)]
    assert all(later > earlier for earlier, later in zip(sizes, sizes[1:]))


@pytest.mark.parametrize("bad", [(-1, 0), (10, -1)])
def test_example_size_refuses_negative_values(bad):
    with pytest.raises(ValueError, match="not negative"):
        tf_flowers_example_size(*bad)


def test_example_size_matches_tfds_serializer():
    """What tfds' ExampleSerializer writes for tf_flowers' features (no TensorFlow needed)."""
    pytest.importorskip("tensorflow_datasets")
    from tensorflow_datasets.core import example_serializer, features  # noqa: PLC0415

    flowers = features.FeaturesDict(
        {"image": features.Image(), "label": features.ClassLabel(names=TF_FLOWERS_NAMES)}
    )
    assert set(flowers.get_serialized_info()) == {"image", "label"}  # nothing else is stored
    serializer = example_serializer.ExampleSerializer(flowers.get_serialized_info())
    for size in IMAGE_SIZES:
        for label, name in enumerate(TF_FLOWERS_NAMES):
            encoded = flowers.encode_example({"image": b"\xff" * size, "label": name})
            assert len(serializer.serialize_example(encoded)) == tf_flowers_example_size(size, label), (size, name)


# --- number_of_shards ---------------------------------------------------------------------

FRAMING = 16  # bytes per TFRecord record, counted towards the shard size


@pytest.mark.parametrize(
    ("num_examples", "serialized_bytes", "expected"),
    [
        # tf_flowers as the real archive gives it (tests/datasets/test_tfds_parity.py).
        (3670, 232_609_257, 2),
        # T = bytes + 16 per example; 2 shards from T = 128 MiB, 4 from 256 MiB.
        (3670, 128 * MiB - 3670 * FRAMING - 1, 1),
        (3670, 128 * MiB - 3670 * FRAMING, 2),
        (3670, 128 * MiB - 1, 2),  # the framing alone lifts it over
        (3670, 192 * MiB, 2),  # three times 64 MiB: still 2, only powers of two
        (3670, 256 * MiB - 3670 * FRAMING - 1, 2),
        (3670, 256 * MiB - 3670 * FRAMING, 4),
        (3670, 512 * MiB, 8),
        (3670, 1 * GiB, 16),
        (100_000, 32 * GiB, 512),
        (100_000, 64 * GiB, 1024),
        (100_000, 70 * GiB, 1024),
        (100_000, 1025 * GiB, 2048),
        (100_000, 2049 * GiB, 3072),
        # Never more shards than examples, and then tfds falls back to ONE shard.
        (2, 1 * GiB, 2),
        (3, 10 * GiB, 1),  # 2, 4 and 8 < T // 1 GiB = 10, 16 > 3 examples: none fits
        (2, 10 * GiB, 1),
        (1, 1 * GiB, 1),
        (1000, 64 * GiB, 512),  # 1024 would need 1024 examples
        (0, 0, 1),
        (45, 400_000, 1),  # the synthetic 45-photo archive of tests/datasets
    ],
)
def test_number_of_shards(num_examples, serialized_bytes, expected):
    assert number_of_shards(num_examples, serialized_bytes) == expected


def test_number_of_shards_refuses_what_tfds_never_finishes():
    with pytest.raises(ValueError, match="cannot shard"):
        number_of_shards(2000, 1025 * GiB)


def test_number_of_shards_matches_tfds():
    shard_utils = pytest.importorskip("tensorflow_datasets.core.utils.shard_utils")
    totals = sorted(
        {
            max(0, round(base * multiple) + delta)
            for base in (64 * MiB, GiB)
            for multiple in (0, 0.5, 1, 1.5, 2, 3, 4, 7, 8, 9, 16, 31, 32, 64, 100, 511, 512, 1024, 1025)
            for delta in (-1, 0, 1)
        }
    )
    compared = 0
    for num_examples in (1, 2, 3, 7, 8, 100, 1023, 1024, 3670, 5000, 100_000):
        for total in totals:
            if (total + FRAMING * num_examples) // GiB > 1024 and num_examples < 2048:
                continue  # tfds loops forever; see the test above
            expected = shard_utils.ShardConfig().get_number_shards(total, num_examples)
            assert number_of_shards(num_examples, total) == expected, (num_examples, total)
            compared += 1
    assert compared > 500


# --- shard_boundaries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_examples", "num_shards", "expected"),
    [
        (3670, 2, [1835, 3670]),
        (3670, 1, [3670]),
        (3670, 4, [918, 1835, 2752, 3670]),  # 917.5 -> 918, 2752.5 -> 2752
        (5, 2, [2, 5]),  # 2.5 rounds to even
        (7, 2, [4, 7]),  # 3.5 rounds to even
        (7, 4, [2, 4, 5, 7]),
        (3, 3, [1, 2, 3]),
    ],
)
def test_shard_boundaries(num_examples, num_shards, expected):
    assert shard_boundaries(num_examples, num_shards) == expected


@pytest.mark.parametrize(("num_examples", "num_shards"), [(0, 1), (3, 4), (5, 0)])
def test_shard_boundaries_refuses_impossible_shards(num_examples, num_shards):
    with pytest.raises(ValueError):
        shard_boundaries(num_examples, num_shards)


def test_shard_boundaries_match_tfds():
    shard_utils = pytest.importorskip("tensorflow_datasets.core.utils.shard_utils")
    for num_examples in [*range(1, 70), 3669, 3670, 3671, 100_001]:
        for num_shards in (1, 2, 3, 4, 8, 16, 64):
            if num_shards <= num_examples:
                expected = list(shard_utils.get_shard_boundaries(num_examples, num_shards))
                assert shard_boundaries(num_examples, num_shards) == expected


# --- file_instructions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "stop", "shard_lengths", "expected"),
    [
        (0, 3303, [1835, 1835], [(0, 0, 1835), (1, 0, 1468)]),  # tf_flowers train[:90%]
        (3303, 3670, [1835, 1835], [(1, 1468, 367)]),  # train[90%:]
        (0, 3670, [1835, 1835], [(0, 0, 1835), (1, 0, 1835)]),
        (0, 40, [45], [(0, 0, 40)]),
        (10, 90, [25, 25, 25, 25], [(0, 10, 15), (1, 0, 25), (2, 0, 25), (3, 0, 15)]),
        (25, 50, [25, 25, 25, 25], [(1, 0, 25)]),  # exactly one shard
        (24, 26, [25, 25], [(0, 24, 1), (1, 0, 1)]),
        (0, 5, [0, 3, 0, 4], [(1, 0, 3), (3, 0, 2)]),  # empty shards are passed over
        (7, 7, [5, 5], []),
    ],
)
def test_file_instructions(start, stop, shard_lengths, expected):
    assert file_instructions(start, stop, shard_lengths) == [FileInstruction(*row) for row in expected]


def test_file_instructions_match_tfds():
    shard_utils = pytest.importorskip("tensorflow_datasets.core.utils.shard_utils")
    for lengths in ([10], [4, 6], [5, 5, 5], [3, 0, 4, 1], [1835, 1835]):
        count = sum(lengths)
        names = [f"shard-{index}" for index in range(len(lengths))]
        bounds = sorted({0, 1, count // 3, count // 2, count - 1, count, *lengths})
        for start in bounds:
            for stop in bounds:
                if start >= stop:
                    continue
                expected = [
                    (names.index(item.filename), item.skip, item.take)
                    for item in shard_utils.get_file_instructions(start, stop, names, lengths)
                ]
                ours = [(i.shard, i.skip, i.take) for i in file_instructions(start, stop, lengths)]
                assert ours == expected, (lengths, start, stop)


# --- interleave_order --------------------------------------------------------------------


def test_interleave_as_tf_data_documents_it():
    """tf.data.Dataset.interleave's docstring: 5 inputs of 6, cycle_length=2, block_length=4."""
    order = interleave_order([6] * 5, cycle_length=2, block_length=4)
    assert [source + 1 for source, _ in order] == (
        [1] * 4 + [2] * 4 + [1] * 2 + [2] * 2 + [3] * 4 + [4] * 4 + [3] * 2 + [4] * 2 + [5] * 4 + [5] * 2
    )
    for source in range(5):
        assert [element for which, element in order if which == source] == list(range(6))


@pytest.mark.parametrize(
    ("lengths", "cycle_length", "block_length", "expected"),
    [
        # An input that ends exactly at a block's end is found done only on the next
        # visit, which then moves on: input 2 opens one visit later than it could.
        ([2, 4, 3], 2, 2, [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (2, 2)]),
        # Empty inputs take a visit each and give nothing.
        ([0, 3, 0, 2], 2, 2, [(1, 0), (1, 1), (1, 2), (3, 0), (3, 1)]),
        # cycle_length 1 reads the inputs one after the other.
        ([3, 0, 2], 1, 16, [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1)]),
        # One input left: it goes on alone in blocks, the empty slots passed over.
        ([20, 5], 16, 16, [(0, e) for e in range(16)] + [(1, e) for e in range(5)] + [(0, e) for e in range(16, 20)]),
        ([], 16, 16, []),
        ([0], 16, 16, []),
    ],
)
def test_interleave_order(lengths, cycle_length, block_length, expected):
    assert interleave_order(lengths, cycle_length, block_length) == expected


def test_interleave_gives_every_element_once_in_order_within_each_input():
    lengths = [0, 1, 17, 16, 33, 5, 0, 40, 2, 16, 16, 1, 3, 9, 100, 7, 7, 31, 64, 2]  # 20 > 16 slots
    for cycle_length in (1, 2, 3, 16, 32):
        for block_length in (1, 4, 16):
            order = interleave_order(lengths, cycle_length, block_length)
            for source, length in enumerate(lengths):
                assert [e for which, e in order if which == source] == list(range(length))
            assert len(order) == sum(lengths)


@pytest.mark.parametrize("bad", [(0, 16), (16, 0)])
def test_interleave_refuses_empty_cycles_and_blocks(bad):
    with pytest.raises(ValueError, match="positive"):
        interleave_order([3], *bad)


# --- read_order ----------------------------------------------------------------------------

# 3670 examples of 63,000 bytes: T = 231,268,720 bytes, 2 shards of 1835 as tf_flowers.
FLOWERS_LIKE = [63_000] * 3670


def test_read_order_of_tf_flowers_train():
    """Shard 0 whole and shard 1's first 1468, in alternating blocks of 16."""
    expected = []
    for block in range(92):
        expected += range(16 * block, 16 * block + 16)  # shard 0
        expected += range(1835 + 16 * block, min(1835 + 16 * block + 16, 3303))  # shard 1
    expected += range(92 * 16, 1835)  # shard 1 is done after 12 in round 92
    order = read_order(FLOWERS_LIKE, "train[:90%]")
    assert order == expected
    assert order[:16] == list(range(16)) and order[16] == 1835  # where the issue saw it
    assert sorted(order) == list(range(3303))


def test_read_order_of_tf_flowers_validation_is_the_stored_order():
    assert read_order(FLOWERS_LIKE, "train[90%:]") == list(range(3303, 3670))


def test_read_order_of_the_whole_split_alternates_to_the_end():
    order = read_order(FLOWERS_LIKE, "train")
    expected = []
    for block in range(115):  # 1835 = 114 * 16 + 11
        expected += range(16 * block, min(16 * block + 16, 1835))
        expected += range(1835 + 16 * block, min(1835 + 16 * block + 16, 3670))
    assert order == expected


def test_read_order_of_one_shard_is_the_stored_order():
    sizes = [10_000] * 45  # the synthetic archive: far below 128 MiB
    assert read_order(sizes, "train[:90%]") == list(range(40))
    assert read_order(sizes, "train[90%:]") == list(range(40, 45))


def test_read_order_of_a_partial_slice_over_four_shards():
    sizes = [3 * MiB] * 100  # T just over 300 MiB: 4 shards of 25
    assert number_of_shards(100, sum(sizes)) == 4
    expected = [
        *range(10, 25),  # shard 0 after skipping 10: 15 < 16, so its block ends early
        *range(25, 41),  # shard 1, one block
        *range(50, 66),  # shard 2
        *range(75, 90),  # shard 3, 15 taken
        *range(41, 50),  # shards 1 and 2 finish in a second round
        *range(66, 75),
    ]
    assert read_order(sizes, "train[10%:90%]") == expected
    assert read_order(sizes, "train[10%:90%]", cycle_length=1) == list(range(10, 90))


def test_read_order_uses_only_the_total_size():
    uneven = [1] * 3669 + [sum(FLOWERS_LIKE) - 3669]
    assert read_order(uneven, "train[:90%]") == read_order(FLOWERS_LIKE, "train[:90%]")


@pytest.mark.parametrize("spec", ["train[:10%]", "train[10%:60%]", "train[50%:]", "train[1800:1900]", "train[-5:]"])
def test_read_order_reads_the_slice_once(spec):
    _, start, stop = slice_bounds(spec, len(FLOWERS_LIKE))
    order = read_order(FLOWERS_LIKE, spec)
    assert sorted(order) == list(range(start, stop))


def test_read_order_of_an_empty_slice_or_split():
    assert read_order(FLOWERS_LIKE, "train[5:5]") == []
    assert read_order([], "train[:90%]") == []
    assert read_order([100], "train[90%:]") == []
    assert read_order([100], "train[:90%]") == [0]


def test_read_order_accepts_numpy_sizes():
    import numpy as np  # noqa: PLC0415

    sizes = np.full(3670, 63_000, dtype=np.int64)
    assert read_order(sizes, "train[:90%]") == read_order(FLOWERS_LIKE, "train[:90%]")
