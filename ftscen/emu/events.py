"""Stage: the event ring -> the callback log (symbolized, deterministic events).

Bodies and handlers write ``EV_RAN`` / ``EV_CALLBACK`` records from emulated code; the host
writes steps, points, patches, int3 decisions, calls, results and faults into the same ring,
so the order of the log is the order things happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ftscen.core import recflags
from ftscen.core.errno import errno_name
from ftscen.core.errors import IntegrityError
from ftscen.image import layout as L
from ftscen.image.build import Image


@dataclass(frozen=True)
class CallInfo:
    """One call of the timeline (``during`` calls included); ``id`` is generated (``@3``,
    ``@3.1``) when the scenario gives none."""

    index: int
    id: str
    step: int
    cpu: int
    func: str
    at: str | None = None


@dataclass(frozen=True)
class Event:
    """One entry of the callback log. Each kind is its own class with its own fields; ``kind``
    names it in JSON and ``to_dict`` lists the common fields first, then the kind's own."""

    kind: ClassVar[str] = "event"
    step: int
    cpu: int
    call: str | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        out.update((f.name, getattr(self, f.name)) for f in fields(self))
        return out


@dataclass(frozen=True)
class StepEvent(Event):
    kind: ClassVar[str] = "step"
    index: int


@dataclass(frozen=True)
class CallEvent(Event):
    """A call of the timeline starts; ``at`` is the point it was placed at, if any."""

    kind: ClassVar[str] = "call"
    func: str
    at: str | None


@dataclass(frozen=True)
class ReturnEvent(Event):
    kind: ClassVar[str] = "return"


@dataclass(frozen=True)
class RanEvent(Event):
    """A function body ran (written by the body itself, in emulated code)."""

    kind: ClassVar[str] = "ran"
    func: str


@dataclass(frozen=True)
class CallbackEvent(Event):
    """An ops' handler was called (written by the handler, in emulated code)."""

    kind: ClassVar[str] = "callback"
    ops: str
    ip: str
    parent_ip: str
    regs: bool
    op: str


@dataclass(frozen=True)
class Int3Event(Event):
    """The int3 handler's decision: ``call`` (emulate a call to target) or ``jmp``, and the
    trap frame as the handler left it: where pt_regs lies (``regs``), ``regs->ip`` (where
    ``iret`` goes), ``regs->sp`` (the stack it returns to) and, for a call, the return
    address pushed there. The frame fields are None when the handler did not finish (a
    fault in it). Only the JSON log shows the frame; the text line stays one sentence."""

    kind: ClassVar[str] = "int3"
    ip: str
    action: str
    target: str
    regs: str | None = None
    regs_ip: str | None = None
    regs_sp: str | None = None
    pushed: str | None = None


@dataclass(frozen=True)
class PointEvent(Event):
    kind: ClassVar[str] = "point"
    point: str


@dataclass(frozen=True)
class PatchEvent(Event):
    kind: ClassVar[str] = "patch"
    site: str
    change: str


@dataclass(frozen=True)
class ResultEvent(Event):
    kind: ClassVar[str] = "result"
    errno: str


@dataclass(frozen=True)
class FaultEvent(Event):
    kind: ClassVar[str] = "fault"
    fault: str
    pc: str
    detail: str


@dataclass(frozen=True)
class WarnEvent(Event):
    """A kernel WARN naming a record, as ``pr_warn("  %pS flags:%lx")`` prints it, with the
    flags decoded; ``where`` is the function that WARNs. The WARN calls ``ftrace_kill()``."""

    kind: ClassVar[str] = "warn"
    where: str
    func: str
    flags: str
    names: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class StopEvent(Event):
    """A call stopped before its end, about to execute the instruction at ``pc``; its CPU
    keeps its registers and stack until a ``resume``."""

    kind: ClassVar[str] = "stop"
    pc: str


@dataclass(frozen=True)
class ResumeEvent(Event):
    """A stopped call runs on from ``pc``; ``at`` is the point it is resumed at, if any."""

    kind: ClassVar[str] = "resume"
    pc: str | None
    at: str | None
    #: the step whose wait already let the call run to its end (then nothing runs here)
    finished_in: int | None = None


@dataclass(frozen=True)
class WaitEvent(Event):
    """The patcher (CPU 0) waits, in kernel function ``wait``, for the stopped call named
    by ``call`` (on ``cpu``, at ``pc``)."""

    kind: ClassVar[str] = "wait"
    wait: str
    pc: str


@dataclass(frozen=True)
class UnresumedEvent(Event):
    """At the end of the run, a call is still stopped at ``pc``: nothing resumed it."""

    kind: ClassVar[str] = "unresumed"
    pc: str


@dataclass(frozen=True)
class KlpEvent(Event):
    """A message of the livepatch core, in the kernel's words where it prints one
    (``pr_notice``/``pr_debug`` of kernel/livepatch/, without the ``livepatch: `` prefix)."""

    kind: ClassVar[str] = "livepatch"
    message: str


Raw = tuple[int, ...]


class _Decoder:
    """Raw ring records -> events, tracking the current step and the call being run."""

    def __init__(self, strings: list[str], image: Image, calls: list[CallInfo]) -> None:
        self.strings, self.image, self.calls = strings, image, calls
        self.label = image.symbols.label_for
        self.step = -1
        self.at: str | None = None  # the last point passed in this step
        self.stack: list[CallInfo] = []

    def where(self) -> tuple[int, int, str | None]:
        cur = self.stack[-1] if self.stack else None
        return (self.step, cur.cpu, cur.id) if cur else (self.step, 0, None)

    def host(self) -> tuple[int, int, None]:
        return self.step, 0, None

    def step_(self, r: Raw) -> Event:
        self.step, self.at = r[1], None
        return StepEvent(*self.host(), index=r[1])

    def call_(self, r: Raw) -> Event:
        info = self.calls[r[2]]
        self.stack.append(info)
        return CallEvent(self.step, info.cpu, info.id, func=info.func, at=info.at)

    def return_(self, r: Raw) -> Event:
        info = self.stack.pop()
        return ReturnEvent(self.step, info.cpu, info.id)

    def stop(self, r: Raw) -> Event:
        info = self.stack.pop()
        return StopEvent(self.step, info.cpu, info.id, pc=self.label(r[3]))

    def resume(self, r: Raw) -> Event:
        info = self.calls[r[2]]
        if r[4]:
            return ResumeEvent(self.step, info.cpu, info.id, None, self.at, r[4] - 1)
        self.stack.append(info)
        return ResumeEvent(self.step, info.cpu, info.id, pc=self.label(r[3]), at=self.at)

    def wait(self, r: Raw) -> Event:
        info = self.calls[r[2]]
        return WaitEvent(self.step, info.cpu, info.id, wait=self.strings[r[1]], pc=self.label(r[3]))

    def unresumed(self, r: Raw) -> Event:
        info = self.calls[r[2]]
        return UnresumedEvent(self.step, info.cpu, info.id, pc=self.label(r[3]))

    def ran(self, r: Raw) -> Event:
        return RanEvent(*self.where(), func=self.image.func_names[r[1]])

    def callback(self, r: Raw) -> Event:
        lb = self.label
        return CallbackEvent(
            *self.where(),
            ops=self.image.ops_names[r[1]],
            ip=lb(r[2]),
            parent_ip=lb(r[3]),
            regs=r[4] != 0,
            op=lb(r[5]),
        )

    def int3(self, r: Raw) -> Event:
        action = "call" if r[2] == L.INT3_CALL else "jmp"
        done = r[5] != 0  # regs->ip is never 0 once the handler has run
        return Int3Event(
            *self.where(),
            ip=self.label(r[1]),
            action=action,
            target=self.label(r[3]),
            regs=f"{r[4]:#x}",
            regs_ip=self.label(r[5]) if done else None,
            regs_sp=f"{r[6]:#x}" if done else None,
            pushed=self.label(r[7]) if done and action == "call" else None,
        )

    def point(self, r: Raw) -> Event:
        self.at = self.strings[r[1]]
        return PointEvent(*self.host(), point=self.at)

    def patch(self, r: Raw) -> Event:
        return PatchEvent(*self.host(), site=self.label(r[1]), change=self.strings[r[2]])

    def result(self, r: Raw) -> Event:
        return ResultEvent(*self.host(), errno=errno_name(r[1]))

    def fault(self, r: Raw) -> Event:
        failed = self.calls[r[2]] if r[2] < len(self.calls) else None
        return FaultEvent(
            self.step,
            r[1],
            failed.id if failed else None,
            fault=self.strings[r[4]],
            pc=self.label(r[3]),
            detail=self.strings[r[5]],
        )

    def warn(self, r: Raw) -> Event:
        return WarnEvent(
            *self.host(),
            where=self.strings[r[3]],
            func=self.label(r[1]),
            flags=f"{r[2]:#x}",
            names=recflags.names(r[2]),
            count=recflags.count(r[2]),
        )

    def klp(self, r: Raw) -> Event:
        return KlpEvent(*self.host(), message=self.strings[r[1]])


#: Ring record kind -> how it decodes (layout.EV_* documents each record's words).
_DECODE: dict[int, Callable[[_Decoder, Raw], Event]] = {
    L.EV_STEP: _Decoder.step_,
    L.EV_CALL: _Decoder.call_,
    L.EV_RETURN: _Decoder.return_,
    L.EV_RAN: _Decoder.ran,
    L.EV_CALLBACK: _Decoder.callback,
    L.EV_INT3: _Decoder.int3,
    L.EV_POINT: _Decoder.point,
    L.EV_PATCH: _Decoder.patch,
    L.EV_RESULT: _Decoder.result,
    L.EV_FAULT: _Decoder.fault,
    L.EV_WARN: _Decoder.warn,
    L.EV_STOP: _Decoder.stop,
    L.EV_RESUME: _Decoder.resume,
    L.EV_WAIT: _Decoder.wait,
    L.EV_UNRESUMED: _Decoder.unresumed,
    L.EV_KLP: _Decoder.klp,
}


def decode(
    ring: list[tuple[int, ...]],
    strings: list[str],
    image: Image,
    calls: list[CallInfo],
    step: int = -1,
) -> list[Event]:
    """Turn raw ring records into events, in ring order; a record that is not one the model
    writes (unknown kind, a call, function or string that does not exist) is corrupt state.
    ``step`` is the step the records start in (a slice of a log that holds no step record)."""
    dec = _Decoder(strings, image, calls)
    dec.step = step
    out = []
    for n, raw in enumerate(ring):
        try:
            out.append(_DECODE[raw[0]](dec, raw))
        except (KeyError, IndexError):
            words = " ".join(f"{w:#x}" for w in raw)
            raise IntegrityError(
                "event-record", f"record {n} of the ring ({words}) is not an event the model writes"
            ) from None
    return out
