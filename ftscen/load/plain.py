"""The walker's fast mode: libyaml's node graph of plain data -> a :class:`Document`.

The loader reads most files this way (see :mod:`ftscen.load.loader`). Anything that is not
plain data (a node met twice: an alias; a merge key, a tag, a key that is not a string, a
duplicate key, a value nested too deep, a scalar that does not fit its tag) raises
:class:`~ftscen.load.compose.NotPlain`, and the file is read again by the pure-Python parser
and the full walker (:func:`ftscen.load.compose.walk`), which words every problem. So this
walker only has to give the same document as the full one on what it accepts; it is separate
because the loader spends much of its time here, and one pass without the full mode's alias
and problem bookkeeping costs about half as much.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ftscen.load.compose import (
    AS_TEXT,
    MAX_DEPTH,
    PLAIN_TAGS,
    BadScalar,
    NotPlain,
    scalar_value,
)
from ftscen.load.document import Document, child_path

#: The pure-Python composer refuses values nested past MAX_DEPTH (the root is level 1 there,
#: 0 here); libyaml's graph is not bounded so, and the fast mode stops where that one would.
_DEPTH_LIMIT = MAX_DEPTH - 1


def walk_plain(
    root: Node, file: str, lines: tuple[str, ...], scalars: list[ScalarNode]
) -> Document:
    """The document of libyaml's graph ``root``, or :class:`NotPlain`. Adds the scalar nodes
    of values and keys to ``scalars``, in file order (for the loader's check of the text)."""
    walker = _PlainWalker(scalars)
    value = walker.value(root, "$", 0, False)
    return Document(file, value, lines, walker.marks, walker.key_marks, walker.raw)


def _flow_disagreement(node: ScalarNode) -> bool:
    """A plain scalar of a flow collection that the parsers read apart: `{a:` then a line
    break (they mark the null apart); `[sched_?]` or `{n? otrace: 1}` (the pure-Python parser
    ends a plain scalar at '?' there, libyaml not)."""
    return not node.style and (not node.value or "?" in node.value)


class _PlainWalker:
    def __init__(self, scalars: list[ScalarNode]) -> None:
        self.marks: dict[str, tuple[int, int]] = {}
        self.key_marks: dict[str, tuple[int, int]] = {}
        self.raw: dict[str, str] = {}
        self.scalars = scalars
        self.seen: set[int] = set()  # libyaml gives an alias as its anchored node, met twice

    def value(self, node: Node, path: str, depth: int, flow: bool) -> Any:
        if depth > _DEPTH_LIMIT or id(node) in self.seen or node.tag not in PLAIN_TAGS:
            raise NotPlain
        self.seen.add(id(node))
        start = node.start_mark
        self.marks[path] = (start.line + 1, start.column + 1)
        kind = type(node)
        if kind is ScalarNode:
            return self.scalar(node, path, flow)  # type: ignore[arg-type]
        if kind is MappingNode:
            return self.mapping(node, path, depth)  # type: ignore[arg-type]
        if kind is not SequenceNode:
            raise NotPlain
        inner = bool(node.flow_style)  # type: ignore[attr-defined]
        return [
            self.value(item, f"{path}[{i}]", depth + 1, inner) for i, item in enumerate(node.value)
        ]

    def scalar(self, node: ScalarNode, path: str, flow: bool) -> Any:
        self.scalars.append(node)
        if flow and _flow_disagreement(node):
            raise NotPlain
        if not node.style:  # plain: '' from libyaml
            self.raw[path] = node.value
        if node.tag in AS_TEXT:
            return node.value
        try:
            return scalar_value(node)
        except BadScalar:
            raise NotPlain from None

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        flow = bool(node.flow_style)
        seen, key_marks = self.seen, self.key_marks
        for key_node, value_node in node.value:
            # a merge key, a key that is not a string, one met before or twice: the full mode
            if type(key_node) is not ScalarNode or key_node.tag not in AS_TEXT:
                raise NotPlain
            if id(key_node) in seen or key_node.value in out:
                raise NotPlain
            seen.add(id(key_node))
            self.scalars.append(key_node)
            if flow and _flow_disagreement(key_node):
                raise NotPlain
            key = key_node.value
            sub = child_path(path, key)
            start = key_node.start_mark
            key_marks[sub] = (start.line + 1, start.column + 1)
            out[key] = self.value(value_node, sub, depth + 1, flow)
        return out
