"""Both sides of a crosscheck in one shape: per timeline step, what happened.

A call step is the ordered list of bodies that ran and handlers that were called (ops,
function, whether regs were given); a patcher step is its return value. The model side comes
from the model's event log, run under the profile of the real kernel (6.1: per-ops
trampolines, x86_64 logic; every ops DYNAMIC, as the kernel makes every ops outside core
kernel data); the kernel side from the module's log lines.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ftscen.core.errno import errno_name
from ftscen.core.model import Action, Call, Kernel, Scenario, Step
from ftscen.core.profile import KernelProfile, flag_problem, profile_for
from ftscen.emu.events import CallbackEvent, RanEvent, StepEvent, WarnEvent
from ftscen.emu.run import RunResult, run_scenario

#: The real kernel the check boots, as a model profile.
REAL_KERNEL = Kernel(version="6.1", dynamic_trampolines=True, cpus=2)
#: the real kernel's release, for the flags it has (ftscen.core.profile.FLAG_ERAS)
REAL_RELEASE = (6, 1)

#: One thing that happened in a step: ("ran", func), ("cb", ops, func, regs) or ("ret", errno).
Item = tuple[str, ...]
Steps = dict[int, list[Item]]


@dataclass(frozen=True)
class Plan:
    """A scenario as the real kernel can run it, and what had to be left out (and why)."""

    scenario: Scenario
    notes: tuple[str, ...]
    skip: str | None = None
    #: the step in which the model's ftrace_shutdown() WARNs and calls ftrace_kill() (None: none)
    model_kill: int | None = None


def _drop_unshowable(sc: Scenario) -> tuple[Scenario, list[str]]:
    notes = []
    if any(s.during for s in sc.timeline):
        notes.append("'during' calls dropped: a module cannot stop inside text_poke_bp")
    if any(isinstance(s.action, Call) and s.action.cpu is not None for s in sc.timeline):
        notes.append("CPU pinning dropped: every call runs on the module's CPU")
    timeline = tuple(dataclasses.replace(s, during=(), action=_unpinned(s)) for s in sc.timeline)
    if sc.kernel.version != REAL_KERNEL.version:
        notes.append(f"written for {sc.kernel.version}; compared under the 6.1 model")
    if any("DYNAMIC" not in o.flags for o in sc.ops):
        notes.append("every ops is DYNAMIC, as the kernel makes ops of a module")
    ops = tuple(dataclasses.replace(o, flags=o.flags | {"DYNAMIC"}) for o in sc.ops)
    return dataclasses.replace(sc, timeline=timeline, ops=ops, kernel=REAL_KERNEL), notes


def _unpinned(step: Step) -> Action:
    a = step.action
    return dataclasses.replace(a, cpu=None) if isinstance(a, Call) else a


def plan(sc: Scenario) -> tuple[Plan, RunResult | None]:
    """What the kernel will run; the model's run of it (None when skipped)."""
    adapted, notes = _drop_unshowable(sc)
    if sc.livepatches:
        why = "uses live patches, which the kernel module does not build (it registers ftrace ops)"
        return Plan(adapted, tuple(notes), why), None
    missing = sorted({f for o in sc.ops for f in o.flags if flag_problem(f, REAL_RELEASE)})
    if missing:
        why = (
            f"uses {', '.join(missing)}, which the real {REAL_KERNEL.version} kernel does not have"
        )
        return Plan(adapted, tuple(notes), why), None
    result = run_scenario(adapted, profile())
    if result.fault is not None:
        f = result.fault
        why = f"the model faults ({f.kind} at {f.pc}): the real kernel would oops"
        return Plan(adapted, tuple(notes), why), None
    kill = next((e.step for e in result.events if isinstance(e, WarnEvent)), None)
    return Plan(adapted, tuple(notes), model_kill=kill), result


def profile() -> KernelProfile:
    return profile_for(REAL_KERNEL)


def model_steps(result: RunResult) -> Steps:
    """The model's events, per step."""
    out: Steps = {}
    step = -1
    for ev in result.events:
        if isinstance(ev, StepEvent):
            step = ev.index
            out.setdefault(step, [])
        elif isinstance(ev, RanEvent):
            out[step].append(("ran", ev.func))
        elif isinstance(ev, CallbackEvent):
            out[step].append(("cb", ev.ops, _base(ev.ip), "regs" if ev.regs else "regs=NULL"))
    for sr in result.steps:
        if sr.errno is not None:
            out.setdefault(sr.index, []).append(("ret", sr.errno))
    return out


def _base(label: str) -> str:
    return label.split("+", 1)[0]


#: The module's end step found ftrace disabled: a kernel WARNING (``FTRACE_WARN_ON``) killed it
#: during the scenario, or while the module unregistered what the timeline left registered.
KILLED = "the kernel disabled ftrace (a WARNING) in this scenario"

_LINE = re.compile(r"ftscen: u(\d+) s(-?\d+) (ran|cb|ret|called)(.*)")


def kernel_steps(console: str, sc: Scenario, unit: int) -> tuple[Steps, list[str]]:
    """The module's log lines of ``unit``, per step, and problems seen in them."""
    funcs = [f.name for f in sc.functions]
    ops = [o.name for o in sc.ops]
    calls = {s.index for s in sc.timeline if isinstance(s.action, Call)}
    out: Steps = {s.index: [] for s in sc.timeline}
    problems = []
    for m in _LINE.finditer(console):
        if int(m[1]) != unit:
            continue
        step, kind, rest = int(m[2]), m[3], m[4].split()
        if kind == "ran":
            out[step].append(("ran", funcs[int(rest[0])]))
        elif kind == "cb":
            regs = "regs" if rest[2] == "regs=1" else "regs=NULL"
            out[step].append(("cb", ops[int(rest[0])], funcs[int(rest[1])], regs))
        elif kind == "called" and rest:
            problems.append(f"step {step}: the record buffer overflowed")
        elif kind == "ret":
            problems += _ret(out, step, int(rest[0]), calls)
    return out, problems


def _ret(out: Steps, step: int, value: int, calls: set[int]) -> list[str]:
    if step == -1:
        return [] if value == 0 else [f"setting the initial filters returned {value}"]
    if step == -2:
        return [] if value == 0 else [KILLED]
    if step >= 0 and step not in calls:
        out[step].append(("ret", errno_name(-value)))
    return []
