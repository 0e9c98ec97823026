"""Emulation faults end to end: a fault is a verdict (exit 1) that says where it happened.

Through the real console script and through ``ftscen.app.pipeline``: a handler that recurses without
a guard overflows the stack, and the instruction budgets (``--max-insns`` per call,
``--max-insns-total`` per scenario) stop code that runs too long. The machine-level faults
themselves (invalid opcode, unmapped access, write to text, unhandled int3) are tested in
``test_machine.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_ftscen, write_file

from ftscen.app.pipeline import check_file
from ftscen.emu.run import Budget
from ftscen.report.text import render_text
from ftscen.verdicts.evaluate import Outcome

# One static ops, no flags: ftrace_caller calls its handler directly, with no recursion
# guard, and the handler calls schedule, which it traces.
RECURSING = """\
ftscen: 1
functions:
  - name: do_IRQ
  - name: schedule
ops:
  - name: tracer
    calls: [schedule]
timeline:
  - register: tracer
  - call: do_IRQ
    id: boom
"""

# A call of a few dozen instructions: three bodies and a traced entry.
LONG_CALL = """\
ftscen: 1
functions:
  - name: do_IRQ
    calls: [handle_irq, irq_exit]
  - name: handle_irq
  - name: irq_exit
ops:
  - name: tracer
timeline:
  - register: tracer
  - call: do_IRQ
    id: irq
expect:
  - call: irq
    ran: [do_IRQ, handle_irq, irq_exit]
"""


def fault_line(stdout: str) -> str:
    found = [line.strip() for line in stdout.splitlines() if "log shows:" in line]
    assert len(found) >= 1, stdout[-2000:]
    return found[0]


# ---- a callback recursing without a guard --------------------------------------------------


def test_a_recursing_callback_overflows_the_stack_and_exits_1(tmp_path: Path) -> None:
    write_file(tmp_path, "recurse.yaml", RECURSING)
    done = run_ftscen(["run", "recurse.yaml"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "FAIL  emulation fault: stack-overflow" in done.stdout
    line = fault_line(done.stdout)
    assert line.startswith("log shows: stack-overflow on cpu1 at tracer.func+0x")
    assert "in step 1, call boom" in line
    assert done.stdout.rstrip().endswith("FAIL  recurse.yaml [kernel 6.6]: 0/1 assertions hold")


def test_a_stack_overflow_in_json_names_cpu_symbol_step_and_call(tmp_path: Path) -> None:
    write_file(tmp_path, "recurse.yaml", RECURSING)
    done = run_ftscen(["run", "--format", "json", "recurse.yaml"], tmp_path)
    assert done.returncode == 1, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert result["outcome"] == "fail"
    fault = result["fault"]
    assert (fault["kind"], fault["cpu"], fault["step"], fault["call"]) == (
        "stack-overflow",
        1,
        1,
        "boom",
    )
    assert fault["pc"].startswith("tracer.func+0x")
    assert [e["kind"] for e in result["events"]][-2:] == ["fault", "return"]


def test_a_stack_overflow_through_the_api_is_a_failed_verdict(tmp_path: Path) -> None:
    (report,) = check_file(write_file(tmp_path, "recurse.yaml", RECURSING))
    assert report.outcome is Outcome.FAIL
    fault = report.result.fault
    assert fault is not None
    assert (fault.kind, fault.cpu, fault.step, fault.call) == ("stack-overflow", 1, 1, "boom")
    assert fault.pc.startswith("tracer.func+0x")
    (verdict,) = report.verdicts
    assert not verdict.ok and verdict.title == "emulation fault: stack-overflow"
    assert "FAULT stack-overflow on cpu1 at tracer.func+0x" in render_text(report)


# ---- instruction budgets -------------------------------------------------------------------


def test_the_call_runs_within_the_default_budgets(tmp_path: Path) -> None:
    write_file(tmp_path, "long.yaml", LONG_CALL)
    done = run_ftscen(["run", "long.yaml"], tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize(
    "option, limit", [("--max-insns", "call"), ("--max-insns-total", "scenario")]
)
def test_a_tiny_instruction_budget_ends_the_run_as_runaway(
    tmp_path: Path, option: str, limit: str
) -> None:
    write_file(tmp_path, "long.yaml", LONG_CALL)
    done = run_ftscen(["run", option, "50", "long.yaml"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "FAIL  emulation fault: runaway" in done.stdout
    line = fault_line(done.stdout)
    assert line.startswith("log shows: runaway on cpu1 at ")
    assert f"in step 1, call irq (instruction budget per {limit} (50) used up)" in line


@pytest.mark.parametrize(
    "budget, limit", [(Budget(per_call=50), "call"), (Budget(total=50), "scenario")]
)
def test_a_runaway_through_the_api_names_the_budget(
    tmp_path: Path, budget: Budget, limit: str
) -> None:
    (report,) = check_file(write_file(tmp_path, "long.yaml", LONG_CALL), budget=budget)
    assert report.outcome is Outcome.FAIL
    fault = report.result.fault
    assert fault is not None and (fault.kind, fault.step, fault.call) == ("runaway", 1, "irq")
    assert fault.detail == f"instruction budget per {limit} (50) used up"


def test_an_xfail_scenario_that_faults_is_an_expected_failure(tmp_path: Path) -> None:
    text = RECURSING.replace("ftscen: 1\n", "ftscen: 1\nxfail: recursion without a guard\n")
    (report,) = check_file(write_file(tmp_path, "recurse.yaml", text))
    assert report.outcome is Outcome.XFAIL


def test_many_short_calls_do_not_use_up_the_scenario_budget(tmp_path: Path) -> None:
    text = "ftscen: 1\nfunctions:\n  - name: f\ntimeline:\n" + "  - call: f\n" * 30
    (report,) = check_file(write_file(tmp_path, "many.yaml", text))
    assert report.result.fault is None, report.result.fault
