"""The modelled kernel's records: ``struct dyn_ftrace`` reference counts and flags.

Every traceable function has a record whose ``flags`` word (``ftscen.core.recflags``) is kept
as kernel/trace/ftrace.c keeps it, and what a site is patched to comes from these flags, not
from a fresh look at the registered ops:

* :meth:`RecordTable.rec_update` is ``__ftrace_hash_rec_update()`` (the 5.x / 6.1 form, with
  its ``filter_hash`` argument): the count goes up or down for every record the ops' hashes
  select; TRAMP is set only for a count of 1 and an ops with a trampoline; REGS is set by a
  SAVE_REGS ops and, on a decrement, re-computed (``test_rec_ops_needs_regs()``) only while
  the count stays above 0 -- "flags will be cleared in ftrace_check_record() if rec count is
  zero".
* :meth:`RecordTable.check` is ``ftrace_check_record()`` (``ftrace_test_record()`` without
  ``update``, ``ftrace_update_record()`` with it). A record whose count is 0 and whose
  ENABLED is clear is IGNOREd before the code that clears its other flags, which is how a
  REGS bit left by a count that dropped to 0 while ``ftrace_enabled == 0`` stays set (see
  docs/kernel-bugs.md). From 6.4 an update that enables a record also sets TOUCHED
  (e11b521a7b69) and, with IPMODIFY or DIRECT on it, MODIFIED (6ce2c04fcbca); clearing a
  record whose count is 0 keeps only ``FTRACE_NOCLEAR_FLAGS``.
* :meth:`RecordTable.addr_new` is ``ftrace_get_addr_new()``: TRAMP -> the trampoline of
  ``ftrace_find_tramp_ops_new()``, REGS -> ``ftrace_regs_caller``, else ``ftrace_caller``.
* :meth:`RecordTable.update_ipmodify` is ``__ftrace_hash_update_ipmodify()``.
* :meth:`RecordTable.leaked` is the sanity check at the end of ``ftrace_shutdown()``.

Sources read: kernel/trace/ftrace.c of a 5.x tree (between 5.8 and 5.19), and the 6.4 diffs
of e11b521a7b69 ("ftrace: Show a list of all functions that have ever been enabled") and
6ce2c04fcbca ("ftrace: Add MODIFIED flag to show if IPMODIFY or direct was attached").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ftscen.core import recflags as F
from ftscen.core.errno import EBUSY, EINVAL
from ftscen.core.errors import InternalError

#: ``enum ftrace_update_ip`` values ``ftrace_check_record()`` returns.
IGNORE, MAKE_CALL, MODIFY_CALL, MAKE_NOP = 0, 1, 2, 3

ENABLED, REGS, REGS_EN = F.bit("ENABLED"), F.bit("REGS"), F.bit("REGS_EN")
TRAMP, TRAMP_EN, IPMODIFY = F.bit("TRAMP"), F.bit("TRAMP_EN"), F.bit("IPMODIFY")
DIRECT, TOUCHED, MODIFIED = F.bit("DIRECT"), F.bit("TOUCHED"), F.bit("MODIFIED")
#: The _EN bits a record with users left loses when it is disabled.
_EN_BITS = ENABLED | TRAMP_EN | REGS_EN | F.bit("DIRECT_EN") | F.bit("CALL_OPS_EN")


class Ops(Protocol):
    """What the record code reads of an ops (``OpsState`` of the patcher)."""

    filter: frozenset[str]
    notrace: frozenset[str]
    flags: set[str]
    trampoline: int | None


def hash_contains(ops: Ops, func: str) -> bool:
    """``hash_contains_ip()``: (filter empty or in filter) and not in notrace (R1)."""
    return (not ops.filter or func in ops.filter) and func not in ops.notrace


@dataclass
class Record:
    """A ``struct dyn_ftrace``: the site, what its text calls now (None = NOP), and the
    record's ``flags`` word (reference count and FTRACE_FL_* bits)."""

    func: str
    ip: int
    target: int | None = None
    flags: int = 0

    @property
    def count(self) -> int:
        return F.count(self.flags)

    def has(self, mask: int) -> bool:
        return bool(self.flags & mask)

    def put(self, mask: int, on: bool) -> None:
        self.flags = self.flags | mask if on else self.flags & ~mask


class RecordTable:
    """Every record, in ip order (``do_for_each_ftrace_rec``), and the era's flag rules."""

    def __init__(self, sites: Iterable[tuple[str, int]], release: tuple[int, int]) -> None:
        self.by_func = {f: Record(f, ip) for f, ip in sorted(sites, key=lambda s: s[1])}
        self.release = release
        self.touched = F.has_flag(release, "TOUCHED")
        self.modified = F.has_flag(release, "MODIFIED")
        self.noclear = F.noclear_mask(release)

    def all(self) -> list[Record]:
        return list(self.by_func.values())

    # ---- __ftrace_hash_rec_update -----------------------------------------------------
    def rec_update(self, ops: Ops, filter_hash: bool, inc: bool, ops_list: Sequence[Ops]) -> bool:
        """``__ftrace_hash_rec_update(ops, filter_hash, inc)``; True when some record's
        ``ftrace_test_record(rec, 1)`` is no longer IGNORE (the caller's UPDATE_CALLS)."""
        if "ENABLED" not in ops.flags:
            return False
        if not filter_hash:
            if not ops.notrace:
                return False
            inc = not inc  # notrace: adding to it disables, removing enables
        update = False
        for rec in self.all():
            if not self._matches(ops, rec.func, filter_hash):
                continue
            if inc:
                self._inc(rec, ops)
            else:
                self._dec(rec, ops, ops_list)
            update |= self.check(rec, True, False) != IGNORE
        return update

    @staticmethod
    def _matches(ops: Ops, func: str, filter_hash: bool) -> bool:
        if filter_hash:
            in_hash = not ops.filter or func in ops.filter
            return in_hash and func not in ops.notrace
        return func in ops.notrace and (not ops.filter or func in ops.filter)

    @staticmethod
    def _inc(rec: Record, ops: Ops) -> None:
        rec.flags += 1
        if rec.count >= F.REF_MASK:
            raise InternalError(f"ftrace: {rec.func}'s reference count overflows")
        # only a single callback with a trampoline may call it directly
        rec.put(TRAMP, rec.count == 1 and ops.trampoline is not None)
        if "SAVE_REGS" in ops.flags:
            rec.put(REGS, True)

    def _dec(self, rec: Record, ops: Ops, ops_list: Sequence[Ops]) -> None:
        if rec.count == 0:
            raise InternalError(f"ftrace: {rec.func}'s reference count would go below 0")
        rec.flags -= 1
        if rec.count > 0 and rec.has(REGS) and "SAVE_REGS" in ops.flags:
            rec.put(REGS, self._needs_regs(rec, ops_list))
        others = [o for o in ops_list if o is not ops and o.trampoline is not None]
        rec.put(TRAMP, rec.count == 1 and any(hash_contains(o, rec.func) for o in others))

    @staticmethod
    def _needs_regs(rec: Record, ops_list: Sequence[Ops]) -> bool:
        """``test_rec_ops_needs_regs()``: any listed ops on the record (by its current
        hashes, the ops being changed included) wants regs."""
        return any(hash_contains(o, rec.func) and "SAVE_REGS" in o.flags for o in ops_list)

    # ---- ftrace_check_record ------------------------------------------------------------
    def check(self, rec: Record, enable: bool, update: bool) -> int:
        """``ftrace_check_record(rec, enable, update)``."""
        flag = ENABLED if enable and rec.count else 0
        if flag:
            if rec.has(REGS) != rec.has(REGS_EN):
                flag |= REGS
            if rec.has(TRAMP) != rec.has(TRAMP_EN):
                flag |= TRAMP
        if rec.flags & ENABLED == flag:
            return IGNORE
        if flag:
            flag ^= rec.flags & ENABLED
            if update:
                self._commit_enable(rec, flag)
            return MAKE_CALL if flag & ENABLED else MODIFY_CALL
        if update:
            # no more users: clear all flags; else keep REGS/TRAMP, drop the _EN bits
            rec.flags = rec.flags & self.noclear if rec.count == 0 else rec.flags & ~_EN_BITS
        return MAKE_NOP

    def _commit_enable(self, rec: Record, flag: int) -> None:
        rec.flags |= ENABLED | (TOUCHED if self.touched else 0)
        if flag & REGS:
            rec.put(REGS_EN, rec.has(REGS))
        if flag & TRAMP:
            rec.put(TRAMP_EN, rec.has(TRAMP))
        if self.modified and rec.has(DIRECT | IPMODIFY):
            rec.flags |= MODIFIED

    # ---- ftrace_get_addr_new --------------------------------------------------------------
    @staticmethod
    def addr_new(rec: Record, ops_list: Sequence[Ops], regs_caller: int, caller: int) -> int:
        """``ftrace_get_addr_new()``; a TRAMP record no listed ops with a trampoline covers
        is the kernel's "Bad trampoline accounting" WARN, which the model never reaches."""
        if rec.has(TRAMP):
            ops = next((o for o in ops_list if hash_contains(o, rec.func)), None)
            if ops is None or ops.trampoline is None:
                raise InternalError(f"bad trampoline accounting at {rec.func}")
            return ops.trampoline
        return regs_caller if rec.has(REGS) else caller

    # ---- __ftrace_hash_update_ipmodify ----------------------------------------------------
    def update_ipmodify(
        self, ops: Ops, old: frozenset[str] | None, new: frozenset[str] | None
    ) -> int:
        """``__ftrace_hash_update_ipmodify``: exclusive owners per record, with rollback.

        As in the kernel, None stands for "all functions" (an empty filter hash passed as
        NULL), which an IPMODIFY ops may never cover: -EINVAL."""
        if "ENABLED" not in ops.flags or "IPMODIFY" not in ops.flags:
            return 0
        if new is None or old is None:
            return -EINVAL
        taken: list[Record] = []
        for rec in self.all():
            in_old, in_new = rec.func in old, rec.func in new
            if in_old == in_new:
                continue
            if in_new and rec.has(IPMODIFY):
                for t in taken:
                    t.flags ^= IPMODIFY
                return -EBUSY
            rec.put(IPMODIFY, in_new)
            taken.append(rec)
        return 0

    # ---- the shutdown sanity check ------------------------------------------------------
    def leaked(self) -> list[Record]:
        """Records the check at the end of ``ftrace_shutdown()`` WARNs about when no ops is
        left: ``rec->flags & ~FTRACE_FL_DISABLED``, from 6.4 ``& ~FTRACE_NOCLEAR_FLAGS``."""
        return [r for r in self.all() if r.flags & ~self.noclear]
