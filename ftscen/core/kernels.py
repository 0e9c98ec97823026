"""Kernel ranges: which kernels an expectation, a step's errno or an ``xfail`` is about.

One scenario file can say how each kernel behaves ("before 5.3 the window call runs the old
body; from 5.3 the live patch holds") instead of one copy of the file per era. A range is
``"<5.3"``, ``"<=5.4"``, ``">=5.5"``, ``">5.4"``, ``"5.3..5.4"`` (both ends included) or
``"5.3"`` (that release); a list of them is their union. Releases compare as (major, minor):
``"<5.3"`` holds 5.2.21 and not 5.3-rc1.

:data:`ERA_KERNELS` is one kernel per era boundary the model distinguishes (the first release
of each): what ``--kernel all`` runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Release = tuple[int, int]

#: The first release of every era the model tells apart (docs/model.md, "Kernel eras"):
#: 3.5 breakpoint patching, 5.2 emulate-call (per-ops trampolines), 5.3 i386 emulate-call and
#: full pt_regs, 5.5 text_poke_bp and PERMANENT, 5.9 rolled-back trampolines freed,
#: 5.10 recursion TRANSITION bit, 5.11 RECURSION replaces RECURSION_SAFE, 6.2 no needless
#: ftrace_call updates.
ERA_KERNELS: tuple[str, ...] = ("3.5", "5.2", "5.3", "5.5", "5.9", "5.10", "5.11", "6.2")

#: The oldest release modelled, and a bound beyond every kernel.
OLDEST: Release = (3, 5)
_BEYOND: Release = (100, 0)

_RELEASE = r"([0-9]{1,2})\.([0-9]{1,2})"
_FORMS = (
    (re.compile(rf"<\s*{_RELEASE}\Z"), lambda a: (OLDEST, a)),
    (re.compile(rf"<=\s*{_RELEASE}\Z"), lambda a: (OLDEST, _next(a))),
    (re.compile(rf">=\s*{_RELEASE}\Z"), lambda a: (a, _BEYOND)),
    (re.compile(rf">\s*{_RELEASE}\Z"), lambda a: (_next(a), _BEYOND)),
    (re.compile(rf"{_RELEASE}\Z"), lambda a: (a, _next(a))),
)
_SPAN = re.compile(rf"{_RELEASE}\s*\.\.\s*{_RELEASE}\Z")

RANGE_HINT = (
    'write a range such as "<5.3", "<=5.4", ">=5.5", ">5.4", "5.3..5.4" or "5.3", or a list of them'
)


def _next(release: Release) -> Release:
    """The first release after every ``release``.x (the exclusive upper bound)."""
    return release[0], release[1] + 1


@dataclass(frozen=True)
class KernelSet:
    """A union of half-open release intervals [lo, hi), kept with the text as written."""

    text: str
    spans: tuple[tuple[Release, Release], ...]

    def __contains__(self, release: object) -> bool:
        return any(lo <= release < hi for lo, hi in self.spans)  # type: ignore[operator]


class RangeError(ValueError):
    """A range that names no kernel, or that cannot be read; ``args[0]`` says which."""


def _span(text: str) -> tuple[Release, Release]:
    text = text.strip()
    m = _SPAN.match(text)
    if m:
        lo = (int(m.group(1)), int(m.group(2)))
        return lo, _next((int(m.group(3)), int(m.group(4))))
    for pattern, bounds in _FORMS:
        m = pattern.match(text)
        if m:
            return bounds((int(m.group(1)), int(m.group(2))))
    raise RangeError(f"'{text}' is not a kernel range")


def parse_kernel_set(value: str | list[str] | tuple[str, ...]) -> KernelSet:
    """A range or a list of ranges; raises :class:`RangeError` for one that cannot be read or
    holds no kernel ftscen models (3.5 and later), such as ``"<3.5"`` or ``"5.4..5.3"``."""
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise RangeError("an empty list names no kernel")
    spans = []
    for item in items:
        lo, hi = _span(item)
        lo = max(lo, OLDEST)
        if lo >= hi:
            raise RangeError(f"'{item.strip()}' holds no kernel ftscen models (3.5 and later)")
        spans.append((lo, hi))
    text = value if isinstance(value, str) else ", ".join(items)
    return KernelSet(text.strip(), tuple(spans))
