"""Errors and diagnostics.

Bad input is data (:class:`Diagnostic`); exceptions are for aborting a stage and for bugs::

    FtscenError                  root of everything ftscen raises on purpose
    ├── ScenarioInvalid          the file cannot be run; carries Diagnostics (exit 2)
    ├── UsageError               bad command-line use (exit 2)
    └── InternalError            a bug in ftscen (exit 3)
        └── IntegrityError       emulated state failed a consistency check: the run
                                 cannot be trusted, so it gives no PASS or FAIL

Emulation faults and failed assertions are not exceptions: they are verdicts (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What ``ftscen`` exits with; a whole run takes the worst of its scenarios."""

    OK = 0  # every assertion held (or an xfail scenario failed as expected)
    FAIL = 1  # an assertion failed, a fault happened, a golden differs, an xfail passed
    INVALID = 2  # a scenario or the command line is invalid
    INTERNAL = 3  # a bug in ftscen


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a scenario file, with where it is and how to fix it."""

    file: str
    line: int
    col: int
    message: str
    path: str = "$"
    hint: str | None = None
    source_line: str | None = None
    severity: str = "error"

    def header(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message} [at {self.path}]"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.path,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


class FtscenError(Exception):
    """Root of ftscen's own exceptions."""


class ScenarioInvalid(FtscenError):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics[0].header() if diagnostics else "invalid scenario")
        self.diagnostics = diagnostics


class UsageError(FtscenError):
    """Bad command-line use: exit 2 with the message."""


class InternalError(FtscenError):
    """A bug in ftscen: exit 3 with a one-line report."""


class IntegrityError(InternalError):
    """Emulated state is not what the model put there (the event ring's pointer, an event
    record, text the patcher is about to rewrite), checked the way the kernel's
    ``ftrace_bug()`` checks a call site before changing it. The run stops here: results read
    from corrupted state would be wrong, not merely failing."""

    def __init__(self, check: str, detail: str, kernel: str | None = None) -> None:
        under = f" under kernel {kernel}" if kernel else ""
        super().__init__(f"integrity check '{check}' failed{under}: {detail}")
        self.check, self.detail, self.kernel = check, detail, kernel
