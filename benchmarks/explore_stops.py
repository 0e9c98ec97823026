"""Exploring stops: stops explored per second per core, against replaying them one by one.

The workload is ``tests/fixtures/explore-stop-trampoline-freed.yaml`` with its stop made
``stop: any`` (every instruction boundary the call passes: f, the per-ops trampoline D.tramp
and the callback D.func) on kernels 6.0 and 6.1. "explore" is what ``ftscen run`` does:
plan (one traced run per kernel gives the stop addresses), then each placement runs from
the start and its checks are folded. "replay" is the baseline: the same placements each
checked as ``ftscen run --place ID=stop@ADDRESS`` checks one (pin, then the plain run with
its verdicts, :func:`ftscen.app.pipeline.iter_reports`), in the same process, without the
process start. Times are this process's CPU time (steadier than wall-clock time on a shared
machine): the figures are per core; the best of ``--rounds`` rounds.

    python benchmarks/explore_stops.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ftscen.app import pipeline as api
from ftscen.app.explore_plan import apply_places, choice_word, parse_places, plan
from ftscen.app.explore_run import execute, partition
from ftscen.core.model import Scenario
from ftscen.emu.run import Budget

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "explore-stop-trampoline-freed.yaml"
)
KERNELS = ["6.0", "6.1"]


def workload() -> Scenario:
    text = FIXTURE.read_text(encoding="utf-8").replace("stop: {any: D.tramp}", "stop: any")
    return api.load_text("explore-stops.yaml", text.encode())


def explore_rate(sc: Scenario, rounds: int) -> tuple[float, float, int]:
    """Stops per second with the plan (the traced runs) included, and without it."""
    best = best_run = float("inf")
    total = 0
    for _ in range(rounds):
        start = time.process_time()
        spaces = plan(sc, api.profiles(sc, KERNELS), 10**6)
        parts, _ = partition(spaces, 10**6, 1)
        planned = time.process_time()
        covered = execute(sc, spaces, parts, Budget())
        end = time.process_time()
        best, best_run = min(best, end - start), min(best_run, end - planned)
        total = sum(s.size for s in spaces)
        assert sum(len(k) for k in covered.states) == total
    return total / best, total / best_run, total


def replay_rate(sc: Scenario, rounds: int) -> float:
    spaces = plan(sc, api.profiles(sc, KERNELS), 10**6)
    todo = [
        (space.profile.version, [choice_word(s, c) for s, c in space.place(n)])
        for space in spaces
        for n in range(space.size)
    ]
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for version, words in todo:
            pinned = apply_places(sc, parse_places(words))
            list(api.iter_reports(pinned, "explore-stops.yaml", [version]))
        best = min(best, time.process_time() - start)
    return len(todo) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sc = workload()
    rate, runs, total = explore_rate(sc, args.rounds)
    base = replay_rate(sc, args.rounds)
    print(f"workload: freed trampoline, stop: any, kernels {', '.join(KERNELS)}, {total} stops")
    print(f"replay one by one (baseline): {base:8,.0f} stops/s/core")
    print(f"explore, plan included:       {rate:8,.0f} stops/s/core  ({rate / base:.1f}x)")
    print(f"explore, placements only:     {runs:8,.0f} stops/s/core  ({runs / base:.1f}x)")


if __name__ == "__main__":
    main()
