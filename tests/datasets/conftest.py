"""Fixtures for the dataset tests: small synthetic tf_flowers-like archives.

The archive mimics the ``flower_photos.tgz`` that tfds downloads for tf_flowers:
``flower_photos/<class>/<file>.jpg`` for the five classes, plus a ``LICENSE.txt`` at
the root (tfds ignores non-``.jpg`` files). Every JPEG has distinct content, and the
classes have different sizes (45 photos in all), so that ``train[:90%]`` needs
tfds' rounding (40.5 -> 40).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# tf_flowers' ClassLabel order, written out rather than imported from the code under test.
TF_FLOWERS_LABELS = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
PHOTOS_PER_CLASS = {"daisy": 7, "dandelion": 8, "roses": 9, "sunflowers": 10, "tulips": 11}
LICENSE_TEXT = b"All photos are licensed under Creative Commons (synthetic test data).\n"


def jpeg_bytes(seed: int, size: tuple[int, int] = (6, 5)) -> bytes:
    """A tiny RGB JPEG whose content depends on ``seed``."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_archive(path: Path, members: Mapping[str, bytes]) -> Path:
    """Write ``{member name: bytes}`` as a .tgz, .tar or .zip (by ``path``'s suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        return path
    mode = "w:gz" if path.name.endswith((".tgz", ".tar.gz")) else "w"
    with tarfile.open(path, mode) as archive:
        directories = sorted(
            {"/".join(name.split("/")[:i]) for name in members for i in range(1, name.count("/") + 1)}
        )
        for directory in directories:  # explicit directory entries, as `tar czf` writes
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            archive.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="session")
def flower_photos() -> dict[str, bytes]:
    """``{"flower_photos/<class>/<file>.jpg": jpeg bytes}``, all distinct."""
    photos = {}
    seed = 0
    for class_name, count in PHOTOS_PER_CLASS.items():
        for index in range(count):
            seed += 1
            photos[f"flower_photos/{class_name}/{1000 + 37 * seed}_{index:02d}_n.jpg"] = jpeg_bytes(seed)
    assert len(set(photos.values())) == len(photos)
    return photos


@pytest.fixture
def make_archive(tmp_path: Path) -> Callable[[str, Mapping[str, bytes]], Path]:
    """Factory: ``make_archive("name.tgz", members)`` writes an archive under tmp_path."""

    def make(name: str, members: Mapping[str, bytes]) -> Path:
        return write_archive(tmp_path / "archives" / name, members)

    return make


@pytest.fixture
def flower_archive(make_archive, flower_photos) -> Path:
    """The synthetic tf_flowers archive ``flower_photos.tgz`` (with a root LICENSE.txt)."""
    return make_archive(
        "flower_photos.tgz", {"flower_photos/LICENSE.txt": LICENSE_TEXT, **flower_photos}
    )


@pytest.fixture
def flower_folder(tmp_path: Path, flower_archive: Path) -> Path:
    """The synthetic archive extracted: the ``flower_photos`` folder itself."""
    target = tmp_path / "extracted"
    with tarfile.open(flower_archive) as archive:
        archive.extractall(target, filter="data")
    return target / "flower_photos"
