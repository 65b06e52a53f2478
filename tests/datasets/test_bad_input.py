"""Bad input to the photo source: each case is handled (RGB, or skipped with ONE warning
line that counts and names the files) or stops with one ``data.path: ...`` line.

The bad files are made here with PIL and bytes; the rest of each archive is the synthetic
tf_flowers archive of ``conftest.py`` (45 photos in 5 classes).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixres_kedro.datasets import ImageSourceDataset
from fixres_kedro.errors import DataSourceError, UnreadablePhotoError
from fixres_kedro.fixres.input_pipeline import decode_split
from fixres_kedro.fixres.photos import MAX_DECODE_SIDE, check_photo, decode_photo
from fixres_kedro.pipelines.data.nodes import split_dataset

from ..conftest import ARCHIVE, copy_project
from .conftest import PHOTOS_PER_CLASS, TF_FLOWERS_LABELS, jpeg_bytes, write_archive

LOGGER = "fixres_kedro.datasets.image_source"
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
        pytest.param(b"Just some notes, not a photo.\n" * 20, "(not an image)", id="text-named-jpg"),
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
    _, _, _, summary = split_dataset(photos, SPLIT)  # the split node never sees it
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

    The limit is lowered to 1 Mpixel so the files stay small; the GIF is over twice the
    limit, where PIL's own ``Image.open`` raises ``DecompressionBombError``.
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
        "flower_photos/roses/big_gif.jpg (too large: Image size (2250000 pixels) exceeds limit of 2000000 "
        "pixels, could be decompression bomb DOS attack.), "
        "flower_photos/roses/bigger.jpg (too large: 9000x8000 pixels, more than "
        "Image.MAX_IMAGE_PIXELS=1000000 even decoded at 1/8)"
    ]
    with pytest.raises(UnreadablePhotoError, match="too large"):
        decode_photo(big["flower_photos/roses/big.png"])


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
    members = {"flower_photos/daisy/a.jpg": jpeg_bytes(1), "flower_photos/b.jpg": jpeg_bytes(2)}
    archive = make_archive("mixed.zip", members)
    photos = load("archive", archive)
    assert list(photos["key"]) == ["daisy/a.jpg"]
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


# --- stops: one line naming data.path ----------------------------------------------------


@pytest.mark.parametrize("source_name", ["archive", "image_folder"])
def test_missing_path_stops(tmp_path, source_name):
    missing = tmp_path / "nowhere" / "flower_photos.tgz"
    with pytest.raises(DataSourceError) as error:
        load(source_name, missing)
    assert str(error.value) == f"data.path: {missing} does not exist"


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
    )
    output = result.stdout
    lines = [line for line in output.splitlines() if line.strip()]
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert lines[-1] == (
        f"Error: data.path: {archive} is not laid out <root>/<class>/<file>.jpg "
        "(image files found at [1] levels, e.g. a.jpg; expected 3)"
    ), output
