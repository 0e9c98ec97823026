"""One Unicorn instance per process, lent to one :class:`~ftscen.emu.machine.Machine` at a time.

A fresh ``Uc`` costs a dozen ``mem_map`` calls and a cold first ``emu_start`` per scenario;
here the whole memory map (sized for the documented limits, backed lazily by Unicorn) is
mapped once and every machine starts from the same state: what the previous machine wrote is
filled back with the region's pristine bytes, the stacks are zeroed, the registers are
restored from a context saved after set-up and every translated block is flushed. A machine
that is still in use (another thread, a test holding two) gets an engine of its own.
"""

from __future__ import annotations

import bisect
import ctypes
import mmap
import struct
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ftscen.core.errors import InternalError
from ftscen.image import layout as L

#: (base, size, writable, executable, pristine fill) of every mapped region, by address.
_REGIONS: tuple[tuple[int, int, bool, bool, bytes], ...] = (
    (L.GDT_BASE, L.PAGE, False, False, b"\0"),
    (L.RUNTIME_BASE, L.RUNTIME_SIZE, False, True, b"\0"),
    (L.TEXT_BASE, L.TEXT_SIZE, False, True, b"\0"),
    (L.TRAMP_BASE, L.TRAMP_SIZE, False, True, L.UD2),  # not allocated yet
    (L.DATA_BASE, L.DATA_SIZE, True, False, b"\0"),
    (L.RING_BASE, L.RING_SIZE, True, False, b"\0"),
    *((L.cpu_stack_bottom(c), L.STACK_SIZE, True, False, b"\0") for c in range(L.MAX_CPUS)),
    (L.HASHES, L.HASHES_SIZE, True, False, b"\0"),
)
_BASES = [r[0] for r in _REGIONS]
_STACKS = {L.cpu_stack_bottom(c) for c in range(L.MAX_CPUS)}
_CHUNK = 64  # granularity of the comparison of code before and after changes
#: What emulated code itself writes outside the ring and the stacks: RING_PTR, the tasks.
_GUEST_WRITTEN = (L.DATA_BASE, L.TASKS + L.MAX_CPUS * L.TASK_SIZE)

L.check_layout(5_000, L.MAX_OPS, L.MAX_CPUS)


class Engine:
    """The ``Uc``, its hooks, and which machine holds it."""

    def __init__(self) -> None:
        import unicorn

        uc: Any = unicorn  # the binding has no type annotations
        self.uc: Any = uc.Uc(uc.UC_ARCH_X86, uc.UC_MODE_32)
        self._map()
        self._load_gdt()
        self.pristine: Any = self.uc.context_save()
        self._entries: dict[int, Any] = {}
        self.dirty: list[tuple[int, int]] = []  # (address, end) of every host write
        #: code chunks changed since code last ran -> their bytes then (see :meth:`sync`)
        self.ran_as: dict[int, bytes] = {}
        self.stacks_used = 0
        self.owner: Callable[[], object | None] = lambda: None
        self.token = 0
        #: the holder's handlers, held weakly: the engine keeps no machine alive, so a
        #: machine dropped without being stopped frees the engine all the same
        self._on_interrupt: Callable[[], Callable[[int], None] | None] = lambda: None
        self._on_bad: Callable[[], Callable[[int, int, int], bool] | None] = lambda: None
        self.uc.hook_add(uc.UC_HOOK_INTR, self._interrupt)
        self.uc.hook_add(uc.UC_HOOK_MEM_INVALID, self._bad_memory)

    def _map(self) -> None:
        """Each region is host memory (an anonymous mmap, backed when touched) that Unicorn
        uses in place: the host reads and writes it directly, without a binding call, and a
        write to read-only text needs no temporary change of protection (which costs Unicorn
        a split of the region and a flush of every translated block)."""
        from unicorn import UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE

        self.mem: list[mmap.mmap] = []
        self._ptrs: list[int] = []  # each region's host address, for :meth:`_zero`
        for base, size, writable, executable, fill in _REGIONS:
            prot = UC_PROT_READ | (UC_PROT_WRITE if writable else 0)
            buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)  # not shared with a fork
            if fill != b"\0":
                buf[:] = fill * (size // len(fill))
            self.mem.append(buf)
            ptr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
            self._ptrs.append(ptr)
            self.uc.mem_map_ptr(base, size, prot | (UC_PROT_EXEC if executable else 0), ptr)

    def write(self, addr: int, data: bytes) -> None:
        i = bisect.bisect_right(_BASES, addr) - 1
        off = addr - _BASES[i]
        self.mem[i][off : off + len(data)] = data

    def read(self, addr: int, size: int) -> bytes:
        i = bisect.bisect_right(_BASES, addr) - 1
        off = addr - _BASES[i]
        return self.mem[i][off : off + size]

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
        self.write(L.GDT_BASE, bytes(gdt))
        self.uc.reg_write(UC_X86_REG_GDTR, (0, L.GDT_BASE, len(gdt) - 1, 0))
        self.uc.reg_write(UC_X86_REG_CS, L.KERNEL_CS)
        for reg in (UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_SS):
            self.uc.reg_write(reg, L.KERNEL_DS)

    # ---- handing the engine over ---------------------------------------------------------
    def take(self, holder: object, cpus: int, units: list[tuple[int, bytes]]) -> None:
        """Reset to the state after set-up with ``units`` (address, code) loaded, and lend the
        engine to ``holder``. Translated blocks survive where the code is unchanged (the
        same runtime, the same scenario again): only changed ranges are invalidated."""
        self._reset(units)
        self.stacks_used = cpus
        self.owner = weakref.ref(holder)
        self.token += 1

    def _reset(self, units: list[tuple[int, bytes]]) -> None:
        used = [(b, b + L.STACK_SIZE) for b in sorted(_STACKS)[: self.stacks_used]]
        spans = _merged([*self.dirty, _GUEST_WRITTEN, *used])
        self.dirty = [(a, a + len(code)) for a, code in units]
        for lo, hi in spans:
            i = bisect.bisect_right(_BASES, lo) - 1
            base, fill, code = _REGIONS[i][0], _REGIONS[i][4], _REGIONS[i][3]
            if not code and fill == b"\0":
                self._zero(i, lo, hi)
                continue
            lo -= (lo - base) % len(fill)  # keep a two-byte fill aligned
            want = bytearray((fill * ((hi - lo) // len(fill) + 1))[: hi - lo])
            if not code:
                self.write(lo, bytes(want))
                continue
            for addr, data in units:  # the new code, where it falls in the span
                a, b = max(lo, addr), min(hi, addr + len(data))
                if a < b:
                    want[a - lo : b - lo] = data[a - addr : b - addr]
            self._store_code(lo, bytes(want))
        for addr, data in units:
            self._store_code(addr, data)  # unchanged bytes (most of them) cost nothing
        self.uc.context_restore(self.pristine)

    def _zero(self, region: int, lo: int, hi: int) -> None:
        """Zero ``lo..hi`` of a region in place: the stacks alone are 64 KiB a CPU, and
        building the zeros first, as a fill is built, tripled the copying."""
        base, size = _REGIONS[region][0], _REGIONS[region][1]
        if not base <= lo <= hi <= base + size:
            raise InternalError(f"a reset span {lo:#x}..{hi:#x} leaves its region at {base:#x}")
        ctypes.memset(self._ptrs[region] + (lo - base), 0, hi - lo)

    def _store_code(self, addr: int, data: bytes) -> None:
        """Write code; the chunks it changes are noted for :meth:`sync`."""
        if self.read(addr, len(data)) != data:
            self._note(addr, addr + len(data))
            self.write(addr, data)

    def poke(self, addr: int, data: bytes) -> None:
        self.dirty.append((addr, addr + len(data)))
        self._note(addr, addr + len(data))
        self.write(addr, data)

    def _note(self, addr: int, end: int) -> None:
        """Keep each chunk's bytes as they were when code last ran, before the first change."""
        for chunk in range(addr & -_CHUNK, end, _CHUNK):
            if chunk not in self.ran_as:
                self.ran_as[chunk] = self.read(chunk, _CHUNK)

    def sync(self) -> None:
        """Drop the translated blocks of every chunk whose bytes differ from those code last
        ran with (``sync_core``). Done when code is about to run, so the several writes of
        one patched site cost one invalidation, and code written back as it was (the next
        run of the same scenario, a site restored) keeps its translation."""
        if not self.ran_as:
            return
        changed = sorted(c for c, old in self.ran_as.items() if self.read(c, _CHUNK) != old)
        self.ran_as.clear()
        if len(changed) > 256:
            self.uc.ctl_flush_tb()
            return
        ranges: list[list[int]] = []
        for chunk in changed:
            if ranges and ranges[-1][1] == chunk:
                ranges[-1][1] = chunk + _CHUNK
            else:
                ranges.append([chunk, chunk + _CHUNK])
        for lo, hi in ranges:
            self.uc.ctl_remove_cache(lo, hi)

    def entry(self, cpu: int) -> Any:
        """The registers a call on ``cpu`` starts with: those after set-up, ESP just below the
        return address at the top of the CPU's stack, EBP 0 (the end of a frame chain). Every
        call starts from them, so no register value passes from one call to the next."""
        context = self._entries.get(cpu)
        if context is None:
            from unicorn.x86_const import UC_X86_REG_EBP, UC_X86_REG_ESP

            self.uc.context_restore(self.pristine)
            self.uc.reg_write(UC_X86_REG_ESP, L.cpu_stack_top(cpu) - 20)
            self.uc.reg_write(UC_X86_REG_EBP, 0)
            context = self._entries[cpu] = self.uc.context_save()
        return context

    def hook_code(self, addr: int | None, callback: Callable[[int], None]) -> Any:
        """Call ``callback(address)`` before the instruction at ``addr`` runs (a code hook
        over that one address: instructions elsewhere pay nothing), or before every
        instruction (``addr`` None); :meth:`unhook` removes it."""
        from unicorn import UC_HOOK_CODE

        def hit(uc: object, address: int, size: int, data: object) -> None:
            callback(address)

        if addr is None:
            handle = self.uc.hook_add(UC_HOOK_CODE, hit)
        else:
            handle = self.uc.hook_add(UC_HOOK_CODE, hit, begin=addr, end=addr)
        # a block translated before the hook existed runs without it, and removing the
        # cache of a range drops only the blocks that start in it (not one that starts at
        # ftrace_caller and holds ftrace_call): flush them all, stops are rare
        self.uc.ctl_flush_tb()
        return handle

    def unhook(self, handle: Any) -> None:
        self.uc.hook_del(handle)

    def handle(
        self, interrupt: Callable[[int], None], bad_memory: Callable[[int, int, int], bool]
    ) -> None:
        """The holder's handlers of interrupts and bad memory accesses (bound methods)."""
        self._on_interrupt = weakref.WeakMethod(interrupt)
        self._on_bad = weakref.WeakMethod(bad_memory)

    def release(self, token: int) -> None:
        if token == self.token:
            self.owner = lambda: None
            self._on_interrupt = self._on_bad = lambda: None

    def free(self) -> bool:
        return self.owner() is None

    # ---- hooks ----------------------------------------------------------------------------
    def _interrupt(self, uc: object, intno: int, _data: object) -> None:
        handler = self._on_interrupt()
        if handler is not None:
            handler(intno)

    def _bad_memory(
        self, uc: object, access: int, addr: int, size: int, value: int, _data: object
    ) -> bool:
        handler = self._on_bad()
        return handler(access, addr, size) if handler is not None else False


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(address, end) spans, sorted, overlapping or touching ones merged (a span never
    crosses a region: every write is inside one)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


_POOL: list[Engine] = []
_LOCK = threading.Lock()


def acquire(holder: object, cpus: int, units: list[tuple[int, bytes]]) -> Engine:
    """A free engine of this process (a new one if every engine is held), reset for ``holder``."""
    with _LOCK:
        engine = next((e for e in _POOL if e.free()), None)
        if engine is None:
            engine = Engine()
            _POOL.append(engine)
        engine.owner = weakref.ref(holder)  # held from here, so no other thread takes it
    engine.take(holder, cpus, units)
    return engine
