"""Records as kernel/trace/ftrace.c keeps them: each expected word is worked out from
``__ftrace_hash_rec_update()`` / ``ftrace_check_record()`` of 6.1 (bit numbers from
include/linux/ftrace.h: ENABLED 31, REGS 30, REGS_EN 29, TRAMP 28, TRAMP_EN 27, IPMODIFY 26;
TOUCHED 20 and MODIFIED 19 from 6.4)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ftscen.core import recflags
from ftscen.core.errors import InternalError
from ftscen.emu.records import IGNORE, MAKE_CALL, MAKE_NOP, MODIFY_CALL, RecordTable

ENABLED, REGS, REGS_EN = 1 << 31, 1 << 30, 1 << 29
TRAMP, TRAMP_EN, IPMODIFY = 1 << 28, 1 << 27, 1 << 26
TOUCHED, MODIFIED = 1 << 20, 1 << 19
V61, V66 = (6, 1), (6, 6)


@dataclass
class Ops:
    filter: frozenset[str] = frozenset()
    notrace: frozenset[str] = frozenset()
    flags: set[str] = field(default_factory=lambda: {"ENABLED"})
    trampoline: int | None = None


def table(release: tuple[int, int] = V61) -> RecordTable:
    return RecordTable([("f", 0x1000), ("g", 0x2000)], release)


def enable(t: RecordTable, ops: Ops, listed: list[Ops]) -> None:
    """Register: count up, then the code update with ftrace_enabled (update committed)."""
    t.rec_update(ops, True, True, listed)
    for rec in t.all():
        if t.check(rec, True, False) != IGNORE:
            t.check(rec, True, True)


def test_a_save_regs_ops_counts_and_asks_for_regs_then_the_update_enables_it() -> None:
    t, a = table(), Ops(frozenset({"f"}), flags={"ENABLED", "SAVE_REGS"})
    assert t.rec_update(a, True, True, [a]) is True
    f = t.by_func["f"]
    assert f.flags == 1 | REGS
    assert t.check(f, True, False) == MAKE_CALL
    assert f.flags == 1 | REGS  # a test changes nothing
    t.check(f, True, True)
    assert f.flags == 1 | REGS | ENABLED | REGS_EN
    assert t.by_func["g"].flags == 0


def test_a_count_dropping_to_0_leaves_regs_for_check_record() -> None:
    t, a = table(), Ops(frozenset({"f"}), flags={"ENABLED", "SAVE_REGS"})
    enable(t, a, [a])
    t.rec_update(a, True, False, [])
    assert t.by_func["f"].flags == REGS | ENABLED | REGS_EN


def test_a_record_enabled_with_count_0_is_made_a_nop_and_cleared() -> None:
    t, a = table(), Ops(frozenset({"f"}), flags={"ENABLED", "SAVE_REGS"})
    enable(t, a, [a])
    t.rec_update(a, True, False, [])
    f = t.by_func["f"]
    assert t.check(f, True, True) == MAKE_NOP
    assert f.flags == 0


def test_from_6_4_a_cleared_record_keeps_touched() -> None:
    t, a = table(V66), Ops(frozenset({"f"}), flags={"ENABLED", "SAVE_REGS"})
    enable(t, a, [a])
    assert t.by_func["f"].flags == 1 | REGS | ENABLED | REGS_EN | TOUCHED
    t.rec_update(a, True, False, [])
    t.check(t.by_func["f"], True, True)
    assert t.by_func["f"].flags == TOUCHED
    assert t.leaked() == []


def test_the_leak_a_count_0_record_without_enabled_is_ignored_with_regs_left() -> None:
    t, a = table(), Ops(frozenset({"f"}), flags={"ENABLED", "SAVE_REGS"})
    enable(t, a, [a])
    f = t.by_func["f"]
    assert t.check(f, False, True) == MAKE_NOP  # ftrace_enabled = 0: DISABLE_CALLS
    assert f.flags == 1 | REGS
    t.rec_update(a, True, False, [])  # unregister while ftrace_enabled == 0: no update
    assert f.flags == REGS
    assert t.check(f, True, True) == IGNORE
    assert f.flags == REGS
    assert [r.func for r in t.leaked()] == ["f"]


def test_a_leaked_regs_bit_makes_the_next_user_a_regs_caller_user() -> None:
    t, b = table(), Ops(frozenset({"f"}))
    t.by_func["f"].flags = REGS
    t.rec_update(b, True, True, [b])
    f = t.by_func["f"]
    assert t.check(f, True, True) == MAKE_CALL
    assert f.flags == 1 | ENABLED | REGS | REGS_EN
    assert t.addr_new(f, [b], regs_caller=0xA, caller=0xB) == 0xA


def test_regs_is_recomputed_while_other_users_stay() -> None:
    t = table()
    a = Ops(frozenset({"f"}), flags={"ENABLED", "SAVE_REGS"})
    b = Ops(frozenset({"f"}))
    enable(t, a, [a])
    enable(t, b, [b, a])
    f = t.by_func["f"]
    assert f.flags == 2 | ENABLED | REGS | REGS_EN
    t.rec_update(a, True, False, [b])  # A has left the list: nobody wants regs
    assert f.flags == 1 | ENABLED | REGS_EN
    assert t.check(f, True, False) == MODIFY_CALL
    t.check(f, True, True)
    assert f.flags == 1 | ENABLED
    assert t.addr_new(f, [b], regs_caller=0xA, caller=0xB) == 0xB


def test_tramp_only_for_a_single_user_with_a_trampoline() -> None:
    t = table()
    a = Ops(frozenset({"f"}), trampoline=0x9000)
    b = Ops(frozenset({"f"}))
    t.rec_update(a, True, True, [a])
    f = t.by_func["f"]
    assert f.flags == 1 | TRAMP
    assert t.addr_new(f, [a], 0xA, 0xB) == 0x9000
    t.rec_update(b, True, True, [b, a])
    assert f.flags == 2
    t.rec_update(b, True, False, [a])
    assert f.flags == 1 | TRAMP


def test_notrace_edits_count_the_other_way() -> None:
    t, a = table(), Ops()
    enable(t, a, [a])
    assert [r.count for r in t.all()] == [1, 1]
    t.rec_update(a, False, False, [a])  # no notrace hash yet: nothing to undo
    a.notrace = frozenset({"g"})
    t.rec_update(a, False, True, [a])  # adding g to notrace takes g's count away
    assert [r.count for r in t.all()] == [1, 0]


def test_ipmodify_is_exclusive_and_from_6_4_marks_the_record_modified() -> None:
    t = table(V66)
    a = Ops(frozenset({"f"}), flags={"ENABLED", "IPMODIFY", "SAVE_REGS"})
    assert t.update_ipmodify(a, frozenset(), a.filter) == 0
    enable(t, a, [a])
    assert t.by_func["f"].flags == 1 | ENABLED | REGS | REGS_EN | IPMODIFY | TOUCHED | MODIFIED
    b = Ops(frozenset({"f", "g"}), flags={"ENABLED", "IPMODIFY"})
    assert t.update_ipmodify(b, frozenset(), b.filter) == -16
    assert not t.by_func["g"].flags & IPMODIFY  # rolled back


def test_a_count_below_0_is_an_internal_error() -> None:
    t, a = table(), Ops(frozenset({"f"}))
    with pytest.raises(InternalError):
        t.rec_update(a, True, False, [])


@pytest.mark.parametrize(
    "release,mask",
    [((4, 4), 0), ((5, 10), 1 << 25), ((6, 1), 1 << 25), ((6, 4), (1 << 25) | TOUCHED | MODIFIED)],
)
def test_the_flags_a_record_keeps_and_the_check_ignores_follow_the_era(
    release: tuple[int, int], mask: int
) -> None:
    assert recflags.noclear_mask(release) == mask


def test_a_word_decodes_as_the_kernel_prints_it_with_names() -> None:
    assert recflags.decode(REGS) == "0x40000000 (REGS)"
    assert recflags.decode(REGS | TOUCHED) == "0x40100000 (REGS TOUCHED)"
    assert recflags.decode(2 | ENABLED) == "0x80000002 (ENABLED count 2)"
    assert recflags.decode(0) == "0x0 (none)"
