"""The exploration keys of the format: at: any / a list, cpu: any, sometimes: / never:."""

from __future__ import annotations

import json
from pathlib import Path

from ftscen.app import pipeline as api
from ftscen.app.explore_plan import plan
from ftscen.core.errors import ExitCode
from ftscen.core.model import Quantifier
from tests.support import FIXTURES, invoke, write_file

BASE = """\
ftscen: 1
kernel: {{version: "6.6", cpus: 3}}
functions: [{{name: f}}]
ops: [{{name: t, filter: [f]}}]
timeline:
  - register: t
    during:
      - {{at: {at}, call: f, id: w{cpu}}}
expect:
{expect}
"""


def scenario(
    tmp_path: Path, at: str = "any", cpu: str = "", expect: str = "  - site: {func: f, is: nop}"
) -> Path:
    cpu_key = f", cpu: {cpu}" if cpu else ""
    return write_file(tmp_path, "x.yaml", BASE.format(at=at, cpu=cpu_key, expect=expect))


def test_any_list_and_cpu_any_load(tmp_path: Path) -> None:
    sc = api.load(scenario(tmp_path, "[sites.int3, sites.done]", "any"))
    d = sc.timeline[0].during[0]
    assert d.points == ("sites.int3", "sites.done") and d.cpu_any and d.explored
    assert sc.explores
    space = plan(sc, api.profiles(sc, None), 100)[0]
    # two points times CPUs 1 and 2 (CPU 0 runs the patcher)
    assert space.slots[0].choices == (
        ("sites.int3", 1),
        ("sites.int3", 2),
        ("sites.done", 1),
        ("sites.done", 2),
    )


def test_a_plain_during_is_not_explored(tmp_path: Path) -> None:
    sc = api.load(scenario(tmp_path, "sites.int3"))
    assert not sc.explores and not sc.timeline[0].during[0].explored


def test_quantified_assertions_load_with_kernels(tmp_path: Path) -> None:
    expect = (
        '  - never: {call: w, ran: f}\n    kernels: ">=5.3"\n  - sometimes: {call: w, called: [t]}'
    )
    sc = api.load(scenario(tmp_path, expect=expect))
    assert [q.quantifier for q in sc.quantified] == [Quantifier.NEVER, Quantifier.SOMETIMES]
    assert sc.quantified[0].kernels is not None and sc.era_aware
    assert sc.expect == ()


def test_a_quantifier_inside_a_quantifier_is_refused(tmp_path: Path) -> None:
    path = scenario(tmp_path, expect="  - never: {sometimes: {call: w, ran: f}}")
    res = invoke(["validate", str(path)])
    assert res.exit_code == ExitCode.INVALID
    assert "'sometimes' inside 'never'" in res.stderr


def test_a_quantified_call_id_is_checked(tmp_path: Path) -> None:
    path = scenario(tmp_path, expect="  - never: {call: nosuch, ran: f}")
    res = invoke(["validate", str(path)])
    assert res.exit_code == ExitCode.INVALID and "nosuch" in res.stderr


def test_any_as_a_cpu_number_only(tmp_path: Path) -> None:
    res = invoke(["validate", str(scenario(tmp_path, cpu="every"))])
    assert res.exit_code == ExitCode.INVALID and f"{tmp_path}" in res.stderr


def test_points_json(tmp_path: Path) -> None:
    res = invoke(
        ["points", str(FIXTURES / "explore-seed-window.yaml"), "--format", "json", "-K", "5.1,6.6"]
    )
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert [k["kernel"] for k in doc["kernels"]] == ["5.1", "6.6"]
    step = doc["kernels"][1]["steps"][1]
    assert step["action"] == "register" and step["args"] == {"ops": "function_tracer"}
    assert step["points"] == ["start", "sites.int3", "sites.tail", "sites.done"]
    assert step["errno"] == {"name": None, "number": 0}


def test_a_plain_run_quantifies_over_its_one_placement(tmp_path: Path) -> None:
    expect = "  - never: {call: w, called: [t]}\n  - sometimes: {call: w, ran: f}"
    res = invoke(["run", str(scenario(tmp_path, "sites.int3", expect=expect))])
    assert res.exit_code == ExitCode.FAIL
    assert "FAIL" in res.stdout and "never: call w: called [t]" in res.stdout
    assert "ok    sometimes: call w: ran [f]" in res.stdout
