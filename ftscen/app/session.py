"""One ``ftscen run`` invocation: files -> jobs -> results -> reporters -> exit code.

The CLI parses options into :class:`RunOptions` and calls :func:`run_session` with the
streams to write to; nothing here reads ``sys.argv`` or exits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO

from ftscen.app import corpus
from ftscen.app.corpus import Job
from ftscen.app.output import (
    Terminated,
    check_html_option,
    check_junit_path,
    html_path_ok,
    is_terminal,
    wants_color,
    write_html,
)
from ftscen.app.workers import worker_count
from ftscen.core.errors import ExitCode, UsageError
from ftscen.emu.run import Budget
from ftscen.report.corpus import (
    LogMode,
    Tally,
    emit_broken,
    emit_detailed,
    emit_explored,
    emit_run,
    kernel_rows,
    render_json,
)
from ftscen.report.golden import GoldenMode
from ftscen.report.records import JobResult
from ftscen.report.terminal import Progress, Sink


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
    html: str | None = None
    stdin: bytes | None = None  # the scenario named ``-``, read by the caller
    github: bool = False  # also print GitHub workflow commands for each problem
    max_placements: int = 100_000  # per explored file (docs/explore.md, "In a corpus")


@dataclass(frozen=True)
class Streams:
    out: IO[str]
    err: IO[str]
    color: bool = False
    progress: bool = False

    @classmethod
    def of(
        cls,
        out: IO[str],
        err: IO[str],
        color: str = "auto",
        environ: Mapping[str, str] | None = None,
    ) -> Streams:
        """Colour as ``--color`` and the environment say; progress only on a terminal."""
        env = os.environ if environ is None else environ
        return cls(out, err, wants_color(color, is_terminal(out), env), is_terminal(err))


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
    if opts.html is not None:
        check_html_option(opts.html)
    found = corpus.scan(opts.paths)
    files = found.files
    if not files and not found.problems:
        raise UsageError(f"no scenario files (*.yaml, *.yml) under {', '.join(opts.paths)}")
    if opts.shard is not None:
        files = corpus.shard(files, *opts.shard)
    if corpus.STDIN in opts.paths and opts.golden is not None:
        raise UsageError(
            "--golden / --update-golden need a scenario file (a golden is kept beside it); "
            "standard input has no place for one"
        )
    jobs = [
        Job(str(f), opts.versions, opts.budget, opts.golden, _stdin(opts, f), opts.max_placements)
        for f in files
    ]
    return jobs, [JobResult(d.file, diagnostics=(d,), folder=True) for d in found.problems]


def _stdin(opts: RunOptions, path: Path) -> bytes | None:
    return (opts.stdin or b"") if str(path) == corpus.STDIN else None


def run_session(opts: RunOptions, streams: Streams) -> ExitCode:
    """Run everything, report it, write the JUnit file and HTML page if asked; returns the
    exit code. Ctrl-C (or SIGTERM) stops the workers, and what finished is still summarised
    and written to the reports, marked as interrupted: a long corpus run is not lost to one
    key."""
    jobs, unreadable = plan(opts)
    if opts.html is not None and not html_path_ok(opts.html, streams.err):
        return ExitCode.OUTPUT
    progress = Progress(streams.err, len(jobs)) if streams.progress and len(jobs) > 1 else None
    run = _Run(opts, Sink(streams.out, streams.color and not opts.json, progress), progress)
    stopped: ExitCode | None = None
    try:
        run.collect(jobs, unreadable, Sink(streams.err, False, progress), streams.err)
    except KeyboardInterrupt:
        stopped = ExitCode.INTERRUPTED
    except Terminated:
        stopped = ExitCode.TERMINATED
    if progress is not None:
        progress.clear()
    tally = run.tally
    if stopped is not None:
        streams.err.write(
            f"ftscen: interrupted: {tally.scenarios} of {len(jobs) + len(unreadable)} "
            "files finished; the summary and reports cover only those\n"
        )
    _finish(opts, run.sink, streams, run.results, tally, stopped is not None)
    code = stopped or exit_code(tally)
    if opts.junit is not None and not write_junit(
        opts.junit, run.results, opts.versions, streams.err, stopped is not None
    ):
        return code if code in (ExitCode.INTERNAL, stopped) else ExitCode.OUTPUT
    if opts.html is not None and not write_html(opts.html, run.results, opts.versions, streams.err):
        return code if code in (ExitCode.INTERNAL, stopped) else ExitCode.OUTPUT
    return code


@dataclass
class _Run:
    """What a session has gathered so far (all of it, if it was interrupted)."""

    opts: RunOptions
    sink: Sink
    progress: Progress | None
    results: list[JobResult] = field(default_factory=list)

    @property
    def tally(self) -> Tally:
        """The counts over what finished."""
        tally = Tally()
        for result in self.results:
            tally.add(result)
        return tally

    def collect(
        self, jobs: list[Job], unreadable: list[JobResult], err: Sink, err_stream: IO[str]
    ) -> None:
        opts = self.opts
        if not jobs and not unreadable:
            k, n = opts.shard or (1, 1)
            self.sink.line(f"shard {k}/{n}: no scenarios in this shard")
        running = corpus.run_jobs(jobs, worker_count(opts.jobs, len(jobs), err_stream))
        with closing(running):  # leaving early (a closed output, a signal) stops the workers
            for result in chain(unreadable, running):
                # the JSON document and the HTML page need every log; the others the summaries.
                # One append, counted afterwards (:attr:`tally`): a Ctrl-C lands before or
                # after it, so the summary and the reports always cover the same files.
                self.results.append(result if opts.json or opts.html else result.summary())
                if not opts.json:
                    _emit(opts, self.sink, err, result)
                if self.progress is not None:
                    self.progress.advance(result.path, result.ok)


def _emit(opts: RunOptions, sink: Sink, err: Sink, result: JobResult) -> None:
    many = _columns(opts) is not None and len(_columns(opts) or ()) > 1
    if result.explored is not None:
        emit_explored(sink, result, opts.quiet, opts.versions, is_detailed(opts))
        return
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
    opts: RunOptions,
    sink: Sink,
    streams: Streams,
    results: Sequence[JobResult],
    tally: Tally,
    interrupted: bool,
) -> None:
    if opts.json:
        streams.out.write(render_json(results, tally, _columns(opts), interrupted))
    else:
        kernels = _columns(opts)
        if kernels is not None and len(kernels) > 1 and results:
            sink.line("")
            sink.table(kernel_rows(results, kernels))
        if opts.github:
            from ftscen.report.github import workflow_commands

            sink.lines(workflow_commands(results))
        if not is_detailed(opts) or interrupted:
            sink.line("")
            sink.line(tally.line() + (" (interrupted)" if interrupted else ""), "summary")


def _columns(opts: RunOptions) -> list[str] | None:
    """The kernels the run is reported under (``--kernel all`` spelled out)."""
    from ftscen.app.pipeline import columns

    return columns(opts.versions)


def write_junit(
    path: str,
    results: Sequence[JobResult],
    versions: Sequence[str] | None,
    err: IO[str],
    interrupted: bool = False,
) -> bool:
    """Write the report atomically; False (and why, on ``err``) when the OS refuses."""
    from ftscen.report import junit
    from ftscen.report.golden import write_atomic

    try:
        write_atomic(Path(path), junit.render(results, versions, interrupted=interrupted))
    except OSError as exc:
        err.write(f"ftscen: error: cannot write the JUnit report {path}: {exc.strerror or exc}\n")
        return False
    return True


def exit_code(tally: Tally) -> ExitCode:
    """The worst of the run, in this order: 3 (internal error), 4 (a golden could not be
    written), 2 (invalid file or unreadable folder), 1 (a failure), 5 (an exploration cut
    short by its budget before a failure), 0."""
    if tally.errors:
        return ExitCode.INTERNAL
    if tally.unwritten:
        return ExitCode.OUTPUT
    if tally.invalid or tally.folders:
        return ExitCode.INVALID
    if tally.failed:
        return ExitCode.FAIL
    return ExitCode.INCOMPLETE if tally.incomplete else ExitCode.OK
