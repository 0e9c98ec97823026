"""One ``ftscen run`` invocation: files -> jobs -> results -> reporters -> exit code.

The CLI parses options into :class:`RunOptions` and calls :func:`run_session` with the
streams to write to; nothing here reads ``sys.argv`` or exits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ftscen.app import corpus
from ftscen.app.corpus import Job
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


def golden_mode(compare: bool, update: bool, environ: os._Environ[str] | dict[str, str]
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
    return len(opts.paths) == 1 and not Path(opts.paths[0]).is_dir() and opts.shard is None


def plan(opts: RunOptions) -> list[Job]:
    files = corpus.discover(opts.paths)
    if not files:
        raise UsageError(f"no scenario files (*.yaml, *.yml) under {', '.join(opts.paths)}")
    if opts.shard is not None:
        files = corpus.shard(files, *opts.shard)
    return [Job(str(f), opts.versions, opts.budget, opts.golden) for f in files]


def run_session(opts: RunOptions, streams: Streams) -> ExitCode:
    """Run everything, report it, write the JUnit file if asked; returns the exit code."""
    jobs = plan(opts)
    progress = Progress(streams.err, len(jobs)) if streams.progress and len(jobs) > 1 else None
    sink = Sink(streams.out, streams.color and not opts.json, progress)
    err = Sink(streams.err, False, progress)
    tally, results = Tally(), []
    if not jobs:
        k, n = opts.shard or (1, 1)
        sink.line(f"shard {k}/{n}: no scenarios in this shard")
    for result in corpus.run_jobs(jobs, corpus.worker_count(opts.jobs)):
        tally.add(result)
        results.append(result)
        if not opts.json:
            _emit(opts, sink, err, result)
        if progress is not None:
            progress.advance(result.path)
    if progress is not None:
        progress.clear()
    _finish(opts, sink, streams, results, tally)
    return exit_code(tally)


def _emit(opts: RunOptions, sink: Sink, err: Sink, result: JobResult) -> None:
    many = opts.versions is not None and len(opts.versions) > 1
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


def _finish(opts: RunOptions, sink: Sink, streams: Streams, results: Sequence[JobResult],
            tally: Tally) -> None:
    if opts.json:
        streams.out.write(render_json(results, tally, opts.versions))
    else:
        if opts.versions is not None and len(opts.versions) > 1 and results:
            sink.line("")
            sink.table(kernel_rows(results, opts.versions))
        if not is_detailed(opts):
            sink.line("")
            sink.line(tally.line(), "summary")
    if opts.junit is not None:
        write_junit(opts.junit, results, opts.versions)


def write_junit(path: str, results: Sequence[JobResult], versions: Sequence[str] | None) -> None:
    from ftscen.report import junit
    from ftscen.report.golden import write_atomic

    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"--junit: directory {target.parent.as_posix()} does not exist")
    write_atomic(target, junit.render(results, versions))


def exit_code(tally: Tally) -> ExitCode:
    if tally.errors:
        return ExitCode.INTERNAL
    if tally.invalid:
        return ExitCode.INVALID
    return ExitCode.FAIL if tally.failed else ExitCode.OK
