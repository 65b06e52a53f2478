"""``--env example``'s batches are the keras.io page's: its ``make_dataset`` done with
tf.data (``map``, ``batch(32)``, then for training ``shuffle(32 * 10)``) on tfds' own split.

TensorFlow only (skipped without tensorflow-datasets and TensorFlow). tfds builds
tf_flowers offline from a small synthetic ``flower_photos.tgz`` (its one download
patched to that archive, as in ``test_tfds_parity.py``): 400 photos, so ``train[:90%]``
has 12 batches of 32 (the last one short) and ``train[90%:]`` 2. The project reads the
same archive, splits it with the data pipeline's node and batches it with the example
environment's parameters, read through Kedro's config loader.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

tfds = pytest.importorskip("tensorflow_datasets")
tf = pytest.importorskip("tensorflow")

from tests.datasets.conftest import jpeg_bytes, write_archive  # noqa: E402

CONF = Path(__file__).resolve().parents[2] / "conf"
PHOTOS_PER_CLASS = {"daisy": 73, "dandelion": 88, "roses": 79, "sunflowers": 76, "tulips": 84}
BATCH = 32  # the page's batch_size
EPOCHS = 3


def _digest(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    photos, seed = {}, 0
    for class_name, count in PHOTOS_PER_CLASS.items():
        for index in range(count):
            seed += 1
            photos[f"flower_photos/{class_name}/{5000 + 31 * seed}_{index:03d}_n.jpg"] = jpeg_bytes(seed)
    assert sum(PHOTOS_PER_CLASS.values()) == len(set(photos.values())) == 400
    return write_archive(tmp_path_factory.mktemp("download") / "flower_photos.tgz", photos)


@pytest.fixture(scope="module")
def builder(archive, tmp_path_factory):
    """tf_flowers prepared by tfds from the synthetic archive."""
    def download(self, url_or_urls):
        assert str(url_or_urls).endswith("/flower_photos.tgz")
        return os.fspath(archive)

    flowers = tfds.builder("tf_flowers", data_dir=os.fspath(tmp_path_factory.mktemp("tensorflow_datasets")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tfds.download.DownloadManager, "download", download)
        flowers.download_and_prepare(download_config=tfds.download.DownloadConfig(
            try_download_gcs=False, compute_stats=tfds.download.ComputeStatsMode.SKIP))
    return flowers


@pytest.fixture(scope="module")
def params():
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415

    from fixres_kedro.parameters import ExperimentParameters  # noqa: PLC0415
    from fixres_kedro.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    return ExperimentParameters(**OmegaConfigLoader(str(CONF), env="example", **args)["parameters"])


@pytest.fixture(scope="module")
def split(archive, params):
    """The project's split of the same archive (the data pipeline's node), in tfds' order."""
    from fixres_kedro.datasets import ImageSourceDataset  # noqa: PLC0415
    from fixres_kedro.pipelines.data.nodes import split_dataset  # noqa: PLC0415

    photos = ImageSourceDataset(source="archive", path=os.fspath(archive)).load()
    train, validation, _, _ = split_dataset(photos, params.data.split)
    return {"train": train, "validation": validation}


def _page_batches(builder, spec: str, train: bool):
    """The page's make_dataset with tf.data, keyed by photo (composition only: the map is
    the identity here, as the pixels do not change which photos a batch holds)."""
    dataset = builder.as_dataset(split=spec, shuffle_files=False, as_supervised=True,
                                 decoders={"image": tfds.decode.SkipDecoding()})
    dataset = dataset.map(lambda x, y: (x, y), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(BATCH)
    if train:
        dataset = dataset.shuffle(BATCH * 10)
    return dataset


def _keyed(dataset) -> list[list[tuple[int, str]]]:
    """One pass (epoch) over ``dataset``: each batch's (label, sha256) in its order."""
    return [[(int(label), _digest(bytes(image))) for image, label in zip(images, labels)]
            for images, labels in dataset.as_numpy_iterator()]


def _ours(split, pipeline, train: bool):
    from fixres_kedro.fixres.dataset import make_dataset  # noqa: PLC0415

    part = split["train" if train else "validation"]
    keys = list(zip(part["label"].astype(int), part["sha256"]))
    batches = make_dataset(part, pipeline, train=train, workers=1)
    return batches, lambda: [[keys[i] for i in chosen] for chosen in batches.batches]


@pytest.mark.parametrize("run", ["initial", "finetune", "vanilla"])
def test_example_training_batches_are_the_pages(builder, params, split, run):
    from fixres_kedro.pipelines.training.nodes import define_input_pipeline  # noqa: PLC0415

    theirs_in_order = _keyed(builder.as_dataset(split=params.data.split.train, shuffle_files=False,
                                                as_supervised=True,
                                                decoders={"image": tfds.decode.SkipDecoding()}).batch(BATCH))
    page = _page_batches(builder, params.data.split.train, train=True)
    position = {frozenset(batch): index for index, batch in enumerate(theirs_in_order)}
    expected = set(position)
    assert len(theirs_in_order) == len(expected) == 12 and len(theirs_in_order[-1]) == 360 - 11 * BATCH
    train = split["train"]  # the project's split is tfds' split in tfds' order
    assert [key for batch in theirs_in_order for key in batch] == list(zip(train["label"].astype(int), train["sha256"]))
    pipeline = define_input_pipeline(getattr(params, run).dataset, params.seed)
    batches, epoch_batches = _ours(split, pipeline, train=True)
    orders = []
    for epoch in range(EPOCHS):
        theirs = [frozenset(batch) for batch in _keyed(page)]
        batches.set_epoch(epoch)
        ours = [frozenset(batch) for batch in epoch_batches()]
        # The same 32 photos in each batch, every batch once an epoch, in both.
        assert len(theirs) == len(set(theirs)) == len(expected) and set(theirs) == expected
        assert len(ours) == len(set(ours)) == len(expected) and set(ours) == expected, epoch
        orders.append(tuple(position[batch] for batch in ours))
    assert len(set(orders)) > 1  # the order of the batches changes between epochs
    # shuffle(320) holds all 12 batches at once: any batch may come first or last.
    firsts, lasts = set(), set()
    for epoch in range(300):
        batches.set_epoch(epoch)
        firsts.add(frozenset(epoch_batches()[0]))
        lasts.add(frozenset(epoch_batches()[-1]))
    assert firsts == lasts == expected


@pytest.mark.parametrize("run", ["initial", "finetune", "vanilla"])
def test_example_validation_batches_are_the_pages_in_order(builder, params, split, run):
    from fixres_kedro.pipelines.training.nodes import define_input_pipeline  # noqa: PLC0415

    pipeline = define_input_pipeline(getattr(params, run).dataset, params.seed)
    batches, epoch_batches = _ours(split, pipeline, train=False)
    theirs = _keyed(_page_batches(builder, params.data.split.validation, train=False))
    assert [len(batch) for batch in theirs] == [BATCH, 40 - BATCH]
    for epoch in range(2):
        batches.set_epoch(epoch)
        assert epoch_batches() == theirs, epoch
