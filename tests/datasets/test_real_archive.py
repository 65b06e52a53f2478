"""The real tf_flowers photo collection (``../shared/data/flower_photos.tgz``).

Read once per module (about 230 MB, a few seconds); CI has the file, elsewhere the
module is skipped when it is missing.

Every photo is decoded as TensorFlow decodes it, bit for bit: on every backend through
the digest of TF's pixels kept below, and where TensorFlow is installed photo by photo
against ``tf.io.decode_image``; the three validation pipelines then match the Keras
example's TensorFlow ones on the 367 validation photos.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import simplejpeg

from fixres_kedro.datasets import ImageSourceDataset
from fixres_kedro.datasets.photo_source.tfds_order import tfds_hash
from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.fixres.photos import decode_photo, decode_photos
from fixres_kedro.pipelines.data.nodes import split_dataset
from fixres_kedro.parameters import SplitParams

from .conftest import TF_FLOWERS_LABELS

ARCHIVE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flower_photos.tgz"
SPLIT = {"train": "train[:90%]", "validation": "train[90%:]"}
# shared/data/README.md
CLASS_COUNTS = {"daisy": 633, "dandelion": 898, "roses": 641, "sunflowers": 699, "tulips": 799}
# SHA-256 over every photo in tfds order (its shape as int64, then its pixels) of
# tf.io.decode_image(data, channels=3) with TensorFlow 2.21 (libjpeg-turbo 2.1.4).
TF_PIXELS_SHA256 = "822866a3a66631c4921d0cd5f48e8bd3734016d0c17ca9fe2817aff8be45a193"
CHUNK = 256  # photos decoded at a time: all 3670 decoded would hold about 2 GB


def _load():
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is not here")
    return ImageSourceDataset(source="archive", path=str(ARCHIVE)).load()


@pytest.fixture(scope="module")
def photos():
    return _load()


@pytest.fixture(scope="module")
def split(photos):
    return split_dataset(photos, SplitParams(**SPLIT))


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


def test_parts_are_the_two_ends_of_the_tfds_order_read_as_tfds_reads_them(photos, split):
    train, validation, _, _ = split
    # The members of each part: the two ends of the stored (hash) order.
    assert set(train["key"]) == set(photos["key"][:3303])
    assert set(validation["key"]) == set(photos["key"][3303:])
    # Their order: tfds' two shards of 1835 read interleaved in blocks of 16 (the
    # validation part lies in the second shard, so it keeps the stored order).
    assert list(train["key"][:16]) == list(photos["key"][:16])
    assert list(train["key"][16:32]) == list(photos["key"][1835:1851])
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
    again_train, again_validation, again_names, again_summary = split_dataset(_load(), SplitParams(**SPLIT))
    assert list(again_train["key"]) == list(train["key"])
    assert list(again_validation["key"]) == list(validation["key"])
    assert list(again_train["label"]) == list(train["label"])
    assert again_names == class_names
    assert again_summary == summary


# --- decoded as TensorFlow decodes them ------------------------------------------------


def _frame_marker(data: bytes) -> int:
    """The SOFn marker's second byte (0xC0 baseline, 0xC2 progressive, ...)."""
    position = 2
    while not 0xC0 <= data[position + 1] <= 0xCF or data[position + 1] in (0xC4, 0xC8, 0xCC):
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return data[position + 1]


def _update(digest, pixels: np.ndarray) -> None:
    digest.update(np.asarray(pixels.shape, np.int64).tobytes())
    digest.update(np.ascontiguousarray(pixels).tobytes())


def test_every_photo_is_a_baseline_4_4_4_jpeg(photos):
    """The archive's one kind of JPEG (8-bit baseline, YCbCr without chroma subsampling);
    tests/fixres/test_photos.py covers the other kinds."""
    kinds = Counter(
        (_frame_marker(data), *simplejpeg.decode_jpeg_header(data)[2:]) for data in photos["image"]
    )
    assert kinds == {(0xC0, "YCbCr", "444"): 3670}


def test_every_photo_decodes_to_tensorflows_pixels(photos):
    """``decode_photo`` of all 3670 photos hashes to TF's pixels (on any backend); where
    TensorFlow is installed, each photo also equals ``tf.io.decode_image``'s bit for bit,
    and TF's pixels hash to the kept digest."""
    try:
        import tensorflow as tf  # noqa: PLC0415 - optional: the JAX environment has none
    except ImportError:
        tf = None
    images = list(photos["image"])
    ours_digest, tf_digest = hashlib.sha256(), hashlib.sha256()
    different = []
    for start in range(0, len(images), CHUNK):
        chunk = images[start : start + CHUNK]
        for index, (pixels, data) in enumerate(zip(decode_photos(chunk), chunk), start):
            _update(ours_digest, pixels)
            if tf is not None:
                theirs = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
                _update(tf_digest, theirs)
                if not np.array_equal(pixels, theirs):
                    different.append(photos["key"].iloc[index])
    assert different == []
    assert ours_digest.hexdigest() == TF_PIXELS_SHA256
    if tf is not None:
        assert tf_digest.hexdigest() == TF_PIXELS_SHA256


def test_the_validation_pipelines_match_the_keras_examples_on_tensorflow(photos):
    """The three validation pipelines on the 367 validation photos, against the Keras
    example's TensorFlow ops on tfds' decode: ``tf.image.resize`` (bilinear) for initial
    and vanilla; resize to 392 then ``keras.layers.CenterCrop(224, 224)`` for finetune.

    Measured largest differences (0-255 scale): initial 128: 0.0; finetune 224: 0.0060;
    vanilla 224: 0.0078 (float32 rounding of the two resizes). With PIL's decode they were
    17.7, 20.1 and 19.3.
    """
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    validation = photos.iloc[3303:]
    assert len(validation) == 367
    pipelines = {
        "initial": InputPipeline(name="initial", recipe="initial", image_size=128),
        "finetune": InputPipeline(
            name="finetune", recipe="finetune", image_size=224, train_image_size=128
        ),
        "vanilla": InputPipeline(name="vanilla", recipe="initial", image_size=224),
    }
    center_crop = keras.layers.CenterCrop(224, 224)

    def keras_example(name: str, image):
        if name == "finetune":
            return np.asarray(center_crop(tf.image.resize(image, (392, 392))))
        size = pipelines[name].image_size
        return tf.image.resize(image, (size, size)).numpy()

    worst = dict.fromkeys(pipelines, 0.0)
    rng = np.random.default_rng(0)
    for data in validation["image"]:
        ours = decode_photo(data)
        theirs = tf.io.decode_image(data, channels=3, expand_animations=False)
        for name, pipeline in pipelines.items():
            mine = pipeline.preprocess(ours, train=False, rng=rng)
            example = keras_example(name, theirs)
            assert mine.shape == example.shape == (pipeline.image_size, pipeline.image_size, 3)
            worst[name] = max(worst[name], float(np.abs(mine - example).max()))
    assert all(difference <= 0.02 for difference in worst.values()), worst
