"""Stage: Scenario + profile -> the runs of every placement of its explored calls.

An explored ``during`` call (``at: any``, a list of points, ``cpu: any``) has several
placements; a placement of the scenario picks one for each. Running the timeline from the
start for each placement repeats the same prefix every time, so :class:`Prober` runs it
once: the patcher goes through the whole timeline with the fixed calls, and at every point an
explored call may take it saves the state the calls can change (the CPU registers are set
afresh for each call; the memory emulated code writes: ``RING_PTR``, ``current`` and the
per-CPU task structs with their recursion bits), runs the call on each candidate CPU,
keeps what it logged (a *segment*) and puts the saved state back. The patcher's state is
not saved: a call never changes it (it runs on CPUs 1.., the patcher on CPU 0 only reads
the int3 it put in place).

A placement whose calls all leave the machine as they found it (the written memory
compares equal after the call, no fault, the run's instruction budget not exceeded) reaches
the same state as the base run at every point, so its log is the base log with its calls'
segments spliced in at their points (:meth:`Probed.assemble`). Any other placement is run
from the start (:func:`pin` gives the fixed scenario), as ``ftscen run --place`` does.
Unicorn's own ``context_save``/``mem`` snapshots are not used: after a restore, host
writes to the text fail with ``UC_ERR_WRITE_UNMAPPED``; the state is a few hundred bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ftscen.core.errors import InternalError
from ftscen.core.model import ANY, Call, During, Scenario, Step, Stop
from ftscen.core.profile import KernelProfile
from ftscen.emu.events import CallInfo, Event, decode
from ftscen.emu.run import Budget, Runner, RunResult, _Abort, call_id
from ftscen.image import layout as L

#: The memory emulated code writes besides the ring and the stacks (``RING_PTR``,
#: ``current``, the task structs); saved before each probed call and put back after it.
_STATE = (L.DATA_BASE, L.TASKS + L.MAX_CPUS * L.TASK_SIZE - L.DATA_BASE)
#: ``current`` is set by the host before every call (``Machine.run_call``): no later call
#: can read the value one left, so it is not compared.
_CURRENT = slice(L.CURRENT_TASK - L.DATA_BASE, L.CURRENT_TASK - L.DATA_BASE + 4)


def _same_state(before: bytes, after: bytes) -> bool:
    a, b = bytearray(before), bytearray(after)
    a[_CURRENT] = b[_CURRENT] = bytes(4)
    return a == b


#: (step index, index in the step's ``during``, or :data:`OWN`) of an explored call.
SlotKey = tuple[int, int]
#: (point, cpu) of one explored call; for an explored stop, (stop address, cpu).
Choice = tuple[str, int]
#: The index in a :data:`SlotKey` of a ``call:`` step's own call (not a ``during`` entry).
OWN = -1


@dataclass(frozen=True)
class Slot:
    """One explored call and, on one kernel, the placements it can take, in order."""

    step: int
    index: int
    id: str
    during: During
    choices: tuple[Choice, ...]

    @property
    def key(self) -> SlotKey:
        return (self.step, self.index)

    @property
    def stops(self) -> bool:
        """Whether the call's stop is explored (its choices are stop addresses)."""
        return explored_stop(self.during.call) is not None


def explored_stop(call: Call | None) -> Stop | None:
    """The call's stop when it is explored (``stop: any``, ``stop: {any: SYMBOL}``)."""
    if call is None or call.stop is None or not call.stop.explored:
        return None
    return call.stop


def step_call(step: Step) -> During | None:
    """A ``call:`` step whose stop is explored, as the entry of its slot (``at`` is empty:
    the call is made by the step itself)."""
    action = step.action
    if not isinstance(action, Call) or explored_stop(action) is None:
        return None
    assert action.stop is not None
    return During("", action, step.id, action.stop.mark)


def candidate_points(during: During, passed: tuple[str, ...]) -> tuple[str, ...]:
    """The points a call may take: every point its step passes (``any``), or its list."""
    if during.at == ANY:
        return passed
    return during.points or (during.at,)


def candidate_cpus(during: During, cpus: int) -> tuple[int, ...]:
    if during.cpu_any:
        return tuple(range(1, cpus))
    return (_call_of(during).cpu or 1,)


def _call_of(during: During) -> Call:
    """An explored entry's call (an entry that resumes a stopped call is never explored)."""
    if during.call is None:
        raise InternalError(f"an explored entry without a call at {during.at}")
    return during.call


def explored_entries(sc: Scenario) -> list[tuple[SlotKey, str, During]]:
    """(key, id, entry) of every explored call of ``sc`` in timeline order: a ``call:``
    step with an explored stop, then the step's explored ``during`` entries."""
    out = []
    for step in sc.timeline:
        own = step_call(step)
        if own is not None:
            out.append(((step.index, OWN), step.id or f"@{step.index}", own))
        for j, d in enumerate(step.during):
            if d.explored:
                out.append(((step.index, j), call_id(d, step.index, j), d))
    return out


def slots(
    sc: Scenario,
    profile: KernelProfile,
    points: dict[int, tuple[str, ...]],
    stops: dict[str, tuple[str, ...]] | None = None,
) -> list[Slot]:
    """The explored calls of ``sc``, given the points each step passes on ``profile`` and,
    for a call whose stop is explored, the stop addresses it may take (``stops`` by id)."""
    out = []
    for (step, j), cid, d in explored_entries(sc):
        cpus = candidate_cpus(d, profile.cpus)
        if explored_stop(d.call) is not None:
            where = (stops or {}).get(cid, ())
        else:
            where = candidate_points(d, points.get(step, ()))
        choices = tuple((p, c) for p in where for c in cpus)
        out.append(Slot(step, j, cid, d, choices))
    return out


def pin(sc: Scenario, place: dict[SlotKey, Choice]) -> Scenario:
    """``sc`` with each explored call fixed at its chosen point and CPU, or its explored stop
    at the chosen address (a plain scenario)."""
    timeline = []
    for step in sc.timeline:
        action = step.action
        if (step.index, OWN) in place and isinstance(action, Call):
            action = _stopped(action, place[(step.index, OWN)][0])
        during = tuple(
            _pinned(d, place[(step.index, j)]) if (step.index, j) in place else d
            for j, d in enumerate(step.during)
        )
        timeline.append(dataclasses.replace(step, action=action, during=during))
    return dataclasses.replace(sc, timeline=tuple(timeline))


def _stopped(call: Call, address: str) -> Call:
    assert call.stop is not None
    return dataclasses.replace(call, stop=Stop(at=address, mark=call.stop.mark))


def _pinned(d: During, choice: Choice) -> During:
    point, cpu = choice
    call = _call_of(d)
    if explored_stop(call) is not None:
        return dataclasses.replace(d, call=_stopped(call, point))
    return dataclasses.replace(d, at=point, points=(), cpu_any=False, call=Call(call.func, cpu))


def unstopped(sc: Scenario, cid: str) -> Scenario:
    """``sc`` with call ``cid``'s explored stop removed: it runs to its end, passing every
    stop address it may take (its path is the same up to the first time it reaches any)."""
    timeline = []
    for step in sc.timeline:
        action, during = step.action, list(step.during)
        if isinstance(action, Call) and (step.id or f"@{step.index}") == cid:
            action = dataclasses.replace(action, stop=None)
        for j, d in enumerate(during):
            if d.call is not None and call_id(d, step.index, j) == cid:
                during[j] = dataclasses.replace(d, call=dataclasses.replace(d.call, stop=None))
        timeline.append(dataclasses.replace(step, action=action, during=tuple(during)))
    return dataclasses.replace(sc, timeline=tuple(timeline))


@dataclass(frozen=True)
class Segment:
    """What one explored call logged at one point on one CPU, run from the saved state."""

    info: CallInfo
    events: tuple[Event, ...]
    #: no fault, and the written memory is as it was before the call
    clean: bool
    executed: int


class Prober(Runner):
    """The base run: the fixed calls as written, every explored call probed at each point
    it may take (see the module docstring)."""

    def __init__(
        self, sc: Scenario, profile: KernelProfile, wanted: list[Slot], budget: Budget
    ) -> None:
        super().__init__(sc, profile, True, budget)
        self.budget = budget
        self.wanted = {s.key: s for s in wanted}
        #: (slot, point) -> index in the base log where a call placed there goes
        self.at: dict[tuple[SlotKey, str], int] = {}
        self.segments: dict[tuple[SlotKey, Choice], Segment] = {}

    def _at_point(self, name: str) -> None:
        step = self._step
        assert step is not None
        for j, d in enumerate(step.during):
            if not d.explored:
                self._fixed_entry(step, j, d, name)
                continue
            slot = self.wanted.get((step.index, j))
            if slot is None:
                continue
            self.at[(slot.key, name)] = len(self.m.ring())
            for point, cpu in slot.choices:
                if point == name:
                    self._probe(slot, name, cpu)

    def _probe(self, slot: Slot, point: str, cpu: int) -> None:
        m = self.m
        saved = m.read(*_STATE)
        start, n_calls = len(m.ring()), len(self.calls)
        insns_left, executed = m.insns_left, m.executed
        fault = None
        try:
            call = Call(_call_of(slot.during).func, cpu)
            self._call(call, slot.id, slot.step, point, slot.during.mark)
        except _Abort:
            fault, self.fault = self.fault, None
        raw = m.ring()[start:]
        events = decode(raw, m.strings, self.image, self.calls, slot.step)
        info = self.calls[n_calls]
        clean = fault is None and _same_state(saved, m.read(*_STATE))
        self.segments[(slot.key, (point, cpu))] = Segment(
            info, tuple(events), clean, m.executed - executed
        )
        del m.records[start:]
        del self.calls[n_calls:]
        m.engine.write(_STATE[0], saved)
        m.trap.handling.clear()  # a fault inside the int3 handler leaves it set
        m.insns_left, m.executed = insns_left, executed


@dataclass(frozen=True)
class Probed:
    """The base run and the segments of every explored call, on one kernel."""

    base: RunResult
    at: dict[tuple[SlotKey, str], int]
    segments: dict[tuple[SlotKey, Choice], Segment]
    executed: int
    budget: Budget

    def assemble(self, place: list[tuple[Slot, Choice]]) -> RunResult | None:
        """The run of one placement from the base log and its segments; None when it must be
        run from the start (a segment changed the state or faulted, the base run faulted,
        or the calls together would exceed the run's instruction budget)."""
        if not self.assemble_ok(place):
            return None
        inserts = []
        for slot, choice in place:
            seg = self.segments[(slot.key, choice)]
            inserts.append((self.at[(slot.key, choice[0])], slot.index, seg))
        inserts.sort(key=lambda t: (t[0], t[1]))
        return self._splice(inserts)

    def assemble_ok(self, place: list[tuple[Slot, Choice]]) -> bool:
        """Whether the placement can be spliced (see :meth:`assemble`)."""
        if self.base.fault is not None:
            return False
        used = self.executed
        for slot, choice in place:
            seg = self.segments[(slot.key, choice)]
            if not seg.clean:
                return False
            used += seg.executed
        return used <= self.budget.total

    def _splice(self, inserts: list[tuple[int, int, Segment]]) -> RunResult:
        base = self.base
        events: list[Event] = []
        calls: list[CallInfo] = []
        fixed = iter(base.calls)
        last = 0
        for pos, _, seg in inserts:
            events.extend(base.events[last:pos])
            last = pos
            events.extend(seg.events)
        events.extend(base.events[last:])
        by_id = {seg.info.id: seg.info for _, _, seg in inserts}
        pending = {c.id for c in base.calls}
        for e in events:  # the calls in the order they started
            if e.kind == "call" and e.call is not None:
                info = by_id.get(e.call) if e.call not in pending else next(fixed)
                assert info is not None
                calls.append(dataclasses.replace(info, index=len(calls)))
        return dataclasses.replace(base, events=tuple(events), calls=tuple(calls))


def probe(sc: Scenario, profile: KernelProfile, wanted: list[Slot], budget: Budget) -> Probed:
    """Run the base timeline once and every explored call at each of its choices."""
    runner = Prober(sc, profile, wanted, budget)
    base = runner.run()
    return Probed(base, runner.at, runner.segments, runner.m.executed, budget)


def points_passed(result: RunResult) -> dict[int, tuple[str, ...]]:
    """Step index -> the points it passed, from a (dry) run."""
    return {s.index: s.points for s in result.steps}


__all__ = [
    "OWN",
    "Choice",
    "Probed",
    "Segment",
    "Slot",
    "SlotKey",
    "candidate_cpus",
    "candidate_points",
    "explored_entries",
    "explored_stop",
    "pin",
    "points_passed",
    "probe",
    "slots",
    "unstopped",
]
