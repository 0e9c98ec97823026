"""Site assertions on trampoline call sites and ``regs`` on whole-run checks, end to end:
YAML file -> ``ftscen.app.pipeline.check_file`` -> verdicts, the text a user reads, and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO, write_file

from ftscen.app.pipeline import check_file
from ftscen.core.errors import ScenarioInvalid
from ftscen.report.text import render_text, report_dict
from ftscen.verdicts.evaluate import Outcome

# An IPMODIFY ops without SAVE_REGS registers and is reached through ftrace_caller, whose
# handlers get regs == NULL (R8, r9-ipmodify-without-save-regs-registers.yaml); a tracer
# with SAVE_REGS then moves f to ftrace_regs_caller, and both handlers get regs.
IPMODIFY_WITHOUT_REGS = """\
ftscen: 1
functions:
  - name: f
ops:
  - name: fixer
    flags: [IPMODIFY]
    filter: [f]
  - name: tracer
    flags: [SAVE_REGS]
    filter: [f]
timeline:
  - register: fixer
  - {call: f, id: alone}
  - register: tracer
  - {call: f, id: both}
expect:
  - called: {ops: fixer, func: f, regs: false}
    count: 1
  - called: {ops: fixer, func: f, regs: true}
  - not_called: {ops: tracer, regs: false}
  - site: {func: ftrace_call, is: call ftrace_ops_list_func}
  - site: {func: ftrace_regs_call, is: call ftrace_ops_list_func}
"""

# With per-ops trampolines: A (DYNAMIC) gets one while registered and loses it on
# unregister; B is never registered, so it never has one.
PER_OPS = """\
ftscen: 1
kernel: {dynamic_trampolines: true}
functions:
  - name: f
ops:
  - name: A
    flags: [DYNAMIC]
    filter: [f]
  - name: B
timeline:
  - register: A
  - {call: f, id: traced}
  - unregister: A
expect:
  - {call: traced, called: [A]}
  - site: {func: ftrace_call, is: call ftrace_stub}
  - site: {func: A.tramp_call, is: call A.func}
  - site: {func: B.tramp_call, is: call B.func}
"""


def test_regs_counts_and_trampoline_sites_hold_and_read_naturally(tmp_path: Path) -> None:
    (report,) = check_file(write_file(tmp_path, "regs.yaml", IPMODIFY_WITHOUT_REGS))
    assert report.outcome is Outcome.PASS, render_text(report)
    assert [v.title for v in report.verdicts] == [
        "called fixer on f without regs 1 time(s)",
        "called fixer on f with regs at least once",
        "not_called tracer without regs",
        "site ftrace_call is call ftrace_ops_list_func",
        "site ftrace_regs_call is call ftrace_ops_list_func",
    ]
    assert "  ok    called fixer on f without regs 1 time(s)" in render_text(report)


def test_a_wrong_regs_expectation_fails_with_both_counts(tmp_path: Path) -> None:
    text = IPMODIFY_WITHOUT_REGS.replace("regs: false}\n    count: 1", "regs: false}\n    count: 2")
    (report,) = check_file(write_file(tmp_path, "regs.yaml", text))
    assert report.outcome is Outcome.FAIL
    shown = render_text(report, show_log=False)
    assert "FAIL  " in shown and "called fixer on f without regs 2 time(s)" in shown
    assert "log shows: 1 time(s) (and 1 time(s) with regs)" in shown
    assert "| callback fixer ip=f parent_ip=caller_cpu1+0x5 regs=NULL" in shown


def test_a_freed_or_never_created_per_ops_trampoline_reads_not_allocated(tmp_path: Path) -> None:
    (report,) = check_file(write_file(tmp_path, "per-ops.yaml", PER_OPS))
    assert report.outcome is Outcome.FAIL
    failed = [(v.title, v.actual) for v in report.verdicts if not v.ok]
    assert failed == [
        ("site A.tramp_call is call A.func", "not allocated"),
        ("site B.tramp_call is call B.func", "not allocated"),
    ]
    assert "log shows: not allocated" in render_text(report, show_log=False)


def test_a_per_ops_call_site_holds_its_callback_while_registered(tmp_path: Path) -> None:
    text = PER_OPS.replace("  - unregister: A\n", "").replace(
        "ftrace_call, is: call ftrace_stub", "ftrace_call, is: call ftrace_ops_list_func"
    )
    (report,) = check_file(write_file(tmp_path, "per-ops.yaml", text))
    assert [(v.title, v.ok) for v in report.verdicts][1:3] == [
        ("site ftrace_call is call ftrace_ops_list_func", True),
        ("site A.tramp_call is call A.func", True),
    ]


def test_the_json_report_carries_the_trampoline_call_sites(tmp_path: Path) -> None:
    (report,) = check_file(write_file(tmp_path, "per-ops.yaml", PER_OPS))
    assert report_dict(report)["trampoline_sites"] == {
        "A.tramp_call": "not allocated",
        "B.tramp_call": "not allocated",
        "ftrace_call": "call ftrace_stub",
        "ftrace_regs_call": "call ftrace_stub",
    }


@pytest.mark.parametrize(
    "site, message",
    [
        (
            "{func: ftrace_call, is: nop}",
            "'ftrace_call' is never a nop: a trampoline's call site always calls something",
        ),
        (
            "{func: ftrace_regs_call, is: call ftrace_regs_caller}",
            "'ftrace_regs_call' never calls 'ftrace_regs_caller'",
        ),
        (
            "{func: A.tramp_call, is: call A.func}",
            "'A.tramp_call' exists only with per-ops trampolines",
        ),
    ],
)
def test_a_bad_trampoline_site_assertion_stops_check_file(
    tmp_path: Path, site: str, message: str
) -> None:
    text = PER_OPS.replace("kernel: {dynamic_trampolines: true}\n", "").split("expect:")[0]
    path = write_file(tmp_path, "bad.yaml", text + f"expect:\n  - site: {site}\n")
    with pytest.raises(ScenarioInvalid) as caught:
        check_file(path)
    assert [d.message for d in caught.value.diagnostics] == [message]


FAULT_THEN_MISPLACED = """\
ftscen: 1
xfail: the handler recurses until the stack overflows
kernel: {version: "6.6"}
functions:
  - name: f
  - name: g
ops:
  - {name: A, filter: [f], calls: [f]}
  - {name: B, filter: [g]}
timeline:
  - register: A
  - {call: f, id: recursing}
  - register: B
    during:
      - {at: ftrace_call.done#2, call: g, id: never}
expect:
  - {call: recursing, ran: f}
"""


def test_a_misplaced_during_after_an_expected_fault_is_still_an_error(tmp_path: Path) -> None:
    path = write_file(tmp_path, "fault.yaml", FAULT_THEN_MISPLACED)
    with pytest.raises(ScenarioInvalid) as caught:
        check_file(path)
    [diag] = caught.value.diagnostics
    assert diag.message == "this step never passes point 'ftrace_call.done#2'"
    assert (
        diag.line == 15
        and diag.source_line is not None
        and "ftrace_call.done#2" in diag.source_line
    )


# ---- kernel bug 1: the WARN and the records, as a user reads them --------------------------


def test_the_log_and_json_show_the_warn_with_decoded_flags_and_every_record() -> None:
    [rep] = check_file(REPO / "scenarios" / "kbug-regs-leak-unregister-6.1.yaml")
    assert rep.outcome is Outcome.PASS
    text = render_text(rep)
    assert "  WARNING in ftrace_shutdown: f flags:0x40000000 (REGS); ftrace_kill()\n" in text
    assert "[7] register B\n  result -ENODEV\n" in text
    doc = report_dict(rep)
    [warn] = [e for e in doc["events"] if e["kind"] == "warn"]
    assert warn == {
        "kind": "warn",
        "step": 6,
        "cpu": 0,
        "call": None,
        "where": "ftrace_shutdown",
        "func": "f",
        "flags": "0x40000000",
        "names": ("REGS",),
        "count": 0,
    }
    assert doc["records"] == {
        "f": {"count": 0, "flags": ["REGS"], "word": "0x40000000"},
        "g": {"count": 0, "flags": [], "word": "0x0"},
    }


def test_a_failed_record_assertion_reads_in_the_text(tmp_path: Path) -> None:
    text = """\
ftscen: 1
kernel: {version: "6.1"}
functions:
  - name: f
ops:
  - {name: A, flags: [SAVE_REGS], filter: [f]}
timeline:
  - register: A
  - sysctl: {ftrace_enabled: false}
  - unregister: A
    id: gone
expect:
  - record: {func: f, count: 0, flags: [], after: gone}
"""
    [rep] = check_file(write_file(tmp_path, "r.yaml", text))
    assert rep.outcome is Outcome.FAIL
    out = render_text(rep)
    assert "record f after step gone: count 0, flags []" in out
    assert "count 0, flags [REGS] (0x40000000)" in out
