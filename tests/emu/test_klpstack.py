"""Stopped calls in the livepatch transition (ftscen/emu/klpstack.py, ftscen/emu/livepatch.py):
what ``klp_check_and_switch_task()`` and ``klp_check_stack()`` (kernel/livepatch/
transition.c) make of a task holding a call in flight. Each expectation is derived from the
kernel source cited in the test."""

from __future__ import annotations

from pathlib import Path

from support import invoke

from ftscen.core.model import Scenario
from ftscen.core.profile import profile_for
from ftscen.emu.events import KlpEvent
from ftscen.emu.run import Runner, RunResult, run_scenario
from ftscen.load.scenario import load_scenario

HEAD = """ftscen: 1
kernel:
  version: "{version}"
  cpus: 3
  preempt: {preempt}
  dynamic_trampolines: {tramps}
functions:
  - name: f
  - name: g
  - name: f_v1
    notrace: true
  - name: f_v2
    notrace: true
ops:
  - name: T
    filter: [g]
  - name: D
    flags: [DYNAMIC]
    filter: [g]
livepatches:
  - name: p1
    funcs: {{f: f_v1}}
  - name: p2
    funcs: {{f: f_v2}}
timeline:
"""


def load(
    tmp_path: Path, timeline: str, preempt: bool = True, tramps: bool = False, version: str = "6.6"
) -> Scenario:
    path = tmp_path / "klp.yaml"
    head = HEAD.format(version=version, preempt=str(preempt).lower(), tramps=str(tramps).lower())
    path.write_text(head + timeline)
    return load_scenario(path)


def run(tmp_path: Path, timeline: str, **kw: bool) -> RunResult:
    sc = load(tmp_path, timeline, **kw)
    return run_scenario(sc, profile_for(sc.kernel))


def messages(res: RunResult) -> list[str]:
    return [e.message for e in res.events if isinstance(e, KlpEvent)]


def ran(res: RunResult, call: str) -> list[str]:
    return [e.func for e in res.events if e.kind == "ran" and e.call == call]  # type: ignore[attr-defined]


def test_a_preempted_tasks_stack_is_its_pc_then_its_return_addresses(tmp_path: Path) -> None:
    """arch_stack_walk_reliable() (ORC) reports the preempted ip, then each frame's return
    address: for a call stopped in g past its site, g+0x5 and the caller's return address."""
    sc = load(tmp_path, "  - {call: g, cpu: 1, id: c, stop: {at: g+0x5}}\n  - enable: p1\n")
    runner = Runner(sc, profile_for(sc.kernel))
    runner.run()
    assert runner.klp is not None and runner.klp.walker is not None
    walked = runner.klp.walker.task_stack(1)
    label = runner.image.symbols.label_for
    assert walked is not None and not walked.running and walked.call == "c"
    assert [label(a) for a in walked.addrs] == ["g+0x5", "caller_cpu1+0x5"]
    assert runner.klp.walker.task_stack(2) is None  # no call in flight there


def test_a_stacked_patch_checks_the_previous_patchs_new_function(tmp_path: Path) -> None:
    """klp_check_stack_func(), patching: with p1 on f's func_stack, p2's func checks
    prev->new_func (f_v1), not the original: a task stopped at f's entry switches, one
    stopped in f_v1 does not ("is sleeping on function f", the func's old_name)."""
    res = run(
        tmp_path,
        """  - enable: p1
  - {call: f, cpu: 1, id: at_f, stop: {at: f}}
  - {call: f, cpu: 2, id: in_v1, stop: {at: f_v1}}
  - enable: p2
  - resume: at_f
  - resume: in_v1
  - transition: complete
""",
    )
    msgs = messages(res)
    start = msgs.index("'p2': starting patching transition")
    assert msgs[start + 1 : start + 5] == [
        "(model) cpu0 switched to the patched state",
        "(model) cpu1 switched to the patched state",
        "klp_try_switch_task: cpu2 is sleeping on function f",
        "(model) 'p2': transition not complete: cpu2 not switched",
    ]
    # at_f reached klp_ftrace_handler() after its task switched: p2's body
    assert ran(res, "at_f") == ["f_v2"] and ran(res, "in_v1") == ["f_v1"]
    assert msgs[-1] == "'p2': patching complete"


def test_a_call_stopped_in_the_livepatch_handler_is_running(tmp_path: Path) -> None:
    """klp_ftrace_handler() runs with preemption disabled (preempt_disable_notrace(); from 5.16
    inside the recursion lock, ce5e48036c9e): a task stopped in it still owns its CPU, so
    klp_check_and_switch_task() gives -EBUSY ("is running") before looking at its stack.
    (The model counts the handler's first instruction as before the preempt_disable.)"""
    res = run(
        tmp_path,
        """  - busy: {cpu: 1, stack: [f]}
  - enable: p1
  - {call: f, cpu: 1, id: h, stop: {at: klp_ftrace_handler+0x1}}
  - transition: complete
  - resume: h
  - busy: {cpu: 1, stack: []}
  - transition: complete
""",
        tramps=True,
    )
    msgs = messages(res)
    assert msgs.count("klp_try_switch_task: cpu1 is sleeping on function f") == 1
    assert msgs.count("klp_try_switch_task: cpu1 is running") == 1
    assert ran(res, "h") == ["f"]  # unswitched, in transition: the original
    assert msgs[-1] == "'p1': patching complete"


def test_a_call_stopped_in_another_ops_callback_under_the_list_function_is_running(
    tmp_path: Path,
) -> None:
    """__ftrace_ops_list_func() calls each callback between preempt_disable_notrace() and
    preempt_enable_notrace(): a task stopped in a callback it called cannot be preempted.
    A lone static ops' callback is called straight from ftrace_caller, which does not
    disable preemption: that task is preempted, its stack holds no f, it switches."""
    timeline = """  - register: {ops}
  - {{call: g, cpu: 1, id: cb, stop: {{at: {ops}.func}}}}
  - enable: p1
"""
    res = run(tmp_path, timeline.format(ops="D"))  # a DYNAMIC ops: the list function
    assert "klp_try_switch_task: cpu1 is running" in messages(res)
    res = run(tmp_path, timeline.format(ops="T"))
    assert "(model) cpu1 switched to the patched state" in messages(res)


def test_without_preemption_any_stopped_call_is_running(tmp_path: Path) -> None:
    """Not preemptible: the stopped task is task_curr() on its CPU whatever it runs."""
    res = run(
        tmp_path, "  - {call: g, cpu: 1, id: c, stop: {at: g+0x5}}\n  - enable: p1\n", preempt=False
    )
    assert "klp_try_switch_task: cpu1 is running" in messages(res)
    res = run(tmp_path, "  - {call: g, cpu: 1, id: c, stop: {at: g+0x5}}\n  - enable: p1\n")
    assert "(model) cpu1 switched to the patched state" in messages(res)


def test_a_busy_marker_and_a_stopped_call_both_count(tmp_path: Path) -> None:
    """A `busy:` marker keeps its meaning beside a stopped call on the same CPU: either one
    holding the to-be-patched function keeps the task from switching."""
    res = run(
        tmp_path,
        """  - busy: {cpu: 1, stack: [f]}
  - {call: g, cpu: 1, id: c, stop: {at: g+0x5}}
  - enable: p1
  - busy: {cpu: 1, stack: []}
  - transition: complete
""",
    )
    msgs = messages(res)
    assert msgs.count("klp_try_switch_task: cpu1 is sleeping on function f") == 1
    assert msgs[-1] == "'p1': patching complete"


def test_a_stop_past_the_livepatch_handler_is_a_located_error(tmp_path: Path) -> None:
    """Bad input: a stop address past klp_ftrace_handler's end is located at the call's
    stop (line 27, column 36: its ``{at: ...}``) with a hint; exit 2, no traceback."""
    path = tmp_path / "klp.yaml"
    path.write_text(
        HEAD.format(version="6.6", preempt="true", tramps="false")
        + "  - enable: p1\n  - {call: f, cpu: 1, id: h, stop: {at: klp_ftrace_handler+0x4000}}\n"
    )
    result = invoke(["run", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}:27:36: error: stop address 'klp_ftrace_handler+0x4000' is outside" in (
        result.stderr
    )
    assert "hint: use an offset below" in result.stderr


def test_at_the_handlers_first_instruction_the_task_is_preempted(tmp_path: Path) -> None:
    """Before klp_ftrace_handler()'s preempt_disable_notrace() (the model: its first
    instruction), a task called from a klp_ops trampoline (which does not disable preemption)
    can be preempted: its stack is walked, and f (the caller) lies on it."""
    res = run(
        tmp_path,
        """  - busy: {cpu: 1, stack: [f]}
  - enable: p1
  - {call: f, cpu: 1, id: h, stop: {at: klp_ftrace_handler}}
  - busy: {cpu: 1, stack: []}
  - transition: complete
""",
        tramps=True,
    )
    msgs = messages(res)
    assert "klp_try_switch_task: cpu1 is running" not in msgs
    assert msgs[-2:] == [
        "klp_try_switch_task: cpu1 is sleeping on function f",
        "(model) 'p1': transition not complete: cpu1 not switched",
    ]


def test_the_livepatch_handler_holds_up_the_cpus_wait_as_it_blocks_the_task_check(
    tmp_path: Path,
) -> None:
    """One rule for preempt-disabled code (ftscen.emu.inflight.NO_PREEMPT): a call stopped
    inside klp_ftrace_handler() (called directly by its trampoline, from 5.11) cannot be
    preempted, so its CPU cannot schedule and klp_synchronize_transition() waits for it."""
    timeline = """  - busy: {cpu: 1, stack: [f]}
  - enable: p1
  - {call: f, cpu: 2, id: h, stop: {at: klp_ftrace_handler+0x1}}
  - busy: {cpu: 1, stack: []}
  - transition: complete
"""
    res = run(tmp_path, timeline, tramps=True)
    assert res.fault is not None and res.fault.kind == "deadlock"
    assert "klp_synchronize_transition()" in res.fault.detail
    entry = run(
        tmp_path, timeline.replace("klp_ftrace_handler+0x1", "klp_ftrace_handler"), tramps=True
    )
    assert entry.fault is None and messages(entry)[-1] == "'p1': patching complete"
