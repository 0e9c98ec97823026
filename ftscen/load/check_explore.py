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


def check_explored_in_flight(ctx: Context) -> Iterator[Diagnostic]:
    """An exploration runs the calls of each placement from a saved machine, to their end;
    a scenario whose calls stop and resume (docs/format.md, "Calls in flight") cannot be
    explored yet: each explored entry of such a file is refused."""
    steps = ctx.data.get("timeline", [])
    in_flight = any(
        "resume" in step
        or isinstance(step.get("stop"), dict)
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
                    "an explored call in a scenario with calls in flight (stop/resume): "
                    "exploring such a scenario is not supported",
                    "pin the call to one point and CPU (`at: POINT`, `cpu: N`), or explore a "
                    "copy of the file without its stops and resumes",
                )
