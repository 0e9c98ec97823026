"""Semantic checks on record assertions (``- record: {func, count, flags, after}``).

Part of the :data:`ftscen.load.validate.CHECKS` table. An unknown ``func`` is reported by
``check_names.check_unknown_functions``; here: a notrace function has no record, and
``after`` must name a timeline step (a ``during`` call is inside a step, not after one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic

if TYPE_CHECKING:
    from ftscen.load.context import Context


def _records(ctx: Context) -> Iterator[tuple[str, dict[str, object]]]:
    for path, entry in ctx.assertions():
        if "record" in entry:
            yield f"{path}.record", entry["record"]


def check_record_functions(ctx: Context) -> Iterator[Diagnostic]:
    """``ftrace_process_locs()`` makes records only for ``__fentry__`` sites: a notrace
    function has none."""
    for path, rec in _records(ctx):
        if rec["func"] in ctx.notrace:
            yield ctx.error(
                f"{path}.func",
                f"'{rec['func']}' is notrace: it has no ftrace record",
                "check the record of a traceable function",
            )


def check_record_steps(ctx: Context) -> Iterator[Diagnostic]:
    steps = [str(step["id"]) for _, step in ctx.steps() if "id" in step]
    durings = {str(entry["id"]) for _, entry in ctx.durings() if "id" in entry}
    for path, rec in _records(ctx):
        after = rec.get("after")
        if after is None or after in steps:
            continue
        if after in durings:
            yield ctx.error(
                f"{path}.after",
                f"'{after}' is the id of a during call, not of a timeline step",
                "a record is read between steps: name the step that places this call",
            )
        else:
            yield ctx.error(
                f"{path}.after",
                f"no timeline step has the id '{after}'{suggestion(str(after), steps)}",
                f"give the step after which the record is read `id: {after}`",
            )
