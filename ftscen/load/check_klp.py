"""Semantic checks on the ``livepatches:`` section and the steps that drive it.

Part of the :data:`ftscen.load.validate.CHECKS` table. The rules follow kernel/livepatch/:
a patched function needs an ftrace location (``klp_patch_func``: "failed to find location"),
``nop`` entries exist only in atomic replace patches (``klp_add_nops`` makes them for
``patch->replace``; a static ``nop`` has no ``new_func``, which ``klp_init_func`` refuses),
atomic replace exists from 5.1 (e1452b607c48 "livepatch: Add atomic replace"), and a patch
is disabled by writing 0 to its ``enabled`` attribute, which fails unless it is enabled
(``enabled_store``). Which patches are enabled is followed through the timeline as written,
each transition taken to complete; an ``enable`` step with an ``expect:`` may fail, so its
patch may be enabled again or disabled later without complaint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic
from ftscen.core.klp import Transition, klp_ops_name
from ftscen.core.model import LIMITS, Scenario
from ftscen.core.profile import parse_version
from ftscen.load.document import child_path

if TYPE_CHECKING:
    from ftscen.load.context import Context

#: Atomic replace exists from this release (e1452b607c48, v5.1).
REPLACE_FROM = (5, 1)


def replace_problem(release: tuple[int, int]) -> str | None:
    """Why ``replace: true`` cannot be used on ``release`` (a hint), or None."""
    if release >= REPLACE_FROM:
        return None
    return (
        'atomic replace exists from 5.1 (e1452b607c48 "livepatch: Add atomic replace"): '
        "drop `replace`, or pin kernel.version (or limit --kernel) to 5.1 or later"
    )


#: The ``force`` attribute exists from this release (c99a2be790b0, v4.15).
FORCE_FROM = (4, 15)


def force_problem(release: tuple[int, int]) -> str | None:
    """Why ``transition: force`` cannot be used on ``release`` (a hint), or None."""
    if release >= FORCE_FROM:
        return None
    return (
        '/sys/kernel/livepatch/PATCH/force exists from 4.15 (c99a2be790b0 "livepatch: force '
        'transition to finish"): use `transition: complete`, or pin kernel.version (or limit '
        "--kernel) to 4.15 or later"
    )


def _patches(ctx: Context) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, entry in enumerate(ctx.data.get("livepatches", [])):
        yield f"$.livepatches[{i}]", entry


def check_livepatches(ctx: Context) -> Iterator[Diagnostic]:
    """Names, functions, ``nop`` and ``replace`` of each patch."""
    first: dict[str, str] = {}
    for path, patch in _patches(ctx):
        name = patch["name"]
        if name in first:
            line = ctx.doc.mark(first[name])[0]
            yield ctx.error(
                f"{path}.name",
                f"duplicate live patch '{name}' (first on line {line})",
                "each patch (module) needs its own name: rename or remove one of them",
            )
        first.setdefault(name, f"{path}.name")
        for old, new in patch["funcs"].items():
            at = child_path(f"{path}.funcs", old)
            yield from _old_function(ctx, at, old)
            if new == "nop":
                if not patch.get("replace", False):
                    yield ctx.error(
                        at,
                        f"'{old}: nop' in patch '{name}', which is not a replace patch",
                        "nop entries exist only in atomic replace patches (klp_add_nops): "
                        "add `replace: true`, or name the new function",
                    )
            elif new not in ctx.functions:
                yield ctx.error(
                    at,
                    f"unknown function '{new}'{suggestion(new, list(ctx.functions))}",
                    "define the new function under `functions:` (usually `notrace: true`)",
                )
        if patch.get("replace", False):
            yield from _replace_era(ctx, f"{path}.replace")


def _old_function(ctx: Context, at: str, old: str) -> Iterator[Diagnostic]:
    if old not in ctx.functions:
        yield ctx.error(
            at,
            f"unknown function '{old}'{suggestion(old, list(ctx.functions))}",
            f"patch a function defined under `functions:` ({ctx.listing(list(ctx.functions))})",
            key=True,
        )
    elif old in ctx.notrace:
        yield ctx.error(
            at,
            f"'{old}' is notrace: it has no ftrace location to patch",
            'klp_patch_func() fails with "failed to find location": patch a traceable function',
            key=True,
        )


def _replace_era(ctx: Context, path: str) -> Iterator[Diagnostic]:
    version = str(ctx.data.get("kernel", {}).get("version", "6.6"))
    release = parse_version(version)
    hint = replace_problem(release) if release is not None else None
    if hint is not None:
        yield ctx.error(path, f"kernel {version} has no atomic replace", hint, key=True)


def _force_era(ctx: Context, path: str) -> Iterator[Diagnostic]:
    version = str(ctx.data.get("kernel", {}).get("version", "6.6"))
    release = parse_version(version)
    hint = force_problem(release) if release is not None else None
    if hint is not None:
        yield ctx.error(path, f"kernel {version} has no force attribute", hint)


def check_klp_ops_names(ctx: Context) -> Iterator[Diagnostic]:
    """A user ops may not take the name of a ``klp_ops``, nor a step drive one."""
    klp = {klp_ops_name(old) for _, p in _patches(ctx) for old in p["funcs"]}
    for i, entry in enumerate(ctx.data.get("ops", [])):
        if entry["name"] in klp:
            yield ctx.error(
                f"$.ops[{i}].name",
                f"'{entry['name']}' is the ftrace ops of a live patch's klp_ops",
                "rename the ops",
            )
    for path, step in ctx.steps():
        for key in ("register", "unregister", "set_filter", "set_notrace"):
            value = step.get(key)
            ops = value.get("ops") if isinstance(value, dict) else value
            if ops in klp and ops not in ctx.ops:
                yield ctx.error(
                    f"{path}.{key}",
                    f"'{ops}' belongs to the live patches: only enable/disable drive it",
                    "use `enable: PATCH` or `disable: PATCH`",
                )


def check_klp_steps(ctx: Context) -> Iterator[Diagnostic]:
    """``enable``/``disable`` name a patch, in a state that allows it; ``busy`` names a
    CPU and functions; ``busy`` takes no ``expect`` or ``during``."""
    patches = {p["name"]: p for _, p in _patches(ctx)}
    state = _Enabled()
    for path, step in ctx.steps():
        for key in ("busy", "transition"):
            if key in step and not patches:
                yield ctx.error(
                    f"{path}.{key}",
                    f"a {key} step needs live patches: this scenario has none",
                    "define them under `livepatches:`, or remove the step",
                    key=True,
                )
        if "busy" in step:
            yield from _busy(ctx, path, step)
        if step.get("transition") == "force":
            yield from _force_era(ctx, f"{path}.transition")
        for key in ("enable", "disable"):
            if key in step:
                yield from _enable_disable(ctx, f"{path}.{key}", step, patches, state)


class _Enabled:
    """What validation knows of the patches' state at a step. A static check cannot know
    every run-time outcome (a transition may stall, be reversed, or complete), so it keeps
    only what is certain and refuses only what is certainly wrong; the run returns the
    kernel's errno for the rest (``enabled_store()``: -EINVAL for a patch already in the
    requested state, -EBUSY during another patch's transition)."""

    def __init__(self) -> None:
        #: patches that may be enabled; True: surely enabled
        self.maybe: dict[str, bool] = {}
        #: replace patch -> the patches its enable may have replaced (a ``disable`` of the
        #: replace patch can reverse its transition: they may be enabled again)
        self.replaced: dict[str, list[str]] = {}

    def enable(self, name: str, replace: bool) -> None:
        if replace:
            self.replaced[name] = [p for p in self.maybe if p != name]
            self.maybe = {p: v for p, v in self.maybe.items() if p == name}
        self.maybe[name] = True

    def disable(self, name: str) -> None:
        del self.maybe[name]
        for again in self.replaced.pop(name, []):
            self.maybe.setdefault(again, False)


def _enable_disable(
    ctx: Context,
    path: str,
    step: dict[str, Any],
    patches: dict[str, dict[str, Any]],
    state: _Enabled,
) -> Iterator[Diagnostic]:
    """One ``enable``/``disable`` step, updating ``state`` as if it succeeds. A step with an
    ``expect:`` (an error) is never refused and changes nothing: the patch stays as it was."""
    name = step["enable"] if "enable" in step else step["disable"]
    if name not in patches:
        yield ctx.error(
            path,
            f"unknown live patch '{name}'{suggestion(name, list(patches))}",
            f"define it under `livepatches:` (defined: {ctx.listing(list(patches))})",
        )
    elif "expect" in step:
        return
    elif "enable" in step:
        if state.maybe.get(name):
            yield ctx.error(
                path,
                f"live patch '{name}' is already enabled here",
                "disable it first (a patch module is loaded once)",
            )
        state.enable(name, bool(patches[name].get("replace", False)))
    elif name not in state.maybe:
        yield ctx.error(
            path,
            f"live patch '{name}' is not enabled here",
            "enable it in an earlier step (a replaced patch is no longer enabled), or give "
            "the step the error it returns (`expect: EINVAL`)",
        )
    else:
        state.disable(name)


def _busy(ctx: Context, path: str, step: dict[str, Any]) -> Iterator[Diagnostic]:
    busy = step["busy"]
    if busy["cpu"] >= ctx.cpus:
        yield ctx.error(
            f"{path}.busy.cpu",
            f"cpu {busy['cpu']} is out of range: with kernel.cpus {ctx.cpus}, tasks are "
            f"those of CPUs 0 to {ctx.cpus - 1}",
            "use a CPU below kernel.cpus, or raise kernel.cpus",
        )
    for j, name in enumerate(busy["stack"]):
        if name not in ctx.functions:
            yield ctx.error(
                f"{path}.busy.stack[{j}]",
                f"unknown function '{name}'{suggestion(name, list(ctx.functions))}",
                "name functions defined under `functions:`",
            )
    for key in ("expect", "during", "cpu"):
        if key in step:
            yield ctx.error(
                f"{path}.{key}",
                f"'{key}' does not apply to a busy step: it only marks a task's stack",
                "remove it",
                key=True,
            )


def check_klp_limits(ctx: Context) -> Iterator[Diagnostic]:
    """The live patches fit the image: at most ``LIMITS["livepatches"]`` patches of at most
    ``LIMITS["funcs_per_patch"]`` functions, their klp_ops and the ops together within the
    ops limit, and every ``klp_func`` a run can need (nops of replace patches included)
    within the image's klp_func area."""
    patches = list(_patches(ctx))
    if len(patches) > LIMITS["livepatches"]:
        yield _over(ctx, f"$.livepatches[{LIMITS['livepatches']}]", len(patches), "livepatches")
        return
    for path, patch in patches:
        olds = list(patch["funcs"])
        if len(olds) > LIMITS["funcs_per_patch"]:
            at = child_path(f"{path}.funcs", olds[LIMITS["funcs_per_patch"]])
            yield _over(ctx, at, len(olds), "funcs_per_patch")
            return
    olds = list(dict.fromkeys(old for _, p in patches for old in p["funcs"]))
    total_ops = len(ctx.data.get("ops", [])) + len(olds)
    if olds and total_ops > LIMITS["ops"]:
        yield ctx.error(
            "$.livepatches",
            f"too many ops: {total_ops} with one klp_ops per patched function "
            f"(the limit is {LIMITS['ops']})",
            "keep scenarios small: patch fewer functions, or drop ops",
        )
    slots = sum(len(p["funcs"]) + (len(olds) if p.get("replace") else 0) for _, p in patches)
    if slots > LIMITS["klp_funcs"]:
        yield ctx.error(
            "$.livepatches",
            f"too many klp_func structures: {slots}, nop entries of replace patches included "
            f"(the limit is {LIMITS['klp_funcs']})",
            "keep scenarios small: fewer replace patches, or fewer patched functions",
        )


def _over(ctx: Context, path: str, count: int, limit: str) -> Diagnostic:
    """The error at the first item past a limit."""
    noun = {"livepatches": "live patches", "funcs_per_patch": "functions in one patch"}[limit]
    return ctx.error(
        path,
        f"too many {noun}: {count} (the limit is {LIMITS[limit]})",
        "keep scenarios small: split this one, or drop what the story does not need",
        key=limit == "funcs_per_patch",
    )


def replace_diagnostics(sc: Scenario, version: str, release: tuple[int, int]) -> list[Diagnostic]:
    """A replace patch or a forced transition run on a kernel without them (``--kernel`` may
    pick an older era than the file's own, which validation already checked)."""
    out = []
    hint = replace_problem(release)
    if hint is not None:
        out += [
            p.mark.diagnostic(
                f"live patch '{p.name}': kernel {version} has no atomic replace", hint
            )
            for p in sc.livepatches
            if p.replace
        ]
    hint = force_problem(release)
    if hint is not None:
        out += [
            s.mark.diagnostic(f"kernel {version} has no force attribute", hint)
            for s in sc.timeline
            if isinstance(s.action, Transition) and s.action.what == "force"
        ]
    return out
