"""The photo source: the raw photos, from tfds, an archive or an image folder, as one
frame (``key``, ``label``, ``class_name``, ``image``: the encoded file bytes) in the order
tfds presents its ``train`` split, so that the split equals tfds' without TensorFlow.

One reader per source (``tfds``, ``archive``, ``folder``); the archive and folder readers
share the size-then-signature rule (``entry``) and the threaded checks (``checking``);
``survey`` decides what is a photo at ``<root>/<class>/<file>`` and says what was skipped;
``dataset`` is the Kedro dataset; ``tfds_order`` is tfds' order, reproduced.

What is skipped with one warning line and what stops a run with one ``data.path:`` line:
README, "Data".
"""

from fixres_kedro.datasets.photo_source.dataset import ImageSourceDataset

__all__ = ["ImageSourceDataset"]
