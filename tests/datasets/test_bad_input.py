"""Bad input to the photo source: each case is handled (RGB, or skipped with ONE warning
line that counts and names the files) or stops with one ``data.path: ...`` line.

The bad files are made here with PIL and bytes; the rest of each archive is the synthetic
tf_flowers archive of ``conftest.py`` (45 photos in 5 classes).
"""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import subprocess
import sys
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixres_kedro.datasets import ImageSourceDataset
from fixres_kedro.errors import DataSourceError, UnreadablePhotoError
from fixres_kedro.fixres.photos import decode_split
from fixres_kedro.fixres.photos import MAX_DECODE_SIDE, check_photo, decode_photo
from fixres_kedro.pipelines.data.nodes import split_dataset
from fixres_kedro.parameters import SplitParams

from ..conftest import ARCHIVE, copy_project
from .conftest import PHOTOS_PER_CLASS, TF_FLOWERS_LABELS, jpeg_bytes, write_archive

LOGGER = "fixres_kedro.datasets.photo_source"
GOOD = sum(PHOTOS_PER_CLASS.values())  # 45
SPLIT = {"train": "train[:90%]", "validation": "train[90%:]"}


# --- helpers ---------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def noise(mode: str, size=(40, 30), seed=0) -> Image.Image:
    """A ``size`` (width, height) image of random pixels in ``mode``."""
    rng = np.random.default_rng(seed)
    bands = len(mode) if mode in ("RGB", "RGBA", "CMYK", "LA") else 1
    shape = (size[1], size[0], bands) if bands > 1 else (size[1], size[0])
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).convert(mode)


def real_jpeg(seed=0) -> bytes:
    """A 64x48 noisy JPEG (about 6 kB): long enough to cut in the middle of its scan."""
    return encode(noise("RGB", (64, 48), seed), "JPEG", quality=90)


def truncated_jpeg(seed=0) -> bytes:
    data = real_jpeg(seed)
    return data[: int(len(data) * 0.6)]


def load(source: str, path) -> object:
    return ImageSourceDataset(source=source, path=os.fspath(path)).load()


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def infos_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]


def as_folder(tmp_path: Path, members: dict[str, bytes], dirs=()) -> Path:
    """The members written as files (and ``dirs`` as empty folders) under tmp_path/folder."""
    base = tmp_path / "folder"
    for name, data in members.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(data)
    for name in dirs:
        (base / name).mkdir(parents=True, exist_ok=True)
    return base / "flower_photos"


@pytest.fixture
def source(request, tmp_path, flower_photos):
    """``source(extra_members, dirs=())``: (source name, path) of the synthetic archive or
    folder with ``extra_members`` added; parametrized over archive (.tgz) and image_folder."""

    def make(extra: dict[str, bytes], dirs=()) -> tuple[str, Path]:
        members = {**flower_photos, **extra}
        if request.param == "archive":
            if not dirs:
                return "archive", write_archive(tmp_path / "flower_photos.tgz", members)
            path = write_archive(tmp_path / "flower_photos.tar", members)
            with tarfile.open(path, "a") as archive:  # empty folders: directory entries only
                for name in dirs:
                    info = tarfile.TarInfo(name)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    archive.addfile(info)
            return "archive", path
        return "image_folder", as_folder(tmp_path, members, dirs)

    return make


both_sources = pytest.mark.parametrize("source", ["archive", "image_folder"], indirect=True)


def assert_rgb(images) -> None:
    for encoded in images:
        decoded = decode_photo(encoded)
        assert decoded.dtype == np.uint8
        assert decoded.ndim == 3 and decoded.shape[2] == 3


# --- unreadable photos: skipped at load with one warning ---------------------------------


@both_sources
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(truncated_jpeg(), "(truncated: no end-of-image marker)", id="truncated-jpeg"),
        pytest.param(b"", "(empty file)", id="zero-bytes"),
        pytest.param(b"Just some notes, not a photo.\n" * 20, "(not a JPEG or PNG file)", id="text-named-jpg"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 200, "(", id="jpeg-header-only"),
    ],
)
def test_an_unreadable_photo_is_skipped_with_one_warning(source, caplog, data, reason):
    name, path = source({"flower_photos/daisy/bad.jpg": data})

    photos = load(name, path)

    assert len(photos) == GOOD
    assert "daisy/bad.jpg" not in set(photos["key"])
    (message,) = warnings_of(caplog)
    assert message.startswith(
        f"Skipped 1 of {GOOD + 1} photo files in {path} that cannot be decoded: "
        f"flower_photos/daisy/bad.jpg {reason}"
    )
    assert message.endswith(")")
    _, _, _, summary = split_dataset(photos, SplitParams(**SPLIT))  # the split node never sees it
    assert summary["train"] + summary["validation"] == GOOD
    assert_rgb(photos["image"])


def test_many_unreadable_photos_are_counted_and_a_few_named(make_archive, flower_photos, caplog):
    bad = {f"flower_photos/roses/broken_{index}.jpg": truncated_jpeg(index) for index in range(8)}
    bad["flower_photos/tulips/empty.jpg"] = b""
    archive = make_archive("many_bad.zip", {**flower_photos, **bad})

    photos = load("archive", archive)

    assert len(photos) == GOOD
    (message,) = warnings_of(caplog)
    assert message.startswith(
        f"Skipped 9 of {GOOD + 9} photo files in {archive} that cannot be decoded: "
        "flower_photos/roses/broken_0.jpg (truncated: no end-of-image marker), "
        "flower_photos/roses/broken_1.jpg (truncated"
    )
    assert message.endswith(" and 4 more")
    assert message.count("flower_photos/") == 5


def test_the_check_catches_what_a_full_decode_catches():
    """JPEGs are checked at 1/8 scale: every damage a full PIL decode refuses is found."""
    rng = np.random.default_rng(7)
    caught_by_decode = 0
    for seed in range(60):
        data = bytearray(real_jpeg(seed))
        scan = len(data) // 3
        for position in rng.integers(scan, len(data) - 2, 12):
            data[position] ^= 0xFF
        try:
            with Image.open(io.BytesIO(bytes(data))) as image:
                image.load()
        except Exception:  # noqa: BLE001 - PIL's full decode refuses it
            caught_by_decode += 1
            with pytest.raises(UnreadablePhotoError):
                check_photo(bytes(data))
    assert caught_by_decode > 0  # the loop did exercise broken entropy-coded data


@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.95])
@pytest.mark.parametrize("progressive", [False, True])
def test_a_decode_at_one_eighth_scale_finds_truncation(fraction, progressive):
    """Besides the end-of-image test, the 1/8-scale decode of the check itself fails on
    a truncated JPEG: libjpeg parses the whole entropy-coded stream even at 1/8."""
    data = encode(noise("RGB", (64, 48), 3), "JPEG", quality=90, progressive=progressive)
    cut = data[: int(len(data) * fraction)]
    image = Image.open(io.BytesIO(cut))
    image.draft("RGB", (image.width // 8, image.height // 8))
    assert image.size == (8, 6)
    with pytest.raises(OSError, match="truncated"):
        image.load()
    with pytest.raises(UnreadablePhotoError, match="truncated"):
        check_photo(cut)


def test_a_zero_padded_jpeg_is_skipped(make_archive, flower_photos, caplog):
    """Half the bytes zeros (an interrupted copy): libjpeg would decode grey, TF refuses."""
    data = real_jpeg(5)
    padded = data[: len(data) // 2] + bytes(len(data) - len(data) // 2)
    archive = make_archive("padded.tgz", {**flower_photos, "flower_photos/roses/padded.jpg": padded})
    assert len(load("archive", archive)) == GOOD
    assert "flower_photos/roses/padded.jpg (truncated" in warnings_of(caplog)[0]


def test_all_photos_unreadable_stops(make_archive, caplog):
    archive = make_archive(
        "all_bad.tgz",
        {"photos/daisy/a.jpg": b"", "photos/daisy/b.jpg": b"xx", "photos/roses/c.jpg": truncated_jpeg()},
    )
    with pytest.raises(DataSourceError) as error:
        load("archive", archive)
    assert str(error.value) == (
        f"data.path: none of the 3 photo files at <root>/<class>/<file>.jpg in {archive} "
        "can be decoded (e.g. photos/daisy/a.jpg: empty file)"
    )
    assert len(warnings_of(caplog)) == 1  # the list of what was skipped


# --- other formats and modes: kept and converted to RGB ----------------------------------


def _cmyk_red() -> Image.Image:
    return Image.new("CMYK", (16, 12), (0, 255, 255, 0))  # magenta + yellow ink: red


def _without_adobe_marker(jpeg: bytes) -> bytes:
    start = jpeg.index(b"\xff\xee")  # APP14 "Adobe"
    length = int.from_bytes(jpeg[start + 2 : start + 4], "big")
    return jpeg[:start] + jpeg[start + 2 + length :]


def _palette_with_transparency() -> tuple[bytes, np.ndarray]:
    indices = np.random.default_rng(3).integers(0, 4, (12, 16)).astype(np.uint8)
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], np.uint8)
    image = Image.frombytes("P", (16, 12), indices.tobytes())
    image.putpalette(palette.flatten().tolist())
    return encode(image, "PNG", transparency=bytes([0, 128, 255, 255])), palette[indices]


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return encode(noise("RGB", (16, 12), 4), "JPEG", quality=95, exif=exif)


RGB_NOISE = noise("RGB", (16, 12), 5)
RGBA = np.random.default_rng(1).integers(0, 256, (12, 16, 4), dtype=np.uint8)
GRAY16 = np.random.default_rng(2).integers(0, 65536, (12, 16), dtype=np.uint16)
PALETTE_PNG, PALETTE_RGB = _palette_with_transparency()

# name: (file name, encoded, expected RGB or None, tolerance)
CONVERTED = {
    "png": ("png_photo.png", encode(RGB_NOISE, "PNG"), np.asarray(RGB_NOISE), 0),
    "grayscale-jpeg": (
        "gray.jpg", encode(Image.new("L", (16, 12), 100), "JPEG", quality=95), np.full((12, 16, 3), 100), 2,
    ),
    "cmyk-jpeg-adobe": (
        "cmyk.jpg", encode(_cmyk_red(), "JPEG", quality=95), np.broadcast_to([255, 0, 0], (12, 16, 3)), 4,
    ),
    "cmyk-jpeg-no-adobe-marker": (
        "cmyk_plain.jpg", _without_adobe_marker(encode(_cmyk_red(), "JPEG", quality=95)),
        np.zeros((12, 16, 3)), 4,  # read uninverted, as libjpeg and TF: full black ink
    ),
    "rgba-png": ("rgba.png", encode(Image.fromarray(RGBA), "PNG"), RGBA[..., :3], 0),
    "rgba-png-named-jpg": ("rgba_named.jpg", encode(Image.fromarray(RGBA), "PNG"), RGBA[..., :3], 0),
    "la-png": ("la.png", encode(noise("LA", (16, 12), 6), "PNG"), None, 0),
    "16-bit-png": (  # TF keeps the high byte; PIL's convert would clip to 255
        "gray16.png", encode(Image.fromarray(GRAY16), "PNG"), np.repeat((GRAY16 >> 8)[..., None], 3, 2), 0,
    ),
    "palette-with-transparency": ("palette.png", PALETTE_PNG, PALETTE_RGB, 0),
    "1-bit-png": ("bits.png", encode(noise("1", (16, 12), 7), "PNG"), None, 0),
    "exif-rotated-jpeg": ("rotated.jpg", _exif_rotated(), None, 0),
}


@both_sources
def test_other_formats_and_modes_are_kept_and_decode_to_rgb(source, caplog):
    extra = {f"flower_photos/tulips/{file}": data for file, data, _, _ in CONVERTED.values()}
    name, path = source(extra)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no PIL warning (palette transparency, bombs)
        photos = load(name, path)
        assert len(photos) == GOOD + len(CONVERTED)
        assert warnings_of(caplog) == []
        by_key = dict(zip(photos["key"], photos["image"]))
        for case, (file, data, expected, tolerance) in CONVERTED.items():
            assert by_key[f"tulips/{file}"] == data, case  # stored as they are
            decoded = decode_photo(by_key[f"tulips/{file}"])
            assert decoded.dtype == np.uint8, case
            assert decoded.shape == (12, 16, 3), case  # EXIF orientation is not applied
            if expected is not None:
                np.testing.assert_allclose(
                    decoded.astype(int), np.asarray(expected).astype(int), atol=tolerance, err_msg=case
                )
        assert_rgb(photos["image"])


@pytest.mark.parametrize("case", list(CONVERTED))
def test_decoded_like_tensorflow(case):
    """Bit for bit: JPEGs (grayscale, CMYK with or without the Adobe marker, EXIF-rotated)
    decode with TF's libjpeg-turbo settings, the PNGs convert as TF converts them."""
    tf = pytest.importorskip("tensorflow")
    _, data, _, _ = CONVERTED[case]
    theirs = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
    np.testing.assert_array_equal(decode_photo(data), theirs)


# --- huge photos ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_jpeg() -> bytes:
    """12000x9000 (108 Mpixels: above PIL's warning limit of 89.5 M), made in grey (108 MB)."""
    image = Image.new("L", (12000, 9000), 90)
    image.paste(200, (0, 0, 6000, 9000))
    data = encode(image, "JPEG", quality=50)
    image.close()
    return data


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_huge_jpeg_is_kept_and_decoded_reduced(make_archive, flower_photos, huge_jpeg, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    archive = make_archive("huge.tgz", {**flower_photos, "flower_photos/daisy/huge.jpg": huge_jpeg})

    photos = load("archive", archive)

    assert len(photos) == GOOD + 1
    assert warnings_of(caplog) == []
    assert (
        f"1 photo longer than {MAX_DECODE_SIDE} px will be decoded reduced to at most "
        f"{MAX_DECODE_SIDE} px: flower_photos/daisy/huge.jpg (12000x9000)"
    ) in infos_of(caplog)
    decoded = decode_photo(photos.set_index("key").loc["daisy/huge.jpg", "image"])
    assert decoded.shape == (1125, 1500, 3)  # libjpeg's 1/8 DCT scaling
    assert decoded.dtype == np.uint8
    assert abs(int(decoded[500, 100, 0]) - 200) <= 2 and abs(int(decoded[500, 1400, 0]) - 90) <= 2


def test_a_large_png_is_decoded_reduced_by_an_integer_factor():
    image = noise("RGB", (4100, 50), 8)
    decoded = decode_photo(encode(image, "PNG"))
    assert decoded.shape == (17, 1367, 3)  # reduce(3): ceil(4100 / 3) = 1367 <= 2048


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_photos_too_large_to_decode_are_skipped(make_archive, flower_photos, caplog, monkeypatch):
    """Over ``Image.MAX_IMAGE_PIXELS`` pixels held while decoding: skipped, never decoded.

    The limit is lowered to 1 Mpixel so the files stay small. The GIF named .jpg is not
    a photo file (neither JPEG nor PNG); ``decode_photo`` itself refuses it as too large
    (over twice the limit, where PIL's own ``Image.open`` raises
    ``DecompressionBombError``).
    """
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    big = {
        "flower_photos/roses/big.png": encode(Image.new("RGB", (1100, 1000)), "PNG"),
        "flower_photos/roses/big_gif.jpg": encode(Image.new("L", (1500, 1500)), "GIF"),
        # At 1/8 scale, 1125x125: fine; 1125x1000: too large.
        "flower_photos/roses/big.jpg": encode(Image.new("L", (9000, 1000)), "JPEG"),
        "flower_photos/roses/bigger.jpg": encode(Image.new("L", (9000, 8000)), "JPEG"),
    }
    archive = make_archive("too_large.tgz", {**flower_photos, **big})

    photos = load("archive", archive)

    assert len(photos) == GOOD + 1
    assert "roses/big.jpg" in set(photos["key"])
    assert warnings_of(caplog) == [
        f"Skipped 3 of {GOOD + 4} photo files in {archive} that cannot be decoded: "
        "flower_photos/roses/big.png (too large: 1100x1000 pixels, more than "
        "Image.MAX_IMAGE_PIXELS=1000000), "
        "flower_photos/roses/big_gif.jpg (not a JPEG or PNG file), "
        "flower_photos/roses/bigger.jpg (too large: 9000x8000 pixels, more than "
        "Image.MAX_IMAGE_PIXELS=1000000 even decoded at 1/8)"
    ]
    with pytest.raises(UnreadablePhotoError, match="too large"):
        decode_photo(big["flower_photos/roses/big.png"])
    with pytest.raises(UnreadablePhotoError, match="could be decompression bomb"):
        check_photo(big["flower_photos/roses/big_gif.jpg"])


def test_decode_split_stops_on_one_line_for_a_photo_it_cannot_decode():
    """A split written before the checks (or from tfds) holding a bad photo."""
    good = encode(noise("RGB", (8, 6), 9), "PNG")
    with pytest.raises(UnreadablePhotoError) as error:
        decode_split([good, b"not a photo", good], workers=1)
    assert str(error.value) == "photo 1 of a split of 3 cannot be decoded (not an image)"


# --- layout: folders that are not classes, photos at the wrong depth ----------------------


@both_sources
def test_an_empty_class_folder_is_skipped_with_a_warning(source, caplog):
    name, path = source({}, dirs=["flower_photos/lilies"])

    photos = load(name, path)

    assert len(photos) == GOOD
    assert warnings_of(caplog) == [
        f"Skipped 1 folder in {path} without a usable photo (not a class): flower_photos/lilies/"
    ]
    assert dict(zip(photos["class_name"], photos["label"])) == {
        n: label for label, n in enumerate(TF_FLOWERS_LABELS)
    }


@both_sources
def test_folders_and_photos_that_are_not_at_root_class_file(source, caplog):
    extra = {
        "flower_photos/notes/README.md": b"# about these photos\n",  # a folder, not a class
        "flower_photos/daisy/thumbs/t1.jpg": jpeg_bytes(501),  # one level too deep
        "flower_photos/daisy/thumbs/t2.jpg": jpeg_bytes(502),
        "flower_photos/cover.jpg": jpeg_bytes(503),  # one level too high
    }
    name, path = source(extra, dirs=["flower_photos/empty"])

    photos = load(name, path)

    assert len(photos) == GOOD
    assert photos["class_name"].value_counts().to_dict() == PHOTOS_PER_CLASS
    assert warnings_of(caplog) == [
        f"Skipped 3 photo files in {path} not at <root>/<class>/<file>.jpg: "
        "flower_photos/cover.jpg, flower_photos/daisy/thumbs/t1.jpg, flower_photos/daisy/thumbs/t2.jpg",
        f"Skipped 2 folders in {path} without a usable photo (not classes): "
        "flower_photos/empty/, flower_photos/notes/",
    ]
    assert_rgb(photos["image"])


def test_many_misplaced_photos_are_counted_and_a_few_named(make_archive, flower_photos, caplog):
    extra = {f"flower_photos/daisy/thumbs/t{index}.jpg": jpeg_bytes(600 + index) for index in range(12)}
    archive = make_archive("thumbs.zip", {**flower_photos, **extra})
    assert len(load("archive", archive)) == GOOD
    (message,) = warnings_of(caplog)
    assert message == (
        f"Skipped 12 photo files in {archive} not at <root>/<class>/<file>.jpg: "
        "flower_photos/daisy/thumbs/t0.jpg, flower_photos/daisy/thumbs/t1.jpg, "
        "flower_photos/daisy/thumbs/t10.jpg, flower_photos/daisy/thumbs/t11.jpg, "
        "flower_photos/daisy/thumbs/t2.jpg and 7 more"
    )


def test_a_class_whose_photos_are_all_unreadable_is_not_a_class(make_archive, flower_photos, caplog):
    extra = {"flower_photos/lilies/a.jpg": b"", "flower_photos/lilies/b.jpg": truncated_jpeg()}
    archive = make_archive("lilies.tgz", {**flower_photos, **extra})
    photos = load("archive", archive)
    assert set(photos["class_name"]) == set(TF_FLOWERS_LABELS)
    messages = warnings_of(caplog)
    assert len(messages) == 2
    assert messages[0].startswith(f"Skipped 2 of {GOOD + 2} photo files in {archive} that cannot be decoded")
    assert messages[1] == (
        f"Skipped 1 folder in {archive} without a usable photo (not a class): flower_photos/lilies/"
    )


def test_mixed_depths_keep_the_photos_at_root_class_file(make_archive, caplog):
    members = {
        "flower_photos/daisy/a.jpg": jpeg_bytes(1),
        "flower_photos/roses/c.jpg": jpeg_bytes(3),
        "flower_photos/b.jpg": jpeg_bytes(2),
    }
    archive = make_archive("mixed.zip", members)
    photos = load("archive", archive)
    assert sorted(photos["key"]) == ["daisy/a.jpg", "roses/c.jpg"]
    assert warnings_of(caplog) == [
        f"Skipped 1 photo file in {archive} not at <root>/<class>/<file>.jpg: flower_photos/b.jpg"
    ]


def test_the_real_archive_skips_nothing(caplog):
    """tf_flowers' 3670 photos are all valid: no warning, every photo kept (tfds' split)."""
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is not here")
    caplog.set_level(logging.INFO, logger=LOGGER)
    photos = load("archive", ARCHIVE)
    assert len(photos) == 3670
    assert warnings_of(caplog) == []
    assert infos_of(caplog) == [f"Read 3670 photos of 5 classes from {ARCHIVE}"]


# --- photo files checked before they are read: size and signature -----------------------


def sparse_tar(path: Path, members: dict[str, bytes], zeros: dict[str, int]) -> Path:
    """An uncompressed tar of ``members``, then of ``zeros`` ({name: size}): members of
    that many zero bytes, left as holes in the file (nothing written to disk)."""
    with path.open("wb") as file:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            file.write(info.tobuf(tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512))
        for name, size in zeros.items():
            info = tarfile.TarInfo(name)
            info.size = size
            file.write(info.tobuf(tarfile.PAX_FORMAT))
            file.seek(size + -size % 512, os.SEEK_CUR)
        file.write(bytes(1024))  # the end-of-archive blocks
    return path


LOAD_AND_MEASURE = """
import json, logging, resource, sys
from fixres_kedro.datasets import ImageSourceDataset
import fixres_kedro.fixres.photos  # noqa: F401 - imported before the baseline
messages = []
handler = logging.Handler()
handler.emit = lambda record: messages.append(record.getMessage())
logging.getLogger("fixres_kedro.datasets.photo_source").addHandler(handler)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
source, path, megabytes = sys.argv[1:]
photos = ImageSourceDataset(source=source, path=path, max_photo_megabytes=float(megabytes)).load()
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"rows": len(photos), "grown_mib": grown / 1024, "warnings": messages}))
"""


def load_in_a_process(source: str, path: Path, megabytes: float) -> dict:
    """Load in a fresh process: its rows, warnings and how much its peak RSS grew."""
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_MEASURE, source, os.fspath(path), str(megabytes)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


HUGE = 1536 * 2**20  # 1.5 GiB of zeros named .jpg
BIG = 900 * 2**20  # 900 MiB: under a 1024 MB limit, but not a JPEG


@pytest.mark.parametrize("source_name", ["archive", "image_folder"])
def test_huge_members_are_skipped_unread_and_memory_stays_small(tmp_path, flower_photos, source_name):
    """Issue: a 3 MB .tgz holding two 1.5 GiB zero-filled .jpg took 3.4 GB of memory.
    The size (tar header, stat) and the first bytes are checked before a file is read
    whole: the peak RSS of the load grows by a few MB at most (``benchmarks/photo_reading.py``:
    0 MiB, against 3069 MiB for the code before, which read them whole)."""
    zeros = {"flower_photos/daisy/huge.jpg": HUGE, "flower_photos/roses/big.jpg": BIG}
    if source_name == "archive":
        path = sparse_tar(tmp_path / "sparse.tar", flower_photos, zeros)
    else:
        path = as_folder(tmp_path, flower_photos)
        for name, size in zeros.items():
            with (path.parent / name).open("wb") as file:
                file.truncate(size)  # sparse: a hole, nothing on disk

    result = load_in_a_process(source_name, path, 1024)

    assert result["rows"] == GOOD
    assert result["warnings"] == [
        f"Skipped 2 of {GOOD + 2} photo files in {path} that cannot be decoded: "
        "flower_photos/daisy/huge.jpg (too large: 1,536 MB, more than max_photo_megabytes=1024), "
        "flower_photos/roses/big.jpg (not a JPEG or PNG file)"
    ]
    assert result["grown_mib"] < 100


@both_sources
def test_photo_files_over_the_size_limit_are_skipped(source, flower_photos, caplog):
    """``max_photo_megabytes``: a file of exactly the limit is read, one byte more is not."""
    limit = max(len(data) for data in [*flower_photos.values(), jpeg_bytes(700)])
    at_limit = jpeg_bytes(700) + bytes(limit - len(jpeg_bytes(700)))  # zeros after the end
    over = jpeg_bytes(701) + bytes(limit + 1 - len(jpeg_bytes(701)))
    name, path = source({"flower_photos/daisy/at_limit.jpg": at_limit, "flower_photos/roses/over.jpg": over})
    megabytes = limit / 2**20

    photos = ImageSourceDataset(source=name, path=os.fspath(path), max_photo_megabytes=megabytes).load()

    assert len(photos) == GOOD + 1
    assert photos.set_index("key").loc["daisy/at_limit.jpg", "image"] == at_limit
    assert warnings_of(caplog) == [
        f"Skipped 1 of {GOOD + 2} photo files in {path} that cannot be decoded: "
        f"flower_photos/roses/over.jpg (too large: {(limit + 1) / 1024:,.1f} KB, more than "
        f"max_photo_megabytes={megabytes:g})"
    ]


@pytest.mark.parametrize("suffix", [".zip", ".tgz"])
def test_a_member_that_is_neither_jpeg_nor_png_is_skipped(make_archive, flower_photos, caplog, suffix):
    gif = encode(noise("RGB"), "GIF")
    members = {
        **flower_photos,
        "flower_photos/daisy/zeros.jpg": bytes(200_000),
        "flower_photos/daisy/animation.jpg": gif,
        "flower_photos/daisy/page.png": b"<html>not a photo</html>",
    }
    archive = make_archive(f"signatures{suffix}", members)
    assert len(load("archive", archive)) == GOOD
    assert warnings_of(caplog) == [
        f"Skipped 3 of {GOOD + 3} photo files in {archive} that cannot be decoded: "
        "flower_photos/daisy/animation.jpg (not a JPEG or PNG file), "
        "flower_photos/daisy/page.png (not a JPEG or PNG file), "
        "flower_photos/daisy/zeros.jpg (not a JPEG or PNG file)"
    ]


@pytest.mark.parametrize("megabytes", [0, -1, "64", True, None, float("nan"), float("inf")])
def test_the_size_limit_must_be_a_positive_number(megabytes):
    with pytest.raises(DataSourceError, match=r"^data\.max_photo_megabytes: "):
        ImageSourceDataset(source="archive", path="x.tgz", max_photo_megabytes=megabytes)


# --- links and unsafe paths: skipped unread, with one warning ------------------------------


def _tar_member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(data), link
    return info, io.BytesIO(data) if data else None


def test_links_and_unsafe_paths_in_a_tar_are_skipped_with_one_warning(tmp_path, flower_photos, caplog):
    path = write_archive(tmp_path / "odd.tar", flower_photos)
    rose = next(name for name in flower_photos if "/roses/" in name)
    with tarfile.open(path, "a") as archive:
        for info, data in [
            _tar_member("/etc/x.jpg", data=jpeg_bytes(800)),  # was read as a class "etc"
            _tar_member("/etc/y.jpg", data=jpeg_bytes(801)),
            _tar_member("flower_photos/daisy/../../evil.jpg", data=jpeg_bytes(802)),
            _tar_member("flower_photos/daisy/link.jpg", tarfile.SYMTYPE, link="../" + rose.split("/", 2)[2]),
            _tar_member("flower_photos/daisy/hard.jpg", tarfile.LNKTYPE, link=rose),
            _tar_member("flower_photos/daisy/pipe.jpg", tarfile.FIFOTYPE),
        ]:
            archive.addfile(info, data)

    photos = load("archive", path)

    assert len(photos) == GOOD
    assert sorted(set(photos["class_name"])) == sorted(TF_FLOWERS_LABELS)
    assert warnings_of(caplog) == [
        f"Skipped 6 archive members in {path}, links, special files or unsafe paths (never read): "
        "/etc/x.jpg (absolute path), /etc/y.jpg (absolute path), "
        "flower_photos/daisy/../../evil.jpg ('..' in its path), "
        f"flower_photos/daisy/hard.jpg (hard link to {rose}), "
        f"flower_photos/daisy/link.jpg (symbolic link to ../{rose.split('/', 2)[2]}) and 1 more"
    ]


def test_links_and_unsafe_paths_in_a_zip_are_skipped_with_one_warning(tmp_path, flower_photos, caplog):
    path = write_archive(tmp_path / "odd.zip", flower_photos)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("/etc/x.jpg", jpeg_bytes(800))
        archive.writestr("flower_photos/../evil.jpg", jpeg_bytes(802))
        link = zipfile.ZipInfo("flower_photos/daisy/link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "../../../etc/passwd")
        device = zipfile.ZipInfo("flower_photos/daisy/device.jpg")
        device.external_attr = (stat.S_IFCHR | 0o600) << 16
        archive.writestr(device, b"")

    photos = load("archive", path)

    assert len(photos) == GOOD
    assert sorted(set(photos["class_name"])) == sorted(TF_FLOWERS_LABELS)
    assert warnings_of(caplog) == [
        f"Skipped 4 archive members in {path}, links, special files or unsafe paths (never read): "
        "/etc/x.jpg (absolute path), flower_photos/../evil.jpg ('..' in its path), "
        "flower_photos/daisy/device.jpg (not a regular file), "
        "flower_photos/daisy/link.jpg (symbolic link)"
    ]


def test_links_out_of_a_folder_are_skipped_with_one_warning(tmp_path, flower_photos, caplog):
    root = as_folder(tmp_path, flower_photos)
    outside = tmp_path / "elsewhere"
    (outside / "lilies").mkdir(parents=True)
    (outside / "lilies" / "a.jpg").write_bytes(jpeg_bytes(900))
    (outside / "secret.jpg").write_bytes(jpeg_bytes(901))
    rose = next(path for path in sorted((root / "roses").iterdir()))
    (root / "daisy" / "out.jpg").symlink_to(outside / "secret.jpg")
    (root / "daisy" / "rose.jpg").symlink_to(os.path.relpath(rose, root / "daisy"))  # inside: read
    (root / "daisy" / "gone.jpg").symlink_to(tmp_path / "nothing.jpg")
    (root / "lilies").symlink_to(outside / "lilies", target_is_directory=True)
    (root / "tulips_too").symlink_to(root / "tulips", target_is_directory=True)

    photos = load("image_folder", root)

    assert len(photos) == GOOD + 1
    assert photos.set_index("key").loc["daisy/rose.jpg", "image"] == rose.read_bytes()
    assert sorted(set(photos["class_name"])) == sorted(TF_FLOWERS_LABELS)
    assert warnings_of(caplog) == [
        f"Skipped 4 items in {root}, links, special files or unsafe paths (never read): "
        "flower_photos/daisy/gone.jpg (symbolic link to nothing), "
        f"flower_photos/daisy/out.jpg (symbolic link out of the folder, to {outside / 'secret.jpg'}), "
        f"flower_photos/lilies (symbolic link out of the folder, to {outside / 'lilies'}), "
        "flower_photos/tulips_too (symbolic link to a folder (not followed))"
    ]


# --- stops: one line naming data.path ----------------------------------------------------


# A missing path: test_image_source.py, with the other path errors.


@pytest.mark.parametrize(
    ("members", "found"),
    [
        pytest.param({"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)}, "[1] levels, e.g. a.jpg", id="flat"),
        pytest.param(
            {"flower_photos/a.jpg": jpeg_bytes(1), "flower_photos/b.jpg": jpeg_bytes(2)},
            "[2] levels, e.g. flower_photos/a.jpg",
            id="flat-under-a-root",
        ),
        pytest.param(
            {
                "data/flower_photos/daisy/a.jpg": jpeg_bytes(1),
                "data/flower_photos/roses/b.jpg": jpeg_bytes(2),
            },
            "[4] levels, e.g. data/flower_photos/daisy/a.jpg",
            id="one-level-deeper",
        ),
    ],
)
@pytest.mark.parametrize("suffix", [".tgz", ".zip"])
def test_archive_of_another_layout_stops(make_archive, members, found, suffix, caplog):
    archive = make_archive(f"other_layout{suffix}", members)
    with pytest.raises(DataSourceError) as error:
        load("archive", archive)
    assert str(error.value) == (
        f"data.path: {archive} is not laid out <root>/<class>/<file>.jpg "
        f"(image files found at {found}; expected 3)"
    )
    assert warnings_of(caplog) == []  # the one line says it all


def test_folder_of_another_layout_stops(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg_bytes(1))
    with pytest.raises(DataSourceError) as error:
        load("image_folder", root)
    assert str(error.value) == (
        f"data.path: {root} is not laid out <root>/<class>/<file>.jpg "
        "(image files found at [2] levels, e.g. flat/a.jpg; expected 3)"
    )


def test_kedro_run_stops_with_one_error_line(tmp_path, make_archive):
    """``kedro run`` on an archive of another layout: exit 1, last line ``Error: data.path: ...``."""
    archive = make_archive("flat.tgz", {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2)})
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("FIXRES_DATA_SOURCE", None)
    env.pop("FIXRES_DATA_PATH", None)
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env", "smoke",
         "--params", f"data.source=archive,data.path={archive}"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
        check=False,
    )
    output = result.stdout
    lines = [line for line in output.splitlines() if line.strip()]
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert lines[-1] == (
        f"Error: data.path: {archive} is not laid out <root>/<class>/<file>.jpg "
        "(image files found at [1] levels, e.g. a.jpg; expected 3)"
    ), output


@pytest.mark.parametrize("source_name", ["archive", "image_folder"])
def test_photos_of_one_class_stop(tmp_path, source_name, caplog):
    """A 1-way softmax trains on nothing: fewer than two usable classes stop the run."""
    members = {f"flower_photos/daisy/{index}.jpg": jpeg_bytes(index) for index in range(4)}
    members["flower_photos/roses/empty.jpg"] = b""  # roses has no usable photo
    if source_name == "archive":
        path = write_archive(tmp_path / "one_class.tgz", members)
    else:
        path = as_folder(tmp_path, members)
    with pytest.raises(DataSourceError) as error:
        load(source_name, path)
    assert str(error.value) == (
        f"data.path: {path} has usable photos in only one class folder (flower_photos/daisy/); "
        "a classifier needs at least 2 classes, laid out <root>/<class>/<file>.jpg"
    )
    assert warnings_of(caplog) == [
        f"Skipped 1 of 5 photo files in {path} that cannot be decoded: "
        "flower_photos/roses/empty.jpg (empty file)",
        f"Skipped 1 folder in {path} without a usable photo (not a class): flower_photos/roses/",
    ]


def test_two_classes_are_enough(make_archive):
    members = {f"photos/{name}/{index}.jpg": jpeg_bytes(10 * seed + index)
               for seed, name in enumerate(["cats", "dogs"]) for index in range(2)}
    photos = load("archive", make_archive("two.zip", members))
    assert dict(zip(photos["class_name"], photos["label"])) == {"cats": 0, "dogs": 1}
