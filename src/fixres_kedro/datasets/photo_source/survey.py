"""What an archive or folder holds besides usable photos, and every line that says so.

The walkers and the checks only report what they find to a ``Survey``; it decides what is
a photo at ``<root>/<class>/<file>``, and owns the texts: ONE warning line per kind of
skipped file, counting them and naming a few, and the ``data.path`` line that stops a
source with nothing to train on. Keeping them here keeps their wording and order one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import NamedTuple

from fixres_kedro.datasets.photo_source.entry import Entry
from fixres_kedro.errors import DataSourceError
from fixres_kedro.fixres.photos import MAX_DECODE_SIDE

logger = logging.getLogger("fixres_kedro.datasets.photo_source")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LAYOUT = "<root>/<class>/<file>.jpg"
PHOTO_DEPTH = 3  # root/class/file
NAMES_SHOWN = 5  # a warning names this many files, then says "and N more"


class Check(NamedTuple):
    """What checking one photo file found: its size, or why it cannot be decoded."""

    size: tuple[int, int] | None = None  # width, height
    problem: str | None = None


def listing(names: Iterable[str]) -> str:
    """``a, b, c, d, e and 3 more``."""
    names = list(names)
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def class_folder(name: str) -> str:
    """``root/class`` of a photo file's ``root/class/file``."""
    return "/".join(PurePosixPath(name).parts[: PHOTO_DEPTH - 1])


@dataclass
class Survey:
    """What one read of ``where`` found; ``kind``: what an entry is called in warnings."""

    where: str
    kind: str = "archive member"
    unsafe: dict[str, str] = field(default_factory=dict)  # links, special files: why
    misplaced: list[str] = field(default_factory=list)  # photo files at another depth
    folders: set[str] = field(default_factory=set)  # every root/<name> folder
    photo_files: list[str] = field(default_factory=list)  # at root/class/file, checked
    unreadable: dict[str, str] = field(default_factory=dict)  # photo file: why
    large: dict[str, tuple[int, int]] = field(default_factory=dict)  # decoded reduced

    # --- what the read finds ---------------------------------------------------------

    def admit(self, entry: Entry) -> bool:
        """Whether ``entry`` is a photo file at root/class/file, to read; records the rest."""
        if entry.skipped:  # before anything reads the name as a path below the root
            self.unsafe[entry.name or "/"] = entry.skipped
            return False
        parts = PurePosixPath(entry.name).parts
        if not parts or _hidden(parts):
            return False
        if len(parts) >= PHOTO_DEPTH or (entry.is_dir and len(parts) == PHOTO_DEPTH - 1):
            self.folders.add("/".join(parts[: PHOTO_DEPTH - 1]))
        if entry.is_dir or not entry.name.lower().endswith(IMAGE_SUFFIXES):
            return False
        if len(parts) != PHOTO_DEPTH:
            self.misplaced.append(entry.name)
            return False
        return True

    def checked(self, name: str, check: Check) -> None:
        """The check of the photo file ``name`` (once per name)."""
        self.photo_files.append(name)
        if check.problem:
            self.unreadable[name] = check.problem
        elif check.size and max(check.size) > MAX_DECODE_SIDE:
            self.large[name] = check.size

    # --- what it says ----------------------------------------------------------------

    def report(self) -> None:
        """The warnings, in order, and the ``DataSourceError`` where nothing can train."""
        self._warn_unsafe()
        self._stop_without_photos()
        self._warn_misplaced()
        self._warn_unreadable()
        self._stop_if_none_decodes()
        self._note_large()
        used = sorted({class_folder(name) for name in self.photo_files if name not in self.unreadable})
        self._warn_folders_without_photos(used)
        self._stop_with_one_class(used)

    def note_read(self, photos: int, classes: int) -> None:
        """The info line of a source read to its end."""
        logger.info("Read %d photos of %d classes from %s", photos, classes, self.where)

    def _warn_unsafe(self) -> None:
        if self.unsafe:
            logger.warning(
                "Skipped %s in %s, %s (never read): %s",
                plural(len(self.unsafe), self.kind), self.where,
                "a link, special file or unsafe path" if len(self.unsafe) == 1
                else "links, special files or unsafe paths",
                listing(f"{name} ({why})" for name, why in sorted(self.unsafe.items())),
            )

    def _stop_without_photos(self) -> None:
        if self.photo_files:
            return
        if not self.misplaced:
            raise DataSourceError(
                f"data.path: no .jpg/.jpeg/.png files in {self.where}; expected the layout {LAYOUT}"
            )
        misplaced = sorted(self.misplaced)
        depths = sorted({len(PurePosixPath(name).parts) for name in misplaced})
        raise DataSourceError(
            f"data.path: {self.where} is not laid out {LAYOUT} (image files found at {depths} "
            f"levels, e.g. {misplaced[0]}; expected {PHOTO_DEPTH})"
        )

    def _warn_misplaced(self) -> None:
        if self.misplaced:
            logger.warning(
                "Skipped %s in %s not at %s: %s",
                plural(len(self.misplaced), "photo file"), self.where, LAYOUT,
                listing(sorted(self.misplaced)),
            )

    def _warn_unreadable(self) -> None:
        if self.unreadable:
            logger.warning(
                "Skipped %d of %s in %s that cannot be decoded: %s",
                len(self.unreadable), plural(len(self.photo_files), "photo file"), self.where,
                listing(f"{name} ({why})" for name, why in sorted(self.unreadable.items())),
            )

    def _stop_if_none_decodes(self) -> None:
        if len(self.unreadable) == len(self.photo_files):
            first = min(self.unreadable)
            raise DataSourceError(
                f"data.path: none of the {plural(len(self.photo_files), 'photo file')} at {LAYOUT} "
                f"in {self.where} can be decoded (e.g. {first}: {self.unreadable[first]})"
            )

    def _note_large(self) -> None:
        if self.large:
            logger.info(
                "%s longer than %d px will be decoded reduced to at most %d px: %s",
                plural(len(self.large), "photo"), MAX_DECODE_SIDE, MAX_DECODE_SIDE,
                listing(f"{name} ({width}x{height})" for name, (width, height) in sorted(self.large.items())),
            )

    def _warn_folders_without_photos(self, used: list[str]) -> None:
        empty = sorted(self.folders - set(used))
        if empty:
            logger.warning(
                "Skipped %s in %s without a usable photo (%s): %s",
                plural(len(empty), "folder"), self.where,
                "not a class" if len(empty) == 1 else "not classes",
                listing(f"{folder}/" for folder in empty),
            )

    def _stop_with_one_class(self, used: list[str]) -> None:
        if len({folder.split("/")[-1].lower() for folder in used}) < 2:
            raise DataSourceError(
                f"data.path: {self.where} has usable photos in only one class folder "
                f"({listing(used)}/); a classifier needs at least 2 classes, laid out {LAYOUT}"
            )
