"""``KerasModelDataset``: versioned ``.keras`` files holding architecture and weights."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np
import pytest
from kedro.io.core import DatasetError, Version

from fixres_kedro.datasets import KerasModelDataset

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

pytestmark = [pytest.mark.keras, pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)]


def _tiny_model(seed: int = 0) -> keras.Model:
    """Conv2D -> BatchNorm -> pooling -> Dense, compiled and fitted for one step."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)  # non-trainable state too
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(5, name="logits")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(seed)
    images = rng.random((4, 8, 8, 3), dtype=np.float32)
    labels = rng.integers(0, 5, size=4)
    model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def models() -> tuple[keras.Model, keras.Model]:
    return _tiny_model(0), _tiny_model(1)


def _assert_same_weights(actual: keras.Model, expected: keras.Model) -> None:
    actual_weights, expected_weights = actual.get_weights(), expected.get_weights()
    assert len(actual_weights) == len(expected_weights)
    for got, want in zip(actual_weights, expected_weights):
        np.testing.assert_array_equal(got, want)


def _weights_h5_groups(keras_file) -> dict[str, int]:
    """``{top-level group: number of datasets below it}`` of the file's model.weights.h5."""
    with zipfile.ZipFile(keras_file) as archive:
        assert set(archive.namelist()) >= {"config.json", "model.weights.h5"}
        weights = archive.read("model.weights.h5")
    counts = {}
    with h5py.File(io.BytesIO(weights), "r") as file:
        for name, group in file.items():
            found = []
            if isinstance(group, h5py.Group):
                group.visititems(lambda _, item: found.append(isinstance(item, h5py.Dataset)))
            counts[name] = sum(found)
    return counts


def test_versioned_round_trip(tmp_path, models):
    first, second = models
    assert not np.array_equal(first.get_weights()[0], second.get_weights()[0])
    filepath = tmp_path / "06_models" / "initial_model.keras"
    dataset = KerasModelDataset(filepath=str(filepath), version=Version(None, None))
    assert not dataset.exists()

    dataset.save(first)
    dataset.save(second)

    versions = sorted(path.name for path in filepath.iterdir())
    assert len(versions) == 2
    for version in versions:
        assert (filepath / version / "initial_model.keras").is_file()
    assert dataset.exists()

    latest = dataset.load()
    assert isinstance(latest, keras.Model)
    _assert_same_weights(latest, second)
    images = np.random.default_rng(7).random((2, 11, 13, 3), dtype=np.float32)  # any size
    np.testing.assert_allclose(latest.predict(images, verbose=0), second.predict(images, verbose=0))
    assert [layer.name for layer in latest.layers] == [layer.name for layer in second.layers]

    pinned = KerasModelDataset(filepath=str(filepath), version=Version(versions[0], None))
    _assert_same_weights(pinned.load(), first)


def test_saves_architecture_and_weights_but_no_optimizer_state(tmp_path, models):
    model = models[0]
    filepath = tmp_path / "model.keras"
    KerasModelDataset(filepath=str(filepath)).save(model)

    groups = _weights_h5_groups(filepath)
    assert groups["layers"] > 0
    assert groups.get("optimizer", 0) == 0

    # Control: Keras' own save of the same fitted model does carry the optimizer.
    model.save(tmp_path / "with_optimizer.keras")
    assert _weights_h5_groups(tmp_path / "with_optimizer.keras")["optimizer"] > 0
    assert os.path.getsize(filepath) < os.path.getsize(tmp_path / "with_optimizer.keras")

    loaded = KerasModelDataset(filepath=str(filepath)).load()
    _assert_same_weights(loaded, model)
    assert not loaded.compiled  # every training node compiles afresh
    assert model.compiled  # the saved model itself is left as it was


def test_unversioned_round_trip_of_a_sequential_model(tmp_path):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1), keras.layers.GlobalMaxPooling2D()]
    )
    dataset = KerasModelDataset(filepath=str(tmp_path / "nested" / "seq.keras"))
    dataset.save(model)
    loaded = dataset.load()
    assert isinstance(loaded, keras.Sequential)
    _assert_same_weights(loaded, model)


@pytest.mark.parametrize("data", [None, {"weights": [1, 2]}, np.zeros((2, 2)), "model.keras"])
def test_saving_something_else_raises(tmp_path, data):
    dataset = KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, None))
    with pytest.raises(DatasetError):
        dataset.save(data)
    assert not (tmp_path / "model.keras").exists() or not any((tmp_path / "model.keras").iterdir())


def test_saving_a_non_model_names_what_it_got(tmp_path):
    dataset = KerasModelDataset(filepath=str(tmp_path / "model.keras"))
    with pytest.raises(DatasetError, match=r"keras\.Model.*dict"):
        dataset.save({"weights": [1, 2]})


def test_loading_before_saving_raises(tmp_path):
    dataset = KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, None))
    assert not dataset.exists()
    with pytest.raises(DatasetError):
        dataset.load()


def test_describe(tmp_path):
    dataset = KerasModelDataset(filepath=str(tmp_path / "model.keras"), version=Version(None, None))
    description = dataset._describe()
    assert description["protocol"] == "file"
    assert str(description["filepath"]).endswith("model.keras")
    assert description["version"] == Version(None, None)
