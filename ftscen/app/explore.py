"""``ftscen run FILE`` on a scenario with explored calls: plan, run, fold, report.

YAML file -> Scenario -> (per kernel) placement space (:mod:`.explore_plan`) -> the states of
every placement (:mod:`.explore_run`) -> folded checks with witnesses
(:mod:`ftscen.verdicts.quantify`) -> text, JSON, JUnit (:mod:`ftscen.report.explore`).
``--place ID=POINT`` pins explored calls; with every one pinned the file is a plain
scenario and runs as ``ftscen run`` runs any other (the replay of a witness).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from ftscen.app import pipeline as api
from ftscen.app.explore_plan import (
    DEFAULT_MAX_PLACEMENTS,
    Space,
    apply_places,
    check_places,
    parse_places,
    place_words,
    plan,
)
from ftscen.app.explore_run import Covered, execute, partition
from ftscen.app.output import check_junit_path
from ftscen.app.pipeline import STDIN_SHOWN
from ftscen.app.workers import worker_count
from ftscen.core.errors import ExitCode, ScenarioInvalid, UsageError
from ftscen.core.model import ANY, ExpectCall, Quantifier, Scenario
from ftscen.emu.explore import Slot
from ftscen.emu.explore_stops import stop_symbol
from ftscen.emu.run import Budget, run_scenario
from ftscen.report import explore as rx
from ftscen.report.records import ExploredRecord, JobResult, RunRecord
from ftscen.report.text import log_lines
from ftscen.verdicts.evaluate import Outcome
from ftscen.verdicts.quantify import FAILED, HELD, Check, checks_for, describe, fold


@dataclass(frozen=True)
class ExploreOptions:
    path: str
    versions: tuple[str, ...] | None = None
    places: tuple[str, ...] = ()
    max_placements: int = DEFAULT_MAX_PLACEMENTS
    max_time: float | None = None
    jobs: int = 1
    scheduler: str | None = None
    json: bool = False
    junit: str | None = None
    budget: Budget = field(default_factory=Budget)
    stdin: bytes | None = None
    github: bool = False  # --format github: also a workflow command per failing check
    html: str | None = None  # --html with --place: the replay's HTML report


def wants_explore(sc: Scenario, places: tuple[str, ...]) -> bool:
    """Whether ``ftscen run`` hands this file to the exploration (it explores, or pins)."""
    return sc.explores or bool(places)


def load(opts: ExploreOptions) -> Scenario:
    if opts.stdin is not None:
        return api.load_text(STDIN_SHOWN, opts.stdin)
    return api.load(opts.path)


def dispatch(
    opts: ExploreOptions,
    files: int,
    ignored: list[str],
    out: IO[str],
    err: IO[str],
    progress: bool = False,
) -> int | None:
    """``ftscen run``'s door to the exploration: its exit code for one file with explored
    calls (or with ``--place``); None for any other run, which runs as always. Options for
    the exploration alone on another run are usage errors; with ``ignored`` ones
    (``--golden``, ``--html``, ``--shard``) the file runs as one job of a corpus run."""
    import os

    asked = bool(opts.places) or opts.scheduler is not None or opts.max_time is not None
    if files != 1 or (opts.stdin is None and not os.path.isfile(opts.path)):
        if asked:
            raise UsageError("--place, --scheduler and --max-time explore one scenario file")
        return None
    try:
        sc = load(opts)
    except ScenarioInvalid:
        if asked:
            raise
        return None  # the run reports it as for any file
    if not wants_explore(sc, opts.places):
        if asked:
            raise UsageError(f"{opts.path} has no explored calls (at: any, a list, cpu: any)")
        return None
    replay_html = ignored == ["--html"] and opts.places and opts.scheduler is None
    if ignored and not (replay_html and opts.max_time is None):
        # --golden, --html, --shard: run as a corpus runs it (docs/explore.md)
        if asked:
            raise UsageError(f"{', '.join(ignored)}: not with --place, --scheduler, --max-time")
        return None
    return run_explore(sc, opts, out, err, progress)


def run_explore(
    sc: Scenario, opts: ExploreOptions, out: IO[str], err: IO[str], progress: bool = False
) -> ExitCode:
    """Explore (or, every explored call pinned, replay) ``sc``; print the report; the exit
    code: 0 every check holds, 1 one fails, 5 a budget stopped the exploration first."""
    shown = api.display_path(opts.path) if opts.stdin is None else STDIN_SHOWN
    versions = list(opts.versions) if opts.versions else None
    profiles = api.profiles(sc, versions)
    places = parse_places(list(opts.places))
    known = None
    if opts.html is not None:
        from ftscen.app.output import check_html_option, html_path_ok

        check_html_option(opts.html)
        if not html_path_ok(opts.html, err):
            return ExitCode.OUTPUT
    if places:
        pinned = apply_places(sc, places)
        known = check_places(sc, pinned, profiles, places)
        sc = pinned
    if opts.html is not None and sc.explores:
        raise UsageError("--html with --place: pin every explored call (the replay of a witness)")
    if not sc.explores:
        if opts.junit is not None:
            raise UsageError(
                "--junit: a --place replay is one run; run the exploration for a report"
            )
        return _replay(sc, shown, versions, opts, out, err)
    if opts.junit is not None:
        check_junit_path(opts.junit)
    spaces = plan(sc, profiles, opts.max_placements, known)
    jobs = 1 if opts.jobs == 1 or opts.scheduler else worker_count(opts.jobs, 1 << 30, err)
    # a cluster's size is not known here: enough parts to keep a few dozen workers busy
    parts, cut = partition(spaces, opts.max_placements, 32 if opts.scheduler else jobs)
    deadline = None if opts.max_time is None else time.monotonic() + opts.max_time
    total = sum(p.hi - p.lo for p in parts)
    show = _progress(err, total) if progress else None
    covered = execute(sc, spaces, parts, opts.budget, jobs, opts.scheduler, deadline, show)
    if show is not None:
        err.write("\r\033[K")
    stopped = "placements" if cut else covered.stopped
    rep = build_report(sc, shown, spaces, covered, stopped, opts.budget, opts.places)
    out.write(rx.render_json(rep) if opts.json else rx.render_text(rep))
    if opts.github:
        from ftscen.report.github import workflow_commands

        out.write("".join(line + "\n" for line in workflow_commands([_job(rep, sc)])))
    if opts.junit is not None and not _write_junit(opts.junit, _junit(rep, sc), err):
        return ExitCode.OUTPUT
    if rep.failed and (stopped is None or rx.definite(rep)):
        return ExitCode.FAIL
    return ExitCode.INCOMPLETE if stopped is not None else ExitCode.OK


def _job(rep: rx.ExploreReport, sc: Scenario) -> JobResult:
    """The exploration as a corpus run records an explored file (for its JUnit and GitHub
    reports: one renderer each, for one file or many)."""
    record = ExploredRecord(rep, seconds=rep.seconds, own=sc.kernel.version)
    return JobResult(rep.path, explored=record)


def _junit(rep: rx.ExploreReport, sc: Scenario) -> str:
    """The JUnit report of one explored file: as a corpus run writes it for that file
    (:mod:`ftscen.report.junit`: XFAIL and undecided checks skipped, XPASS a failure)."""
    from ftscen.report import junit

    return junit.render([_job(rep, sc)])


def _write_junit(path: str, data: str, err: IO[str]) -> bool:
    from pathlib import Path

    from ftscen.report.golden import write_atomic

    try:
        write_atomic(Path(path), data)
    except OSError as exc:
        err.write(f"ftscen: error: cannot write the JUnit report {path}: {exc.strerror or exc}\n")
        return False
    return True


def _progress(err: IO[str], total: int) -> Callable[[int, float], None]:
    def show(done: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        err.write(f"\rexplored {done}/{total} placements ({rate:,.0f}/s, ETA {eta:.0f}s)\033[K")
        err.flush()

    return show


def _replay(
    sc: Scenario,
    shown: str,
    versions: list[str] | None,
    opts: ExploreOptions,
    out: IO[str],
    err: IO[str],
) -> ExitCode:
    """Every explored call pinned: the one run of that placement, reported as ``ftscen run``
    reports a file (the log shown is the witness's, line for line)."""
    from ftscen.report.text import render_json, render_text

    reports = list(api.iter_reports(sc, shown, versions, opts.budget))
    if opts.json:
        out.write(render_json(reports))
    else:
        out.write("".join(render_text(r) for r in reports))
    job = JobResult(shown, runs=tuple(RunRecord(r) for r in reports))
    if opts.github:
        from ftscen.report.github import workflow_commands

        out.write("".join(line + "\n" for line in workflow_commands([job])))
    if opts.html is not None:
        from ftscen.app.output import write_html

        if not write_html(opts.html, [job], versions, err):
            return ExitCode.OUTPUT
    return ExitCode.OK if all(r.outcome.ok for r in reports) else ExitCode.FAIL


def build_report(
    sc: Scenario,
    shown: str,
    spaces: list[Space],
    covered: Covered,
    stopped: str | None,
    budget: Budget,
    pinned: tuple[str, ...] = (),
) -> rx.ExploreReport:
    kernels = tuple(
        _kernel_result(sc, shown, space, covered.states[k], budget, pinned)
        for k, space in enumerate(spaces)
    )
    calls = tuple(_call_word(s) for s in (spaces[0].slots if spaces else ()))
    return rx.ExploreReport(shown, sc.name, calls, kernels, stopped, covered.seconds)


def _call_word(slot: Slot) -> str:
    d = slot.during
    if slot.stops:
        assert d.call is not None and d.call.stop is not None
        return f"{slot.id} (stop: {d.call.stop.describe()})"
    at = ANY if d.at == ANY else (f"[{', '.join(d.points)}]" if d.points else d.at)
    return f"{slot.id} (at: {at}" + (", cpu: any)" if d.cpu_any else ")")


def _kernel_result(
    sc: Scenario,
    shown: str,
    space: Space,
    found: dict[int, str],
    budget: Budget,
    pinned: tuple[str, ...],
) -> rx.KernelResult:
    profile = space.profile
    checks = checks_for(sc, profile.release)
    order = {n: space.rank(n) for n in found}
    complete = len(found) == space.size
    results = []
    for i, check in enumerate(checks):
        column = [(n, s[i]) for n, s in sorted(found.items())]
        f = fold(check, column, order, complete)
        witness = None
        if f.witness is not None:
            witness = _witness(sc, shown, space, f.witness, budget, pinned)
        q = check.quantifier.value
        title = describe(check)
        results.append(
            rx.CheckResult(
                check.key,
                title,
                q,
                f.ok,
                f.applicable,
                f.held,
                f.vacuous,
                witness,
                check.mark,
                f.incomplete,
            )
        )
    ok = not any(c.failed for c in results)  # undecided checks: the kernel is not final
    outcome = Outcome.PASS if ok else Outcome.FAIL
    if sc.xfail_on(profile.release):
        outcome = Outcome.XPASS if ok else Outcome.XFAIL
    placements = tuple(
        (n, tuple(place_words(space, n)), s, not any(map(_broken, checks, s)))
        for n, s in sorted(found.items())
    )
    return rx.KernelResult(
        profile.version,
        profile.int3,
        space.size,
        len(found),
        outcome,
        tuple(results),
        _table(space, checks, found),
        placements,
    )


def _broken(check: Check, state: str) -> bool:
    """Whether one placement's state of ``check`` goes against its quantifier there
    (``sometimes`` never does: one placement cannot break it)."""
    if check.quantifier is Quantifier.ALWAYS:
        return state == FAILED
    return check.quantifier is Quantifier.NEVER and state == HELD


def _concerns(check: Check, slot_id: str) -> bool:
    """A call assertion is about its call; every other check about the whole placement."""
    return not isinstance(check.inner, ExpectCall) or check.inner.call == slot_id


def _table(
    space: Space, checks: list[Check], found: dict[int, str]
) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """Per explored call and choice: ``x`` when a placement with the call there breaks a
    check about that call (or about the whole run), ``.`` when none does and every
    placement with the call there ran, ``?`` when some did not (a budget stopped first)."""
    marks = [[rx.MARK_NOT_RUN] * len(s.choices) for s in space.slots]
    ran = [[0] * len(s.choices) for s in space.slots]
    concerns = [[_concerns(c, s.id) for c in checks] for s in space.slots]
    for n, states in found.items():
        broken = [_broken(c, st) for c, st in zip(checks, states, strict=True)]
        for i, d in enumerate(space.digits(n)):
            ran[i][d] += 1
            if any(b and mine for b, mine in zip(broken, concerns[i], strict=True)):
                marks[i][d] = rx.MARK_FAIL
    for i, slot in enumerate(space.slots):
        each = space.size // len(slot.choices)  # placements with the call at one choice
        for d, count in enumerate(ran[i]):
            if marks[i][d] != rx.MARK_FAIL and count == each:
                marks[i][d] = rx.MARK_OK
    out = []
    for slot, row in zip(space.slots, marks, strict=True):
        if slot.stops:
            out.append((slot.id, *_by_symbol(slot, row)))
            continue
        words = tuple(p + (f"@{c}" if slot.during.cpu_any else "") for p, c in slot.choices)
        out.append((slot.id, words, tuple(row)))
    return tuple(out)


def _by_symbol(slot: Slot, row: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An explored stop's marks, one per symbol (``stop in D.tramp``) rather than one per
    address: ``x`` when a placement with the stop anywhere in it breaks a check, ``?`` when
    one did not run, else ``.`` (each stop is in the JSON report's runs): the rule of
    :func:`_table` for one address, folded over the symbol's addresses."""
    grouped: dict[str, list[str]] = {}
    for (address, _), mark in zip(slot.choices, row, strict=True):
        grouped.setdefault(f"stop in {stop_symbol(address)}", []).append(mark)
    order = (rx.MARK_FAIL, rx.MARK_NOT_RUN, rx.MARK_OK)
    folded = [next(m for m in order if m in ms) for ms in grouped.values()]
    return tuple(grouped), tuple(folded)


def _witness(
    sc: Scenario, shown: str, space: Space, n: int, budget: Budget, pinned: tuple[str, ...]
) -> rx.Witness:
    """The placement's own run (from the start, as its replay runs it) and its log; the
    replay repeats the ``--place`` options given, then pins every call still explored."""
    words = [*pinned, *place_words(space, n)]
    result = run_scenario(space.pinned(sc, n), space.profile, budget)
    replay = " ".join(
        ["ftscen", "run", "-" if shown == STDIN_SHOWN else shlex.quote(shown)]
        + ["--kernel", space.profile.version]
        + [f"--place {shlex.quote(w)}" for w in words]
    )
    return rx.Witness(tuple(words[len(pinned) :]), replay, tuple(log_lines(result)))


__all__ = ["ExploreOptions", "dispatch", "load", "run_explore", "wants_explore"]
