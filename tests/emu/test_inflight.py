"""Calls in flight: a call stopped inside ftrace code, resumed later, and the kernel's waits
(docs/model.md, "Calls in flight"). Expected values come from the kernel's code paths: which
instruction a stop lands on, which wait a stopped CPU holds up, what a resumed CPU runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftscen.app import pipeline
from ftscen.core.errors import ScenarioInvalid
from ftscen.core.profile import profile_for
from ftscen.emu.events import CallbackEvent, ResumeEvent, StopEvent, WaitEvent
from ftscen.emu.run import RunResult, run_scenario
from ftscen.load.scenario import load_scenario
from ftscen.report.text import log_lines

HEAD = """ftscen: 1
kernel: {{version: "{version}", cpus: 3{extra}}}
functions:
  - name: f
  - name: g
ops:
  - name: S
    filter: [f]
  - name: D
    flags: [DYNAMIC]
    filter: [f]
timeline:
"""


def run(timeline: str, version: str = "6.6", extra: str = "") -> RunResult:
    text = HEAD.format(version=version, extra=extra) + timeline
    sc = load_scenario("inflight.yaml", text.encode())
    return run_scenario(sc, profile_for(sc.kernel))


def invalid(tmp_path: Path, timeline: str, version: str = "6.6") -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD.format(version=version, extra="") + timeline)
    with pytest.raises(ScenarioInvalid) as caught:
        pipeline.check_file(path)
    return "\n".join(d.header() for d in caught.value.diagnostics)


def test_a_call_stops_at_a_symbol_and_the_log_names_it():
    r = run("  - register: S\n  - {call: f, id: x, cpu: 2, stop: {at: S.func}}\n")
    stops = [e for e in r.events if isinstance(e, StopEvent)]
    assert [(e.call, e.cpu, e.pc) for e in stops] == [("x", 2, "S.func")]
    # the handler had not started: nothing of it is logged, and f's body has not run
    assert not [e for e in r.events if isinstance(e, CallbackEvent)]
    assert r.unresumed == ("x",)
    assert log_lines(r)[-1] == "left stopped: x on cpu2 at S.func (never resumed)"


def test_a_stop_after_one_instruction_is_past_the_five_byte_site():
    # f's first instruction is its call site (5 bytes): one instruction later the CPU is at
    # f+0x5, whatever the site holds
    r = run("  - {call: f, id: x, cpu: 2, stop: {insns: 1}}\n")
    (stop,) = [e for e in r.events if isinstance(e, StopEvent)]
    assert stop.pc == "f+0x5"


def test_a_stopped_cpu_keeps_its_registers_across_calls_on_other_cpus():
    r = run(
        "  - register: S\n"
        "  - {call: f, id: x, cpu: 2, stop: {at: S.func}}\n"
        "  - {call: f, cpu: 1}\n"
        "  - {call: g, cpu: 1}\n"
        "  - resume: x\n"
    )
    resumed = [e for e in r.events if isinstance(e, CallbackEvent) and e.call == "x"]
    # the handler's arguments were loaded before the stop: ip, parent ip and op survive
    assert [(e.ip, e.parent_ip, e.op) for e in resumed] == [("f", "caller_cpu2+0x5", "S.ops")]
    assert r.fault is None and r.unresumed == ()


def test_a_dynamic_callback_in_flight_holds_up_the_rude_wait_until_resumed_there():
    r = run(
        "  - register: D\n"
        "  - {call: f, id: x, cpu: 2, stop: {at: D.func}}\n"
        "  - unregister: D\n"
        "    during:\n"
        "      - {at: wait.cpus, resume: x}\n"
    )
    (wait,) = [e for e in r.events if isinstance(e, WaitEvent)]
    assert (wait.wait, wait.call, wait.pc) == ("synchronize_rcu_tasks_rude()", "x", "D.func")
    (resume,) = [e for e in r.events if isinstance(e, ResumeEvent)]
    assert resume.at == "wait.cpus"
    assert r.steps[-1].errno == "0" and r.fault is None


def test_a_wait_nothing_resumes_is_a_deadlock_verdict_not_a_hang():
    r = run(
        "  - register: D\n  - {call: f, id: x, cpu: 2, stop: {at: D.func}}\n  - unregister: D\n"
    )
    assert r.fault is not None and r.fault.kind == "deadlock"
    assert r.fault.call == "x" and r.fault.pc == "D.func" and r.fault.step == 2
    assert "synchronize_rcu_tasks_rude()" in r.fault.detail


def test_before_5_8_the_rude_wait_is_schedule_on_each_cpu():
    r = run(
        "  - register: D\n  - {call: f, id: x, cpu: 2, stop: {at: D.func}}\n  - unregister: D\n",
        version="5.4",
    )
    assert r.fault is not None and "schedule_on_each_cpu(ftrace_sync)" in r.fault.detail


def test_a_later_resume_lets_the_wait_run_the_call_to_its_end():
    r = run(
        "  - register: D\n"
        "  - {call: f, id: x, cpu: 2, stop: {at: D.func}}\n"
        "  - unregister: D\n"
        "  - resume: x\n"
    )
    resumes = [e for e in r.events if isinstance(e, ResumeEvent)]
    assert [(e.step, e.at, e.finished_in) for e in resumes] == [
        (2, "wait.cpus", None),
        (3, None, 2),
    ]
    assert r.fault is None


def test_a_static_ops_is_not_waited_for():
    r = run(
        "  - register: S\n  - {call: f, id: x, cpu: 2, stop: {at: S.func}}\n  - unregister: S\n"
    )
    assert not [e for e in r.events if isinstance(e, WaitEvent)]
    assert r.fault is None and r.unresumed == ("x",)


def test_on_a_preemptible_kernel_a_task_preempted_in_a_trampoline_holds_up_only_rcu_tasks():
    r = run(
        "  - register: D\n"
        "  - {call: f, id: x, cpu: 2, stop: {at: D.tramp_call}}\n"
        "  - unregister: D\n"
        "  - resume: x\n",
        extra=", dynamic_trampolines: true, preempt: true",
    )
    waits = [e.wait for e in r.events if isinstance(e, WaitEvent)]
    assert waits == ["synchronize_rcu_tasks()"]
    assert r.fault is None


def test_before_4_12_a_preemptible_kernel_gives_dynamic_ops_no_trampoline():
    r = run("  - register: D\n", version="4.11", extra=", dynamic_trampolines: true, preempt: true")
    assert r.sites["f"] == "call ftrace_caller"
    assert r.trampoline_sites["D.tramp_call"] == "not allocated"


def test_resuming_in_a_trampoline_freed_without_a_wait_names_it():
    r = run(
        "  - register: D\n"
        "  - {call: f, id: x, cpu: 2, stop: {at: D.tramp_call}}\n"
        "  - sysctl: {ftrace_enabled: false}\n"
        "  - unregister: D\n"
        "  - resume: x\n",
        version="6.0",
        extra=", dynamic_trampolines: true, preempt: true",
    )
    assert r.fault is not None and r.fault.kind == "freed-trampoline"
    assert "freed trampoline of ops D" in r.fault.detail and r.fault.step == 4


# ---- bad input: a located diagnostic ---------------------------------------------------------


def test_a_stop_address_outside_the_image_is_located(tmp_path: Path):
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: nowhere}}\n")
    assert "bad.yaml:13:" in said and "outside the image" in said and "nowhere" in said


def test_a_stop_offset_past_its_symbol_is_located(tmp_path: Path):
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: f+0x1000}}\n")
    assert "outside the image" in said and "f is" in said


def test_resuming_an_unknown_call_is_located(tmp_path: Path):
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: f}}\n  - resume: y\n")
    assert "bad.yaml:14:" in said and "no call has the id 'y'" in said


def test_a_call_resumed_twice_is_located(tmp_path: Path):
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: f}}\n  - resume: x\n  - resume: x\n")
    assert "bad.yaml:15:" in said and "resumed twice" in said


def test_resuming_a_call_that_ran_to_its_end_is_located(tmp_path: Path):
    # S is not registered: f's site is a NOP and S.func is never reached
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: S.func}}\n  - resume: x\n")
    assert "bad.yaml:14:" in said and "ran to its end without reaching its stop" in said


def test_a_stop_needs_an_id(tmp_path: Path):
    said = invalid(tmp_path, "  - {call: f, stop: {at: f}}\n")
    assert "needs an id" in said


def test_a_cpu_holding_a_stopped_call_runs_no_other(tmp_path: Path):
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: f}}\n  - {call: g}\n  - resume: x\n")
    assert "bad.yaml:14:" in said and "cpu1 still holds call 'x'" in said


def test_the_call_path_lists_the_stop_points_an_instruction_count_reaches():
    from ftscen.emu.run import call_path

    text = HEAD.format(version="6.6", extra="") + "  - register: S\n  - {call: f, id: x, cpu: 2}\n"
    sc = load_scenario("inflight.yaml", text.encode())
    path = call_path(sc, profile_for(sc.kernel), "x")
    # f's site calls ftrace_caller, which reaches ftrace_call and S's handler
    assert path[0] == "f" and path[1] == "ftrace_caller"
    assert "ftrace_call" in path and "S.func" in path
    for n in (1, 3, 10, len(path) - 1):
        stopped = run(f"  - register: S\n  - {{call: f, id: x, cpu: 2, stop: {{insns: {n}}}}}\n")
        (stop,) = [e for e in stopped.events if isinstance(e, StopEvent)]
        assert stop.pc == path[n]


def test_a_stop_inside_an_event_record_is_refused_at_an_address_or_a_count(tmp_path: Path):
    # f: the 5-byte site, then its "ran" record: mov eax, [event_ring_ptr] at f+0x5, two
    # stores at f+0xa and f+0x10, the increment at f+0x17, ret at f+0x1e. A call held between
    # the load and the increment would keep a ring slot the log has moved on from.
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: f+0xa}}\n  - resume: x\n")
    assert "bad.yaml:13:" in said and "inside the event record" in said
    assert "(f+0x5 .. f+0x1e)" in said
    # f's site is a NOP (nothing registered): after 2 instructions (the NOP, the load) the
    # call is at the first store, f+0xa
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {insns: 2}}\n  - resume: x\n")
    assert "a stop at instruction 2 (f+0xa) is inside the event record" in said
    for fine in ("f+0x5", "f+0x1e"):
        ok = run(f"  - {{call: f, id: x, stop: {{at: {fine}}}}}\n  - resume: x\n")
        assert [e.pc for e in ok.events if isinstance(e, StopEvent)] == [fine]
        assert not ok.problems


def test_stop_belongs_to_calls_and_a_resume_step_takes_no_cpu(tmp_path: Path):
    said = invalid(tmp_path, "  - {register: S, stop: {at: f}}\n")
    assert "'stop' does not apply to a register step" in said
    said = invalid(tmp_path, "  - {call: f, id: x, stop: {at: f}}\n  - {resume: x, cpu: 2}\n")
    assert "'cpu' does not apply to a resume step" in said


def test_a_resume_before_the_call_is_made_is_located(tmp_path: Path):
    said = invalid(tmp_path, "  - resume: x\n  - {call: f, id: x, stop: {at: f}}\n")
    assert "bad.yaml:13:" in said and "made in a later step" in said


def test_a_scenario_with_calls_in_flight_is_not_exported(tmp_path: Path):
    from ftscen.core.errors import UsageError
    from ftscen.kernel.export import export_module

    text = (
        HEAD.format(version="6.6", extra="")
        + "  - {call: f, id: x, stop: {at: f}}\n  - resume: x\n"
    )
    sc = load_scenario("inflight.yaml", text.encode())
    with pytest.raises(UsageError, match="calls in flight"):
        export_module(sc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_crosscheck_skips_a_scenario_with_calls_in_flight():
    from ftscen.kernel.sides import plan

    text = (
        HEAD.format(version="6.6", extra="")
        + "  - {call: f, id: x, stop: {at: f}}\n  - resume: x\n"
    )
    made, result = plan(load_scenario("inflight.yaml", text.encode()))
    assert result is None and made.skip is not None and "in flight" in made.skip


def test_a_deadlock_says_whether_the_kernel_hangs_or_only_the_scenario_never_resumes():
    """A CPU that cannot schedule never lets schedule_on_each_cpu() end: a real hang. A task
    preempted in a trampoline would be scheduled again, so synchronize_rcu_tasks() would end
    in the kernel; only the scenario, which never resumes it, keeps it waiting."""
    hang = run(
        "  - register: D\n  - {call: f, id: x, cpu: 2, stop: {at: D.func}}\n  - unregister: D\n"
    )
    assert hang.fault is not None
    assert hang.fault.detail.endswith(
        "its CPU cannot schedule (a non-preemptible kernel, or "
        "preemption disabled there): the kernel hangs here"
    )
    preempted = run(
        "  - register: D\n  - {call: f, id: x, cpu: 2, stop: {at: D.tramp_call}}\n"
        "  - unregister: D\n",
        extra=", dynamic_trampolines: true, preempt: true",
    )
    assert preempted.fault is not None and preempted.fault.kind == "deadlock"
    assert "synchronize_rcu_tasks()" in preempted.fault.detail
    assert "hangs" not in preempted.fault.detail
    assert preempted.fault.detail.endswith("but the scenario never lets it run")


def test_an_instruction_count_never_reached_says_the_call_returned_first(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        HEAD.format(version="6.6", extra="")
        + "  - {call: f, id: x, stop: {insns: 100000}}\n  - resume: x\n"
    )
    with pytest.raises(ScenarioInvalid) as caught:
        pipeline.check_file(path)
    (diag,) = caught.value.diagnostics
    assert diag.hint is not None and "stop address" not in diag.hint
    assert diag.hint.startswith("the call returned before executing 100000 instructions")


def test_a_stop_inside_an_instruction_names_the_nearest_boundaries(tmp_path: Path):
    """f starts with its 5-byte call site (a nop before registration): f+0x1 is inside it."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        HEAD.format(version="6.6", extra="")
        + "  - {call: f, id: x, stop: {at: f+0x1}}\n  - resume: x\n"
    )
    with pytest.raises(ScenarioInvalid) as caught:
        pipeline.check_file(path)
    (diag,) = caught.value.diagnostics
    assert diag.hint is not None
    assert diag.hint.startswith("f+0x1 is not an instruction boundary")
    assert "the nearest are f+0x0 and f+0x5" in diag.hint


def test_before_3_13_the_rude_wait_is_synchronize_sched():
    """__unregister_ftrace_function() before a4c35ed24112 (3.13): synchronize_sched() for a
    DYNAMIC ops."""
    r = run(
        "  - register: D\n  - {call: f, id: x, cpu: 2, stop: {at: D.func}}\n  - unregister: D\n",
        version="3.5",
    )
    assert r.fault is not None and "synchronize_sched()" in r.fault.detail
