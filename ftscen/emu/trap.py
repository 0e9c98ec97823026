"""int3 delivered as the CPU delivers it, and the callouts of the model's ``do_int3``.

Unicorn raises its interrupt hook for ``int3`` with EIP one past the int3 byte but pushes no
frame. :meth:`Int3Trap.interrupt` does what an i386 CPU does for a kernel-mode trap through
an interrupt gate with no privilege change: push EFLAGS, CS and EIP on the current stack and
jump to the handler, here the era's ``int3`` entry code assembled into the image
(:mod:`ftscen.image.entry`). From there everything is i386 code running on the frame it
built, except the decision of the int3 handler, which the entry's ``do_int3`` asks the
modelled kernel for through a callout vector (``INT3_DECIDE``), and the log line, written
at ``INT3_DONE`` from the frame as the handler left it.

A fault while the handler runs (before ``iret``) names the trap and the pt_regs words that
changed since the handler was entered: on a short frame (up to 5.2), ``int3_emulate_push``
moves "regs->sp", which is the interrupted stack's top word, and writes below the address it
held, where the CPU faults.
"""

from __future__ import annotations

import functools
import struct
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ftscen.image import entry
from ftscen.image import layout as L
from ftscen.image.build import Image

#: An int3 decision: (INT3_JMP or INT3_CALL, target) or None when nobody claims the trap.
Int3Policy = Callable[[int], "tuple[int, int] | None"]

#: pt_regs words compared for a fault report: every field, sp and ss included.
_FRAME_WORDS = len(L.PT_REGS)


@functools.cache
def _reg_ids() -> dict[str, int]:
    """Unicorn's register numbers, looked up once (unicorn is imported only when run)."""
    from unicorn import x86_const

    names = ("EAX", "EBX", "EDX", "ESP", "EIP", "EFLAGS", "CS")
    return {name: getattr(x86_const, f"UC_X86_REG_{name}") for name in names}


@dataclass(frozen=True)
class Fault:
    """An emulation fault: a verdict, not a crash."""

    kind: str
    cpu: int
    pc: int
    addr: int | None = None
    detail: str = ""


class TrapHost(Protocol):
    """What the trap needs from the machine: its CPU, memory and the event ring."""

    uc: Any

    def read_u32(self, addr: int) -> int: ...

    def write_u32(self, addr: int, value: int) -> None: ...

    def emit(self, kind: int, *args: int) -> None: ...


@dataclass(frozen=True)
class _Handling:
    """An int3 whose handler is running: the decision and pt_regs as the entry built it."""

    cpu: int
    ip: int
    action: int
    target: int
    regs: int
    words: tuple[int, ...]


class Int3Trap:
    """Trap delivery and ``do_int3``'s callouts for one machine."""

    def __init__(self, host: TrapHost, policy: Int3Policy, image: Image) -> None:
        # a proxy: the machine owns the trap, and dropping it must free it (and its engine)
        # at once, without waiting for the cycle collector
        self.host, self.policy = weakref.proxy(host), policy
        self.label = image.symbols.label_for
        unit = next(u for u in image.units if u.base == entry.ENTRY_BASE)
        self.entry = unit.base
        self.handler_end = unit.base + len(unit.code)
        #: per CPU: a CPU stopped inside the handler keeps its trap while others trap too
        self.handling: dict[int, _Handling] = {}
        self._ids = _reg_ids()
        self._vectors: dict[int, Callable[[int], Fault | None]] = {
            3: self._deliver,
            entry.INT3_DECIDE: self._decide,
            entry.INT3_DONE: self._done,
        }

    def _reg(self, name: str) -> int:
        return int(self.host.uc.reg_read(self._ids[name]))

    def _set(self, name: str, value: int) -> None:
        self.host.uc.reg_write(self._ids[name], value & 0xFFFFFFFF)

    def _words(self, addr: int, count: int) -> tuple[int, ...]:
        return struct.unpack(f"<{count}I", self.host.uc.mem_read(addr, 4 * count))

    def interrupt(self, cpu: int, intno: int) -> Fault | None:
        """Unicorn's interrupt hook: int3, a ``do_int3`` callout, or a fault."""
        handler = self._vectors.get(intno)
        if handler is None:
            return Fault("cpu-exception", cpu, self._reg("EIP"), None, f"interrupt {intno}")
        return handler(cpu)

    def _deliver(self, cpu: int) -> Fault | None:
        """The CPU's part: EFLAGS, CS, EIP (past the int3 byte) pushed, then the gate."""
        esp, eip = self._reg("ESP"), self._reg("EIP")
        if esp - 12 < L.cpu_stack_bottom(cpu):
            return Fault("stack-overflow", cpu, eip - 1, None, "no room for the int3 frame")
        for n, word in enumerate((self._reg("EFLAGS"), self._reg("CS"), eip), start=1):
            self.host.write_u32(esp - 4 * n, word)
        self._set("ESP", esp - 12)
        self._set("EIP", self.entry)
        return None

    def _decide(self, cpu: int) -> Fault | None:
        """``INT3_DECIDE``: eax = ip of the trap, ebx = regs; the answer goes to the two words
        on top of ``do_int3``'s stack (memory, not registers: a register written from a hook
        costs Unicorn far more than a memory write)."""
        ip, regs = self._reg("EAX"), self._reg("EBX")
        decision = self.policy(ip)
        if decision is None:
            detail = "int3 with no text modification claiming it"
            return Fault("unhandled-int3", cpu, ip, None, detail)
        action, target = decision
        words = self._words(regs, _FRAME_WORDS)
        self.handling[cpu] = _Handling(cpu, ip, action, target, regs, words)
        answer = self._reg("ESP")
        self.host.write_u32(answer, action)
        self.host.write_u32(answer + 4, target)
        return None

    def _done(self, cpu: int) -> Fault | None:
        """``INT3_DONE``: the log's int3 line with the frame as the handler left it."""
        h, regs = self.handling.get(cpu), self._reg("EAX")
        if h is None:
            return Fault("cpu-exception", cpu, self._reg("EIP"), None, "int3 callout out of order")
        sp = self.host.read_u32(regs + L.PT_SP)
        pushed = self.host.read_u32(sp) if h.action == L.INT3_CALL else 0
        ip = self.host.read_u32(regs + L.PT_IP)
        self.host.emit(L.EV_INT3, h.ip, h.action, h.target, regs, ip, sp, pushed)
        del self.handling[cpu]
        return None

    def annotate(self, fault: Fault) -> Fault:
        """A fault inside the int3 handler: log the trap and name the frame words it
        overwrote, which is what an oops on the real kernel would be read for."""
        h = self.handling.get(fault.cpu)
        if h is None or not self.entry <= fault.pc < self.handler_end:
            return fault
        del self.handling[fault.cpu]
        self.host.emit(L.EV_INT3, h.ip, h.action, h.target, h.regs, 0, 0, 0)
        changed = [
            f"regs->{L.PT_REGS[i]}{self._unsaved(h, i)} at {h.regs + 4 * i:#x}: "
            f"{self.label(old)} -> {self.label(new)}"
            for i, (old, new) in enumerate(zip(h.words, self._words(h.regs, _FRAME_WORDS)))
            if new != old
        ]
        where = f" at {fault.addr:#x} ({self.label(fault.addr)})" if fault.addr else ""
        action = "emulate call" if h.action == L.INT3_CALL else "resume at"
        detail = (
            f"{fault.detail}{where} in the int3 handler of the trap at {self.label(h.ip)} "
            f"({action} {self.label(h.target)}, regs at {h.regs:#x}); frame words "
            f"overwritten: {'; '.join(changed) or 'none'}"
        )
        return Fault(fault.kind, fault.cpu, fault.pc, None, detail)

    @staticmethod
    def _unsaved(h: _Handling, index: int) -> str:
        """sp and ss of a frame without ``CS_FROM_KERNEL`` (no FIXUP_FRAME ran) were never
        saved: those two words are the interrupted stack's own."""
        full = h.words[L.PT_REGS.index("cs")] & entry.CS_FROM_KERNEL
        return "" if full or index < entry.SHORT_WORDS else " (not saved: the interrupted stack)"
