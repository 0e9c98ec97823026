"""Stage 1: YAML bytes -> plain data with line marks.

:func:`load_yaml` turns the bytes of a scenario file into plain Python data (dict, list, str,
int, float, bool, None) and remembers, for every value and every mapping key, where it stands
in the file, keyed by JSON path (``$.ops[0].filter[1]`` -> ``(14, 15)``, 1-based).

The file is untrusted input. Bytes that cannot be a scenario (binary, not UTF-8, empty, over
``LIMITS["file_bytes"]``) are refused here. The text is then read on one of two paths that
give the same :class:`Document`:

* the fast path: libyaml (PyYAML's C parser) composes the node graph, and a walk that accepts
  only plain data builds the document. Aliases, merge keys, tags other than the implicit
  ones, keys that are not strings, duplicate keys, deep nesting, and anything libyaml
  complains about make it give up;
* the reference path (:mod:`ftscen.load.compose`): PyYAML's pure-Python parser, which handles
  aliases and merges and turns every problem into a diagnostic.

So a file with a problem is always judged by the reference path, and its diagnostics read the
same whether or not PyYAML was built with libyaml. ``tests/test_load_paths.py`` checks that
both paths agree on every file of the corpus and on generated ones.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.files import wide_encoding
from ftscen.core.model import LIMITS
from ftscen.load.compose import (
    ALIAS_BUDGET,
    AS_TEXT,
    MAP,
    MAX_DEPTH,
    SEQ,
    BadScalar,
    compose_document,
    fail,
    scalar_value,
)
from ftscen.load.document import Document, child_path, split_lines

__all__ = ["ALIAS_BUDGET", "FAST_PATH", "MAX_DEPTH", "load_yaml", "oversize"]

#: Whether this PyYAML has libyaml, and so the fast path.
FAST_PATH: bool = bool(getattr(yaml, "__with_libyaml__", False))


def load_yaml(data: bytes, file: str, *, fast: bool = True) -> Document:
    """Load one scenario file (stage 1).

    Raises :class:`ScenarioInvalid` with every problem found; never lets a YAML exception
    or a traceback through. ``fast=False`` forces the reference path (for tests and
    benchmarks; the result is the same).
    """
    text = _decode(data, file)
    lines = split_lines(text)
    if fast and FAST_PATH:
        doc = _plain_document(text, file, lines)
        if doc is not None:
            return doc
    return compose_document(text, file, lines)


def oversize(file: str, size: int) -> Diagnostic | None:
    """The diagnostic for a file of ``size`` bytes over ``LIMITS["file_bytes"]``, if it is."""
    limit = LIMITS["file_bytes"]
    if size <= limit:
        return None
    return Diagnostic(file, 0, 0, f"the file is {size} bytes; the limit is {limit} bytes "
                      f"({limit >> 20} MiB)", hint="a scenario is a short text file; split it")


def _decode(data: bytes, file: str) -> str:
    too_big = oversize(file, len(data))
    if too_big is not None:
        raise ScenarioInvalid([too_big])
    if not data.strip():
        raise fail(file, 0, 0, "the file is empty",
                   "a scenario needs at least `ftscen: 1`, `functions:` and `timeline:`")
    wide = wide_encoding(data)
    if wide is not None:
        raise fail(file, 0, 0, f"the file is {wide} text; ftscen reads UTF-8",
                   "save the file as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = _byte_position(data, nul)
        raise fail(file, line, col, "this is a binary file (it holds NUL bytes), "
                   "not a YAML scenario", "give ftscen a .yaml text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, col = _byte_position(data, err.start)
        raise fail(file, line, col, f"the file is not UTF-8 text (byte 0x{data[err.start]:02x} "
                   f"at offset {err.start})", "save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


# ---- the fast path: libyaml composes, plain data only ---------------------------------------


class _NotPlain(Exception):
    """The fast path met something only the reference path handles or words."""


#: Text on which libyaml and the pure-Python parser are known to disagree (one refuses what
#: the other reads, or they read it differently; tests/test_load_paths.py found them): tabs,
#: unusual line breaks and a byte order mark inside the text go to the reference path;
_ODD_SPACE = re.compile(r"[\t\x85\u2028\u2029\ufeff]")
#: and so do, where they start a token, the indicators a scenario has no use for (tags,
#: explicit keys, anchors, aliases, reserved indicators, directives) and block scalar
#: headers followed by more than a comment. Inside a scalar (a description quoting C code)
#: or a comment, they are only text. ``#`` after a space starts a comment.
_INDICATOR = re.compile(r"(?<![^\s,\[\]{}])[!?&*@`%]|(?<!\S)[|>][-+0-9]*(?! *$| +#)|(?<!\S)#")


def _plain_document(text: str, file: str, lines: tuple[str, ...]) -> Document | None:
    """The document, if libyaml reads ``text`` as plain data; None to use the reference path."""
    if _ODD_SPACE.search(text):
        return None
    try:
        root = yaml.CSafeLoader(text).get_single_node()
    except Exception:  # noqa: BLE001 - whatever libyaml objects to, the reference path words
        return None
    if root is None:
        return None
    walk = _PlainWalk()
    try:
        value = walk.value(root, "$", 1)
    except _NotPlain:
        return None
    if not _indicators_only_in_text(lines, walk.spans):
        return None
    return Document(file, value, lines, walk.marks, walk.key_marks, walk.raw)


def _indicators_only_in_text(lines: tuple[str, ...],
                             spans: list[tuple[int, int, int, int]]) -> bool:
    """Whether every indicator of :data:`_INDICATOR` is inside a scalar (after its first
    character: a tag or an anchor starts the scalar's span) or in a comment.

    ``spans`` are the scalars' (line, column, end line, end column), 0-based, in file order.
    """
    spans = sorted(spans)
    starts = [(span[0], span[1]) for span in spans]
    for number, line in enumerate(lines):
        for found in _INDICATOR.finditer(line):
            at = (number, found.start())
            i = bisect_right(starts, at) - 1
            inside = i >= 0 and starts[i] < at < spans[i][2:]
            if found.group() == "#" and not inside:
                break  # a comment: the rest of the line is text
            if not inside:
                return False
    return True


class _PlainWalk:
    """Node graph -> data, as :class:`ftscen.load.compose.Builder` does for a plain graph.

    libyaml gives an alias as the anchored node itself, so a node met twice is an alias (and
    a cycle, a node met inside itself): both go to the reference path, which counts and
    locates them. A plain-style scalar has style ``''`` here and ``None`` there.
    """

    def __init__(self) -> None:
        self.marks: dict[str, tuple[int, int]] = {}
        self.key_marks: dict[str, tuple[int, int]] = {}
        self.raw: dict[str, str] = {}
        self.seen: set[int] = set()
        self.spans: list[tuple[int, int, int, int]] = []

    def value(self, node: Node, path: str, depth: int, flow: bool = False) -> Any:
        if depth > MAX_DEPTH or id(node) in self.seen:
            raise _NotPlain
        self.seen.add(id(node))
        start = node.start_mark
        self.marks[path] = (start.line + 1, start.column + 1)
        if type(node) is ScalarNode:
            end = node.end_mark
            self.spans.append((start.line, start.column, end.line, end.column))
            if not node.style:
                if flow and (not node.value or "?" in node.value):
                    # `{a:` then a line break: the parsers mark the null apart; `[sched_?]`:
                    # the pure-Python parser ends a plain scalar at '?' in a flow collection
                    raise _NotPlain
                self.raw[path] = node.value
            try:
                return scalar_value(node)  # raises for tags that are not plain, too
            except BadScalar:
                raise _NotPlain from None
        if type(node) is SequenceNode and node.tag in (SEQ, MAP):
            return [self.value(item, child_path(path, i), depth + 1, bool(node.flow_style))
                    for i, item in enumerate(node.value)]
        if type(node) is MappingNode and node.tag in (SEQ, MAP):
            return self.mapping(node, path, depth)
        raise _NotPlain

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or key_node.tag not in AS_TEXT \
                    or id(key_node) in self.seen:
                raise _NotPlain  # a merge key, a key that is not a string, an alias
            self.seen.add(id(key_node))
            start, end = key_node.start_mark, key_node.end_mark
            self.spans.append((start.line, start.column, end.line, end.column))
            key = key_node.value
            if key in out:
                raise _NotPlain  # a duplicate key
            sub = child_path(path, key)
            self.key_marks[sub] = (start.line + 1, start.column + 1)
            out[key] = self.value(value_node, sub, depth + 1, bool(node.flow_style))
        return out
