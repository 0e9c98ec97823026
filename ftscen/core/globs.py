"""The kernel's filter globs, as ``set_ftrace_filter`` and ``ftrace_set_filter()`` read them.

A glob is classified by kernel/trace/ftrace.c ``filter_parse_regex()`` and matched by
``ftrace_match()``:

* ``name``   MATCH_FULL, the whole name (``strcmp``);
* ``name*``  MATCH_FRONT_ONLY, names starting with ``name``;
* ``*name``  MATCH_END_ONLY, names ending with ``name``;
* ``*name*`` MATCH_MIDDLE_ONLY, names containing ``name``;
* anything else holding ``*``, ``?``, ``[`` or ``\\`` is MATCH_GLOB, matched by
  lib/glob.c ``glob_match()`` (``*``, ``?``, ``[a-z]``, ``[!a-z]``, ``\\x``).

A leading ``!`` removes the matching functions from the hash instead of adding them
(``match_records()`` with ``clear_filter``). A glob starting with a digit is the kernel's
MATCH_INDEX (an index into ``available_filter_functions``); function names never start with a
digit, so here it matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum


class MatchType(Enum):
    """``enum regex_type`` of kernel/trace/trace.h."""

    FULL = "full"
    FRONT_ONLY = "front"
    MIDDLE_ONLY = "middle"
    END_ONLY = "end"
    GLOB = "glob"
    INDEX = "index"


def parse_glob(glob: str) -> tuple[MatchType, str, bool]:
    """Classify ``glob`` like ``filter_parse_regex()``: (type, search string, negated)."""
    negated = glob.startswith("!")
    buff = glob[1:] if negated else glob
    if buff[:1].isdigit():
        return MatchType.INDEX, buff, negated
    kind = MatchType.FULL
    for i, ch in enumerate(buff):
        if ch == "*":
            if i == 0:
                kind = MatchType.END_ONLY
            elif i == len(buff) - 1:
                kind = MatchType.MIDDLE_ONLY if kind is MatchType.END_ONLY else MatchType.FRONT_ONLY
                buff = buff[:i]
                break
            else:
                return MatchType.GLOB, buff, negated
        elif ch in "[?\\":
            return MatchType.GLOB, buff, negated
    buff = buff.removeprefix("*")
    return kind, buff, negated


def glob_matches(glob: str, name: str) -> bool:
    """True when ``glob`` (without a leading ``!``) selects ``name``: ``ftrace_match()``."""
    kind, search, _ = parse_glob(glob)
    if kind is MatchType.FULL:
        return name == search
    if kind is MatchType.FRONT_ONLY:
        return name.startswith(search)
    if kind is MatchType.MIDDLE_ONLY:
        return search in name
    if kind is MatchType.END_ONLY:
        return name.endswith(search)
    if kind is MatchType.GLOB:
        return glob_match(search, name)
    return False


def apply_globs(
    current: frozenset[str], globs: Sequence[str], names: Sequence[str], reset: bool
) -> tuple[frozenset[str], str | None]:
    """Edit a filter or notrace hash like ``ftrace_set_filter(ops, glob, len, reset)``.

    kernel/trace/ftrace.c ``ftrace_set_hash()``: ``reset`` starts from an empty hash, then each
    glob goes through ``ftrace_match_records()``; a glob that selects no record makes the call
    fail with -EINVAL. ``names`` are the traceable functions (the records). Returns the new set
    and the first glob that matched no function (``None`` when all matched). An empty set means
    "every function" for a filter and "none" for a notrace hash (``hash_contains_ip()``).
    """
    selected = set() if reset else set(current)
    unmatched: str | None = None
    for glob in globs:
        negated = glob.startswith("!")
        pattern = glob[1:] if negated else glob
        hits = {name for name in names if glob_matches(pattern, name)}
        if not hits and unmatched is None:
            unmatched = glob
        if negated:
            selected -= hits
        else:
            selected |= hits
    return frozenset(selected), unmatched


def glob_match(pat: str, text: str) -> bool:
    """lib/glob.c ``glob_match()``: ``*`` and ``?`` wildcards, ``[...]`` classes with ranges
    and ``!`` inversion, ``\\`` escapes; a malformed class is a literal ``[``. Like the C code
    it backtracks only to the last ``*``, which suffices because ``*`` matches anything."""
    p = s = 0
    back_p: int | None = None
    back_s = 0
    while True:
        c, d = _at(text, s), _at(pat, p)
        s, p = s + 1, p + 1
        if d == "?":
            if not c:
                return False
            continue
        if d == "*":
            if p >= len(pat):
                return True
            back_p, back_s = p, s - 1
            s -= 1
            continue
        end = _class_match(pat, p, c) if d == "[" else None
        if end is not None:
            matched = end >= 0
            p = end if matched else p
        else:
            if d == "\\":
                d, p = _at(pat, p), p + 1
            if c == d and not d:
                return True
            matched = c == d
        if matched:
            continue
        if not c or back_p is None:
            return False
        back_s += 1
        p, s = back_p, back_s


def _at(text: str, i: int) -> str:
    """``text[i]``, or "" (the C string's NUL) past the end."""
    return text[i] if i < len(text) else ""


def _class_match(pat: str, p: int, c: str) -> int | None:
    """Match ``c`` against the class whose ``[`` is at ``pat[p - 1]``: the index after its
    ``]`` on a match, -1 on a mismatch, None when the class is malformed (lib/glob.c then
    takes the ``[`` literally). The end of the name never matches a class (the C code would
    read past the terminating NUL there)."""
    inverted = _at(pat, p) == "!"
    i = p + int(inverted)
    a, i = _at(pat, i), i + 1
    matched = False
    while True:
        if not a:
            return None
        b = a
        if _at(pat, i) == "-" and _at(pat, i + 1) != "]":
            b = _at(pat, i + 1)
            if not b:
                return None
            i += 2
        matched |= a <= c <= b
        a, i = _at(pat, i), i + 1
        if a == "]":
            break
    return i if c and matched != inverted else -1
