"""``KerasModelDataset``: a versioned ``.keras`` file on any Keras backend.

kedro-datasets' ``TensorFlowModelDataset`` imports TensorFlow when its module loads;
this one only needs Keras, so models trained under JAX or PyTorch save and load on
hosts without TensorFlow. The model's architecture and weights are saved, not its
optimizer state (a third of the size; every node that trains compiles afresh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)


class KerasModelDataset(AbstractVersionedDataset):
    """Save and load a ``keras.Model`` as a ``.keras`` archive.

    Example catalog entry::

        initial.model:
          type: fixres_kedro.datasets.KerasModelDataset
          filepath: data/06_models/initial_model.keras
          versioned: true
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def load(self) -> Any:
        import keras  # noqa: PLC0415 - keep catalog creation free of backend start-up

        path = get_filepath_str(self._get_load_path(), self._protocol)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model.keras"
            self._fs.get(path, str(local))
            return keras.saving.load_model(local, compile=False)

    def save(self, data: Any) -> None:
        import keras  # noqa: PLC0415

        if not isinstance(data, keras.Model):
            raise DatasetError(f"KerasModelDataset saves keras.Model objects, got {type(data)}")
        path = get_filepath_str(self._get_save_path(), self._protocol)
        # An uncompiled copy (clone_model would compile it too): the file holds the
        # architecture and the weights, not the optimizer's two extra copies.
        bare = data.__class__.from_config(data.get_config())
        bare.set_weights(data.get_weights())
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model.keras"
            bare.save(local)
            self._fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
            if self._protocol == "file":
                # Copy then rename: a run killed mid-save leaves no half-written model.
                partial = f"{path}.partial"
                shutil.copyfile(local, partial)
                os.replace(partial, path)
            else:
                self._fs.put(str(local), path)

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(path)
