"""``ImageSourceDataset``: photos from an archive or a folder, in tfds' order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kedro.io.core import AbstractDataset, DatasetError

from fixres_kedro.datasets import ImageSourceDataset
from fixres_kedro.datasets.photo_source.tfds_order import tfds_hash
from fixres_kedro.errors import DataSourceError
from fixres_kedro.pipelines.data.nodes import split_dataset
from fixres_kedro.parameters import SplitParams

from .conftest import PHOTOS_PER_CLASS, TF_FLOWERS_LABELS, jpeg_bytes

COLUMNS = ["key", "label", "class_name", "image"]
TFDS_SPLIT = {"train": "train[:90%]", "validation": "train[90%:]"}


def _rows(frame):
    return list(frame[COLUMNS].itertuples(index=False, name=None))


def _load(source: str, path) -> object:
    return ImageSourceDataset(source=source, path=os.fspath(path)).load()


# --- what an archive gives -----------------------------------------------------------


def test_archive_rows_are_the_photos_in_tfds_order(flower_archive, flower_photos):
    photos = _load("archive", flower_archive)

    assert list(photos.columns) == COLUMNS
    assert len(photos) == len(flower_photos) == sum(PHOTOS_PER_CLASS.values())
    assert photos["key"].is_unique
    # Keys are tf_flowers' "<class dir>/<file>", sorted by md5("train" + key).
    assert sorted(photos["key"]) == sorted(name.split("/", 1)[1] for name in flower_photos)
    assert list(photos["key"]) == sorted(photos["key"], key=tfds_hash)
    for key, label, class_name, image in _rows(photos):
        assert image == flower_photos[f"flower_photos/{key}"]  # the file's bytes, untouched
        assert isinstance(image, bytes)
        assert class_name == key.split("/")[0]
        assert TF_FLOWERS_LABELS[label] == class_name
    assert photos["class_name"].value_counts().to_dict() == PHOTOS_PER_CLASS


def test_split_equals_tfds_split_of_the_same_archive(flower_archive, tmp_path, monkeypatch):
    """THE check: tfds' own tf_flowers builder, fed the same archive, splits identically."""
    tfds = pytest.importorskip("tensorflow_datasets")

    # Offline: the builder's one download (the flower_photos.tgz URL) is the local file;
    # everything else (iter_archive, the Image and ClassLabel features, the md5-keyed
    # shuffling, the writer, the split slicing) is tfds' real code.
    requested = []

    def download(self, url_or_urls):
        requested.append(url_or_urls)
        assert str(url_or_urls).endswith("/flower_photos.tgz")
        return os.fspath(flower_archive)

    monkeypatch.setattr(tfds.download.DownloadManager, "download", download)
    data_dir = tmp_path / "tensorflow_datasets"
    builder = tfds.builder("tf_flowers", data_dir=os.fspath(data_dir))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            try_download_gcs=False,  # never fetch the prepared dataset instead
            compute_stats=tfds.download.ComputeStatsMode.SKIP,
        )
    )
    assert len(requested) == 1
    assert builder.info.splits["train"].num_examples == 45
    tfds_train, tfds_validation = builder.as_dataset(
        split=[TFDS_SPLIT["train"], TFDS_SPLIT["validation"]],
        shuffle_files=False,
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    theirs = [
        [(int(example["label"]), bytes(example["image"])) for example in tfds.as_numpy(part)]
        for part in (tfds_train, tfds_validation)
    ]

    train, validation, class_names, summary = split_dataset(
        _load("archive", flower_archive), SplitParams(**TFDS_SPLIT)
    )
    ours = [
        [(int(label), bytes(image)) for label, image in zip(part["label"], part["image"])]
        for part in (train, validation)
    ]

    assert [len(part) for part in theirs] == [40, 5]  # 40.5 rounds (to even) to 40
    assert (summary["train"], summary["validation"]) == (40, 5)
    assert ours == theirs  # same photos (bytes are stored unchanged), same order, same labels
    assert class_names == builder.info.features["label"].names == TF_FLOWERS_LABELS


def test_image_folder_gives_the_same_rows_as_the_archive(flower_archive, flower_folder):
    from_archive = _load("archive", flower_archive)
    from_folder = _load("image_folder", flower_folder)
    assert (flower_folder / "LICENSE.txt").is_file()
    assert _rows(from_folder) == _rows(from_archive)


@pytest.mark.parametrize("name", ["flower_photos.zip", "flower_photos.tar", "flower_photos.tar.gz"])
def test_zip_and_tar_give_the_same_rows(make_archive, flower_photos, flower_archive, name):
    other = make_archive(name, flower_photos)
    assert _rows(_load("archive", other)) == _rows(_load("archive", flower_archive))


def test_path_may_start_with_a_tilde(flower_archive, monkeypatch):
    monkeypatch.setenv("HOME", os.fspath(flower_archive.parent))
    photos = _load("archive", "~/flower_photos.tgz")
    assert len(photos) == sum(PHOTOS_PER_CLASS.values())


def test_non_image_files_are_ignored(make_archive, flower_photos, flower_archive):
    extra = {
        "flower_photos/README.md": b"# read me\n",
        "flower_photos/daisy/notes.txt": b"not a photo",
        "flower_photos/roses/.hidden.jpg": jpeg_bytes(999),
        **flower_photos,
    }
    archive = make_archive("with_extras.tgz", extra)
    assert _rows(_load("archive", archive)) == _rows(_load("archive", flower_archive))


def test_class_dirs_keep_their_case_in_keys_and_are_lowercased_as_classes(make_archive):
    members = {
        f"photos/{name.capitalize()}/{name}.jpg": jpeg_bytes(seed)
        for seed, name in enumerate(TF_FLOWERS_LABELS)
    }
    photos = _load("archive", make_archive("cased.tgz", members))
    assert sorted(photos["key"]) == sorted(f"{n.capitalize()}/{n}.jpg" for n in TF_FLOWERS_LABELS)
    assert all(TF_FLOWERS_LABELS[label] == name for label, name in zip(photos["label"], photos["class_name"]))


def test_other_classes_are_labelled_in_sorted_order(make_archive):
    members = {
        f"pets/{class_name}/{index}.png": jpeg_bytes(10 * seed + index)
        for seed, class_name in enumerate(["dogs", "cats", "birds"])
        for index in range(3)
    }
    photos = _load("archive", make_archive("pets.zip", members))
    labels = dict(zip(photos["class_name"], photos["label"]))
    assert labels == {"birds": 0, "cats": 1, "dogs": 2}
    train, validation, class_names, _ = split_dataset(photos, SplitParams(**TFDS_SPLIT))
    assert class_names == ["birds", "cats", "dogs"]
    assert (len(train), len(validation)) == (8, 1)  # 8.1 -> 8


# --- errors: a DataSourceError naming the parameter to fix ---------------------------


def test_unknown_source():
    with pytest.raises(DataSourceError, match=r"data\.source.*'kaggle'"):
        ImageSourceDataset(source="kaggle", path="x.tgz")


@pytest.mark.parametrize("source", ["archive", "image_folder"])
@pytest.mark.parametrize("path", [None, ""])
def test_archive_and_folder_need_a_path(source, path):
    with pytest.raises(DataSourceError, match=rf"data\.path: the {source} source needs a path"):
        ImageSourceDataset(source=source, path=path)


@pytest.mark.parametrize("source", ["archive", "image_folder"])
def test_missing_path(tmp_path, source):
    missing = tmp_path / "nowhere" / "flower_photos.tgz"
    dataset = ImageSourceDataset(source=source, path=os.fspath(missing))
    assert not dataset.exists()
    with pytest.raises(DataSourceError) as error:
        dataset.load()
    assert str(error.value) == f"data.path: {missing} does not exist"


# Another layout (flat, one level too deep): test_bad_input.py, with the other stops.


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({}, id="empty"),
        pytest.param({"flower_photos/LICENSE.txt": b"licence"}, id="no-images"),
    ],
)
@pytest.mark.parametrize("suffix", [".tgz", ".tar", ".zip"])
def test_archive_without_photos(make_archive, members, suffix):
    archive = make_archive(f"empty{suffix}", members)
    with pytest.raises(DataSourceError, match=r"data\.path: no \.jpg/\.jpeg/\.png files in .*empty"):
        _load("archive", archive)


def test_empty_folder(tmp_path):
    (tmp_path / "photos" / "daisy").mkdir(parents=True)
    with pytest.raises(DataSourceError, match=r"data\.path: no \.jpg/\.jpeg/\.png files in"):
        _load("image_folder", tmp_path / "photos")


def test_folder_passed_as_archive(flower_folder):
    with pytest.raises(DataSourceError, match=r"data\.path: .* is a folder; use data\.source=image_folder"):
        _load("archive", flower_folder)


def test_file_passed_as_image_folder(flower_archive):
    with pytest.raises(DataSourceError, match=r"data\.path: .* is not a folder; use data\.source=archive"):
        _load("image_folder", flower_archive)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"these are not photos\n" * 100),
        ("empty.tgz", b""),
        ("photo.jpg", jpeg_bytes(3)),
    ],
)
def test_not_an_archive(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataSourceError, match=rf"data\.path: .*{name} is not a tar or zip archive"):
        _load("archive", path)


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.99])
def test_truncated_archive(flower_archive, tmp_path, fraction):
    """A partial download opens fine and fails while its photos are read."""
    data = flower_archive.read_bytes()
    truncated = tmp_path / "partial.tgz"
    truncated.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(DataSourceError, match=r"data\.path: .*partial\.tgz could not be read"):
        _load("archive", truncated)


def test_damaged_zip_archive(make_archive, flower_photos, tmp_path):
    """Zip checks each member's CRC (a .tgz's is checked only at the very end)."""
    suffix = ".zip"
    data = bytearray(make_archive(f"good{suffix}", flower_photos).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(byte ^ 0x55 for byte in data[middle : middle + 64])
    damaged = tmp_path / f"damaged{suffix}"
    damaged.write_bytes(bytes(data))
    with pytest.raises(DataSourceError, match=r"data\.path: .*damaged.* could not be read"):
        _load("archive", damaged)


def test_errors_are_kedro_dataset_errors():
    """The catalog and ``kedro run`` treat them as dataset errors (one-line reports)."""
    assert issubclass(DataSourceError, DatasetError)


# --- the kedro dataset itself ----------------------------------------------------------


def test_is_read_only(flower_archive):
    dataset = ImageSourceDataset(source="archive", path=os.fspath(flower_archive))
    photos = dataset.load()
    with pytest.raises(DataSourceError, match="read-only"):
        dataset.save(photos)
    assert dataset.load().equals(photos)


def test_describe_and_exists(flower_archive):
    dataset = ImageSourceDataset(source="archive", path=os.fspath(flower_archive))
    assert dataset._describe() == {
        "source": "archive",
        "path": os.fspath(flower_archive),
        "tfds_name": "tf_flowers",
        "max_photo_megabytes": 64,
    }
    assert "source='archive'" in str(dataset)
    assert dataset.exists()
    tfds_dataset = ImageSourceDataset()
    assert tfds_dataset._describe()["source"] == "tfds"
    assert tfds_dataset.exists()  # tfds prepares its data on first load


def test_builds_from_a_catalog_entry(flower_folder):
    dataset = AbstractDataset.from_config(
        "flower_photos",
        {
            "type": "fixres_kedro.datasets.ImageSourceDataset",
            "source": "image_folder",
            "path": os.fspath(flower_folder),
            "metadata": {"kedro-viz": {"layer": "raw"}},
        },
    )
    assert isinstance(dataset, ImageSourceDataset)
    assert dataset.metadata == {"kedro-viz": {"layer": "raw"}}
    assert len(dataset.load()) == sum(PHOTOS_PER_CLASS.values())


def test_the_largest_photo_file_is_a_catalog_argument(flower_folder):
    dataset = AbstractDataset.from_config(
        "flower_photos",
        {
            "type": "fixres_kedro.datasets.ImageSourceDataset",
            "source": "image_folder",
            "path": os.fspath(flower_folder),
            "max_photo_megabytes": 0.5,
        },
    )
    assert dataset._describe()["max_photo_megabytes"] == 0.5
    assert ImageSourceDataset(source="archive", path="x.tgz")._describe()["max_photo_megabytes"] == 64
    assert len(dataset.load()) == sum(PHOTOS_PER_CLASS.values())


def test_catalog_entry_with_an_unknown_source_names_the_parameter():
    with pytest.raises(DatasetError, match=r"data\.source"):
        AbstractDataset.from_config(
            "flower_photos",
            {"type": "fixres_kedro.datasets.ImageSourceDataset", "source": "ftp", "path": "x"},
        )


def test_path_objects_are_accepted(flower_archive: Path):
    assert len(ImageSourceDataset(source="archive", path=flower_archive).load()) == 45
