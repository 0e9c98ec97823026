"""The pipeline wired end to end, for the CLI, the pytest plugin and library users.

``check_file``: YAML file -> Scenario -> (per kernel version) image -> machine -> log ->
verdicts -> :class:`~ftscen.report.text.ScenarioReport`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ftscen.core.errors import Diagnostic, IntegrityError, ScenarioInvalid, UsageError
from ftscen.core.kernels import ERA_KERNELS
from ftscen.core.model import ANY, Scenario
from ftscen.core.profile import (
    OLDEST_RELEASE,
    KernelProfile,
    flag_problem,
    parse_version,
    profile_for,
)
from ftscen.emu.explore import explored_entries
from ftscen.emu.explore_stops import first_stops
from ftscen.emu.run import Budget, Runner, Unplaced, dry_run, run_scenario
from ftscen.report.text import ScenarioReport
from ftscen.verdicts.evaluate import evaluate

if TYPE_CHECKING:
    from ftscen.image.listing import View


#: ``-`` names standard input; diagnostics and reports call it ``<stdin>``.
STDIN, STDIN_SHOWN = "-", "<stdin>"


def display_path(path: str | os.PathLike[str]) -> str:
    """The path as the user gave it (relative stays relative), with forward slashes."""
    return Path(path).as_posix()


#: ``--kernel all``: one run per era boundary the model distinguishes.
KERNEL_ALL = "all"

_KNOWN = (
    f"the eras ftscen tells apart begin at {', '.join(ERA_KERNELS)} "
    "(any version from 3.5 works; 'all' runs one per era)"
)


def parse_kernels(text: str | None) -> list[str] | None:
    """``--kernel 5.1,5.3`` -> ["5.1", "5.3"]; ``all`` -> ["all"] (expanded per scenario by
    :func:`kernels_for`); a bad version is a usage error listing the known ones."""
    if text is None:
        return None
    versions = [v.strip() for v in text.split(",") if v.strip()]
    if versions == [KERNEL_ALL]:
        return versions
    for v in versions:
        release = parse_version(v)
        if release is None:
            raise UsageError(f"--kernel: '{v}' is not a kernel version; {_KNOWN}")
        if release < OLDEST_RELEASE:
            raise UsageError(
                f"--kernel: {v} predates breakpoint-based patching (3.5); "
                f"ftscen models 3.5 and later; {_KNOWN}"
            )
    if not versions:
        raise UsageError(f"--kernel needs at least one version, e.g. --kernel 5.1,5.3; {_KNOWN}")
    return versions


def columns(versions: list[str] | tuple[str, ...] | None) -> list[str] | None:
    """The kernels a run is reported under: ``all`` stands for every era's first release."""
    if versions is None:
        return None
    return list(ERA_KERNELS) if list(versions) == [KERNEL_ALL] else list(versions)


def kernels_for(sc: Scenario, versions: list[str] | None) -> list[str | None]:
    """The kernels to run ``sc`` under (None: its own). Under ``all`` a file that says how
    several kernels behave (any ``kernels:`` key) runs once per era; any other file is about
    its own ``kernel.version`` and runs there only, as without ``--kernel``."""
    if versions is None:
        return [None]
    if versions == [KERNEL_ALL]:
        return list(ERA_KERNELS) if sc.era_aware else [None]
    return list(versions)


def load(path: str | os.PathLike[str]) -> Scenario:
    from ftscen.load.scenario import load_scenario

    return load_scenario(path)


def load_text(shown: str, data: bytes) -> Scenario:
    """A scenario from bytes already read (standard input), named ``shown`` in diagnostics."""
    from ftscen.load.scenario import load_scenario

    return load_scenario(shown, data)


def read_stdin() -> bytes:
    """Standard input, bounded as a file is: a byte over the limit is enough for the loader to
    refuse it with the file-size diagnostic."""
    import sys

    from ftscen.core.model import LIMITS

    return sys.stdin.buffer.read(LIMITS["file_bytes"] + 1)


def profiles(sc: Scenario, versions: list[str] | None) -> list[KernelProfile]:
    """One profile per kernel to run; an ops flag one of them lacks is a located error."""
    out = [profile_for(sc.kernel, v) for v in kernels_for(sc, versions)]
    problems = [d for p in out for d in _flag_diagnostics(sc, p)]
    if sc.livepatches:
        from ftscen.load.check_klp import replace_diagnostics

        problems += [d for p in out for d in replace_diagnostics(sc, p.version, p.release)]
    if problems:
        raise ScenarioInvalid(list(dict.fromkeys(problems)))
    return out


def _flag_diagnostics(sc: Scenario, profile: KernelProfile) -> list[Diagnostic]:
    """Flags that do not exist in ``profile``'s kernel (``--kernel`` may pick another era
    than the file's, whose own kernel validation already checked)."""
    out = []
    for ops in sc.ops:
        for flag in sorted(ops.flags):
            hint = flag_problem(flag, profile.release)
            if hint is not None:
                m = ops.mark
                message = f"ops '{ops.name}': kernel {profile.version} has no {flag} flag"
                out.append(Diagnostic(m.file, m.line, m.col, message, m.path, hint, m.text))
    return out


def explored_diagnostic(sc: Scenario) -> Diagnostic | None:
    """A file with explored calls has no one placement for :func:`check_scenario` to run
    (``ftscen run`` and corpus runs explore it, :mod:`ftscen.app.corpus_explore`); a
    library caller of :func:`check_file` is told so, at its first explored call."""
    d = next((d for _, _, d in explored_entries(sc)), None)
    if d is None:
        return None
    return d.mark.diagnostic(
        "this call is explored (at: any, a list of points, cpu: any or stop: any): "
        "one run cannot place it",
        hint=f"explore it: `ftscen run {sc.path}` (docs/explore.md), or pin the call "
        "with --place ID=POINT",
    )


def check_scenario(
    sc: Scenario, profile: KernelProfile, shown: str, budget: Budget | None = None
) -> ScenarioReport:
    explored = explored_diagnostic(sc)
    if explored is not None:
        raise ScenarioInvalid([explored])
    with _kernel_named(profile):
        result = run_scenario(sc, profile, budget or Budget())
        unplaced = result.unplaced
        if result.fault is not None and _unreached_during(sc, result.fault.step):
            # the fault cut the timeline short; an xfail run may expect exactly that fault,
            # so the rest is still checked, by the patcher alone (only on this path)
            unplaced = dry_run(sc, profile).unplaced
    if unplaced or result.problems:
        found = [*result.problems, *(unplaced_diagnostic(u) for u in unplaced)]
        raise ScenarioInvalid(list(dict.fromkeys(found)))
    outcome, verdicts = evaluate(result)
    return ScenarioReport(result, outcome, tuple(verdicts), shown)


@contextmanager
def _kernel_named(profile: KernelProfile) -> Iterator[None]:
    """An integrity error names the kernel it happened under (the caller names the file)."""
    try:
        yield
    except IntegrityError as exc:
        if exc.kernel is not None:
            raise
        raise IntegrityError(exc.check, exc.detail, profile.version) from exc


def _unreached_during(sc: Scenario, fault_step: int) -> bool:
    """Whether a step the fault cut short, or one after it, places calls at points."""
    return any(step.during for step in sc.timeline if step.index >= fault_step)


def unplaced_diagnostic(u: Unplaced) -> Diagnostic:
    """A ``during`` whose point its step never passed, worded at the ``at`` it names."""
    listed = ", ".join(u.points) if u.points else "none: this step changes no code"
    m = u.during.mark
    return m.diagnostic(
        f"this step never passes point '{u.during.at}'", hint=f"the points it passes are: {listed}"
    )


def explored_unplaced(sc: Scenario, passed: dict[int, tuple[str, ...]]) -> list[Diagnostic]:
    """Explored calls whose points their step never passes: a listed point, or ``at: any``
    on a step that changes no code (it would pass only ``start``, if that)."""
    out = []
    for step in sc.timeline:
        if step.index not in passed:
            continue
        points = passed[step.index]
        listed = ", ".join(points) if points else "none: this step changes no code"
        for d in step.during:
            if d.at == ANY and not [p for p in points if p != "start"]:
                out.append(
                    d.mark.diagnostic(
                        "at: any on a step that passes no point but start (it changes no code)",
                        hint=f"the points it passes are: {listed}; place the call at start, "
                        "or explore a step that patches",
                    )
                )
            for p, mark in zip(d.points, d.point_marks or [d.mark] * len(d.points), strict=True):
                if p not in points:
                    out.append(
                        mark.diagnostic(
                            f"this step never passes point '{p}' (listed in at:)",
                            hint=f"the points it passes are: {listed}",
                        )
                    )
    return out


def check_points(sc: Scenario, versions: list[str] | None = None) -> list[Diagnostic]:
    """``ftscen validate``: the patcher alone (no calls) under each kernel version, and every
    ``during`` whose step never passes the point it names. A scenario with calls in flight
    is run whole: its stops and resumes are checked only by running the calls."""
    problems: list[Diagnostic] = []
    for profile in profiles(sc, versions):
        with _kernel_named(profile):
            # where a call stops, and whether it is stopped when resumed, only a run can tell
            bad: list[Diagnostic] = []
            if sc.in_flight:
                ran, bad = first_stops(sc, profile) if sc.explores else (sc, [])
                result = dry_run(sc, profile) if bad else run_scenario(ran, profile)
            else:
                result = dry_run(sc, profile)
        passed = {s.index: s.points for s in result.steps}
        found = [
            *bad,
            *result.problems,
            *(unplaced_diagnostic(u) for u in result.unplaced),
            *explored_unplaced(sc, passed),
        ]
        problems.extend(d for d in found if d not in problems)
    return problems


def iter_reports(
    sc: Scenario, shown: str, versions: list[str] | None = None, budget: Budget | None = None
) -> Iterator[ScenarioReport]:
    """Run a loaded scenario under each kernel version, one report at a time; the points
    problems of every version are raised together at the end."""
    problems: list[Diagnostic] = []
    for profile in profiles(sc, versions):
        try:
            yield check_scenario(sc, profile, shown, budget)
        except ScenarioInvalid as exc:
            problems.extend(d for d in exc.diagnostics if d not in problems)
    if problems:
        raise ScenarioInvalid(problems)


def check_file(
    path: str | os.PathLike[str], versions: list[str] | None = None, budget: Budget | None = None
) -> list[ScenarioReport]:
    """Load, validate and run one scenario under each requested kernel version."""
    return list(iter_reports(load(path), display_path(path), versions, budget))


def build_view(sc: Scenario, profile: KernelProfile, after: bool) -> View:
    """What ``ftscen build`` shows: the built image, or (``after``) the machine's memory once
    the whole timeline has run."""
    from ftscen.image.listing import View, image_view

    if not after:
        return image_view(sc, profile)
    runner = Runner(sc, profile)
    result = runner.run()
    if result.problems:  # e.g. an explored stop (stop: any): no one run to show
        raise ScenarioInvalid(list(result.problems))
    note = ""
    if result.fault is not None:
        f = result.fault
        note = (
            f"the run stopped at a fault ({f.kind} on cpu{f.cpu} at {f.pc}) in step "
            f"{f.step}: the text is as the fault left it"
        )
    return View(sc, profile, runner.image, runner.m.read, True, note)
