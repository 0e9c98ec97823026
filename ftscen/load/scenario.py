"""Stage 2: a scenario file -> a validated :class:`~ftscen.core.model.Scenario`.

:func:`load_scenario` runs the loader (YAML with marks), the shape check (the JSON Schema),
the semantic checks (:data:`ftscen.load.validate.CHECKS`), and builds the frozen model. Anything
wrong is raised as one :class:`ScenarioInvalid` holding every diagnostic, best first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

from ftscen.core.diagnostics import sort_diagnostics
from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.files import FileRefused, read_bounded
from ftscen.core.kernels import KernelSet, parse_kernel_set
from ftscen.core.klp import (
    KLP_OPS_FLAGS,
    Busy,
    Disable,
    Enable,
    Transition,
    klp_ops_name,
)
from ftscen.core.model import (
    ANY,
    LIMITS,
    NO_MARK,
    QUANTIFIER_KEYS,
    Action,
    Call,
    During,
    Expectation,
    ExpectCall,
    ExpectCalled,
    ExpectNotCalled,
    ExpectRecord,
    ExpectSite,
    FtraceOps,
    Function,
    Kernel,
    KlpFunc,
    Livepatch,
    Mark,
    Quantified,
    Quantifier,
    Register,
    Resume,
    Scenario,
    SetFilter,
    SetNotrace,
    Step,
    Stop,
    Sysctl,
    Unregister,
    Xfail,
)
from ftscen.load.document import Document
from ftscen.load.loader import load_yaml, oversize
from ftscen.load.schema import check_shape
from ftscen.load.validate import check_semantics


def load_scenario(
    path: str | os.PathLike[str], text: bytes | None = None, *, fast: bool = True
) -> Scenario:
    """Load, check and build one scenario (stage 2).

    ``path`` is shown in diagnostics and marks exactly as given; ``text`` (the file's bytes)
    is read from ``path`` when omitted. Raises :class:`ScenarioInvalid` with all problems,
    sorted by line and column. ``fast=False`` skips the libyaml path of the YAML stage (for
    tests and benchmarks: the result is the same).
    """
    file = os.fspath(path)
    data = _read(file) if text is None else text
    try:
        doc = load_yaml(data, file, fast=fast)
    except ScenarioInvalid as invalid:
        raise ScenarioInvalid(sort_diagnostics(invalid.diagnostics)) from None
    problems = check_shape(doc) or check_semantics(doc)
    if problems:
        raise ScenarioInvalid(sort_diagnostics(_with_source(doc, problems)))
    return build_scenario(doc, hashlib.sha256(data).hexdigest())


def _read(file: str) -> bytes:
    try:
        return read_bounded(file, LIMITS["file_bytes"], "scenario")
    except FileRefused as refused:
        too_big = oversize(file, refused.size) if refused.size is not None else None
        raise ScenarioInvalid(
            [too_big or Diagnostic(file, 0, 0, refused.reason, hint=refused.hint)]
        ) from None
    except OSError as err:
        reason = err.strerror or str(err)
        raise ScenarioInvalid(
            [Diagnostic(file, 0, 0, f"cannot read the file: {reason}", hint="check the path")]
        ) from None


def _with_source(doc: Document, diags: list[Diagnostic]) -> list[Diagnostic]:
    """Fill in each diagnostic's source line from the document."""
    out = []
    for diag in diags:
        if diag.source_line is None and doc.line(diag.line) is not None:
            diag = Diagnostic(
                diag.file,
                diag.line,
                diag.col,
                diag.message,
                diag.path,
                diag.hint,
                doc.line(diag.line),
                diag.severity,
            )
        out.append(diag)
    return out


# ---- building the model from a checked document ---------------------------------------------


def build_scenario(doc: Document, source_sha256: str = "") -> Scenario:
    """The frozen model of a document that passed every check."""
    data: dict[str, Any] = doc.data
    patches = tuple(_livepatch(doc, i, p) for i, p in enumerate(data.get("livepatches", [])))
    return Scenario(
        name=data.get("name") or Path(doc.file).stem,
        path=doc.file,
        functions=tuple(_function(doc, i, f) for i, f in enumerate(data["functions"])),
        ops=tuple(_ops(doc, i, o) for i, o in enumerate(data.get("ops", []))) + _klp_ops(patches),
        timeline=tuple(_step(doc, i, s) for i, s in enumerate(data["timeline"])),
        expect=tuple(
            _assertion(doc, i, e)
            for i, e in enumerate(data.get("expect", []))
            if not _quantifier(e)
        ),
        kernel=_kernel(doc, data.get("kernel", {})),
        description=data.get("description", "").strip(),
        xfail=_xfail_reason(data.get("xfail")),
        source_sha256=source_sha256,
        xfail_strict=_xfail(doc, data.get("xfail")),
        quantified=tuple(
            _quantified(doc, i, e) for i, e in enumerate(data.get("expect", [])) if _quantifier(e)
        ),
        livepatches=patches,
    )


def _quantifier(entry: dict[str, Any]) -> str | None:
    return next((q for q in QUANTIFIER_KEYS if q in entry), None)


def _quantified(doc: Document, i: int, entry: dict[str, Any]) -> Quantified:
    """``- sometimes: ASSERTION`` / ``- never: ASSERTION``, ``kernels`` beside the key."""
    key = _quantifier(entry)
    assert key is not None
    inner = _bare_assertion(doc, i, entry[key], f"$.expect[{i}].{key}")
    return Quantified(
        Quantifier(key),
        inner,
        _mark(doc, f"$.expect[{i}]"),
        _kernels(entry.get("kernels", entry[key].get("kernels"))),
        i,
    )


def _livepatch(doc: Document, i: int, entry: dict[str, Any]) -> Livepatch:
    funcs = tuple(
        KlpFunc(old, None if new == "nop" else new) for old, new in entry["funcs"].items()
    )
    mark = _mark(doc, f"$.livepatches[{i}]")
    return Livepatch(entry["name"], funcs, bool(entry.get("replace", False)), mark)


def _klp_ops(patches: tuple[Livepatch, ...]) -> tuple[FtraceOps, ...]:
    """One ``klp_ops`` per function some patch patches, in the order they first appear: its
    ``fops`` filters exactly that function (``ftrace_set_filter_ip``) and carries the flags
    of kernel/livepatch/patch.c ``klp_patch_func``."""
    out: dict[str, FtraceOps] = {}
    for patch in patches:
        for func in patch.funcs:
            if func.old not in out:
                name = klp_ops_name(func.old)
                out[func.old] = FtraceOps(
                    name, KLP_OPS_FLAGS, (func.old,), mark=patch.mark, klp_func=func.old
                )
    return tuple(out.values())


def _xfail_reason(value: Any) -> str | None:
    if value is None:
        return None
    return str(value["reason"] if isinstance(value, dict) else value).strip()


def _xfail(doc: Document, value: Any) -> Xfail | None:
    if not isinstance(value, dict):
        return None
    return Xfail(
        str(value["reason"]).strip(),
        tuple(value["fails"]),
        _kernels(value.get("kernels")),
        _mark(doc, "$.xfail"),
    )


def _kernels(value: Any) -> KernelSet | None:
    return None if value is None else parse_kernel_set(value)


def _mark(doc: Document, path: str) -> Mark:
    line, col = doc.mark(path)
    return Mark(doc.file, line, col, path, doc.line(line))


def _kernel(doc: Document, block: dict[str, Any]) -> Kernel:
    return Kernel(
        version=block.get("version", "6.6"),
        dynamic_trampolines=bool(block.get("dynamic_trampolines", False)),
        int3=block.get("int3"),
        cpus=int(block.get("cpus", 2)),
        mark=_mark(doc, "$.kernel"),
        preempt=bool(block.get("preempt", False)),
    )


def _function(doc: Document, i: int, entry: dict[str, Any]) -> Function:
    return Function(
        entry["name"],
        tuple(entry.get("calls", [])),
        bool(entry.get("notrace", False)),
        _mark(doc, f"$.functions[{i}]"),
    )


def _ops(doc: Document, i: int, entry: dict[str, Any]) -> FtraceOps:
    return FtraceOps(
        name=entry["name"],
        flags=frozenset(entry.get("flags", [])),
        filter_hash=tuple(entry.get("filter", [])),
        notrace_hash=tuple(entry.get("notrace", [])),
        redirect=tuple(entry.get("redirect", {}).items()),
        calls=tuple(entry.get("calls", [])),
        mark=_mark(doc, f"$.ops[{i}]"),
    )


def _cpu(entry: dict[str, Any]) -> int | None:
    cpu = entry.get("cpu")
    return None if cpu is None or cpu == ANY else int(cpu)


def _action(doc: Document, step: dict[str, Any], path: str) -> Action:
    if "register" in step:
        return Register(step["register"])
    if "unregister" in step:
        return Unregister(step["unregister"])
    if "set_filter" in step:
        edit = step["set_filter"]
        return SetFilter(edit["ops"], tuple(edit["filter"]), bool(edit.get("reset", True)))
    if "set_notrace" in step:
        edit = step["set_notrace"]
        return SetNotrace(edit["ops"], tuple(edit["notrace"]), bool(edit.get("reset", True)))
    if "sysctl" in step:
        return Sysctl(bool(step["sysctl"]["ftrace_enabled"]))
    if "enable" in step:
        return Enable(step["enable"])
    if "disable" in step:
        return Disable(step["disable"])
    if "transition" in step:
        return Transition(step["transition"])
    if "busy" in step:
        return Busy(int(step["busy"]["cpu"]), tuple(step["busy"]["stack"]))
    if "resume" in step:
        return Resume(step["resume"], _mark(doc, f"{path}.resume"))
    return Call(step["call"], _cpu(step), _stop(doc, step, path))


def _stop(doc: Document, entry: dict[str, Any], path: str) -> Stop | None:
    stop = entry.get("stop")
    if stop is None:
        return None
    mark = _mark(doc, f"{path}.stop")
    if stop == ANY:
        return Stop(mark=mark, explored=True)
    if "any" in stop:
        return Stop(mark=mark, explored=True, within=stop["any"])
    insns = stop.get("insns")
    return Stop(stop.get("at"), None if insns is None else int(insns), _mark(doc, f"{path}.stop"))


def _errno(value: Any) -> str | None:
    """``expect: 0`` and ``expect: "0"`` both mean success, "0"."""
    if value is None:
        return None
    return "0" if value == 0 and not isinstance(value, bool) else str(value)


def _step(doc: Document, i: int, step: dict[str, Any]) -> Step:
    path = f"$.timeline[{i}]"
    during = tuple(
        _during(doc, f"{path}.during[{j}]", e) for j, e in enumerate(step.get("during", []))
    )
    expect = step.get("expect")
    eras = expect if isinstance(expect, list) else [expect] if isinstance(expect, dict) else []
    return Step(
        i,
        _action(doc, step, path),
        step.get("id"),
        None if eras else _errno(expect),
        during,
        _mark(doc, path),
        tuple((str(_errno(e["errno"])), parse_kernel_set(e["kernels"])) for e in eras),
    )


def _during(doc: Document, path: str, entry: dict[str, Any]) -> During:
    """A ``during`` entry: a call, or the resumption of a stopped call. ``at`` a list keeps
    the list in ``points`` and its first in ``at`` (an explored call, docs/explore.md)."""
    mark = _mark(doc, f"{path}.at")
    at = entry["at"]
    points = tuple(at) if isinstance(at, list) else ()
    if "resume" in entry:
        resume = Resume(entry["resume"], _mark(doc, f"{path}.resume"))
        return During(points[0] if points else at, None, None, mark, resume, points=points)
    return During(
        points[0] if points else at,
        Call(entry["call"], _cpu(entry), _stop(doc, entry, path)),
        entry.get("id"),
        mark,
        points=points,
        cpu_any=entry.get("cpu") == ANY,
        cpu_mark=_mark(doc, f"{path}.cpu") if "cpu" in entry else NO_MARK,
        point_marks=tuple(_mark(doc, f"{path}.at[{k}]") for k in range(len(points))),
    )


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def _regs(target: dict[str, Any]) -> bool | None:
    return bool(target["regs"]) if "regs" in target else None


def _assertion(doc: Document, i: int, entry: dict[str, Any]) -> Expectation:
    exp = _bare_assertion(doc, i, entry)
    kernels = _kernels(entry.get("kernels"))
    return exp if kernels is None else dataclasses.replace(exp, kernels=kernels)


def _bare_assertion(
    doc: Document, i: int, entry: dict[str, Any], path: str | None = None
) -> Expectation:
    mark = _mark(doc, path or f"$.expect[{i}]")
    if "call" in entry:
        called = entry.get("called")
        counts = tuple((k, int(v)) for k, v in called.items()) if isinstance(called, dict) else None
        listed = tuple(called) if isinstance(called, list) else None
        return ExpectCall(entry["call"], _names(entry.get("ran")), listed, counts, mark)
    if "called" in entry:
        target = entry["called"]
        count = entry.get("count")
        return ExpectCalled(
            target["ops"],
            target.get("func"),
            None if count is None else int(count),
            _regs(target),
            mark,
        )
    if "not_called" in entry:
        target = entry["not_called"]
        return ExpectNotCalled(target["ops"], target.get("func"), _regs(target), mark)
    if "record" in entry:
        rec = entry["record"]
        flags = rec.get("flags")
        return ExpectRecord(
            rec["func"],
            rec.get("count"),
            None if flags is None else tuple(flags),
            rec.get("after"),
            mark,
        )
    site = entry["site"]
    return ExpectSite(site["func"], site["is"], mark)
