"""Scenarios at the documented limits run, with every event logged; one past a limit is a
located error. The largest: 100,000 calls, each of whose logs is checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import write_file

from ftscen.app import pipeline
from ftscen.core.errors import ScenarioInvalid
from ftscen.core.model import LIMITS
from ftscen.verdicts.evaluate import Outcome

pytestmark = pytest.mark.slow

PER_STEP = 32  # during calls per step, at most


def calls_scenario(calls: int) -> str:
    """f calls g; T traces f. Register/unregister steps place 32 calls of f each at
    ``sites.done``; a last step takes the rest."""
    lines = ["ftscen: 1", "functions:", "  - name: f", "    calls: [g]", "  - name: g"]
    lines += ["ops:", "  - name: T", "    filter: [f]", "timeline:"]
    action, left = "register", calls
    while left:
        n = min(PER_STEP, left)
        entries = ", ".join(["{at: sites.done, call: f}"] * n)
        lines.append(f"  - {action}: T\n    during: [{entries}]")
        action = "unregister" if action == "register" else "register"
        left -= n
    return "\n".join(lines) + "\n"


def test_a_scenario_of_100000_calls_logs_every_call(tmp_path: Path) -> None:
    path = write_file(tmp_path, "calls.yaml", calls_scenario(LIMITS["calls"]))
    (report,) = pipeline.check_file(path, ["5.3"])
    result = report.result
    assert report.outcome is Outcome.PASS and result.fault is None
    assert len(result.calls) == 100_000
    by_call: dict[str, list[str]] = {}
    for event in result.events:
        if event.call is not None:
            by_call.setdefault(event.call, []).append(event.kind + getattr(event, "func", ""))
    assert len(by_call) == 100_000
    for info in result.calls:
        # registered: the call site calls ftrace_caller and T's callback runs; unregistered:
        # the site is a nop again
        traced = info.step % 2 == 0
        want = ["callf", "callback", "ranf", "rang", "return"] if traced else None
        got = by_call[info.id]
        assert got == (want or ["callf", "ranf", "rang", "return"]), (info, got)


def test_one_call_past_the_limit_is_a_located_error(tmp_path: Path) -> None:
    path = write_file(tmp_path, "over.yaml", calls_scenario(LIMITS["calls"] + 1))
    with pytest.raises(ScenarioInvalid) as caught:
        pipeline.load(path)
    (diag,) = caught.value.diagnostics
    last = LIMITS["calls"] // PER_STEP  # the step holding call 100,001 (its first during)
    assert diag.path == f"$.timeline[{last}].during[0]"
    assert diag.message == "too many calls in the timeline: 100001 (the limit is 100000)"
    assert diag.line == 10 + last * 2 + 1
