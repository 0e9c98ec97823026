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

import re
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What ``ftscen`` exits with; a whole run takes the worst of its scenarios."""

    OK = 0  # every assertion held (or an xfail scenario failed as expected)
    FAIL = 1  # an assertion failed, a fault happened, a golden differs, an xfail passed
    INVALID = 2  # a scenario or the command line is invalid
    INTERNAL = 3  # a bug in ftscen
    OUTPUT = 4  # an output could not be written (stdout closed or full, a golden, --junit)
    INCOMPLETE = 5  # an exploration ran out of --max-placements or --max-time first
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # stdout's reader went away (128 + SIGPIPE), quietly
    TERMINATED = 143  # SIGTERM (128 + SIGTERM)


#: A name is echoed in messages; one of a megabyte would bury the message. Runs of
#: non-space characters longer than this are shown clipped, with their length.
SHOWN_RUN = 120
_LONG_RUN = re.compile(rf"[^\s'(),]{{{SHOWN_RUN + 1},}}")


def clip(text: str) -> str:
    """``text`` with every overlong run (a name, a key, a JSON path) cut in the middle."""
    return _LONG_RUN.sub(lambda m: f"{m[0][:60]}...{m[0][-20:]} ({len(m[0])} characters)", text)


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


class IntegrityError(InternalError):
    """Emulated state is not what the model put there (the event ring's pointer, an event
    record, text the patcher is about to rewrite), checked the way the kernel's
    ``ftrace_bug()`` checks a call site before changing it. The run stops here: results read
    from corrupted state would be wrong, not merely failing."""

    def __init__(self, check: str, detail: str, kernel: str | None = None) -> None:
        under = f" under kernel {kernel}" if kernel else ""
        super().__init__(f"integrity check '{check}' failed{under}: {detail}")
        self.check, self.detail, self.kernel = check, detail, kernel
