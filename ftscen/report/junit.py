"""JUnit XML for CI: one ``<testcase>`` per scenario x kernel version.

Mapping (as pytest's junitxml does it): PASS passes; FAIL and XPASS are ``<failure>`` with
the failing assertions as text; XFAIL is ``<skipped>`` with the reason; a golden that differs,
is missing or is stale is a ``<failure>`` too (with the diff); an invalid scenario or an
internal error is an ``<error>``. Times are per run; nothing else varies between runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from xml.etree import ElementTree as ET

from ftscen.report.corpus import failure_lines, golden_lines
from ftscen.report.records import JobResult, RunRecord
from ftscen.report.text import summary_line
from ftscen.verdicts.evaluate import Outcome

# Characters XML 1.0 cannot carry at all (they would make the report unreadable).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def classname(path: str) -> str:
    """``scenarios/dir/x.yaml`` -> ``scenarios.dir.x`` (how CI tools group test cases)."""
    p = PurePosixPath(path)
    parts = [s for s in p.with_suffix("").parts if s not in ("/", ".", "..")]
    return ".".join(parts)


def _case(suite: ET.Element, result: JobResult, name: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(
        suite,
        "testcase",
        classname=classname(result.path),
        name=name,
        file=result.path,
        time=f"{seconds:.3f}",
    )


def _child(case: ET.Element, tag: str, message: str, kind: str, text: str) -> None:
    el = ET.SubElement(case, tag, message=_clean(message), type=kind)
    if text:
        el.text = _clean(text)


def _run_case(
    suite: ET.Element, result: JobResult, run: RunRecord, versions: Sequence[str] | None
) -> str:
    case = _case(suite, result, f"{run.name} [kernel {run.version}]", run.seconds)
    problems, kind = [], "AssertionFailed"
    summary = summary_line(run.report)
    if run.outcome is Outcome.XPASS:
        problems.append(summary)
        kind = "XPASS"
    elif run.outcome is Outcome.FAIL:
        problems += [summary, *failure_lines(run)]
    golden_bad = run.golden is not None and not run.golden.ok
    if golden_bad:
        problems += golden_lines(run, result.path, versions)
        kind = kind if run.outcome in (Outcome.FAIL, Outcome.XPASS) else "GoldenMismatch"
    if problems:
        _child(case, "failure", problems[0], kind, "\n".join(problems))
        return "failure"
    if run.outcome is Outcome.XFAIL:
        _child(case, "skipped", summary, "xfail", "")
        return "skipped"
    return "pass"


def _broken_cases(suite: ET.Element, result: JobResult) -> int:
    from ftscen.core.diagnostics import render_text

    if result.error is not None:
        message, kind, text = f"internal error: {result.error}", "InternalError", result.error
    else:
        first = result.diagnostics[0].header() if result.diagnostics else "invalid scenario"
        message, kind = f"invalid scenario: {first}", "ScenarioInvalid"
        text = render_text(result.diagnostics)
    stem = PurePosixPath(result.path).stem
    names = [f"{stem} [kernel {v}]" for v in result.versions] if result.versions else [stem]
    for name in names:
        _child(_case(suite, result, name), "error", message, kind, text)
    return len(names)


def render(
    results: Sequence[JobResult], versions: Sequence[str] | None = None, suite_name: str = "ftscen"
) -> str:
    """The whole run as a JUnit XML document (one ``<testsuite>`` inside ``<testsuites>``)."""
    root = ET.Element("testsuites", name=suite_name)
    suite = ET.SubElement(root, "testsuite", name=suite_name)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    for result in results:
        if result.runs:
            for run in result.runs:
                kind = _run_case(suite, result, run, versions)
                counts["tests"] += 1
                counts["failures"] += kind == "failure"
                counts["skipped"] += kind == "skipped"
                total += run.seconds
        else:
            n = _broken_cases(suite, result)
            counts["tests"] += n
            counts["errors"] += n
    for el in (root, suite):
        for key, value in counts.items():
            el.set(key, str(value))
        el.set("time", f"{total:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"
