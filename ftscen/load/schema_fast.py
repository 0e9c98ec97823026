"""The scenario schema compiled into a plain-Python yes/no check, for the happy path.

``jsonschema`` walks the schema for every value and resolves each ``$ref`` as it goes, which
costs milliseconds per scenario even when nothing is wrong. :func:`compile_schema` turns the
schema once into nested closures that only answer "does this document fit?".
:func:`ftscen.load.schema.check_shape` asks it first and runs ``jsonschema`` only for a document
that does not fit, so every diagnostic still comes from ``jsonschema`` and the schema file.

Only the keywords the scenario schema uses are compiled, with ``jsonschema``'s semantics for
draft 2020-12 (``1.0`` is an integer, ``true`` is not ``1``, patterns are searched, not
matched) and ECMA-262's ``$`` in patterns, as :mod:`ftscen.load.schema` gives ``jsonschema`` too. A schema with any other keyword makes :func:`compile_schema` raise
:class:`Unsupported`, and the caller then uses ``jsonschema`` alone.
``tests/test_load_paths.py`` checks that both agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

Check = Callable[[Any], bool]
Schema = dict[str, Any]

#: Keywords that say nothing about validity.
_ANNOTATIONS = frozenset({"title", "description", "$schema", "$id", "$defs", "$comment",
                          "then", "else"})  # then/else are read with "if"

_TYPES: dict[str, Check] = {
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "integer": lambda x: (isinstance(x, int) and not isinstance(x, bool))
    or (isinstance(x, float) and x.is_integer()),
    "null": lambda x: x is None,
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "object": lambda x: isinstance(x, dict),
    "string": lambda x: isinstance(x, str),
}


class Unsupported(Exception):
    """The schema uses a keyword (or a reference) this compiler does not handle."""


def compile_schema(root: Schema) -> Check:
    """A function telling whether a document fits ``root`` (raises :class:`Unsupported`)."""
    return _Compiler(root).compile(root)


def same_value(value: Any) -> Any:
    """A hashable key equal for two values exactly when ``jsonschema`` deems them equal:
    ``true`` is not ``1``, ``1`` is ``1.0``, lists and mappings compare item by item."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("list", tuple(same_value(item) for item in value))
    if isinstance(value, dict):
        return ("map", frozenset((k, same_value(v)) for k, v in value.items()))
    return ("other", value)


class _Compiler:
    def __init__(self, root: Schema) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda x: True
        if schema is False:
            return lambda x: False
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        checks: list[Check] = []
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS:
                continue
            make = _KEYWORDS.get(keyword)
            if make is None:
                raise Unsupported(keyword)
            checks.append(make(self, value, schema))
        if len(checks) == 1:
            return checks[0]
        return lambda x: all(check(x) for check in checks)

    def ref(self, ref: Any, schema: Schema) -> Check:
        if ref not in self.refs:
            if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
                raise Unsupported(f"$ref {ref!r}")
            target = self.root.get("$defs", {}).get(ref[len("#/$defs/"):])
            if target is None:
                raise Unsupported(f"$ref {ref!r}")
            holder: list[Check] = []
            self.refs[ref] = lambda x: holder[0](x)  # a definition may refer to itself
            holder.append(self.compile(target))
        return self.refs[ref]

    def type(self, value: Any, schema: Schema) -> Check:
        names = [value] if isinstance(value, str) else list(value)
        if any(name not in _TYPES for name in names):
            raise Unsupported(f"type {value!r}")
        checks = [_TYPES[name] for name in names]
        return lambda x: any(check(x) for check in checks)

    def properties(self, value: Any, schema: Schema) -> Check:
        subs = [(name, self.compile(sub)) for name, sub in value.items()]

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            return all(sub(x[name]) for name, sub in subs if name in x)
        return check

    def additional(self, value: Any, schema: Schema) -> Check:
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = frozenset(schema.get("properties", {}))
        if value is False:
            return lambda x: not isinstance(x, dict) or known.issuperset(x)
        sub = self.compile(value)
        return lambda x: not isinstance(x, dict) or all(
            sub(v) for k, v in x.items() if k not in known)

    def property_names(self, value: Any, schema: Schema) -> Check:
        sub = self.compile(value)
        return lambda x: not isinstance(x, dict) or all(sub(k) for k in x)

    def items(self, value: Any, schema: Schema) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        sub = self.compile(value)
        return lambda x: not isinstance(x, list) or all(sub(item) for item in x)

    def if_then(self, value: Any, schema: Schema) -> Check:
        test = self.compile(value)
        then = self.compile(schema.get("then", True))
        other = self.compile(schema.get("else", True))
        return lambda x: then(x) if test(x) else other(x)

    def one_of(self, value: Any, schema: Schema) -> Check:
        subs = [self.compile(sub) for sub in value]
        return lambda x: sum(1 for sub in subs if sub(x)) == 1

    def any_of(self, value: Any, schema: Schema) -> Check:
        subs = [self.compile(sub) for sub in value]
        return lambda x: any(sub(x) for sub in subs)

    def all_of(self, value: Any, schema: Schema) -> Check:
        subs = [self.compile(sub) for sub in value]
        return lambda x: all(sub(x) for sub in subs)

    def not_(self, value: Any, schema: Schema) -> Check:
        sub = self.compile(value)
        return lambda x: not sub(x)


def _enum(_: _Compiler, value: Any, schema: Schema) -> Check:
    allowed = frozenset(same_value(v) for v in value)
    return lambda x: same_value(x) in allowed


def _const(_: _Compiler, value: Any, schema: Schema) -> Check:
    wanted = same_value(value)
    return lambda x: same_value(x) == wanted


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` compiled with ECMA-262's meaning of ``$``: the very end.

    Python's ``$`` also matches before a final newline, so ``^[A-Za-z_]\\w*$`` would let
    ``"do_IRQ\\n"`` through as a name (and on into the assembler). Each ``$`` outside a
    character class becomes ``\\Z``.
    """
    out, i, in_class = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append("\\Z" if char == "$" and not in_class else char)
        i += 1
    return re.compile("".join(out))


def _pattern(_: _Compiler, value: Any, schema: Schema) -> Check:
    search = ecma_regex(value).search
    return lambda x: not isinstance(x, str) or search(x) is not None


def _required(_: _Compiler, value: Any, schema: Schema) -> Check:
    names = list(value)
    return lambda x: not isinstance(x, dict) or all(name in x for name in names)


def _min_length(_: _Compiler, value: Any, schema: Schema) -> Check:
    return lambda x: not isinstance(x, str) or len(x) >= value


def _min_items(_: _Compiler, value: Any, schema: Schema) -> Check:
    return lambda x: not isinstance(x, list) or len(x) >= value


def _unique_items(_: _Compiler, value: Any, schema: Schema) -> Check:
    if not value:
        return lambda x: True
    return lambda x: not isinstance(x, list) or len({same_value(i) for i in x}) == len(x)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _minimum(_: _Compiler, value: Any, schema: Schema) -> Check:
    return lambda x: not _is_number(x) or not x < value


def _maximum(_: _Compiler, value: Any, schema: Schema) -> Check:
    return lambda x: not _is_number(x) or not x > value


_KEYWORDS: dict[str, Callable[[_Compiler, Any, Schema], Check]] = {
    "$ref": _Compiler.ref,
    "type": _Compiler.type,
    "properties": _Compiler.properties,
    "additionalProperties": _Compiler.additional,
    "propertyNames": _Compiler.property_names,
    "items": _Compiler.items,
    "if": _Compiler.if_then,
    "oneOf": _Compiler.one_of,
    "anyOf": _Compiler.any_of,
    "allOf": _Compiler.all_of,
    "not": _Compiler.not_,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "required": _required,
    "minLength": _min_length,
    "minItems": _min_items,
    "uniqueItems": _unique_items,
    "minimum": _minimum,
    "maximum": _maximum,
}
