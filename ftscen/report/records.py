"""What a corpus run hands its reporters: one record per scenario x kernel, one result per file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ftscen.core.errors import Diagnostic
from ftscen.report.golden import GoldenCheck


@dataclass(frozen=True)
class RunRecord:
    """One scenario under one kernel version, reduced to what the reporters print."""

    version: str
    own_version: str
    name: str
    outcome: str  # PASS, FAIL, XFAIL, XPASS
    summary: str
    text: str  # report.render_text (with or without the log, per Job.want_log)
    failures: tuple[str, ...]  # the failing verdicts, as report.verdict_lines
    golden: GoldenCheck | None = None
    data: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome in ("PASS", "XFAIL") and (self.golden is None or self.golden.ok)


@dataclass(frozen=True)
class JobResult:
    """All kernels of one file, or why it could not run (diagnostics or an internal error)."""

    path: str
    runs: tuple[RunRecord, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    error: str | None = None
    versions: tuple[str, ...] | None = field(default=None)
    folder: bool = False  # not a file: a folder that could not be read (its diagnostic says)
