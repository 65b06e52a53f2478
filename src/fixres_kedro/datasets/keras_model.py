"""``KerasModelDataset``: a versioned ``.keras`` file on any Keras backend.

kedro-datasets' ``TensorFlowModelDataset`` imports TensorFlow when its module loads;
this one only needs Keras, so models trained under JAX or PyTorch save and load on
hosts without TensorFlow. The model's architecture and weights are saved, not its
optimizer state (a third of the size; every node that trains compiles afresh).
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io.core import (
    DatasetError,
)

from fixres_kedro.datasets.atomic import atomic_file
from fixres_kedro.datasets.versioned_file import VersionedFile
from fixres_kedro.fixres.errors import DamagedFileError, one_line


class KerasModelDataset(VersionedFile):
    """Save and load a ``keras.Model`` as a ``.keras`` archive.

    Example catalog entry::

        initial.model:
          type: fixres_kedro.datasets.KerasModelDataset
          filepath: data/06_models/initial_model.keras
          versioned: true
    """

    def load(self) -> Any:
        from fixres_kedro.fixres.backend import start_backend  # noqa: PLC0415 - keep catalog creation free of it

        start_backend()
        import keras  # noqa: PLC0415

        path = self._load_path()
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model.keras"
            self._fs.get(path, str(local))
            try:
                return keras.saving.load_model(local, compile=False)
            except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a bad file
                raise DamagedFileError(self._damaged(path, error)) from error

    def _damaged(self, path: str, error: BaseException) -> str:
        """One line naming the damaged version file and how to load an earlier one."""
        reason = one_line(str(error).replace(str(Path(tempfile.gettempdir())), ""))
        versions = sorted(self._list_versions()) if self._version else []
        current = PurePosixPath(path).parent.name
        earlier = [v for v in versions if v < current]
        hint = (f"; load an earlier version with --load-versions=<dataset>:{earlier[-1]} "
                f"(versions: {', '.join(versions[-5:])})" if earlier else "")
        return f"{path} cannot be loaded as a Keras model ({reason}){hint}"

    def _list_versions(self) -> list[str]:
        pattern = str(self._get_versioned_path("*"))
        return [PurePosixPath(found).parent.name for found in self._fs.glob(pattern)]

    def save(self, data: Any) -> None:
        from fixres_kedro.fixres.backend import start_backend  # noqa: PLC0415

        start_backend()
        import keras  # noqa: PLC0415

        if not isinstance(data, keras.Model):
            raise DatasetError(f"KerasModelDataset saves keras.Model objects, got {type(data)}")
        path = self._save_path()
        # An uncompiled copy (clone_model would compile it too): the file holds the
        # architecture and the weights, not the optimizer's two extra copies.
        bare = data.__class__.from_config(data.get_config())
        bare.set_weights(data.get_weights())
        if self._protocol == "file":
            # Written next to its final name, then renamed: a run killed mid-save leaves
            # no half-written model, and a full disk no partial file (DiskFullError).
            needed = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in bare.weights)
            with atomic_file(path, needed=needed, keep_suffix=True) as partial:  # Keras wants .keras
                bare.save(partial)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / "model.keras"
                bare.save(local)
                self._fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
                self._fs.put(str(local), path)
