"""A fast path past typer for plain command lines (start-up time, not features).

typer 0.2x coerces every non-boolean option through pydantic, whose import costs about as
much as everything else ``ftscen run`` imports (~75 ms). For a command line made only of a
command name, its declared options (``--opt value``, ``--opt=value``, flags) and arguments,
:func:`parse` reads the command's own typer declarations (names, defaults, ``min``/``max``,
types) and returns the call to make. Anything else (``--help``, ``--``, bundled short
flags, an unknown option, a value that does not convert or is out of range, a missing
argument) returns None, and typer parses the line and words the error as usual.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import typer


@dataclass(frozen=True)
class Param:
    name: str
    decls: tuple[str, ...]  # empty for an argument
    kind: Any  # the annotation, Optional removed
    default: Any
    low: Any = None
    high: Any = None

    @property
    def is_list(self) -> bool:
        return typing.get_origin(self.kind) is list

    @property
    def required(self) -> bool:
        return self.default is ...


class _NotPlain(Exception):
    """The command line needs typer (help, an error to word, an unusual form)."""


def _strip_optional(kind: Any) -> Any:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    union = typing.get_origin(kind) in (typing.Union, types.UnionType)
    return args[0] if union and len(args) == 1 else kind


def params(callback: Callable[..., Any]) -> list[Param]:
    """The command's parameters as typer itself reads them (``Annotated`` or defaults)."""
    from typer.utils import get_params_from_function

    out = []
    for name, meta in get_params_from_function(callback).items():
        info = meta.default
        if not isinstance(info, (typer.models.OptionInfo, typer.models.ArgumentInfo)):
            raise _NotPlain(name)
        decls = tuple(info.param_decls or ())
        if isinstance(info, typer.models.OptionInfo) and not decls:
            decls = ("--" + name.replace("_", "-"),)
        if isinstance(info, typer.models.ArgumentInfo):
            decls = ()
        out.append(Param(name, decls, _strip_optional(meta.annotation), info.default,
                         info.min, info.max))
    return out


def _convert(p: Param, text: str) -> Any:
    kind = typing.get_args(p.kind)[0] if p.is_list else p.kind
    if kind is bool:
        raise _NotPlain(p.name)
    if kind is Path and not text:
        raise _NotPlain(p.name)
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise _NotPlain(p.name) from None
    if isinstance(value, Enum) and value.value != text:
        raise _NotPlain(p.name)
    if (p.low is not None and value < p.low) or (p.high is not None and value > p.high):
        raise _NotPlain(p.name)
    return value


def _read(spec: list[Param], argv: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    by_decl = {d: p for p in spec for d in p.decls}
    raw: dict[str, Any] = {}
    rest: list[str] = []
    tokens = iter(argv)
    for tok in tokens:
        if tok in ("--", "--help") or (tok.startswith("-") and tok != "-"
                                       and tok.partition("=")[0] not in by_decl):
            raise _NotPlain(tok)
        if not tok.startswith("-") or tok == "-":
            rest.append(tok)
            continue
        decl, eq, value = tok.partition("=")
        p = by_decl[decl]
        if p.kind is bool:
            if eq:
                raise _NotPlain(tok)
            raw[p.name] = True
            continue
        text = value if eq else next(tokens, None)
        if text is None:
            raise _NotPlain(tok)
        raw[p.name] = _convert(p, text)
    return raw, rest


def _arguments(spec: list[Param], rest: list[str]) -> dict[str, Any]:
    args = [p for p in spec if not p.decls]
    if len(args) != 1:
        raise _NotPlain("arguments")
    p = args[0]
    if p.is_list:
        if not rest and p.required:
            raise _NotPlain(p.name)
        return {p.name: [_convert(p, t) for t in rest]}
    if len(rest) != 1:
        raise _NotPlain(p.name)
    return {p.name: _convert(p, rest[0])}


def parse(app: typer.Typer, argv: Sequence[str]
          ) -> tuple[Callable[..., Any], dict[str, Any]] | None:
    """``(callback, kwargs)`` for a plain command line, else None (typer takes over)."""
    if not argv:
        return None
    command = next((c for c in app.registered_commands
                    if (c.name or getattr(c.callback, "__name__", "").replace("_", "-"))
                    == argv[0]), None)
    if command is None or command.callback is None:
        return None
    try:
        spec = params(command.callback)
        raw, rest = _read(spec, argv[1:])
        kwargs = {p.name: p.default for p in spec if p.decls}
        kwargs.update(raw)
        kwargs.update(_arguments(spec, rest))
    except _NotPlain:
        return None
    return command.callback, kwargs
