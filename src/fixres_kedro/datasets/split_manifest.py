"""The split as one unit: a manifest written last, and the lock of the data run writing it.

``split_dataset`` has four outputs (the train and validation Parquet files, ``class_names``
and the summary), each renamed into place on its own. A data run killed between two
renames, or two data runs at once, could leave parts of two runs side by side, which
would train silently. So:

* ``SplitManifestHook`` (``fixres_kedro.hooks``) takes the split's lock (``split.lock``
  beside the manifest, an ``fcntl.flock`` held by the writing process, as a training's
  checkpoint lock is) before ``split_dataset`` runs: a second data run stops there with
  one line naming the first;
* before the first part is saved the manifest says ``writing``; once the four are saved it
  says ``complete``, with each part's SHA-256, the class names and the data run's id
  (its Kedro session id, the version of every output it saves)::

      {"format": 1, "state": "complete", "run_id": "2026-12-04T06.30.00.000Z",
       "parts": {"train_split": {"file": "train_split.parquet", "sha256": "..."}, ...},
       "class_names": ["daisy", "dandelion", ...]}

* every reader of a part (``DecodedSplitDataset``, ``SplitPartJSONDataset``,
  ``ClassNamesDataset``) checks it against the manifest (``check_part``): a manifest
  missing or still ``writing``, or a part whose digest is not the manifest's, is refused
  in one line that names the command writing the split again.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kedro.io.core import AbstractDataset, get_filepath_str

from fixres_kedro.datasets.atomic import JSONDataset, atomic_file, file_digest
from fixres_kedro.errors import DamagedInputError, SplitInUseError
from fixres_kedro.fixres.errors import one_line
from fixres_kedro.writers import rewrite_command

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, as for the training checkpoints
    fcntl = None  # type: ignore[assignment]

FORMAT = 1
WRITING, COMPLETE = "writing", "complete"
PARTS = ("train_split", "validation_split", "class_names", "split_summary")
LOCK_NAME = "split.lock"


def manifest_path(manifest: str | dict[str, str]) -> str:
    """A reader's ``manifest`` argument: a path, or ``{filepath: ...}`` as the catalog gives it
    (Kedro makes a ``filepath`` relative to the project, not a bare string)."""
    return manifest["filepath"] if isinstance(manifest, dict) else manifest


def rewrite_split() -> str:
    """The command that writes the whole split again, in this run's environment."""
    return rewrite_command("train_split@bytes", default="data")


def _holder(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv)),
            "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}


def _holder_text(fd: int, tries: int = 20) -> str:
    """What the lock's holder wrote in it: it writes just after it takes the lock, so an
    empty file is read again for up to a second."""
    for _ in range(tries):
        text = os.pread(fd, 4096, 0).decode(errors="replace")
        if text.strip():
            return text
        time.sleep(0.05)
    return ""


def describe_holder(text: str) -> str:
    """``data run <id> (pid N on host: command), since ...`` from a lock file's text."""
    try:
        holder = json.loads(text)
        return (f"data run {holder['run_id']} (pid {holder['pid']} on {holder['host']}: "
                f"{holder['command']}), since {holder['since']}")
    except (ValueError, KeyError, TypeError):
        return "another data run"


def live_holder(lock: Path) -> str | None:
    """Who holds ``lock`` now (None: nobody, the writer is gone)."""
    if fcntl is None or not lock.is_file():
        return None
    fd = os.open(lock, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return describe_holder(_holder_text(fd))
        return None
    finally:
        os.close(fd)  # also lets go of the shared lock taken to test it


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path``; one ``DamagedFileError`` line if it is missing or not one."""
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DamagedInputError(
            f"{path} is missing: the split beside it was not written whole by one data run "
            f"(or by an older version of the project); rewrite it with {rewrite_split()}") from None
    except (OSError, ValueError) as error:
        raise DamagedInputError(f"{path} cannot be read ({one_line(error, 100)}): rewrite the split "
                               f"with {rewrite_split()}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("parts", {}), dict) \
            or manifest.get("state") not in (WRITING, COMPLETE):
        raise DamagedInputError(f"{path} is not a split manifest: rewrite the split with {rewrite_split()}")
    return manifest


def check_part(manifest_path: str | Path, part: str, file: str | Path, digest: str | None = None) -> dict[str, Any]:
    """Refuse ``file`` (the split's ``part``) unless the manifest is complete and records
    its digest (``digest``, else the file's): the manifest, when it does."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    run_id = manifest.get("run_id", "?")
    if manifest["state"] != COMPLETE:
        holder = live_holder(manifest_path.with_name(LOCK_NAME))
        if holder is not None:
            raise DamagedInputError(f"the split in {manifest_path.parent} is being written by {holder}: "
                                   "wait for that run to finish, then run again")
        raise DamagedInputError(
            f"the split in {manifest_path.parent} is incomplete: data run {run_id} stopped while writing it "
            f"({manifest_path} says {WRITING}); rewrite it with {rewrite_split()}")
    entry = manifest["parts"].get(part)
    actual = digest or file_digest(file)
    if not isinstance(entry, dict) or entry.get("sha256") != actual:
        raise DamagedInputError(
            f"{file} is not the {part} that data run {run_id} wrote with the rest of the split "
            f"({manifest_path}): the split mixes data runs; rewrite it with {rewrite_split()}")
    return manifest


class SplitManifestDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """The split's manifest (``split_manifest.json``) and, beside it, its writer's lock.

    ``load`` returns the manifest (one line if it is missing or damaged); ``save`` writes
    it atomically. ``acquire`` / ``release`` hold the lock; ``begin`` and ``complete``
    write the two states (``SplitManifestHook`` calls them around ``split_dataset``).
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self._lock_fd: int | None = None
        self.metadata = metadata

    @property
    def folder(self) -> Path:
        """Where the manifest is: the parts' files are recorded relative to it."""
        return self._filepath.parent

    @property
    def lock_path(self) -> Path:
        return self._filepath.with_name(LOCK_NAME)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def load(self) -> dict[str, Any]:
        return read_manifest(self._filepath)

    def save(self, data: dict[str, Any]) -> None:
        with atomic_file(self._filepath) as partial:
            partial.write_text(json.dumps(data, indent=2) + "\n")

    def acquire(self, run_id: str) -> None:
        """Hold the split's lock for data run ``run_id`` (again: nothing to do);
        ``SplitInUseError`` naming the holder when another process holds it."""
        if self._lock_fd is not None or fcntl is None:
            return
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(_holder_text(fd))
            os.close(fd)
            raise SplitInUseError(
                f"the split in {self._filepath.parent} is being written by {holder}: wait for that "
                "run to finish (or stop it), then run again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_holder(run_id)).encode(), 0)
        self._lock_fd = fd

    def release(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def begin(self, run_id: str) -> None:
        """Mark the split as being rewritten by ``run_id``: no reader takes it until
        ``complete``."""
        self.save({"format": FORMAT, "state": WRITING, "run_id": run_id})

    def complete(self, run_id: str, parts: dict[str, dict[str, str]], class_names: list[str]) -> None:
        """Record the four parts ``run_id`` wrote (file and SHA-256 of each)."""
        self.save({"format": FORMAT, "state": COMPLETE, "run_id": run_id,
                   "parts": {part: parts[part] for part in PARTS}, "class_names": list(class_names)})


class SplitPartJSONDataset(JSONDataset):
    """A JSON part of the split (``split_summary``), checked against the split's manifest
    (``manifest``: its path, or ``{filepath: ...}``) whenever it is loaded; ``part``: its
    name there."""

    def __init__(self, *, manifest: str | dict[str, str], part: str, **kwargs: Any) -> None:
        super().__init__(dataset_name=part, **kwargs)
        self._manifest = manifest_path(manifest)
        self._part = part

    def rewrite_hint(self) -> str:
        return f"rewrite the split with {rewrite_split()}"

    def _local_load_path(self) -> Path:
        return Path(get_filepath_str(self._get_load_path(), self._protocol))

    def load(self) -> Any:
        data = super().load()  # invalid JSON first: the plainer message
        self._check(data)
        check_part(self._manifest, self._part, self._local_load_path())
        return data

    def _check(self, data: Any) -> None:
        """What the part's content must be, before its digest is compared."""


class ClassNamesDataset(SplitPartJSONDataset):
    """``class_names.json``: the class names, label by label, as the split recorded them.

    A file that is not a list of distinct names, or whose names differ in count or order
    from those the manifest recorded with the split's labels, is one line naming the file
    and the command that writes the split again.
    """

    def __init__(self, *, manifest: str | dict[str, str], part: str = "class_names", **kwargs: Any) -> None:
        super().__init__(manifest=manifest, part=part, **kwargs)

    def _check(self, data: Any) -> None:
        path = self._local_load_path()
        if not isinstance(data, list) or not data or not all(isinstance(name, str) and name for name in data):
            raise DamagedInputError(f"{path} is not a list of class names (got {one_line(json.dumps(data), 60)}): "
                                   f"{self.rewrite_hint()}")
        if len(set(data)) != len(data):
            raise DamagedInputError(f"{path} names a class twice: {self.rewrite_hint()}")
        recorded = read_manifest(Path(self._manifest)).get("class_names")
        if not isinstance(recorded, list):
            return  # a manifest still being written: check_part says so
        if len(data) != len(recorded):
            raise DamagedInputError(f"{path} has {len(data)} class names but the split's labels have "
                                   f"{len(recorded)} ({self._manifest}): {self.rewrite_hint()}")
        if sorted(data) != sorted(recorded):
            raise DamagedInputError(f"{path} names other classes than the split's labels "
                                    f"({self._manifest}): {self.rewrite_hint()}")
        if data != recorded:
            raise DamagedInputError(f"{path} lists the class names in another order than the split's labels "
                                   f"({self._manifest}): {self.rewrite_hint()}")
