"""Exploration, step 1: the placement space of a scenario on each kernel, checked before
anything runs (docs/explore.md).

Which points a step passes depends on every step before it, so the patcher runs alone once
per kernel (as ``ftscen validate`` does); then each explored call's choices are known, and
so is the number of placements: the product of every explored call's choices (calls in one
step combine, steps multiply). A listed point the step never passes, ``at: any`` on a step
that changes no code, and a space over ``--max-placements`` are located errors (exit 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ftscen.app.pipeline import explored_unplaced, unplaced_diagnostic
from ftscen.core.errors import Diagnostic, ScenarioInvalid, UsageError
from ftscen.core.model import Scenario
from ftscen.core.profile import KernelProfile
from ftscen.emu.explore import (
    Choice,
    Slot,
    SlotKey,
    candidate_cpus,
    explored_entries,
    explored_stop,
    pin,
    points_passed,
    slots,
)
from ftscen.emu.explore_stops import stop_space
from ftscen.emu.run import dry_run

#: ``--place ID=stop@ADDRESS``: the word before an explored stop's address.
STOP_WORD = "stop@"

#: ``--max-placements`` when not given.
DEFAULT_MAX_PLACEMENTS = 100_000


@dataclass(frozen=True)
class Space:
    """The placements of the explored calls on one kernel, numbered in mixed radix (the last
    call's choice varies fastest; each call's choices in point order, then CPU)."""

    profile: KernelProfile
    slots: tuple[Slot, ...]

    @property
    def size(self) -> int:
        return math.prod(len(s.choices) for s in self.slots)

    def digits(self, index: int) -> tuple[int, ...]:
        out = []
        for slot in reversed(self.slots):
            index, d = divmod(index, len(slot.choices))
            out.append(d)
        return tuple(reversed(out))

    def place(self, index: int) -> list[tuple[Slot, Choice]]:
        return [(s, s.choices[d]) for s, d in zip(self.slots, self.digits(index), strict=True)]

    def rank(self, index: int) -> tuple[int, tuple[int, ...]]:
        """How minimal a placement is: fewest calls off their first point, then the
        earliest points (then the lowest CPUs), in each call's order of choices (the
        timeline's for ``at: any``, the list's for ``at: [P, ...]``); an explored stop is never "off": its
        earliest address along the call's path comes first."""
        digits = self.digits(index)
        off = sum(
            not s.stops and s.choices[d][0] != s.choices[0][0]
            for s, d in zip(self.slots, digits, strict=True)
        )
        return off, digits

    def pinned(self, sc: Scenario, index: int) -> Scenario:
        return pin(sc, {s.key: c for s, c in self.place(index)})


def place_words(space: Space, index: int) -> list[str]:
    """``ID=POINT`` (``@CPU`` for a ``cpu: any`` call) for each explored call."""
    return [choice_word(s, c) for s, c in space.place(index)]


def choice_word(slot: Slot, choice: Choice) -> str:
    point, cpu = choice
    if slot.stops:
        return f"{slot.id}={STOP_WORD}{point}"
    return f"{slot.id}={point}" + (f"@{cpu}" if slot.during.cpu_any else "")


def space_of(sc: Scenario, profile: KernelProfile) -> tuple[Space, list[Diagnostic]]:
    """The placements on one kernel, and the problems found planning them."""
    result = dry_run(sc, profile)
    passed = points_passed(result)
    found = [unplaced_diagnostic(u) for u in result.unplaced] + explored_unplaced(sc, passed)
    stops, bad = stop_space(sc, profile) if not found else ({}, [])
    return Space(profile, tuple(slots(sc, profile, passed, stops))), found + bad


def plan(
    sc: Scenario,
    profiles: list[KernelProfile],
    max_placements: int,
    known: list[Space] | None = None,
) -> list[Space]:
    """One :class:`Space` per kernel, or every problem as located diagnostics. ``known``:
    the spaces of the file before ``--place`` pinned some of its calls (``sc``), from
    :func:`check_places`; without explored stops, the space of ``sc`` is theirs without the
    pinned calls (a step's points are the patcher's alone, whatever the calls), so it is not
    planned again."""
    problems: list[Diagnostic] = []
    spaces = []
    for n, profile in enumerate(profiles):
        found: list[Diagnostic] = []
        if known is not None and not any(s.stops for s in known[n].slots):
            left = {key for key, _, _ in explored_entries(sc)}
            space = Space(profile, tuple(s for s in known[n].slots if s.key in left))
        else:
            space, found = space_of(sc, profile)
        problems += [d for d in found if d not in problems]
        spaces.append(space)
        if space.size > max_placements and space.slots:
            d = _too_many(space, max_placements)
            if d not in problems:
                problems.append(d)
    if problems:
        raise ScenarioInvalid(problems)
    return spaces


def _too_many(space: Space, limit: int) -> Diagnostic:
    first = space.slots[0].during
    counts = " x ".join(f"{len(s.choices)} ({s.id})" for s in space.slots)
    narrow = (
        "explore the stops inside one symbol (stop: {any: D.tramp}) instead of stop: any"
        if space.slots[0].stops
        else "list the points to try (at: [sites.int3, sites.tail]) instead of any"
    )
    return first.mark.diagnostic(
        f"{space.size} placements on kernel {space.profile.version} ({counts}); "
        f"the limit is {limit}",
        hint=f"{narrow}, or raise --max-placements",
    )


def parse_places(words: list[str]) -> dict[str, tuple[str, int | None]]:
    """``--place ID=POINT[@CPU]`` (``ID=stop@ADDRESS`` for an explored stop) options ->
    {id: (point, cpu)}; an explored stop's point keeps its ``stop@`` word."""
    out: dict[str, tuple[str, int | None]] = {}
    for word in words:
        name, sep, where = word.partition("=")
        if where.startswith(STOP_WORD):
            point, at, cpu = where, "", ""
        else:
            point, at, cpu = where.partition("@")
        if not sep or not name or not point or point == STOP_WORD or (at and not cpu.isdigit()):
            raise UsageError(
                f"--place: '{word}' is not ID=POINT, ID=POINT@CPU or ID=stop@SYMBOL+0xN"
            )
        if name in out:
            raise UsageError(f"--place: '{name}' is placed twice")
        out[name] = (point, int(cpu) if at else None)
    return out


def apply_places(sc: Scenario, places: dict[str, tuple[str, int | None]]) -> Scenario:
    """``sc`` with the named explored calls pinned (``--place``); a name that is not an
    explored call is a usage error naming those that are. Whether the point is one the
    call may take is checked per kernel by :func:`check_places`."""
    explored = {cid: (key, d) for key, cid, d in explored_entries(sc)}
    pins: dict[SlotKey, Choice] = {}
    for name, (point, cpu) in places.items():
        if name not in explored:
            known = ", ".join(explored) or "none"
            raise UsageError(f"--place: '{name}' is not an explored call (explored: {known})")
        key, d = explored[name]
        stops = explored_stop(d.call) is not None
        if stops != point.startswith(STOP_WORD):
            form = f"{name}={STOP_WORD}SYMBOL+0xN" if stops else f"{name}=POINT"
            raise UsageError(
                f"--place {name}={point}: '{name}' explores its "
                f"{'stop' if stops else 'point'}; write {form}"
            )
        if stops:
            point = point.removeprefix(STOP_WORD)
        if cpu is None and d.cpu_any:
            raise UsageError(f"--place: '{name}' has cpu: any; write {name}={point}@CPU")
        if cpu is None:
            (cpu,) = candidate_cpus(d, 0)  # not cpu: any: the one CPU the entry names
        pins[key] = (point, cpu)
    return pin(sc, pins)


def check_places(
    sc: Scenario,
    pinned: Scenario,
    profiles: list[KernelProfile],
    places: dict[str, tuple[str, int | None]],
) -> list[Space]:
    """Each ``--place`` names a point (and CPU) its call may take on every kernel run; the
    spaces of ``sc`` (for :func:`plan` of the pinned file)."""
    spaces = []
    for profile in profiles:
        space, problems = space_of(sc, profile)
        if problems:
            raise ScenarioInvalid(problems)
        spaces.append(space)
        by_id = {s.id: s for s in space.slots}
        for name, (point, cpu) in places.items():
            slot = by_id[name]
            points = [p for p, _ in slot.choices]
            if point.removeprefix(STOP_WORD) not in points:
                may = list(dict.fromkeys(points))
                shown = ", ".join(may[:12]) + (
                    f", ... ({len(may)} in all)" if len(may) > 12 else ""
                )
                raise UsageError(
                    f"--place {name}={point}: on kernel {profile.version} the call may take {shown}"
                )
            cpus = sorted({c for _, c in slot.choices})
            if cpu is not None and cpu not in cpus:
                raise UsageError(f"--place {name}: cpu {cpu} is not one of {cpus}")
    return spaces
