"""Stage 1, the reference path: PyYAML's pure-Python parser, every problem a diagnostic.

:func:`compose_document` reads the text with PyYAML's pure-Python ``SafeLoader`` (only
*composing* it: a node graph, nothing is constructed) and :class:`Builder` turns the nodes
into plain data with marks. Every problem becomes a :class:`~ftscen.core.errors.Diagnostic`,
raised together in one :class:`ScenarioInvalid`: YAML syntax errors, several documents,
duplicate keys, keys that are not strings, unsupported tags, values that do not fit their
tag, aliases that expand past :data:`ALIAS_BUDGET` nodes (a "billion laughs" file) and
nesting deeper than :data:`MAX_DEPTH`.

This path is the reference for what a file means and for the wording of every diagnostic;
:mod:`ftscen.load.loader` tries a faster libyaml path first and comes here for anything that is
not plain data, so the messages are the same on machines with and without libyaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.load.document import Document, child_path, split_lines

#: Nodes that aliases may add to the document beyond the nodes written in the file.
ALIAS_BUDGET = 10_000
#: Deepest nesting of mappings and sequences accepted (a scenario needs about 6).
MAX_DEPTH = 64
#: Integers beyond 64 bits are refused: no scenario value needs one, and Python cannot even
#: print integers of more than 4300 digits (which hex, octal and 1:2:3 forms can reach).
INT_BITS = 64

_TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
SEQ, MAP, MERGE, TIMESTAMP = (_TAG + t for t in ("seq", "map", "merge", "timestamp"))
#: The only tags a scenario may carry (explicitly or by YAML's implicit resolution).
VALUE = _TAG + "value"
PLAIN_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, SEQ, MAP, MERGE, TIMESTAMP, VALUE})
_KEY_KINDS = {BOOL: "a boolean", INT: "an integer", FLOAT: "a number", NULL: "null"}
#: Dates and YAML 1.1's "=" scalar stay the text they were written as.
AS_TEXT = frozenset({STR, TIMESTAMP, VALUE})
_SCALARS = {
    INT: SafeConstructor.construct_yaml_int,
    FLOAT: SafeConstructor.construct_yaml_float,
    BOOL: SafeConstructor.construct_yaml_bool,
    NULL: SafeConstructor.construct_yaml_null,
}
# Stateless for scalars: the construct_yaml_* functions only read the node's text.
_CONSTRUCTOR = SafeConstructor()


class BadScalar(ValueError):
    """A scalar whose text does not fit its tag (``!!int abc``), or an integer too large."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def scalar_value(node: ScalarNode) -> Any:
    """The plain value of a scalar node with a tag of :data:`PLAIN_TAGS`.

    Raises :class:`BadScalar` when the text does not fit the tag. PyYAML's constructors
    raise ``ValueError``, ``KeyError`` (``!!bool maybe``), ``IndexError`` (``!!int ''``) or
    ``OverflowError`` (``!!float 1:59:59:...``, past the largest float) for those; all of
    them mean the same to a user.
    """
    if node.tag in AS_TEXT:
        return node.value
    build = _SCALARS.get(node.tag)
    try:
        if build is None:  # !!seq, !!map or !!merge on a scalar
            raise ValueError(node.tag)
        value = build(_CONSTRUCTOR, node)
    except (ValueError, LookupError, ArithmeticError, yaml.YAMLError):
        raise BadScalar(f"{shorten(node.value)} is not a valid {show_tag(node.tag)}",
                        "remove the tag or fix the value") from None
    if isinstance(value, int) and value.bit_length() > INT_BITS:
        raise BadScalar(f"the number {shorten(node.value)} is too large (more than "
                        f"{INT_BITS} bits)", "no scenario value needs a number this large; "
                        "check the value")
    return value


def shorten(text: str, limit: int = 40) -> str:
    """``repr`` of ``text``, cut to about ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def show_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def mark(mark: Any) -> tuple[int, int]:
    """A PyYAML mark (0-based) as 1-based ``(line, column)``; (0, 0) for none."""
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


def source_at(lines: tuple[str, ...], line: int) -> str | None:
    return lines[line - 1] if 0 < line <= len(lines) else None


def fail(file: str, line: int, col: int, message: str, hint: str | None,
         source: str | None = None) -> ScenarioInvalid:
    return ScenarioInvalid([Diagnostic(file, line, col, message, "$", hint, source)])


# ---- entry point --------------------------------------------------------------------------


def compose_document(text: str, file: str, lines: tuple[str, ...]) -> Document:
    """Read decoded text into a :class:`Document` with the pure-Python parser.

    Raises :class:`ScenarioInvalid` with every problem found; never lets a YAML exception
    or a traceback through.
    """
    root = _compose(text, file, lines)
    builder = Builder(file, lines)
    value = builder.value(root, "$", 0)
    if builder.problems:
        raise ScenarioInvalid(builder.problems)
    return Document(file, value, lines, builder.marks, builder.key_marks, builder.raw)


# ---- composing: PyYAML builds the node graph, nothing is constructed ------------------------


class _LoadError(Exception):
    def __init__(self, message: str, mark: Any, hint: str | None) -> None:
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


class _AliasNode(Node):
    """An alias kept apart from its anchor, so expansions can be counted and located."""

    id = "alias"

    def __init__(self, anchor: str, target: Node, start_mark: Any, end_mark: Any) -> None:
        super().__init__(target.tag, target.value, start_mark, end_mark)
        self.target = target
        self.anchor = anchor


class _Composer(yaml.SafeLoader):
    """``SafeLoader`` that keeps aliases as :class:`_AliasNode` and bounds nesting."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            self.get_event()  # type: ignore[no-untyped-call]
            anchor = str(event.anchor)
            if anchor not in self.anchors:
                raise _LoadError(f"alias *{anchor} names no anchor", event.start_mark,
                                 f"define `&{anchor}` on a value before using `*{anchor}`")
            return _AliasNode(anchor, self.anchors[anchor], event.start_mark, event.end_mark)
        if event.anchor is not None and event.anchor in self.anchors:
            first = self.anchors[event.anchor].start_mark.line + 1
            raise _LoadError(f"anchor &{event.anchor} is defined twice (first on line {first})",
                             event.start_mark, "give each anchor its own name")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _LoadError(f"values are nested more than {MAX_DEPTH} levels deep",
                             event.start_mark, "a scenario needs only a few levels of nesting")
        try:
            node: Node | None = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        assert node is not None
        return node


_SYNTAX_HINTS: tuple[tuple[str, str], ...] = (
    ("mapping values are not allowed",
     "a ': ' inside a plain value starts a mapping: quote it, or fix the indentation"),
    ("'\\t'", "indent with spaces: YAML does not allow tabs"),
    ("could not find expected ':'", "each key needs ': ' after it; check the line above too"),
    ("found character '*'", "a value starting with '*' is read as an alias: quote it"),
    ("but got '?'", ("inside [ ... ] or { ... } a '?' ends the entry: quote globs that hold "
                     "one, e.g. ['sched_?']")),
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
        raise fail(file, line, col, f"YAML syntax error: {problem}", hint,
                   source_at(lines, line)) from None
    except yaml.reader.ReaderError as err:
        line, col = _text_position(text, err.position)
        raise fail(file, line, col, f"the file holds the control character "
                   f"U+{err.character:04X}, which YAML does not allow",
                   "remove it (only tab, newline and printable characters may appear)",
                   source_at(lines, line)) from None
    finally:
        if loader is not None:
            loader.dispose()


def _single_document(loader: _Composer, file: str, lines: tuple[str, ...]) -> Node:
    if not loader.check_node():
        raise fail(file, 0, 0, "the file is empty (it holds only comments)",
                   "a scenario needs at least `ftscen: 1`, `functions:` and `timeline:`")
    root: Node | None = loader.get_node()
    assert root is not None
    if loader.check_node():
        line, col = mark(loader.peek_event().start_mark)  # type: ignore[no-untyped-call]
        raise fail(file, line, col, "the file holds a second YAML document",
                   "a scenario is one document: remove the '---' line or split the file",
                   source_at(lines, line))
    return root


def _text_position(text: str, offset: int) -> tuple[int, int]:
    lines = split_lines(text[:offset])
    return len(lines), len(lines[-1]) + 1


# ---- building plain data from nodes --------------------------------------------------------


class Builder:
    """Walks the node graph into plain data, collecting marks and problems."""

    def __init__(self, file: str, lines: tuple[str, ...]) -> None:
        self.file, self.lines = file, lines
        self.marks: dict[str, tuple[int, int]] = {}
        self.key_marks: dict[str, tuple[int, int]] = {}
        self.raw: dict[str, str] = {}
        self.problems: list[Diagnostic] = []
        self._reported: set[Diagnostic] = set()
        self.expanded = 0
        self.outer_alias: Node | None = None
        self.outer_path = "$"
        self.open: set[int] = set()

    def diagnostic(self, node: Node, path: str, message: str, hint: str | None) -> Diagnostic:
        line, col = mark(node.start_mark)
        return Diagnostic(self.file, line, col, message, path, hint, source_at(self.lines, line))

    def problem(self, node: Node, path: str, message: str, hint: str | None) -> None:
        found = self.diagnostic(node, path, message, hint)
        if found not in self._reported:
            self._reported.add(found)
            self.problems.append(found)

    def abort(self, node: Node, path: str, message: str, hint: str) -> ScenarioInvalid:
        return ScenarioInvalid(self.problems + [self.diagnostic(node, path, message, hint)])

    def value(self, node: Node, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.abort(node, path, f"aliases nest values more than {MAX_DEPTH} levels "
                             "deep", "use fewer nested aliases")
        if isinstance(node, _AliasNode):
            return self.alias(node, path, depth)
        if self.outer_alias is not None:
            self.count_expansion()
        self.marks.setdefault(path, mark(node.start_mark))
        if node.tag not in PLAIN_TAGS:
            self.problem(node, path, f"the tag {show_tag(node.tag)} is not allowed",
                         "scenario files hold plain data (strings, numbers, booleans, lists, "
                         "mappings); remove the tag")
            return None
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return self.sequence(node, path, depth)
        assert isinstance(node, ScalarNode)
        return self.scalar(node, path)

    def alias(self, node: _AliasNode, path: str, depth: int) -> Any:
        if id(node.target) in self.open:
            self.problem(node, path, f"alias *{node.anchor} is used inside its own anchor",
                         "a value cannot contain itself; write it out")
            return None
        outer = self.outer_alias is None
        if outer:
            self.outer_alias, self.outer_path = node, path
        try:
            return self.value(node.target, path, depth)
        finally:
            if outer:
                self.outer_alias = None

    def count_expansion(self) -> None:
        self.expanded += 1
        if self.expanded > ALIAS_BUDGET:
            assert self.outer_alias is not None
            raise self.abort(self.outer_alias, self.outer_path, f"aliases expand to more than "
                             f"{ALIAS_BUDGET} values (a 'billion laughs' file?)",
                             "write the values out, or use far fewer nested aliases")

    def scalar(self, node: ScalarNode, path: str) -> Any:
        if node.style is None:
            self.raw[path] = node.value
        try:
            return scalar_value(node)
        except BadScalar as bad:
            self.problem(node, path, bad.message, bad.hint)
            return None

    def sequence(self, node: SequenceNode, path: str, depth: int) -> list[Any]:
        self.open.add(id(node))
        try:
            return [self.value(item, child_path(path, i), depth + 1)
                    for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.open.add(id(node))
        try:
            self.entries(node, out, path, depth, explicit=True)
            for alias, source in self.merge_sources(node, path, {id(node)}, set()):
                previous = self.outer_alias, self.outer_path
                if self.outer_alias is None:
                    self.outer_alias, self.outer_path = alias, path
                try:
                    self.entries(source, out, path, depth, explicit=False)
                finally:
                    self.outer_alias, self.outer_path = previous
        finally:
            self.open.discard(id(node))
        return out

    def entries(self, node: MappingNode, out: dict[str, Any], path: str, depth: int,
                explicit: bool) -> None:
        """Add ``node``'s own entries; merged entries never replace existing keys."""
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                continue
            key = self.key(key_node, path)
            if key is None:
                continue
            sub = child_path(path, key)
            if key in first_line and explicit:
                self.problem(key_node, sub, f"duplicate key '{key}' (first on line "
                             f"{first_line[key]})", "remove one of the two entries")
                continue
            first_line[key] = key_node.start_mark.line + 1
            if not explicit:
                self.count_expansion()  # merged keys are copies too, even when skipped
                if key in out:
                    continue
            self.key_marks[sub] = mark(key_node.start_mark)
            out[key] = self.value(value_node, sub, depth + 1)

    def key(self, node: Node, path: str) -> str | None:
        target = node.target if isinstance(node, _AliasNode) else node
        if isinstance(target, ScalarNode) and target.tag in AS_TEXT:
            return str(target.value)
        if isinstance(target, ScalarNode):
            kind = _KEY_KINDS.get(target.tag, show_tag(target.tag))
            hint = f"quote it: {shorten(target.value)}"
            if target.tag == BOOL:
                hint += " (YAML 1.1 reads yes, no, on and off as booleans)"
            self.problem(node, path, f"keys must be strings; {shorten(target.value)} is read "
                         f"as {kind}", hint)
        else:
            self.problem(node, path, "keys must be strings, not lists or mappings",
                         "write a plain word as the key")
        return None

    def merge_sources(self, node: MappingNode, path: str, chain: set[int],
                      merged: set[int]) -> Iterator[tuple[Node, MappingNode]]:
        """The mappings merged into ``node`` by ``<<`` keys, nearest first (YAML merge key
        type: earlier sources win over later ones, a source's own keys over its merges).

        A source met a second time adds nothing (its keys, and its sources' keys, are all
        in already), so it is skipped: without that, sources that each merge the one before
        twice would take exponential time."""
        for key_node, value_node in node.value:
            if key_node.tag != MERGE:
                continue
            target = value_node.target if isinstance(value_node, _AliasNode) else value_node
            items = target.value if isinstance(target, SequenceNode) else [value_node]
            for item in items:
                source = item.target if isinstance(item, _AliasNode) else item
                if not isinstance(source, MappingNode):
                    self.problem(item, path, "'<<' merges only mappings",
                                 "write `<<: *anchor` where the anchor names a mapping")
                elif id(source) in chain:
                    self.problem(item, path, "'<<' merges a mapping into itself",
                                 "merge another mapping, or write the keys out")
                elif id(source) not in merged:
                    merged.add(id(source))
                    yield item, source
                    yield from self.merge_sources(source, path, chain | {id(source)}, merged)
