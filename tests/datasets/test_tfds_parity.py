"""tfds' own tf_flowers, built offline from the whole ``flower_photos.tgz``, read back in
the order ``fixres_kedro.datasets.photo_source.tfds_order.read_order`` gives.

TensorFlow only (skipped without tensorflow-datasets and TensorFlow). The builder runs
once per module under pytest's temporary folder: its one download (the
``flower_photos.tgz`` URL) is the shared archive, everything else (iter_archive, the
features, the md5-keyed shuffling, the sharding, the split slicing, the interleaved
reading) is tfds' real code. The archive was re-packed, so its checksum is not the one
tfds records; with the download patched, no checksum is checked. Without the archive the
build is skipped (the tf.data checks still run).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

tfds = pytest.importorskip("tensorflow_datasets")
tf = pytest.importorskip("tensorflow")

from fixres_kedro.datasets import ImageSourceDataset  # noqa: E402
from fixres_kedro.datasets.photo_source.tfds_order import (  # noqa: E402
    file_instructions,
    interleave_order,
    number_of_shards,
    read_order,
    shard_boundaries,
    tf_flowers_example_size,
)

ARCHIVE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flower_photos.tgz"
SPECS = ["train[:90%]", "train[90%:]", "train"]


def _digest(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


@pytest.fixture(scope="module")
def builder(tmp_path_factory):
    """tf_flowers prepared by tfds from the shared archive (about 6 s on 2 cores)."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is not here")
    requested = []

    def download(self, url_or_urls):
        requested.append(url_or_urls)
        assert str(url_or_urls).endswith("/flower_photos.tgz")
        return os.fspath(ARCHIVE)

    flowers = tfds.builder(
        "tf_flowers", data_dir=os.fspath(tmp_path_factory.mktemp("tensorflow_datasets"))
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfds.download.DownloadManager, "download", download)
        flowers.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                try_download_gcs=False,  # never fetch the prepared dataset instead
                compute_stats=tfds.download.ComputeStatsMode.SKIP,
            )
        )
    assert len(requested) == 1
    return flowers


@pytest.fixture(scope="module")
def photos():
    """The same archive's photos as the project reads them: tfds' stored (hash) order."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is not here")
    return ImageSourceDataset(source="archive", path=os.fspath(ARCHIVE)).load()


@pytest.fixture(scope="module")
def example_sizes(photos):
    return [tf_flowers_example_size(len(image), int(label))
            for image, label in zip(photos["image"], photos["label"])]


def test_shards_are_the_ones_tfds_wrote(builder, example_sizes):
    train = builder.info.splits["train"]
    assert train.num_examples == len(example_sizes) == 3670
    # tfds records the sum of its serialized examples' sizes: ours to the byte.
    assert int(train.num_bytes) == sum(example_sizes) == 232_609_257
    shards = number_of_shards(len(example_sizes), sum(example_sizes))
    ends = shard_boundaries(len(example_sizes), shards)
    assert train.num_shards == shards == 2
    assert list(train.shard_lengths) == [end - start for start, end in zip([0, *ends], ends)]
    assert list(train.shard_lengths) == [1835, 1835]


@pytest.mark.parametrize("spec", SPECS)
def test_file_instructions_are_the_ones_tfds_reads(builder, spec):
    train = builder.info.splits["train"]
    names = [os.fspath(path) for path in train.filepaths]
    (absolute,) = tfds.core.ReadInstruction.from_spec(spec).to_absolute({"train": train})
    start = absolute.from_ or 0
    stop = train.num_examples if absolute.to is None else absolute.to
    theirs = [
        (names.index(os.fspath(item.filename)), item.skip, item.take)
        for item in builder.info.splits[spec].file_instructions
    ]
    ours = [(item.shard, item.skip, item.take)
            for item in file_instructions(start, stop, train.shard_lengths)]
    assert ours == theirs


@pytest.mark.parametrize("spec", SPECS)
def test_read_order_is_the_order_tfds_reads(builder, photos, example_sizes, spec):
    """THE check: ``as_dataset(split=spec, shuffle_files=False)``, example by example."""
    dataset = builder.as_dataset(
        split=spec, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()}
    )
    theirs = [(int(example["label"]), _digest(bytes(example["image"])))
              for example in tfds.as_numpy(dataset)]
    stored = [(int(label), _digest(image)) for label, image in zip(photos["label"], photos["image"])]
    ours = [stored[position] for position in read_order(example_sizes, spec)]

    matched = sum(mine == tfds_example for mine, tfds_example in zip(ours, theirs))
    assert (len(ours), matched) == (len(theirs), len(theirs)), spec
    if spec != "train[90%:]":  # that one lies in shard 1 alone: read in stored order
        assert stored[: len(theirs)] != theirs  # the plain slice is not tfds' order


# tf.data's interleave on synthetic inputs: (lengths, cycle_length, block_length).
INTERLEAVE_CASES = [
    ([6] * 5, 2, 4),  # tf.data's docstring
    ([2, 4, 3], 2, 2),  # ends exactly at a block's end; more inputs than slots
    ([4, 4, 4], 2, 4),
    ([0, 3, 0, 2], 2, 2),  # empty inputs
    ([3, 0, 2], 1, 16),
    ([20, 5], 16, 16),
    ([32, 16, 5], 2, 16),
    ([17, 16, 15, 1, 40], 3, 16),
    ([5, 1, 8, 0, 3, 16, 17, 2, 9], 4, 3),
    ([1835, 1468], 16, 16),  # tf_flowers' train[:90%]
    ([15, 25, 25, 15], 16, 16),
    ([3] * 20, 16, 2),  # more inputs than tfds' 16 slots
]


def _tf_data_order(lengths, cycle_length, block_length):
    """What tfds' reader does with its file instructions, on ranges instead of files."""
    inputs = tf.data.Dataset.from_tensor_slices(
        (tf.range(len(lengths), dtype=tf.int64), tf.constant(lengths, dtype=tf.int64))
    )
    dataset = inputs.interleave(
        lambda source, length: tf.data.Dataset.range(length).map(lambda e: (source, e)),
        cycle_length=cycle_length,
        block_length=block_length,
        num_parallel_calls=tf.data.AUTOTUNE,  # as ReadConfig's default
        deterministic=True,
    )
    return [(int(source), int(element)) for source, element in dataset.as_numpy_iterator()]


@pytest.mark.parametrize(("lengths", "cycle_length", "block_length"), INTERLEAVE_CASES)
def test_interleave_order_is_tf_data_interleave(lengths, cycle_length, block_length):
    assert interleave_order(lengths, cycle_length, block_length) == _tf_data_order(
        lengths, cycle_length, block_length
    )


# --- the project's split and the example's batches --------------------------------------


@pytest.fixture(scope="module")
def split(photos):
    from fixres_kedro.pipelines.data.nodes import split_dataset  # noqa: PLC0415
    from fixres_kedro.parameters import SplitParams  # noqa: PLC0415

    train, validation, _, _ = split_dataset(photos, SplitParams(**{"train": "train[:90%]", "validation": "train[90%:]"}))
    return {"train[:90%]": train, "train[90%:]": validation}


def _tfds_examples(builder, spec: str) -> list[tuple[int, str]]:
    dataset = builder.as_dataset(
        split=spec, shuffle_files=False, decoders={"image": tfds.decode.SkipDecoding()}
    )
    return [(int(example["label"]), _digest(bytes(example["image"]))) for example in tfds.as_numpy(dataset)]


@pytest.mark.parametrize("spec", ["train[:90%]", "train[90%:]"])
def test_the_projects_split_is_tfds_split_in_tfds_order(builder, split, spec):
    """What ``kedro run --pipeline=data`` writes: each part, photo by photo, as
    ``tfds.load("tf_flowers", split=spec)`` yields it."""
    ours = [(int(label), digest) for label, digest in zip(split[spec]["label"], split[spec]["sha256"])]
    assert ours == _tfds_examples(builder, spec)


def test_shuffle_batches_makes_the_examples_batches(builder, split):
    """``shuffle: batches``: the same 32 photos in each of the example's 104 batches
    (``tfds.load(...).batch(32)``; only the order of the batches is shuffled)."""
    from fixres_kedro.fixres.dataset import ImageBatches  # noqa: PLC0415
    from fixres_kedro.fixres.preprocessing import InputPipeline  # noqa: PLC0415

    train = split["train[:90%]"]
    theirs = _tfds_examples(builder, "train[:90%]")
    example_batches = {frozenset(theirs[i : i + 32]) for i in range(0, len(theirs), 32)}
    pipeline = InputPipeline(name="initial", recipe="initial", image_size=32, batch_size=32,
                             shuffle="batches")
    placeholders = [None] * len(train)  # the composition does not need pixels
    batches = ImageBatches(placeholders, train["label"].to_numpy(), pipeline, train=True)
    keyed = list(zip(train["label"].astype(int), train["sha256"]))
    for epoch in (0, 1):
        batches.set_epoch(epoch)
        ours = {frozenset(keyed[i] for i in chosen) for chosen in batches.batches}
        assert len(batches.batches) == 104
        assert ours == example_batches


def test_the_tfds_source_reads_the_stored_order(builder, photos):
    """``data.source=tfds`` gives the rows the archive source gives, in the same order."""
    source = ImageSourceDataset(source="tfds", tfds_data_dir=os.fspath(Path(builder.data_dir).parents[1]))
    rows = source.load()
    assert [_digest(image) for image in rows["image"]] == [_digest(image) for image in photos["image"]]
    assert list(rows["label"]) == list(photos["label"])


def test_the_example_environment_writes_tfds_split(builder, tmp_path):
    """``kedro run --env example --pipeline=data``: the split on disk is tfds' split in
    tfds' order, in the example environment's own data root."""
    import pandas as pd  # noqa: PLC0415
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    from tests.conftest import copy_project  # noqa: PLC0415

    project = copy_project(tmp_path)
    bootstrap_project(project)
    params = {"data": {"source": "archive", "path": os.fspath(ARCHIVE)}}
    with KedroSession.create(project_path=project, env="example", runtime_params=params) as session:
        session.run(pipeline_names=["data"])
    folder = project / "data" / "example" / "02_intermediate"
    for spec, name in (("train[:90%]", "train_split"), ("train[90%:]", "validation_split")):
        written = pd.read_parquet(folder / f"{name}.parquet", columns=["label", "sha256"])
        assert list(zip(written["label"].astype(int), written["sha256"])) == _tfds_examples(builder, spec)
