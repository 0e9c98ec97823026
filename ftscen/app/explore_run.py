"""Exploration, step 2: run the placements, here, in ``--jobs`` processes or on a Dask
cluster (``--scheduler tcp://HOST:PORT``), and merge the results in a fixed order.

The space of each kernel is cut into parts (ranges of placement numbers); a part runs the
base timeline once (:func:`ftscen.emu.explore.probe`) and then each of its placements, and
returns one state string per placement (:func:`ftscen.verdicts.quantify.states`). Parts are
merged by (kernel, first placement), whoever ran them, so the report of a run split over
processes or machines is byte-identical to a serial one. Dask (the ``explore`` extra) is
imported only when a scheduler is named.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ftscen.app.explore_plan import Space
from ftscen.core.errors import UsageError
from ftscen.core.model import Scenario
from ftscen.emu.explore import probe
from ftscen.emu.run import Budget, run_scenario
from ftscen.verdicts.quantify import SplicedStates, checks_for, states

#: Placements per part: enough to pay for the part's base run many times over, few enough
#: that a time budget and the progress line see parts finish often.
PART = 2_000


@dataclass(frozen=True)
class Part:
    kernel: int  # index of the space
    lo: int
    hi: int


@dataclass(frozen=True)
class Covered:
    """What ran: each kernel's states by placement number, and why it stopped short."""

    states: list[dict[int, str]]
    #: None: every placement ran; else what cut it short
    stopped: str | None
    seconds: float


def run_part(sc: Scenario, space: Space, lo: int, hi: int, budget: Budget) -> list[str]:
    """Placements ``lo``..``hi`` of ``space``: one state string each (assembled from the
    probed segments where it can be, else run from the start)."""
    profile = space.profile
    checks = checks_for(sc, profile.release)
    if any(s.stops for s in space.slots):
        # an explored stop: its calls in flight make waits the saved machine does not
        # model, so each placement runs from the start, as its replay does
        pinned = (space.pinned(sc, index) for index in range(lo, hi))
        return [states(run_scenario(p, profile, budget), checks) for p in pinned]
    probed = probe(sc, profile, list(space.slots), budget)
    spliced_states = SplicedStates(probed, checks, [s.id for s in space.slots])
    out = []
    for index in range(lo, hi):
        got = spliced_states.states(space.place(index))
        if got is None:
            got = states(run_scenario(space.pinned(sc, index), profile, budget), checks)
        out.append(got)
    return out


def partition(spaces: list[Space], limit: int, workers: int) -> tuple[list[Part], bool]:
    """The parts to run, in (kernel, placement) order, at most ``limit`` placements in all;
    True when the limit cut the spaces short."""
    parts: list[Part] = []
    left = limit
    for k, space in enumerate(spaces):
        size = min(space.size, left)
        step = PART if workers <= 1 else max(1, min(PART, -(-size // (workers * 2))))
        parts += [Part(k, lo, min(lo + step, size)) for lo in range(0, size, step)]
        left -= size
    total = sum(s.size for s in spaces)
    return parts, total > limit


Progress = Callable[[int, float], None]


def execute(
    sc: Scenario,
    spaces: list[Space],
    parts: list[Part],
    budget: Budget,
    jobs: int = 1,
    scheduler: str | None = None,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> Covered:
    """Run ``parts`` and merge them; stop when ``deadline`` (a ``time.monotonic()``) passes."""
    start = time.monotonic()
    found: list[dict[int, str]] = [{} for _ in spaces]
    done = 0
    stopped = None
    if scheduler is not None:
        results = _dask(sc, spaces, parts, budget, scheduler, deadline)
    elif jobs > 1 and len(parts) > 1:
        results = _pool(sc, spaces, parts, budget, jobs, deadline)
    else:
        results = _serial(sc, spaces, parts, budget, deadline)
    for part, got in results:
        if got is None:
            stopped = "time"
            continue
        for offset, s in enumerate(got):
            found[part.kernel][part.lo + offset] = s
        done += len(got)
        if progress is not None:
            progress(done, time.monotonic() - start)
    return Covered(found, stopped, time.monotonic() - start)


Result = tuple[Part, list[str] | None]


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _serial(
    sc: Scenario, spaces: list[Space], parts: list[Part], budget: Budget, deadline: float | None
) -> Iterator[Result]:
    for part in parts:
        if _late(deadline):
            yield part, None
            continue
        yield part, run_part(sc, spaces[part.kernel], part.lo, part.hi, budget)


def _pool(
    sc: Scenario,
    spaces: list[Space],
    parts: list[Part],
    budget: Budget,
    jobs: int,
    deadline: float | None,
) -> Iterator[Result]:
    from concurrent.futures import TimeoutError as FutureTimeout

    from ftscen.app.workers import start_pool, stop_pool

    pool = start_pool(min(jobs, len(parts)))
    try:
        futures = [pool.submit(run_part, sc, spaces[p.kernel], p.lo, p.hi, budget) for p in parts]
        for part, future in zip(parts, futures, strict=True):
            try:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                yield part, future.result(timeout=timeout)
            except FutureTimeout:
                yield part, None
    finally:
        stop_pool(pool)


def _dask(
    sc: Scenario,
    spaces: list[Space],
    parts: list[Part],
    budget: Budget,
    scheduler: str,
    deadline: float | None,
) -> Iterator[Result]:
    """The same parts as futures on a Dask cluster; results taken in part order."""
    try:
        from dask.distributed import Client
        from dask.distributed import TimeoutError as DaskTimeout
    except ImportError:
        raise UsageError(
            "--scheduler needs Dask: pip install 'ftscen[explore]' (dask[distributed])"
        ) from None
    try:
        client = Client(scheduler, timeout=10, set_as_default=False)
    except OSError as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot reach the scheduler ({exc})") from None
    try:
        futures = [
            client.submit(run_part, sc, spaces[p.kernel], p.lo, p.hi, budget, pure=False)
            for p in parts
        ]
        for part, future in zip(parts, futures, strict=True):
            timeout = None if deadline is None else max(0.001, deadline - time.monotonic())
            try:
                yield part, future.result(timeout=timeout)
            except (TimeoutError, DaskTimeout):
                future.cancel()
                yield part, None
    finally:
        client.close()
