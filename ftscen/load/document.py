"""The loaded document: plain data plus where each value stands in the file.

Produced by :func:`ftscen.load.loader.load_yaml`, read by the schema check, the semantic checks and
the model builder. Values are addressed by JSON path (``$.ops[0].filter[1]``); marks are
1-based ``(line, column)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ftscen.core.errors import Diagnostic

# The line breaks PyYAML counts when it computes marks (yaml/reader.py, Reader.forward).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Document:
    """A loaded scenario file: its data and where every value came from."""

    file: str
    data: Any
    lines: tuple[str, ...]
    marks: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    key_marks: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    raw: Mapping[str, str] = field(default_factory=dict)

    def mark(self, path: str, *, key: bool = False) -> tuple[int, int]:
        """Line and column of ``path`` (of its key with ``key=True``), else of its nearest
        ancestor that is in the file."""
        while True:
            table = self.key_marks if key else self.marks
            if path in table:
                return table[path]
            if path == "$":
                return (1, 1)
            path, key = parent_path(path), False

    def diagnostic(
        self, path: str, message: str, hint: str | None = None, *, key: bool = False
    ) -> Diagnostic:
        line, col = self.mark(path, key=key)
        return Diagnostic(self.file, line, col, message, path, hint, source_line=self.line(line))

    def line(self, number: int) -> str | None:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else None


def child_path(parent: str, key: str | int) -> str:
    """``$.ops`` + 0 -> ``$.ops[0]``; ``$`` + ``ops`` -> ``$.ops``; odd keys are quoted."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{parent}.{key}"
    quoted = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{parent}['{quoted}']"


_LAST_STEP = re.compile(r"(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\['(?:[^'\\]|\\.)*'\])\Z")


def parent_path(path: str) -> str:
    return _LAST_STEP.sub("", path) if path != "$" else "$"


def split_lines(text: str) -> tuple[str, ...]:
    """Split like PyYAML counts lines, so ``lines[mark.line]`` is the marked line."""
    if text.isascii() and "\r" not in text:  # the usual file: '\n' is the only break
        return tuple(text.split("\n"))
    return tuple(_LINE_BREAK.split(text))
