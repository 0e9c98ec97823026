"""Outputs other tools read: the JSON report against schema/report.schema.json, the JUnit
file against the strict JUnit schema, and GitHub workflow commands."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from jsonschema import Draft202012Validator
from support import FIXTURES, NOT_CI, REPO, copy_fixture, invoke

from ftscen.app import session
from ftscen.report.github import command, escape_data, escape_property
from ftscen.report.golden import GoldenMode

REPORT_SCHEMA = json.loads((REPO / "schema" / "report.schema.json").read_text())


def run_json(*paths: str, **options: Any) -> dict[str, Any]:
    opts = session.RunOptions(tuple(paths), json=True, jobs=2, **options)
    out, err = io.StringIO(), io.StringIO()
    session.run_session(opts, session.Streams(out, err))
    doc: dict[str, Any] = json.loads(out.getvalue())
    return doc


def problems(doc: dict[str, Any]) -> list[str]:
    found = Draft202012Validator(REPORT_SCHEMA).iter_errors(doc)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in found]


# ---- JSON ------------------------------------------------------------------------------------
def test_the_report_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(REPORT_SCHEMA)
    assert REPORT_SCHEMA["$id"].startswith("https://")


def test_the_json_report_of_every_corpus_scenario_fits_the_schema() -> None:
    doc = run_json(
        str(REPO / "scenarios"), str(REPO / "scenarios" / "invalid"), golden=GoldenMode.COMPARE
    )
    assert problems(doc) == []
    assert doc["format"] == 1 and doc["interrupted"] is False
    assert doc["kernels_from"] == "scenarios" and doc["kernels"]  # never null
    yaml = sorted(REPO.glob("scenarios/*.yaml"))
    assert len(doc["results"]) + len(doc["explorations"]) == len(yaml) and doc["invalid"]
    assert doc["explorations"]  # the explored seed, explored
    assert all(r["golden"]["status"] == "match" for r in doc["results"])
    assert all(k["golden"]["status"] == "match" for e in doc["explorations"] for k in e["kernels"])


def test_the_json_report_under_several_kernels_fits_the_schema() -> None:
    doc = run_json(str(REPO / "scenarios"), versions=("5.1", "6.6"))
    assert problems(doc) == []
    assert doc["kernels"] == ["5.1", "6.6"] and doc["kernels_from"] == "option"
    assert {r["outcome"] for r in doc["results"]} >= {"pass", "fail"}


def test_a_document_with_the_old_shapes_does_not_fit() -> None:
    """The schema is strict enough to catch what issue reports called wrong."""
    doc = run_json(str(FIXTURES / "filter-notrace.yaml"))
    assert problems(doc) == []
    patch = next(e for e in doc["results"][0]["events"] if e["kind"] == "patch")
    patch["change"] = f"{patch.pop('from')} -> {patch.pop('to')}"
    result = next(e for e in doc["results"][0]["events"] if e["kind"] == "result")
    result["errno"] = "0"
    doc["kernels"] = None
    assert len(problems(doc)) == 3


def _events(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for r in doc["results"] for e in r["events"] if e["kind"] == kind]


def test_json_events_say_what_the_text_log_says(tmp_path: Path) -> None:
    seed = copy_fixture("seed-livepatch-tracer-window.yaml", tmp_path)
    doc = run_json(str(seed), versions=("5.1", "5.3"))
    text = "".join(invoke(["run", str(seed), "--kernel", v]).stdout for v in ("5.1", "5.3"))
    steps = _events(doc, "step")
    first = {k: steps[0][k] for k in ("action", "args", "id")}
    assert first == {"action": "register", "args": {"ops": "livepatch"}, "id": None}
    assert steps[1]["action"] == "call" and steps[1]["args"] == {"func": "do_IRQ", "cpu": 1}
    for p in _events(doc, "patch"):
        assert f"patch {p['site']}: {p['from']} -> {p['to']}" in text
    int3 = _events(doc, "int3")
    assert {e["action"] for e in int3} == {"emulate call", "resume"}
    for e in int3:  # the same words as the log
        assert (
            f"int3 at {e['ip']}: {e['action']}{' at' if e['action'] == 'resume' else ''} " in text
        )
    assert {json.dumps(e["errno"]) for e in _events(doc, "result")} == {
        '{"name": null, "number": 0}'
    }


def test_an_errno_is_the_kernels_name_and_number(tmp_path: Path) -> None:
    doc = run_json(str(REPO / "scenarios" / "r2-glob-matching-nothing-einval.yaml"))
    errnos = [e["errno"] for e in _events(doc, "result")]
    assert {"name": "EINVAL", "number": 22} in errnos


# ---- JUnit -----------------------------------------------------------------------------------
# The strict JUnit schema, junit-10.xsd, as CI servers (Jenkins' xUnit plugin) validate it:
# jenkinsci/xunit-plugin, src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/
# junit-10.xsd (MIT licence). Its rules, element by element: the attributes each may have,
# those it must have, and the elements it may contain (text is allowed only where marked).
_JUNIT_10: dict[str, tuple[set[str], set[str], set[str], bool]] = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}, False),
    "testsuite": (
        {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp"}
        | {"hostname", "id", "package", "file", "log", "url"},
        {"name", "tests", "failures", "errors"},
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
        False,
    ),
    "testcase": (
        {"name", "time", "classname", "group"},
        {"name"},
        {"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure"}
        | {"flakyError", "system-out", "system-err"},
        False,
    ),
    "failure": ({"type", "message"}, set(), set(), True),
    "error": ({"type", "message"}, set(), set(), True),
    "skipped": ({"type", "message"}, set(), set(), True),
    "properties": (set(), set(), {"property"}, False),
    "property": ({"name", "value"}, {"name", "value"}, set(), False),
    "system-out": (set(), set(), set(), True),
    "system-err": (set(), set(), set(), True),
}
# xs:simpleType SUREFIRE_TIME, the type of `time` on testsuite and testsuites
_SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def junit_problems(xml: str) -> list[str]:
    root = ET.fromstring(xml)
    found = [] if root.tag == "testsuites" else [f"root element is {root.tag}"]
    for el in root.iter():
        if el.tag not in _JUNIT_10:
            found.append(f"unknown element {el.tag}")
            continue
        allowed, required, children, text = _JUNIT_10[el.tag]
        found += [f"{el.tag}: attribute {a} not allowed" for a in set(el.attrib) - allowed]
        found += [f"{el.tag}: attribute {a} missing" for a in required - set(el.attrib)]
        found += [f"{el.tag}: child {c.tag} not allowed" for c in el if c.tag not in children]
        if not text and (el.text or "").strip():
            found.append(f"{el.tag}: text not allowed")
        timed = el.tag in ("testsuite", "testsuites") and "time" in el.attrib
        if timed and not _SUREFIRE_TIME.fullmatch(el.attrib["time"]):
            found.append(f"{el.tag}: time {el.attrib['time']!r} is no SUREFIRE_TIME")
    return found


def test_the_validator_rejects_what_the_old_report_wrote() -> None:
    old = (
        '<testsuites name="ftscen" skipped="0"><testsuite name="ftscen" tests="1" '
        'failures="0" errors="0"><testcase classname="a" name="a" file="a.yaml" time="0.1"/>'
        "</testsuite></testsuites>"
    )
    assert junit_problems(old) == [
        "testsuites: attribute skipped not allowed",
        "testcase: attribute file not allowed",
    ]


def test_the_junit_of_a_failing_corpus_run_fits_the_strict_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("failing-filter.yaml", "xfail-skip-window.yaml", "filter-notrace.yaml"):
        copy_fixture(name, tmp_path / "c")
    (tmp_path / "c" / "invalid").mkdir()
    (tmp_path / "c" / "invalid" / "broken.yaml").write_text("ftscen: 1\nfunctions: []\n")
    assert invoke(["run", "c", "--update-golden"], env=NOT_CI).exit_code == 1
    golden = tmp_path / "c" / "failing-filter.golden"
    golden.write_text(golden.read_text().replace("outcome: FAIL", "outcome: PASS"))
    result = invoke(
        ["run", "c", "c/invalid", "--kernel", "6.6,5.3", "--golden", "--junit", "r.xml"]
    )
    assert result.exit_code == 2
    xml = (tmp_path / "r.xml").read_text()
    assert junit_problems(xml) == []
    _fits_the_xsd(tmp_path / "r.xml")
    cases = {c.get("name"): c for c in ET.fromstring(xml).iter("testcase")}
    # an assertion failure and a golden diff of one run are two entries
    run = cases["failing-filter [kernel 6.6]"].find("failure")
    gold = cases["failing-filter [kernel 6.6] golden"].find("failure")
    assert run is not None and run.get("type") == "AssertionFailed"
    assert gold is not None and gold.get("type") == "GoldenMismatch"
    assert "call outside" in (run.text or "") and "golden" not in (run.text or "")
    assert "-outcome: PASS" in (gold.text or "")
    assert list(cases["filter-notrace [kernel 6.6] golden"]) == []  # a golden that matches


#: The strict JUnit schema itself (junit-10.xsd, from the Jenkins xunit plugin, MIT), as pytest
#: ships it in its source distribution; .ci/run fetches it from PyPI and names it here. It is
#: not kept in this repository.
JUNIT_XSD = os.environ.get("FTSCEN_JUNIT_XSD", "")


def _fits_the_xsd(report: Path) -> None:
    """``report`` validates against junit-10.xsd, when the file is at hand (always in CI)."""
    if not JUNIT_XSD:
        if os.environ.get("CI") == "true":
            pytest.fail("FTSCEN_JUNIT_XSD is not set: .ci/run fetches junit-10.xsd")
        return  # the rules above still ran; the XSD run needs the file (see .ci/run)
    import xmlschema

    xmlschema.XMLSchema(JUNIT_XSD).validate(str(report))


def test_the_xsd_check_rejects_what_the_old_report_wrote(tmp_path: Path) -> None:
    if not JUNIT_XSD and os.environ.get("CI") != "true":
        pytest.skip("junit-10.xsd not at hand: set FTSCEN_JUNIT_XSD (.ci/run shows how)")
    old = tmp_path / "old.xml"
    old.write_text(
        '<testsuites name="ftscen" skipped="0"><testsuite name="ftscen" tests="1" '
        'failures="0" errors="0"><testcase classname="a" name="a" file="a.yaml" time="0.1"/>'
        "</testsuite></testsuites>"
    )
    import xmlschema

    with pytest.raises(xmlschema.XMLSchemaValidationError):
        _fits_the_xsd(old)


# ---- GitHub ----------------------------------------------------------------------------------
def test_workflow_command_values_are_escaped_as_github_reads_them() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"
    line = command("x\n::error::forged", "dir/a,line=9.yaml", 3, 5, "t: 1")
    assert line == (
        "::error file=dir/a%2Cline=9.yaml,line=3,col=5,title=t%3A 1::x%0A::error::forged"
    )
    assert "\n" not in line


def test_format_github_annotates_failed_assertions_and_invalid_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    copy_fixture("failing-filter.yaml", tmp_path / "c")
    (tmp_path / "c" / "invalid").mkdir()
    (tmp_path / "c" / "invalid" / "broken.yaml").write_text("ftscen: 1\nfunctions: []\n")
    result = invoke(["run", "c", "c/invalid", "--format", "github"])
    assert result.exit_code == 2
    lines = [t for t in result.stdout.splitlines() if t.startswith("::")]
    assert lines[0].startswith(
        "::error file=c/failing-filter.yaml,line=14,col=5,title=ftscen [kernel 6.6]::"
        "call outside: called [T]: expected "
    )
    assert lines[1] == (
        "::error file=c/invalid/broken.yaml,line=1,col=1,title=ftscen%3A invalid scenario::"
        "a scenario needs the key 'timeline' (add `timeline:` (ordered steps: patcher actions "
        "and calls))"
    )
    assert result.stdout.startswith("FAIL  c/failing-filter.yaml")  # the text report stays
