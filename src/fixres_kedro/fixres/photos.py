"""Photos: open, check and decode one, decode many on threads, keep a split decoded.

The core owns the photos: the photo source (``fixres_kedro.datasets.ImageSourceDataset``)
checks each photo here when it reads an archive or folder, the decoded-split dataset
decodes here, and the input pipelines take what ``decode_photo`` returns: an RGB
``uint8`` array ``(height, width, 3)``.

* ``open_photo`` reads a photo's header (size limits), ``check_photo`` proves it decodes
  (cheaply), ``decode_photo`` decodes it; all three raise ``UnreadablePhotoError``.
* ``decode_photos`` decodes a list on a thread pool (``default_workers`` threads: one per
  CPU core this process may use), naming the first photo that fails.
* ``DecodedCache`` keeps the last decoded splits of the process, so the three runs of one
  ``kedro run`` decode a split once.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from fixres_kedro.fixres.errors import UnreadablePhotoError

# Photos longer than this are decoded reduced (tf_flowers' longest side is 1024 px; the
# largest size any input pipeline resizes to is 392 px).
MAX_DECODE_SIDE = 2048

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_END = b"\xff\xd9"  # EOI: entropy-coded data never holds it (0xFF is stuffed)
_CHECK_SCALE = 8  # JPEGs are checked decoded at 1/8 scale (libjpeg's DCT scaling)


def default_workers() -> int:
    """One thread per CPU core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def open_photo(encoded: bytes) -> Image.Image:
    """The photo opened by PIL (header read, pixels not decoded yet).

    JPEG and PNG files open through their PIL plugins directly, so PIL's
    decompression-bomb check of ``Image.open`` (a warning above
    ``Image.MAX_IMAGE_PIXELS``, an error above twice that) never fires; this limit
    replaces it: a photo is too large when the pixels held while decoding it (after
    the JPEG DCT scaling of ``decode_photo``) exceed ``Image.MAX_IMAGE_PIXELS``
    (89,478,485 by default). A 12000x9000 JPEG is fine (decoded at 1/8, 1500x1125); a
    12000x9000 PNG is too large. Other formats keep ``Image.open``'s own check.

    Raises ``UnreadablePhotoError`` (empty file, not an image, damaged header, too large).
    """
    if not encoded:
        raise UnreadablePhotoError("empty file")
    fp = io.BytesIO(encoded)
    try:
        if encoded.startswith(_JPEG_SIGNATURE):
            image = JpegImagePlugin.JpegImageFile(fp)
        elif encoded.startswith(_PNG_SIGNATURE):
            image = PngImagePlugin.PngImageFile(fp)
        else:
            image = Image.open(fp)
    except Image.DecompressionBombError as error:
        raise UnreadablePhotoError(f"too large: {error}") from error
    except Exception as error:  # PIL raises many kinds (OSError, SyntaxError, ...)
        raise UnreadablePhotoError(_reason(error)) from error
    limit = Image.MAX_IMAGE_PIXELS
    width, height = image.size
    scale = _decode_scale(image, MAX_DECODE_SIDE)
    held = -(-width // scale) * -(-height // scale)
    if limit is not None and held > limit:
        image.close()
        reduced = f" even decoded at 1/{scale}" if scale > 1 else ""
        raise UnreadablePhotoError(
            f"too large: {width}x{height} pixels, more than "
            f"Image.MAX_IMAGE_PIXELS={limit}{reduced}"
        )
    return image


def check_photo(encoded: bytes) -> tuple[int, int]:
    """``(width, height)`` of a photo that ``decode_photo`` will decode, else raise.

    Cheaper than a decode: a JPEG must end its scans with the end-of-image marker and
    is decoded at 1/8 scale (libjpeg still parses the whole entropy-coded stream, so
    truncated or broken data fails here as in a full decode, for about 2/3 of its
    cost); a PNG is verified (every chunk's CRC, through ``IEND``; no pixels); other
    formats are decoded.

    Raises ``UnreadablePhotoError``.
    """
    image = open_photo(encoded)
    with image:
        size = image.size
        try:
            if image.format == "JPEG":
                # A scan must end with the end-of-image marker; TF refuses a JPEG without
                # it, while libjpeg may fill a zero-padded one with grey without error.
                if encoded.rfind(_JPEG_END) < image.tile[0][2]:  # the scan's offset
                    raise UnreadablePhotoError("truncated: no end-of-image marker")
                width, height = size
                image.draft("RGB", (max(1, width // _CHECK_SCALE), max(1, height // _CHECK_SCALE)))
                image.load()
            elif image.format == "PNG":
                image.verify()
            else:
                image.load()
        except Exception as error:  # noqa: BLE001 - any failure makes the photo unreadable
            raise UnreadablePhotoError(_reason(error)) from error
    return size


def decode_photo(encoded: bytes, max_side: int = MAX_DECODE_SIDE) -> np.ndarray:
    """An encoded photo as an RGB ``uint8`` array ``(height, width, 3)``.

    As ``tf.image.decode_image(channels=3)``: grayscale and 1-bit are repeated on the
    three channels, palette photos (with or without transparency) take their palette's
    colours, the alpha of RGBA/LA photos is dropped (not composited), 16-bit photos keep
    their high byte; CMYK JPEGs are converted by PIL, which reads them as Adobe's inverted
    CMYK (what Photoshop writes, with an Adobe marker); one without that marker is read
    uninverted, as libjpeg and TF do. EXIF orientation is ignored (the photo is not
    rotated), as TF and tfds do.

    Unlike TF, a photo longer than ``max_side`` (2048) px is decoded reduced so that its
    long side is at most ``max_side``: JPEGs by libjpeg's DCT scaling (1/2, 1/4 or 1/8,
    cheap in time and memory), then, for what is left, an integer box reduction
    (``Image.reduce``). No tf_flowers photo is that large.

    Raises ``UnreadablePhotoError`` (see ``open_photo``).
    """
    image = open_photo(encoded)
    with image:
        try:
            scale = _decode_scale(image, max_side)
            if scale > 1:
                width, height = image.size
                image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
            image.load()
            rgb = _to_rgb(image)
            longest = max(rgb.size)
            if longest > max_side:
                rgb = rgb.reduce(-(-longest // max_side))
            return np.asarray(rgb)
        except Exception as error:  # noqa: BLE001 - any failure makes the photo unreadable
            raise UnreadablePhotoError(_reason(error)) from error


def _decode_scale(image: Image.Image, max_side: int) -> int:
    """The JPEG DCT scaling (1, 2, 4 or 8) that brings the long side to ``max_side``."""
    if image.format != "JPEG":
        return 1
    longest = max(image.size)
    for scale in (1, 2, 4):
        if -(-longest // scale) <= max_side:
            return scale
    return 8


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode.startswith("I;16") or (mode == "I" and image.format == "PNG"):
        # 16-bit grayscale (Pillow < 11 opens it as "I"): the high byte, as TF; PIL clips.
        high = np.clip(np.asarray(image) >> 8, 0, 255).astype(np.uint8)
        return Image.fromarray(high).convert("RGB")
    if mode == "CMYK" and image.format == "JPEG" and "adobe" not in image.info:
        image = image.point(lambda value: 255 - value)  # PIL assumes Adobe's inverted CMYK
    if mode == "PA" or (mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")  # the colours, without PIL's transparency warning
    return image.convert("RGB")


def _reason(error: BaseException) -> str:
    """A short reason for a photo that cannot be decoded."""
    if isinstance(error, UnreadablePhotoError):
        return str(error)
    if isinstance(error, UnidentifiedImageError) or str(error) == "not identified by this driver":
        return "not an image"
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def decode_photos(
    encoded: Sequence[bytes], workers: int = 0, describe: Callable[[int], str] | None = None
) -> list[np.ndarray]:
    """Decode every photo of ``encoded`` with ``workers`` threads (0: one per core).

    A photo that cannot be decoded raises ``UnreadablePhotoError`` naming it:
    ``describe(index)`` (default ``photo <index>``) and the reason.
    """
    describe = describe or (lambda index: f"photo {index}")

    def decode(numbered: tuple[int, bytes]) -> np.ndarray:
        index, blob = numbered
        try:
            return decode_photo(blob)
        except UnreadablePhotoError as error:
            raise UnreadablePhotoError(f"{describe(index)} cannot be decoded ({error})") from error

    if len(encoded) <= 1 or workers == 1:
        return [decode(item) for item in enumerate(encoded)]
    with ThreadPoolExecutor(workers or default_workers(), thread_name_prefix="decode_photo") as pool:
        return list(pool.map(decode, enumerate(encoded), chunksize=16))


class DecodedCache:
    """The last ``size`` decoded splits of this process, by a key the caller chooses.

    ``get(key, decode)`` returns the kept value for ``key`` or stores ``decode()``'s;
    ``same_source`` drops older keys of the same source first (a rewritten file), so a
    split is never held twice. Thread-safe: ``ParallelRunner`` and ``ThreadRunner`` nodes
    may load at once.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, decode: Callable[[], Any],
            same_source: Callable[[Hashable], bool] | None = None) -> Any:
        with self._lock:
            if key not in self._kept:
                for stale in [k for k in self._kept if same_source and same_source(k)]:
                    del self._kept[stale]
                self._kept[key] = decode()
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(key)
            return self._kept[key]

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


# The train and the validation split of the current run.
DECODED_SPLITS = DecodedCache(size=2)
