"""Semantic checks on calls in flight: ``stop`` on a call, ``resume`` of a stopped call.

Part of the :data:`ftscen.load.validate.CHECKS` table. What only a run can tell (whether
the stop address is in the image, whether the call really stopped before it is resumed, a
CPU still holding a stopped call) is checked when the scenario runs (``ftscen.emu.inflight``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic

if TYPE_CHECKING:
    from ftscen.load.context import Context


def _stopping(ctx: Context) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(path, step index, entry) of every call that carries a ``stop``."""
    for i, (path, step) in enumerate(ctx.steps()):
        if "call" in step and "stop" in step:
            yield path, i, step
        for j, entry in enumerate(step.get("during", [])):
            if "stop" in entry:
                yield f"{path}.during[{j}]", i, entry


def _resumes(ctx: Context) -> Iterator[tuple[str, int, str]]:
    """(path of the ``resume`` key, step index, call id) of every resumption, in file order."""
    for i, (path, step) in enumerate(ctx.steps()):
        if "resume" in step:
            yield f"{path}.resume", i, step["resume"]
        for j, entry in enumerate(step.get("during", [])):
            if "resume" in entry:
                yield f"{path}.during[{j}].resume", i, entry["resume"]


def check_stop_ids(ctx: Context) -> Iterator[Diagnostic]:
    """A stopped call is resumed by its id, so a call with ``stop`` needs one; ``stop``
    belongs to calls only, and a ``resume`` step to no CPU (it runs where the call stopped)."""
    for path, _, entry in _stopping(ctx):
        if "id" not in entry:
            yield ctx.error(
                f"{path}.stop",
                "a call that stops needs an id: `resume:` names it",
                "add `id: NAME` to this call",
                key=True,
            )
    for path, step in ctx.steps():
        if "stop" in step and "call" not in step:
            yield ctx.error(
                f"{path}.stop",
                f"'stop' does not apply to a {ctx.action(step)} step: only a call stops",
                "put the stop on a `call:` step or a `during:` call",
                key=True,
            )
        if "resume" in step and "cpu" in step:
            yield ctx.error(
                f"{path}.cpu",
                "'cpu' does not apply to a resume step: the call resumes on the CPU it stopped on",
                "remove it",
                key=True,
            )


def check_resumes(ctx: Context) -> Iterator[Diagnostic]:
    """``resume: ID`` names a call that has a ``stop``, made no later than the step that
    resumes it, and resumed only once."""
    stopping = {entry["id"]: i for _, i, entry in _stopping(ctx) if "id" in entry}
    calls = {step["id"] for _, step in ctx.steps() if "call" in step and "id" in step}
    calls.update(entry["id"] for _, entry in ctx.durings() if "call" in entry and "id" in entry)
    first: dict[str, str] = {}
    for path, i, name in _resumes(ctx):
        if name not in stopping:
            if name in calls:
                yield ctx.error(
                    path,
                    f"call '{name}' has no stop: it runs to its end, so it cannot be resumed",
                    f"give the call '{name}' a `stop: {{at: SYMBOL}}` (or `stop: {{insns: N}}`)",
                )
            else:
                yield ctx.error(
                    path,
                    f"no call has the id '{name}'{suggestion(name, sorted(stopping))}",
                    "resume names the id of a call with a `stop:`",
                )
            continue
        if name in first:
            line = ctx.doc.mark(first[name])[0]
            yield ctx.error(
                path,
                f"call '{name}' is resumed twice (first on line {line})",
                "a stopped call resumes once and runs to its end: remove one of the resumes",
            )
            continue
        first[name] = path
        if i < stopping[name]:
            yield ctx.error(
                path,
                f"call '{name}' is made in a later step (step {stopping[name]}), so it has "
                "not stopped yet",
                "move the resume after the step that makes the call",
            )
