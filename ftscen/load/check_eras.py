"""Semantic checks on what a file says per kernel: ranges, strict ``xfail`` and era flags.

Part of the :data:`ftscen.load.validate.CHECKS` table. A range that cannot be read or holds
no kernel would silently turn an assertion off, so it is an error; so is an ``xfail.fails``
name that no assertion carries, and an ops flag the file's kernel does not have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic
from ftscen.core.kernels import RANGE_HINT, RangeError, parse_kernel_set
from ftscen.core.model import QUANTIFIER_KEYS
from ftscen.core.profile import flag_problem, parse_version

if TYPE_CHECKING:
    from ftscen.load.context import Context

#: The name ``xfail.fails`` gives an emulation fault.
FAULT = "fault"


def _ranges(ctx: Context) -> Iterator[tuple[str, Any]]:
    """Every ``kernels:`` value in the file, with its path."""
    for path, entry in ctx.assertions():
        if "kernels" in entry:
            yield f"{path}.kernels", entry["kernels"]
    for i, entry in enumerate(ctx.data.get("expect", [])):
        if "kernels" in entry and any(q in entry for q in QUANTIFIER_KEYS):
            yield f"$.expect[{i}].kernels", entry["kernels"]
    for path, step in ctx.steps():
        expect = step.get("expect")
        entries = expect if isinstance(expect, list) else [expect]
        for j, entry in enumerate(entries):
            if isinstance(entry, dict):
                where = f"{path}.expect[{j}]" if isinstance(expect, list) else f"{path}.expect"
                yield f"{where}.kernels", entry["kernels"]
    xfail = ctx.data.get("xfail")
    if isinstance(xfail, dict) and "kernels" in xfail:
        yield "$.xfail.kernels", xfail["kernels"]


def check_kernel_ranges(ctx: Context) -> Iterator[Diagnostic]:
    """Each range is readable and holds at least one kernel ftscen models."""
    for path, value in _ranges(ctx):
        try:
            parse_kernel_set(value)
        except RangeError as exc:
            yield ctx.error(path, str(exc), RANGE_HINT)


def _assertion_names(ctx: Context) -> set[str]:
    names = {FAULT}
    names.update(e["call"] for _, e in ctx.assertions() if "call" in e)
    names.update(s["id"] for _, s in ctx.steps() if "id" in s and "call" not in s)
    return names


def check_xfail_names(ctx: Context) -> Iterator[Diagnostic]:
    """``xfail.fails`` names call assertions (by call id), patcher steps (by id) or fault."""
    xfail = ctx.data.get("xfail")
    if not isinstance(xfail, dict):
        return
    known = _assertion_names(ctx)
    for j, name in enumerate(xfail["fails"]):
        if name in known:
            continue
        yield ctx.error(
            f"$.xfail.fails[{j}]",
            f"no assertion is named '{name}'{suggestion(name, sorted(known))}",
            "name the call id of a `- call:` assertion, the id of a patcher step with an "
            "`expect:`, or fault",
        )


def check_era_flags(ctx: Context) -> Iterator[Diagnostic]:
    """An ops flag must exist in the file's kernel (``kernel.version``)."""
    release = parse_version(str(ctx.data.get("kernel", {}).get("version", "6.6")))
    if release is None:
        return  # reported by the kernel-version check
    for i, entry in enumerate(ctx.data.get("ops", [])):
        for j, flag in enumerate(entry.get("flags", [])):
            hint = flag_problem(flag, release)
            if hint is not None:
                yield ctx.error(
                    f"$.ops[{i}].flags[{j}]",
                    f"kernel {ctx.data['kernel']['version']} has no {flag} flag",
                    hint,
                )
