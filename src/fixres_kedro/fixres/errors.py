"""Errors that are the user's to fix (a parameter, a photo, a full disk), not bugs.

Each message is one line that says what is wrong and where, for whatever runs the core to
print instead of a traceback (the project's command line adds its own hints).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class FixResError(Exception):
    """Base class of the errors a user fixes in configuration, data or the machine."""


@dataclass(frozen=True)
class Problem:
    """One wrong parameter: its dotted key, what is wrong, and maybe the key meant."""

    key: str
    text: str
    suggestion: str | None = None  # a sibling key, as dotted as ``key``

    def under(self, parent: str) -> Problem:
        """The same problem one level down, in ``parent``."""
        return Problem(_join(parent, self.key), self.text,
                       _join(parent, self.suggestion) if self.suggestion else None)

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion}?)" if self.suggestion else ""
        return f"{self.key} {self.text}{hint}" if self.key else f"{self.text}{hint}"


def _join(parent: str, key: str) -> str:
    if not key:
        return parent
    return f"{parent}{key}" if key.startswith("[") else f"{parent}.{key}"


class InvalidParameterError(FixResError, ValueError):
    """Parameter values the experiment cannot run with: each problem names its key."""

    def __init__(self, problems: list[Problem] | str) -> None:
        self.problems = [Problem("", problems)] if isinstance(problems, str) else list(problems)
        text = "; ".join(map(str, self.problems))
        super().__init__(text if isinstance(problems, str) else f"Invalid parameters: {text}")


class NothingToSummariseError(FixResError, ValueError):
    """A summary was asked for before any of its inputs exist."""


class UnreadablePhotoError(FixResError, ValueError):
    """One encoded photo that cannot be decoded (empty, not an image, damaged, too large).

    The photo source skips such photos with a warning; one that reaches the decoding of a
    split is reported with the split's file and row.
    """


class DamagedFileError(FixResError, ValueError):
    """A stored file that is not what was written (its digest does not match)."""


def megabytes(count: int) -> str:
    """A size for a message: ``12 MB`` (1 MB = 2**20 bytes), ``3.5 KB`` below a megabyte."""
    return f"{count / 2**20:,.0f} MB" if count >= 2**20 else f"{count / 1024:,.1f} KB"


def one_line(message: object, limit: int = 120) -> str:
    """``message`` (an exception, say) on one line of at most ``limit`` characters."""
    text = " ".join(str(message).split()) or (type(message).__name__ if isinstance(message, BaseException) else "")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DiskFullError(FixResError, OSError):
    """The disk (or quota) was full while writing ``path``; no partial file is left."""

    def __init__(self, path: str | Path, needed: int, error: OSError | None = None) -> None:
        self.path, self.needed = Path(path), needed
        free = _free_bytes(self.path)
        where = f"; {megabytes(free)} free there" if free is not None else ""
        super().__init__(
            f"no space left on the device for {path} (it needs about {megabytes(needed)}"
            f"{where}): free some space and run again"
        )


def _free_bytes(path: Path) -> int | None:
    import shutil  # noqa: PLC0415

    for folder in (path, *path.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return None


class CheckpointInUseError(FixResError, RuntimeError):
    """Another process is training the same run (it holds the checkpoint's lock)."""

    def __init__(self, directory: str | Path, holder: str) -> None:
        self.directory = Path(directory)
        super().__init__(
            f"the training checkpoint {directory} is in use by {holder}: the same run is "
            "training there; wait for it to finish or stop it, then run again"
        )


class NoBackendError(FixResError, RuntimeError):
    """The Keras backend to train with is not installed, or sees no accelerator where one
    is required."""
