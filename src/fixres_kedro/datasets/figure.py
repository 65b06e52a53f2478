"""``FigureDataset``: a matplotlib figure saved as a versioned PNG, and read back.

kedro-datasets' ``MatplotlibDataset`` can only save, so the notebook and the study report
needed a second catalog entry (a ``pillow.ImageDataset``) on the same file, which Kedro
does not know depends on the node that writes it. This one saves a ``Figure`` as PNG
(atomically: ``datasets.atomic``) and loads the PNG as a ``PIL.Image``: the node that
draws it and the nodes or notebooks that show it name the same dataset. kedro-viz
previews it as the image.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from kedro.io.core import (
    DatasetError,
    Version,
)
from kedro_datasets._typing import ImagePreview
from PIL import Image

from fixres_kedro.datasets.atomic import atomic_file
from fixres_kedro.datasets.versioned_file import VersionedFile
from fixres_kedro.fixres.figure_type import Figure


class FigureDataset(VersionedFile):
    """Save a ``matplotlib.figure.Figure`` as PNG; load the PNG as a ``PIL.Image``.

    Example catalog entry::

        model_comparison_plot:
          type: fixres_kedro.datasets.FigureDataset
          filepath: data/08_reporting/model_comparison.png
          versioned: true
    """

    def __init__(self, filepath: str, dpi: int = 100, version: Version | None = None,
                 fs_args: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(filepath, version, fs_args, metadata)
        self._dpi = dpi

    def save(self, data: Figure) -> None:
        # Here, not at import: kedro viz build makes every dataset and draws nothing.
        from matplotlib.figure import Figure as MatplotlibFigure  # noqa: PLC0415

        if not isinstance(data, MatplotlibFigure):
            raise DatasetError(f"FigureDataset saves matplotlib Figures, got {type(data)}")
        buffer = io.BytesIO()
        data.savefig(buffer, format="png", dpi=self._dpi)
        path = self._save_path()
        if self._protocol == "file":
            with atomic_file(path, needed=buffer.tell()) as partial:
                partial.write_bytes(buffer.getvalue())
        else:
            with self._fs.open(path, "wb") as file:
                file.write(buffer.getvalue())

    def _read(self) -> bytes:
        with self._fs.open(self._load_path(), "rb") as file:
            return file.read()

    def load(self) -> Image.Image:
        image = Image.open(io.BytesIO(self._read()))
        image.load()
        return image

    def preview(self) -> ImagePreview:
        """The PNG, base64-encoded, for kedro-viz."""
        return ImagePreview(base64.b64encode(self._read()).decode("ascii"))
