"""Semantic checks on what the kernel would accept and what a run can show.

Part of the :data:`ftscen.load.validate.CHECKS` table: globs that match nothing, ops definitions
the kernel refuses, redirects that cannot work, CPUs, step keys, call ids, site symbols,
kernel versions and the documented limits (:data:`ftscen.core.model.LIMITS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic
from ftscen.core.globs import apply_globs
from ftscen.core.model import (
    ANY,
    LIMITS,
    TRAMPOLINE_CALLEES,
    TRAMPOLINE_SITES,
    is_trampoline_site,
)
from ftscen.core.profile import OLDEST_RELEASE, parse_version
from ftscen.load.document import child_path

if TYPE_CHECKING:
    from ftscen.load.context import Context

#: What ``OPS.tramp_call`` reads while OPS has no trampoline (never created, or freed).
NOT_ALLOCATED = "not allocated"

#: Symbols a function's call site may call besides ``OPS.tramp`` (arch/x86/kernel/ftrace_32.S).
SITE_TARGETS = ("ftrace_caller", "ftrace_regs_caller")


def _ops_entries(ctx: Context) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, entry in enumerate(ctx.data.get("ops", [])):
        yield f"$.ops[{i}]", entry


# ---- ops -----------------------------------------------------------------------------------


def check_unmatched_globs(ctx: Context) -> Iterator[Diagnostic]:
    """A glob in an ops definition must select a traceable function: ``ftrace_set_hash()``
    fails with -EINVAL when ``ftrace_match_records()`` finds no record (kernel/trace/ftrace.c).
    Notrace functions have no record (no ``__mcount_loc`` entry), so they never match."""
    traceable = ctx.traceable
    for path, entry in _ops_entries(ctx):
        for hash_name in ("filter", "notrace"):
            for j, glob in enumerate(entry.get(hash_name, [])):
                if apply_globs(frozenset(), [glob], traceable, True)[1] is None:
                    continue
                yield _unmatched(ctx, f"{path}.{hash_name}[{j}]", glob)


def _unmatched(ctx: Context, path: str, glob: str) -> Diagnostic:
    name = glob.lstrip("!")
    if name in ctx.notrace:
        return ctx.error(
            path,
            f"the glob '{glob}' matches no function: '{name}' is notrace",
            f"'{name}' has no call site, so no ops can trace it; drop the glob "
            "or the function's `notrace: true`",
        )
    return ctx.error(
        path,
        f"the glob '{glob}' matches no function{suggestion(name, ctx.traceable)}",
        "a glob in an ops definition must match a traceable function (in a "
        "set_filter step it makes the step return EINVAL instead)",
    )


def check_ipmodify_notrace(ctx: Context) -> Iterator[Diagnostic]:
    """kernel/trace/ftrace.c ``ftrace_hash_move()``: "IPMODIFY ops may not have a notrace
    hash" -> -EINVAL, so an IPMODIFY ops cannot be defined with one."""
    for path, entry in _ops_entries(ctx):
        if "IPMODIFY" in entry.get("flags", []) and entry.get("notrace"):
            yield ctx.error(
                f"{path}.notrace",
                f"the IPMODIFY ops '{entry['name']}' has a "
                "notrace hash, which the kernel refuses (ftrace_hash_move: -EINVAL)",
                "drop `notrace:` here; to show the refusal, add a set_notrace step "
                "with `expect: EINVAL`",
            )


def check_redirects(ctx: Context) -> Iterator[Diagnostic]:
    """A redirect sets ``regs->ip`` (livepatch's ``klp_ftrace_handler()``), so the ops needs
    regs, and the redirected function needs a call site for the handler to run at all."""
    for path, entry in _ops_entries(ctx):
        redirect = entry.get("redirect", {})
        if redirect and "SAVE_REGS" not in entry.get("flags", []):
            yield ctx.error(
                f"{path}.redirect",
                f"the ops '{entry['name']}' redirects but lacks the SAVE_REGS flag",
                "the handler writes regs->ip, so it "
                "needs regs: add SAVE_REGS to its flags (livepatch uses SAVE_REGS, "
                "IPMODIFY and DYNAMIC)",
                key=True,
            )
        for source, target in redirect.items():
            at = child_path(f"{path}.redirect", source)
            if source in ctx.notrace:
                yield ctx.error(
                    at,
                    f"'{source}' is notrace: it has no call site, so it can never be redirected",
                    f"redirect a traceable function, or drop `notrace: true` from '{source}'",
                    key=True,
                )
            elif source == target:
                yield ctx.error(
                    at,
                    f"'{source}' is redirected to itself",
                    "the handler would "
                    "run again at once, for ever: redirect it to another function",
                )


# ---- timeline ------------------------------------------------------------------------------


def _cpu_uses(ctx: Context) -> Iterator[tuple[str, int]]:
    for path, step in ctx.steps():
        if "call" in step and "cpu" in step:
            yield f"{path}.cpu", step["cpu"]
    for path, entry in ctx.durings():
        if "cpu" in entry and entry["cpu"] != ANY:
            yield f"{path}.cpu", entry["cpu"]


def check_cpus(ctx: Context) -> Iterator[Diagnostic]:
    cpus = ctx.cpus
    span = "CPU 1" if cpus == 2 else f"CPUs 1 to {cpus - 1}"
    choose = "use cpu: 1" if cpus == 2 else f"use a CPU from 1 to {cpus - 1}"
    for path, cpu in _cpu_uses(ctx):
        if cpu == 0:
            yield ctx.error(path, f"CPU 0 runs the patcher; calls run on {span}", choose)
        elif cpu >= cpus:
            yield ctx.error(
                path,
                f"cpu {cpu} is out of range: with kernel.cpus {cpus}, calls "
                f"run on {span} (CPU 0 runs the patcher)",
                f"{choose}, or raise kernel.cpus (at most {LIMITS['cpus']})",
            )


def check_step_keys(ctx: Context) -> Iterator[Diagnostic]:
    """``expect`` and ``during`` belong to patcher steps, ``cpu`` to call steps."""
    for path, step in ctx.steps():
        if "call" in step or "resume" in step:
            kind = ctx.action(step)
            if "expect" in step:
                yield ctx.error(
                    f"{path}.expect",
                    f"'expect' does not apply to a {kind} step: a call returns no error code",
                    "check what the call did with "
                    "an assertion under the top-level `expect:` (by its id)",
                    key=True,
                )
            if "during" in step:
                yield ctx.error(
                    f"{path}.during",
                    f"'during' does not apply to a {kind} step",
                    "put the call in the `during:` of the patcher step it should "
                    "interrupt (register, unregister, set_filter, ...)",
                    key=True,
                )
        elif "cpu" in step:
            yield ctx.error(
                f"{path}.cpu",
                f"'cpu' does not apply to a {ctx.action(step)} step: patcher steps run on CPU 0",
                "remove it",
                key=True,
            )


# ---- expect --------------------------------------------------------------------------------


def check_call_ids(ctx: Context) -> Iterator[Diagnostic]:
    calls: set[str] = set()
    others: dict[str, str] = {}
    for _, step in ctx.steps():
        if "id" in step and "call" in step:
            calls.add(step["id"])
        elif "id" in step:
            others.setdefault(step["id"], ctx.action(step))
    calls.update(entry["id"] for _, entry in ctx.durings() if "id" in entry)
    for path, entry in ctx.assertions():
        name = entry.get("call")
        if name is None or name in calls:
            continue
        if name in others:
            yield ctx.error(
                f"{path}.call",
                f"'{name}' is the id of a {others[name]} step, not of a call",
                "a call assertion checks a call: name a `call:` step or a `during:` entry",
            )
        else:
            yield ctx.error(
                f"{path}.call",
                f"no call has the id '{name}'{suggestion(name, sorted(calls))}",
                f"give a `call:` step or a `during:` entry `id: {name}`",
            )


def check_sites(ctx: Context) -> Iterator[Diagnostic]:
    """A function's site is ``nop`` or ``call SYMBOL``: the common trampolines, or an ops'
    private one (``OPS.tramp``, built only with per-ops trampolines as on x86_64). A
    trampoline's own call site (``ftrace_call``, ``ftrace_regs_call``, ``OPS.tramp_call``)
    always calls something: what ``update_ftrace_function()`` / ``ftrace_ops_get_func()``
    choose (kernel/trace/ftrace.c)."""
    for path, entry in ctx.assertions():
        if "site" not in entry:
            continue
        func, state = entry["site"]["func"], entry["site"]["is"]
        at = f"{path}.site"
        if is_trampoline_site(func):
            yield from _trampoline_site(ctx, f"{at}.func", func)
            yield from _trampoline_state(ctx, f"{at}.is", func, state)
            continue
        if func not in ctx.functions:  # which kind of site is meant is unknown: no state check
            yield _unknown_site(ctx, f"{at}.func", func)
            continue
        if func in ctx.notrace:
            yield ctx.error(
                f"{at}.func",
                f"'{func}' is notrace: it has no call site",
                "check the site of a traceable function",
            )
        if state == NOT_ALLOCATED:
            yield ctx.error(
                f"{at}.is",
                f"a function's call site is never '{NOT_ALLOCATED}'",
                f"'{NOT_ALLOCATED}' is for OPS.tramp_call; a function's site is nop or a call",
            )
        if state.startswith("call "):
            yield from _site_symbol(ctx, f"{at}.is", state[len("call ") :])


def _dynamic(ctx: Context) -> bool:
    return bool(ctx.data.get("kernel", {}).get("dynamic_trampolines", False))


def _ops_names(ctx: Context) -> list[str]:
    """The ops of the scenario and the ftrace ops of its live patches' klp_ops."""
    return list(ctx.ops) + ctx.klp_ops


def _callbacks(ctx: Context) -> list[str]:
    """What an ops' trampoline may call directly: ``OPS.func``, and ``klp_ftrace_handler``
    (every klp_ops' callback) when the scenario has live patches."""
    return [f"{name}.func" for name in ctx.ops] + (["klp_ftrace_handler"] if ctx.klp_ops else [])


def _site_names(ctx: Context) -> list[str]:
    """Every name a site assertion may check in this scenario."""
    tramps = [f"{name}.tramp_call" for name in _ops_names(ctx)] if _dynamic(ctx) else []
    return ctx.traceable + list(TRAMPOLINE_SITES) + tramps


def _unknown_site(ctx: Context, path: str, func: str) -> Diagnostic:
    return ctx.error(
        path,
        f"unknown call site '{func}'{suggestion(func, _site_names(ctx))}",
        f"name a traceable function (defined: {ctx.listing(ctx.traceable)}), "
        "ftrace_call, ftrace_regs_call or, with kernel.dynamic_trampolines, "
        "OPS.tramp_call",
    )


def _trampoline_site(ctx: Context, path: str, func: str) -> Iterator[Diagnostic]:
    ops = func[: -len(".tramp_call")] if func.endswith(".tramp_call") else None
    if ops is None:
        return
    if ops not in _ops_names(ctx):
        yield _unknown_site(ctx, path, func)
    elif not _dynamic(ctx):
        yield ctx.error(
            path,
            f"'{func}' exists only with per-ops trampolines",
            "set kernel.dynamic_trampolines: true, or check ftrace_call or ftrace_regs_call",
        )


def _trampoline_state(ctx: Context, path: str, func: str, state: str) -> Iterator[Diagnostic]:
    callees = list(TRAMPOLINE_CALLEES) + _callbacks(ctx)
    others = "ftrace_ops_list_func, ftrace_ops_assist_func or OPS.func (an ops' callback)"
    if state == NOT_ALLOCATED:
        if not func.endswith(".tramp_call"):
            yield ctx.error(
                path,
                f"'{func}' is always allocated: it is part of the kernel image",
                f"'{NOT_ALLOCATED}' is for OPS.tramp_call, a per-ops trampoline's call site",
            )
        return
    if state == "nop":
        yield ctx.error(
            path,
            f"'{func}' is never a nop: a trampoline's call site always calls something",
            "expect `call ftrace_stub` when no ops is registered, "
            f"else `call SYMBOL` with SYMBOL {others}",
        )
        return
    symbol = state[len("call ") :]
    if symbol not in callees:
        yield ctx.error(
            path,
            f"'{func}' never calls '{symbol}'{suggestion(symbol, callees)}",
            f"a trampoline's call site calls ftrace_stub, {others}",
        )


def _site_symbol(ctx: Context, path: str, symbol: str) -> Iterator[Diagnostic]:
    if symbol in SITE_TARGETS:
        return
    known = list(SITE_TARGETS) + [f"{name}.tramp" for name in _ops_names(ctx)]
    ops = symbol[: -len(".tramp")] if symbol.endswith(".tramp") else None
    if symbol in TRAMPOLINE_CALLEES or symbol in _callbacks(ctx):
        yield ctx.error(
            path,
            f"a function's call site never calls '{symbol}': a trampoline's call site does",
            "at a function's site expect ftrace_caller, "
            "ftrace_regs_caller or OPS.tramp; to check the trampoline, write "
            f"`site: {{func: ftrace_call, is: call {symbol}}}`",
        )
    elif ops is None or ops not in _ops_names(ctx):
        yield ctx.error(
            path,
            f"unknown symbol '{symbol}'{suggestion(symbol, known)}",
            "a site calls ftrace_caller, ftrace_regs_caller or OPS.tramp (the "
            "private trampoline of an ops)",
        )
    elif not _dynamic(ctx):
        yield ctx.error(
            path,
            f"'{symbol}' exists only with per-ops trampolines",
            "set kernel.dynamic_trampolines: true, or expect ftrace_caller or ftrace_regs_caller",
        )


# ---- kernel --------------------------------------------------------------------------------


def check_kernel_version(ctx: Context) -> Iterator[Diagnostic]:
    version = ctx.data.get("kernel", {}).get("version")
    if version is None:
        return
    release = parse_version(version)
    if release is None:
        yield ctx.error(
            "$.kernel.version",
            f"'{version}' is not a kernel version",
            'write it like "5.3", "4.19.12" or "6.6-rc1"',
        )
    elif release < OLDEST_RELEASE:
        yield ctx.error(
            "$.kernel.version",
            f"kernel {version} is older than 3.5: kernels "
            "before 3.5 patched under stop_machine, there is no breakpoint window "
            "to model",
            "use version 3.5 or later",
        )


def check_format_version(ctx: Context) -> Iterator[Diagnostic]:
    """``ftscen:`` is the integer 1, written ``1``. YAML reads ``1.0`` as a number equal to 1
    and ``0x1``, ``0o1``, ``+1`` or ``01`` as the integer 1, so the schema's ``const: 1``
    lets them through; the text as written, found at the value's mark, does not."""
    if "$.ftscen" not in ctx.doc.marks:
        return
    line, col = ctx.doc.mark("$.ftscen")
    written = _FORMAT_TOKEN.match((ctx.doc.line(line) or "")[col - 1 :])
    if written is not None and written[1] not in ("1", None):
        yield ctx.error(
            "$.ftscen",
            f"the format version is written '{written[1]}'; it is the integer 1",
            "write `ftscen: 1`",
        )


#: A plain scalar as written, after its tag and anchor if any: up to a space, a comment or
#: the end of a flow collection. An alias (``*a``) shows nothing of its value: not judged.
_FORMAT_TOKEN = re.compile(r"(?:[!&]\S*\s+)*(?:\*\S*|([^\s#,\]}]+))")


# ---- limits --------------------------------------------------------------------------------


def _counted(ctx: Context) -> Iterator[tuple[str, str, list[Any], str]]:
    """(limit name, path of the list, the list, what it holds)."""
    yield "functions", "$.functions", ctx.data["functions"], "functions"
    yield "ops", "$.ops", ctx.data.get("ops", []), "ops"
    yield "steps", "$.timeline", ctx.data["timeline"], "timeline steps"
    yield "expect", "$.expect", ctx.data.get("expect", []), "assertions"
    for i, entry in enumerate(ctx.data["functions"]):
        yield "calls_per_function", f"$.functions[{i}].calls", entry.get("calls", []), "calls"
    for path, entry in _ops_entries(ctx):
        yield "calls_per_handler", f"{path}.calls", entry.get("calls", []), "handler calls"
        for hash_name in ("filter", "notrace"):
            yield "globs_per_list", f"{path}.{hash_name}", entry.get(hash_name, []), "globs"
    for path, step in ctx.steps():
        yield "during_per_step", f"{path}.during", step.get("during", []), "during calls"
        for action in ("set_filter", "set_notrace"):
            if action in step:
                key = action[len("set_") :]
                yield "globs_per_list", f"{path}.{action}.{key}", step[action][key], "globs"


def check_limits(ctx: Context) -> Iterator[Diagnostic]:
    for limit, path, items, noun in _counted(ctx):
        if len(items) > LIMITS[limit]:
            yield ctx.error(
                f"{path}[{LIMITS[limit]}]",
                f"too many {noun}: {len(items)} (the limit is {LIMITS[limit]})",
                "keep scenarios small: split this one, or drop what the story does not need",
            )
    yield from _check_calls(ctx)


def _check_calls(ctx: Context) -> Iterator[Diagnostic]:
    """The calls of the whole timeline (``call`` steps and ``during`` calls together), located
    at the first one past the limit."""
    limit = LIMITS["calls"]
    counts = [
        (path, int("call" in step), len(step.get("during", []))) for path, step in ctx.steps()
    ]
    total = sum(own + during for _, own, during in counts)
    if total <= limit:
        return
    seen, where = 0, ""
    for path, own, during in counts:
        if seen + own > limit:
            where = path
            break
        if seen + own + during > limit:
            where = f"{path}.during[{limit - seen - own}]"
            break
        seen += own + during
    yield ctx.error(
        where,
        f"too many calls in the timeline: {total} (the limit is {limit})",
        "split the scenario: each file runs on its own",
    )
