"""Photos: open, check and decode one, decode many on threads.

The core owns the photos: the photo source (``fixres_kedro.datasets.ImageSourceDataset``)
checks each photo here when it reads an archive or folder, the decoded-split dataset
decodes here, and the input pipelines take what ``decode_photo`` returns: an RGB
``uint8`` array ``(height, width, 3)``.

* ``open_photo`` reads a photo's header (size limits), ``check_photo`` proves it decodes
  (cheaply), ``decode_photo`` decodes it; all three raise ``UnreadablePhotoError``.
* ``photo_signature`` names the format of a file from its first bytes (JPEG or PNG), so
  that a photo source can refuse other files without reading them whole.
* ``decode_photos`` decodes a list on a thread pool (``default_workers`` threads: one per
  CPU core this process may use, shared with the processes ``share_cores`` names),
  naming the first photo that fails.

JPEGs are decoded as TensorFlow's default decode (``tf.io.decode_image(channels=3)``,
``tf.io.decode_jpeg``, tfds, the Keras example) does, bit for bit: libjpeg-turbo (through
``simplejpeg``) with the fast integer IDCT (``JDCT_IFAST``, TF's default ``dct_method``)
and fancy upsampling, CMYK/YCCK converted with TF's formula (tested on every photo of
tf_flowers and on each kind of JPEG: ``tests/fixres/test_photos.py``). PIL decodes the
other formats, and the JPEGs that libjpeg-turbo stops on (see ``decode_photo``); its
accurate IDCT (``JDCT_ISLOW``) is up to about 25 levels away from TF's on photos.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import simplejpeg
from PIL import Image, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from fixres_kedro.fixres.errors import UnreadablePhotoError, one_line

# Photos longer than this are decoded reduced (tf_flowers' longest side is 1024 px; the
# largest size any input pipeline resizes to is 392 px).
MAX_DECODE_SIDE = 2048

_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_END = b"\xff\xd9"  # EOI: entropy-coded data never holds it (0xFF is stuffed)
_CHECK_SCALE = 8  # JPEGs are checked decoded at 1/8 scale (libjpeg's DCT scaling)
SIGNATURE_BYTES = len(_PNG_SIGNATURE)  # what ``photo_signature`` needs of a file


def photo_signature(head: bytes) -> str | None:
    """``"JPEG"`` or ``"PNG"`` when ``head`` (a file's first ``SIGNATURE_BYTES`` bytes, or
    all of a shorter file) starts as such a file does, else ``None``."""
    if head.startswith(_JPEG_SIGNATURE):
        return "JPEG"
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    return None


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_sharing = {"processes": 1}  # processes that share this host's cores (share_cores)


def share_cores(processes: int) -> None:
    """Declare that ``processes`` processes share this host's cores, so that the thread
    pools sized by ``default_workers`` take this one's part (the caller knows how many
    processes it started; the core does not)."""
    _sharing["processes"] = max(1, processes)


def default_workers(processes: int | None = None) -> int:
    """One thread per usable core, the cores divided among ``processes`` processes sharing
    the host (by default as many as ``share_cores`` declared: 1 unless told)."""
    sharing = _sharing["processes"] if processes is None else max(1, processes)
    return max(1, usable_cores() // sharing)


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

    Cheaper than a decode. A JPEG is decoded at 1/8 scale (libjpeg still parses the whole
    entropy-coded stream, so truncated or broken data fails here as in a full decode, for
    about 2/3 of its cost): by libjpeg-turbo, stopping on any warning, as ``decode_photo``
    does first; one that stops it gets ``decode_photo``'s second look (PIL's, also at 1/8
    scale, after the end-of-image test). A PNG is verified (every chunk's CRC, through
    ``IEND``; no pixels); other formats are decoded.

    Raises ``UnreadablePhotoError``.
    """
    image = open_photo(encoded)
    with image:
        size = image.size
        try:
            if image.format == "JPEG":
                if _decode_jpeg(encoded, image, _CHECK_SCALE, strict=True) is None:
                    _require_end_of_image(encoded, image)
                    width, height = size
                    image.draft(
                        "RGB", (max(1, width // _CHECK_SCALE), max(1, height // _CHECK_SCALE))
                    )
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

    As ``tf.image.decode_image(channels=3)``. JPEGs bit for bit: libjpeg-turbo with TF's
    default settings (fast integer IDCT, fancy upsampling); grayscale is repeated on the
    three channels; CMYK and YCCK JPEGs take TF's conversion (Adobe's inverted CMYK when
    the file has an Adobe marker, as Photoshop writes it, else plain CMYK). Other formats
    through PIL: palette photos (with or without transparency) take their palette's
    colours, the alpha of RGBA/LA photos is dropped (not composited), 16-bit photos keep
    their high byte. EXIF orientation is ignored (the photo is not rotated), as TF and
    tfds do.

    A JPEG that libjpeg-turbo stops on (an error, or a warning: damaged entropy-coded
    data, extraneous bytes, a data stream that ends early) is judged as before by PIL: it
    is refused when it lacks its end-of-image marker or PIL's full decode fails (as TF
    refuses data that ends early); else its pixels are libjpeg-turbo's decode through the
    warnings (as TF's), or PIL's where libjpeg-turbo gives none (a warning in the header:
    not bit-identical, within PIL's accurate-IDCT distance, up to about 25 levels).

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
            pixels = None
            if image.format == "JPEG":
                pixels = _decode_jpeg(encoded, image, scale, strict=True)
                if pixels is None:  # damaged or unusual: PIL's verdict, as before
                    _require_end_of_image(encoded, image)
                    judged = _decode_with_pil(image, scale)
                    pixels = _decode_jpeg(encoded, image, scale, strict=False)
                    if pixels is None:
                        pixels = judged
            else:
                pixels = _decode_with_pil(image, scale)
            longest = max(pixels.shape[:2])
            if longest > max_side:
                pixels = np.asarray(Image.fromarray(pixels).reduce(-(-longest // max_side)))
            return pixels
        except Exception as error:  # noqa: BLE001 - any failure makes the photo unreadable
            raise UnreadablePhotoError(_reason(error)) from error


def _decode_jpeg(
    encoded: bytes, image: Image.Image, scale: int, strict: bool
) -> np.ndarray | None:
    """The JPEG decoded as TF's default decode does, at ``1/scale``; ``None`` when
    libjpeg-turbo stops on it (an error; with ``strict``, any warning too).

    TF's ``decode_jpeg``: ``dct_method=""`` is ``JDCT_IFAST`` and ``fancy_upscaling``
    is on; a 4-component (CMYK or YCCK) JPEG is decoded to CMYK and converted
    (``_cmyk_to_rgb``); libjpeg-turbo turns grayscale into RGB by repeating it.
    """
    cmyk = image.mode == "CMYK"
    width, height = image.size
    # simplejpeg picks the smallest libjpeg scaling factor (1/8, 1/4, 3/8, 1/2, ...) that
    # keeps both sides at least these: exactly 1/scale for 2, 4 or 8.
    low_width, low_height = (-(-width // scale), -(-height // scale)) if scale > 1 else (0, 0)
    try:
        pixels = simplejpeg.decode_jpeg(
            encoded,
            colorspace="CMYK" if cmyk else "RGB",
            fastdct=True,
            fastupsample=False,
            min_width=low_width,
            min_height=low_height,
            strict=strict,
        )
    except ValueError:
        return None
    return _cmyk_to_rgb(pixels, _saw_adobe_marker(image)) if cmyk else pixels


def _cmyk_to_rgb(cmyk: np.ndarray, adobe: bool) -> np.ndarray:
    """TF's conversion (``tensorflow/core/lib/jpeg/jpeg_mem.cc``), integer division
    included: Adobe's inverted CMYK ``r = k * c / 255`` with an Adobe marker, else
    ``r = (255 - k) * (255 - c) / 255``."""
    values = cmyk.astype(np.uint16)
    if not adobe:
        values = 255 - values
    return (values[..., :3] * values[..., 3:] // 255).astype(np.uint8)


def _saw_adobe_marker(image: Image.Image) -> bool:
    """libjpeg's ``saw_Adobe_marker``: an APP14 segment of at least 12 bytes that starts
    with ``Adobe``."""
    return any(
        marker == "APP14" and len(data) >= 12 and data.startswith(b"Adobe")
        for marker, data in getattr(image, "applist", ())
    )


def _require_end_of_image(encoded: bytes, image: Image.Image) -> None:
    """A JPEG's scans must end with the end-of-image marker; TF refuses a JPEG without
    it, while libjpeg may fill a zero-padded one with grey without error."""
    if encoded.rfind(_JPEG_END) < image.tile[0][2]:  # the first scan's offset
        raise UnreadablePhotoError("truncated: no end-of-image marker")


def _decode_with_pil(image: Image.Image, scale: int) -> np.ndarray:
    """PIL's decode, at ``1/scale`` for a JPEG (its draft mode), as RGB."""
    if scale > 1:
        width, height = image.size
        image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
    image.load()
    return np.asarray(_to_rgb(image))


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
    return one_line(error)


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


def decode_split(photos: Sequence[bytes] | Sequence[np.ndarray], workers: int = 0) -> list[np.ndarray]:
    """A split's photos as decoded arrays.

    Decoded photos (``numpy`` arrays, as the catalog's ``*_split@decoded`` entries load
    them) are passed through, not copied; encoded ones (bytes) are decoded on ``workers``
    threads (``decode_photos``). A photo that cannot be decoded
    raises ``UnreadablePhotoError`` naming its position in the split.
    """
    decoded = [isinstance(photo, np.ndarray) for photo in photos]
    if all(decoded):
        return list(photos)
    if any(decoded):
        raise ValueError("a split's image column mixes decoded arrays and encoded bytes")
    count = len(photos)
    return decode_photos(photos, workers, lambda index: f"photo {index} of a split of {count}")
