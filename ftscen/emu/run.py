"""Stage: Scenario + profile -> RunResult (image built, machine run, patcher driven, log read).

The timeline runs in order. A ``call`` step runs to completion on its CPU; a patcher step runs
on CPU 0 and, at each named point it passes, runs the ``during`` calls placed there, each to
completion. A fault ends the run (the CPU would have oopsed); what was logged until then
stays in the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ftscen.core.errno import errno_name
from ftscen.core.klp import Busy, Disable, Enable, Transition
from ftscen.core.model import Call, During, Scenario, Step
from ftscen.core.profile import KernelProfile
from ftscen.emu.events import CallInfo, Event, decode
from ftscen.emu.livepatch import Livepatching
from ftscen.emu.machine import Fault, Machine
from ftscen.emu.patcher import Patcher
from ftscen.image import layout as L
from ftscen.image.build import Image, build_image


@dataclass(frozen=True)
class StepResult:
    index: int
    errno: str | None  # None for call steps
    expected: str | None
    points: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultReport:
    kind: str
    cpu: int
    pc: str
    step: int
    call: str | None
    detail: str


@dataclass(frozen=True)
class Unplaced:
    """A ``during`` call whose step ran to its end without passing the point it names: a
    mistake in the scenario, found by running the modelled kernel (which points a step passes
    depends on the state of every ops before it)."""

    during: During
    step: int
    points: tuple[str, ...]  # the points the step did pass


@dataclass(frozen=True)
class RunResult:
    scenario: Scenario
    profile: KernelProfile
    events: tuple[Event, ...]
    steps: tuple[StepResult, ...]
    calls: tuple[CallInfo, ...]
    fault: FaultReport | None
    sites: dict[str, str] = field(default_factory=dict)  # final text per traceable function
    image: Image | None = None
    #: final text of ftrace_call, ftrace_regs_call and each OPS.tramp_call
    trampoline_sites: dict[str, str] = field(default_factory=dict)
    #: ``during`` calls placed at a point their step never passed (so they never ran)
    unplaced: tuple[Unplaced, ...] = ()
    #: each record's ``dyn_ftrace.flags`` word after each step that ran to its end, by step
    #: index (ftscen.core.recflags decodes it)
    records_after: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def records(self) -> dict[str, int]:
        """The records' flags words after the last step that ran to its end."""
        return self.records_after[max(self.records_after)] if self.records_after else {}


class _Abort(Exception):
    """A fault inside a ``during`` call: unwind the patcher step."""


@dataclass(frozen=True)
class Budget:
    per_call: int = 2_000_000
    total: int = 50_000_000


class Runner:
    def __init__(
        self,
        sc: Scenario,
        profile: KernelProfile,
        execute_calls: bool = True,
        budget: Budget = Budget(),
    ) -> None:
        self.sc, self.profile, self.execute_calls = sc, profile, execute_calls
        self.image = build_image(sc, profile)
        self.calls: list[CallInfo] = []
        self.fault: FaultReport | None = None
        self.m = Machine(self.image, profile.cpus, self._int3, budget.per_call, budget.total)
        self.patcher = Patcher(sc, self.image, self.m, profile, self._at_point)
        self.klp = Livepatching(sc, self.patcher, self._klp_log) if sc.livepatches else None
        self._step: Step | None = None

    def _klp_log(self, message: str) -> None:
        self.m.emit(L.EV_KLP, self.m.intern(message))

    def _int3(self, ip: int) -> tuple[int, int] | None:
        return self.patcher.int3_policy(ip)

    def _call(self, call: Call, cid: str, step: int, at: str | None) -> None:
        cpu = call.cpu if call.cpu is not None else 1
        info = CallInfo(len(self.calls), cid, step, cpu, call.func, at)
        self.calls.append(info)
        if not self.execute_calls:
            return
        self.m.emit(L.EV_CALL, cpu, info.index)
        fault = self.m.run_call(cpu, self.image.functions[call.func])
        if fault is not None:
            self._record_fault(fault, info)
        self.m.emit(L.EV_RETURN, cpu, info.index)
        if fault is not None:
            raise _Abort()

    def _record_fault(self, fault: Fault, info: CallInfo) -> None:
        label = self.image.symbols.label_for
        detail = fault.detail + (f" at {fault.addr:#x}" if fault.addr is not None else "")
        self.m.emit(
            L.EV_FAULT,
            fault.cpu,
            info.index,
            fault.pc,
            self.m.intern(fault.kind),
            self.m.intern(detail),
        )
        self.fault = FaultReport(fault.kind, fault.cpu, label(fault.pc), info.step, info.id, detail)

    def _at_point(self, name: str) -> None:
        step = self._step
        assert step is not None
        for j, d in enumerate(step.during):
            if d.at == name and not d.explored:  # explored calls: ftscen.emu.explore
                self._call(d.call, d.id or f"@{step.index}.{j}", step.index, name)

    def run(self) -> RunResult:
        results: list[StepResult] = []
        records: dict[int, dict[str, int]] = {}
        try:
            for step in self.sc.timeline:
                self._step = step
                self.m.emit(L.EV_STEP, step.index)
                if isinstance(step.action, Call):
                    results.append(StepResult(step.index, None, None))
                    self._call(step.action, step.id or f"@{step.index}", step.index, None)
                    records[step.index] = self._records()
                    continue
                if isinstance(step.action, Busy):
                    assert self.klp is not None
                    self.klp.busy(step.action)
                    results.append(StepResult(step.index, None, None))
                    records[step.index] = self._records()
                    continue
                expected = step.expected(self.profile.release)
                try:
                    ret = self._patcher_step(step)
                except _Abort:
                    results.append(
                        StepResult(step.index, None, expected, tuple(self.patcher.points))
                    )
                    raise
                self.m.emit(L.EV_RESULT, -ret)
                results.append(
                    StepResult(step.index, errno_name(-ret), expected, tuple(self.patcher.points))
                )
                records[step.index] = self._records()
        except _Abort:
            pass
        sites = {f: self.patcher.site_text(f) for f in self.patcher.records}
        trampoline_sites = self.patcher.trampoline_site_texts()
        self.m.stop_running()
        events = decode(self.m.ring(), self.m.strings, self.image, self.calls)
        return RunResult(
            self.sc,
            self.profile,
            tuple(events),
            tuple(results),
            tuple(self.calls),
            self.fault,
            sites,
            self.image,
            trampoline_sites,
            self._unplaced(results),
            records,
        )

    def _patcher_step(self, step: Step) -> int:
        action = step.action
        if isinstance(action, Enable | Disable | Transition):
            assert self.klp is not None
            return self.klp.run(action)
        assert not isinstance(action, Call | Busy)
        return self.patcher.run(action)

    def _records(self) -> dict[str, int]:
        return {r.func: r.flags for r in self.patcher.table.all()}

    def _unplaced(self, results: list[StepResult]) -> tuple[Unplaced, ...]:
        """The ``during`` calls of every step that ran to its end whose point never came
        (a step cut short by a fault is not judged: its later points were never reached)."""
        done = results if self.fault is None else results[:-1]
        steps = {s.index: s for s in self.sc.timeline}
        return tuple(
            Unplaced(d, r.index, r.points)
            for r in done
            for d in steps[r.index].during
            if d.at not in r.points and not d.explored
        )


def run_scenario(sc: Scenario, profile: KernelProfile, budget: Budget = Budget()) -> RunResult:
    """Stage entry point: the whole timeline, once, with every call run."""
    return Runner(sc, profile, True, budget).run()


def dry_run(sc: Scenario, profile: KernelProfile) -> RunResult:
    """The patcher alone (no calls run): which points each step passes."""
    return Runner(sc, profile, execute_calls=False).run()
