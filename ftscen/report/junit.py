"""JUnit XML for CI: one ``<testcase>`` per scenario x kernel version (and one more for its
golden, when goldens are compared).

Mapping (as pytest's junitxml does it): PASS passes; FAIL and XPASS are ``<failure>`` with
the failing assertions as text; XFAIL is ``<skipped>`` with the reason; an invalid scenario or
an internal error is an ``<error>``. A golden is its own test case (``NAME [kernel V] golden``)
so that a CI page lists an assertion that failed and a log that changed as two problems; a
golden that differs, is missing or is stale is a ``<failure>`` there, with the diff.

The document keeps to the strict JUnit schema (junit-10.xsd, as CI servers validate it): a
test case has only ``name``, ``classname`` and ``time``; ``skipped`` is counted on the
``<testsuite>``, not on ``<testsuites>``. A run stopped by Ctrl-C is marked on the suite with
the property ``interrupted=true`` and says so in its ``<system-err>``. Times are per run;
nothing else varies between runs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from xml.etree import ElementTree as ET

from ftscen.report.corpus import failure_lines, golden_lines
from ftscen.report.explore import held_text
from ftscen.report.records import INCOMPLETE, ExploredRecord, JobResult, RunRecord
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
        suite, "testcase", classname=classname(result.path), name=name, time=f"{seconds:.3f}"
    )


def _child(case: ET.Element, tag: str, message: str, kind: str, text: str) -> None:
    el = ET.SubElement(case, tag, message=_clean(message), type=kind)
    if text:
        el.text = _clean(text)


def _run_case(suite: ET.Element, result: JobResult, run: RunRecord) -> str:
    case = _case(suite, result, _run_name(run), run.seconds)
    summary = summary_line(run.report)
    if run.outcome is Outcome.XPASS:
        _child(case, "failure", summary, "XPASS", summary)
        return "failure"
    if run.outcome is Outcome.FAIL:
        problems = [summary, *failure_lines(run)]
        _child(case, "failure", summary, "AssertionFailed", "\n".join(problems))
        return "failure"
    if run.outcome is Outcome.XFAIL:
        _child(case, "skipped", summary, "xfail", "")
        return "skipped"
    return "pass"


def _golden_case(
    suite: ET.Element, result: JobResult, run: RunRecord, versions: Sequence[str] | None
) -> str:
    case = _case(suite, result, _run_name(run) + " golden")
    if run.golden is None or run.golden.ok:
        return "pass"
    lines = golden_lines(run, result.path, versions)
    _child(case, "failure", lines[0], "GoldenMismatch", "\n".join(lines))
    return "failure"


def _explored_cases(
    suite: ET.Element, result: JobResult, rec: ExploredRecord, versions: Sequence[str] | None
) -> list[str]:
    """An explored file: one case per check and kernel, named as ``ftscen run FILE --junit``
    names it (``TITLE [kernel V]``); a failure's text is its replay command and its
    witness's log. An XFAIL kernel's failing checks are skipped; every check of a kernel
    cut short by the budget, and every check the placements run leave undecided, is
    skipped, saying so; an XPASS kernel adds a failing case
    ``NAME [kernel V] xfail``; a golden is a case ``NAME [kernel V] golden``."""
    from ftscen.report.golden import describe

    kinds = []
    name = rec.report.scenario
    for k, (version, word, golden) in zip(rec.report.kernels, rec.words(), strict=True):
        for c in k.checks:
            case = _case(suite, result, f"{c.title} [kernel {version}]")
            if word == INCOMPLETE or c.incomplete:
                cut = f"exploration incomplete: {k.covered} of {k.size} placements run"
                if c.incomplete:
                    cut += f"; {held_text(c)}"
                _child(case, "skipped", cut, "incomplete", "")
                kinds.append("skipped")
            elif c.ok:
                kinds.append("pass")
            elif word == "XFAIL":
                _child(case, "skipped", f"xfail: {c.title}", "xfail", "")
                kinds.append("skipped")
            else:
                held = held_text(c)
                text = "" if c.witness is None else "\n".join([c.witness.replay, *c.witness.log])
                _child(case, "failure", held, "AssertionFailed", text)
                kinds.append("failure")
        if word == "XPASS":
            case = _case(suite, result, f"{name} [kernel {version}] xfail")
            said = "marked xfail, but every check holds in every placement"
            _child(case, "failure", said, "XPASS", said)
            kinds.append("failure")
        if golden is not None:
            case = _case(suite, result, f"{name} [kernel {version}] golden")
            kinds.append("pass")
            if not golden.ok:
                option = f" --kernel {version}" if versions and version != rec.own else None
                lines = describe(golden, result.path, option)
                _child(case, "failure", lines[0], "GoldenMismatch", "\n".join(lines))
                kinds[-1] = "failure"
    return kinds


def _run_name(run: RunRecord) -> str:
    return f"{run.name} [kernel {run.version}]"


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
    results: Sequence[JobResult],
    versions: Sequence[str] | None = None,
    suite_name: str = "ftscen",
    interrupted: bool = False,
) -> str:
    """The whole run as a JUnit XML document (one ``<testsuite>`` inside ``<testsuites>``)."""
    root = ET.Element("testsuites", name=suite_name)
    suite = ET.SubElement(root, "testsuite", name=suite_name)
    if interrupted:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="interrupted", value="true")
    counts: Counter[str] = Counter()
    total = 0.0
    for result in results:
        kinds = [_run_case(suite, result, run) for run in result.runs]
        kinds += [_golden_case(suite, result, r, versions) for r in result.runs if r.golden]
        if result.explored is not None:
            kinds = _explored_cases(suite, result, result.explored, versions)
        elif not result.runs:
            kinds = ["error"] * _broken_cases(suite, result)
        counts.update(kinds)
        total += sum(run.seconds for run in result.runs)
        total += result.explored.seconds if result.explored is not None else 0.0
    if interrupted:
        note = ET.SubElement(suite, "system-err")
        note.text = (
            "interrupted (Ctrl-C or SIGTERM): this report covers only the scenarios that finished"
        )
    tally = {
        "tests": sum(counts.values()),
        "failures": counts["failure"],
        "errors": counts["error"],
    }
    for el in (root, suite):
        el.attrib.update({k: str(v) for k, v in tally.items()}, time=f"{total:.3f}")
    suite.set("skipped", str(counts["skipped"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"
