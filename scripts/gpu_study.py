#!/usr/bin/env python
"""The whole FixRes study on a bare GPU host, in one command, resumable.

    python scripts/gpu_study.py /path/to/flower_photos.tgz            # a new study
    python scripts/gpu_study.py /path/to/flower_photos.tgz --out studies/<id>   # continue it

Stages, each one ``kedro run --env gpu`` (``--env`` to change), in this order:

=========  ===================================================================  ==========
stage      what                                                                 kedro run
=========  ===================================================================  ==========
data       the split, from the archive (FIXRES_DATA_SOURCE=archive)            --pipeline=data
protocols  every configured seed's protocol side by side on the GPU, and the    --pipelines=seeds,training
           base protocol the sweep and the variants read                        --runner=ParallelRunner
sweep      every model at every test resolution, both transforms               --pipeline=sweep
variants   the four fine-tuning variants                                       --pipeline=variants
results    docs/results.md and its picture                                     --pipeline=results
=========  ===================================================================  ==========

Everything lands in the study's folder (``--out``, default ``studies/<study id>``):

* ``study.json``: the manifest (study id, archive and its SHA-256, env, params, commit,
  device; per stage its status, attempts, seconds, and the Kedro versions, i.e. run ids,
  it saved);
* ``project/``: the project's ``pyproject.toml`` and ``conf/`` as they were when the study
  began, from which every stage runs, so that its data root (``data/<env>/``, see
  ``conf/base/globals.yml``) is this study's alone: ``project/data/gpu/...``;
* ``logs/<stage>.<attempt>.log``: each kedro run's whole output; ``timings.tsv``: one row
  per finished node (stage, node, seconds); ``gpu/dmon.<n>.log``: ``nvidia-smi dmon``
  samples (power, utilisation, clocks, memory, one a second) when nvidia-smi exists;
* ``results/``: the results page and its picture, copied from ``project/`` at the end
  (``--publish docs/results.md`` also copies them there, the picture to ``images/``).

Resuming. A rerun with the same ``--out`` (and the same archive) continues the study: the
stages marked done in the manifest are skipped, and a stage that had started and not
finished runs again with ``--resume <run id>``, the run id of the versions its cut attempt
wrote (those of no other stage), so that it continues that run and nothing else's (a new
study is a new folder, with a new data root, and never sees another study's outputs).
Training checkpoints (``06_models/checkpoints``) let a killed training resume mid-way.

Progress: one line per finished node (from the project's NodeTimingHook log line,
``[k/N] <node> finished in <s> s``), prefixed with the stage and the study's elapsed time.

Standard library only; no network; installs nothing. The compiled programs' cache
(``FIXRES_COMPILATION_CACHE``) defaults to the repository's ``.cache/compilation``, shared by
studies (it holds programs, not results): a cache prepared beforehand saves the compilation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MANIFEST = "study.json"
STAGES: dict[str, list[str]] = {
    "data": ["--pipeline=data"],
    "protocols": ["--pipelines=seeds,training", "--runner=ParallelRunner"],
    "sweep": ["--pipeline=sweep"],
    "variants": ["--pipeline=variants"],
    "results": ["--pipeline=results"],
}
FINISHED = re.compile(r"(?:\[\d+/(?P<total>\d+)\] )?(?P<node>\S+) finished in (?P<seconds>[\d.]+) s")
VERSION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z$")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class Study:
    """A study's folder and its manifest, saved atomically after every change."""

    def __init__(self, out: Path, manifest: dict) -> None:
        self.out, self.manifest = out, manifest

    @property
    def project(self) -> Path:
        return self.out / "project"

    def save(self) -> None:
        temporary = self.out / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(self.manifest, indent=2) + "\n")
        os.replace(temporary, self.out / MANIFEST)

    @classmethod
    def open(cls, out: Path, archive: Path, env: str, params: str | None, seeds_note: str | None) -> Study:
        digest = sha256(archive)
        if (out / MANIFEST).exists():
            manifest = json.loads((out / MANIFEST).read_text())
            recorded = (manifest["archive"]["sha256"], manifest["env"], manifest.get("params"))
            if recorded != (digest, env, params):
                raise SystemExit(
                    f"{out} holds study {manifest['study_id']} of another archive, env or params "
                    f"({recorded[1]}, {recorded[2]}): not continuing it as this one; give another --out")
            print(f"continuing study {manifest['study_id']} in {out}", flush=True)
            return cls(out, manifest)
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise SystemExit(f"{out} is not empty and holds no {MANIFEST}: not a study folder")
        study_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
        manifest = {
            "study_id": study_id, "created": now(), "env": env, "params": params,
            "archive": {"path": str(archive), "bytes": archive.stat().st_size, "sha256": digest},
            "git_commit": git("rev-parse", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "python": sys.executable, "host": os.uname().nodename, "note": seeds_note,
            "stages": {name: {"status": "pending", "attempts": 0} for name in STAGES},
        }
        study = cls(out, manifest)
        study.copy_project()
        study.save()
        print(f"new study {study_id} in {out}", flush=True)
        return study

    def copy_project(self) -> None:
        """The project's configuration, frozen for this study; its runs write data/ here."""
        (self.out / ".gitignore").write_text("*\n")  # a study's outputs are not committed
        self.project.mkdir()
        shutil.copy(REPO / "pyproject.toml", self.project / "pyproject.toml")
        shutil.copytree(REPO / "conf", self.project / "conf", ignore=shutil.ignore_patterns("local"))
        (self.project / "conf" / "local").mkdir()
        if (REPO / ".telemetry").exists():
            shutil.copy(REPO / ".telemetry", self.project / ".telemetry")
        (self.project / "src").mkdir()  # kedro wants it; the package is the installed one
        (self.project / "logs").mkdir()
        (self.project / "docs" / "images").mkdir(parents=True)

    def versions(self) -> dict[str, str]:
        """Every versioned file of the study's data: its path (relative) -> version."""
        found = {}
        data = self.project / "data"
        for folder in data.rglob("*") if data.exists() else ():
            if folder.is_dir() and VERSION.match(folder.name):
                found[str(folder.parent.relative_to(data)) + "@" + folder.name] = folder.name
        return found


class DeviceSamples:
    """``nvidia-smi dmon`` in the background, when nvidia-smi exists."""

    def __init__(self, study: Study) -> None:
        self.process = None
        command = shutil.which("nvidia-smi")
        if not command:
            study.manifest["device"] = study.manifest.get("device") or "no nvidia-smi on this host"
            return
        listing = subprocess.run([command, "-L"], capture_output=True, text=True)
        study.manifest["device"] = listing.stdout.strip() or listing.stderr.strip()
        folder = study.out / "gpu"
        folder.mkdir(exist_ok=True)
        path = folder / f"dmon.{len(list(folder.glob('dmon.*.log')))}.log"
        self.file = path.open("w")
        self.process = subprocess.Popen([command, "dmon", "-s", "pucm", "-o", "T"], stdout=self.file,
                                        stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.file.close()


def run_stage(study: Study, name: str, env: str, params: str | None, archive: Path, started: float) -> None:
    record = study.manifest["stages"][name]
    resuming = record["status"] in ("running", "failed")
    record.update(status="running", attempts=record["attempts"] + 1, started=now())
    study.save()
    before = study.versions()
    command = [sys.executable, "-m", "kedro", "run", f"--env={env}", *STAGES[name]]
    if params:
        command.append(f"--params={params}")
    if resuming:
        # The cut attempt's run: versions on disk that no other stage wrote (a SIGKILL
        # leaves them unrecorded); none written yet, the stage simply runs again.
        others = {run for stage, other in study.manifest["stages"].items() if stage != name
                  for run in other.get("run_ids", [])}
        cut = sorted(set(before.values()) - others)
        if cut:
            command.append(f"--resume={cut[-1]}")
    environment = {**os.environ, "FIXRES_DATA_SOURCE": "archive", "FIXRES_DATA_PATH": str(archive),
                   "KEDRO_DISABLE_TELEMETRY": os.environ.get("KEDRO_DISABLE_TELEMETRY", "1")}
    environment.setdefault("FIXRES_COMPILATION_CACHE", str(REPO / ".cache" / "compilation"))
    logs = study.out / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / f"{name}.{record['attempts']}.log"
    record["command"] = " ".join(command)
    print(f"[{time.perf_counter() - started:6.0f} s] {name}: {record['command']}", flush=True)
    began, done = time.perf_counter(), 0
    with log.open("w") as file, (study.out / "timings.tsv").open("a") as timings:
        process = subprocess.Popen(command, cwd=study.project, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            file.write(line)
            match = FINISHED.search(line)
            if match:  # under ParallelRunner each worker counts its own nodes: count here
                done += 1
                total = f"/{match.group('total')}" if match.group("total") else ""
                print(f"[{time.perf_counter() - started:6.0f} s] {name} [{done}{total}] {match.group('node')} "
                      f"finished in {match.group('seconds')} s", flush=True)
                timings.write(f"{name}\t{match.group('node')}\t{match.group('seconds')}\n")
                timings.flush()
        returncode = process.wait()
    after = study.versions()
    produced = {path: version for path, version in after.items() if path not in before}
    record.update(seconds=round(time.perf_counter() - began, 1), finished=now(), returncode=returncode,
                  log=str(log.relative_to(study.out)))
    record.setdefault("outputs", {}).update(produced)
    record["run_ids"] = sorted(set(record.get("run_ids", [])) | set(produced.values()))
    record["status"] = "done" if returncode == 0 else "failed"
    study.save()
    if returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise SystemExit(f"{name} failed (exit {returncode}); see {log}:\n{tail}\n"
                         f"rerun the same command to continue study {study.manifest['study_id']}")


def collect_results(study: Study, publish: Path | None) -> None:
    pages = sorted(study.project.rglob("results.md"), key=lambda p: p.stat().st_mtime)
    if not pages:
        return
    results = study.out / "results"
    (results / "images").mkdir(parents=True, exist_ok=True)
    page = pages[-1]
    pictures = sorted(study.project.rglob("results_sweep.png"), key=lambda p: p.stat().st_mtime)
    shutil.copy(page, results / "results.md")
    if pictures:
        shutil.copy(pictures[-1], results / "images" / "results_sweep.png")
    study.manifest["results"] = {"page": str(page.relative_to(study.out)),
                                 "picture": str(pictures[-1].relative_to(study.out)) if pictures else None}
    if publish is not None:
        publish.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, publish)
        if pictures:
            (publish.parent / "images").mkdir(exist_ok=True)
            shutil.copy(pictures[-1], publish.parent / "images" / "results_sweep.png")
        study.manifest["results"]["published"] = str(publish)
    study.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=Path, help="flower_photos.tgz")
    parser.add_argument("--out", type=Path, default=None, help="the study's folder (default studies/<study id>); "
                        "an existing one is continued")
    parser.add_argument("--env", default="gpu", help="kedro configuration environment (default gpu)")
    parser.add_argument("--params", default=None, help="kedro --params, e.g. model.backbone=tiny")
    parser.add_argument("--stages", default=",".join(STAGES), help="stages to run, in order (default all)")
    parser.add_argument("--publish", type=Path, default=None, help="copy the results page there too")
    options = parser.parse_args(argv)
    archive = options.archive.resolve()
    if not archive.is_file():
        parser.error(f"{archive} is not a file")
    stages = [stage for stage in options.stages.split(",") if stage]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; known: {list(STAGES)}")
    out = (options.out or REPO / "studies" / "new").resolve()
    if options.out is None:
        out = out.parent / (datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    study = Study.open(out, archive, options.env, options.params, None)
    started = time.perf_counter()
    samples = DeviceSamples(study)
    study.save()
    try:
        for name in stages:
            if study.manifest["stages"][name]["status"] == "done":
                print(f"{name}: done earlier in this study, skipped", flush=True)
                continue
            run_stage(study, name, options.env, options.params, archive, started)
        collect_results(study, options.publish)
    finally:
        samples.stop()
        study.manifest.setdefault("sessions", []).append(
            {"ended": now(), "seconds": round(time.perf_counter() - started, 1)})
        study.save()
    print(f"study {study.manifest['study_id']}: stages {', '.join(stages)} done in {time.perf_counter() - started:.0f} s; "
          f"results in {study.out / 'results'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
