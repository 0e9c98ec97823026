"""Stage 1, the walker: a YAML node graph -> plain data with line marks.

:func:`walk` (with its fast mode) is where a composed YAML document becomes a
:class:`~ftscen.load.document.Document`: plain data (dict, list, str, int, float, bool,
None), the 1-based mark of every value and key by JSON path, and the source text of plain
scalars. It reads graphs of either parser :mod:`ftscen.load.loader` uses: libyaml's, and
PyYAML's pure-Python one (which keeps each alias apart as an :class:`AliasNode`).

There are two modes:

* the fast mode, for a graph libyaml composed (:func:`ftscen.load.plain.walk_plain`, kept
  apart because it is the loader's hot path): only plain data is accepted. libyaml gives an
  alias as the anchored node itself, so the alias's own mark is lost; a node met twice (an
  alias, or a cycle), a merge key, and every problem raise :class:`NotPlain`, and the loader
  reads the text again with the pure-Python parser;
* the full mode, :func:`walk`: aliases and merge keys are expanded, and every problem becomes a
  :class:`~ftscen.core.errors.Diagnostic`, raised together in one :class:`ScenarioInvalid`:
  duplicate keys, keys that are not strings, unsupported tags, values that do not fit their
  tag, aliases inside their own anchor, aliases that expand past :data:`ALIAS_BUDGET` nodes
  (a "billion laughs" file) or nest past :data:`MAX_DEPTH`, merges of what is not a mapping.

So every diagnostic is worded here, from the pure-Python parser's graph, and reads the same
whether or not PyYAML was built with libyaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.load.document import Document, child_path

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
        raise BadScalar(
            f"{shorten(node.value)} is not a valid {show_tag(node.tag)}",
            "remove the tag or fix the value",
        ) from None
    if isinstance(value, int) and value.bit_length() > INT_BITS:
        raise BadScalar(
            f"the number {shorten(node.value)} is too large (more than {INT_BITS} bits)",
            "no scenario value needs a number this large; check the value",
        )
    return value


def shorten(text: str, limit: int = 40) -> str:
    """``repr`` of ``text``, cut to about ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def show_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def mark(mark: Any) -> tuple[int, int]:
    """A PyYAML mark (0-based) as 1-based ``(line, column)``; (0, 0) for none."""
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


def source_at(lines: tuple[str, ...], line: int) -> str | None:
    return lines[line - 1] if 0 < line <= len(lines) else None


class AliasNode(Node):
    """An alias kept apart from its anchor, so expansions can be counted and located."""

    id = "alias"

    def __init__(self, anchor: str, target: Node, start_mark: Any, end_mark: Any) -> None:
        super().__init__(target.tag, target.value, start_mark, end_mark)
        self.target = target
        self.anchor = anchor


class NotPlain(Exception):
    """The fast mode met something that is not plain data: the full mode words it."""


def walk(root: Node, file: str, lines: tuple[str, ...]) -> Document:
    """The document of the graph ``root``, in the full mode.

    Raises :class:`ScenarioInvalid` with every problem found.
    """
    walker = Walker(file, lines)
    value = walker.value(root, "$", 0)
    if walker.problems:
        raise ScenarioInvalid(walker.problems)
    return Document(file, value, lines, walker.marks, walker.key_marks, walker.raw)


class Walker:
    """Walks a node graph into plain data, collecting marks and problems (see the module)."""

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
        # The pure-Python composer refuses values nested past MAX_DEPTH: past the bound
        # here, aliases did the nesting.
        self.depth_limit = MAX_DEPTH

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
        if depth > self.depth_limit:
            raise self.abort(
                node,
                path,
                f"aliases nest values more than {MAX_DEPTH} levels deep",
                "use fewer nested aliases",
            )
        kind = type(node)
        if kind is AliasNode:
            return self.alias(node, path, depth)  # type: ignore[arg-type]
        if self.outer_alias is not None:
            self.count_expansion()
        start = node.start_mark  # each path is walked once: duplicate keys are skipped
        self.marks[path] = (start.line + 1, start.column + 1)
        if node.tag not in PLAIN_TAGS:
            self.problem(
                node,
                path,
                f"the tag {show_tag(node.tag)} is not allowed",
                "scenario files hold plain data (strings, numbers, booleans, lists, "
                "mappings); remove the tag",
            )
            return None
        if kind is ScalarNode:
            return self.scalar(node, path)  # type: ignore[arg-type]
        self.open.add(id(node))
        try:
            return self.collection(node, path, depth)
        finally:
            self.open.discard(id(node))

    def collection(self, node: Node, path: str, depth: int) -> Any:
        if type(node) is MappingNode:
            return self.mapping(node, path, depth)
        return [
            self.value(item, child_path(path, i), depth + 1) for i, item in enumerate(node.value)
        ]

    def alias(self, node: AliasNode, path: str, depth: int) -> Any:
        if id(node.target) in self.open:
            self.problem(
                node,
                path,
                f"alias *{node.anchor} is used inside its own anchor",
                "a value cannot contain itself; write it out",
            )
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
            raise self.abort(
                self.outer_alias,
                self.outer_path,
                f"aliases expand to more than {ALIAS_BUDGET} values (a 'billion laughs' file?)",
                "write the values out, or use far fewer nested aliases",
            )

    def scalar(self, node: ScalarNode, path: str) -> Any:
        if not node.style:  # plain: None from the pure-Python parser, '' from libyaml
            self.raw[path] = node.value
        try:
            return scalar_value(node)
        except BadScalar as bad:
            self.problem(node, path, bad.message, bad.hint)
            return None

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not self.entries(node, out, path, depth, explicit=True):
            return out
        for alias, source in self.merge_sources(node, path, {id(node)}, set()):
            previous = self.outer_alias, self.outer_path
            if self.outer_alias is None:
                self.outer_alias, self.outer_path = alias, path
            try:
                self.entries(source, out, path, depth, explicit=False)
            finally:
                self.outer_alias, self.outer_path = previous
        return out

    def entries(
        self, node: MappingNode, out: dict[str, Any], path: str, depth: int, explicit: bool
    ) -> bool:
        """Add ``node``'s own entries; merged entries never replace existing keys. Whether
        ``node`` has merge keys."""
        merges = False
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                merges = True
                continue
            if type(key_node) is ScalarNode and key_node.tag in AS_TEXT:
                key = key_node.value
            else:  # an alias, or not a string
                key = self.key(key_node, path)
                if key is None:
                    continue
            sub = child_path(path, key)
            if key in out:  # explicit entries come first: a key in already was written here
                if explicit:
                    self.problem(
                        key_node,
                        sub,
                        f"duplicate key '{key}' (first on line {self.key_marks[sub][0]})",
                        "remove one of the two entries",
                    )
                else:
                    self.count_expansion()  # merged keys are copies too, even when skipped
                continue
            if not explicit:
                self.count_expansion()
            start = key_node.start_mark
            self.key_marks[sub] = (start.line + 1, start.column + 1)
            out[key] = self.value(value_node, sub, depth + 1)
        return merges

    def key(self, node: Node, path: str) -> str | None:
        target = node.target if type(node) is AliasNode else node
        if type(target) is ScalarNode and target.tag in AS_TEXT:
            return str(target.value)
        if type(target) is ScalarNode:
            kind = _KEY_KINDS.get(target.tag, show_tag(target.tag))
            hint = f"quote it: {shorten(target.value)}"
            if target.tag == BOOL:
                hint += " (YAML 1.1 reads yes, no, on and off as booleans)"
            self.problem(
                node, path, f"keys must be strings; {shorten(target.value)} is read as {kind}", hint
            )
        else:
            self.problem(
                node,
                path,
                "keys must be strings, not lists or mappings",
                "write a plain word as the key",
            )
        return None

    def merge_sources(
        self, node: MappingNode, path: str, chain: set[int], merged: set[int]
    ) -> Iterator[tuple[Node, MappingNode]]:
        """The mappings merged into ``node`` by ``<<`` keys, nearest first (YAML merge key
        type: earlier sources win over later ones, a source's own keys over its merges).

        A source met a second time adds nothing (its keys, and its sources' keys, are all
        in already), so it is skipped: without that, sources that each merge the one before
        twice would take exponential time."""
        for key_node, value_node in node.value:
            if key_node.tag != MERGE:
                continue
            target = value_node.target if isinstance(value_node, AliasNode) else value_node
            items = target.value if isinstance(target, SequenceNode) else [value_node]
            for item in items:
                source = item.target if isinstance(item, AliasNode) else item
                if not isinstance(source, MappingNode):
                    self.problem(
                        item,
                        path,
                        "'<<' merges only mappings",
                        "write `<<: *anchor` where the anchor names a mapping",
                    )
                elif id(source) in chain:
                    self.problem(
                        item,
                        path,
                        "'<<' merges a mapping into itself",
                        "merge another mapping, or write the keys out",
                    )
                elif id(source) not in merged:
                    merged.add(id(source))
                    yield item, source
                    yield from self.merge_sources(source, path, chain | {id(source)}, merged)
