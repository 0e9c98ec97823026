"""load_scenario builds the frozen model, with marks pointing back into the file."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from support import FIXTURES, PASSING

from ftscen.core.errors import ScenarioInvalid
from ftscen.core.model import (
    Call,
    ExpectCall,
    ExpectCalled,
    ExpectNotCalled,
    ExpectSite,
    Kernel,
    Register,
    SetFilter,
    SetNotrace,
    Sysctl,
    Unregister,
)
from ftscen.load.scenario import load_scenario

EXAMPLES = FIXTURES

TEXT = b"""ftscen: 1
description: every action and assertion
kernel: {version: "5.3", cpus: 3}
functions:
  - name: f
    calls: [g]
  - name: g
  - name: f_v2
    notrace: true
ops:
  - name: A
    flags: [SAVE_REGS, IPMODIFY]
    filter: [f]
    redirect: {f: f_v2}
timeline:
  - register: A
    expect: 0
    during:
      - {at: sites.int3, call: f, id: window, cpu: 2}
  - {set_filter: {ops: A, filter: ["!f"], reset: false}, expect: "0"}
  - set_notrace: {ops: A, notrace: [g]}
  - sysctl: {ftrace_enabled: false}
  - {call: g, id: late, cpu: 1}
  - unregister: A
expect:
  - {call: window, ran: f_v2, called: {A: 1}}
  - {call: late, ran: [g], called: []}
  - {called: {ops: A, func: f}, count: 1}
  - not_called: {ops: A}
  - site: {func: f, is: nop}
xfail: documents nothing
"""


def test_every_action_becomes_its_dataclass() -> None:
    sc = load_scenario("dir/every.yaml", TEXT)
    assert [s.action for s in sc.timeline] == [
        Register("A"),
        SetFilter("A", ("!f",), False),
        SetNotrace("A", ("g",), True),
        Sysctl(False),
        Call("g", 1),
        Unregister("A"),
    ]
    assert [s.index for s in sc.timeline] == list(range(6))


def test_expect_0_and_quoted_0_both_mean_success() -> None:
    sc = load_scenario("every.yaml", TEXT)
    assert [s.expect for s in sc.timeline[:3]] == ["0", "0", None]


def test_a_during_call_carries_the_mark_of_its_point() -> None:
    during = load_scenario("every.yaml", TEXT).timeline[0].during[0]
    assert (during.at, during.call, during.id) == ("sites.int3", Call("f", 2), "window")
    assert (during.mark.line, during.mark.col, during.mark.path) == (
        19,
        14,
        "$.timeline[0].during[0].at",
    )


def test_steps_and_assertions_are_marked_at_their_mapping() -> None:
    sc = load_scenario("every.yaml", TEXT)
    assert (sc.timeline[1].mark.line, sc.timeline[1].mark.col) == (20, 5)
    assert (sc.expect[3].mark.line, sc.expect[3].mark.path) == (29, "$.expect[3]")


def test_every_assertion_kind_becomes_its_dataclass() -> None:
    marks_dropped = [
        dataclasses.replace(e, mark=None) for e in load_scenario("every.yaml", TEXT).expect
    ]
    assert marks_dropped == [
        ExpectCall("window", ("f_v2",), None, (("A", 1),), None),  # type: ignore[arg-type]
        ExpectCall("late", ("g",), (), None, None),  # type: ignore[arg-type]
        ExpectCalled("A", "f", 1, mark=None),  # type: ignore[arg-type]
        ExpectNotCalled("A", None, mark=None),  # type: ignore[arg-type]
        ExpectSite("f", "nop", None),  # type: ignore[arg-type]
    ]


def test_regs_on_called_and_not_called_is_kept_and_absent_means_either() -> None:
    text = TEXT.replace(
        b"  - {called: {ops: A, func: f}, count: 1}\n",
        b"  - {called: {ops: A, func: f, regs: false}, count: 1}\n"
        b"  - not_called: {ops: A, regs: true}\n",
    )
    expect = load_scenario("every.yaml", text).expect
    assert [(e.regs, type(e).__name__) for e in expect[2:5]] == [  # type: ignore[union-attr]
        (False, "ExpectCalled"),
        (True, "ExpectNotCalled"),
        (None, "ExpectNotCalled"),
    ]


def test_a_site_assertion_keeps_a_trampoline_call_site_as_written() -> None:
    text = TEXT.replace(
        b"  - site: {func: f, is: nop}\n", b"  - site: {func: ftrace_regs_call, is: call A.func}\n"
    )
    site = load_scenario("every.yaml", text).expect[-1]
    assert (site.func, site.is_) == ("ftrace_regs_call", "call A.func")  # type: ignore[union-attr]


def test_the_ops_keeps_globs_as_written_and_redirects_in_order() -> None:
    ops = load_scenario("every.yaml", TEXT).ops[0]
    assert (ops.flags, ops.filter_hash, ops.notrace_hash, ops.redirect) == (
        frozenset({"SAVE_REGS", "IPMODIFY"}),
        ("f",),
        (),
        (("f", "f_v2"),),
    )


def test_the_scenario_records_its_file_name_and_hash() -> None:
    sc = load_scenario("dir/every.yaml", TEXT)
    assert (sc.name, sc.path, sc.xfail) == ("every", "dir/every.yaml", "documents nothing")
    assert sc.source_sha256 == hashlib.sha256(TEXT).hexdigest()
    assert sc.functions[0].mark.file == "dir/every.yaml"


def test_kernel_defaults_apply_when_the_block_is_absent() -> None:
    sc = load_scenario("t.yaml", b"ftscen: 1\nfunctions: [{name: f}]\ntimeline: []\n")
    assert (sc.kernel.version, sc.kernel.dynamic_trampolines, sc.kernel.int3, sc.kernel.cpus) == (
        Kernel().version,
        False,
        None,
        2,
    )


def test_a_named_scenario_keeps_its_name() -> None:
    sc = load_scenario("t.yaml", b"ftscen: 1\nname: mine\nfunctions: [{name: f}]\ntimeline: []\n")
    assert sc.name == "mine"


def test_a_file_is_read_from_its_path(tmp_path: Path) -> None:
    path = tmp_path / "from-disk.yaml"
    path.write_bytes(b"ftscen: 1\nfunctions: [{name: f}]\ntimeline: []\n")
    assert load_scenario(path).name == "from-disk"


def test_a_missing_file_is_a_diagnostic(tmp_path: Path) -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(tmp_path / "nope.yaml")
    assert caught.value.diagnostics[0].message == "cannot read the file: No such file or directory"


def test_diagnostics_carry_the_offending_source_line() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario("t.yaml", b"ftscen: 1\nfunctions: [{name: f}]\ntimeline:\n  - call: g\n")
    assert caught.value.diagnostics[0].source_line == "  - call: g"


@pytest.mark.parametrize("name", PASSING)
def test_every_format_example_loads_without_diagnostics(name: str) -> None:
    sc = load_scenario(EXAMPLES / name)
    assert sc.name == Path(name).stem and sc.timeline
