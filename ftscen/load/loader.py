"""Stage 1: YAML bytes -> plain data with line marks.

:func:`load_yaml` turns the bytes of a scenario file into plain Python data (dict, list, str,
int, float, bool, None) and remembers, for every value and every mapping key, where it stands
in the file, keyed by JSON path (``$.ops[0].filter[1]`` -> ``(14, 15)``, 1-based).

The file is untrusted input. Bytes that cannot be a scenario (binary, not UTF-8, empty, over
``LIMITS["file_bytes"]``) are refused here. A parser then composes the text into a node graph
and the walker, :func:`ftscen.load.compose.walk`, builds the :class:`Document` from it:

* libyaml (PyYAML's C parser), when PyYAML has it, composes first and the walker reads its
  graph in the plain-data fast mode (:func:`ftscen.load.plain.walk_plain`). Text on which
  libyaml and the pure-Python parser are known to disagree, anything libyaml complains
  about, and anything the fast mode does not accept (aliases, merge keys, tags, duplicate
  keys, ...) go on to:
* PyYAML's pure-Python parser, whose graph keeps aliases apart (so they can be counted and
  located) and whose syntax errors are worded here; the walker's full mode turns every
  problem into a diagnostic.

So a file with a problem is always judged on the pure-Python parser's graph, and its
diagnostics read the same whether or not PyYAML was built with libyaml.
``tests/load/test_load_paths.py`` checks that both parsers give the same result.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import Node, ScalarNode

from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.files import wide_encoding
from ftscen.core.model import LIMITS
from ftscen.load.compose import ALIAS_BUDGET, MAX_DEPTH, AliasNode, NotPlain, mark, source_at, walk
from ftscen.load.document import Document, split_lines
from ftscen.load.plain import walk_plain

__all__ = ["ALIAS_BUDGET", "FAST_PATH", "MAX_DEPTH", "load_yaml", "oversize", "plain_document"]

#: Whether this PyYAML has libyaml, and so the fast path.
FAST_PATH: bool = bool(getattr(yaml, "__with_libyaml__", False))


def load_yaml(data: bytes, file: str, *, fast: bool = True) -> Document:
    """Load one scenario file (stage 1).

    Raises :class:`ScenarioInvalid` with every problem found; never lets a YAML exception
    or a traceback through. ``fast=False`` reads with the pure-Python parser only, as on a
    machine without libyaml (for tests and benchmarks; the result is the same).
    """
    text = _decode(data, file)
    lines = split_lines(text)
    if fast and FAST_PATH:
        doc = plain_document(text, file, lines)
        if doc is not None:
            return doc
    return walk(_compose(text, file, lines), file, lines)


def oversize(file: str, size: int) -> Diagnostic | None:
    """The diagnostic for a file of ``size`` bytes over ``LIMITS["file_bytes"]``, if it is."""
    limit = LIMITS["file_bytes"]
    if size <= limit:
        return None
    return Diagnostic(
        file,
        0,
        0,
        f"the file is {size} bytes; the limit is {limit} bytes ({limit >> 20} MiB)",
        hint="a scenario is a short text file; split it",
    )


def fail(
    file: str, line: int, col: int, message: str, hint: str | None, source: str | None = None
) -> ScenarioInvalid:
    return ScenarioInvalid([Diagnostic(file, line, col, message, "$", hint, source)])


def _decode(data: bytes, file: str) -> str:
    too_big = oversize(file, len(data))
    if too_big is not None:
        raise ScenarioInvalid([too_big])
    if not data.strip():
        raise fail(
            file,
            0,
            0,
            "the file is empty",
            "a scenario needs at least `ftscen: 1`, `functions:` and `timeline:`",
        )
    wide = wide_encoding(data)
    if wide is not None:
        raise fail(
            file, 0, 0, f"the file is {wide} text; ftscen reads UTF-8", "save the file as UTF-8"
        )
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _byte_position(data, nul)
        raise fail(
            file,
            line,
            col,
            "this is a binary file (it holds NUL bytes), not a YAML scenario",
            "give ftscen a .yaml text file",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, col = _byte_position(data, err.start)
        raise fail(
            file,
            line,
            col,
            f"the file is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})",
            "save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


# ---- libyaml and the fast mode ----------------------------------------------------------------


#: Text on which libyaml and the pure-Python parser are known to disagree (one refuses what
#: the other reads, or they read it differently; tests/load/test_load_paths.py found them): tabs,
#: unusual line breaks and a byte order mark inside the text go to the pure-Python parser;
_ODD_SPACE = re.compile(r"[\t\x85\u2028\u2029\ufeff]")
#: and so do, where they start a token, the indicators a scenario has no use for (tags,
#: explicit keys, anchors, aliases, reserved indicators, directives) and block scalar
#: headers followed by more than a comment. Inside a scalar (a description quoting C code)
#: or a comment, they are only text. ``#`` after a space starts a comment. (Lines end at
#: '\r' or '\n': the other breaks are odd space. Each branch starts with its indicator, and
#: looks behind it after, so the regex engine can skip to the next indicator.)
_INDICATOR = re.compile(
    r"[!?&*@`%](?<![^\s,\[\]{}].)|[|>](?<!\S.)[-+0-9]*(?! *(?:[\r\n]|\Z)| +#)"
    r"|#(?<!\S.)"
)
_LINE_END = re.compile(r"\r\n?|\n")
#: Where an indicator may start: the regex engine tries :data:`_INDICATOR`'s branches at
#: every character, which cost more than libyaml's whole parse; a set of characters it
#: skips to quickly. (No branch's match holds one of them after its first character, so
#: the indicators are the candidates :data:`_INDICATOR` matches at.)
_CANDIDATE = re.compile(r"[!?&*@`%|>#]")


class _FastTags(yaml.CSafeLoader):
    """libyaml, with each scalar's implicit tag looked up once per process: the resolver is
    Python, tries a list of regular expressions per scalar and was the loader's largest cost;
    a scenario repeats its names, and a corpus its keys."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = _TAGS.get(key)
        if tag is None:
            if len(_TAGS) > 50_000:
                _TAGS.clear()
            tag = _TAGS[key] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return tag


_TAGS: dict[tuple[type[Node], Any, Any], str] = {}


def plain_document(text: str, file: str, lines: tuple[str, ...]) -> Document | None:
    """The document, if libyaml reads ``text`` as plain data the walker's fast mode accepts;
    None to read it with the pure-Python parser."""
    if "\t" in text if text.isascii() else _ODD_SPACE.search(text):
        return None
    try:
        root = _FastTags(text).get_single_node()
    except Exception:  # noqa: BLE001 - whatever libyaml objects to, the pure-Python parser words
        return None
    if root is None:
        return None
    scalars: list[ScalarNode] = []
    try:
        doc = walk_plain(root, file, lines, scalars)
    except NotPlain:
        return None
    return doc if _indicators_only_in_text(text, scalars) else None


def _indicators_only_in_text(text: str, scalars: list[ScalarNode]) -> bool:
    """Whether every indicator of :data:`_INDICATOR` is inside a scalar (after its first
    character: a tag or an anchor starts the scalar's span) or in a comment.

    ``scalars`` are in file order: the fast mode walks a graph without aliases or merges.
    """
    starts: list[int] = []
    comment_end = -1
    for candidate in _CANDIDATE.finditer(text):
        if candidate.start() < comment_end:
            continue
        found = _INDICATOR.match(text, candidate.start())
        if found is None:
            continue
        if not starts:  # only for files that have indicators
            starts = [0] + [end.end() for end in _LINE_END.finditer(text)]
        line = bisect_right(starts, found.start()) - 1
        at = (line, found.start() - starts[line])
        i = bisect_right(scalars, at, key=_start) - 1
        inside = i >= 0 and _start(scalars[i]) < at < _end(scalars[i])
        if found.group() == "#" and not inside:  # a comment: the rest of the line is text
            comment_end = starts[line + 1] if line + 1 < len(starts) else len(text)
        elif not inside:
            return False
    return True


def _start(node: Node) -> tuple[int, int]:
    return node.start_mark.line, node.start_mark.column


def _end(node: Node) -> tuple[int, int]:
    return node.end_mark.line, node.end_mark.column


# ---- the pure-Python parser: aliases kept apart, nesting bounded, errors worded -------------


class _LoadError(Exception):
    def __init__(self, message: str, mark: Any, hint: str | None) -> None:
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


class _Composer(yaml.SafeLoader):
    """``SafeLoader`` that keeps aliases as :class:`AliasNode` and bounds nesting."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            self.get_event()  # type: ignore[no-untyped-call]
            anchor = str(event.anchor)
            if anchor not in self.anchors:
                raise _LoadError(
                    f"alias *{anchor} names no anchor",
                    event.start_mark,
                    f"define `&{anchor}` on a value before using `*{anchor}`",
                )
            return AliasNode(anchor, self.anchors[anchor], event.start_mark, event.end_mark)
        if event.anchor is not None and event.anchor in self.anchors:
            first = self.anchors[event.anchor].start_mark.line + 1
            raise _LoadError(
                f"anchor &{event.anchor} is defined twice (first on line {first})",
                event.start_mark,
                "give each anchor its own name",
            )
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _LoadError(
                f"values are nested more than {MAX_DEPTH} levels deep",
                event.start_mark,
                "a scenario needs only a few levels of nesting",
            )
        try:
            node: Node | None = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        assert node is not None
        return node


_SYNTAX_HINTS: tuple[tuple[str, str], ...] = (
    (
        "mapping values are not allowed",
        "a ': ' inside a plain value starts a mapping: quote it, or fix the indentation",
    ),
    ("'\\t'", "indent with spaces: YAML does not allow tabs"),
    ("could not find expected ':'", "each key needs ': ' after it; check the line above too"),
    ("found character '*'", "a value starting with '*' is read as an alias: quote it"),
    (
        "but got '?'",
        (
            "inside [ ... ] or { ... } a '?' ends the entry: quote globs that hold "
            "one, e.g. ['sched_?']"
        ),
    ),
    ("expected ',' or ']'", "close the [ ... ] list, and quote entries that hold ': ' or ','"),
    ("expected ',' or '}'", "close the { ... } mapping, and quote values that hold ': ' or ','"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
)


def _syntax_hint(problem: str) -> str:
    for needle, hint in _SYNTAX_HINTS:
        if needle in problem:
            return hint
    return "check the indentation and quoting on this line and the one before"


def _compose(text: str, file: str, lines: tuple[str, ...]) -> Node:
    """The node graph of ``text`` by the pure-Python parser; every YAML error a diagnostic."""
    loader: _Composer | None = None
    try:
        loader = _Composer(text)
        return _single_document(loader, file, lines)
    except _LoadError as err:
        line, col = mark(err.mark)
        raise fail(file, line, col, err.message, err.hint, source_at(lines, line)) from None
    except yaml.MarkedYAMLError as err:
        line, col = mark(err.problem_mark or err.context_mark)
        problem = err.problem or err.context or "malformed YAML"
        hint = _syntax_hint(problem)
        if err.context and err.problem and err.context_mark:
            hint += f" ({err.context} on line {err.context_mark.line + 1})"
        raise fail(
            file, line, col, f"YAML syntax error: {problem}", hint, source_at(lines, line)
        ) from None
    except yaml.reader.ReaderError as err:
        line, col = _text_position(text, err.position)
        raise fail(
            file,
            line,
            col,
            f"the file holds the control character "
            f"U+{err.character:04X}, which YAML does not allow",
            "remove it (only tab, newline and printable characters may appear)",
            source_at(lines, line),
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _single_document(loader: _Composer, file: str, lines: tuple[str, ...]) -> Node:
    if not loader.check_node():
        raise fail(
            file,
            0,
            0,
            "the file is empty (it holds only comments)",
            "a scenario needs at least `ftscen: 1`, `functions:` and `timeline:`",
        )
    root: Node | None = loader.get_node()
    assert root is not None
    if loader.check_node():
        line, col = mark(loader.peek_event().start_mark)  # type: ignore[no-untyped-call]
        raise fail(
            file,
            line,
            col,
            "the file holds a second YAML document",
            "a scenario is one document: remove the '---' line or split the file",
            source_at(lines, line),
        )
    return root


def _text_position(text: str, offset: int) -> tuple[int, int]:
    lines = split_lines(text[:offset])
    return len(lines), len(lines[-1]) + 1
