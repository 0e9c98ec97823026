"""Semantic checks on names: duplicates, unknown functions and ops, reserved symbols, loops.

Part of the :data:`ftscen.load.validate.CHECKS` table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic
from ftscen.core.model import RESERVED_SYMBOLS, is_reserved
from ftscen.load.document import child_path

if TYPE_CHECKING:
    from ftscen.load.context import Context


def _duplicates(
    ctx: Context, entries: list[tuple[str, str]], noun: str, hint: str
) -> Iterator[Diagnostic]:
    first: dict[str, str] = {}
    for path, name in entries:
        if name in first:
            line = ctx.doc.mark(first[name])[0]
            yield ctx.error(path, f"duplicate {noun} '{name}' (first on line {line})", hint)
        else:
            first[name] = path


def check_duplicate_functions(ctx: Context) -> Iterator[Diagnostic]:
    functions = ctx.data["functions"]
    entries = [(f"$.functions[{i}].name", f["name"]) for i, f in enumerate(functions)]
    yield from _duplicates(
        ctx, entries, "function", "each function needs its own name: rename or remove one of them"
    )


def check_duplicate_ops(ctx: Context) -> Iterator[Diagnostic]:
    entries = [(f"$.ops[{i}].name", o["name"]) for i, o in enumerate(ctx.data.get("ops", []))]
    yield from _duplicates(
        ctx, entries, "ops", "each ops needs its own name: rename or remove one of them"
    )


def _ids(ctx: Context) -> Iterator[tuple[str, str, str]]:
    """(path of the id, id, what carries it) for steps and during calls, in file order."""
    for path, step in ctx.steps():
        if "id" in step:
            yield f"{path}.id", step["id"], ctx.action(step)
        for j, entry in enumerate(step.get("during", [])):
            if "id" in entry:
                yield f"{path}.during[{j}].id", entry["id"], "during"


def check_duplicate_ids(ctx: Context) -> Iterator[Diagnostic]:
    entries = [(path, name) for path, name, _ in _ids(ctx)]
    yield from _duplicates(
        ctx,
        entries,
        "id",
        "timeline and during ids share one namespace, "
        "so an assertion names one call: rename one of them",
    )


def check_reserved_names(ctx: Context) -> Iterator[Diagnostic]:
    for i, entry in enumerate(ctx.data["functions"]):
        if is_reserved(entry["name"]):
            yield ctx.error(
                f"$.functions[{i}].name",
                f"'{entry['name']}' is a symbol of the "
                "runtime image; a scenario function cannot take it",
                f"rename it (reserved: {', '.join(sorted(RESERVED_SYMBOLS))}, caller_cpuN)",
            )
        elif entry["name"] == "nop" and ctx.data.get("livepatches"):
            yield ctx.error(
                f"$.functions[{i}].name",
                "a function named 'nop' in a file with live patches: in a patch's funcs, "
                "`old: nop` means a nop entry (atomic replace), never this function",
                "rename the function",
            )


def _function_uses(ctx: Context) -> Iterator[tuple[str, str, bool]]:
    """(path, function name, is a mapping key) for every place naming a function."""
    for i, entry in enumerate(ctx.data["functions"]):
        for j, name in enumerate(entry.get("calls", [])):
            yield f"$.functions[{i}].calls[{j}]", name, False
    for i, entry in enumerate(ctx.data.get("ops", [])):
        for source, target in entry.get("redirect", {}).items():
            path = child_path(f"$.ops[{i}].redirect", source)
            yield path, source, True
            yield path, target, False
        for j, name in enumerate(entry.get("calls", [])):
            yield f"$.ops[{i}].calls[{j}]", name, False
    for path, step in ctx.steps():
        if "call" in step:
            yield f"{path}.call", step["call"], False
    for path, entry in ctx.durings():
        if "call" in entry:
            yield f"{path}.call", entry["call"], False
    yield from _asserted_functions(ctx)


def _asserted_functions(ctx: Context) -> Iterator[tuple[str, str, bool]]:
    for path, entry in ctx.assertions():
        ran = entry.get("ran")
        names = [ran] if isinstance(ran, str) else ran or []
        suffix = [".ran"] if isinstance(ran, str) else [f".ran[{j}]" for j in range(len(names))]
        for tail, name in zip(suffix, names):
            yield path + tail, name, False
        for kind in ("called", "not_called"):
            target = entry.get(kind)
            if "call" not in entry and isinstance(target, dict) and "func" in target:
                yield f"{path}.{kind}.func", target["func"], False
        if "record" in entry:
            yield f"{path}.record.func", entry["record"]["func"], False
    # site.func is checked by check_rules.check_sites: it may name a trampoline's call site


def check_unknown_functions(ctx: Context) -> Iterator[Diagnostic]:
    known = list(ctx.functions)
    for path, name, key in _function_uses(ctx):
        if name not in ctx.functions:
            yield ctx.error(
                path,
                f"unknown function '{name}'{suggestion(name, known)}",
                f"define it under `functions:` (defined: {ctx.listing(known)})",
                key=key,
            )


def _ops_uses(ctx: Context) -> Iterator[tuple[str, str, bool]]:
    """(path, ops name, is a mapping key) for every place naming an ops."""
    for path, step in ctx.steps():
        for action in ("register", "unregister"):
            if action in step:
                yield f"{path}.{action}", step[action], False
        for action in ("set_filter", "set_notrace"):
            if action in step:
                yield f"{path}.{action}.ops", step[action]["ops"], False
    for path, entry in ctx.assertions():
        called = entry.get("called")
        if "call" in entry and isinstance(called, list):
            yield from ((f"{path}.called[{j}]", name, False) for j, name in enumerate(called))
        elif "call" in entry and isinstance(called, dict):
            yield from ((child_path(f"{path}.called", n), n, True) for n in called)
        for kind in ("called", "not_called"):
            target = entry.get(kind)
            if "call" not in entry and isinstance(target, dict):
                yield f"{path}.{kind}.ops", target["ops"], False


def check_unknown_ops(ctx: Context) -> Iterator[Diagnostic]:
    known = list(ctx.ops) + ctx.klp_ops
    for path, name, key in _ops_uses(ctx):
        if name not in ctx.ops and name not in ctx.klp_ops:
            yield ctx.error(
                path,
                f"unknown ops '{name}'{suggestion(name, known)}",
                f"define it under `ops:` (defined: {ctx.listing(known)})",
                key=key,
            )


def check_call_loops(ctx: Context) -> Iterator[Diagnostic]:
    """Bodies make their calls every time, so a loop in ``calls`` never returns."""
    calls = {f["name"]: f.get("calls", []) for f in ctx.data["functions"]}
    reported: set[frozenset[str]] = set()
    on_loops = _on_loops(calls)  # linear; the search below only starts where loops are
    for start in (name for name in calls if name in on_loops):
        for loop, path in _loops_from(start, calls, ctx):
            if frozenset(loop) not in reported:
                reported.add(frozenset(loop))
                yield ctx.error(
                    path,
                    f"functions call each other in a loop: {' -> '.join(loop)}",
                    "a body makes its calls every time, "
                    "so this never returns: remove one of these calls",
                )


def _on_loops(calls: dict[str, list[str]]) -> set[str]:
    """The functions that lie on some loop of calls: those in a strongly connected component
    of more than one function, or calling themselves (Tarjan's algorithm, without recursion:
    a chain of 5,000 functions is allowed)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[str] = set()
    for root in calls:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            name, i = work.pop()
            if i == 0:
                index[name] = low[name] = len(index)
                stack.append(name)
                on_stack.add(name)
            callees = [c for c in calls[name] if c in calls]
            if i < len(callees):
                work.append((name, i + 1))
                callee = callees[i]
                if callee not in index:
                    work.append((callee, 0))
                elif callee in on_stack:
                    low[name] = min(low[name], index[callee])
                continue
            if low[name] == index[name]:
                component: list[str] = []
                while not component or component[-1] != name:
                    component.append(stack.pop())
                    on_stack.discard(component[-1])
                if len(component) > 1 or name in calls[name]:
                    found.update(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[name])
    return found


def _loops_from(
    start: str, calls: dict[str, list[str]], ctx: Context
) -> Iterator[tuple[list[str], str]]:
    """Loops through ``start``: (names around the loop, path of the call closing it)."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, trail = stack.pop()
        for j, callee in enumerate(calls.get(name, [])):
            if callee == start:
                yield trail + [start], f"{ctx.functions[name]}.calls[{j}]"
            elif callee in calls and callee not in seen:
                seen.add(callee)
                stack.append((callee, trail + [callee]))
