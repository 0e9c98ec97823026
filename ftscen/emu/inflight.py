"""Calls in flight: a call stopped before its end, what the kernel waits for, and misuse.

A call with ``stop:`` stops before the instruction at an address (or after N instructions);
its CPU keeps its registers (:class:`~ftscen.emu.machine.Held`) and its stack (each CPU has
its own) while the timeline goes on, and ``resume:`` runs it to its end. This module holds
the stopped calls of one run and answers the patcher's waits (docs/model.md, "Calls in
flight"):

* ``cpus``: ``schedule_on_each_cpu(ftrace_sync)`` / ``synchronize_rcu_tasks_rude()`` in
  kernel/trace/ftrace.c ``ftrace_shutdown()`` returns once every CPU has scheduled. A CPU
  holding a stopped call cannot schedule unless the kernel is preemptible and the call
  stopped outside a preempt-disabled region (:data:`NO_PREEMPT`, :meth:`InFlight.preempted`);
  then it is a preempted task, and the CPU is free.
* ``tasks``: ``synchronize_rcu_tasks()`` (preemptible kernels, from 4.12) waits for every
  task to schedule voluntarily: any stopped call holds it up, preempted or not.
* ``sync``: the IPI that ends each phase of the breakpoint protocol (``run_sync()`` in
  arch/x86/kernel/ftrace.c, ``text_poke_sync()`` in arch/x86/kernel/alternative.c; both
  ``on_each_cpu(do_sync_core, NULL, 1)``) is served by every CPU with interrupts enabled. The
  int3 handler runs with them disabled (an interrupt gate), so only a call stopped inside
  it holds the sync up.

A wait that a stopped call holds up passes the point ``wait.KIND`` (where ``during`` entries
may resume it); if the call is still stopped after that point, the run ends in a ``deadlock``
fault: a hang of the kernel when the CPU cannot schedule, or a preempted task the scenario
never lets run (the kernel would run it again).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic
from ftscen.core.model import Stop
from ftscen.core.profile import KernelProfile
from ftscen.emu.events import CallInfo
from ftscen.emu.machine import Fault, Held, Machine, StopAt
from ftscen.image import layout as L
from ftscen.image.build import Image
from ftscen.image.listing import instruction_starts

#: The waits, by point name: what each waits for (the kernel function is the profile's).
WAITS: tuple[str, ...] = ("cpus", "tasks", "sync")

#: The kernel function of the IPI sync between breakpoint phases (every era).
SYNC_FUNCTION = "on_each_cpu(do_sync_core)"

_ADDRESS = re.compile(r"(?P<sym>[A-Za-z_][A-Za-z0-9_.]*)(?:\+(?P<off>0x[0-9a-fA-F]+|[0-9]+))?\Z")
#: Symbols of code: what a CPU can be about to execute (a label is a sizeless point inside
#: one; a stack holds addresses inside the sized ones).
CODE_KINDS = ("func", "label", "tramp", "stub")

#: The functions that run with preemption disabled (besides the int3 handler, an interrupt
#: gate): ``__ftrace_ops_list_func()`` and ``ftrace_ops_assist_func()`` call their callbacks
#: under ``preempt_disable_notrace()`` (kernel/trace/ftrace.c), and ``klp_ftrace_handler()``
#: runs under it (kernel/livepatch/patch.c: its own ``preempt_disable_notrace()``, from 5.16
#: that of ``ftrace_test_recursion_trylock()``, ce5e48036c9e). The trampolines do not disable
#: preemption. The emulated code has no preempt count: each function counts as
#: preempt-disabled from its second instruction to its end (its first, before the
#: ``preempt_disable``, is preemptible; the kernel's few instructions before it, such as the
#: recursion test, are not told apart).
NO_PREEMPT = ("ftrace_ops_list_func", "ftrace_ops_assist_func", "klp_ftrace_handler")


def resolve_stop(stop: Stop, image: Image) -> StopAt | Diagnostic:
    """The address of ``stop.at`` in ``image`` (or the instruction count), or a located
    diagnostic when it names no code of the image or lies past the end of its symbol."""
    if stop.explored:  # a placement pins it (ftscen.emu.explore.pin) before it runs
        return stop.mark.diagnostic(
            f"stop: {stop.describe()} is explored: it has one placement per instruction",
            "run the file with `ftscen run` (it explores every stop), or write "
            "`stop: {at: SYMBOL+0xN}`",
        )
    if stop.at is None:
        return StopAt(None, stop.insns)
    m = _ADDRESS.match(stop.at)
    if m is None:
        return stop.mark.diagnostic(f"'{stop.at}' is not an address", "write SYMBOL or SYMBOL+0xN")
    sym, off = m.group("sym"), int(m.group("off") or "0", 0)
    table = image.symbols
    code = [s for s in table.symbols() if s.kind in CODE_KINDS]
    if sym not in table or table.get(sym).kind not in CODE_KINDS:
        return stop.mark.diagnostic(
            f"stop address '{stop.at}' is outside the image: no code symbol '{sym}'"
            f"{suggestion(sym, [s.name for s in code])}",
            "name a function, ftrace_caller, ftrace_regs_caller, ftrace_call, "
            "ftrace_ops_list_func, OPS.func or OPS.tramp (`ftscen build FILE --listing` "
            "lists them)",
        )
    target = table.get(sym)
    if off and off >= max(target.size, 1):
        return stop.mark.diagnostic(
            f"stop address '{stop.at}' is outside the image: {sym} is {target.size} bytes long",
            f"use an offset below {target.size:#x} (`ftscen build FILE --listing` shows "
            "the instructions)",
        )
    addr = target.addr + off
    record = image.in_record(addr)
    if record is not None:
        return stop.mark.diagnostic(
            record_message(stop.at, record, image), record_hint(record, image)
        )
    return StopAt(addr, None)


def record_message(where: str, record: tuple[int, int], image: Image) -> str:
    """Why a stop at ``where``, inside an event record's code, is refused."""
    first, end = (image.symbols.label_for(a) for a in record)
    return (
        f"a stop at {where} is inside the event record the model writes there "
        f"({first} .. {end}): that code is ftscen's log, not the kernel's, and runs as one step"
    )


def record_hint(record: tuple[int, int], image: Image) -> str:
    first, end = (image.symbols.label_for(a) for a in record)
    return f"stop before the record ({first}) or after it ({end})"


def not_a_boundary(stop: Stop, image: Image) -> str | None:
    """For a stop the call never reached: why, when ``stop.at`` lies inside an instruction
    (no CPU ever executes from there), naming the nearest instruction boundaries."""
    m = _ADDRESS.match(stop.at or "")
    if m is None or m.group("sym") not in image.symbols:
        return None
    sym, off = m.group("sym"), int(m.group("off") or "0", 0)
    if image.symbols.get(sym).kind not in CODE_KINDS or not off:
        return None
    starts = instruction_starts(image, sym)
    if starts is None or off in starts:
        return None
    before = max(o for o in starts if o < off)
    after = [o for o in starts if o > off]
    near = f"{sym}+{before:#x}" + (f" and {sym}+{after[0]:#x}" if after else "")
    return (
        f"{stop.at} is not an instruction boundary (no CPU executes from there): the nearest "
        f"are {near} (`ftscen build FILE --listing` shows the instructions)"
    )


@dataclass(frozen=True)
class Stopped:
    """A call that stopped and has not been resumed."""

    info: CallInfo
    held: Held


class InFlight:
    """The stopped calls of one run, and which of them hold up a wait."""

    def __init__(self, image: Image, profile: KernelProfile, machine: Machine) -> None:
        self.image, self.profile, self.m = image, profile, machine
        self.held: dict[str, Stopped] = {}
        self.finished: set[str] = set()  # calls that ran to their end
        self.resumed: set[str] = set()
        #: calls a wait let run to their end before the ``resume`` the scenario gives them:
        #: id -> the step that waited
        self.early: dict[str, int] = {}
        sym = image.symbols
        self._irqs_off = [(self.m.trap.entry, self.m.trap.handler_end)]
        #: where preemption is disabled (:data:`NO_PREEMPT`, past each first instruction; the
        #: int3 handler, interrupts off)
        self.no_preempt = [
            (sym.addr(name) + 1, sym.addr(name) + sym.get(name).size)
            for name in NO_PREEMPT
            if name in sym
        ] + self._irqs_off

    def on_cpu(self, cpu: int) -> Stopped | None:
        return next((s for s in self.held.values() if s.held.cpu == cpu), None)

    def blocking(self, wait: str) -> list[Stopped]:
        """The stopped calls that hold up ``wait`` (one of :data:`WAITS`), oldest first."""
        return [s for s in self.held.values() if self._blocks(wait, s.held)]

    def _blocks(self, wait: str, held: Held) -> bool:
        if wait == "tasks":
            return True
        if wait == "sync":
            return self._inside(held, self._irqs_off)
        return not self.preempted(held)  # cpus: a CPU that cannot schedule

    def preempted(self, held: Held) -> bool:
        """Whether the task of a stopped call can have been preempted, freeing its CPU: a
        preemptible kernel, and neither its PC nor a return address on its stack (a caller
        that disabled preemption) lies where preemption is disabled."""
        return self.profile.preempt and not self._inside(held, self.no_preempt)

    def _inside(self, held: Held, ranges: list[tuple[int, int]]) -> bool:
        """Whether the CPU is inside one of ``ranges``: its PC, or a return address on its
        stack (a callback called from the list function is still inside it)."""
        return any(lo <= addr < hi for addr in self._frames(held) for lo, hi in ranges)

    def stack_words(self, held: Held) -> tuple[int, ...]:
        """A stopped call's CPU state as the stack holds it: its PC, then every 32-bit word
        from its stack pointer to the top of its CPU's stack (``ftscen.emu.klpstack``)."""
        return tuple(self._frames(held))

    def _frames(self, held: Held) -> Iterator[int]:
        yield held.pc
        top = L.cpu_stack_top(held.cpu)
        if L.cpu_stack_bottom(held.cpu) <= held.sp < top:
            data = self.m.read(held.sp, top - held.sp)
            yield from (w for (w,) in struct.iter_unpack("<I", data[: len(data) // 4 * 4]))

    def in_freed_trampoline(self, fault: Fault, freed: dict[str, int]) -> Fault:
        """A fault at an address of a trampoline that ``ftrace_trampoline_free()`` poisoned
        is named for what it is: a CPU that came back to freed text nobody waited for."""
        for ops, base in freed.items():
            if base <= fault.pc < base + L.TRAMP_SLOT:
                label = self.image.symbols.label_for(fault.pc)
                detail = (
                    f"cpu{fault.cpu} executed {label} in the freed trampoline of ops {ops} "
                    f"({ops}.tramp, poisoned with ud2 by ftrace_trampoline_free(); the emulator reported "
                    f"{fault.kind}: {fault.detail}): ftrace_shutdown() freed it without waiting "
                    "for this call"
                )
                return Fault("freed-trampoline", fault.cpu, fault.pc, None, detail)
        return fault

    def wait_name(self, wait: str) -> str:
        if wait == "cpus":
            return self.profile.rude_wait
        if wait == "tasks":
            return "synchronize_rcu_tasks()"
        return SYNC_FUNCTION
