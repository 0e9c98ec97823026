"""Exploration speed: placements per second per core, against running each from the start.

The workload is the seed scenario (``scenarios/seed-livepatch-tracer-window.yaml``) with both
of its window calls made ``at: any`` and ``never:`` expectations, explored on every era
kernel (``--kernel all``). "explore" is what ``ftscen run`` does (one probed base run per
part, each placement spliced from the saved segments); "from start" runs a sample of the
same placements one full run each (what the exploration would cost without the saved
machine), in the same process, as the baseline. Times are this process's CPU time (steadier
than wall-clock time on a shared machine): the figures are per core.
Figures: the best of ``--rounds`` rounds.

    python benchmarks/explore.py [--rounds 5] [--sample 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from ftscen.app import pipeline as api
from ftscen.app.explore_plan import plan
from ftscen.app.explore_run import execute, partition
from ftscen.core.kernels import ERA_KERNELS
from ftscen.core.model import ANY, Quantified, Quantifier, Scenario
from ftscen.emu.run import Budget, run_scenario
from ftscen.verdicts.quantify import checks_for, states

SEED = Path(__file__).resolve().parent.parent / "scenarios" / "seed-livepatch-tracer-window.yaml"


def workload() -> Scenario:
    """The seed with both window calls at: any; never: the old bodies run in the window."""
    sc = api.load(SEED)
    timeline = tuple(
        dataclasses.replace(s, during=tuple(dataclasses.replace(d, at=ANY) for d in s.during))
        for s in sc.timeline
    )
    calls = [e for e in sc.expect if getattr(e, "call", None) in ("window", "window_tail")]
    plain = tuple(e for e in sc.expect if e not in calls)
    never = tuple(
        Quantified(Quantifier.NEVER, dataclasses.replace(e, ran=(old,), called=None), e.mark)
        for e, old in zip(calls, ("do_IRQ", "__migrate_task"), strict=True)
    )
    return dataclasses.replace(sc, timeline=timeline, expect=plain, quantified=never)


def explore_rate(sc: Scenario, rounds: int) -> tuple[float, int]:
    spaces = plan(sc, api.profiles(sc, list(ERA_KERNELS)), 10**7)
    parts, _ = partition(spaces, 10**7, 1)
    best = float("inf")
    total = sum(s.size for s in spaces)
    for _ in range(rounds):
        start = time.process_time()
        covered = execute(sc, spaces, parts, Budget())
        best = min(best, time.process_time() - start)
        assert sum(len(k) for k in covered.states) == total
    return total / best, total


def from_start_rate(sc: Scenario, rounds: int, sample: int) -> float:
    spaces = plan(sc, api.profiles(sc, list(ERA_KERNELS)), 10**7)
    todo = [(s, n) for s in spaces for n in range(s.size)][
        :: max(1, sum(x.size for x in spaces) // sample)
    ]
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for space, n in todo:
            checks = checks_for(sc, space.profile.release)
            states(run_scenario(space.pinned(sc, n), space.profile), checks)
        best = min(best, time.process_time() - start)
    return len(todo) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sample", type=int, default=100)
    args = ap.parse_args()
    sc = workload()
    rate, total = explore_rate(sc, args.rounds)
    base = from_start_rate(sc, args.rounds, args.sample)
    print(
        f"workload: seed, both window calls at: any, {len(ERA_KERNELS)} era kernels, {total} placements"
    )
    print(f"from start (baseline): {base:10,.0f} placements/s/core")
    print(f"explore:               {rate:10,.0f} placements/s/core  ({rate / base:.1f}x)")
    print("bar 5,000/s, goal 20,000/s")


if __name__ == "__main__":
    main()
