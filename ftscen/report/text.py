"""Stage: results -> text and JSON (reporters over one result object; stage code never prints).

The text log is canonical: addresses by symbol, no timestamps, no absolute paths, so the same
scenario gives byte-identical output on every run (it is what golden files hold).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ftscen.core import recflags
from ftscen.core.klp import Busy, Disable, Enable, Transition
from ftscen.core.model import (
    Action,
    Call,
    Register,
    Resume,
    Scenario,
    SetFilter,
    SetNotrace,
    Sysctl,
    Unregister,
)
from ftscen.core.profile import KernelProfile
from ftscen.emu.events import (
    CallbackEvent,
    CallEvent,
    Event,
    FaultEvent,
    Int3Event,
    KlpEvent,
    PatchEvent,
    PointEvent,
    RanEvent,
    ResultEvent,
    ResumeEvent,
    ReturnEvent,
    StepEvent,
    StopEvent,
    UnresumedEvent,
    WaitEvent,
    WarnEvent,
)
from ftscen.emu.run import RunResult
from ftscen.verdicts.evaluate import Outcome, Verdict


@dataclass(frozen=True)
class ScenarioReport:
    """One scenario run under one kernel profile, checked."""

    result: RunResult
    outcome: Outcome
    verdicts: tuple[Verdict, ...]
    display_path: str

    @property
    def name(self) -> str:
        return self.result.scenario.name


def describe_action(action: Action) -> str:
    if isinstance(action, Register):
        return f"register {action.ops}"
    if isinstance(action, Unregister):
        return f"unregister {action.ops}"
    if isinstance(action, (SetFilter, SetNotrace)):
        verb = "set_filter" if isinstance(action, SetFilter) else "set_notrace"
        reset = "" if action.reset else " (reset: false)"
        return f"{verb} {action.ops} [{', '.join(action.globs)}]{reset}"
    if isinstance(action, Sysctl):
        return f"sysctl ftrace_enabled={int(action.ftrace_enabled)}"
    if isinstance(action, Resume):
        return f"resume {action.call}"
    if isinstance(action, Enable | Disable):
        return f"{'enable' if isinstance(action, Enable) else 'disable'} {action.patch}"
    if isinstance(action, Transition):
        return f"transition {action.what}"
    if isinstance(action, Busy):
        return f"busy cpu{action.cpu} stack [{', '.join(action.funcs)}]"
    assert isinstance(action, Call)
    return f"call {action.func}"


def _callback_text(e: CallbackEvent) -> str:
    regs = "regs" if e.regs else "regs=NULL"
    extra = "" if e.op == f"{e.ops}.ops" else f" op={e.op}"
    return f"callback {e.ops} ip={e.ip} parent_ip={e.parent_ip} {regs}{extra}"


def _int3_text(e: Int3Event) -> str:
    if e.action == "call":
        return f"int3 at {e.ip}: emulate call {e.target}"
    return f"int3 at {e.ip}: resume at {e.target}"


def _warn_text(e: WarnEvent) -> str:
    """``pr_warn("  %pS flags:%lx")`` with the flags by name, and what the WARN did."""
    named = " ".join([*e.names, *([f"count {e.count}"] if e.count else [])]) or "none"
    return f"WARNING in {e.where}: {e.func} flags:{e.flags} ({named}); ftrace_kill()"


def event_text(e: Event) -> str:
    """One event as a log line (without indentation)."""
    match e:
        case PointEvent():
            return f"point {e.point}"
        case PatchEvent():
            return f"patch {e.site}: {e.change}"
        case ResultEvent():
            return f"result {e.errno if e.errno == '0' else '-' + e.errno}"
        case CallEvent():
            return f"call {e.call}: {e.func} on cpu{e.cpu}"
        case RanEvent():
            return f"ran {e.func}"
        case Int3Event():
            return _int3_text(e)
        case CallbackEvent():
            return _callback_text(e)
        case FaultEvent():
            return f"FAULT {e.fault} on cpu{e.cpu} at {e.pc}: {e.detail}"
        case WarnEvent():
            return _warn_text(e)
        case StopEvent():
            return f"stop {e.call} on cpu{e.cpu} at {e.pc}"
        case ResumeEvent():
            if e.finished_in is not None:
                return f"resume {e.call}: it already ran to its end in the wait of step {e.finished_in}"
            return f"resume {e.call} on cpu{e.cpu} at {e.pc}"
        case WaitEvent():
            return f"wait in {e.wait} for {e.call} (cpu{e.cpu} at {e.pc})"
        case UnresumedEvent():
            return f"left stopped: {e.call} on cpu{e.cpu} at {e.pc} (never resumed)"
        case KlpEvent():
            return f"livepatch: {e.message}"
    return e.kind


def log_lines(result: RunResult) -> list[str]:
    """The callback log as indented text: steps, points, patches, calls and what ran."""
    steps = {s.index: s for s in result.scenario.timeline}
    lines: list[str] = []
    inner: str | None = None  # indentation of events inside the current call
    for e in result.events:
        if isinstance(e, StepEvent):
            st = steps[e.step]
            head = f"[{e.step}] {describe_action(st.action)}"
            if isinstance(st.action, Call):
                head += f" on cpu{st.action.cpu or 1}"
                if st.action.stop is not None:
                    head += f", stop at {st.action.stop.describe()}"
            lines.append(head + (f" ({st.id})" if st.id else ""))
        elif isinstance(e, CallEvent):
            if e.at is None:
                inner = "  "  # the step header already names the call
            else:
                lines.append("    " + event_text(e))
                inner = "      "
        elif isinstance(e, ResumeEvent):
            lines.append(("  " if e.at is None else "    ") + event_text(e))
            if e.finished_in is None:
                inner = "  " if e.at is None else "      "
        elif isinstance(e, StopEvent):
            lines.append((inner or "  ") + event_text(e))
            inner = None
        elif isinstance(e, UnresumedEvent):
            lines.append(event_text(e))
        elif isinstance(e, ReturnEvent):
            inner = None
        else:
            lines.append((inner or "  ") + event_text(e))
    return lines


def header_lines(result: RunResult) -> list[str]:
    p = result.profile
    dyn = ", dynamic trampolines" if p.dynamic_trampolines else ""
    return [
        f"# scenario: {result.scenario.name}",
        f"# kernel: {p.version} (int3: {p.int3}, pt_regs: {p.frame}{dyn})",
    ]


def intro_lines(result: RunResult) -> list[str]:
    """The log's header as printed: which ftscen, the scenario and kernel (``header_lines``,
    what goldens compare) and the scenario's description. The version and description are
    left out of goldens: a new release must not make every golden differ, and an edited
    description already makes its golden stale through the scenario's hash."""
    from ftscen import __version__

    head = header_lines(result)
    text = result.scenario.description.strip()
    described = [
        f"# description: {_printable(t)}" if i == 0 else f"#   {_printable(t)}"
        for i, t in enumerate(text.splitlines())
    ]
    return [f"# ftscen {__version__}", *head, *described]


def _printable(text: str) -> str:
    """A line of user text with control characters shown escaped (a terminal reads them)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def verdict_lines(v: Verdict) -> list[str]:
    where = f"{v.mark.at()}: " if v.mark.line else ""
    if v.ok:
        return [f"  ok    {v.title}" + (f"  ({v.xfail})" if v.xfail else "")]
    out = [
        f"  FAIL  {where}{v.title}",
        f"          expected: {v.expected}",
        f"          log shows: {v.actual}",
    ]
    if v.xfail:
        out.append(f"          xfail: {v.xfail}")
    out += [f"          | {event_text(e)}" for e in v.events]
    return out


def summary_line(rep: ScenarioReport) -> str:
    n_ok = sum(v.ok for v in rep.verdicts)
    word = {
        Outcome.PASS: "PASS",
        Outcome.FAIL: "FAIL",
        Outcome.XFAIL: "XFAIL",
        Outcome.XPASS: "XPASS",
    }[rep.outcome]
    tail = f"{n_ok}/{len(rep.verdicts)} assertions hold"
    if rep.outcome is Outcome.XFAIL:
        tail += f"; expected failure: {rep.result.scenario.xfail}"
    if rep.outcome is Outcome.XPASS:
        tail += f"; marked xfail ({rep.result.scenario.xfail}) but {_held(rep)}"
    strict = rep.result.scenario.xfail_strict
    if rep.outcome is Outcome.FAIL and strict is not None:
        others = [v.title for v in rep.verdicts if not v.ok and v.name not in strict.fails]
        if others and rep.result.scenario.xfail_on(rep.result.profile.release):
            tail += f"; failed besides xfail.fails: {'; '.join(others)}"
    return f"{word}  {rep.display_path} [kernel {rep.result.profile.version}]: {tail}"


def _held(rep: ScenarioReport) -> str:
    """What held that xfail said would fail: everything, or (strict) the named ones."""
    strict = rep.result.scenario.xfail_strict
    if strict is None:
        return "everything held"
    failed = {v.name for v in rep.verdicts if not v.ok}
    return f"{', '.join(n for n in strict.fails if n not in failed)} held (xfail.fails)"


def render_text(rep: ScenarioReport, show_log: bool = True) -> str:
    """The whole report: the log (if asked), the assertions, then the summary line."""
    return "\n".join([*detail_lines(rep, show_log), summary_line(rep)]) + "\n"


def detail_lines(rep: ScenarioReport, show_log: bool = True) -> list[str]:
    """The report above its summary line: the log (if asked) and the assertions."""
    out: list[str] = []
    if show_log:
        out += intro_lines(rep.result) + log_lines(rep.result) + [""]
    if rep.verdicts:
        out.append("assertions:")
        for v in rep.verdicts:
            out += verdict_lines(v)
        out.append("")
    return out


#: int3 decisions as the log words them ("emulate call T", "resume at T"), in JSON too.
INT3_ACTIONS = {"call": "emulate call", "jmp": "resume"}


def action_dict(action: Action) -> dict[str, Any]:
    """A timeline action as JSON: the verb the log uses and its arguments."""
    if isinstance(action, (Register, Unregister)):
        return {"action": describe_action(action).split()[0], "args": {"ops": action.ops}}
    if isinstance(action, (SetFilter, SetNotrace)):
        verb = "set_filter" if isinstance(action, SetFilter) else "set_notrace"
        args = {"ops": action.ops, "globs": list(action.globs), "reset": action.reset}
        return {"action": verb, "args": args}
    if isinstance(action, Sysctl):
        return {"action": "sysctl", "args": {"ftrace_enabled": action.ftrace_enabled}}
    if isinstance(action, Enable | Disable):
        return {"action": describe_action(action).split()[0], "args": {"patch": action.patch}}
    if isinstance(action, Transition):
        return {"action": "transition", "args": {"what": action.what}}
    if isinstance(action, Busy):
        return {"action": "busy", "args": {"cpu": action.cpu, "stack": list(action.funcs)}}
    if isinstance(action, Resume):
        return {"action": "resume", "args": {"call": action.call}}
    call: dict[str, Any] = {"func": action.func, "cpu": action.cpu or 1}
    if action.stop is not None:
        call["stop"] = action.stop.describe()
    return {"action": "call", "args": call}


def errno_dict(name: str) -> dict[str, Any]:
    """``"EBUSY"`` -> the kernel's name and number (the call returned minus the number)."""
    from ftscen.core.errno import ERRNO_NAMES

    numbers = {n: v for v, n in ERRNO_NAMES.items()}
    number = numbers[name] if name in numbers else int(name)
    return {"name": None if number == 0 else name, "number": number}


def event_dict(e: Event, steps: dict[int, Any]) -> dict[str, Any]:
    """One event as JSON, in the log's words: a step says its action, a patch its bytes'
    meaning before and after, an int3 its decision, a result its errno by name and number."""
    out = e.to_dict()
    match e:
        case StepEvent():
            st = steps[e.step]
            out.update(action_dict(st.action), id=st.id)
        case PatchEvent():
            before, _, after = out.pop("change").partition(" -> ")
            out.update({"from": before, "to": after})
        case Int3Event():
            out["action"] = INT3_ACTIONS.get(e.action, e.action)
        case ResultEvent():
            out["errno"] = errno_dict(e.errno)
    return out


def report_dict(rep: ScenarioReport) -> dict[str, Any]:
    """One run as JSON (``schema/report.schema.json``, ``results`` items)."""
    r, p = rep.result, rep.result.profile
    steps = {s.index: s for s in r.scenario.timeline}
    return {
        "scenario": r.scenario.name,
        "description": r.scenario.description,
        "file": rep.display_path,
        "kernel": {
            "version": p.version,
            "int3": p.int3,
            "pt_regs": p.frame,
            "dynamic_trampolines": p.dynamic_trampolines,
        },
        "outcome": rep.outcome.value,
        "events": [event_dict(e, steps) for e in r.events],
        "assertions": [
            {
                "ok": v.ok,
                "title": v.title,
                "expected": v.expected,
                "actual": v.actual,
                "line": v.mark.line or None,
            }
            for v in rep.verdicts
        ],
        "fault": None if r.fault is None else dataclasses.asdict(r.fault),
        "sites": dict(sorted(r.sites.items())),
        "trampoline_sites": dict(sorted(r.trampoline_sites.items())),
        "records": {f: _record_dict(w) for f, w in sorted(r.records.items())},
    }


def _record_dict(word: int) -> dict[str, Any]:
    """A record as the kernel's ``dyn_ftrace.flags`` holds it: count, flags, the raw word."""
    return {
        "count": recflags.count(word),
        "flags": list(recflags.names(word)),
        "word": f"{word:#x}",
    }


def render_json(reports: list[ScenarioReport]) -> str:
    return json.dumps({"results": [report_dict(r) for r in reports]}, indent=2) + "\n"


def points_json(sc: Scenario, results: list[tuple[KernelProfile, RunResult]]) -> str:
    """``ftscen points --format json``: per kernel, each patcher step with its action, id,
    return value and the points it passes, in order (docs/explore.md)."""
    steps = {s.index: s for s in sc.timeline}
    kernels = [
        {
            "kernel": profile.version,
            "int3": profile.int3,
            "steps": [
                {
                    "index": sr.index,
                    "id": steps[sr.index].id,
                    **action_dict(steps[sr.index].action),
                    "errno": errno_dict(sr.errno),
                    "points": list(sr.points),
                }
                for sr in result.steps
                if sr.errno is not None
            ],
        }
        for profile, result in results
    ]
    return json.dumps({"file": sc.path, "kernels": kernels}, indent=2) + "\n"
