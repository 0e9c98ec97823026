"""Corpus runs: which files, which share of them (``--shard``), and running them as jobs.

Discovery is deterministic: files given are taken as given; directories are searched
recursively for ``*.yaml``/``*.yml`` in sorted order, skipping hidden directories and
directories named ``invalid`` (their files are broken on purpose) unless that directory is
the one given. A job runs one scenario file under each requested kernel and returns typed, picklable
results (:mod:`ftscen.report.records`) that the reporters render, so ``--jobs N`` and a serial
run print the very same thing, in input order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ftscen.app.pipeline import STDIN, STDIN_SHOWN
from ftscen.app.workers import signals_held, start_pool, stop_pool
from ftscen.core.errors import Diagnostic, ScenarioInvalid, UsageError
from ftscen.emu.run import Budget
from ftscen.report import golden
from ftscen.report.golden import GoldenMode
from ftscen.report.records import JobResult, RunRecord

SUFFIXES = (".yaml", ".yml")
SKIPPED_DIR = "invalid"


# ---- discovery ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """The scenario files under some paths, and the folders that could not be read (each a
    diagnostic naming the folder and the OS's reason: their scenarios were not run)."""

    files: list[Path]
    problems: list[Diagnostic]


def scan(paths: Sequence[str | os.PathLike[str]]) -> Found:
    """Scenario files under ``paths``, in argument order, each directory sorted; no duplicates.
    A path that does not exist is kept (running it reports the missing file)."""
    out: list[Path] = []
    problems: list[Diagnostic] = []
    seen: set[Path] = set()
    for given in map(Path, paths):
        found = _walk(given, problems) if os.path.isdir(given) else [given]
        for f in found:
            key = Path(os.path.normpath(f))
            if key not in seen:
                seen.add(key)
                out.append(f)
    return Found(out, problems)


def discover(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files of :func:`scan` (its unreadable folders are left out: use :func:`scan` to
    report them)."""
    return scan(paths).files


def _walk(root: Path, problems: list[Diagnostic]) -> list[Path]:
    found = []
    for here, dirs, files in os.walk(root, onerror=lambda exc: problems.append(_unreadable(exc))):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != SKIPPED_DIR]
        found += [Path(here, f) for f in files if f.endswith(SUFFIXES) and not f.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def _unreadable(exc: OSError) -> Diagnostic:
    folder = Path(exc.filename or ".").as_posix()
    return Diagnostic(
        folder,
        0,
        0,
        f"cannot read the folder: {exc.strerror or exc}",
        hint="its scenarios were not run; make it readable or leave it out",
    )


# ---- sharding -------------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): shard K of N, 1 <= K <= N."""
    k, sep, n = text.partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise UsageError(f"--shard: '{text}' is not K/N (e.g. --shard 2/4)")
    kk, nn = int(k), int(n)
    if nn < 1 or not 1 <= kk <= nn:
        raise UsageError(f"--shard: {text}: K must be between 1 and N, and N at least 1")
    return kk, nn


def shard(items: Sequence[Path], k: int, n: int) -> list[Path]:
    """Shard ``k`` of ``n`` (1-based) of a sorted list: every n-th item from the k-th, so the
    shards are disjoint, together complete, and differ in size by at most one."""
    return list(items[k - 1 :: n])


# ---- jobs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One scenario file to run under each requested kernel (all: the scenario's own)."""

    path: str
    versions: tuple[str, ...] | None = None
    budget: Budget = field(default_factory=Budget)
    golden: GoldenMode | None = None
    text: bytes | None = None  # the scenario's bytes when it was read from standard input
    #: a file with explored calls: refuse a kernel's space over this many placements, and
    #: stop after this many in all (docs/explore.md)
    max_placements: int = 100_000


def run_job(job: Job) -> JobResult:
    """Load the scenario once and run it under each kernel version, or (explored calls)
    explore it (never raises)."""
    from ftscen.app import pipeline as api

    shown = STDIN_SHOWN if job.text is not None else api.display_path(job.path)
    try:
        sc = api.load(job.path) if job.text is None else api.load_text(shown, job.text)
        if sc.explores:
            from ftscen.app.corpus_explore import explore_job

            explored = explore_job(
                sc, shown, job.path, job.versions, job.budget, job.max_placements, job.golden
            )
            return JobResult(shown, versions=job.versions, explored=explored)
        runs: list[RunRecord] = []
        versions = list(job.versions) if job.versions else None
        start = time.perf_counter()
        for rep in api.iter_reports(sc, shown, versions, job.budget):
            check = None
            if job.golden is not None:
                with signals_held():  # a stop lands before or after a golden write, not during it
                    check = golden.check(rep, job.path, job.golden)
            runs.append(RunRecord.of(rep, check, time.perf_counter() - start))
            start = time.perf_counter()
        return JobResult(shown, tuple(runs), versions=job.versions)
    except ScenarioInvalid as exc:
        return JobResult(shown, diagnostics=tuple(exc.diagnostics), versions=job.versions)
    except Exception as exc:  # noqa: BLE001 (a bug in ftscen: reported for this file only)
        return JobResult(shown, error=f"{type(exc).__name__}: {exc}", versions=job.versions)


def run_jobs(jobs: Sequence[Job], workers: int = 1) -> Generator[JobResult, None, None]:
    """Results in the order of ``jobs``; with ``workers > 1`` the jobs run in that many
    processes (each result is yielded as soon as it and all before it are done). Closing
    the iterator early (an interrupt, a closed output) ends the workers at once."""
    if workers <= 1 or len(jobs) <= 1:
        yield from map(run_job, jobs)
        return
    workers = min(workers, len(jobs))
    chunk = max(1, min(8, len(jobs) // (workers * 4)))
    pool = start_pool(workers)
    try:
        yield from pool.map(run_job, jobs, chunksize=chunk)
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown()


__all__ = [
    "STDIN",
    "STDIN_SHOWN",
    "Found",
    "Job",
    "discover",
    "parse_shard",
    "run_job",
    "run_jobs",
    "scan",
    "shard",
]
