"""Stage: image -> a running i386 machine (Unicorn lives here, in :mod:`.engine` and in
:mod:`.trap`).

CPUs share one ``Uc`` (the process's engine) and one memory. CPU 0 is the patcher, which
runs on the host; calls run on CPUs 1.. from a caller stub to its return, one at a time, at
the moments the patcher allows (docs/model.md, "What the model relies on in the emulator").

Every text write goes through :meth:`Machine.poke`, which has Unicorn's translated blocks
for the range dropped before code runs again: the emulator's analogue of ``sync_core()`` (a
host write alone does not invalidate code Unicorn has already translated).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ftscen.core.errors import IntegrityError, InternalError
from ftscen.emu import engine
from ftscen.emu.trap import Fault, Int3Policy, Int3Trap
from ftscen.image import layout as L
from ftscen.image.build import Image

#: Fault and Int3Policy live in the trap module; callers keep importing them from here.
__all__ = ["Fault", "Held", "Int3Policy", "Machine", "StopAt"]


@dataclass(frozen=True)
class StopAt:
    """Where a call stops: before the instruction at ``addr``, or after ``insns``."""

    addr: int | None = None
    insns: int | None = None


@dataclass(frozen=True)
class Held:
    """A stopped call's CPU: where it stopped, its registers, and its budget left. Its
    stack stays where it is, in the CPU's own stack region."""

    cpu: int
    pc: int
    sp: int
    context: Any
    left: int


_RING_START = struct.pack("<I", L.RING_BASE)
_PAD = (0,) * 7
_U32 = (0xFFFFFFFF).__and__  # a record holds 32-bit words, as emulated code writes them
#: Instructions run between two checks of the budgets (see ``Machine._run_slices``).
SLICE = 1_000


class Machine:
    """One emulated i386 machine: memory, GDT, CPUs, the int3 hook and the event log.

    The ``Uc`` underneath is the process's :class:`~ftscen.emu.engine.Engine`, reset for
    this machine."""

    def __init__(
        self,
        image: Image,
        cpus: int,
        int3_policy: Int3Policy,
        max_insns_per_call: int = 2_000_000,
        max_insns_total: int = 50_000_000,
    ) -> None:
        self.image = image
        self.cpus = cpus
        self.trap = Int3Trap(self, int3_policy, image)
        self.max_insns_per_call = max_insns_per_call
        self.max_insns_total = max_insns_total
        self.insns_left = max_insns_total
        self.executed = 0  # instructions charged to the run's budget (whole slices)
        self.strings: list[str] = []
        self._string_ids: dict[str, int] = {}
        #: the log so far: host events and the ring's records, drained after every call
        self.records: list[tuple[int, ...]] = []
        self._cpu = 0
        self._fault: Fault | None = None
        self._running = False
        self._stopped = False
        self._stop_hit = False
        #: the call just run stopped before its end: its CPU's state (None: it returned)
        self.stopped: Held | None = None
        #: when a list: the address of every instruction the next run executes, in order
        self.path: list[int] | None = None
        units = [(u.base, u.code) for u in image.units]
        self.engine = engine.acquire(self, cpus, units)
        self.uc = self.engine.uc
        self._token = self.engine.token
        self.engine.handle(self._on_interrupt, self._on_bad)
        self.write_u32(L.RING_PTR, L.RING_BASE)

    def stop_running(self) -> None:
        """No more code runs on this machine: the log is complete and the engine is free for
        the next machine of this process (until that one starts, memory can still be read)."""
        if not self._stopped:
            self._drain()
            self._stopped = True
            self.engine.release(self._token)

    def _held(self, writing: bool) -> None:
        """A stopped machine's memory stays readable until the engine's next machine starts."""
        if self.engine.token != self._token or (writing and self._stopped):
            raise InternalError("a stopped machine's memory was used")

    # ---- memory ---------------------------------------------------------------------------
    def read(self, addr: int, size: int) -> bytes:
        self._held(False)
        return self.engine.read(addr, size)

    def read_u32(self, addr: int) -> int:
        return int(struct.unpack("<I", self.read(addr, 4))[0])

    def write(self, addr: int, data: bytes) -> None:
        self._held(True)
        self.engine.dirty.append((addr, addr + len(data)))
        self.engine.write(addr, data)

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, struct.pack("<I", value & 0xFFFFFFFF))

    def poke(self, addr: int, data: bytes) -> None:
        """A text write followed by cache invalidation (text_poke + sync_core); the
        translated blocks are dropped before code runs again."""
        self._held(True)
        self.engine.poke(addr, data)

    # ---- the event log --------------------------------------------------------------------
    def intern(self, text: str) -> int:
        if text not in self._string_ids:
            self._string_ids[text] = len(self.strings)
            self.strings.append(text)
        return self._string_ids[text]

    def ring_pointer(self) -> int:
        """``RING_PTR``, checked: inside the ring and on an event boundary."""
        at = self.read_u32(L.RING_PTR)
        if not L.RING_BASE <= at <= L.RING_BASE + L.RING_SIZE or (at - L.RING_BASE) % L.EVENT_SIZE:
            raise IntegrityError(
                "event-ring-pointer",
                f"RING_PTR holds {at:#x}, not a slot of "
                f"the ring at {L.RING_BASE:#x}..{L.RING_BASE + L.RING_SIZE:#x}",
            )
        return at

    def _drain(self) -> None:
        """Move what emulated code wrote into the ring to the log and empty the ring: the
        ring only has to hold one call's records, and nothing is ever overwritten."""
        end = self.ring_pointer()
        if end == L.RING_BASE:
            return
        data = self.read(L.RING_BASE, end - L.RING_BASE)
        self.records.extend(struct.iter_unpack("<8I", data))
        self.engine.write(L.RING_PTR, _RING_START)  # the engine resets the globals anyway

    def emit(self, kind: int, *args: int) -> None:
        """A host event, in order with what emulated code logged (kept on the host side)."""
        if self._running:
            self._drain()
        self.records.append(tuple(map(_U32, (kind, *args, *_PAD[len(args) :]))))

    def ring(self) -> list[tuple[int, ...]]:
        """The whole log so far, as raw records (``layout.EV_*``)."""
        if not self._stopped:
            self._drain()
        return self.records

    # ---- running a call -------------------------------------------------------------------
    def run_call(self, cpu: int, target: int, stop: StopAt | None = None) -> Fault | None:
        """CPU ``cpu`` calls ``target`` from its caller stub and runs until it returns, or
        until ``stop`` (then :attr:`stopped` holds its registers, for :meth:`resume_call`).

        The stub's ``call`` is made by the host (the return address pushed, EIP at the
        target), so no call rewrites text and the stub stays as the image built it."""
        back = self.image.callers[cpu] + 5
        # the globals and the stacks are reset wholesale: no need to note these writes
        self.engine.write(L.cpu_stack_top(cpu) - 20, struct.pack("<I", back))
        self.uc.context_restore(self.engine.entry(cpu))
        return self._run(cpu, target, back, self.max_insns_per_call, stop)

    def resume_call(self, held: Held) -> Fault | None:
        """Run a stopped call on from where it stopped (its registers as they were; its stack
        is its CPU's own, which no other call used meanwhile) to its return."""
        self.uc.context_restore(held.context)
        return self._run(held.cpu, held.pc, self.image.callers[held.cpu] + 5, held.left, None)

    def _run(self, cpu: int, pc: int, back: int, budget: int, stop: StopAt | None) -> Fault | None:
        self.engine.write(L.CURRENT_TASK, struct.pack("<I", L.task_struct(cpu)))
        self._cpu, self._fault, self._running = cpu, None, True
        self.stopped = None
        self.engine.sync()
        hooks = []
        if stop is not None and stop.addr is not None:
            hooks.append(self.engine.hook_code(stop.addr, self._on_stop))
        if self.path is not None:
            hooks.append(self.engine.hook_code(None, self.path.append))
        try:
            left = self._run_slices(cpu, pc, back, budget, stop)
        finally:
            self._running = False
            for hook in hooks:
                self.engine.unhook(hook)
        self._drain()  # before the trap's own event, which follows what the call logged
        if self._fault is not None:
            self._fault = self.trap.annotate(self._fault)
        elif self._stop_hit or (stop is not None and stop.insns is not None and left[1]):
            from unicorn.x86_const import UC_X86_REG_EIP, UC_X86_REG_ESP

            where, sp = int(self.uc.reg_read(UC_X86_REG_EIP)), int(self.uc.reg_read(UC_X86_REG_ESP))
            self.stopped = Held(cpu, where, sp, self.uc.context_save(), left[0])
        self._stop_hit = False
        return self._fault

    def _on_stop(self, addr: int) -> None:
        self._stop_hit = True
        self.uc.emu_stop()

    def _run_slices(
        self, cpu: int, pc: int, back: int, budget: int, stop: StopAt | None
    ) -> tuple[int, bool]:
        """Run in slices of at most :data:`SLICE` instructions, each stopped by Unicorn's
        own ``count=`` (no hook per instruction): the call's budget is exact, and the run's
        budget is charged every slice used up (a call's last, partial slice is free). A stop
        after N instructions is one more bound on the slice. Returns the call's budget left
        and whether it stopped after its N instructions."""
        from unicorn import UcError  # type: ignore[attr-defined]
        from unicorn.x86_const import UC_X86_REG_EIP

        call_left = budget
        until_stop = stop.insns if stop is not None and stop.insns is not None else None
        while True:
            grant = max(1, min(SLICE, call_left, self.insns_left))
            if until_stop is not None:
                grant = min(grant, until_stop)
            try:
                self.uc.emu_start(pc, back, count=grant)
            except UcError as exc:
                if self._fault is None:
                    self._fault = self._fault_from_error(cpu, str(exc))
            pc = int(self.uc.reg_read(UC_X86_REG_EIP))
            if self._fault is not None or pc == back or self._stop_hit:
                return call_left, False
            call_left -= grant  # stopped by the count: the whole slice ran
            self.insns_left -= grant
            self.executed += grant
            if until_stop is not None:
                until_stop -= grant
                if until_stop <= 0:
                    return call_left, True
            if self.insns_left <= 0:
                detail = f"instruction budget per scenario ({self.max_insns_total}) used up"
            elif call_left <= 0:
                detail = f"instruction budget per call ({self.max_insns_per_call}) used up"
            else:
                continue
            self._fault = Fault("runaway", cpu, pc, None, detail)
            return call_left, False

    def _fault_from_error(self, cpu: int, message: str) -> Fault:
        from unicorn.x86_const import UC_X86_REG_EIP

        pc = int(self.uc.reg_read(UC_X86_REG_EIP))
        kind = "invalid-opcode" if "INSN_INVALID" in message else "cpu-exception"
        return Fault(kind, cpu, pc, None, message)

    def _on_interrupt(self, intno: int) -> None:
        """int3 and ``do_int3``'s callouts go to the trap (:mod:`ftscen.emu.trap`)."""
        fault = self.trap.interrupt(self._cpu, intno)
        if fault is not None:
            self._fault = fault
            self.uc.emu_stop()

    def _on_bad(self, access: int, addr: int, size: int) -> bool:
        from unicorn import UC_MEM_FETCH_UNMAPPED, UC_MEM_WRITE_PROT, UC_MEM_WRITE_UNMAPPED
        from unicorn.x86_const import UC_X86_REG_EIP

        pc = int(self.uc.reg_read(UC_X86_REG_EIP))
        bottom = L.cpu_stack_bottom(self._cpu)
        detail = f"{size}-byte access"
        if bottom - L.STACK_STRIDE + L.STACK_SIZE <= addr < bottom:
            kind = "stack-overflow"
        elif L.RING_BASE + L.RING_SIZE <= addr < L.RING_BASE + L.RING_SIZE + L.PAGE:
            kind = "event-ring-full"
            detail = f"one call logged more than {L.RING_CAPACITY} events (the ring's size)"
        elif access == UC_MEM_WRITE_PROT:
            kind = "write-to-text"
        elif access == UC_MEM_FETCH_UNMAPPED:
            kind = "unmapped-fetch"
        elif access == UC_MEM_WRITE_UNMAPPED:
            kind = "unmapped-write"
        else:
            kind = "unmapped-read"
        self._fault = Fault(kind, self._cpu, pc, addr, detail)
        return False
