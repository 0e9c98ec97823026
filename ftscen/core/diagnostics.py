"""Showing diagnostics to people (text) and to programs (JSON).

Text form, one block per diagnostic, then a count::

    scenarios/x.yaml:14:15: error: unknown function 'do_irq' (did you mean 'do_IRQ'?) [at $.ops[0].filter[1]]
       14 |     filter: [f, do_irq]
          |                 ^
      hint: ...

    1 error

Both forms are deterministic: the same diagnostics give byte-identical output.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence

from ftscen.core.errors import Diagnostic, clip


def render_text(diags: Sequence[Diagnostic]) -> str:
    """Every diagnostic with its source line, caret and hint, then ``N errors``."""
    blocks = [_block(d) for d in diags]
    blocks.append(_count(diags))
    return "\n\n".join(blocks) + "\n"


def render_json(diags: Sequence[Diagnostic]) -> str:
    """``{"errors": [...]}`` with one :meth:`Diagnostic.to_dict` per diagnostic."""
    payload = {"errors": [d.to_dict() for d in diags]}
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Best first: file-level problems, then by line and column; duplicates dropped."""
    unique = list(dict.fromkeys(diags))
    return sorted(unique, key=lambda d: (d.line, d.col, d.path, d.message))


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (case-insensitively), if any is close enough."""
    by_lower: dict[str, str] = {}
    for name in sorted(set(candidates)):
        by_lower.setdefault(name.lower(), name)
    if word in by_lower.values():
        return None
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = did_you_mean(word, candidates)
    return f" (did you mean '{close}'?)" if close else ""


#: Source lines longer than this are shown as a window around the column.
SOURCE_WIDTH = 160


def _block(diag: Diagnostic) -> str:
    lines = [diag.header()]
    if diag.source_line is not None and diag.line > 0:
        number = str(diag.line)
        pad = " " * len(number)
        source, col = _window(diag.source_line.rstrip("\r\n"), max(diag.col - 1, 0))
        # Copy tabs from the source so the caret lines up whatever the tab width.
        lead = "".join(ch if ch == "\t" else " " for ch in source[:col])
        lines.append(f"  {number} | {source}".rstrip())
        lines.append(f"  {pad} | {lead}^")
    if diag.hint:
        lines.append(f"  hint: {clip(diag.hint)}")
    return "\n".join(lines)


def _window(source: str, col: int) -> tuple[str, int]:
    """A long line cut to about :data:`SOURCE_WIDTH` characters around 0-based ``col``,
    marked with '...' where cut, and the column within the cut line."""
    if len(source) <= SOURCE_WIDTH:
        return source, col
    start = max(0, min(col - SOURCE_WIDTH // 2, len(source) - SOURCE_WIDTH))
    end = start + SOURCE_WIDTH
    head = "..." if start > 0 else ""
    tail = "..." if end < len(source) else ""
    return head + source[start:end] + tail, col - start + len(head)


def _count(diags: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diags if d.severity == "error")
    others = len(diags) - errors
    parts = [f"{errors} error{'' if errors == 1 else 's'}"]
    if others:
        parts.append(f"{others} warning{'' if others == 1 else 's'}")
    return ", ".join(parts)
