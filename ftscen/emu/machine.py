"""Stage: image -> a running i386 machine (Unicorn lives here and in :mod:`ftscen.emu.trap`).

CPUs are saved register contexts over one ``Uc`` and one memory. CPU 0 is the patcher, which
runs on the host; calls run on CPUs 1.. from a caller stub to its return, one at a time, at
the moments the patcher allows (docs/model.md, "What the model relies on in the emulator").

Every text write goes through :meth:`Machine.poke`, which invalidates Unicorn's translated
blocks for the range: the emulator's analogue of ``sync_core()`` (a host write alone does not
reliably invalidate code Unicorn has already translated).
"""

from __future__ import annotations

import struct

from ftscen.core.errors import IntegrityError
from ftscen.emu.trap import Fault, Int3Policy, Int3Trap
from ftscen.image import layout as L
from ftscen.image.build import Image

#: Fault and Int3Policy moved to the trap module; callers keep importing them from here.
__all__ = ["Fault", "Int3Policy", "Machine"]


class Machine:
    """One emulated i386 machine: memory, GDT, CPUs, the int3 hook and the event ring."""

    def __init__(
        self,
        image: Image,
        cpus: int,
        int3_policy: Int3Policy,
        max_insns_per_call: int = 2_000_000,
        max_insns_total: int = 50_000_000,
    ) -> None:
        from unicorn import (  # type: ignore[attr-defined]
            UC_ARCH_X86,
            UC_HOOK_CODE,
            UC_HOOK_INTR,
            UC_HOOK_MEM_INVALID,
            UC_MODE_32,
            Uc,
        )

        self.image = image
        self.cpus = cpus
        self.trap = Int3Trap(self, int3_policy, image)
        self.max_insns_per_call = max_insns_per_call
        self.max_insns_total = max_insns_total
        self.insns_left = max_insns_total
        self.strings: list[str] = []
        self._string_ids: dict[str, int] = {}
        self.uc = Uc(UC_ARCH_X86, UC_MODE_32)
        self._map_memory()
        self._load_gdt()
        for unit in image.units:
            self.uc.mem_write(unit.base, unit.code)
        self.write_u32(L.RING_PTR, L.RING_BASE)
        self._cpu = 0
        self._fault: Fault | None = None
        self.contexts: dict[int, object] = {}
        self.executed = 0  # instructions run so far (all calls)
        self._hooks = [
            self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt),
            self.uc.hook_add(UC_HOOK_MEM_INVALID, self._on_bad_memory),
            self.uc.hook_add(UC_HOOK_CODE, self._count),
        ]

    # ---- set-up ---------------------------------------------------------------------------
    def _map_memory(self) -> None:
        from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

        rx, rw = UC_PROT_READ | UC_PROT_EXEC, UC_PROT_READ | UC_PROT_WRITE
        self.uc.mem_map(L.GDT_BASE, L.PAGE, UC_PROT_READ)
        self.uc.mem_map(L.RUNTIME_BASE, L.RUNTIME_SIZE, rx)
        self.uc.mem_map(L.TEXT_BASE, L.TEXT_SIZE, rx)
        self.uc.mem_map(L.TRAMP_BASE, L.TRAMP_SIZE, rx)
        self.uc.mem_write(L.TRAMP_BASE, L.UD2 * (L.TRAMP_SIZE // 2))  # not allocated yet
        self.uc.mem_map(L.DATA_BASE, L.DATA_SIZE, rw)
        self.uc.mem_map(L.RING_BASE, L.RING_SIZE, rw)
        for cpu in range(self.cpus):
            self.uc.mem_map(L.cpu_stack_bottom(cpu), L.STACK_SIZE, rw)

    def _load_gdt(self) -> None:
        """Flat kernel code and data descriptors at __KERNEL_CS / __KERNEL_DS."""
        from unicorn.x86_const import (
            UC_X86_REG_CS,
            UC_X86_REG_DS,
            UC_X86_REG_ES,
            UC_X86_REG_GDTR,
            UC_X86_REG_SS,
        )

        def desc(access: int) -> bytes:
            return struct.pack("<HHBBBB", 0xFFFF, 0, 0, access, 0xCF, 0)

        gdt = bytearray(32 * 8)
        gdt[L.KERNEL_CS : L.KERNEL_CS + 8] = desc(0x9B)  # accessed bit preset: the GDT is RO
        gdt[L.KERNEL_DS : L.KERNEL_DS + 8] = desc(0x93)
        self.uc.mem_write(L.GDT_BASE, bytes(gdt))
        self.uc.reg_write(UC_X86_REG_GDTR, (0, L.GDT_BASE, len(gdt) - 1, 0))
        self.uc.reg_write(UC_X86_REG_CS, L.KERNEL_CS)
        for reg in (UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_SS):
            self.uc.reg_write(reg, L.KERNEL_DS)

    def stop_running(self) -> None:
        """No more code runs on this machine (its memory can still be read): the hooks go.

        The binding keeps each hook's callback, and the callback refers back to the ``Uc``, so
        a ``Uc`` with hooks is freed only when the cyclic garbage collector gets to it, and
        dead machines (about a megabyte each) pile up between collections. Without hooks the
        ``Uc`` is freed as soon as the last reference to this machine goes."""
        for handle in self._hooks:
            self.uc.hook_del(handle)
        self._hooks = []

    # ---- memory ---------------------------------------------------------------------------
    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(addr, size))

    def read_u32(self, addr: int) -> int:
        return int(struct.unpack("<I", self.read(addr, 4))[0])

    def write(self, addr: int, data: bytes) -> None:
        self.uc.mem_write(addr, data)

    def write_u32(self, addr: int, value: int) -> None:
        self.uc.mem_write(addr, struct.pack("<I", value & 0xFFFFFFFF))

    def poke(self, addr: int, data: bytes) -> None:
        """A text write followed by cache invalidation (text_poke + sync_core)."""
        self.uc.mem_write(addr, data)
        self.uc.ctl_remove_cache(addr, addr + len(data))

    # ---- the event ring -------------------------------------------------------------------
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

    def emit(self, kind: int, *args: int) -> None:
        """A host event, written into the same ring the emulated code writes."""
        at = self.ring_pointer()
        if at + L.EVENT_SIZE > L.RING_BASE + L.RING_SIZE:
            return  # the ring is full; the run reports it as a fault
        words = (kind, *args) + (0,) * (7 - len(args))
        self.uc.mem_write(at, struct.pack("<8I", *[w & 0xFFFFFFFF for w in words]))
        self.write_u32(L.RING_PTR, at + L.EVENT_SIZE)

    def ring(self) -> list[tuple[int, ...]]:
        end = self.ring_pointer()
        data = self.read(L.RING_BASE, end - L.RING_BASE)
        return [struct.unpack_from("<8I", data, off) for off in range(0, len(data), L.EVENT_SIZE)]

    # ---- running a call -------------------------------------------------------------------
    def run_call(self, cpu: int, target: int) -> Fault | None:
        """CPU ``cpu`` calls ``target`` from its caller stub and runs until it returns."""
        from unicorn import UcError  # type: ignore[attr-defined]
        from unicorn.x86_const import UC_X86_REG_EBP, UC_X86_REG_EIP, UC_X86_REG_ESP

        stub = self.image.callers[cpu]
        self.poke(stub, L.call_insn(stub, target))
        self.write_u32(L.CURRENT_TASK, L.task_struct(cpu))
        self.uc.reg_write(UC_X86_REG_ESP, L.cpu_stack_top(cpu) - 16)
        self.uc.reg_write(UC_X86_REG_EBP, 0)
        self._cpu, self._fault = cpu, None
        budget = max(1, min(self.max_insns_per_call, self.insns_left))
        before = self.executed
        try:
            self.uc.emu_start(stub, stub + 5, count=budget)
        except UcError as exc:
            if self._fault is None:
                self._fault = self._fault_from_error(cpu, str(exc))
        pc = int(self.uc.reg_read(UC_X86_REG_EIP))
        self.insns_left -= self.executed - before
        if self._fault is not None:
            self._fault = self.trap.annotate(self._fault)
        if self._fault is None and pc != stub + 5:
            if budget < self.max_insns_per_call:
                detail = f"instruction budget per scenario ({self.max_insns_total}) used up"
            else:
                detail = f"instruction budget per call ({budget}) used up"
            self._fault = Fault("runaway", cpu, pc, None, detail)
        self.contexts[cpu] = self.uc.context_save()
        return self._fault

    def _count(self, uc: object, address: int, size: int, _data: object) -> None:
        """Every instruction run (Unicorn reports no count of its own), for the budgets."""
        self.executed += 1

    def _fault_from_error(self, cpu: int, message: str) -> Fault:
        from unicorn.x86_const import UC_X86_REG_EIP

        pc = int(self.uc.reg_read(UC_X86_REG_EIP))
        kind = "invalid-opcode" if "INSN_INVALID" in message else "cpu-exception"
        return Fault(kind, cpu, pc, None, message)

    def _on_interrupt(self, uc: object, intno: int, _data: object) -> None:
        """int3 and ``do_int3``'s callouts go to the trap (:mod:`ftscen.emu.trap`)."""
        fault = self.trap.interrupt(self._cpu, intno)
        if fault is not None:
            self._fault = fault
            self.uc.emu_stop()

    def _on_bad_memory(
        self, uc: object, access: int, addr: int, size: int, value: int, _data: object
    ) -> bool:
        from unicorn import UC_MEM_FETCH_UNMAPPED, UC_MEM_WRITE_PROT, UC_MEM_WRITE_UNMAPPED
        from unicorn.x86_const import UC_X86_REG_EIP

        pc = int(self.uc.reg_read(UC_X86_REG_EIP))
        bottom = L.cpu_stack_bottom(self._cpu)
        if bottom - L.STACK_STRIDE + L.STACK_SIZE <= addr < bottom:
            kind = "stack-overflow"
        elif L.RING_BASE + L.RING_SIZE <= addr < L.RING_BASE + L.RING_SIZE + L.PAGE:
            kind = "event-ring-full"
        elif access == UC_MEM_WRITE_PROT:
            kind = "write-to-text"
        elif access == UC_MEM_FETCH_UNMAPPED:
            kind = "unmapped-fetch"
        elif access == UC_MEM_WRITE_UNMAPPED:
            kind = "unmapped-write"
        else:
            kind = "unmapped-read"
        self._fault = Fault(kind, self._cpu, pc, addr, f"{size}-byte access")
        return False
