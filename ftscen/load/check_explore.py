"""Semantic checks of explored calls and quantified assertions (docs/explore.md).

How many placements a file has, and whether each listed point is passed, depends on the
points every step really passes, so those are checked where the patcher runs
(``ftscen.app.explore``); here only what the document alone says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ftscen.core.errors import Diagnostic
from ftscen.core.model import QUANTIFIER_KEYS

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
