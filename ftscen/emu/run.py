"""Stage: Scenario + profile -> RunResult (image built, machine run, patcher driven, log read).

The timeline runs in order. A ``call`` step runs to completion on its CPU; a patcher step runs
on CPU 0 and, at each named point it passes, runs the ``during`` calls placed there, each to
completion. A fault ends the run (the CPU would have oopsed); what was logged until then
stays in the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ftscen.core.errno import errno_name
from ftscen.core.errors import Diagnostic
from ftscen.core.klp import Busy, Disable, Enable, Transition
from ftscen.core.model import Call, During, Mark, Resume, Scenario, Step
from ftscen.core.profile import KernelProfile
from ftscen.emu.events import CallInfo, Event, decode
from ftscen.emu.inflight import (
    InFlight,
    Stopped,
    not_a_boundary,
    record_hint,
    record_message,
    resolve_stop,
)
from ftscen.emu.klpstack import StackWalker
from ftscen.emu.livepatch import Livepatching
from ftscen.emu.machine import Fault, Machine, StopAt
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
    #: input mistakes only a run can find (a stop address outside the image, a resume of a
    #: call that is not stopped, a call on a CPU that holds a stopped call): exit 2
    problems: tuple[Diagnostic, ...] = ()
    #: ids of the calls still stopped when the run ended (never resumed)
    unresumed: tuple[str, ...] = ()

    @property
    def records(self) -> dict[str, int]:
        """The records' flags words after the last step that ran to its end."""
        return self.records_after[max(self.records_after)] if self.records_after else {}


class _Abort(Exception):
    """A fault inside a ``during`` call: unwind the patcher step."""


class _Misuse(_Abort):
    """An input mistake found by running (:attr:`RunResult.problems`): the run stops."""


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
        self.patcher = Patcher(sc, self.image, self.m, profile, self._at_point, self._wait)
        self.klp = (
            Livepatching(sc, self.patcher, self._klp_log, self._wait) if sc.livepatches else None
        )
        self.inflight = InFlight(self.image, profile, self.m)
        if self.klp is not None:
            self.klp.walker = StackWalker(self.image, profile, self.inflight)
        self.problems: list[Diagnostic] = []
        self._step: Step | None = None
        #: the call whose instruction path is recorded (:func:`call_path`), and that path
        self.trace_call: str | None = None
        self.path: tuple[int, ...] = ()

    def _klp_log(self, message: str) -> None:
        self.m.emit(L.EV_KLP, self.m.intern(message))

    def _int3(self, ip: int) -> tuple[int, int] | None:
        return self.patcher.int3_policy(ip)

    def _call(self, call: Call, cid: str, step: int, at: str | None, mark: Mark) -> None:
        cpu = call.cpu if call.cpu is not None else 1
        info = CallInfo(len(self.calls), cid, step, cpu, call.func, at)
        self.calls.append(info)
        if not self.execute_calls:
            return
        stop = self._stop_at(call)
        busy = self.inflight.on_cpu(cpu)
        if busy is not None:
            self._misuse(
                mark.diagnostic(
                    f"cpu{cpu} still holds call '{busy.info.id}', stopped: a CPU runs one "
                    "call at a time",
                    f"make this call on another CPU (`cpu:`, raising kernel.cpus if needed), "
                    f"or resume '{busy.info.id}' first",
                )
            )
        self.m.emit(L.EV_CALL, cpu, info.index)
        if cid == self.trace_call:
            self.m.path = []
        fault = self.m.run_call(cpu, self.image.functions[call.func], stop)
        if self.m.path is not None:
            self.path, self.m.path = tuple(self.m.path), None
        held = self.m.stopped
        record = None if held is None else self.image.in_record(held.pc)
        if held is not None and record is not None and call.stop is not None:
            # stop: {insns: N} landed inside a record (an address there is refused earlier)
            where = f"instruction {call.stop.insns} ({self.image.symbols.label_for(held.pc)})"
            self._misuse(
                call.stop.mark.diagnostic(
                    record_message(where, record, self.image), record_hint(record, self.image)
                )
            )
        self._after(info, fault)

    def _stop_at(self, call: Call) -> StopAt | None:
        if call.stop is None:
            return None
        where = resolve_stop(call.stop, self.image)
        if isinstance(where, Diagnostic):
            self._misuse(where)
        assert isinstance(where, StopAt)
        return where

    def _after(self, info: CallInfo, fault: Fault | None) -> None:
        """A call (or a resumed one) stopped, returned or faulted."""
        if fault is not None:
            self._record_fault(fault, info)
        held = self.m.stopped
        if held is not None and fault is None:
            self.m.emit(L.EV_STOP, held.cpu, info.index, held.pc)
            self.inflight.held[info.id] = Stopped(info, held)
            return
        self.m.emit(L.EV_RETURN, info.cpu, info.index)
        self.inflight.finished.add(info.id)
        if fault is not None:
            raise _Abort()

    def _resume(self, resume: Resume) -> None:
        if not self.execute_calls:
            return
        name, stopped = resume.call, self.inflight.held.pop(resume.call, None)
        if name in self.inflight.early:  # a wait let it run to its end already
            info = next(c for c in self.calls if c.id == name)
            self.m.emit(L.EV_RESUME, info.cpu, info.index, 0, self.inflight.early.pop(name) + 1)
            return
        if stopped is None:
            if name in self.inflight.resumed:
                why, hint = "it was resumed already and ran to its end", "resume it once"
            elif name in self.inflight.finished:
                why = "it ran to its end without reaching its stop"
                hint = self._stop_missed(name)
            else:
                why = "it has not been made yet at this point of the run"
                hint = "resume it after the point or step that makes the call"
            self._misuse(resume.mark.diagnostic(f"call '{name}' is not stopped here: {why}", hint))
            return
        self.inflight.resumed.add(name)
        held = stopped.held
        self.m.emit(L.EV_RESUME, held.cpu, stopped.info.index, held.pc)
        self._after(stopped.info, self.m.resume_call(held))

    def _stop_missed(self, name: str) -> str:
        """The hint for a call that returned without reaching its stop."""
        stop = next(
            (
                st.action.stop
                for st in self.sc.timeline
                if st.id == name and isinstance(st.action, Call) and st.action.stop is not None
            ),
            None,
        )
        if stop is not None and stop.at is None:
            return (
                f"the call returned before executing {stop.insns} instructions: use a smaller "
                "count, or drop the resume"
            )
        inside = not_a_boundary(stop, self.image) if stop is not None else None
        return inside or (
            "its CPU never came to the stop address: check it against the code the call "
            "runs (`ftscen build FILE --listing`), or drop the resume"
        )

    def _misuse(self, diagnostic: Diagnostic) -> None:
        self.problems.append(diagnostic)
        raise _Misuse()

    def _wait(self, wait: str, name: str | None = None) -> None:
        """The patcher waits (``ftscen.emu.inflight``): a stopped call that holds the wait up
        is named, the point ``wait.KIND`` passes (where a ``during`` may resume it), and a
        call still holding it up after that is a deadlock: the run ends there."""
        blocking = self.inflight.blocking(wait)
        if not blocking:
            return
        name = name or self.inflight.wait_name(wait)
        for s in blocking:
            self.m.emit(L.EV_WAIT, self.m.intern(name), s.info.index, s.held.pc)
        self.patcher.point(f"wait.{wait}")
        step = self._step
        assert step is not None
        for s in self.inflight.blocking(wait):
            if self._resumed_later(s.info.id, step):
                # the CPU is not stuck, only not yet run: the wait lets it finish now
                self._resume(Resume(s.info.id))
                self.inflight.early[s.info.id] = step.index
                continue
            label = self.image.symbols.label_for
            detail = (
                f"step {step.index} waits in {name} for call '{s.info.id}', stopped on "
                f"cpu{s.held.cpu} at {label(s.held.pc)}, and nothing resumes it: "
                f"{self._why_stuck(wait, s)}"
            )
            self._record_fault(Fault("deadlock", s.held.cpu, s.held.pc, None, detail), s.info)
            raise _Abort()

    def _why_stuck(self, wait: str, s: Stopped) -> str:
        """Why a wait nothing resumes never ends: a CPU that cannot schedule (or serve the
        IPI) hangs the kernel; a preempted task would run again in the kernel, and only the
        scenario, which never resumes it, keeps the wait from ending."""
        if wait == "sync":
            return (
                "its CPU has interrupts off in the int3 handler and never serves the IPI: "
                "the kernel hangs here"
            )
        if not self.inflight.preempted(s.held):
            return (
                "its CPU cannot schedule (a non-preemptible kernel, or preemption disabled "
                "there): the kernel hangs here"
            )
        return (
            "the task was preempted there; the kernel would run it again and the wait "
            "would end, but the scenario never lets it run"
        )

    def _resumed_later(self, name: str, now: Step) -> bool:
        """Whether the scenario resumes call ``name`` after this point: a later step, or a
        ``during`` of this step at a point not yet passed."""
        passed = set(self.patcher.points)
        for step in self.sc.timeline[now.index :]:
            later = step.index > now.index
            if later and isinstance(step.action, Resume) and step.action.call == name:
                return True
            for d in step.during:
                ours = d.resume is not None and d.resume.call == name
                if ours and (later or d.at not in passed):
                    return True
        return False

    def _record_fault(self, fault: Fault, info: CallInfo) -> None:
        label = self.image.symbols.label_for
        fault = self.inflight.in_freed_trampoline(fault, self.patcher.freed)
        detail = fault.detail + (f" at {fault.addr:#x}" if fault.addr is not None else "")
        self.m.emit(
            L.EV_FAULT,
            fault.cpu,
            info.index,
            fault.pc,
            self.m.intern(fault.kind),
            self.m.intern(detail),
        )
        step = self._step.index if self._step is not None else info.step
        self.fault = FaultReport(fault.kind, fault.cpu, label(fault.pc), step, info.id, detail)

    def _at_point(self, name: str) -> None:
        step = self._step
        assert step is not None
        for j, d in enumerate(step.during):
            if not d.explored:  # explored calls: ftscen.emu.explore
                self._fixed_entry(step, j, d, name)

    def _fixed_entry(self, step: Step, j: int, d: During, name: str) -> None:
        """``during`` entry ``j`` of ``step`` (not explored), if it is placed at ``name``."""
        if d.at != name:
            return
        if d.resume is not None:
            self._resume(d.resume)
        elif d.call is not None:
            self._call(d.call, call_id(d, step.index, j), step.index, name, d.mark)

    def run(self) -> RunResult:
        results: list[StepResult] = []
        records: dict[int, dict[str, int]] = {}
        try:
            for step in self.sc.timeline:
                self._step = step
                self.m.emit(L.EV_STEP, step.index)
                if isinstance(step.action, Call | Resume):
                    results.append(StepResult(step.index, None, None))
                    if isinstance(step.action, Resume):
                        self._resume(step.action)
                    else:
                        cid = step.id or f"@{step.index}"
                        self._call(step.action, cid, step.index, None, step.mark)
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
        for s in self.inflight.held.values():
            self.m.emit(L.EV_UNRESUMED, s.held.cpu, s.info.index, s.held.pc)
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
            tuple(self.problems),
            tuple(self.inflight.held),
        )

    def _patcher_step(self, step: Step) -> int:
        action = step.action
        if isinstance(action, Enable | Disable | Transition):
            assert self.klp is not None
            return self.klp.run(action)
        assert not isinstance(action, Call | Busy | Resume)
        return self.patcher.run(action)

    def _records(self) -> dict[str, int]:
        return {r.func: r.flags for r in self.patcher.table.all()}

    def _unplaced(self, results: list[StepResult]) -> tuple[Unplaced, ...]:
        """The ``during`` calls of every step that ran to its end whose point never came
        (a step cut short by a fault is not judged: its later points were never reached)."""
        done = results if self.fault is None and not self.problems else results[:-1]
        steps = {s.index: s for s in self.sc.timeline}
        return tuple(
            Unplaced(d, r.index, r.points)
            for r in done
            for d in steps[r.index].during
            if d.at not in r.points
            and not d.explored
            and (self.execute_calls or not d.at.startswith("wait."))
        )


def run_scenario(sc: Scenario, profile: KernelProfile, budget: Budget = Budget()) -> RunResult:
    """Stage entry point: the whole timeline, once, with every call run."""
    return Runner(sc, profile, True, budget).run()


def call_id(during: During, step: int, index: int) -> str:
    """The id of ``during`` entry ``index`` of step ``step``: its own, else ``@STEP.INDEX``."""
    return during.id or f"@{step}.{index}"


def call_path(sc: Scenario, profile: KernelProfile, cid: str) -> tuple[str, ...]:
    """The instruction boundaries call ``cid`` passes from its start to its return or
    stop, in order, by symbol (repeats included). Each is a valid ``stop: {at: ...}`` but
    those inside an event record, and entry N is where ``stop: {insns: N}`` stops: the stop
    points a search over every interleaving of the call would try."""
    path, image = traced_call(sc, profile, cid)
    return tuple(image.symbols.label_for(a) for a in path)


def traced_call(sc: Scenario, profile: KernelProfile, cid: str) -> tuple[tuple[int, ...], Image]:
    """The addresses of the instruction boundaries call ``cid`` passes (as
    :func:`call_path`) and the image they are in: the stops ``stop: any`` explores."""
    runner = Runner(sc, profile)
    runner.trace_call = cid
    runner.run()
    return runner.path, runner.image


def dry_run(sc: Scenario, profile: KernelProfile) -> RunResult:
    """The patcher alone (no calls run): which points each step passes."""
    return Runner(sc, profile, execute_calls=False).run()
