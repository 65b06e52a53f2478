"""Reading photos: JPEG decoding speed on one core, and the memory an archive with huge
members takes, for the project tree on ``PYTHONPATH``. Not a test: run it against two
trees to compare them.

    PYTHONPATH=src python benchmarks/photo_reading.py --archive ../shared/data/flower_photos.tgz
    git worktree add ../before 0f60c3a
    PYTHONPATH=../before/src python benchmarks/photo_reading.py --archive ../shared/data/flower_photos.tgz

* decode: the first ``--photos`` JPEGs of the archive decoded by the tree's
  ``decode_photo`` on one thread pinned to one core, ``--repeats`` times; the median
  photos/s.
* memory: issue #12's case, an archive holding two 1.5 GiB zero-filled ``.jpg`` members
  beside 20 photos, read by the ``archive`` source (``ImageSourceDataset.load``) in a fresh
  process (``harness.run_child``); how much its peak resident memory grew during the load.
* decoded split (``--decoded-split``): the real train split written as the ``data``
  pipeline writes it, then read by ``DecodedSplitDataset.load`` in fresh processes: alone,
  and after reading the archive and writing the split in the same process (a whole
  ``kedro run``); the process's peak resident memory (``VmHWM``). ``--trees`` alternates
  several trees' ``src`` folders run by run, to compare them on the same file.

    python benchmarks/photo_reading.py --archive ../shared/data/flower_photos.tgz \
        --decoded-split --repeats 3 --trees src ../before/src
"""

# ruff: noqa: T201, PLC0415  (a script that prints; the tree is imported once chosen)

from __future__ import annotations

import argparse
import json
import os
import tarfile
import tempfile
from pathlib import Path

import harness

GIB = 2**30


def _decode_photo():
    try:  # the core's, since the redesign
        from fixres_kedro.fixres.photos import decode_photo
    except ImportError:  # before it
        from fixres_kedro.datasets.image_source import decode_photo
    return decode_photo


def _jpegs(archive: Path, count: int) -> list[tuple[str, bytes]]:
    photos = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and member.name.lower().endswith(".jpg"):
                photos.append((member.name, tar.extractfile(member).read()))
                if len(photos) == count:
                    break
    return photos


def decode_speed(archive: Path, count: int, repeats: int) -> dict:
    harness.pin([min(os.sched_getaffinity(0))])
    decode = _decode_photo()
    encoded = [data for _, data in _jpegs(archive, count)]
    rates = []
    for _ in range(repeats):
        watch = harness.Stopwatch()
        for data in encoded:
            decode(data)
        rates.append(len(encoded) / watch.seconds)
    return {"photos": len(encoded), "photos_per_s": [round(r) for r in rates],
            "median_photos_per_s": round(harness.median(rates))}


def child(tar: str) -> None:
    """In a fresh process: how much reading ``tar`` with the archive source grows the peak."""
    from fixres_kedro.datasets import ImageSourceDataset

    before = harness.maxrss_mib()
    photos = ImageSourceDataset(source="archive", path=tar).load()
    harness.emit({"rows": len(photos), "peak_grew_mib": round(harness.maxrss_mib() - before)})


def huge_member_memory(archive: Path) -> dict:
    photos = [item for item in _jpegs(archive, 400) if "/daisy/" in item[0]][:10]
    photos += [item for item in _jpegs(archive, 2000) if "/roses/" in item[0]][:10]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "huge_members.tar"
        with path.open("wb") as file:
            for name, data in photos:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                file.write(info.tobuf(tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512))
            for name in ("flower_photos/daisy/huge.jpg", "flower_photos/roses/huge.jpg"):
                info = tarfile.TarInfo(name)
                info.size = int(1.5 * GIB)
                file.write(info.tobuf(tarfile.PAX_FORMAT))
                file.seek(info.size, os.SEEK_CUR)  # zeros, left as a hole in the file
            file.write(bytes(1024))
        return harness.run_child(harness.child_command(__file__, "--tar", path), timeout=600)


def write_split(archive: str, path: str) -> None:
    """The archive's train split, written as the ``data`` pipeline writes it."""
    from fixres_kedro.datasets import SplitDataset

    train, _ = harness.train_split(archive)
    SplitDataset(filepath=path, save_args={"row_group_size": 256}).save(train)


def split_child(archive: str, path: str, after_archive: bool) -> None:
    """In a fresh process: the memory of loading the decoded split at ``path``; with
    ``after_archive``, after reading the archive and writing it there (a whole run)."""
    import gc

    import pyarrow.parquet  # noqa: F401 - imported before the baseline

    from fixres_kedro.datasets import DecodedSplitDataset

    if after_archive:  # as the data pipeline leaves the process
        write_split(archive, path)
        gc.collect()
    before = harness.rss_mib()
    frame = DecodedSplitDataset(filepath=path).load()
    harness.emit({"rows": len(frame), "before_mib": before, "after_mib": harness.rss_mib(),
                  "peak_mib": harness.rss_mib("VmHWM")})


def decoded_split_memory(archive: Path, repeats: int, trees: list[str]) -> dict:
    """Peak RSS of ``DecodedSplitDataset.load`` on the real train split, per tree: medians
    over ``repeats`` fresh processes, the trees taking turns."""
    runs: dict[str, dict[str, list[dict]]] = {tree: {"alone": [], "after_archive": []} for tree in trees}

    def measure(tree: str, *args: object) -> dict:
        command = harness.child_command(__file__, "--archive", archive, "--split", *args)
        return harness.run_child(command, env={"PYTHONPATH": str(Path(tree).resolve())}, timeout=600)

    with tempfile.TemporaryDirectory() as folder:
        split = Path(folder) / "train_split.parquet"
        measure(trees[0], split, "--write")
        for _ in range(repeats):
            for tree in trees:  # after the archive, each process writes its own split
                runs[tree]["alone"].append(measure(tree, split))
                runs[tree]["after_archive"].append(measure(tree, Path(folder) / "again.parquet",
                                                           "--after-archive"))
    return {
        tree: {case: {"peak_mib": [run["peak_mib"] for run in found],
                      "median_peak_mib": harness.median(run["peak_mib"] for run in found),
                      "median_after_mib": harness.median(run["after_mib"] for run in found)}
               for case, found in cases.items()}
        for tree, cases in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, help="flower_photos.tgz")
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decoded-split", action="store_true", help="only the decoded split's memory")
    parser.add_argument("--trees", nargs="+", default=["src"], help="src folders to compare (--decoded-split)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tar", help=argparse.SUPPRESS)
    parser.add_argument("--split", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--after-archive", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child and arguments.split:
        if arguments.write:
            write_split(str(arguments.archive), arguments.split)
            harness.emit({"written": arguments.split})
        else:
            split_child(str(arguments.archive), arguments.split, arguments.after_archive)
        return
    if arguments.child:
        child(arguments.tar)
        return
    if arguments.archive is None:
        parser.error("--archive is required")
    if arguments.decoded_split:
        print("decoded split:", json.dumps(decoded_split_memory(arguments.archive, arguments.repeats,
                                                                arguments.trees), indent=1))
        return
    import fixres_kedro

    print(f"tree: {Path(fixres_kedro.__file__).parents[1]}")
    print("memory:", json.dumps(huge_member_memory(arguments.archive)))
    print("decode:", json.dumps(decode_speed(arguments.archive, arguments.photos, arguments.repeats)))


if __name__ == "__main__":
    main()
