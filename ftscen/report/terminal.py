"""What a terminal shows of a run: coloured lines and a one-line progress report.

Colour and progress are decided by the caller (``--color``, NO_COLOR, FORCE_COLOR, whether
stderr is a terminal); this module only draws. rich is imported only when colour is on, so a
plain run (a pipe, CI) never pays for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

#: Words that start a line and the style they get; other kinds style the whole line.
STYLES = {
    "PASS": "green",
    "FAIL": "bold red",
    "XFAIL": "yellow",
    "XPASS": "bold magenta",
    "INCOMPLETE": "yellow",
    "INVALID": "red",
    "ERROR": "bold white on red",
    "+": "green",
    "-": "red",
    "@": "cyan",
    "summary": "bold",
}
_WORDED = ("PASS", "FAIL", "XFAIL", "XPASS", "INCOMPLETE", "INVALID", "ERROR")


class Sink:
    """Lines to a stream; ``kind`` picks a colour when colour is on."""

    def __init__(
        self, stream: IO[str], color: bool = False, progress: Progress | None = None
    ) -> None:
        self.stream, self.progress = stream, progress
        self._console: Any = None
        if color:
            from rich.console import Console

            # Decided by the caller: rich must not second-guess it from the environment.
            self._console = Console(
                file=stream,
                highlight=False,
                soft_wrap=True,
                force_terminal=True,
                no_color=False,
                color_system="standard",
            )

    def line(self, text: str, kind: str = "") -> None:
        if self.progress is not None:
            self.progress.clear()
        if self._console is None or kind not in STYLES:
            self.stream.write(text + "\n")
        else:
            from rich.text import Text

            word = text.split(maxsplit=1)[0] if kind in _WORDED and text else ""
            styled = Text(text)
            styled.stylize(STYLES[kind], 0, len(word) or len(text))
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
                Text(row[0]), *(Text(c, STYLES.get(c.split(",")[0], "")) for c in row[1:])
            )
        if self.progress is not None:
            self.progress.clear()
        self._console.print(table)


def plain_table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


class Progress:
    """``[12/120] 3.1/s ETA 0:35  11 PASS 1 FAIL  path`` on one line of a terminal, cut to
    its width (a wrapped line cannot be erased with ``\\r``) and erased before other output."""

    def __init__(
        self,
        stream: IO[str],
        total: int,
        width: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.total, self.done = stream, total, 0
        self.passed = self.failed = 0
        self._width, self._clock = width or _terminal_width, clock
        self._start, self._shown = clock(), False

    def advance(self, path: str, ok: bool) -> None:
        """One more file done (``ok``: all its runs passed or failed as expected)."""
        self.done += 1
        self.passed += ok
        self.failed += not ok
        if self.done < self.total:
            line = self.text(path)[: max(self._width() - 1, 0)]
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()
            self._shown = True

    def text(self, path: str) -> str:
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        eta = _clock_time((self.total - self.done) / rate) if rate > 0 else "?"
        counts = f"{self.passed} PASS" + (f" {self.failed} FAIL" if self.failed else "")
        return f"[{self.done}/{self.total}] {rate:.1f}/s ETA {eta}  {counts}  {path}"

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def _clock_time(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02}:{s % 60:02}" if s >= 3600 else f"{s // 60}:{s % 60:02}"


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size().columns
