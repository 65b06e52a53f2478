"""InputPipeline recipes, ImageBatches ordering and determinism, photo decoding."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pydantic import ValidationError

from fixres_kedro.fixres.dataset import ImageBatches, make_dataset
from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.fixres.photos import decode_photo

N_IMAGES = 20
BATCH = 6
SIZE = 32
COLOUR_STEP = 12  # image i is a flat image of value i * 12 (0 ... 228)


def _sizes(count: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(0)
    return [(int(rng.integers(20, 61)), int(rng.integers(30, 51))) for _ in range(count)]


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Flat images whose value encodes their label (label i has value i * 12)."""
    return [
        np.full((h, w, 3), i * COLOUR_STEP, dtype=np.uint8)
        for i, (h, w) in enumerate(_sizes(N_IMAGES))
    ]


LABELS = np.arange(N_IMAGES)


def _pipeline(shuffle: str = "examples", recipe: str = "initial", **kwargs) -> InputPipeline:
    spec = dict(name="test", recipe=recipe, image_size=SIZE, batch_size=BATCH, shuffle=shuffle,
                seed=42)
    if recipe == "finetune":
        spec["train_image_size"] = 24
    spec.update(kwargs)
    return InputPipeline(**spec)


def _epoch_labels(batches: ImageBatches) -> list[list[int]]:
    return [batches[i][1].tolist() for i in range(len(batches))]


def _decoded_labels(inputs: np.ndarray) -> list[int]:
    """Recover each input's label from its (flat) colour."""
    labels = []
    for image in inputs:
        value = float(image.mean())
        np.testing.assert_allclose(image, value, atol=1e-3)  # still a flat image
        labels.append(int(round(value / COLOUR_STEP)))
        assert abs(value - labels[-1] * COLOUR_STEP) < 1e-3
    return labels


# ----------------------------------------------------------------- ImageBatches


@pytest.mark.parametrize("recipe", ["initial", "finetune"])
@pytest.mark.parametrize("train", [True, False])
def test_batches_shapes_dtypes_and_labels(images, recipe, train):
    batches = ImageBatches(images, LABELS, _pipeline(recipe=recipe), train=train)
    assert len(batches) == math.ceil(N_IMAGES / BATCH) == 4
    for index in range(len(batches)):
        inputs, labels = batches[index]
        expected = min(BATCH, N_IMAGES - index * BATCH)
        assert inputs.shape == (expected, SIZE, SIZE, 3)
        assert inputs.dtype == np.float32
        assert labels.shape == (expected,)
        assert labels.dtype == np.int32
        # The labels belong to the images actually in the batch.
        assert _decoded_labels(inputs) == labels.tolist()


def test_batches_index_out_of_range(images):
    batches = ImageBatches(images, LABELS, _pipeline(), train=True)
    with pytest.raises(IndexError):
        batches[len(batches)]
    with pytest.raises(IndexError):
        batches[-1]


def test_batches_reject_bad_splits(images):
    with pytest.raises(ValueError, match="labels"):
        ImageBatches(images, LABELS[:-1], _pipeline(), train=True)
    with pytest.raises(ValueError, match="empty"):
        ImageBatches([], np.array([], dtype=int), _pipeline(), train=True)


@pytest.mark.parametrize("shuffle", ["examples", "batches", "none"])
def test_batches_are_deterministic_in_any_read_order(shuffle):
    rng = np.random.default_rng(5)
    photos = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in _sizes(N_IMAGES)]
    pipeline = _pipeline(shuffle)
    for epoch in (0, 3):
        first = ImageBatches(photos, LABELS, pipeline, train=True, epoch=epoch)
        second = ImageBatches(photos, LABELS, pipeline, train=True)
        second.set_epoch(epoch)
        forward = [first[i] for i in range(len(first))]
        backward = {i: second[i] for i in reversed(range(len(second)))}
        for i, (inputs, labels) in enumerate(forward):
            np.testing.assert_array_equal(inputs, backward[i][0])
            np.testing.assert_array_equal(labels, backward[i][1])
        # Reading a batch again gives the same random crops.
        np.testing.assert_array_equal(first[1][0], forward[1][0])


def test_batches_differ_between_epochs_in_augmentation():
    rng = np.random.default_rng(5)
    photos = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in _sizes(N_IMAGES)]
    batches = ImageBatches(photos, LABELS, _pipeline("none"), train=True)
    epoch0 = batches[0][0]
    batches.on_epoch_end()
    assert batches.epoch == 1
    assert not np.array_equal(epoch0, batches[0][0])  # same photos, new random crops


def test_shuffle_examples_changes_batches_every_epoch(images):
    batches = ImageBatches(images, LABELS, _pipeline("examples"), train=True)
    epochs = []
    for _ in range(3):
        epochs.append(_epoch_labels(batches))
        batches.on_epoch_end()
    assert set(epochs[0][0]) != set(epochs[1][0])
    assert set(epochs[1][0]) != set(epochs[2][0])
    assert epochs[0] != list(map(list, np.array_split(LABELS, 4)))  # not the split order
    # set_epoch and on_epoch_end agree.
    again = ImageBatches(images, LABELS, _pipeline("examples"), train=True)
    again.set_epoch(2)
    assert _epoch_labels(again) == epochs[2]


def test_shuffle_batches_keeps_compositions_and_shuffles_their_order(images):
    batches = ImageBatches(images, LABELS, _pipeline("batches"), train=True)
    split_order = [tuple(range(s, min(s + BATCH, N_IMAGES))) for s in range(0, N_IMAGES, BATCH)]
    orders = []
    for _ in range(5):
        epoch = [tuple(labels) for labels in _epoch_labels(batches)]
        # The example's batches: made once from the split's order, short one included.
        assert sorted(epoch) == sorted(split_order)
        orders.append(epoch)
        batches.on_epoch_end()
    assert orders[0] != orders[1]
    assert len(set(map(tuple, orders))) > 1


@pytest.mark.parametrize(("shuffle", "train"), [("none", True), ("examples", False),
                                                ("batches", False), ("none", False)])
def test_identity_order_without_shuffle_or_for_validation(images, shuffle, train):
    batches = ImageBatches(images, LABELS, _pipeline(shuffle), train=train)
    for _ in range(3):
        flat = [label for labels in _epoch_labels(batches) for label in labels]
        assert flat == list(range(N_IMAGES))
        batches.on_epoch_end()


@pytest.mark.parametrize("shuffle", ["examples", "batches", "none"])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("count", [N_IMAGES, 18, 1, 7])
def test_every_example_once_per_epoch(images, shuffle, train, count):
    batches = ImageBatches(images[:count], LABELS[:count], _pipeline(shuffle), train=train)
    assert len(batches) == math.ceil(count / BATCH)
    for _ in range(4):
        labels = np.concatenate([batches[i][1] for i in range(len(batches))])
        assert sorted(labels.tolist()) == list(range(count))
        assert [len(batches[i][1]) for i in range(len(batches))].count(BATCH) >= len(batches) - 1
        batches.on_epoch_end()


# ----------------------------------------------------------------- InputPipeline


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(recipe="randaugment"), "recipe"),
        (dict(shuffle="sometimes"), "shuffle"),
        (dict(recipe="finetune", image_size=128, train_image_size=224),
         r"train_image_size must be no larger than image_size \(128\)"),
        (dict(recipe="finetune", train_image_size=None), "train_image_size is missing"),
        (dict(area_range=[0.9, 0.1]), "area_range"),
        (dict(workers=2), "workers"),  # a runtime setting, not the recipe's
    ],
)
def test_pipeline_rejects_bad_settings_naming_the_field(kwargs, message):
    spec = dict(name="bad", recipe="initial", image_size=224)
    spec.update(kwargs)
    with pytest.raises(ValidationError, match=message):
        InputPipeline(**spec)


@pytest.mark.parametrize(
    "pipeline",
    [
        InputPipeline(name="initial", recipe="initial", image_size=128, batch_size=16,
                      area_range=[0.1, 0.9], shuffle="batches", seed=3),
        InputPipeline(name="finetune", recipe="finetune", image_size=224, train_image_size=128),
    ],
)
def test_pipeline_json_round_trip(pipeline):
    spec = json.loads(pipeline.model_dump_json())  # as the catalog stores it
    rebuilt = InputPipeline.model_validate(spec)
    assert rebuilt == pipeline
    assert isinstance(rebuilt.area_range, tuple) and isinstance(rebuilt.aspect_ratio_range, tuple)
    if pipeline.recipe == "finetune":
        assert rebuilt.resize_size == 392
    assert "resize_size" not in spec  # derived, not stored


# ----------------------------------------------------------------- decoding


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _photos() -> dict[str, tuple[bytes, np.ndarray, int]]:
    """name: (encoded, expected RGB, tolerance)."""
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (12, 16, 4), dtype=np.uint8)
    indices = rng.integers(0, 4, (12, 16)).astype(np.uint8)
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], np.uint8)
    paletted = Image.fromarray(indices, "P")
    paletted.putpalette(palette.flatten().tolist() + [0] * (768 - palette.size))
    rgb = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return {
        "grayscale jpeg": (
            _encode(Image.fromarray(np.full((12, 16), 100, np.uint8), "L"), "JPEG", quality=95),
            np.full((12, 16, 3), 100, np.uint8), 2),
        "cmyk jpeg": (  # pure magenta + yellow ink: red
            _encode(Image.new("CMYK", (16, 12), (0, 255, 255, 0)), "JPEG", quality=95),
            np.broadcast_to(np.array([255, 0, 0], np.uint8), (12, 16, 3)), 4),
        "rgba png": (_encode(Image.fromarray(rgba, "RGBA"), "PNG"), rgba[..., :3], 0),
        "palette png": (_encode(paletted, "PNG"), palette[indices], 0),
        "rgb png": (_encode(Image.fromarray(rgb, "RGB"), "PNG"), rgb, 0),
    }


@pytest.mark.parametrize("name", list(_photos()))
def test_decode_photo_gives_rgb_uint8(name):
    encoded, expected, tolerance = _photos()[name]
    decoded = decode_photo(encoded)
    assert decoded.shape == (12, 16, 3)
    assert decoded.dtype == np.uint8
    np.testing.assert_allclose(decoded.astype(int), expected.astype(int), atol=tolerance)


@pytest.mark.parametrize("name", list(_photos()))
def test_decode_photo_matches_tf_decode_image(name):
    tf = pytest.importorskip("tensorflow")
    encoded, _, _ = _photos()[name]
    theirs = tf.io.decode_image(encoded, channels=3, expand_animations=False).numpy()
    np.testing.assert_array_equal(decode_photo(encoded), theirs)


def test_make_dataset_decodes_and_batches():
    split = pd.DataFrame({
        "image": [
            _encode(Image.fromarray(np.full((20 + i, 30, 3), i * COLOUR_STEP, np.uint8)), "PNG")
            for i in range(7)
        ],
        "label": np.arange(7),
    })
    batches = make_dataset(split, _pipeline(), train=False)
    assert len(batches) == 2
    inputs, labels = batches[1]
    assert labels.tolist() == [6]
    assert _decoded_labels(inputs) == [6]


# --- shuffle: buffer (the keras-io script's dataset.shuffle(1280)) ------------------------


def test_buffer_shuffle_is_a_permutation_that_never_runs_ahead_of_its_buffer():
    from fixres_kedro.fixres.preprocessing import buffer_shuffle  # noqa: PLC0415

    rng = np.random.default_rng(0)
    for count, size in ((100, 1), (100, 10), (3303, 1280), (50, 500)):
        order = buffer_shuffle(count, size, rng)
        assert sorted(order) == list(range(count))
        # Photo i enters the buffer at step i - size + 1: it cannot come out before.
        assert all(position >= index - size + 1 for position, index in enumerate(order))
    assert list(buffer_shuffle(10, 1, rng)) == list(range(10))  # a buffer of one keeps the order


def test_buffer_shuffle_moves_photos_as_far_as_tf_data_does():
    tf = pytest.importorskip("tensorflow")
    from fixres_kedro.fixres.preprocessing import buffer_shuffle  # noqa: PLC0415

    count, size, repeats = 600, 64, 40
    ours, theirs = [], []
    rng = np.random.default_rng(1)
    for repeat in range(repeats):
        ours.append(buffer_shuffle(count, size, rng))
        theirs.append(np.array(list(tf.data.Dataset.range(count).shuffle(size, seed=repeat).as_numpy_iterator())))
    def displacement(orders):
        return np.mean([np.abs(order - np.arange(count)).mean() for order in orders])
    assert displacement(ours) == pytest.approx(displacement(theirs), rel=0.05)
    first = [order[0] for order in ours], [order[0] for order in theirs]  # the first draw: uniform in the buffer
    assert np.mean(first[0]) == pytest.approx(np.mean(first[1]), abs=8)


def _environment_parameters(env: str):
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415

    from fixres_kedro.parameters import ExperimentParameters  # noqa: PLC0415
    from fixres_kedro.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    conf = str(Path(__file__).resolve().parents[2] / "conf")
    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    return ExperimentParameters(**OmegaConfigLoader(conf, env=env, **args)["parameters"])


@pytest.mark.parametrize(("env", "batch_size", "shuffle"),
                         [("example", 32, "batches"), ("example_script", 128, "buffer")])
def test_the_example_environments_are_the_keras_examples_runs(env, batch_size, shuffle):
    """``example`` is the keras.io page (batch(32), then shuffle(320) of the batches);
    ``example_script`` the keras-io repository's older script (shuffle(1280), batch(128))."""
    params = _environment_parameters(env)
    for run, size, epochs, rate in (("initial", 128, 30, 1e-3), ("finetune", 224, 10, 1e-4),
                                    ("vanilla", 224, 30, 1e-3)):
        dataset, training = getattr(params, run).dataset, getattr(params, run).training
        assert (dataset.batch_size, dataset.shuffle) == (batch_size, shuffle), run
        assert (dataset.image_size, training.epochs, training.learning_rate) == (size, epochs, rate)
        assert (training.optimizer, training.early_stopping_patience) == ("adam", None)
        if shuffle == "buffer":
            assert dataset.shuffle_buffer == 1280
    assert params.finetune.dataset.resize_size == 392 and params.finetune.training.variant == "example"
    for run in (params.initial, params.vanilla):
        assert run.dataset.recipe == "initial"
        # tf.image.sample_distorted_bounding_box: the page's area range, TF's default ratios.
        assert (run.dataset.area_range, run.dataset.aspect_ratio_range) == ((0.05, 1.0), (0.75, 1.33))
    assert params.model.backbone == "resnet50v2"
    assert (params.data.split.train, params.data.split.validation) == ("train[:90%]", "train[90%:]")
    assert (params.data.split.max_train_examples, params.data.split.max_validation_examples) == (None, None)
