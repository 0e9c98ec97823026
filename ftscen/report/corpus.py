"""Reporters over a whole run (many scenarios, many kernels): text, table, summary, JSON.

Everything writes to injected streams. The text is the same on a terminal and in a pipe;
on a terminal it is coloured with rich (imported only then), and a progress line is drawn
on stderr when stderr is a terminal (never on stdout, never in a pipe).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ftscen import __version__
from ftscen.core.profile import parse_version
from ftscen.report.golden import GoldenCheck, GoldenStatus, describe
from ftscen.report.records import INCOMPLETE, ExploredRecord, JobResult, RunRecord
from ftscen.report.terminal import Sink
from ftscen.report.text import detail_lines, report_dict, summary_line, verdict_lines
from ftscen.verdicts.evaluate import Outcome

#: Outcomes in the order the summary line names them.
OUTCOMES = (Outcome.PASS, Outcome.FAIL, Outcome.XFAIL, Outcome.XPASS)
#: Golden counts in the order the summary names them; a golden is counted once, under the
#: first that applies (stale goldens whose log also differs are neither "stale" nor "differs"
#: alone, so that neither count hides the other).
GOLDEN_WORDS = {
    "match": "match",
    "differs": "differ",
    "stale": "stale",
    "stale_differs": "stale and differ",
    "missing": "missing",
    "unreadable": "unreadable",
    "unwritable": "unwritable",
    "written": "written",
    "unchanged": "unchanged",
}
_GOLDEN_BAD = ("differs", "stale", "stale_differs", "missing", "unreadable", "unwritable")


# ---- tallies --------------------------------------------------------------------------------
@dataclass
class Tally:
    """Counts over a whole run, for the summary line, JSON and the exit code."""

    scenarios: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    goldens: Counter[str] = field(default_factory=Counter)
    invalid: int = 0
    errors: int = 0
    folders: int = 0  # folders that could not be read
    #: explored kernels a budget cut short before their outcome was known
    incomplete: int = 0

    def add(self, result: JobResult) -> None:
        if result.folder:
            self.folders += 1
            return
        self.scenarios += 1
        self.invalid += bool(result.diagnostics)
        self.errors += result.error is not None
        for run in result.runs:
            self.outcomes[run.outcome] += 1
            if run.golden is not None:
                self.goldens[_golden_word(run)] += 1
        if result.explored is not None:
            for _, word, golden in result.explored.words():
                if word == INCOMPLETE:
                    self.incomplete += 1
                else:
                    self.outcomes[Outcome[word]] += 1
                if golden is not None:
                    self.goldens[_check_word(golden)] += 1

    @property
    def runs(self) -> int:
        """Runs of plain files and explored kernels (each counted once, whatever its
        number of placements)."""
        return sum(self.outcomes.values()) + self.incomplete

    @property
    def failed(self) -> bool:
        return bool(
            self.outcomes[Outcome.FAIL]
            or self.outcomes[Outcome.XPASS]
            or any(self.goldens[b] for b in _GOLDEN_BAD)
        )

    @property
    def unwritten(self) -> int:
        """Goldens that could not be written (an output failure, not a failed check)."""
        return self.goldens["unwritable"]

    def line(self) -> str:
        head = f"{self.scenarios} scenario{'s' if self.scenarios != 1 else ''}"
        if self.runs and self.runs != self.scenarios:
            head += f", {self.runs} run{'s' if self.runs != 1 else ''}"
        parts = [", ".join(f"{self.outcomes[o]} {o.name}" for o in OUTCOMES if self.outcomes[o])]
        parts = [p for p in parts if p]
        if self.incomplete:
            parts.append(f"{self.incomplete} {INCOMPLETE}")
        if self.invalid:
            parts.append(f"{self.invalid} INVALID")
        if self.errors:
            parts.append(f"{self.errors} internal error{'s' if self.errors > 1 else ''}")
        if self.folders:
            parts.append(f"{self.folders} unreadable folder{'s' if self.folders > 1 else ''}")
        if self.goldens:
            said = [f"{self.goldens[w]} {t}" for w, t in GOLDEN_WORDS.items() if self.goldens[w]]
            parts.append("goldens: " + ", ".join(said))
        return f"{head}: " + ("; ".join(parts) or "nothing ran")

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenarios": self.scenarios,
            "runs": self.runs,
            **{o.value: self.outcomes[o] for o in OUTCOMES},
            "incomplete": self.incomplete,
            "invalid": self.invalid,
            "internal_errors": self.errors,
            "unreadable_folders": self.folders,
            "goldens": {w: self.goldens[w] for w in GOLDEN_WORDS if self.goldens[w]},
        }


def _golden_word(run: RunRecord) -> str:
    assert run.golden is not None
    return _check_word(run.golden)


def _check_word(golden: GoldenCheck) -> str:
    if golden.stale:
        return "stale_differs" if golden.status is GoldenStatus.DIFFERS else "stale"
    return golden.status.value


def outcome_word(run: RunRecord) -> str:
    """The word a run's line starts with: its outcome, or ``FAIL (golden)`` when every
    assertion went as expected but its golden did not match."""
    if run.outcome.ok and run.golden is not None and not run.golden.ok:
        return "FAIL (golden)"
    return run.outcome.name


def run_line(run: RunRecord) -> str:
    """The summary line of one run, led by :func:`outcome_word`."""
    text = summary_line(run.report)
    return outcome_word(run) + text[len(run.outcome.name) :]


# ---- what is printed per scenario -----------------------------------------------------------
class LogMode(Enum):
    """Which runs show their callback log in the single-file form."""

    ALWAYS = "always"
    FAILURES = "failures"  # several kernels: the passing ones are in the table


def failure_lines(run: RunRecord) -> list[str]:
    """The failing verdicts of a run, as the text report words them."""
    return [t for v in run.report.verdicts if not v.ok for t in verdict_lines(v)]


def kernel_option(run: RunRecord, versions: Sequence[str] | None) -> str | None:
    return f" --kernel {run.version}" if versions and run.version != run.own_version else None


def golden_lines(run: RunRecord, path: str, versions: Sequence[str] | None) -> list[str]:
    if run.golden is None:
        return []
    return describe(run.golden, path, kernel_option(run, versions))


def emit_run(
    sink: Sink, result: JobResult, run: RunRecord, quiet: bool, versions: Sequence[str] | None
) -> None:
    """Corpus form: the summary line; failing verdicts and golden problems under it.
    ``quiet``: only the runs that failed (a corpus of hundreds is read for its failures)."""
    if quiet and run.ok:
        return
    sink.line(run_line(run), outcome_word(run).split()[0])
    if run.outcome is Outcome.FAIL:  # an XFAIL's failed verdicts are expected
        sink.lines(failure_lines(run))
    if run.golden is not None and not run.golden.ok:
        for t in golden_lines(run, result.path, versions):
            sink.line("  " + t, t[:1] if t[:1] in "+-@" and not t.startswith("golden") else "")


def emit_explored(
    sink: Sink, result: JobResult, quiet: bool, versions: Sequence[str] | None, detailed: bool
) -> None:
    """An explored file: its whole text report (``detailed``: the file was named alone), or
    its summary line with each failing kernel's checks, witnesses and replay commands; then
    the goldens that did not match (all of them, ``detailed``)."""
    from ftscen.report import explore as rx
    from ftscen.report import explored as ex

    rec = result.explored
    assert rec is not None
    if quiet and rec.ok:
        return
    word = ex.head_word(rec)
    if detailed and not quiet:
        sink.lines(rx.render_text(rec.report).rstrip("\n").split("\n")[:-1])
    sink.line(ex.head_line(rec), word.split()[0])
    if not detailed:
        sink.lines(ex.failure_lines(rec))
    for version, golden in ex.goldens(rec):
        if golden.ok and not detailed:
            continue
        kernel = None
        if versions and version != rec.own:
            kernel = f" --kernel {version}"
        for t in describe(golden, result.path, kernel):
            sink.line("  " + t, t[:1] if t[:1] in "+-@" and not t.startswith("golden") else "")


def emit_broken(sink: Sink, result: JobResult, quiet: bool) -> None:
    """A file that could not run: INVALID with its diagnostics, or ERROR (a bug in ftscen)."""
    if result.error is not None:
        sink.line(f"ERROR  {result.path}: internal error: {result.error}", "ERROR")
        return
    if result.folder:
        [diag] = result.diagnostics
        sink.line(f"UNREADABLE  {result.path}: {diag.message} ({diag.hint})", "INVALID")
        return
    from ftscen.core.diagnostics import render_text

    n = len(result.diagnostics)
    sink.line(f"INVALID  {result.path}: {n} problem{'s' if n != 1 else ''}", "INVALID")
    if not quiet:
        blocks = render_text(result.diagnostics).rstrip("\n").split("\n")[:-1]  # no count
        while blocks and not blocks[-1]:
            blocks.pop()
        sink.lines("  " + t if t else "" for t in blocks)


def emit_detailed(
    sink: Sink,
    err: Sink,
    result: JobResult,
    quiet: bool,
    versions: Sequence[str] | None,
    log: LogMode = LogMode.ALWAYS,
) -> None:
    """Single-file form: the log and every assertion (as ``render_text``), then goldens."""
    if result.runs == () and result.error is None:
        from ftscen.core.diagnostics import render_text

        err.stream.write(render_text(result.diagnostics))
        return
    if result.error is not None:
        emit_broken(err, result, quiet)
        return
    for run in result.runs:
        if not quiet:
            sink.lines(
                detail_lines(run.report, show_log=log is LogMode.ALWAYS or not run.outcome.ok)
            )
        sink.line(run_line(run), outcome_word(run).split()[0])
        for t in golden_lines(run, result.path, versions):
            sink.line(t, t[:1] if t[:1] in "+-@" and not t.startswith("golden") else "")


def kernel_rows(results: Sequence[JobResult], versions: Sequence[str]) -> list[list[str]]:
    """Rows = scenarios, one column per version; a golden problem is added to the cell. A run
    under a kernel that is no column (``--kernel all`` runs a file without per-era keys at its
    own kernel only) goes in the column of the era holding it, with its version."""
    rows = [["scenario", *versions]]
    for r in results:
        cells: dict[str, str] = {}
        for run in r.runs:
            column = _column_for(run.version, versions)
            own = "" if column == run.version else f" ({run.version})"
            cells[column] = _cell(run) + own
        for version, word, golden in r.explored.words() if r.explored is not None else ():
            column = _column_for(version, versions)
            own = "" if column == version else f" ({version})"
            if golden is not None and not golden.ok:
                word += f", golden {_check_word(golden).replace('_', ', ')}"
            cells[column] = word + own
        word = "INVALID" if r.diagnostics else ("ERROR" if r.error else "")
        rows.append([r.path, *(cells.get(v, word or "-") for v in versions)])
    return rows


def _column_for(version: str, versions: Sequence[str]) -> str:
    if version in versions:
        return version
    key = parse_version(version)
    earlier = [v for v in versions if key is not None and (parse_version(v) or key) <= key]
    return max(earlier, key=lambda v: parse_version(v) or (0, 0), default=version)


def _cell(run: RunRecord) -> str:
    if run.golden is None or run.golden.ok:
        return run.outcome.name
    word = _golden_word(run)
    return f"{run.outcome.name}, golden {'stale, differs' if word == 'stale_differs' else word}"


# ---- JSON for the whole run -----------------------------------------------------------------
#: The version of the JSON report's shape (``schema/report.schema.json``); raised when a
#: field is removed or changes meaning, not when one is added.
REPORT_FORMAT = 1


def render_json(
    results: Sequence[JobResult],
    tally: Tally,
    versions: Sequence[str] | None,
    interrupted: bool = False,
) -> str:
    """One document: every run (report_dict + golden), every invalid file, the summary.
    ``errors`` repeats all diagnostics in the shape ``ftscen validate --format json`` uses.
    ``kernels`` lists the versions asked with ``--kernel``, or without it the versions the
    scenarios declare (``kernels_from`` says which)."""
    runs, invalid, broken, explorations = [], [], [], []
    for r in results:
        for run in r.runs:
            runs.append({**report_dict(run.report), "golden": run.golden and run.golden.to_json()})
        if r.explored is not None:
            explorations.append(_explored_json(r.explored))
        if r.diagnostics:
            invalid.append({"file": r.path, "errors": [d.to_dict() for d in r.diagnostics]})
        if r.error is not None:
            broken.append({"file": r.path, "error": r.error})
    declared = dict.fromkeys(
        [run.version for r in results for run in r.runs]
        + [k.version for r in results if r.explored for k in r.explored.report.kernels]
    )
    doc = {
        "format": REPORT_FORMAT,
        "ftscen": __version__,
        "interrupted": interrupted,
        "kernels": list(versions) if versions else list(declared),
        "kernels_from": "option" if versions else "scenarios",
        "results": runs,
        "explorations": explorations,
        "invalid": invalid,
        "internal_errors": broken,
        "errors": [e for i in invalid for e in i["errors"]],
        "summary": tally.to_dict(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _explored_json(rec: ExploredRecord) -> dict[str, Any]:
    from ftscen.report import explore as rx
    from ftscen.report.explored import json_entry

    return json_entry(rec, json.loads(rx.render_json(rec.report)))
