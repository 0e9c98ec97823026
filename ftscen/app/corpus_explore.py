"""A file with explored calls in a corpus run or the pytest plugin: one job, explored
serially in its worker (docs/explore.md, "In a corpus").

The exploration is the one ``ftscen run FILE`` runs (the same plan, parts, fold and report,
from :mod:`ftscen.app.explore`), with one worker: ``--jobs`` spreads the corpus's files over
processes, never one file's placements. ``--max-placements`` applies to each file on its own:
a kernel's space over it makes the file invalid (its located diagnostic, exit 2), and a file
whose kernels together exceed it is explored up to it and reported INCOMPLETE (or FAIL, when
what ran already has a witness). Goldens are kept per kernel (:mod:`ftscen.report.explored`).
"""

from __future__ import annotations

import time
from pathlib import Path

from ftscen.app import pipeline as api
from ftscen.core.model import Scenario
from ftscen.emu.run import Budget
from ftscen.report.golden import GoldenCheck, GoldenMode, check_body, golden_path
from ftscen.report.records import ExploredRecord


def explore_job(
    sc: Scenario,
    shown: str,
    path: str,
    versions: tuple[str, ...] | None,
    budget: Budget,
    max_placements: int,
    golden: GoldenMode | None,
) -> ExploredRecord:
    """Explore ``sc`` under each kernel asked (raises ScenarioInvalid as a plan does) and
    check or write its goldens as ``golden`` asks."""
    from ftscen.app.explore import build_report
    from ftscen.app.explore_plan import plan
    from ftscen.app.explore_run import execute, partition
    from ftscen.app.workers import signals_held

    start = time.perf_counter()
    profiles = api.profiles(sc, list(versions) if versions else None)
    spaces = plan(sc, profiles, max_placements)
    parts, cut = partition(spaces, max_placements, 1)
    covered = execute(sc, spaces, parts, budget)
    stopped = "placements" if cut else covered.stopped
    rep = build_report(sc, shown, spaces, covered, stopped, budget)
    record = ExploredRecord(rep, seconds=time.perf_counter() - start, own=sc.kernel.version)
    if golden is None:
        return record
    checks: list[GoldenCheck | None] = []
    for i, k in enumerate(rep.kernels):
        if record.word(k) == "INCOMPLETE":  # a partial exploration is never a golden
            checks.append(None)
            continue
        from ftscen.report.explored import golden_body

        target = golden_path(Path(path), k.version, sc.kernel.version)
        with signals_held():  # a stop lands before or after a golden write, not during it
            checks.append(check_body(golden_body(rep, i), sc.source_sha256, target, golden))
    return ExploredRecord(rep, tuple(checks), record.seconds, record.own)


__all__ = ["explore_job"]
