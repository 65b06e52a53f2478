"""DecodedSplitDataset: a split's Parquet file read back with its photos decoded, once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io.core import DatasetError
from kedro_datasets.pandas import ParquetDataset

from fixres_kedro.datasets import DecodedSplitDataset
from fixres_kedro.datasets import decoded_split as module
from fixres_kedro.errors import DataSourceError
from fixres_kedro.fixres.dataset import ImageBatches, make_dataset
from fixres_kedro.fixres.preprocessing import InputPipeline
from fixres_kedro.fixres.photos import decode_split
from fixres_kedro.fixres.photos import decode_photo
from fixres_kedro.protocol import MODELS

from .conftest import jpeg_bytes

PROJECT = Path(__file__).resolve().parents[2]
COLUMNS = ["key", "label", "class_name", "image"]


def _split(count: int, first_seed: int = 1) -> pd.DataFrame:
    """A split as ``split_dataset`` makes it: key, label, class_name, encoded image."""
    return pd.DataFrame({
        "key": [f"daisy/{i}.jpg" for i in range(count)],
        "label": np.arange(count) % 5,
        "class_name": ["daisy"] * count,
        "image": [jpeg_bytes(first_seed + i, size=(6 + i % 4, 5 + i % 3)) for i in range(count)],
    })


@pytest.fixture(autouse=True)
def _fresh_cache():
    module.clear_cache()
    yield
    module.clear_cache()


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A 23-row split written through the catalog's ``@bytes`` dataset type."""
    split = _split(23)
    path = tmp_path / "train_split.parquet"
    ParquetDataset(filepath=str(path)).save(split)
    return path, split


def test_load_decodes_every_photo_as_decode_photo_does(written):
    path, split = written
    # batch_rows 5: several row batches, the last one short.
    loaded = DecodedSplitDataset(filepath=str(path), workers=2, batch_rows=5).load()
    assert list(loaded.columns) == COLUMNS
    assert len(loaded) == len(split)
    pd.testing.assert_frame_equal(loaded.drop(columns="image"), split.drop(columns="image"))
    for image, blob in zip(loaded["image"], split["image"]):
        expected = decode_photo(blob)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        np.testing.assert_array_equal(image, expected)


def test_a_second_load_reuses_the_decoded_arrays(written, monkeypatch):
    path, _ = written
    first = DecodedSplitDataset(filepath=str(path)).load()

    def refuse(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(module.DecodedSplitDataset, "_read", refuse)
    # Another dataset object (another node's load), another spelling of the same path.
    again = DecodedSplitDataset(filepath=str(path.parent / "." / path.name)).load()
    assert again is not first  # a new frame: a node may add columns without harm
    assert all(a is b for a, b in zip(again["image"], first["image"]))


def test_the_two_last_splits_stay_decoded(tmp_path, monkeypatch):
    paths = []
    for name, seed in (("train", 1), ("validation", 100), ("other", 200)):
        path = tmp_path / f"{name}.parquet"
        ParquetDataset(filepath=str(path)).save(_split(4, seed))
        paths.append(path)
    reads = []
    original = module.DecodedSplitDataset._read

    def counting(self, resolved):
        reads.append(Path(resolved).name)
        return original(self, resolved)

    monkeypatch.setattr(module.DecodedSplitDataset, "_read", counting)
    train, validation, other = (DecodedSplitDataset(filepath=str(p)) for p in paths)
    train.load(), validation.load(), validation.load(), train.load()
    assert reads == ["train.parquet", "validation.parquet"]
    other.load(), train.load()  # validation was the least recently used: train stays
    assert reads == ["train.parquet", "validation.parquet", "other.parquet"]
    validation.load()
    assert reads[-1] == "validation.parquet"


def test_a_rewritten_file_is_read_again(written):
    path, _ = written
    dataset = DecodedSplitDataset(filepath=str(path))
    before = dataset.load()
    changed = _split(7, first_seed=500)
    ParquetDataset(filepath=str(path)).save(changed)
    stat = path.stat()  # make sure the key changes even on a coarse-mtime file system
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = dataset.load()
    assert len(before) == 23 and len(after) == 7
    for image, blob in zip(after["image"], changed["image"]):
        np.testing.assert_array_equal(image, decode_photo(blob))
    assert len(module.DECODED_SPLITS._kept) == 1  # the stale decode of that path was dropped


def test_an_undecodable_photo_stops_with_its_position(tmp_path):
    split = _split(9)
    split.loc[6, "image"] = b"not a photo"
    path = tmp_path / "validation_split.parquet"
    ParquetDataset(filepath=str(path)).save(split)
    with pytest.raises(DataSourceError, match=r"photo 6 of the split .*validation_split\.parquet \(9 photos\)"):
        DecodedSplitDataset(filepath=str(path), batch_rows=4).load()
    assert not module.DECODED_SPLITS._kept


def test_save_is_refused_and_describe_names_the_file(tmp_path):
    dataset = DecodedSplitDataset(filepath=str(tmp_path / "train_split.parquet"))
    with pytest.raises(DatasetError, match=r"read-only.*train_split@bytes"):
        dataset.save(_split(2))
    assert not dataset.exists()
    assert "train_split.parquet" in str(dataset)
    with pytest.raises(DatasetError, match="no such split file"):
        dataset.load()


def test_decoded_images_pass_through_decode_split_and_image_batches(written):
    path, split = written
    loaded = DecodedSplitDataset(filepath=str(path)).load()
    images = decode_split(list(loaded["image"]))
    assert all(a is b for a, b in zip(images, loaded["image"]))  # not copied
    pipeline = InputPipeline(name="t", recipe="initial", image_size=16, batch_size=8)
    from_decoded = make_dataset(loaded, pipeline, train=True)
    from_bytes = make_dataset(split, pipeline, train=True)
    assert all(a is b for a, b in zip(from_decoded.images, loaded["image"]))
    for index in range(len(from_decoded)):
        np.testing.assert_array_equal(from_decoded[index][0], from_bytes[index][0])
        np.testing.assert_array_equal(from_decoded[index][1], from_bytes[index][1])
    with pytest.raises(ValueError, match="mixes"):
        decode_split([loaded["image"][0], split["image"][1]])


# --- the catalog wiring -------------------------------------------------------------


def _catalog() -> dict:
    return yaml.safe_load((PROJECT / "conf" / "base" / "catalog.yml").read_text())


@pytest.mark.parametrize("split", ["train_split", "validation_split"])
def test_catalog_reads_and_writes_the_same_file_two_ways(split):
    catalog = _catalog()
    assert split not in catalog
    encoded, decoded = catalog[f"{split}@bytes"], catalog[f"{split}@decoded"]
    assert encoded["type"] == "fixres_kedro.datasets.SplitDataset"  # atomic, with its digest
    assert decoded["type"] == "fixres_kedro.datasets.DecodedSplitDataset"
    assert encoded["filepath"] == decoded["filepath"] == f"${{globals:data_root}}/02_intermediate/{split}.parquet"
    for entry in (encoded, decoded):
        assert entry["metadata"]["kedro-viz"] == {"layer": "intermediate", "preview": False}


def test_fixres_nodes_read_the_decoded_splits_and_split_dataset_writes_bytes():
    from kedro.framework.project import configure_project  # noqa: PLC0415

    from fixres_kedro.pipeline_registry import register_pipelines  # noqa: PLC0415

    configure_project("fixres_kedro")
    pipelines = register_pipelines()
    for name, pipeline in pipelines.items():
        read = {i for n in pipeline.nodes for i in n.inputs if "_split" in i and i != "params:data.split"}
        assert read <= {"train_split@decoded", "validation_split@decoded"}, name
    fixres = pipelines["fixres"]
    writer = next(n for n in fixres.nodes if n.name == "split_dataset")
    assert {"train_split@bytes", "validation_split@bytes"} <= set(writer.outputs)
    readers = {n.name for n in fixres.nodes if {"train_split@decoded", "validation_split@decoded"} & set(n.inputs)}
    assert readers == {
        *(f"{model}.visualize_dataset" for model in MODELS),
        *(f"{model}.evaluate_model" for model in MODELS),
        "initial.train_model", "vanilla.train_model", "finetune.finetune_model",
    }
    # Every reader runs after the split is written (Kedro orders transcoded datasets).
    order = [n.name for n in fixres.nodes]
    assert all(order.index("split_dataset") < order.index(r) for r in readers)


def test_visualize_dataset_draws_the_same_grid_from_decoded_photos(written):
    from fixres_kedro.parameters import RuntimeParams  # noqa: PLC0415
    from fixres_kedro.pipelines.training.nodes import visualize_dataset  # noqa: PLC0415

    path, split = written
    loaded = DecodedSplitDataset(filepath=str(path)).load()
    pipeline = InputPipeline(name="initial", recipe="initial", image_size=16, batch_size=8, seed=3)
    runtime = RuntimeParams(workers=1)
    figure = visualize_dataset(loaded, ["daisy"] * 5, pipeline, runtime)
    figure_bytes = visualize_dataset(split, ["daisy"] * 5, pipeline, runtime)
    drawn = [axis.images[0].get_array() for axis in figure.axes if axis.images]
    drawn_bytes = [axis.images[0].get_array() for axis in figure_bytes.axes if axis.images]
    assert len(drawn) == len(split) == 23
    for got, want in zip(drawn, drawn_bytes):
        np.testing.assert_array_equal(got, want)
