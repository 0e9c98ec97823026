"""Exploring where a call stops (``stop: any``, ``stop: {any: SYMBOL}``), end to end.

Expected outcomes follow the kernel: before 6.1, ``ftrace_shutdown()`` (kernel/trace/ftrace.c)
frees a DYNAMIC ops' per-ops trampoline without waiting when the unregistration updates no
code (``if (!command || !ftrace_enabled) ... goto free_ops``), so a task preempted anywhere
inside the trampoline resumes in freed text; from 6.1 (0e792b89e680) the no-update path
goes through ``synchronize_rcu_tasks()``, which waits for the preempted task, so no stop
faults (docs/model.md, "Calls in flight")."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from ftscen.app import pipeline as api
from ftscen.core.errors import ExitCode
from ftscen.emu.explore import unstopped
from ftscen.emu.run import call_path, traced_call
from tests.support import REPO, copy_fixture, explore_json, invoke, write_file

FREED = "explore-stop-trampoline-freed.yaml"


def check(kernel: dict, key: str) -> dict:
    return next(c for c in kernel["checks"] if c["check"] == key)


def tramp_stops(path: Path, version: str) -> list[str]:
    """The distinct addresses of D.tramp the call passes, in order, from ``call_path`` (the
    path of the call run to its end): what ``stop: {any: D.tramp}`` must explore."""
    sc = api.load(str(path))
    (profile,) = api.profiles(sc, [version])
    labels = call_path(unstopped(sc, "preempted"), profile, "preempted")
    return list(dict.fromkeys(x for x in labels if x.startswith("D.tramp")))


def test_every_stop_in_the_trampoline_faults_before_6_1_and_none_from_6_1(
    tmp_path: Path,
) -> None:
    path = copy_fixture(FREED, tmp_path)
    code, doc = explore_json(path, "--kernel", "6.0,6.1")
    assert code == ExitCode.OK  # 6.0 is an expected failure (xfail: fails: [fault])
    old, new = doc["kernels"]
    n = len(tramp_stops(path, "6.0"))
    assert n > 5 and old["placements"] == n and new["placements"] == n
    fault = check(old, "fault")
    assert not fault["ok"] and fault["held"] == 0 and fault["applicable"] == n
    # the minimal witness: the earliest stop along the path, the trampoline's first byte
    assert fault["witness"]["place"] == ["preempted=stop@D.tramp"]
    assert any("FAULT freed-trampoline on cpu2 at D.tramp:" in x for x in fault["witness"]["log"])
    assert old["outcome"] == "xfail"
    assert new["outcome"] == "pass" and all(c["ok"] for c in new["checks"])
    assert check(new, "expect[0]")["held"] == n  # the task ran on, and called D, every time


def test_the_witness_replay_prints_the_same_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixture(FREED, tmp_path)
    monkeypatch.chdir(tmp_path)
    _, doc = explore_json(Path(FREED), "--kernel", "6.0")
    witness = check(doc["kernels"][0], "fault")["witness"]
    argv = shlex.split(witness["replay"])
    assert argv == ["ftscen", "run", FREED, "--kernel", "6.0", "--place", "preempted=stop@D.tramp"]
    replay = invoke(argv[1:])
    assert replay.exit_code == ExitCode.OK  # the xfail run fails as expected
    lines = replay.stdout.splitlines()
    start = lines.index(witness["log"][0])
    assert lines[start : start + len(witness["log"])] == witness["log"]
    assert "[1] call f on cpu2, stop at D.tramp (preempted)" in lines


def places(doc: dict) -> list[str]:
    return [r["place"][0].removeprefix("preempted=stop@") for r in doc["kernels"][0]["runs"]]


def test_a_later_stop_replays_with_its_own_address(tmp_path: Path) -> None:
    path = copy_fixture(FREED, tmp_path)
    last = places(explore_json(path, "--kernel", "6.0")[1])[-1]
    assert last.startswith("D.tramp+0x")
    res = invoke(["run", str(path), "--kernel", "6.0", "--place", f"preempted=stop@{last}"])
    assert res.exit_code == ExitCode.OK
    assert f"stop at {last} (preempted)" in res.stdout
    assert "FAULT freed-trampoline on cpu2 at D.tramp+0x" in res.stdout


def test_stop_any_explores_the_whole_path(tmp_path: Path) -> None:
    """Stopped in f before its site calls the trampoline, the task resumes after the
    sysctl made the site a NOP: it runs f without calling D, and touches no freed text."""
    text = (REPO / "tests" / "fixtures" / FREED).read_text(encoding="utf-8")
    path = write_file(tmp_path, "any.yaml", text.replace("stop: {any: D.tramp}", "stop: any"))
    code, doc = explore_json(path, "--kernel", "6.0,6.1")
    assert code == ExitCode.FAIL
    old, new = doc["kernels"]
    sc = api.load(str(path))
    (profile,) = api.profiles(sc, ["6.1"])
    addrs, image = traced_call(unstopped(sc, "preempted"), profile, "preempted")
    names = list(dict.fromkeys(call_path(unstopped(sc, "preempted"), profile, "preempted")))
    # every instruction boundary of the path is a stop, but those inside the code that
    # writes an event record (the model's log, one step: a stop there is refused)
    whole = [a for a in dict.fromkeys(addrs) if image.in_record(a) is None]
    assert len(names) == len(dict.fromkeys(addrs)) > len(whole)
    assert new["placements"] == len(whole) == old["placements"]
    called = check(new, "expect[0]")
    assert called["witness"]["place"] == ["preempted=stop@f"]
    # only the stop before f's call site misses D: stopped anywhere else, it already went
    # through the trampoline or is inside it (the stops in f's own record are not tried)
    assert called["held"] == len(whole) - 1, called
    # before 6.1 only the stops outside the trampoline and its callback keep clear of it
    for run in old["runs"]:
        stop = run["place"][0].removeprefix("preempted=stop@")
        clean = run["states"][0] == "1"
        assert clean == (stop == "f" or stop.startswith("f+")), stop


def test_the_text_report_groups_the_stops_by_symbol(tmp_path: Path) -> None:
    path = copy_fixture(FREED, tmp_path)
    out = invoke(["run", str(path), "--kernel", "6.0,6.1"]).stdout
    assert "# explored: preempted (stop: {any: D.tramp})" in out
    table = out[out.index("\nplacements (") + 1 :].splitlines()
    assert [x.split() for x in table[1:3]] == [
        ["preempted", "6.0", "6.1"],
        ["stop", "in", "D.tramp", "x", "."],
    ]
    assert table[3] == ""


def test_the_json_report_fits_its_schema(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((REPO / "schema" / "explore.schema.json").read_text(encoding="utf-8"))
    path = copy_fixture(FREED, tmp_path)
    _, doc = explore_json(path, "--kernel", "6.0,6.1")
    jsonschema.validate(doc, schema)
    assert doc["calls"] == ["preempted (stop: {any: D.tramp})"]
    assert doc["kernels"][0]["runs"][1]["place"][0].startswith("preempted=stop@D.tramp+0x")


def test_a_symbol_the_call_never_passes_is_located(tmp_path: Path) -> None:
    # a DYNAMIC ops alone on f gets its own trampoline: the call never enters
    # ftrace_regs_caller, only its copy D.tramp
    text = (REPO / "tests" / "fixtures" / FREED).read_text(encoding="utf-8")
    path = write_file(
        tmp_path, "bad.yaml", text.replace("{any: D.tramp}", "{any: ftrace_regs_caller}")
    )
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "stop: {any: D.tramp}}" in x)
    for cmd in (["run", str(path), "--kernel", "6.0"], ["validate", str(path)]):
        res = invoke(cmd)
        assert res.exit_code == ExitCode.INVALID
        assert f"{path}:{line}:" in res.stderr
        assert "never passes ftrace_regs_caller on kernel" in res.stderr
        assert "(it passes f, D.tramp, D.func)" in res.stderr
    path = write_file(tmp_path, "nosym.yaml", text.replace("{any: D.tramp}", "{any: D.trmp}"))
    res = invoke(["run", str(path), "--kernel", "6.0"])
    assert res.exit_code == ExitCode.INVALID
    assert "no code symbol 'D.trmp'" in res.stderr and "D.tramp" in res.stderr


def test_place_checks_the_stop_form_and_address(tmp_path: Path) -> None:
    path = copy_fixture(FREED, tmp_path)
    run = ["run", str(path), "--kernel", "6.0", "--place"]
    res = invoke([*run, "preempted=D.tramp"])
    assert res.exit_code == ExitCode.INVALID
    assert "explores its stop; write preempted=stop@SYMBOL+0xN" in res.stderr
    stops = set(places(explore_json(path, "--kernel", "6.0")[1]))
    off = next(f"D.tramp+{i:#x}" for i in range(1, 64) if f"D.tramp+{i:#x}" not in stops)
    res = invoke([*run, f"preempted=stop@{off}"])
    assert res.exit_code == ExitCode.INVALID and "the call may take D.tramp, " in res.stderr
    res = invoke([*run, "preempted=stop@"])
    assert res.exit_code == ExitCode.INVALID and "ID=stop@SYMBOL+0xN" in res.stderr


def test_a_during_call_explores_its_stop_with_a_fixed_resume(tmp_path: Path) -> None:
    """A call made while D is unregistered (at ``start``, before any code changes) and
    resumed at ``sites.done`` of the same step: on 6.0 with ftrace_enabled = 1 the update
    runs and ftrace_shutdown() waits (synchronize_rcu_tasks_rude(), then, preemptible,
    synchronize_rcu_tasks()) before freeing, so the resume comes before the free."""
    path = write_file(
        tmp_path,
        "during.yaml",
        """ftscen: 1
kernel: {version: "6.0", dynamic_trampolines: true, preempt: true, cpus: 3}
functions: [{name: f}]
ops: [{name: D, flags: [DYNAMIC], filter: [f]}]
timeline:
  - register: D
  - unregister: D
    during:
      - {at: start, call: f, id: c, cpu: 2, stop: {any: D.tramp}}
      - {at: sites.done, resume: c}
expect:
  - {call: c, ran: f, called: [D]}
""",
    )
    code, doc = explore_json(path)
    assert code == ExitCode.OK, doc
    (k,) = doc["kernels"]
    assert k["placements"] == len(tramp_stops_of(path, "c"))
    assert all(c["ok"] and c["held"] == k["placements"] for c in k["checks"])


def tramp_stops_of(path: Path, cid: str) -> list[str]:
    sc = api.load(str(path))
    (profile,) = api.profiles(sc, None)
    return list(
        dict.fromkeys(x for x in call_path(unstopped(sc, cid), profile, cid) if "D.tramp" in x)
    )


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        ("anywhere", "'anywhere' is not any"),
        ("{any: D.tramp, at: f}", "this stop has several forms: 'at' and 'any'"),
        ("{}", "this stop says neither where nor when"),
        ('{any: "D.tramp+0x4"}', "'D.tramp+0x4' is not a code symbol"),
    ],
)
def test_malformed_stops_are_located(tmp_path: Path, stop: str, message: str) -> None:
    text = (REPO / "tests" / "fixtures" / FREED).read_text(encoding="utf-8")
    path = write_file(
        tmp_path, "bad.yaml", text.replace("stop: {any: D.tramp}}", f"stop: {stop}}}")
    )
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "stop: {any: D.tramp}}" in x)
    res = invoke(["validate", str(path)])
    assert res.exit_code == ExitCode.INVALID
    assert f"{path}:{line}:" in res.stderr and message in res.stderr


def test_a_space_over_the_limit_suggests_one_symbol(tmp_path: Path) -> None:
    text = (REPO / "tests" / "fixtures" / FREED).read_text(encoding="utf-8")
    path = write_file(tmp_path, "any.yaml", text.replace("stop: {any: D.tramp}", "stop: any"))
    res = invoke(["run", str(path), "--kernel", "6.0", "--max-placements", "10"])
    assert res.exit_code == ExitCode.INVALID
    assert "placements on kernel 6.0" in res.stderr and "(stop: {any: D.tramp})" in res.stderr


def test_build_after_refuses_an_explored_stop(tmp_path: Path) -> None:
    path = copy_fixture(FREED, tmp_path)
    res = invoke(["build", str(path), "--after"])
    assert res.exit_code == ExitCode.INVALID
    assert "stop: {any: D.tramp} is explored" in res.stderr


def test_a_run_of_several_files_explores_an_explored_stop(tmp_path: Path) -> None:
    """A corpus run explores the file as one job (docs/explore.md, "In a corpus"), with the
    verdicts ``ftscen run FILE`` gives it alone."""
    path = copy_fixture(FREED, tmp_path)
    copy_fixture("filter-notrace.yaml", tmp_path)
    alone = invoke(["run", str(path)])
    res = invoke(["run", str(tmp_path)])
    assert res.exit_code == alone.exit_code == ExitCode.OK
    assert alone.stdout.splitlines()[-1] in res.stdout.splitlines()
    assert res.stdout.splitlines()[-1] == "2 scenarios: 2 PASS"
