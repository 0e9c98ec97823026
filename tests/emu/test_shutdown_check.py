"""The sanity check at the end of ``ftrace_shutdown()`` and ``ftrace_kill()`` (kernel bug 1,
docs/kernel-bugs.md), observed on the emulated machine."""

from __future__ import annotations

import pytest
from build import fn, ops, scenario, steps

from ftscen.core.model import (
    Call,
    Register,
    SetFilter,
    SetNotrace,
    Sysctl,
    Unregister,
)
from ftscen.core.profile import profile_for
from ftscen.emu.events import CallbackEvent, PatchEvent, WarnEvent
from ftscen.emu.run import run_scenario

#: The second sequence of kernel bug 1: A leaks REGS on f while ftrace_enabled == 0, B's
#: unregister (the last ops) WARNs.
LEAK = (
    Register("A"),
    Sysctl(False),
    Unregister("A"),
    Sysctl(True),
    Register("B"),
    Unregister("B"),
)


def leak_scenario(*after: object, version: str = "6.1", a_filter: tuple[str, ...] = ("f",)):
    return scenario(
        [fn("f"), fn("g"), fn("h")],
        [ops("A", "SAVE_REGS", filter=a_filter), ops("B", filter=("g",))],
        steps(*LEAK, *after),
        version=version,
    )


def run(sc):
    return run_scenario(sc, profile_for(sc.kernel))


def test_the_last_unregister_warns_naming_the_record_and_its_flags() -> None:
    result = run(leak_scenario())
    warns = [e for e in result.events if isinstance(e, WarnEvent)]
    assert [(w.step, w.where, w.func, w.flags, w.names, w.count) for w in warns] == [
        (5, "ftrace_shutdown", "f", "0x40000000", ("REGS",), 0)
    ]
    assert result.steps[5].errno == "0"  # the WARN does not change what unregister returns
    assert warns[0].to_dict()["names"] == ("REGS",)


def test_every_leaked_record_is_printed() -> None:
    result = run(leak_scenario(a_filter=("f", "h")))
    assert [e.func for e in result.events if isinstance(e, WarnEvent)] == ["f", "h"]


@pytest.mark.parametrize(
    "action",
    [
        Register("A"),
        Unregister("B"),
        SetFilter("B", ("h",)),
        SetNotrace("B", ("h",)),
        Sysctl(False),
        Sysctl(True),
    ],
    ids=["register", "unregister", "set_filter", "set_notrace", "sysctl-0", "sysctl-1"],
)
def test_after_ftrace_kill_every_operation_returns_enodev(action: object) -> None:
    result = run(leak_scenario(action))
    assert result.steps[-1].errno == "ENODEV"
    assert result.steps[-1].points == ()


def test_ftrace_kill_changes_no_text_and_no_callee_runs() -> None:
    result = run(leak_scenario(Register("B"), Call("g")))
    kill_step = [e for e in result.events if e.step == 5]
    patches_after_warn = [
        e
        for e in kill_step[[isinstance(e, WarnEvent) for e in kill_step].index(True) :]
        if isinstance(e, PatchEvent)
    ]
    assert patches_after_warn == []
    assert result.sites == {"f": "nop", "g": "nop", "h": "nop"}
    assert result.trampoline_sites["ftrace_call"] == "call ftrace_stub"
    assert not [e for e in result.events if isinstance(e, CallbackEvent) and e.step == 7]


def test_no_warning_while_an_ops_is_still_registered() -> None:
    sc = scenario(
        [fn("f"), fn("g")],
        [ops("A", "SAVE_REGS", filter=("f",)), ops("B", filter=("g",)), ops("C", filter=("g",))],
        steps(
            Register("A"),
            Sysctl(False),
            Unregister("A"),
            Sysctl(True),
            Register("C"),
            Register("B"),
            Unregister("B"),
        ),
        version="6.1",
    )
    result = run(sc)
    assert not [e for e in result.events if isinstance(e, WarnEvent)]
    assert result.records["f"] == 1 << 30  # still leaked: the check only runs with no ops left


def test_the_6_4_mask_still_holds_regs_and_the_word_shows_touched() -> None:
    result = run(leak_scenario(version="6.6"))
    [warn] = [e for e in result.events if isinstance(e, WarnEvent)]
    assert (warn.flags, warn.names) == ("0x40100000", ("REGS", "TOUCHED"))
