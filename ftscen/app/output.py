"""What the ``ftscen`` process does when its surroundings fail: outputs and signals.

A failed write to standard output or standard error is not a bug in ftscen, so it must not
be reported as one (exit 3), and a traceback or "Exception ignored" at shutdown is worse.
:func:`guarded` wraps the console entry point and is the one place that handles them:

* the reader of stdout went away (``ftscen run DIR | head -1``): quiet, exit 141, the status
  a shell gives a process killed by SIGPIPE (what ``yes | head -1`` does to ``yes``);
* stdout is closed (``>&-``), full (``> /dev/full``) or fails otherwise: one line on stderr
  naming the stream and the OS's reason, exit 4 (before anything runs when it is closed);
* SIGTERM ends the run as Ctrl-C does (workers stopped, no golden half written), exit 143.

How: the standard streams are re-opened over a raw writer that turns an ``OSError`` into
:class:`OutputFailure`, a ``BaseException`` like ``KeyboardInterrupt``, so it passes every
``except Exception`` (which would call it a bug) on its way out, wherever the write was.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from ftscen.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from ftscen.report.records import JobResult


class OutputFailure(BaseException):
    """A standard stream could not be written: not an error of ftscen, ends the process."""

    def __init__(self, stream: str, error: OSError) -> None:
        super().__init__(stream, error)
        self.stream, self.error = stream, error


class Terminated(BaseException):
    """SIGTERM arrived: stop as for Ctrl-C (cleanups run), exit 143."""


class _GuardedRaw(io.RawIOBase):
    """fd writes whose OSError becomes OutputFailure once; later writes are dropped (so the
    stream's buffer can be flushed and freed quietly at exit)."""

    def __init__(self, fd: int, stream: str) -> None:
        super().__init__()
        self._fd, self._stream, self._failed = fd, stream, False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: ReadableBuffer) -> int:
        if self._failed:
            return memoryview(data).nbytes
        try:
            return os.write(self._fd, data)
        except OSError as exc:
            self._failed = True
            raise OutputFailure(self._stream, exc) from None


def guarded(main: Callable[[], None]) -> Callable[[], None]:
    """The console entry point ``main``, with output failures and SIGTERM handled here."""

    @functools.wraps(main)
    def entry() -> None:
        sys.exit(run_guarded(main))

    return entry


def run_guarded(main: Callable[[], None]) -> int:
    """Run ``main`` (which ends with ``sys.exit``) and return the exit status."""
    if _is_closed(sys.stdout):
        _say("ftscen: error: standard output is closed; send it to a file or to /dev/null\n")
        return ExitCode.OUTPUT
    saved = sys.stdout, sys.stderr
    old_term = _on_sigterm()
    try:
        # stderr closed (2>&-): what it would say is lost, the exit status still tells
        err = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # noqa: SIM115
        sys.stdout, sys.stderr = (
            _guard(sys.stdout, "standard output"),
            _guard(err, "standard error"),
        )
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = _status(exc.code)
        for stream in (sys.stdout, sys.stderr):  # a full disk shows at the last flush
            if stream is not None:
                stream.flush()
        return code
    except OutputFailure as failure:
        return _failed(failure)
    except Terminated:
        return ExitCode.TERMINATED
    finally:
        sys.stdout, sys.stderr = saved
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _failed(failure: OutputFailure) -> int:
    if failure.error.errno == errno.EPIPE:
        return ExitCode.BROKEN_PIPE
    if failure.stream != "standard error":  # else there is nowhere left to say it
        _say(
            f"ftscen: error: cannot write to {failure.stream}: "
            f"{failure.error.strerror or failure.error}\n"
        )
    return ExitCode.OUTPUT


def _status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    _say(f"{code}\n")
    return 1


def _is_closed(stream: IO[str] | None) -> bool:
    """No stream at all (Python saw fd 1 closed at start), or one whose descriptor is gone."""
    if stream is None:
        return True
    try:
        os.fstat(stream.fileno())
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False  # not a file: a test's capture, an embedding program's own object
    except OSError:
        return True
    return False


def _guard(stream: IO[str] | None, name: str) -> IO[str] | None:
    """``stream`` re-opened over a guarded raw writer; as it was if it is no file (a test's
    capture, an embedding program's own object)."""
    if stream is None or not isinstance(stream, io.TextIOWrapper):
        return stream
    try:
        fd = stream.fileno()
        stream.flush()
    except (OSError, ValueError):
        return stream
    buffered = io.BufferedWriter(_GuardedRaw(fd, name))
    return io.TextIOWrapper(
        buffered,
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering,
        write_through=stream.write_through,
    )


def _on_sigterm() -> Callable[[int, FrameType | None], Any] | int | None:
    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    try:
        return signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals to whoever owns it
        return None


def _say(text: str) -> None:
    """To stderr's descriptor directly; if that fails too, there is nobody to tell."""
    try:
        os.write(2, text.encode("utf-8", "replace"))
    except OSError:
        pass


# ---- colour -----------------------------------------------------------------------------------
def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wants_color(mode: str, terminal: bool, environ: Mapping[str, str]) -> bool:
    """``--color always|never`` decides; ``auto`` colours a terminal unless NO_COLOR is set
    (non-empty, as no-color.org says), and FORCE_COLOR (non-empty, not ``0``) colours a pipe
    too (a CI log that renders colour). NO_COLOR wins over FORCE_COLOR: not colouring is the
    safe side when both are set."""
    if mode != "auto":
        return mode == "always"
    if environ.get("NO_COLOR", ""):
        return False
    if environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return terminal


def check_junit_path(path: str) -> None:
    """Refuse, before anything runs, a --junit path that can never be written as a file."""
    target = Path(path)
    if not path.strip():
        raise UsageError("--junit needs a file name, e.g. --junit ftscen-report.xml")
    if os.path.isdir(target):
        raise UsageError(
            f"--junit: {path} is a folder; name a file in it, e.g. "
            f"--junit {(target / 'ftscen-report.xml').as_posix()}"
        )
    if not os.path.isdir(target.parent):
        raise UsageError(f"--junit: directory {target.parent.as_posix()} does not exist")


def check_html_option(path: str) -> None:
    """--html with no file name, or without Jinja2 to render it: a usage error."""
    from ftscen.report.html import HtmlUnavailable, require

    if not path.strip():
        raise UsageError("--html needs a file name, e.g. --html ftscen-report.html")
    try:
        require()
    except HtmlUnavailable as exc:
        raise UsageError(str(exc)) from None


def html_path_ok(path: str, err: IO[str]) -> bool:
    """Refuse, before anything runs, an --html path that cannot be written as a file (a
    folder, a missing or read-only directory, a read-only file); False after saying why.
    Naming the file is asking for it, so an existing file is replaced."""
    target = Path(path)
    problem = ""
    if os.path.isdir(target):
        example = (target / "ftscen-report.html").as_posix()
        problem = f"{path} is a folder; name a file in it, e.g. --html {example}"
    elif not os.path.isdir(target.parent):
        problem = f"directory {target.parent.as_posix()} does not exist"
    elif not os.access(target.parent, os.W_OK | os.X_OK):
        problem = f"directory {target.parent.as_posix()} is not writable"
    elif os.path.exists(target) and not os.access(target, os.W_OK):
        problem = f"{path} is not writable"
    if problem:
        err.write(f"ftscen: error: --html: {problem}\n")
    return not problem


def write_html(
    path: str, results: Sequence[JobResult], versions: Sequence[str] | None, err: IO[str]
) -> bool:
    """Write the page atomically; False (and why, on ``err``) when the OS refuses."""
    from ftscen.report import html
    from ftscen.report.golden import write_atomic

    try:
        write_atomic(Path(path), html.render(results, versions))
    except OSError as exc:
        err.write(f"ftscen: error: cannot write the HTML report {path}: {exc.strerror or exc}\n")
        return False
    return True
