"""Errors and diagnostics.

Bad input is data (:class:`Diagnostic`); exceptions are for aborting a stage and for bugs::

    FtscenError                  root of everything ftscen raises on purpose
    ├── ScenarioInvalid          the file cannot be run; carries Diagnostics (exit 2)
    ├── UsageError               bad command-line use (exit 2)
    └── InternalError            a bug in ftscen (exit 3)

Emulation faults and failed assertions are not exceptions: they are verdicts (exit 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A name is echoed in messages; one of a megabyte would bury the message. Runs of
#: non-space characters longer than this are shown clipped, with their length.
SHOWN_RUN = 120
_LONG_RUN = re.compile(rf"[^\s'(),]{{{SHOWN_RUN + 1},}}")


def clip(text: str) -> str:
    """``text`` with every overlong run (a name, a key, a JSON path) cut in the middle."""
    return _LONG_RUN.sub(lambda m: f"{m[0][:60]}...{m[0][-20:]} ({len(m[0])} characters)",
                         text)


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
        return f"{where}: {self.severity}: {clip(self.message)} [at {clip(self.path)}]"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": clip(self.path),
            "severity": self.severity,
            "message": clip(self.message),
            "hint": clip(self.hint) if self.hint is not None else None,
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
