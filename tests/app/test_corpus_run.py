"""Corpus runs: discovery, shards, jobs, JUnit, JSON and the kernel table."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from support import FIXTURES, copy_fixture, invoke

from ftscen.app import corpus, session
from ftscen.core.errors import UsageError


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """b/ and a/ with scenarios, a broken file under invalid/, YAML in a hidden dir."""
    monkeypatch.chdir(tmp_path)
    copy_fixture("filter-notrace.yaml", tmp_path / "b")
    copy_fixture("ipmodify-exclusive.yaml", tmp_path / "a", "z.yml")
    copy_fixture("text-poke-new-insn.yaml", tmp_path / "a" / "deep")
    copy_fixture("seed-livepatch-tracer-window.yaml", tmp_path / "a")
    (tmp_path / "a" / "notes.txt").write_text("not a scenario\n")
    (tmp_path / "a" / "invalid").mkdir()
    (tmp_path / "a" / "invalid" / "broken.yaml").write_text("ftscen: 1\nfunctions: []\n")
    copy_fixture("filter-notrace.yaml", tmp_path / ".cache")
    return tmp_path


def names(paths: list[Path]) -> list[str]:
    return [p.as_posix() for p in paths]


def test_directories_are_searched_recursively_and_sorted_skipping_invalid_and_hidden(tree):
    assert names(corpus.discover(["."])) == [
        "a/deep/text-poke-new-insn.yaml",
        "a/seed-livepatch-tracer-window.yaml",
        "a/z.yml",
        "b/filter-notrace.yaml",
    ]


def test_arguments_keep_their_order_and_a_file_named_twice_runs_once(tree):
    found = corpus.discover(["b", "a/z.yml", "a", "./b/filter-notrace.yaml"])
    assert names(found) == [
        "b/filter-notrace.yaml",
        "a/z.yml",
        "a/deep/text-poke-new-insn.yaml",
        "a/seed-livepatch-tracer-window.yaml",
    ]


def test_an_invalid_directory_given_explicitly_is_searched(tree):
    assert names(corpus.discover(["a/invalid"])) == ["a/invalid/broken.yaml"]
    result = invoke(["run", "a/invalid"])
    assert result.exit_code == 2
    assert result.stdout.startswith("INVALID  a/invalid/broken.yaml: ")
    assert result.stdout.splitlines()[-1] == "1 scenario: 1 INVALID"


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_are_disjoint_complete_and_balanced(n: int):
    items = [Path(f"s{i:02}.yaml") for i in range(20)]
    shards = [corpus.shard(items, k, n) for k in range(1, n + 1)]
    flat = [p for s in shards for p in s]
    assert sorted(flat) == items and len(flat) == len(set(flat))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0", ""])
def test_bad_shard_specs_are_usage_errors(text: str):
    with pytest.raises(UsageError):
        corpus.parse_shard(text)


def test_shard_runs_only_its_files_and_the_shards_cover_the_corpus(tree):
    seen = []
    for k in (1, 2, 3):
        result = invoke(["run", ".", "--shard", f"{k}/3"])
        assert result.exit_code == 0, result.output
        seen += re.findall(r"^PASS  (\S+)", result.stdout, re.MULTILINE)
    assert sorted(seen) == sorted(names(corpus.discover(["."])))
    assert invoke(["run", ".", "--shard", "4/3"]).exit_code == 2


def test_one_line_per_scenario_and_a_summary(tree):
    result = invoke(["run", "."])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "PASS  a/deep/text-poke-new-insn.yaml [kernel 5.10]: 11/11 assertions hold",
        "PASS  a/seed-livepatch-tracer-window.yaml [kernel 5.3]: 9/9 assertions hold",
        "PASS  a/z.yml [kernel 6.6]: 8/8 assertions hold",
        "PASS  b/filter-notrace.yaml [kernel 6.6]: 10/10 assertions hold",
        "",
        "4 scenarios: 4 PASS",
    ]


def test_a_failing_scenario_in_a_corpus_shows_its_failed_assertions(tree):
    copy_fixture("failing-filter.yaml", tree / "b")
    result = invoke(["run", "b"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL  b/failing-filter.yaml [kernel 6.6]: 1/2 assertions hold"
    assert lines[1].startswith("  FAIL  b/failing-filter.yaml:14:5: call outside: called [T]")
    assert lines[-1] == "2 scenarios: 1 PASS, 1 FAIL"


def test_jobs_print_exactly_what_a_serial_run_prints(tree):
    copy_fixture("failing-filter.yaml", tree / "b")
    serial = invoke(["run", ".", "a/invalid", "--kernel", "5.1,6.6"])
    parallel = invoke(["run", ".", "a/invalid", "--kernel", "5.1,6.6", "--jobs", "3"])
    assert serial.exit_code == parallel.exit_code == 2
    assert parallel.stdout == serial.stdout


def test_junit_has_one_case_per_scenario_and_kernel_with_failures_and_errors(tree):
    copy_fixture("failing-filter.yaml", tree / "b")
    copy_fixture("xfail-skip-window.yaml", tree / "b")
    result = invoke(["run", "b", "a/invalid", "--kernel", "5.1,6.6", "--junit", "r.xml"])
    assert result.exit_code == 2
    root = ET.parse("r.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8",
        "failures": "3",
        "errors": "2",
        "skipped": "1",
    }
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert sorted(cases) == sorted(
        [
            "broken [kernel 5.1]",
            "broken [kernel 6.6]",
            "failing-filter [kernel 5.1]",
            "failing-filter [kernel 6.6]",
            "filter-notrace [kernel 5.1]",
            "filter-notrace [kernel 6.6]",
            "xfail-skip-window [kernel 5.1]",
            "xfail-skip-window [kernel 6.6]",
        ]
    )
    failure = cases["failing-filter [kernel 6.6]"].find("failure")
    assert failure is not None and "call outside: called [T]" in (failure.text or "")
    assert cases["xfail-skip-window [kernel 6.6]"].find("failure").get("type") == "XPASS"
    assert cases["xfail-skip-window [kernel 5.1]"].find("skipped") is not None
    assert cases["broken [kernel 5.1]"].find("error").get("type") == "ScenarioInvalid"
    assert cases["filter-notrace [kernel 5.1]"].get("classname") == "b.filter-notrace"
    assert list(cases["filter-notrace [kernel 5.1]"]) == []


def test_json_is_one_document_for_the_whole_run(tree):
    result = invoke(["run", "b", "a/invalid", "--format", "json", "--kernel", "5.1,6.6"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["kernels"] == ["5.1", "6.6"]
    assert [(r["file"], r["kernel"]["version"], r["outcome"]) for r in doc["results"]] == [
        ("b/filter-notrace.yaml", "5.1", "pass"),
        ("b/filter-notrace.yaml", "6.6", "pass"),
    ]
    assert doc["results"][0]["events"][0]["kind"] == "step"
    assert doc["invalid"][0]["file"] == "a/invalid/broken.yaml"
    assert doc["errors"] == doc["invalid"][0]["errors"] and doc["errors"]
    assert doc["summary"] == {
        "scenarios": 2,
        "runs": 2,
        "incomplete": 0,
        "pass": 2,
        "fail": 0,
        "xfail": 0,
        "xpass": 0,
        "invalid": 1,
        "internal_errors": 0,
        "unreadable_folders": 0,
        "goldens": {},
    }


def test_several_kernels_give_a_table_with_one_column_per_version(tree):
    copy_fixture("i386-regs-caller-window.yaml", tree / "b")
    result = invoke(["run", "b", "a/invalid", "--kernel", "5.1,5.3", "-q"])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    start = lines.index(next(t for t in lines if t.startswith("scenario ")))
    table = [t.split() for t in lines[start : start + 4]]
    assert table == [
        ["scenario", "5.1", "5.3"],
        ["b/filter-notrace.yaml", "PASS", "PASS"],
        ["b/i386-regs-caller-window.yaml", "FAIL", "PASS"],
        ["a/invalid/broken.yaml", "INVALID", "INVALID"],
    ]
    assert lines[-1] == "3 scenarios, 4 runs: 3 PASS, 1 FAIL; 1 INVALID"


def test_an_empty_directory_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    result = invoke(["run", "empty"])
    assert result.exit_code == 2
    assert "no scenario files (*.yaml, *.yml) under empty" in result.stderr


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_outcomes_are_coloured_and_progress_goes_to_stderr_only(
    tree, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TERM", "xterm-256color")
    for var in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    opts = session.RunOptions(("a", "b"))
    out, err = FakeTerminal(), FakeTerminal()
    assert session.run_session(opts, session.Streams.of(out, err)) == 0
    assert "\x1b[32mPASS\x1b[0m  a/z.yml [kernel 6.6]: 8/8 assertions hold" in out.getvalue()
    assert re.search(
        r"\[1/4\] [0-9.]+/s ETA [0-9]+:[0-9]{2}  1 PASS  a/deep/text-poke-new-insn.yaml",
        err.getvalue(),
    )
    assert err.getvalue().endswith("\r\x1b[K")  # the progress line is erased at the end
    plain_out, plain_err = io.StringIO(), io.StringIO()
    assert session.run_session(opts, session.Streams.of(plain_out, plain_err)) == 0
    assert re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()) == plain_out.getvalue()
    assert plain_err.getvalue() == ""


def test_the_summary_says_1_run_not_1_runs():
    from ftscen.app.pipeline import check_file
    from ftscen.core.errors import Diagnostic
    from ftscen.report.corpus import Tally
    from ftscen.report.records import JobResult, RunRecord

    fixture = FIXTURES / "filter-notrace.yaml"
    [rep] = check_file(fixture)
    tally = Tally()
    tally.add(JobResult("a.yaml", (RunRecord.of(rep, None, 0.0),)))
    tally.add(JobResult("b.yaml", diagnostics=(Diagnostic("b.yaml", 0, 0, "the file is empty"),)))
    assert tally.line() == "2 scenarios, 1 run: 1 PASS; 1 INVALID"
