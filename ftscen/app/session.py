"""One ``ftscen run`` invocation: files -> jobs -> results -> reporters -> exit code.

The CLI parses options into :class:`RunOptions` and calls :func:`run_session` with the
streams to write to; nothing here reads ``sys.argv`` or exits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO

from ftscen.app import corpus
from ftscen.app.corpus import Job
from ftscen.app.workers import worker_count
from ftscen.core.errors import ExitCode, UsageError
from ftscen.emu.run import Budget
from ftscen.report.corpus import (
    LogMode,
    Progress,
    Sink,
    Tally,
    emit_broken,
    emit_detailed,
    emit_run,
    kernel_rows,
    render_json,
)
from ftscen.report.golden import GoldenMode
from ftscen.report.records import JobResult


@dataclass(frozen=True)
class RunOptions:
    paths: tuple[str, ...]
    versions: tuple[str, ...] | None = None
    json: bool = False
    quiet: bool = False
    golden: GoldenMode | None = None
    jobs: int = 1
    shard: tuple[int, int] | None = None
    junit: str | None = None
    budget: Budget = field(default_factory=Budget)


@dataclass(frozen=True)
class Streams:
    out: IO[str]
    err: IO[str]
    color: bool = False
    progress: bool = False

    @classmethod
    def of(cls, out: IO[str], err: IO[str]) -> Streams:
        return cls(out, err, _isatty(out), _isatty(err))


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def golden_mode(
    compare: bool, update: bool, environ: os._Environ[str] | dict[str, str]
) -> GoldenMode | None:
    """``--golden`` / ``--update-golden``; updating is refused when CI is set."""
    from ftscen.report.golden import ci_refusal

    if update:
        refusal = ci_refusal(environ)
        if refusal:
            raise UsageError(refusal)
        return GoldenMode.UPDATE
    return GoldenMode.COMPARE if compare else None


def is_detailed(opts: RunOptions) -> bool:
    """One file named on the command line keeps the detailed output (log and assertions)."""
    return len(opts.paths) == 1 and not os.path.isdir(opts.paths[0]) and opts.shard is None


def plan(opts: RunOptions) -> tuple[list[Job], list[JobResult]]:
    """The jobs to run, and the folders that could not be read (as results that failed)."""
    if opts.junit is not None:
        check_junit_path(opts.junit)
    found = corpus.scan(opts.paths)
    files = found.files
    if not files and not found.problems:
        raise UsageError(f"no scenario files (*.yaml, *.yml) under {', '.join(opts.paths)}")
    if opts.shard is not None:
        files = corpus.shard(files, *opts.shard)
    jobs = [Job(str(f), opts.versions, opts.budget, opts.golden) for f in files]
    return jobs, [JobResult(d.file, diagnostics=(d,), folder=True) for d in found.problems]


def run_session(opts: RunOptions, streams: Streams) -> ExitCode:
    """Run everything, report it, write the JUnit file if asked; returns the exit code."""
    jobs, unreadable = plan(opts)
    progress = Progress(streams.err, len(jobs)) if streams.progress and len(jobs) > 1 else None
    sink = Sink(streams.out, streams.color and not opts.json, progress)
    err = Sink(streams.err, False, progress)
    tally, results = Tally(), []
    if not jobs and not unreadable:
        k, n = opts.shard or (1, 1)
        sink.line(f"shard {k}/{n}: no scenarios in this shard")
    running = corpus.run_jobs(jobs, worker_count(opts.jobs, len(jobs), streams.err))
    with closing(running):  # leaving early (a closed output, a signal) stops the workers now
        for result in chain(unreadable, running):
            tally.add(result)
            # the JSON document needs every log; the other reporters only the summaries
            results.append(result if opts.json else result.summary())
            if not opts.json:
                _emit(opts, sink, err, result)
            if progress is not None:
                progress.advance(result.path)
    if progress is not None:
        progress.clear()
    _finish(opts, sink, streams, results, tally)
    code = exit_code(tally)
    if opts.junit is not None and not write_junit(opts.junit, results, opts.versions, streams.err):
        return code if code is ExitCode.INTERNAL else ExitCode.OUTPUT
    return code


def _emit(opts: RunOptions, sink: Sink, err: Sink, result: JobResult) -> None:
    many = _columns(opts) is not None and len(_columns(opts) or ()) > 1
    if is_detailed(opts):
        log = LogMode.FAILURES if many else LogMode.ALWAYS
        emit_detailed(sink, err, result, opts.quiet, opts.versions, log)
        return
    if not result.runs:
        emit_broken(sink, result, opts.quiet)
        return
    for run in result.runs:
        if not many or not run.ok:  # with several kernels the table shows the passing runs
            emit_run(sink, result, run, opts.quiet, opts.versions)


def _finish(
    opts: RunOptions, sink: Sink, streams: Streams, results: Sequence[JobResult], tally: Tally
) -> None:
    if opts.json:
        streams.out.write(render_json(results, tally, _columns(opts)))
    else:
        kernels = _columns(opts)
        if kernels is not None and len(kernels) > 1 and results:
            sink.line("")
            sink.table(kernel_rows(results, kernels))
        if not is_detailed(opts):
            sink.line("")
            sink.line(tally.line(), "summary")


def _columns(opts: RunOptions) -> list[str] | None:
    """The kernels the run is reported under (``--kernel all`` spelled out)."""
    from ftscen.app.pipeline import columns

    return columns(opts.versions)


def check_junit_path(path: str) -> None:
    """Refuse, before anything runs, a --junit path that can never be written as a file."""
    target = Path(path)
    if not path.strip():
        raise UsageError("--junit needs a file name, e.g. --junit ftscen-report.xml")
    if os.path.isdir(target):
        raise UsageError(
            f"--junit: {path} is a folder; name a file in it, e.g. "
            f"--junit {(target / 'ftscen-report.xml').as_posix()}"
        )
    if not os.path.isdir(target.parent):
        raise UsageError(f"--junit: directory {target.parent.as_posix()} does not exist")


def write_junit(
    path: str, results: Sequence[JobResult], versions: Sequence[str] | None, err: IO[str]
) -> bool:
    """Write the report atomically; False (and why, on ``err``) when the OS refuses."""
    from ftscen.report import junit
    from ftscen.report.golden import write_atomic

    try:
        write_atomic(Path(path), junit.render(results, versions))
    except OSError as exc:
        err.write(f"ftscen: error: cannot write the JUnit report {path}: {exc.strerror or exc}\n")
        return False
    return True


def exit_code(tally: Tally) -> ExitCode:
    if tally.errors:
        return ExitCode.INTERNAL
    if tally.unwritten:
        return ExitCode.OUTPUT
    if tally.invalid or tally.folders:
        return ExitCode.INVALID
    return ExitCode.FAIL if tally.failed else ExitCode.OK
