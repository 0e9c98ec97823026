"""The two sides of a crosscheck: the module's log read back into steps, and the comparison."""

from __future__ import annotations

from support import REPO

from ftscen.kernel.crosscheck import compare
from ftscen.kernel.report import outcome_lines
from ftscen.kernel.sides import kernel_steps, model_steps, plan
from ftscen.load.scenario import load_scenario

R13 = REPO / "scenarios/r13-livepatch-ops-redirects.yaml"

#: What the 6.1 kernel printed for r13 (a boot of its module; timestamps kept, other units'
#: and other kinds of lines mixed in, as on a real console).
CONSOLE = """[   15.5] ftscen: u0 s-1 ret 0
[   15.5] ftscen: u1 s0 ran 0 fs1_f [ftscen_mod]
[   15.5] ftscen: u0 s0 ran 0 fs0_cmdline_proc_show [ftscen_mod]
[   15.5] ftscen: u0 s0 called
[   15.6] ftscen: u0 s1 ret 0
[   15.6] ftscen: u0 s2 cb 0 0 regs=1 ops=klp parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   15.6] ftscen: u0 s2 ran 1 fs0_livepatch_cmdline_proc_show [ftscen_mod]
[   38.6] ftscen: u0 s3 ret 0
[   38.7] ftscen: u0 s4 cb 1 0 regs=1 ops=tracer parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.7] ftscen: u0 s4 cb 0 0 regs=1 ops=klp parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.7] ftscen: u0 s4 cb 1 1 regs=0 ops=tracer parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.7] ftscen: u0 s4 ran 1 fs0_livepatch_cmdline_proc_show [ftscen_mod]
[   38.7] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [init:1]
[   38.7] ftscen: u0 s5 cb 1 2 regs=0 ops=tracer parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.7] ftscen: u0 s5 ran 2 fs0_meminfo_proc_show [ftscen_mod]
[   38.7] ftscen: u0 s6 ret -16
[   38.7] ftscen: u0 s7 cb 1 0 regs=1 ops=tracer parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.7] ftscen: u0 s7 cb 0 0 regs=1 ops=klp parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.7] ftscen: u0 s7 cb 1 1 regs=0 ops=tracer parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.7] ftscen: u0 s7 ran 1 fs0_livepatch_cmdline_proc_show [ftscen_mod]
[   38.9] ftscen: u0 s8 ret 0
[   38.9] ftscen: u0 s9 cb 1 0 regs=0 ops=tracer parent=ftscen_call+0x34/0x60 [ftscen_mod]
[   38.9] ftscen: u0 s9 ran 0 fs0_cmdline_proc_show [ftscen_mod]
[   57.4] ftscen: u0 s-2 ret 0
"""


def test_the_kernel_log_of_r13_reads_back_as_the_model_s_steps() -> None:
    p, result = plan(load_scenario(R13))
    assert result is not None
    kernel, problems = kernel_steps(CONSOLE, p.scenario, 0)
    assert problems == []
    assert kernel[4] == [
        ("cb", "tracer", "cmdline_proc_show", "regs"),
        ("cb", "klp", "cmdline_proc_show", "regs"),
        ("cb", "tracer", "livepatch_cmdline_proc_show", "regs=NULL"),
        ("ran", "livepatch_cmdline_proc_show"),
    ]
    assert kernel[6] == [("ret", "EBUSY")]
    outcome = compare("r13", p, model_steps(result), kernel, problems)
    assert outcome.status == "AGREE", outcome_lines(outcome)
    assert any("5.10" in n for n in outcome.notes)


def test_a_difference_is_shown_side_by_side_at_its_step() -> None:
    p, result = plan(load_scenario(R13))
    assert result is not None
    swapped = CONSOLE.replace("s4 cb 1 0 regs=1", "s4 cb 1 0 regs=0").replace(
        "s6 ret -16", "s6 ret 0"
    )
    kernel, problems = kernel_steps(swapped, p.scenario, 0)
    outcome = compare("r13", p, model_steps(result), kernel, problems)
    assert outcome.status == "DIFFER"
    lines = outcome_lines(outcome)
    assert "  step 4: call cmdline_proc_show (patched_traced)" in lines
    row = next(line for line in lines if line.startswith("    * callback tracer"))
    assert row.split("|")[0].strip() == "* callback tracer ip=cmdline_proc_show regs"
    assert row.split("|")[1].strip() == "callback tracer ip=cmdline_proc_show regs=NULL"
    assert "  step 6: sysctl ftrace_enabled=0" in lines


def test_a_scenario_the_model_faults_on_is_skipped_with_the_reason() -> None:
    p, result = plan(load_scenario(REPO / "scenarios/r11-direct-ops-recursion-faults.yaml"))
    assert result is None
    assert p.skip is not None and "the real kernel would oops" in p.skip


def test_windows_and_pinning_are_dropped_and_said_so() -> None:
    p, _ = plan(load_scenario(REPO / "scenarios/seed-livepatch-tracer-window.yaml"))
    assert any("'during' calls dropped" in n for n in p.notes)
    assert all(not s.during for s in p.scenario.timeline)


def test_ftrace_killed_after_an_agreeing_timeline_is_a_note_and_during_it_a_difference() -> None:
    p, result = plan(load_scenario(R13))
    assert result is not None
    killed = CONSOLE.replace("s-2 ret 0", "s-2 ret -19")
    kernel, problems = kernel_steps(killed, p.scenario, 0)
    outcome = compare("r13", p, model_steps(result), kernel, problems)
    assert outcome.status == "AGREE"
    assert any("disabled ftrace" in line for line in outcome_lines(outcome))
    broken = killed.replace("s8 ret 0", "s8 ret -19")
    kernel, problems = kernel_steps(broken, p.scenario, 0)
    outcome = compare("r13", p, model_steps(result), kernel, problems)
    assert outcome.status == "DIFFER"
    assert "disabled ftrace" in outcome.reason
