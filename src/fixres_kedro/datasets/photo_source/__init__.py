"""The photo source: the raw photos, from tfds, an archive or an image folder, as one
frame (``key``, ``label``, ``class_name``, ``image``: the encoded file bytes) in the order
tfds presents its ``train`` split, so that the split equals tfds' without TensorFlow.

One reader per source (``tfds``, ``archive``, ``folder``); the archive and folder readers
share the size-then-signature rule (``entry``) and the threaded checks (``checking``);
``survey`` decides what is a photo at ``<root>/<class>/<file>`` and says what was skipped;
``dataset`` is the Kedro dataset; ``tfds_order`` is tfds' order, reproduced.

What is skipped with one warning line and what stops a run with one ``data.path:`` line:
README, "Data".

The dataset is imported when first named: the parameters read ``tfds_order`` on every
command, and the dataset would bring pandas with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ImageSourceDataset"]


def __getattr__(name: str) -> Any:
    if name != "ImageSourceDataset":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from fixres_kedro.datasets.photo_source.dataset import ImageSourceDataset  # noqa: PLC0415

    return ImageSourceDataset


if TYPE_CHECKING:
    from fixres_kedro.datasets.photo_source.dataset import ImageSourceDataset
