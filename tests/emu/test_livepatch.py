"""The modelled livepatch core (ftscen/emu/livepatch.py): what kernel/livepatch/ does that the
corpus (scenarios/klp-*.yaml) does not show, each expectation derived from the kernel source
cited in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftscen.app import pipeline
from ftscen.core.errors import ScenarioInvalid
from ftscen.core.model import Scenario
from ftscen.core.profile import profile_for
from ftscen.emu.events import KlpEvent
from ftscen.emu.run import Runner, RunResult, run_scenario
from ftscen.image import layout as L
from ftscen.load.scenario import load_scenario
from ftscen.verdicts.evaluate import Outcome

HEAD = """ftscen: 1
kernel:
  version: "{version}"
  cpus: 3
functions:
  - name: f
  - name: g
  - name: f_v1
    notrace: true
  - name: f_v2
    notrace: true
  - name: g_v2
    notrace: true
livepatches:
  - name: p1
    funcs: {{f: f_v1}}
  - name: p2
    funcs: {{f: f_v2, g: g_v2}}
timeline:
"""


def load(tmp_path: Path, timeline: str, version: str = "6.6") -> Scenario:
    path = tmp_path / "klp.yaml"
    path.write_text(HEAD.format(version=version) + timeline)
    return load_scenario(path)


def run(tmp_path: Path, timeline: str, version: str = "6.6") -> RunResult:
    sc = load(tmp_path, timeline, version)
    return run_scenario(sc, profile_for(sc.kernel))


def results(res: RunResult) -> list[str | None]:
    return [s.errno for s in res.steps]


def messages(res: RunResult) -> list[str]:
    return [e.message for e in res.events if isinstance(e, KlpEvent)]


def ran(res: RunResult, call: str) -> list[str]:
    return [e.func for e in res.events if e.kind == "ran" and e.call == call]  # type: ignore[attr-defined]


def test_enabling_during_a_transition_is_ebusy_and_the_patch_can_load_later(
    tmp_path: Path,
) -> None:
    """__klp_enable_patch(): -EBUSY while klp_transition_patch is set; klp_enable_patch()
    then frees the patch (klp_free_patch_start), so a later load starts afresh."""
    res = run(
        tmp_path,
        """  - busy: {cpu: 1, stack: [f]}
  - enable: p1
  - enable: p2
    expect: EBUSY
  - busy: {cpu: 1, stack: []}
  - transition: complete
  - enable: p2
  - {call: f, id: top}
  - {call: g, id: g}
""",
    )
    assert results(res) == [None, "0", "EBUSY", None, "0", "0", None, None]
    assert ran(res, "top") == ["f_v2"] and ran(res, "g") == ["g_v2"]
    assert "'p2': initializing patching transition" in messages(res)[-7:]


def test_disabling_another_patch_during_a_transition_is_ebusy(tmp_path: Path) -> None:
    """__klp_disable_patch(): -EBUSY while another patch is in transition."""
    res = run(
        tmp_path,
        """  - enable: p1
  - busy: {cpu: 2, stack: [f_v1]}
  - enable: p2
  - disable: p1
    expect: EBUSY
  - {call: f, cpu: 2, id: unswitched}
  - {call: f, cpu: 1, id: switched}
""",
    )
    assert results(res)[3] == "EBUSY"
    # klp_check_stack_func(): p2's f is to-be-patched over p1's f, whose new_func f_v1 the
    # task of CPU 2 sleeps in; unswitched it runs the next-older func, p1's
    assert "klp_try_switch_task: cpu2 is sleeping on function f" in messages(res)
    assert ran(res, "unswitched") == ["f_v1"] and ran(res, "switched") == ["f_v2"]


def test_force_switches_every_task_and_completes(tmp_path: Path) -> None:
    """force_store() -> klp_force_transition(): klp_update_patch_state() on every task, then
    the transition work completes the transition."""
    res = run(
        tmp_path,
        """  - busy: {cpu: 1, stack: [f]}
  - enable: p1
  - transition: force
  - {call: f, cpu: 1, id: forced}
""",
    )
    assert results(res) == [None, "0", "0", None]
    msgs = messages(res)
    i = msgs.index("forcing remaining tasks to the patched state")
    assert msgs[i + 1 :] == [
        "(model) cpu1 switched to the patched state",
        "'p1': completing patching transition",
        "'p1': patching complete",
    ]
    assert ran(res, "forced") == ["f_v1"]


def test_force_without_a_transition_is_einval(tmp_path: Path) -> None:
    res = run(tmp_path, "  - transition: force\n    expect: EINVAL\n  - transition: complete\n")
    assert results(res) == ["EINVAL", "0"]


@pytest.mark.parametrize(("version", "errno"), [("4.19", "EBUSY"), ("5.1", "0"), ("6.6", "0")])
def test_before_5_1_only_the_last_enabled_patch_can_be_disabled(
    tmp_path: Path, version: str, errno: str
) -> None:
    """Before 5.1 __klp_disable_patch() enforced stacking (-EBUSY when the next patch in
    klp_patches is enabled); "livepatch: Remove ordering (stacking) of the livepatches"
    (5.1) dropped the rule."""
    timeline = "  - enable: p1\n  - enable: p2\n  - disable: p1\n"
    if errno != "0":
        timeline += f"    expect: {errno}\n"
    res = run(tmp_path, timeline, version)
    assert results(res)[2] == errno


def test_enabling_a_patch_being_disabled_reverses_the_transition(tmp_path: Path) -> None:
    """enabled_store(1) on klp_transition_patch: klp_reverse_transition(); the task that had
    switched to unpatched goes back when the work runs."""
    res = run(
        tmp_path,
        """  - enable: p1
  - busy: {cpu: 1, stack: [f_v1]}
  - disable: p1
  - {call: f, cpu: 2, id: unpatched}
  - {call: f, cpu: 1, id: still_patched}
  - enable: p1
  - transition: complete
  - {call: f, cpu: 2, id: repatched}
""",
    )
    assert results(res) == ["0", None, "0", None, None, "0", "0", None]
    assert ran(res, "unpatched") == ["f"] and ran(res, "still_patched") == ["f_v1"]
    assert ran(res, "repatched") == ["f_v1"]
    msgs = messages(res)
    assert "'p1': reversing transition from unpatching to patching" in msgs
    assert msgs[-2:] == ["'p1': completing patching transition", "'p1': patching complete"]


def test_the_func_stack_and_task_states_are_in_memory(tmp_path: Path) -> None:
    """What klp_ftrace_handler() reads: ops->func_stack (newest first), each func's
    transition flag, and task->patch_state (KLP_UNDEFINED once a transition completes)."""
    sc = load(tmp_path, "  - enable: p1\n  - enable: p2\n")
    runner = Runner(sc, profile_for(sc.kernel))
    runner.run()
    m, klp = runner.m, runner.klp
    assert klp is not None
    ops = runner.patcher.ops["klp_ops_f"]
    top = m.read_u32(ops.struct + L.OPS_KLP_STACK)
    assert top == L.klp_func_struct(klp.slots[("p2", "f")])
    older = m.read_u32(top + L.KLP_NEXT)
    assert older == L.klp_func_struct(klp.slots[("p1", "f")])
    assert m.read_u32(older + L.KLP_NEXT) == 0
    assert m.read_u32(top + L.KLP_NEW_FUNC) == runner.image.functions["f_v2"]
    assert m.read_u32(top + L.KLP_TRANSITION) == 0
    for cpu in range(3):
        assert m.read_u32(L.task_struct(cpu) + L.TASK_PATCH_STATE) == 0xFFFFFFFF


@pytest.mark.parametrize(("version", "permanent"), [("5.4", False), ("5.5", True)])
def test_the_klp_ops_is_permanent_from_5_5(tmp_path: Path, version: str, permanent: bool) -> None:
    """klp_patch_func(): FTRACE_OPS_FL_PERMANENT joins SAVE_REGS | DYNAMIC | IPMODIFY in 5.5."""
    sc = load(tmp_path, "  - enable: p1\n", version)
    runner = Runner(sc, profile_for(sc.kernel))
    runner.run()
    flags = runner.patcher.ops["klp_ops_f"].flags
    assert {"SAVE_REGS", "DYNAMIC", "IPMODIFY", "ENABLED"} <= flags
    assert ("PERMANENT" in flags) is permanent


def test_an_enable_with_an_expect_may_be_enabled_again(tmp_path: Path) -> None:
    load(tmp_path, "  - enable: p1\n    expect: EBUSY\n  - enable: p1\n")  # no error
    with pytest.raises(ScenarioInvalid) as caught:
        load(tmp_path, "  - enable: p1\n  - enable: p1\n")
    (diag,) = caught.value.diagnostics
    assert diag.message == "live patch 'p1' is already enabled here"
    assert (diag.line, diag.path) == (HEAD.count("\n") + 2, "$.timeline[1].enable")


def test_a_replaced_patch_is_no_longer_enabled_for_validation(tmp_path: Path) -> None:
    text = HEAD.replace(
        "    funcs: {{f: f_v2, g: g_v2}}", "    funcs: {{f: f_v2, g: g_v2}}\n    replace: true"
    )
    path = tmp_path / "r.yaml"
    path.write_text(
        text.format(version="6.6") + "  - enable: p1\n  - enable: p2\n  - disable: p1\n"
    )
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    assert [d.message for d in caught.value.diagnostics] == ["live patch 'p1' is not enabled here"]


@pytest.mark.parametrize(
    ("version", "callee"),
    [("5.10", "ftrace_ops_assist_func"), ("5.11", "klp_ftrace_handler")],
)
def test_a_klp_ops_trampoline_calls_the_handler_directly_from_5_11(
    tmp_path: Path, version: str, callee: str
) -> None:
    """The klp_ops' fops has no RECURSION_SAFE, so before 5.11 ftrace_ops_get_func() sends its
    per-ops trampoline through ftrace_ops_assist_func; from 5.11 (a25d036d939a) it calls
    klp_ftrace_handler directly, which takes its own recursion lock (13f3ea9a2c82)."""
    path = tmp_path / "tramp.yaml"
    path.write_text(f"""ftscen: 1
kernel:
  version: "{version}"
  dynamic_trampolines: true
functions:
  - name: f
  - name: f_v2
    notrace: true
livepatches:
  - name: p
    funcs: {{f: f_v2}}
timeline:
  - enable: p
  - {{call: f, id: c}}
expect:
  - {{call: c, ran: f_v2, called: [klp_ops_f]}}
  - site: {{func: f, is: "call klp_ops_f.tramp"}}
  - site: {{func: klp_ops_f.tramp_call, is: "call {callee}"}}
""")
    [rep] = pipeline.check_file(path)
    assert rep.outcome is Outcome.PASS, [v.title for v in rep.verdicts if not v.ok]


def test_a_failed_load_prints_the_selftests_expected_messages(tmp_path: Path) -> None:
    """tools/testing/selftests/livepatch/test-ftrace.sh: with kernel.ftrace_enabled = 0 the
    load fails, and dmesg shows exactly these livepatch lines (its check_result)."""
    res = run(tmp_path, "  - sysctl: {ftrace_enabled: false}\n  - enable: p1\n    expect: EBUSY\n")
    assert messages(res) == [
        "enabling patch 'p1'",
        "'p1': initializing patching transition",
        "failed to register ftrace handler for function 'f' (-16)",
        "failed to patch object 'vmlinux'",
        "failed to enable patch 'p1'",
        "'p1': canceling patching transition, going to unpatch",
        "'p1': completing unpatching transition",
        "'p1': unpatching complete",
    ]


@pytest.mark.parametrize("step", ["busy: {cpu: 1, stack: [f]}", "transition: complete"])
def test_livepatch_steps_need_live_patches(tmp_path: Path, step: str) -> None:
    path = tmp_path / "none.yaml"
    path.write_text(f"ftscen: 1\nfunctions:\n  - name: f\ntimeline:\n  - {step}\n")
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    (diag,) = caught.value.diagnostics
    assert diag.message.endswith("needs live patches: this scenario has none")
    assert (diag.line, diag.col) == (5, 5)


def test_a_written_nop_adds_nothing_where_no_patch_patches_the_function(tmp_path: Path) -> None:
    """klp_add_nops() makes the only nops: for a function no active patch patches, a replace
    patch's nop entry registers no klp_ops (the site stays a NOP, no callback runs)."""
    text = HEAD.replace(
        "    funcs: {{f: f_v2, g: g_v2}}", "    funcs: {{f: f_v2, g: nop}}\n    replace: true"
    )
    path = tmp_path / "nop.yaml"
    path.write_text(text.format(version="6.6") + "  - enable: p2\n  - {call: g, id: g}\n")
    sc = load_scenario(path)
    res = run_scenario(sc, profile_for(sc.kernel))
    assert ran(res, "g") == ["g"]
    assert [e for e in res.events if e.kind == "callback"] == []
    assert res.sites["g"] == "nop" and res.sites["f"] == "call ftrace_regs_caller"


def test_the_real_kernel_backend_leaves_live_patches_out(tmp_path: Path) -> None:
    """The kernel module registers ftrace ops only: export refuses, crosscheck skips."""
    from ftscen.core.errors import UsageError
    from ftscen.kernel.export import export_module
    from ftscen.kernel.sides import plan

    sc = load(tmp_path, "  - enable: p1\n")
    with pytest.raises(UsageError, match="does not build live patches"):
        export_module(sc, tmp_path / "mod")
    assert not (tmp_path / "mod").exists()
    shown, result = plan(sc)
    assert result is None and shown.skip is not None and "live patches" in shown.skip


def test_live_patch_limits_are_located_at_the_first_item_past_them(tmp_path: Path) -> None:
    funcs = "".join(f"  - name: f{i}\n" for i in range(66)) + "  - name: n\n    notrace: true\n"
    many = "{" + ", ".join(f"f{i}: n" for i in range(65)) + "}"
    path = tmp_path / "limits.yaml"
    path.write_text(
        f"ftscen: 1\nfunctions:\n{funcs}livepatches:\n  - name: p\n    funcs: {many}\n"
        "timeline:\n  - enable: p\n"
    )
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    (diag,) = caught.value.diagnostics
    assert diag.message == "too many functions in one patch: 65 (the limit is 64)"
    assert diag.path == "$.livepatches[0].funcs.f64"
    patches = "".join(f"  - name: p{i}\n    funcs: {{f0: n}}\n" for i in range(65))
    path.write_text(f"ftscen: 1\nfunctions:\n{funcs}livepatches:\n{patches}timeline: []\n")
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    (diag,) = caught.value.diagnostics
    assert diag.message == "too many live patches: 65 (the limit is 64)"
    assert diag.path == "$.livepatches[64]"


def test_force_exists_from_4_15(tmp_path: Path) -> None:
    """The ``force`` attribute came with c99a2be790b0 (4.15): refused on 4.14, by validation
    for the file's kernel and by the run for ``--kernel``."""
    with pytest.raises(ScenarioInvalid) as caught:
        load(tmp_path, "  - enable: p1\n  - transition: force\n", "4.14")
    (diag,) = caught.value.diagnostics
    assert diag.message == "kernel 4.14 has no force attribute"
    assert diag.path == "$.timeline[1].transition"
    load(tmp_path, "  - enable: p1\n  - transition: force\n", "4.15")
    with pytest.raises(ScenarioInvalid) as caught:
        pipeline.check_file(tmp_path / "klp.yaml", ["4.14"])
    assert [d.message for d in caught.value.diagnostics] == ["kernel 4.14 has no force attribute"]


STALLED_THEN_STOPPED = """  - busy: {cpu: 1, stack: [f]}
  - enable: p1
  - {call: g, cpu: 2, id: stuck, stop: {at: g+0x5}}
  - busy: {cpu: 1, stack: []}
"""


def test_completing_a_patching_transition_waits_for_every_cpu_to_schedule(
    tmp_path: Path,
) -> None:
    """klp_complete_transition(): klp_synchronize_transition() (schedule_on_each_cpu) before
    the tasks go back to KLP_UNDEFINED: a non-preemptible CPU holding a stopped call cannot
    schedule, so the completion waits for it, and hangs when nothing resumes it."""
    res = run(tmp_path, STALLED_THEN_STOPPED + "  - transition: complete\n")
    assert res.fault is not None and res.fault.kind == "deadlock"
    assert "klp_synchronize_transition()" in res.fault.detail
    assert "'p1': completing patching transition" in messages(res)
    assert "'p1': patching complete" not in messages(res)


def test_a_later_resume_lets_the_klp_wait_finish_the_call(tmp_path: Path) -> None:
    res = run(
        tmp_path,
        STALLED_THEN_STOPPED + "  - transition: complete\n  - resume: stuck\n",
    )
    assert res.fault is None
    assert "'p1': patching complete" in messages(res)
    assert ran(res, "stuck") == ["g"]


def test_reversing_waits_for_every_cpu_too(tmp_path: Path) -> None:
    """klp_reverse_transition() waits (klp_synchronize_transition()) after clearing
    TIF_PATCH_PENDING, before klp_start_transition(). (Unpatching waits after
    klp_unpatch_objects(), but there the last func's ftrace_shutdown() waits first.)"""
    reverse = run(tmp_path, STALLED_THEN_STOPPED + "  - disable: p1\n")
    assert reverse.fault is not None and "klp_synchronize_transition()" in reverse.fault.detail
    assert messages(reverse)[-1] == "'p1': reversing transition from patching to unpatching"


def test_a_preempted_task_does_not_hold_up_the_klp_wait(tmp_path: Path) -> None:
    path = tmp_path / "preempt.yaml"
    text = HEAD.replace("  cpus: 3\n", "  cpus: 3\n  preempt: true\n").format(version="6.6")
    path.write_text(text + STALLED_THEN_STOPPED + "  - transition: complete\n  - resume: stuck\n")
    sc = load_scenario(path)
    res = run_scenario(sc, profile_for(sc.kernel))
    assert res.fault is None and "'p1': patching complete" in messages(res)


def _with_replace(tmp_path: Path, timeline: str) -> Path:
    text = HEAD.replace(
        "    funcs: {{f: f_v2, g: g_v2}}", "    funcs: {{f: f_v2, g: g_v2}}\n    replace: true"
    )
    path = tmp_path / "r.yaml"
    path.write_text(text.format(version="6.6") + timeline)
    return path


def test_a_replace_enable_expected_to_fail_replaces_nothing(tmp_path: Path) -> None:
    """__klp_enable_patch(): -EBUSY while p1 is in transition, and the replace patch p2 is
    freed; p1 stays enabled, so disabling it later is valid (and succeeds)."""
    path = _with_replace(
        tmp_path,
        """  - busy: {cpu: 1, stack: [f]}
  - enable: p1
  - enable: p2
    expect: EBUSY
  - busy: {cpu: 1, stack: []}
  - transition: complete
  - disable: p1
""",
    )
    sc = load_scenario(path)
    res = run_scenario(sc, profile_for(sc.kernel))
    assert results(res) == [None, "0", "EBUSY", None, "0", "0"]
    assert "'p1': unpatching complete" in messages(res)


def test_a_reversed_replace_transition_leaves_the_replaced_patch_enabled(tmp_path: Path) -> None:
    """klp_reverse_transition(): disabling p2 while its replace transition stalls reverses
    it; p1 was never replaced (klp_unpatch_replaced_patches() runs only when a patching
    transition completes), so disabling p1 afterwards is valid."""
    path = _with_replace(
        tmp_path,
        """  - enable: p1
  - busy: {cpu: 1, stack: [f_v1]}
  - enable: p2
  - disable: p2
  - busy: {cpu: 1, stack: []}
  - transition: complete
  - disable: p1
  - {call: f, cpu: 1, id: orig}
""",
    )
    sc = load_scenario(path)
    res = run_scenario(sc, profile_for(sc.kernel))
    assert results(res) == ["0", None, "0", "0", None, "0", "0", None]
    assert ran(res, "orig") == ["f"]


def test_a_disable_expected_to_fail_is_left_to_the_run(tmp_path: Path) -> None:
    """enabled_store(): -EINVAL when the patch is not enabled; validation accepts the step
    with its expected error, and the run returns it."""
    res = run(tmp_path, "  - disable: p1\n    expect: EINVAL\n")
    assert results(res) == ["EINVAL"]
