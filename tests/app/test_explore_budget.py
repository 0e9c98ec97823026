"""An exploration cut short by a budget (``--max-placements``, ``--max-time``), and the
reports of an exploration against its exit code.

A check is decided by the placements run only through a counterexample: a placement that
breaks ``always`` or ``never``, or one where ``sometimes`` holds. Anything else, including a
check that applied in none of the placements run, could change with the placements left,
so it is incomplete, never a pass and never a (vacuous) failure (docs/explore.md)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ftscen.core.errors import ExitCode
from tests.support import copy_fixture, fits_junit_xsd, invoke

SEED = "explore-seed-window.yaml"
FREED = "explore-stop-trampoline-freed.yaml"


def _json(path: Path, *args: str) -> tuple[int, dict]:
    res = invoke(["run", str(path), "--format", "json", *args])
    return res.exit_code, json.loads(res.stdout)


def test_kernels_never_run_are_incomplete_not_vacuous(tmp_path: Path) -> None:
    # 5.5 has 16 placements (4 points x 4 for window_tail): the budget runs 5.5 alone
    path = copy_fixture(SEED, tmp_path)
    args = ["--kernel", "5.5,5.9,5.10", "--max-placements", "16"]
    code, doc = _json(path, *args)
    assert code == ExitCode.INCOMPLETE
    by = {k["kernel"]: k for k in doc["kernels"]}
    assert by["5.5"]["outcome"] == "pass" and by["5.5"]["covered"] == 16
    for version in ("5.9", "5.10"):
        k = by[version]
        assert k["covered"] == 0 and k["outcome"] == "incomplete"
        assert all(c["outcome"] == "incomplete" and not c["vacuous"] for c in k["checks"])
        assert not any(c["ok"] for c in k["checks"])
    res = invoke(["run", str(path), *args])
    assert res.exit_code == ExitCode.INCOMPLETE
    assert "vacuous" not in res.stdout and "  FAIL  " not in res.stdout
    assert "  ?     never: call window: ran [do_IRQ]  (undecided: holds in 0 of 0" in res.stdout


def test_a_half_covered_kernel_without_a_witness_is_incomplete(tmp_path: Path) -> None:
    # 16 placements of 5.5, then 34 of the 49 of 5.3 (7 points x 7: no int3 skip from 5.3)
    path = copy_fixture(SEED, tmp_path)
    code, doc = _json(path, "--kernel", "5.5,5.3", "--max-placements", "50")
    assert code == ExitCode.INCOMPLETE
    k = doc["kernels"][1]
    assert (k["kernel"], k["covered"], k["placements"]) == ("5.3", 34, 49)
    assert k["outcome"] == "incomplete"
    never = next(c for c in k["checks"] if c["title"] == "never: call window: ran [do_IRQ]")
    assert never["outcome"] == "incomplete" and never["witness"] is None


def test_max_time_0_decides_nothing(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    code, doc = _json(path, "--kernel", "5.5", "--max-time", "0")
    assert code == ExitCode.INCOMPLETE and doc["covered"] == 0
    assert doc["kernels"][0]["outcome"] == "incomplete"
    assert {c["outcome"] for c in doc["kernels"][0]["checks"]} == {"incomplete"}


def test_single_file_junit_skips_undecided_checks(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    report = tmp_path / "r.xml"
    res = invoke(
        ["run", str(path), "--kernel", "5.5,5.9", "--max-placements", "16", "--junit", str(report)]
    )
    assert res.exit_code == ExitCode.INCOMPLETE
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0" and suite.get("tests") == "12"
    assert suite.get("skipped") == "6"  # the six checks of 5.9
    skipped = [c for c in suite if c.find("skipped") is not None]
    assert all(c.get("name", "").endswith("[kernel 5.9]") for c in skipped)
    fits_junit_xsd(report)


def test_single_file_junit_follows_xfail(tmp_path: Path) -> None:
    # before 6.1 the freed trampoline faults: 6.0 is XFAIL (exit 0), 6.1 passes
    path = copy_fixture(FREED, tmp_path)
    report = tmp_path / "r.xml"
    res = invoke(["run", str(path), "--kernel", "6.0,6.1", "--junit", str(report)])
    assert res.exit_code == ExitCode.OK
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert int(suite.get("skipped", "0")) >= 1
    fits_junit_xsd(report)
    # marked xfail on 6.1 too, where it holds: XPASS, exit 1 and a failing case
    text = path.read_text().replace('kernels: "<6.1"', 'kernels: "<=6.1"')
    path.write_text(text)
    res = invoke(["run", str(path), "--kernel", "6.1", "--junit", str(report)])
    assert res.exit_code == ExitCode.FAIL
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    names = [c.get("name") for c in suite if c.find("failure") is not None]
    assert names == ["explore-stop-trampoline-freed [kernel 6.1] xfail"]
    fits_junit_xsd(report)


def test_the_table_marks_a_partly_run_choice_unknown(tmp_path: Path) -> None:
    # 5.3: 7 points per call, window_tail varying fastest; placements 0-33 ran, so window's
    # first four points fully (28), sites.int3 for 6 of its 7, the last two not at all; each
    # point of window_tail in at most 5 of its 7 placements
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--kernel", "5.5,5.3", "--max-placements", "50"])
    table = res.stdout.split("  window ")[1]
    window, tail = table.split("  window_tail ")
    marks = {r.split()[0]: r.split()[-1] for r in window.splitlines()[1:] if r.strip()}
    assert marks["start"] == marks["function_tracer.tramp_call.done"] == "."
    assert marks["sites.int3"] == marks["sites.done"] == "?"
    rows = [r for r in tail.splitlines()[1:8] if r.strip()]
    assert len(rows) == 7 and all(r.split()[-1] == "?" for r in rows), rows


def test_validate_refuses_a_space_over_the_limit_as_run_does(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)  # 7 x 7 placements on its kernel, 5.3
    res = invoke(["validate", str(path), "--max-placements", "10"])
    ran = invoke(["run", str(path), "--max-placements", "10"])
    assert res.exit_code == ran.exit_code == ExitCode.INVALID
    said = "explore-seed-window.yaml:27:13: error: 49 placements on kernel 5.3"
    assert said in res.stderr and said in ran.stderr
    assert invoke(["validate", str(path)]).exit_code == ExitCode.OK
    # three calls at any point on any of 8 CPUs (7 of them free of the patcher): 49^3
    text = path.read_text().replace('  version: "5.3"\n', '  version: "5.3"\n  cpus: 8\n')
    text = text.replace("      - at: any\n", "      - at: any\n        cpu: any\n")
    text = text.replace(
        "        id: window_tail\n",
        "        id: window_tail\n      - at: any\n        cpu: any\n        call: do_IRQ\n"
        "        id: third\n",
    )
    path.write_text(text)
    res = invoke(["validate", str(path)])
    assert res.exit_code == ExitCode.INVALID
    assert "117649 placements on kernel 5.3" in res.stderr and "the limit is 100000" in res.stderr


def test_format_github_annotates_a_single_explored_file(tmp_path: Path) -> None:
    # before 5.2 the int3 handler skips the call at sites.int3: both never: checks fail
    path = copy_fixture(SEED, tmp_path)
    res = invoke(["run", str(path), "--kernel", "5.1,5.3", "--format", "github"])
    assert res.exit_code == ExitCode.FAIL
    found = [t for t in res.stdout.splitlines() if t.startswith("::error")]
    assert len(found) == 2
    assert found[0].startswith(
        f"::error file={path},line=34,col=5,title=ftscen explore [kernel 5.1]::"
        "never: call window: ran [do_IRQ] (holds in 14 of 49 placements); replay: ftscen run "
    )
    replay = found[0].split("; replay: ")[1]
    assert replay.endswith("--kernel 5.1 --place window=sites.int3 --place window_tail=start")
    # the replay is a plain run of that placement: annotated as any plain file
    pinned = ["--place", "window=sites.int3", "--place", "window_tail=start"]
    res = invoke(["run", str(path), "--kernel", "5.1", *pinned, "--format", "github"])
    found = [t for t in res.stdout.splitlines() if t.startswith("::error")]
    assert res.exit_code == ExitCode.FAIL and len(found) == 1
    assert found[0].startswith(f"::error file={path},line=34,col=5,title=ftscen [kernel 5.1]::")


def test_place_plans_each_kernel_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # --place checks the file's spaces; the pinned file's are those without the pinned call
    from ftscen.app import explore_plan

    planned: list[str] = []
    real = explore_plan.space_of

    def counted(sc: Any, profile: Any) -> Any:
        planned.append(profile.version)
        return real(sc, profile)

    monkeypatch.setattr(explore_plan, "space_of", counted)
    path = copy_fixture(SEED, tmp_path)
    args = ["--kernel", "5.1,5.3", "--place", "window=sites.int3"]
    code, doc = _json(path, *args)
    assert planned == ["5.1", "5.3"]
    assert code == ExitCode.FAIL  # on 5.1 window at sites.int3 runs do_IRQ unpatched
    assert doc["calls"] == ["window_tail (at: any)"]
    assert [k["placements"] for k in doc["kernels"]] == [7, 7]


def test_a_place_replay_writes_the_plain_html_report(tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    path = copy_fixture(SEED, tmp_path)
    page = tmp_path / "r.html"
    pinned = ["--place", "window=sites.int3", "--place", "window_tail=start"]
    res = invoke(["run", str(path), "--kernel", "5.1", *pinned, "--html", str(page)])
    assert res.exit_code == ExitCode.FAIL, res.stderr  # the witness: do_IRQ ran unpatched
    text = page.read_text()
    assert "explore-seed-window" in text and "never: call window: ran [do_IRQ]" in text
    # a call still explored: not a replay, no timeline to draw
    res = invoke(["run", str(path), "--place", "window=sites.int3", "--html", str(page)])
    assert res.exit_code == ExitCode.INVALID and "pin every explored call" in res.stderr


def test_max_time_nan_is_a_usage_error(tmp_path: Path) -> None:
    path = copy_fixture(SEED, tmp_path)
    for value in ("nan", "-1"):
        res = invoke(["run", str(path), "--max-time", value])
        assert res.exit_code == ExitCode.INVALID, value
        assert "--max-time" in res.stderr and "Traceback" not in res.stderr


def _with_at(tmp_path: Path, at: str) -> Path:
    path = copy_fixture(SEED, tmp_path)
    text = path.read_text().replace(
        "      - at: any\n        call: do_IRQ", f"      - at: {at}\n        call: do_IRQ"
    )
    path.write_text(text)
    return path


def test_a_point_listed_many_times_is_one_error_with_its_count(tmp_path: Path) -> None:
    path = _with_at(tmp_path, "[" + ", ".join(["sites.int3"] * 5000 + ["start", "start"]) + "]")
    res = invoke(["validate", str(path)])
    assert res.exit_code == ExitCode.INVALID
    assert res.stderr.count("error:") == 2
    assert "'sites.int3' is listed 5000 times [at $.timeline[1].during[0].at[1]]" in res.stderr
    assert "'start' is listed twice [at $.timeline[1].during[0].at[5001]]" in res.stderr


def test_an_empty_list_of_points_reads_as_english(tmp_path: Path) -> None:
    res = invoke(["validate", str(_with_at(tmp_path, "[]"))])
    assert res.exit_code == ExitCode.INVALID
    assert ":27:13: error: `at` is an empty list; it needs at least one entry" in res.stderr
