"""What of a scenario's text may reach generated C and shell, and in which form.

Function and ops names become C identifiers (checked against a strict pattern, never
escaped); globs become C string literals (every byte outside a small safe set written as an
octal escape). Nothing else a scenario holds (its description, comments, ids) is written out.
"""

from __future__ import annotations

import re

from ftscen.core.errors import ScenarioInvalid
from ftscen.core.model import Mark

#: A name the module may use as (part of) a C identifier and a kallsyms symbol.
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
#: Bytes a C string literal may hold as they are; everything else is an octal escape, so no
#: quote, backslash, '?' (trigraphs) or line break appears literally.
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_*.-!^[]: ")
#: Longest glob the module copies into its buffer (the kernel edits the pattern in place).
GLOB_MAX = 200


def unit_prefix(unit: int) -> str:
    """The prefix of unit ``unit``'s traced functions: globs then select only them."""
    return f"fs{unit}_"


def check_ident(name: str, what: str, mark: Mark) -> str:
    """``name`` when it is safe as a C identifier, else a located error."""
    if IDENT.match(name):
        return name
    raise ScenarioInvalid(
        [
            mark.diagnostic(
                f"{what} {name!r} cannot be a C identifier in a kernel module",
                hint="use letters, digits and '_' (at most 64, not starting with a digit)",
            )
        ]
    )


def translate_glob(glob: str, unit: int, mark: Mark) -> str:
    """The glob with the unit's prefix after any '!': it selects ``prefix + name`` exactly when
    the original selects ``name`` (the prefix holds no glob character, so every match type of
    ``filter_parse_regex()`` keeps its meaning, a leading '*' turning into a MATCH_GLOB)."""
    negated = glob.startswith("!")
    out = ("!" if negated else "") + unit_prefix(unit) + (glob[1:] if negated else glob)
    if len(out.encode("utf-8")) > GLOB_MAX:
        raise ScenarioInvalid(
            [
                mark.diagnostic(
                    f"a glob of {len(glob)} characters is too long for the module",
                    hint=f"keep globs under {GLOB_MAX - 16} bytes",
                )
            ]
        )
    return out


def c_string(text: str) -> str:
    """``text`` as a C string literal that means exactly its UTF-8 bytes."""
    return '"' + "".join(chr(b) if b in _SAFE else f"\\{b:03o}" for b in text.encode()) + '"'
