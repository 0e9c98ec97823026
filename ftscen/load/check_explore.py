"""Semantic checks of explored calls and quantified assertions (docs/explore.md).

How many placements a file has, and whether each listed point is passed, depends on the
points every step really passes, so those are checked where the patcher runs
(``ftscen.app.explore``); here only what the document alone says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ftscen.core.errors import Diagnostic
from ftscen.core.model import ANY, QUANTIFIER_KEYS

if TYPE_CHECKING:
    from ftscen.load.context import Context


def check_nested_quantifiers(ctx: Context) -> Iterator[Diagnostic]:
    """``sometimes: {never: ...}`` means nothing more than its inner assertion: refused."""
    for i, entry in enumerate(ctx.data.get("expect", [])):
        for outer in QUANTIFIER_KEYS:
            inner = entry.get(outer)
            if not isinstance(inner, dict):
                continue
            for key in QUANTIFIER_KEYS:
                if key in inner:
                    yield ctx.error(
                        f"$.expect[{i}].{outer}.{key}",
                        f"'{key}' inside '{outer}': a quantifier wraps a plain assertion",
                        f"write one quantifier: `- {outer}: {{call: ..., ran: ...}}`",
                        key=True,
                    )


def _explored_stops(ctx: Context) -> Iterator[str]:
    """The path of the ``stop`` key of every call whose stop is explored."""
    for i, step in enumerate(ctx.data.get("timeline", [])):
        if "call" in step and _explores_stop(step.get("stop")):
            yield f"$.timeline[{i}].stop"
        for j, d in enumerate(step.get("during", [])):
            if "call" in d and _explores_stop(d.get("stop")):
                yield f"$.timeline[{i}].during[{j}].stop"


def _explores_stop(stop: object) -> bool:
    return stop == ANY or (isinstance(stop, dict) and "any" in stop)


def check_explored_in_flight(ctx: Context) -> Iterator[Diagnostic]:
    """In a scenario whose calls stop and resume (docs/format.md, "Calls in flight") the
    points a step passes depend on the stopped calls (a wait exists only while one holds it
    up), so the only exploration supported is one call's stop (``stop: any``,
    ``stop: {any: SYMBOL}``), each placement run from the start: an explored point or CPU,
    and a second explored stop (its addresses could depend on the first one's), are
    refused."""
    steps = ctx.data.get("timeline", [])
    in_flight = any(
        "resume" in step
        or "stop" in step
        or any("stop" in d or "resume" in d for d in step.get("during", []))
        for step in steps
    )
    if not in_flight:
        return
    for i, step in enumerate(steps):
        for j, d in enumerate(step.get("during", [])):
            at, cpu = d.get("at"), d.get("cpu")
            if at == ANY or isinstance(at, list) or cpu == ANY:
                key = "at" if at == ANY or isinstance(at, list) else "cpu"
                yield ctx.error(
                    f"$.timeline[{i}].during[{j}].{key}",
                    "an explored point or CPU in a scenario with calls in flight "
                    "(stop/resume): only a call's stop can be explored in such a scenario",
                    "pin the entry to one point and CPU (`at: POINT`, `cpu: N`; a resume is "
                    "made where the file says); `stop: any` on a call explores its stop",
                )
    stops = list(_explored_stops(ctx))
    for path in stops[1:]:
        line = ctx.doc.mark(stops[0])[0]
        yield ctx.error(
            path,
            f"a second explored stop (the first is on line {line}): one call's stop is "
            "explored per file",
            "pin this stop (`stop: {at: SYMBOL+0xN}`), or explore it in a copy of the file",
        )
