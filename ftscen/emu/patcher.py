"""The modelled kernel: ftrace's core (kernel/trace/ftrace.c) and the x86 patching code.

This runs on the host as CPU 0. It keeps the kernel's state (``ftrace_ops_list``, per-record
targets and IPMODIFY owners, ``ftrace_trace_function``, ``saved_ftrace_func``,
``function_trace_op``, ``ftrace_enabled``) and mirrors every piece the emulated CPUs read into
their memory: the ops list, each ops' filter and notrace hashes, ``function_trace_op`` and the
text. Code changes go through the three-phase breakpoint protocol and stop at the named points
of docs/format.md, where the runner places ``during`` calls.

Model choices (the delivery rules R1..R13 of docs/model.md):

* Records keep the kernel's reference counts and FTRACE_FL_* flags (``ftscen.emu.records``),
  updated by ``__ftrace_hash_rec_update`` and ``ftrace_check_record`` as each era does, the
  early returns while ``ftrace_enabled == 0`` included; a site's target comes from these flags
  (``ftrace_get_addr_new``), so a flag the kernel leaks is a target the model shows (R3, R4).
* The sanity check at the end of ``ftrace_shutdown`` WARNs about a record with flags left
  when no ops is registered, and ``ftrace_kill()`` disables ftrace for the rest of the run
  (:meth:`Patcher.shutdown_check`, docs/kernel-bugs.md).
* ``SAVE_REGS_IF_SUPPORTED`` alone does not make an ops want regs: i386 has
  DYNAMIC_FTRACE_WITH_REGS, and ``__register_ftrace_function`` only promotes it to SAVE_REGS
  on arches without (the ``#ifndef CONFIG_DYNAMIC_FTRACE_WITH_REGS`` block).
* An IPMODIFY ops without SAVE_REGS registers: ``__register_ftrace_function`` and
  ``ftrace_startup`` (5.10, 6.x) check only DELETED, ENABLED, PERMANENT and the IPMODIFY
  hashes, and ``__ftrace_hash_rec_update`` asks for regs only for SAVE_REGS, so on i386 such
  an ops is reached through ``ftrace_caller`` with regs == NULL (include/linux/ftrace.h only
  documents that IPMODIFY "can only be set with SAVE_REGS").
* The breakpoint protocol is the same three phases in every era (E1 ``ftrace_replace_code`` /
  ``update_ftrace_func``, E3 ``text_poke_bp_batch``); what differs is the int3 handler
  (:meth:`Patcher.int3_policy`) and whether a fresh per-ops trampoline's call is written
  under the protocol (before 5.5, ``arch_ftrace_update_trampoline`` -> ``update_ftrace_func``)
  or directly into the new copy (from 5.5, ``create_trampoline``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from ftscen.core.errno import EBUSY, EINVAL, ENODEV
from ftscen.core.errors import IntegrityError, InternalError
from ftscen.core.globs import apply_globs
from ftscen.core.model import (
    TRAMPOLINE_SITES,
    FtraceOps,
    PatcherAction,
    Register,
    Scenario,
    SetFilter,
    SetNotrace,
    Sysctl,
    Unregister,
)
from ftscen.core.profile import KernelProfile
from ftscen.emu.machine import Machine
from ftscen.emu.records import IGNORE, MAKE_NOP, Record, RecordTable
from ftscen.image import layout as L
from ftscen.image.build import Image

UPDATE_CALLS, DISABLE_CALLS, UPDATE_TRACE_FUNC = 1, 2, 4

#: How a per-ops trampoline's call site reads while the trampoline does not exist.
NOT_ALLOCATED = "not allocated"


@dataclass
class OpsState:
    """A ``struct ftrace_ops`` at run time."""

    defn: FtraceOps
    index: int
    struct: int
    filter: frozenset[str]
    notrace: frozenset[str]
    flags: set[str] = field(default_factory=set)
    trampoline: int | None = None

    @property
    def name(self) -> str:
        return self.defn.name


class Patcher:
    """The modelled kernel's patching side; one instance per run."""

    def __init__(
        self,
        sc: Scenario,
        image: Image,
        machine: Machine,
        profile: KernelProfile,
        on_point: Callable[[str], None],
    ) -> None:
        self.image, self.m, self.profile, self.on_point = image, machine, profile, on_point
        self.traceable = tuple(f.name for f in sc.functions if not f.notrace)
        self.table = RecordTable(((f, image.sites[f]) for f in self.traceable), profile.release)
        self.records = self.table.by_func
        self.by_ip = {r.ip: r for r in self.records.values()}
        self.ops = {o.name: self._new_ops(o, i) for i, o in enumerate(sc.ops)}
        self.ops_list: list[OpsState] = []  # newest first (add_ftrace_ops inserts at the head)
        sym = image.symbols
        self.stub, self.list_func = sym.addr("ftrace_stub"), sym.addr("ftrace_ops_list_func")
        self.regs_caller, self.caller = sym.addr("ftrace_regs_caller"), sym.addr("ftrace_caller")
        self.ftrace_trace_function = self.stub
        self.saved_ftrace_func: int | None = None
        self.save_func: int | None = None  # update_ftrace_func's static (6.2+)
        self.set_function_trace_op = L.FTRACE_LIST_END
        self.ftrace_enabled = self.last_ftrace_enabled = True
        self.ftrace_disabled = False
        self.ftrace_start_up = 0
        self.inflight: dict[int, bytes] = {}  # ip -> new instruction while int3 is in place
        self._seen: Counter[str] = Counter()
        self.points: list[str] = []
        self._links: dict[int, int] = {}  # the ops list's links as last written
        self._init_memory()

    # ---- memory mirrors ---------------------------------------------------------------------
    def _new_ops(self, o: FtraceOps, index: int) -> OpsState:
        flt, _ = apply_globs(frozenset(), o.filter_hash, self.traceable, True)
        ntr, _ = apply_globs(frozenset(), o.notrace_hash, self.traceable, True)
        flags = set(o.flags)
        if o.klp_func is not None and not self.profile.has_permanent:
            flags.discard("PERMANENT")  # klp_patch_func sets it from 5.5 (7162431dcf72)
        return OpsState(o, index, L.ops_struct(index), flt, ntr, flags)

    def _init_memory(self) -> None:
        m = self.m
        m.write_u32(L.FTRACE_LIST_END + L.OPS_NEXT, L.FTRACE_LIST_END)
        m.write_u32(L.FTRACE_LIST_END + L.OPS_FUNC, self.stub)
        m.write_u32(L.FTRACE_LIST_END + L.OPS_FLAGS, 1 << L.OPS_FL_BITS["STUB"])
        m.write_u32(L.FTRACE_OPS_LIST, L.FTRACE_LIST_END)
        m.write_u32(L.FUNCTION_TRACE_OP, L.FTRACE_LIST_END)
        for ops in self.ops.values():
            base = L.HASHES + ops.index * 2 * L.HASH_SLOT
            m.write_u32(ops.struct + L.OPS_FUNC, self.image.handlers[ops.name])
            m.write_u32(ops.struct + L.OPS_FILTER, base)
            m.write_u32(ops.struct + L.OPS_NOTRACE, base + L.HASH_SLOT)
            m.write_u32(ops.struct + L.OPS_INDEX, ops.index)
            self._write_flags(ops)
            self._write_hashes(ops)

    def _write_flags(self, ops: OpsState) -> None:
        mask = sum(1 << L.OPS_FL_BITS[f] for f in ops.flags if f in L.OPS_FL_BITS)
        self.m.write_u32(ops.struct + L.OPS_FLAGS, mask)

    def _write_hashes(self, ops: OpsState) -> None:
        """Publish the hashes the list function tests (R1: ``hash_contains_ip``)."""
        for slot, names in ((0, ops.filter), (1, ops.notrace)):
            ips = sorted(self.records[n].ip for n in names)
            words = [len(ips), *ips]
            base = L.HASHES + (ops.index * 2 + slot) * L.HASH_SLOT
            self.m.write(base, b"".join(w.to_bytes(4, "little") for w in words))

    def _write_ops_list(self) -> None:
        """Mirror ``ftrace_ops_list``, writing only the links that changed (adding or removing
        an ops changes one or two, as in add_ftrace_ops / remove_ftrace_ops; rewriting every
        link made n registrations cost n * n writes)."""
        chain = [o.struct for o in self.ops_list] + [L.FTRACE_LIST_END]
        links = {here + L.OPS_NEXT: nxt for here, nxt in pairwise(chain)}
        links[L.FTRACE_OPS_LIST] = chain[0]
        for addr, value in links.items():
            if self._links.get(addr) != value:
                self.m.write_u32(addr, value)
        self._links = links

    # ---- points -----------------------------------------------------------------------------
    def begin_step(self) -> None:
        self._seen.clear()
        self.points = []

    def point(self, base: str) -> None:
        self._seen[base] += 1
        n = self._seen[base]
        name = base if n == 1 else f"{base}#{n}"
        self.points.append(name)
        self.m.emit(L.EV_POINT, self.m.intern(name))
        self.on_point(name)

    # ---- hashes and targets (R1, R3, R4, R5) ------------------------------------------------
    def addr_new(self, rec: Record) -> int:
        """``ftrace_get_addr_new``, from the record's flags: TRAMP > REGS > ftrace_caller."""
        return self.table.addr_new(rec, self.ops_list, self.regs_caller, self.caller)

    def rec_update(self, ops: OpsState, filter_hash: bool, inc: bool) -> bool:
        """``__ftrace_hash_rec_update``; True asks for FTRACE_UPDATE_CALLS."""
        return self.table.rec_update(ops, filter_hash, inc, self.ops_list)

    def get_func(self, ops: OpsState) -> int:
        """``ftrace_ops_get_func``: the ops' callback, or the assist function (a recursion
        guard around it) for an ops that asks for protection. From 5.11 that is a RECURSION
        ops; before, the sense was the opposite: every ops *without* RECURSION_SAFE
        (a25d036d939a "ftrace: Reverse what the RECURSION flag means", v5.11)."""
        if self.profile.recursion_safe_era:
            guarded = "RECURSION_SAFE" not in ops.flags
        else:
            guarded = "RECURSION" in ops.flags
        if guarded:
            return self.image.symbols.addr("ftrace_ops_assist_func")
        return self.image.handlers[ops.name]

    def get_list_func(self, ops: OpsState) -> int:
        """``ftrace_ops_get_list_func``: DYNAMIC ops always go through the list function."""
        return self.list_func if "DYNAMIC" in ops.flags else self.get_func(ops)

    def update_ftrace_function(self) -> None:
        """``update_ftrace_function``: none -> stub, one -> its func, several -> list (R5)."""
        if not self.ops_list:
            func, self.set_function_trace_op = self.stub, L.FTRACE_LIST_END
        elif len(self.ops_list) == 1:
            func = self.get_list_func(self.ops_list[0])
            self.set_function_trace_op = self.ops_list[0].struct
        else:
            func, self.set_function_trace_op = self.list_func, L.FTRACE_LIST_END
        self.ftrace_trace_function = func

    # ---- the breakpoint protocol (R12) -----------------------------------------------------
    def insn(self, ip: int, target: int | None) -> bytes:
        return L.NOP5 if target is None else L.call_insn(ip, target)

    def _describe(self, ip: int, code: bytes) -> str:
        if code == L.NOP5:
            return "nop"
        if code[0] == L.CALL_OP:
            rel = int.from_bytes(code[1:5], "little", signed=True)
            return f"call {self.image.symbols.label_for((ip + 5 + rel) & 0xFFFFFFFF)}"
        return code.hex(" ")

    def _protocol(self, name: str, changes: list[tuple[int, bytes]]) -> None:
        """int3 on every byte 0, sync; new tails, sync; new byte 0, sync (each a point)."""
        for ip, new in changes:
            old = self.m.read(ip, 5)
            self.m.emit(
                L.EV_PATCH,
                ip,
                self.m.intern(f"{self._describe(ip, old)} -> {self._describe(ip, new)}"),
            )
            self.inflight[ip] = new
            self.m.poke(ip, bytes([L.INT3]))
        self.point(f"{name}.int3")
        for ip, new in changes:
            self._expect_text(ip, bytes([L.INT3]), "the int3 of phase 1")
            self.m.poke(ip + 1, new[1:])
        self.point(f"{name}.tail")
        for ip, new in changes:
            self._expect_text(ip, bytes([L.INT3]) + new[1:], "int3 and the new tail")
            self.m.poke(ip, new[:1])
        self.point(f"{name}.done")
        for ip, _ in changes:
            del self.inflight[ip]

    def _expect_text(self, ip: int, want: bytes, what: str) -> None:
        """Text under modification must hold what the protocol last wrote, as ftrace_bug()
        checks a site before touching it; anything else is corrupted emulator state."""
        have = self.m.read(ip, len(want))
        if have != want:
            raise IntegrityError(
                "text-under-patch",
                f"{self.image.symbols.label_for(ip)} holds "
                f"{have.hex(' ')}, expected {what} ({want.hex(' ')})",
            )

    def update_call_site(self, name: str, ip: int, func: int) -> None:
        """``update_ftrace_func`` / ``text_poke_bp`` on one trampoline call site."""
        self._protocol(name, [(ip, L.call_insn(ip, func))])

    def ftrace_update_ftrace_func(self, func: int) -> None:
        """Both shared trampolines, ``ftrace_call`` first, then ``ftrace_regs_call``."""
        sym = self.image.symbols
        self.update_call_site("ftrace_call", sym.addr("ftrace_call"), func)
        self.update_call_site("ftrace_regs_call", sym.addr("ftrace_regs_call"), func)

    def ftrace_replace_code(self, enable: bool) -> None:
        """Every record ``ftrace_test_record`` does not IGNORE, as one batch, each to
        ``ftrace_get_addr_new`` or a NOP; then ``ftrace_update_record`` commits the flags."""
        changes: list[tuple[Record, int | None]] = []
        for rec in self.table.all():
            what = self.table.check(rec, enable, False)
            if what == IGNORE:
                continue
            if self.m.read(rec.ip, 5) != self.insn(rec.ip, rec.target):
                raise InternalError(f"ftrace_bug: {rec.func} does not hold what ftrace expects")
            changes.append((rec, None if what == MAKE_NOP else self.addr_new(rec)))
        if not changes:
            return
        self._protocol("sites", [(r.ip, self.insn(r.ip, new)) for r, new in changes])
        for rec, new in changes:
            self.table.check(rec, enable, True)
            rec.target = new

    def ftrace_modify_all_code(self, command: int) -> None:
        """List function first, then the sites, then the final function (R6)."""
        update = command & UPDATE_TRACE_FUNC
        if update:
            self.update_ftrace_func(self.list_func)
        if command & UPDATE_CALLS:
            self.ftrace_replace_code(True)
        elif command & DISABLE_CALLS:
            self.ftrace_replace_code(False)
        if update and self.ftrace_trace_function != self.list_func:
            self.m.write_u32(L.FUNCTION_TRACE_OP, self.set_function_trace_op)
            self.update_ftrace_func(self.ftrace_trace_function)

    def update_ftrace_func(self, func: int) -> None:
        """kernel/trace/ftrace.c ``update_ftrace_func()`` from 6.2 ("ftrace: Avoid needless
        updates of the ftrace function call", Nov 2022): a static ``save_func`` remembers the
        callee last written and an equal one is not written again. So on 6.2+ moving from
        the list function to the list function passes no ``ftrace_call`` points, and at the
        first ``ftrace_call.done`` of an update that ends on a single ops the trampoline
        already calls that ops' final callee. Before 6.2 every update is written."""
        if self.profile.skips_same_func:
            if func == self.save_func:
                return
            self.save_func = func
        self.ftrace_update_ftrace_func(func)

    def ftrace_startup_enable(self, command: int) -> None:
        if self.saved_ftrace_func != self.ftrace_trace_function:
            self.saved_ftrace_func = self.ftrace_trace_function
            command |= UPDATE_TRACE_FUNC
        if command and self.ftrace_enabled:
            self.ftrace_modify_all_code(command)

    # ---- the int3 handler -------------------------------------------------------------------
    def int3_policy(self, ip: int) -> tuple[int, int] | None:
        """What the int3 handler of the era does for a trap at ``ip`` (the decision only: the
        emulated ``do_int3`` applies it to the trap frame, see :mod:`ftscen.image.entry`).

        * ``skip`` (``ftrace_int3_handler`` before 9e298e860460): resume at ip + 5.
        * ``emulate-call`` (E2): a record -> ``int3_emulate_call(ftrace_regs_caller)``; a
          trampoline call site -> call ``ftrace_update_func_call`` (the new callee).
        * ``emulate-new`` (``poke_int3_handler``): execute the instruction being written.
        """
        new = self.inflight.get(ip)
        if new is None:
            return None
        mode = self.profile.int3
        if mode == "skip" or (mode == "emulate-new" and new == L.NOP5):
            return (L.INT3_JMP, ip + 5)
        if mode == "emulate-call" and ip in self.by_ip:
            return (L.INT3_CALL, self.regs_caller)
        if new == L.NOP5:  # emulate-call at a trampoline site with nothing to call
            return (L.INT3_JMP, ip + 5)
        rel = int.from_bytes(new[1:5], "little", signed=True)
        return (L.INT3_CALL, (ip + 5 + rel) & 0xFFFFFFFF)

    # ---- per-ops trampolines (x86_64 logic, arch/x86/kernel/ftrace.c) ----------------------
    def ftrace_update_trampoline(self, ops: OpsState) -> None:
        """``arch_ftrace_update_trampoline``: create the copy, or retarget an allocated one."""
        if not self.profile.dynamic_trampolines:
            return
        tramp = self.image.trampolines[ops.name]
        func = self.get_func(ops)
        if ops.trampoline is None:
            code = bytearray(tramp.code)
            at = tramp.call_site - tramp.addr
            first = func if self.profile.text_poke else self.stub
            code[at : at + 5] = L.call_insn(tramp.call_site, first)
            self.m.poke(tramp.addr, bytes(code))
            ops.trampoline = tramp.addr
            ops.flags.add("ALLOC_TRAMP")
            if self.profile.text_poke:
                return
        elif "ALLOC_TRAMP" not in ops.flags:
            return
        self.update_call_site(f"{ops.name}.tramp_call", tramp.call_site, func)

    def ftrace_trampoline_free(self, ops: OpsState) -> None:
        if ops.trampoline is not None:
            self.m.poke(ops.trampoline, L.UD2 * (L.TRAMP_SLOT // 2))
            ops.trampoline = None
            ops.flags.discard("ALLOC_TRAMP")

    # ---- the steps --------------------------------------------------------------------------
    def run(self, action: PatcherAction) -> int:
        """Carry out one patcher step; returns 0 or a negative errno."""
        self.begin_step()
        if isinstance(action, Register):
            return self.ftrace_startup(self.ops[action.ops])
        if isinstance(action, Unregister):
            return self.ftrace_shutdown(self.ops[action.ops])
        if isinstance(action, SetFilter):
            return self.ftrace_set_hash(self.ops[action.ops], action.globs, action.reset, True)
        if isinstance(action, SetNotrace):
            return self.ftrace_set_hash(self.ops[action.ops], action.globs, action.reset, False)
        if isinstance(action, Sysctl):
            return self.ftrace_enable_sysctl(action.ftrace_enabled)
        raise InternalError(f"not a patcher action: {action!r}")

    def ftrace_startup(self, ops: OpsState) -> int:
        """``register_ftrace_function`` -> ``ftrace_startup`` (kernel/trace/ftrace.c)."""
        if self.ftrace_disabled:
            return -ENODEV
        if "ENABLED" in ops.flags:
            return -EBUSY
        if self._permanent(ops) and not self.ftrace_enabled:
            return -EBUSY
        self.ops_list.insert(0, ops)  # __register_ftrace_function: add_ftrace_ops
        self._write_ops_list()
        self.point("start")
        self.ftrace_update_trampoline(ops)
        if self.ftrace_enabled:
            self.update_ftrace_function()
        self.ftrace_start_up += 1
        ops.flags |= {"ENABLED", "ADDING"}
        ret = self.table.update_ipmodify(ops, frozenset(), ops.filter or None)
        if ret:
            self._unregister_rollback(ops)
            return ret
        self._write_flags(ops)
        self.ftrace_startup_enable(UPDATE_CALLS if self.rec_update(ops, True, True) else 0)
        ops.flags.discard("ADDING")
        self._write_flags(ops)
        return 0

    def _unregister_rollback(self, ops: OpsState) -> None:
        """``ftrace_startup()``'s rollback when the IPMODIFY check fails. From 5.9 a DYNAMIC
        ops' trampoline is freed there (d5e47505e026 "ftrace: Free the trampoline when
        ftrace_startup() fails"); before, it stays allocated and a later registration
        retargets that stale copy (``arch_ftrace_update_trampoline`` with ALLOC_TRAMP)."""
        self.ops_list.remove(ops)
        self._write_ops_list()
        if self.ftrace_enabled:
            self.update_ftrace_function()
        self.ftrace_start_up -= 1
        ops.flags -= {"ENABLED", "ADDING"}
        self._write_flags(ops)
        if "DYNAMIC" in ops.flags and self.profile.frees_rolled_back_trampoline:
            self.ftrace_trampoline_free(ops)

    def _permanent(self, ops: OpsState) -> bool:
        """PERMANENT is honoured only in kernels that have the flag (5.5 and later); before,
        writing ftrace_enabled = 0 silently disabled live patches, the reason it was added."""
        return "PERMANENT" in ops.flags and self.profile.has_permanent

    def ftrace_shutdown(self, ops: OpsState) -> int:
        """``unregister_ftrace_function`` -> ``ftrace_shutdown``. With nothing to update or
        ``ftrace_enabled == 0`` it returns before the code update and the sanity check, as
        the kernel does; DYNAMIC ops' trampolines are freed at the end either way (all calls
        in this model have completed by then, R10)."""
        if self.ftrace_disabled:
            return -ENODEV
        if "ENABLED" not in ops.flags:
            return -EBUSY
        self.ops_list.remove(ops)
        self._write_ops_list()
        self.point("start")
        if self.ftrace_enabled:
            self.update_ftrace_function()
        self.ftrace_start_up -= 1
        self.table.update_ipmodify(ops, ops.filter or None, frozenset())
        command = UPDATE_CALLS if self.rec_update(ops, True, False) else 0
        ops.flags.discard("ENABLED")
        self._write_flags(ops)
        if self.saved_ftrace_func != self.ftrace_trace_function:
            self.saved_ftrace_func = self.ftrace_trace_function
            command |= UPDATE_TRACE_FUNC
        if command and self.ftrace_enabled:
            self.ftrace_modify_all_code(command)
            if not self.ops_list:
                self.shutdown_check()
        if "DYNAMIC" in ops.flags:
            self.ftrace_trampoline_free(ops)
        return 0

    def shutdown_check(self) -> None:
        """The end of ``ftrace_shutdown()`` when no ops is left: ``FTRACE_WARN_ON_ONCE(
        rec->flags & ~FTRACE_FL_DISABLED)`` (``~FTRACE_NOCLEAR_FLAGS`` from 6.4) and
        ``pr_warn("  %pS flags:%lx")`` for each record; the WARN calls ``ftrace_kill()``,
        which sets ``ftrace_disabled`` and ``ftrace_trace_function = ftrace_stub`` and
        changes no text: sites and trampolines stay as the update just left them."""
        for rec in self.table.leaked():
            self.m.emit(L.EV_WARN, rec.ip, rec.flags, self.m.intern("ftrace_shutdown"))
            self.ftrace_kill()

    def ftrace_kill(self) -> None:
        """``ftrace_kill()``: every later register, unregister, filter edit and sysctl write
        returns -ENODEV (``ftrace_startup``, ``ftrace_shutdown``, ``ftrace_set_hash``,
        ``ftrace_enable_sysctl`` test ``ftrace_disabled`` first)."""
        self.ftrace_disabled = True
        self.ftrace_enabled = False
        self.ftrace_trace_function = self.stub

    def ftrace_set_hash(
        self, ops: OpsState, globs: tuple[str, ...], reset: bool, enable: bool
    ) -> int:
        """``ftrace_set_filter`` / ``ftrace_set_notrace`` -> ``ftrace_set_hash``: match the
        globs (none matching -> -EINVAL), ``ftrace_hash_move`` (IPMODIFY rules), then
        ``ftrace_ops_update_code`` for a registered ops."""
        if self.ftrace_disabled:
            return -ENODEV
        current = ops.filter if enable else ops.notrace
        new, unmatched = apply_globs(current, globs, self.traceable, reset)
        if unmatched is not None:
            return -EINVAL
        if not enable and "IPMODIFY" in ops.flags:
            return -EINVAL
        if enable:
            ret = self.table.update_ipmodify(ops, ops.filter or None, new or None)
            if ret:
                return ret
        self.rec_update(ops, enable, False)  # ftrace_hash_rec_disable_modify
        if enable:
            ops.filter = new
        else:
            ops.notrace = new
        self.rec_update(ops, enable, True)  # ftrace_hash_rec_enable_modify
        self._write_hashes(ops)
        self.point("start")
        # ftrace_ops_update_code: nothing while ftrace_enabled == 0
        if "ENABLED" in ops.flags and self.ftrace_enabled:
            self.ftrace_modify_all_code(UPDATE_CALLS)
        return 0

    def ftrace_enable_sysctl(self, enabled: bool) -> int:
        """``ftrace_enable_sysctl``: off sends everything to NOP and the stub; refused with
        -EBUSY while a PERMANENT ops is registered (R9)."""
        if self.ftrace_disabled:
            return -ENODEV
        if enabled == self.last_ftrace_enabled:
            return 0
        if enabled:
            self.ftrace_enabled = True
            self.point("start")
            if self.ops_list:
                self.update_ftrace_function()
            self.saved_ftrace_func = None  # ftrace_startup_sysctl: force the update
            if self.ftrace_start_up:
                self.ftrace_startup_enable(UPDATE_CALLS)
        else:
            if any(self._permanent(o) for o in self.ops_list):
                return -EBUSY
            self.ftrace_enabled = False
            self.point("start")
            self.ftrace_trace_function = self.stub
            if self.ftrace_start_up:
                self.ftrace_modify_all_code(DISABLE_CALLS)
        self.last_ftrace_enabled = enabled
        return 0

    # ---- what the text says now ---------------------------------------------------------
    def _text_at(self, ip: int) -> str:
        return self._describe(ip, self.m.read(ip, 5))

    def site_text(self, func: str) -> str:
        return self._text_at(self.records[func].ip)

    def trampoline_site_texts(self) -> dict[str, str]:
        """What each trampoline's own call site calls now: ``ftrace_call``,
        ``ftrace_regs_call`` and, with per-ops trampolines, every ``OPS.tramp_call``, which
        reads ``not allocated`` while its ops has no trampoline (never created, or freed)."""
        out = {name: self._text_at(self.image.symbols.addr(name)) for name in TRAMPOLINE_SITES}
        for name, tramp in self.image.trampolines.items():
            allocated = self.ops[name].trampoline is not None
            out[f"{name}.tramp_call"] = (
                self._text_at(tramp.call_site) if allocated else NOT_ALLOCATED
            )
        return out
