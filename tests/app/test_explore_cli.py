"""Exploring every placement of explored calls, end to end through ``ftscen run``.

Expected outcomes follow the kernel: before 5.2 (and in 5.2 without per-ops trampolines)
``ftrace_int3_handler`` (arch/x86/kernel/ftrace.c) skips the call whose site holds int3,
so a call placed while a site holds int3 (``sites.int3``, ``sites.tail``) runs the old body
and no callback; from 5.3 the handler emulates the call and the live patch is never
bypassed (docs/model.md, R12)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from ftscen.core.errors import ExitCode
from tests.support import copy_fixture, explore_json, invoke, write_file

SEED = "explore-seed-window.yaml"


def check(kernel: dict, title: str) -> dict:
    return next(c for c in kernel["checks"] if c["title"] == title)


def test_the_live_patch_is_bypassed_before_5_2_and_never_from_5_3(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    code, doc = explore_json(path, "--kernel", "all")
    assert code == ExitCode.FAIL
    by = {k["kernel"]: k for k in doc["kernels"]}
    never = check(by["3.5"], "never: call window: ran [do_IRQ]")
    assert not never["ok"]
    # the minimal witness: the window call at the first point where do_IRQ's site holds
    # int3, the other call left at its first point
    assert never["witness"]["place"] == ["window=sites.int3", "window_tail=start"]
    for version in ("5.3", "5.5", "6.2"):
        assert by[version]["outcome"] == "pass"
        assert all(c["ok"] for c in by[version]["checks"])
    assert doc["complete"] and doc["covered"] == doc["placements"]


def test_the_witness_replay_prints_the_same_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_fixture(SEED, tmp_path)
    monkeypatch.chdir(tmp_path)
    _, doc = explore_json(Path(SEED), "--kernel", "5.1")
    witness = check(doc["kernels"][0], "never: call window: ran [do_IRQ]")["witness"]
    argv = shlex.split(witness["replay"])
    assert argv[:3] == ["ftscen", "run", SEED]
    replay = invoke(argv[1:])
    assert replay.exit_code == ExitCode.FAIL  # the never: fails in that one run too
    lines = replay.stdout.splitlines()
    start = lines.index(witness["log"][0])
    assert lines[start : start + len(witness["log"])] == witness["log"]
    assert path.exists()


def test_text_report_counts_and_table(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--kernel", "5.1,5.3"])
    assert res.exit_code == ExitCode.FAIL
    out = res.stdout
    assert "never: call window: ran [do_IRQ]" in out
    assert "holds in 14 of 49 placements" in out  # 2 int3 points x 7 for the other call
    assert "replay: ftscen run" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("sites.int3"))
    assert row.split()[1:] == ["x", "."]  # 5.1 bypassed, 5.3 not


SOMETIMES = """\
ftscen: 1
kernel: {{version: "{version}"}}
functions: [{{name: f}}]
ops: [{{name: t, filter: [f]}}]
timeline:
  - register: t
    during:
      - {{at: any, call: f, id: w}}
expect:
  - sometimes: {{call: w, called: [t]}}
  - never: {{call: w, ran: [g]}}
"""


def test_sometimes_holds_when_one_placement_holds(tmp_path: Path) -> None:
    text = SOMETIMES.replace("[g]", "[f]").format(version="6.6")
    path = write_file(tmp_path, "s.yaml", text.replace("- never: {call: w, ran: [f]}\n", ""))
    code, doc = explore_json(path)
    c = doc["kernels"][0]["checks"][-1]
    # the callback runs once the site calls ftrace_caller (from the int3 point, emulated
    # by text_poke_bp on 6.6), not at start
    assert c["quantifier"] == "sometimes" and c["ok"] and 0 < c["held"] < c["applicable"]
    assert code == ExitCode.OK


def test_sometimes_fails_when_no_placement_holds(tmp_path: Path) -> None:
    # f's body never calls g, wherever the call lands
    text = SOMETIMES.format(version="6.6").replace("called: [t]", "ran: [f, g]")
    text = text.replace("  - never: {call: w, ran: [g]}\n", "")
    path = write_file(tmp_path, "s.yaml", text.replace("[{name: f}]", "[{name: f}, {name: g}]"))
    code, doc = explore_json(path)
    c = doc["kernels"][0]["checks"][-1]
    assert c["quantifier"] == "sometimes" and not c["ok"]
    assert c["held"] == 0 and c["applicable"] == doc["placements"] and c["witness"] is None
    assert code == ExitCode.FAIL


def test_never_fails_with_the_placement_where_it_held(tmp_path: Path) -> None:
    text = SOMETIMES.format(version="6.6").replace("ran: [g]", "called: [t]")
    path = write_file(tmp_path, "n.yaml", text)
    code, doc = explore_json(path)
    c = doc["kernels"][0]["checks"][-1]
    assert c["quantifier"] == "never" and not c["ok"]
    # the first placement where the callback runs: the site holds int3 and text_poke_bp
    # emulates the new call (6.6); at start and while only ftrace_call changes it is a nop
    assert c["witness"]["place"] == ["w=sites.int3"]
    assert code == ExitCode.FAIL


VACUOUS = """\
ftscen: 1
kernel: {version: "6.6"}
functions: [{name: f}, {name: g}]
ops:
  - {name: tracer, filter: [f]}
  - {name: loop, filter: [g], calls: [g]}
timeline:
  - register: tracer
    during:
      - {at: [sites.int3, sites.done], call: f, id: early}
  - unregister: tracer
  - register: loop
  - call: g
  - call: f
    id: late
expect:
  - never: {call: late, called: [tracer]}
"""


def test_a_quantifier_over_no_placement_fails(tmp_path: Path) -> None:
    # loop's handler calls g, unguarded: the call of g overflows its stack, so `late`
    # never runs in any placement
    code, doc = explore_json(write_file(tmp_path, "v.yaml", VACUOUS))
    c = check(doc["kernels"][0], "never: call late: called [tracer]")
    assert c["vacuous"] and not c["ok"] and c["applicable"] == 0
    assert code == ExitCode.FAIL


def test_a_budget_ends_with_its_own_verdict(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--kernel", "5.5,5.9", "--max-placements", "20"])
    assert res.exit_code == ExitCode.INCOMPLETE
    assert "INCOMPLETE" in res.stdout and "20/32 placements" in res.stdout
    assert "4 of 16 placements run" in res.stdout
    code, doc = explore_json(path, "--kernel", "5.5,5.9", "--max-placements", "20")
    assert code == ExitCode.INCOMPLETE and not doc["complete"] and doc["stopped_by"] == "placements"


def test_a_space_over_the_limit_is_refused_with_its_count(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--max-placements", "10"])
    assert res.exit_code == ExitCode.INVALID
    assert f"{path}:" in res.stderr and "49 placements on kernel 5.3" in res.stderr
    assert "the limit is 10" in res.stderr


def test_bad_points_are_located(tmp_path: Path) -> None:
    text = """\
ftscen: 1
functions: [{name: f}]
ops: [{name: a, filter: [f]}]
timeline:
  - register: a
  - set_filter: {ops: a, filter: [f]}
    during:
      - {at: any, call: f}
  - register: a
    during:
      - {at: [start, sites.int3#2], call: f}
"""
    path = write_file(
        tmp_path,
        "bad.yaml",
        text.replace("  - register: a\n    during", "  - unregister: a\n    during"),
    )
    res = invoke(["run", str(path)])
    assert res.exit_code == ExitCode.INVALID
    assert (
        f"{path}:8:" in res.stderr
        and "at: any on a step that passes no point but start" in res.stderr
    )
    assert f"{path}:11:" in res.stderr and "never passes point 'sites.int3#2'" in res.stderr


@pytest.mark.parametrize(
    ("fixture", "kernels", "covered"),
    [(SEED, "all", 227), ("explore-stop-trampoline-freed.yaml", "6.0,6.1", None)],
    ids=["points", "stops"],
)
def test_serial_jobs_and_dask_give_the_same_json(
    tmp_path: Path, fixture: str, kernels: str, covered: int | None
) -> None:
    distributed = pytest.importorskip("dask.distributed")
    path = copy_fixture(fixture, tmp_path)
    args = ["--kernel", kernels]
    outs = [invoke(["run", str(path), "--format", "json", *args]).stdout]
    outs.append(invoke(["run", str(path), "--format", "json", "--jobs", "2", *args]).stdout)
    with distributed.LocalCluster(
        host="127.0.0.1",
        protocol="tcp://",
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        dashboard_address=":0",
    ) as cluster:
        res = invoke(
            ["run", str(path), "--format", "json", "--scheduler", cluster.scheduler_address, *args]
        )
        outs.append(res.stdout)
    assert outs[0] == outs[1] == outs[2]
    doc = json.loads(outs[0])
    assert doc["complete"] and doc["covered"] == (covered or doc["placements"])
    # the stops of the trampoline: enough placements that --jobs 2 splits them in parts
    assert doc["covered"] > 8


def test_junit_has_a_case_per_check_and_kernel(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    report = tmp_path / "r.xml"
    invoke(["run", str(path), "--kernel", "5.1,5.3", "--junit", str(report)])
    import xml.etree.ElementTree as ET

    root = ET.parse(report).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 5 + 6  # 5.1: no sometimes (>=5.3); 5.3: all six
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == [
        "never: call window: ran [do_IRQ] [kernel 5.1]",
        "never: call window_tail: ran [__migrate_task] [kernel 5.1]",
    ]


def test_place_names_an_explored_call(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--place", "nosuch=start"])
    assert res.exit_code == ExitCode.INVALID and "explored: window, window_tail" in res.stderr
    res = invoke(["run", str(path), "--place", "window=ftrace_call.int3"])
    assert res.exit_code == ExitCode.INVALID and "may take" in res.stderr


def test_a_time_budget_that_runs_out_first_is_incomplete(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--max-time", "0"])
    assert res.exit_code == ExitCode.INCOMPLETE
    assert "INCOMPLETE" in res.stdout and "0/49 placements explored before --max-time" in res.stdout


def test_golden_on_one_explored_file_runs_it_as_a_corpus_job(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--golden"])
    assert res.exit_code == ExitCode.FAIL
    assert "# explored: window (at: any), window_tail (at: any)" in res.stdout  # the whole text
    assert f"golden {path.with_suffix('.golden').as_posix()}: missing" in res.stdout
    res = invoke(["run", str(path), "--golden", "--place", "window=start"])
    assert res.exit_code == ExitCode.INVALID
    assert "--golden: not with --place, --scheduler, --max-time" in res.stderr


def test_the_json_report_fits_its_schema(tmp_path: Path) -> None:
    import jsonschema

    from tests.support import REPO

    schema = json.loads((REPO / "schema" / "explore.schema.json").read_text(encoding="utf-8"))
    path = copy_fixture(SEED, tmp_path)
    for args in (["--kernel", "all"], ["--kernel", "5.5,5.9", "--max-placements", "20"]):
        _, doc = explore_json(path, *args)
        jsonschema.validate(doc, schema)
