"""Reporters over a whole run (many scenarios, many kernels): text, table, summary, JSON.

Everything writes to injected streams. The text is the same on a terminal and in a pipe;
on a terminal it is coloured with rich (imported only then), and a progress line is drawn
on stderr when stderr is a terminal (never on stdout, never in a pipe).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import IO, Any

from ftscen import __version__
from ftscen.core.profile import parse_version
from ftscen.report.golden import describe
from ftscen.report.records import JobResult, RunRecord
from ftscen.report.text import detail_lines, report_dict, summary_line, verdict_lines
from ftscen.verdicts.evaluate import Outcome

#: Outcomes in the order the summary line names them.
OUTCOMES = (Outcome.PASS, Outcome.FAIL, Outcome.XFAIL, Outcome.XPASS)
_WORDS = tuple(o.name for o in OUTCOMES)
_STYLES = {
    "PASS": "green",
    "FAIL": "bold red",
    "XFAIL": "yellow",
    "XPASS": "bold magenta",
    "INVALID": "red",
    "ERROR": "bold white on red",
    "+": "green",
    "-": "red",
    "@": "cyan",
    "summary": "bold",
}


class Sink:
    """Lines to a stream; ``kind`` picks a colour when the stream is a terminal."""

    def __init__(
        self, stream: IO[str], color: bool = False, progress: Progress | None = None
    ) -> None:
        self.stream, self.progress = stream, progress
        self._console: Any = None
        if color:
            from rich.console import Console

            self._console = Console(file=stream, highlight=False, soft_wrap=True)

    def line(self, text: str, kind: str = "") -> None:
        if self.progress is not None:
            self.progress.clear()
        if self._console is None or kind not in _STYLES:
            self.stream.write(text + "\n")
        else:
            from rich.text import Text

            word = text.split(maxsplit=1)[0] if kind in _WORDS + ("INVALID", "ERROR") else ""
            styled = Text(text)
            styled.stylize(_STYLES[kind], 0, len(word) or len(text))
            self._console.print(styled)
        self.stream.flush()

    def lines(self, texts: Iterable[str], kind: str = "") -> None:
        for t in texts:
            self.line(t, kind)

    def table(self, rows: Sequence[Sequence[str]]) -> None:
        if self._console is None:
            self.lines(plain_table(rows))
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(*rows[0], box=None, pad_edge=False, header_style="bold")
        for row in rows[1:]:  # Text, not markup: a path may contain [brackets]
            table.add_row(
                Text(row[0]), *(Text(c, _STYLES.get(c.split(",")[0], "")) for c in row[1:])
            )
        if self.progress is not None:
            self.progress.clear()
        self._console.print(table)


class Progress:
    """``[12/120] scenarios/x.yaml`` on one line of a terminal, erased before other output."""

    def __init__(self, stream: IO[str], total: int) -> None:
        self.stream, self.total, self.done, self._shown = stream, total, 0, False

    def advance(self, path: str) -> None:
        self.done += 1
        if self.done < self.total:
            import shutil

            line = f"[{self.done}/{self.total}] {path}"[: shutil.get_terminal_size().columns - 1]
            self.stream.write(f"\r\x1b[K{line}")  # one line only: \r cannot undo a wrap
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def plain_table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


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

    @property
    def runs(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> bool:
        bad = ("differs", "missing", "stale", "unreadable", "unwritable")
        return bool(
            self.outcomes[Outcome.FAIL]
            or self.outcomes[Outcome.XPASS]
            or any(self.goldens[b] for b in bad)
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
        if self.invalid:
            parts.append(f"{self.invalid} INVALID")
        if self.errors:
            parts.append(f"{self.errors} internal error{'s' if self.errors > 1 else ''}")
        if self.folders:
            parts.append(f"{self.folders} unreadable folder{'s' if self.folders > 1 else ''}")
        if self.goldens:
            parts.append(
                "goldens: " + ", ".join(f"{n} {w}" for w, n in sorted(self.goldens.items()))
            )
        return f"{head}: " + ("; ".join(parts) or "nothing ran")

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenarios": self.scenarios,
            "runs": self.runs,
            **{o.value: self.outcomes[o] for o in OUTCOMES},
            "invalid": self.invalid,
            "internal_errors": self.errors,
            "unreadable_folders": self.folders,
            "goldens": dict(sorted(self.goldens.items())),
        }


def _golden_word(run: RunRecord) -> str:
    assert run.golden is not None
    return "stale" if run.golden.stale else run.golden.status.value


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
    """Corpus form: the summary line; failing verdicts and golden problems under it."""
    sink.line(summary_line(run.report), run.outcome.name)
    if not quiet and run.outcome is Outcome.FAIL:  # an XFAIL's failed verdicts are expected
        sink.lines(failure_lines(run))
    if run.golden is not None and not run.golden.ok:
        lines = golden_lines(run, result.path, versions)
        for t in lines[:1] if quiet else lines:
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
        sink.line(summary_line(run.report), run.outcome.name)
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
    return f"{run.outcome.name}, golden {_golden_word(run)}"


# ---- JSON for the whole run -----------------------------------------------------------------
def render_json(results: Sequence[JobResult], tally: Tally, versions: Sequence[str] | None) -> str:
    """One document: every run (report_dict + golden), every invalid file, the summary.
    ``errors`` repeats all diagnostics in the shape ``ftscen validate --format json`` uses."""
    runs, invalid, broken = [], [], []
    for r in results:
        for run in r.runs:
            runs.append({**report_dict(run.report), "golden": _golden_json(run)})
        if r.diagnostics:
            invalid.append({"file": r.path, "errors": [d.to_dict() for d in r.diagnostics]})
        if r.error is not None:
            broken.append({"file": r.path, "error": r.error})
    doc = {
        "ftscen": __version__,
        "kernels": list(versions) if versions else None,
        "results": runs,
        "invalid": invalid,
        "internal_errors": broken,
        "errors": [e for i in invalid for e in i["errors"]],
        "summary": tally.to_dict(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _golden_json(run: RunRecord) -> dict[str, Any] | None:
    g = run.golden
    if g is None:
        return None
    return {"path": g.path, "status": g.status.value, "stale": g.stale, "diff": list(g.diff)}
