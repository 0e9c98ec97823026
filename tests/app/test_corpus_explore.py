"""Files with explored calls in corpus runs and the pytest plugin (docs/explore.md, "In a
corpus"): one job per file, per-kernel outcomes, JSON, JUnit, goldens, --jobs, collection.

The expected outcomes follow the seed's exploration (docs/explore.md, worked example): up to
5.1 ftrace_int3_handler() skips a call whose site holds int3, so a window call placed at
sites.int3 or sites.tail runs the old body (14 of 49 placements for each call); from 5.2
(per-ops trampolines) the call is emulated and no placement bypasses the live patch.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from jsonschema import Draft202012Validator
from support import FIXTURES, REPO, copy_fixture, invoke

from ftscen.app import session
from ftscen.app.corpus import Job
from ftscen.app.explore_plan import DEFAULT_MAX_PLACEMENTS
from ftscen.core.errors import ExitCode

EXPLORED = "explore-seed-window.yaml"
PLAIN = "filter-notrace.yaml"
REPORT_SCHEMA = json.loads((REPO / "schema" / "report.schema.json").read_text())
EXPLORE_SCHEMA = json.loads((REPO / "schema" / "explore.schema.json").read_text())

pytest_plugins = ["pytester"]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``c/`` holds a plain file and the explored seed (PASS on 5.3, FAIL on 5.1)."""
    monkeypatch.chdir(tmp_path)
    copy_fixture(PLAIN, tmp_path / "c")
    copy_fixture(EXPLORED, tmp_path / "c")
    return tmp_path


def test_a_folder_explores_its_explored_file_as_one_job_and_passes(tree: Path) -> None:
    res = invoke(["run", "c"])
    assert res.exit_code == ExitCode.OK, res.stdout
    assert res.stdout.splitlines() == [
        "PASS  c/explore-seed-window.yaml: 49/49 placements, 6/6 checks hold",
        "PASS  c/filter-notrace.yaml [kernel 6.6]: 10/10 assertions hold",
        "",
        "2 scenarios: 2 PASS",
    ]


def test_a_failing_kernel_shows_witnesses_and_replays_and_fails_the_run(tree: Path) -> None:
    res = invoke(["run", "c", "--kernel", "5.1,5.3"])
    assert res.exit_code == ExitCode.FAIL
    lines = res.stdout.splitlines()
    assert lines[:5] == [
        "FAIL  c/explore-seed-window.yaml: 98/98 placements, 9/11 checks hold",
        "  kernel 5.1: FAIL",
        (
            "    FAIL  c/explore-seed-window.yaml:34:5: never: call window: ran [do_IRQ]  "
            "(holds in 14 of 49 placements)"
        ),
        "            witness: window=sites.int3, window_tail=start",
        (
            "            replay: ftscen run c/explore-seed-window.yaml --kernel 5.1 "
            "--place window=sites.int3 --place window_tail=start"
        ),
    ]
    assert "c/explore-seed-window.yaml  FAIL  PASS" in res.stdout  # the kernel table
    assert lines[-1] == "2 scenarios, 4 runs: 3 PASS, 1 FAIL"
    # the replay is a plain run of that placement, which fails on 5.1
    replay = lines[4].split("replay: ", 1)[1].split()[1:]
    assert invoke(replay).exit_code == ExitCode.FAIL


def test_a_space_over_the_limit_is_a_located_error_for_that_file_only(tree: Path) -> None:
    res = invoke(["run", "c", "--max-placements", "10"])
    assert res.exit_code == ExitCode.INVALID
    assert "INVALID  c/explore-seed-window.yaml: 1 problem" in res.stdout
    assert "c/explore-seed-window.yaml:27:13: error: 49 placements on kernel 5.3" in res.stdout
    assert "PASS  c/filter-notrace.yaml [kernel 6.6]" in res.stdout


def test_a_budget_cut_is_incomplete_exit_5_unless_something_fails(tree: Path) -> None:
    (tree / "c" / PLAIN).unlink()
    res = invoke(["run", "c", "--kernel", "5.3,5.5", "--max-placements", "60"])
    assert res.exit_code == ExitCode.INCOMPLETE, res.stdout
    assert "  kernel 5.5: INCOMPLETE, 11 of 16 placements run" in res.stdout
    assert res.stdout.splitlines()[-1] == "1 scenario, 2 runs: 1 PASS; 1 INCOMPLETE"
    # a definite failure (a witness on 5.1) outranks the cut: exit 1
    res = invoke(["run", "c", "--kernel", "5.1,5.3", "--max-placements", "60"])
    assert res.exit_code == ExitCode.FAIL


def test_the_default_placement_limit_is_the_explorations() -> None:
    assert Job("x").max_placements == DEFAULT_MAX_PLACEMENTS
    assert session.RunOptions(("x",)).max_placements == DEFAULT_MAX_PLACEMENTS


def test_the_json_report_embeds_the_exploration_and_fits_the_schemas(tree: Path) -> None:
    assert REPORT_SCHEMA["$defs"]["explore"] == EXPLORE_SCHEMA  # the embedded copy is current
    res = invoke(["run", "c", "--kernel", "5.1,5.3", "--format", "json"])
    assert res.exit_code == ExitCode.FAIL
    doc = json.loads(res.stdout)
    assert list(Draft202012Validator(REPORT_SCHEMA).iter_errors(doc)) == []
    [entry] = doc["explorations"]
    assert list(Draft202012Validator(EXPLORE_SCHEMA).iter_errors(entry["exploration"])) == []
    assert entry["outcome"] == "fail" and entry["file"] == "c/explore-seed-window.yaml"
    assert [(k["kernel"], k["outcome"]) for k in entry["kernels"]] == [
        ("5.1", "fail"),
        ("5.3", "pass"),
    ]
    # the same document ftscen run FILE --format json writes for the file alone
    alone = invoke(["run", "c/explore-seed-window.yaml", "--kernel", "5.1,5.3", "--format", "json"])
    assert entry["exploration"] == json.loads(alone.stdout)
    assert [r["file"] for r in doc["results"]] == ["c/filter-notrace.yaml"] * 2
    assert doc["summary"]["runs"] == 4 and doc["summary"]["fail"] == 1
    entry["kernels"][0]["outcome"] = "maybe"
    assert list(Draft202012Validator(REPORT_SCHEMA).iter_errors(doc))  # the schema is strict


def test_junit_has_one_case_per_check_and_kernel(tree: Path) -> None:
    res = invoke(["run", "c", "--kernel", "5.1,5.3", "--junit", "r.xml"])
    assert res.exit_code == ExitCode.FAIL
    suite = ET.parse(tree / "r.xml").getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite if c.get("classname") == "c.explore-seed-window"}
    assert len(cases) == 5 + 6  # 5 checks on 5.1 (sometimes: is >=5.3 only), 6 on 5.3
    failed = cases["never: call window: ran [do_IRQ] [kernel 5.1]"].find("failure")
    assert failed is not None and failed.get("message") == "holds in 14 of 49 placements"
    assert (failed.text or "").startswith("ftscen run c/explore-seed-window.yaml --kernel 5.1")
    assert list(cases["never: call window: ran [do_IRQ] [kernel 5.3]"]) == []
    assert suite.get("failures") == "2" and suite.get("tests") == str(11 + 2)
    _fits_the_xsd(tree / "r.xml")


def _fits_the_xsd(report: Path) -> None:
    xsd = os.environ.get("FTSCEN_JUNIT_XSD", "")
    if not xsd:
        if os.environ.get("CI") == "true":
            pytest.fail("FTSCEN_JUNIT_XSD is not set: .ci/run fetches junit-10.xsd")
        return
    import xmlschema

    xmlschema.XMLSchema(xsd).validate(str(report))


def test_jobs_2_prints_what_a_serial_run_prints(tree: Path) -> None:
    copy_fixture("failing-filter.yaml", tree / "c")
    for extra in ([], ["--format", "json"]):
        args = ["run", "c", "--kernel", "5.1,5.3", *extra]
        serial, parallel = invoke(args), invoke([*args, "--jobs", "2"])
        assert serial.exit_code == parallel.exit_code == ExitCode.FAIL
        assert serial.stdout == parallel.stdout


def test_goldens_are_per_kernel_and_never_written_unasked(tree: Path) -> None:
    res = invoke(["run", "c", "--golden", "--kernel", "5.1,5.3"])
    assert res.exit_code == ExitCode.FAIL
    assert not list((tree / "c").glob("explore-seed-window*.golden"))
    assert "golden c/explore-seed-window@5.1.golden: missing" in res.stdout
    res = invoke(["run", "c", "--update-golden", "--kernel", "5.1,5.3"], env={"CI": None})
    written = sorted(p.name for p in (tree / "c").glob("explore-seed-window*.golden"))
    assert written == ["explore-seed-window.golden", "explore-seed-window@5.1.golden"]
    body = (tree / "c" / "explore-seed-window@5.1.golden").read_text()
    # the file's name, not the path the run was started with; the witness's log is kept
    assert "\nFAIL  explore-seed-window.yaml: 49/49 placements, 3/5 checks hold\n" in body
    assert "replay: ftscen run explore-seed-window.yaml --kernel 5.1" in body
    assert "          |     call window: do_IRQ on cpu1" in body
    res = invoke(["run", "c", "--golden", "--kernel", "5.1,5.3", "--format", "json"])
    entry = json.loads(res.stdout)["explorations"][0]
    assert [k["golden"]["status"] for k in entry["kernels"]] == ["match", "match"]
    path = tree / "c" / EXPLORED
    path.write_text(
        path.read_text().replace(
            "at: any\n        call: do_IRQ", "at: [sites.int3]\n        call: do_IRQ"
        )
    )
    res = invoke(["run", "c", "--golden", "--kernel", "5.3"])
    assert res.exit_code == ExitCode.FAIL
    assert "golden c/explore-seed-window.golden: differs from this run" in res.stdout
    assert "FAIL (golden)  c/explore-seed-window.yaml: 7/7 placements" in res.stdout


def test_html_has_a_section_for_the_exploration(tree: Path) -> None:
    pytest.importorskip("jinja2")
    res = invoke(["run", "c", "--kernel", "5.1,5.3", "--html", "r.html"])
    assert res.exit_code == ExitCode.FAIL
    page = (tree / "r.html").read_text()
    assert '<section class="exploration failed">' in page
    assert "never: call window: ran [do_IRQ]" in page
    assert 'outcome-FAIL">FAIL</span>' in page


def test_shards_keep_an_explored_file_whole(tree: Path) -> None:
    outs = [invoke(["run", "c", "--shard", f"{k}/2"]).stdout for k in (1, 2)]
    assert outs[0].startswith("PASS  c/explore-seed-window.yaml: 49/49 placements")
    assert "explore" not in outs[1]


def test_a_session_keeps_the_explorations_summary_only(tree: Path) -> None:
    opts = session.RunOptions(("c",), versions=("5.1",))
    out, err = io.StringIO(), io.StringIO()
    assert session.run_session(opts, session.Streams(out, err)) == ExitCode.FAIL
    assert err.getvalue() == ""


def test_the_pytest_plugin_collects_an_explored_file_per_kernel(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "s").mkdir()
    (pytester.path / "s" / EXPLORED).write_bytes((FIXTURES / EXPLORED).read_bytes())
    result = pytester.runpytest(
        "--ftscen", "s", "--ftscen-kernel", "5.1,5.3", "-v", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "s/explore-seed-window.yaml::explore-seed-window[[]5.1[]] FAILED*",
            "s/explore-seed-window.yaml::explore-seed-window[[]5.3[]] PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "FAIL  s/explore-seed-window.yaml: 49/49 placements, 3/5 checks hold",
            "  kernel 5.1: FAIL",
            "            witness: window=sites.int3, window_tail=start",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_format_github_annotates_a_failing_check_at_its_line(tree: Path) -> None:
    res = invoke(["run", "c", "--kernel", "5.1,5.3", "--format", "github"])
    assert res.exit_code == ExitCode.FAIL
    found = [t for t in res.stdout.splitlines() if t.startswith("::error")]
    assert found[0].startswith(
        "::error file=c/explore-seed-window.yaml,line=34,col=5,title=ftscen explore [kernel 5.1]::"
        "never: call window: ran [do_IRQ] (holds in 14 of 49 placements); replay: ftscen run "
    )
    assert len(found) == 2
