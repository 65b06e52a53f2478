"""The ``tfds`` source: tfds' own prepared split, read back encoded in its stored order.

It needs tensorflow-datasets and, on first use, internet: without them the one line it
stops with says how to use the archive tfds downloads instead, within seconds rather than
after minutes of download retries.
"""

from __future__ import annotations

import pandas as pd

from fixres_kedro.errors import DataSourceError
from fixres_kedro.fixres.errors import one_line

COLUMNS = ["key", "label", "class_name", "image"]

_OFFLINE_HINT = (
    "without internet, use the archive tfds downloads: FIXRES_DATA_SOURCE=archive "
    "FIXRES_DATA_PATH=/path/to/flower_photos.tgz (or --params data.source=archive,"
    "data.path=...), or a folder of photos with data.source=image_folder"
)
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # where tfds downloads tf_flowers from


def _check_online(name: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after minutes of retries, when tfds cannot download."""
    import socket  # noqa: PLC0415

    try:
        socket.create_connection(_DOWNLOAD_HOST, timeout=timeout).close()
    except OSError as error:
        raise DataSourceError(
            f"data.source=tfds must download {name}, and {_DOWNLOAD_HOST[0]} cannot be reached "
            f"({error}); {_OFFLINE_HINT}"
        ) from error


def _import_tfds():  # noqa: ANN202 - the tensorflow_datasets module
    try:
        import tensorflow_datasets as tfds  # noqa: PLC0415 - optional, heavy
    except ImportError as error:
        raise DataSourceError(
            "data.source=tfds needs tensorflow-datasets (pip install -e '.[tf]'); "
            "or use data.source=archive with the flower_photos.tgz file"
        ) from error
    return tfds


def _prepare(builder, name: str) -> None:  # noqa: ANN001 - a tfds builder
    if builder.is_prepared():
        return
    _check_online(name)
    try:
        builder.download_and_prepare()
    except Exception as error:  # noqa: BLE001 - a download fails in many ways
        raise DataSourceError(f"data.source=tfds could not download {name} "
                              f"({one_line(error, 160)}); {_OFFLINE_HINT}") from error


def load_tfds(name: str, data_dir: str | None) -> pd.DataFrame:
    """The ``train`` split of tfds' dataset ``name``: a row per photo, its file's bytes."""
    tfds = _import_tfds()
    builder = tfds.builder(name, data_dir=data_dir)
    _prepare(builder, name)
    names = builder.info.features["label"].names
    dataset = builder.as_dataset(
        split="train",
        shuffle_files=False,
        decoders={"image": tfds.decode.SkipDecoding()},
        # One shard at a time: the examples in the order tfds stored them (by key
        # hash), as the archive source gives them; split_dataset interleaves each
        # slice as tfds reads it.
        read_config=tfds.ReadConfig(interleave_cycle_length=1),
    )
    rows = [
        {
            "key": f"{name}/train/{index:06d}",
            "label": int(example["label"]),
            "class_name": names[int(example["label"])],
            "image": bytes(example["image"]),
        }
        for index, example in enumerate(dataset.as_numpy_iterator())
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
