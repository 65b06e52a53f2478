"""Reading the photo files a survey admits and checking each one on a thread pool while
the walk goes on, so that a file no decode would take is skipped here, before any split
holds it, and the archive is read once.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from fixres_kedro.datasets.photo_source.entry import Entry
from fixres_kedro.datasets.photo_source.survey import Check, Survey
from fixres_kedro.fixres.errors import UnreadablePhotoError
from fixres_kedro.fixres.photos import check_photo
from fixres_kedro.workers import photo_threads


def check(encoded: bytes) -> Check:
    """``check_photo``'s verdict as a ``Check``: the size, or the problem."""
    try:
        return Check(size=check_photo(encoded))
    except UnreadablePhotoError as error:
        return Check(problem=str(error))


def read_photos(entries: Iterable[Entry], survey: Survey) -> dict[str, bytes]:
    """The photo files among ``entries`` that decode, by name, in the order first read;
    ``survey`` records everything else."""
    photos: dict[str, bytes] = {}
    checks: dict[str, Future[Check] | Check] = {}
    pool = ThreadPoolExecutor(photo_threads(), thread_name_prefix="check_photo")
    try:
        for entry in entries:
            if survey.admit(entry):
                photos[entry.name], checks[entry.name] = _read(entry, pool)
        for name, found in checks.items():
            survey.checked(name, found.result() if isinstance(found, Future) else found)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {name: data for name, data in photos.items() if name not in survey.unreadable}


def _read(entry: Entry, pool: ThreadPoolExecutor) -> tuple[bytes, Future[Check] | Check]:
    """The entry's bytes and their check, submitted to ``pool``; no bytes (and the
    problem) when its size or signature rules it out."""
    try:
        data = entry.read()
    except UnreadablePhotoError as error:
        return b"", Check(problem=str(error))
    return data, pool.submit(check, data)
