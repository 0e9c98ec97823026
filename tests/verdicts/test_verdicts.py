"""Assertions against the callback log, and the scenario outcome."""

from __future__ import annotations

from dataclasses import replace

from build import fn, ops, scenario, steps

from ftscen.core.model import (
    Call,
    ExpectCall,
    ExpectCalled,
    ExpectNotCalled,
    ExpectRecord,
    ExpectSite,
    Register,
    Sysctl,
    Unregister,
)
from ftscen.core.profile import profile_for
from ftscen.emu.run import run_scenario
from ftscen.verdicts.evaluate import Outcome, evaluate


def outcome(sc):
    return evaluate(run_scenario(sc, profile_for(sc.kernel)))


BASE = scenario(
    [fn("f", "g"), fn("g")],
    [ops("A", filter=("f",)), ops("B", filter=("g",))],
    steps(Register("A"), Register("B"), (Call("f"), "c")),
)


def with_expect(*exp, xfail=None):
    return replace(BASE, expect=tuple(exp), xfail=xfail)


def test_call_assertion_compares_bodies_and_handlers_as_sets():
    out, vs = outcome(with_expect(ExpectCall("c", ran=("g", "f"), called=("B", "A"))))
    assert out is Outcome.PASS and len(vs) == 2 and all(v.ok for v in vs)


def test_call_assertion_fails_and_says_what_was_missing():
    out, vs = outcome(with_expect(ExpectCall("c", called=("A",))))
    assert out is Outcome.FAIL
    assert "called too: B" in vs[0].actual


def test_called_mapping_checks_exact_counts():
    out, _ = outcome(with_expect(ExpectCall("c", called_counts=(("A", 1), ("B", 1)))))
    assert out is Outcome.PASS
    out, vs = outcome(with_expect(ExpectCall("c", called_counts=(("A", 2), ("B", 1)))))
    assert out is Outcome.FAIL and "A: 1" in vs[0].actual


def test_called_totals_count_callbacks_per_function():
    assert outcome(with_expect(ExpectCalled("A", "f", 1), ExpectCalled("B")))[0] is Outcome.PASS
    assert outcome(with_expect(ExpectCalled("A", "f", 2)))[0] is Outcome.FAIL
    assert outcome(with_expect(ExpectCalled("A", "g")))[0] is Outcome.FAIL


def test_not_called_holds_only_when_no_callback_matches():
    assert outcome(with_expect(ExpectNotCalled("A", "g")))[0] is Outcome.PASS
    assert outcome(with_expect(ExpectNotCalled("B")))[0] is Outcome.FAIL


def test_site_assertion_reads_the_final_text():
    assert outcome(with_expect(ExpectSite("f", "call  ftrace_caller")))[0] is Outcome.PASS
    out, vs = outcome(with_expect(ExpectSite("f", "nop")))
    assert out is Outcome.FAIL and vs[0].actual == "call ftrace_caller"


def test_site_assertion_reads_a_trampoline_call_site():
    assert (
        outcome(
            with_expect(
                ExpectSite("ftrace_call", "call ftrace_ops_list_func"),
                ExpectSite("ftrace_regs_call", "call ftrace_ops_list_func"),
            )
        )[0]
        is Outcome.PASS
    )
    out, vs = outcome(with_expect(ExpectSite("ftrace_regs_call", "call A.func")))
    assert out is Outcome.FAIL
    assert (vs[0].title, vs[0].actual) == (
        "site ftrace_regs_call is call A.func",
        "call ftrace_ops_list_func",
    )


def test_a_per_ops_call_site_that_was_freed_reads_not_allocated():
    sc = scenario(
        [fn("f")],
        [ops("A", "DYNAMIC", filter=("f",))],
        steps(Register("A"), Unregister("A")),
        dynamic=True,
        expect=(ExpectSite("A.tramp_call", "call A.func"),),
    )
    out, vs = outcome(sc)
    assert out is Outcome.FAIL and vs[0].actual == "not allocated"


# N alone reaches f through ftrace_caller (regs == NULL); once R (SAVE_REGS) joins, the site
# calls ftrace_regs_caller and the list function hands both handlers the same regs.
REGS = scenario(
    [fn("f")],
    [ops("N", filter=("f",)), ops("R", "SAVE_REGS", filter=("f",))],
    steps(Register("N"), (Call("f"), "alone"), Register("R"), (Call("f"), "both")),
)


def regs_outcome(*exp):
    return outcome(replace(REGS, expect=tuple(exp)))


def test_called_with_regs_counts_only_the_callbacks_that_received_them():
    out, vs = regs_outcome(
        ExpectCalled("N", "f", 1, regs=False),
        ExpectCalled("N", "f", 1, regs=True),
        ExpectCalled("N", "f", 2),
        ExpectNotCalled("R", regs=False),
    )
    assert out is Outcome.PASS, [v.title for v in vs if not v.ok]
    assert [v.title for v in vs] == [
        "called N on f without regs 1 time(s)",
        "called N on f with regs 1 time(s)",
        "called N on f 2 time(s)",
        "not_called R without regs",
    ]


def test_a_failed_regs_count_says_how_often_the_other_kind_ran():
    out, vs = regs_outcome(ExpectCalled("R", "f", regs=False))
    assert out is Outcome.FAIL
    assert vs[0].title == "called R on f without regs at least once"
    assert vs[0].actual == "0 time(s) (and 1 time(s) with regs)"
    out, vs = regs_outcome(ExpectNotCalled("N", regs=True))
    assert out is Outcome.FAIL and vs[0].actual == "1 time(s)"
    assert [e.regs for e in vs[0].events] == [True]


def test_xfail_passes_when_an_assertion_fails_and_xpass_fails():
    assert outcome(with_expect(ExpectSite("f", "nop"), xfail="known"))[0] is Outcome.XFAIL
    assert (
        outcome(with_expect(ExpectSite("f", "call ftrace_caller"), xfail="known"))[0]
        is Outcome.XPASS
    )


def test_an_error_nobody_expected_fails_the_run():
    sc = replace(BASE, timeline=steps(Unregister("A")))
    out, vs = outcome(sc)
    assert out is Outcome.FAIL and vs[0].actual == "EBUSY"


def test_an_expected_error_holds_and_a_missing_one_fails():
    ok = replace(BASE, timeline=steps((Unregister("A"), None, "EBUSY")))
    assert outcome(ok)[0] is Outcome.PASS
    wrong = replace(BASE, timeline=steps((Register("A"), None, "EBUSY")))
    out, vs = outcome(wrong)
    assert out is Outcome.FAIL and vs[0].expected == "EBUSY" and vs[0].actual == "0"


def test_a_fault_fails_the_run_and_names_cpu_step_and_call():
    sc = scenario([fn("f", "f")], [], steps((Call("f", 1), "loop")))
    out, vs = outcome(sc)
    assert out is Outcome.FAIL
    assert "stack-overflow on cpu1" in vs[0].actual and "call loop" in vs[0].actual


def test_a_call_that_never_ran_fails_its_assertion():
    sc = replace(
        scenario([fn("f", "f"), fn("g")], [], steps((Call("f"), "boom"), (Call("g"), "later"))),
        expect=(ExpectCall("later", ran=("g",)),),
    )
    out, vs = outcome(sc)
    assert out is Outcome.FAIL and "never ran" in vs[-1].actual


# ---- record assertions -------------------------------------------------------------------

LEAK = scenario(
    [fn("f"), fn("g")],
    [ops("A", "SAVE_REGS", filter=("f",))],
    steps((Register("A"), "on"), Sysctl(False), (Unregister("A"), "off"), Sysctl(True)),
    version="6.1",
)


def record_outcome(*exp):
    return outcome(replace(LEAK, expect=tuple(exp)))


def test_a_record_assertion_reads_the_word_after_the_named_step():
    out, vs = record_outcome(
        ExpectRecord("f", 1, ("ENABLED", "REGS", "REGS_EN"), "on"),
        ExpectRecord("f", 0, ("REGS",), "off"),
        ExpectRecord("f", 0, ("REGS",)),
        ExpectRecord("g", flags=()),
    )
    assert out is Outcome.PASS, [(v.title, v.actual) for v in vs]


def test_a_failed_record_assertion_shows_count_flags_and_the_word():
    out, vs = record_outcome(ExpectRecord("f", 0, (), "off"))
    assert out is Outcome.FAIL
    assert vs[0].title == "record f after step off: count 0, flags []"
    assert vs[0].expected == "count 0, flags []"
    assert vs[0].actual == "count 0, flags [REGS] (0x40000000)"


def test_flags_are_compared_as_an_exact_set_in_any_order():
    out, _ = record_outcome(ExpectRecord("f", flags=("REGS_EN", "ENABLED", "REGS"), after="on"))
    assert out is Outcome.PASS
    out, _ = record_outcome(ExpectRecord("f", flags=("REGS",), after="on"))
    assert out is Outcome.FAIL


def test_a_record_after_a_step_a_fault_cut_short_is_not_read():
    sc = replace(
        scenario([fn("f", "f")], [], steps((Call("f"), "boom"), (Call("f"), "later"))),
        expect=(ExpectRecord("f", count=0, after="later"),),
    )
    out, vs = outcome(sc)
    assert out is Outcome.FAIL
    assert vs[-1].actual == "not read: the run stopped before that step ended"
