"""Stage: RunResult -> verdicts (the scenario's assertions checked against the callback log).

A failed assertion is a :class:`Verdict` with ``ok=False``, never an exception. The outcome of
a scenario rolls the verdicts up (``xfail`` turns the sense around); the exit code follows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from enum import Enum

from ftscen.core import recflags
from ftscen.core.model import (
    NO_MARK,
    Expectation,
    ExpectCall,
    ExpectCalled,
    ExpectNotCalled,
    ExpectRecord,
    ExpectSite,
    Mark,
    Quantified,
    Quantifier,
    Xfail,
    assertion_name,
    is_trampoline_site,
)
from ftscen.emu.events import (
    CallbackEvent,
    Event,
    FaultEvent,
    RanEvent,
    ResultEvent,
    WarnEvent,
)
from ftscen.emu.run import RunResult


class Outcome(Enum):
    PASS = "pass"
    XFAIL = "xfail"
    FAIL = "fail"
    XPASS = "xpass"

    @property
    def ok(self) -> bool:
        return self in (Outcome.PASS, Outcome.XFAIL)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    title: str
    expected: str = ""
    actual: str = ""
    events: tuple[Event, ...] = ()
    mark: Mark = NO_MARK
    #: the name ``xfail.fails`` knows it by (call id, step id, "fault"), if any
    name: str | None = None
    #: under a strict xfail: "expected to fail", "not expected to fail", "expected to fail
    #: but held"
    xfail: str = ""


def _names(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(items) + "]" if items else "[] (none)"


def _diff(
    want: list[str], have: list[str], missing: str = "did not run", extra: str = "ran instead"
) -> str:
    parts = []
    if [x for x in want if x not in have]:
        parts.append(f"{missing}: {', '.join(x for x in want if x not in have)}")
    if [x for x in have if x not in want]:
        parts.append(f"{extra}: {', '.join(x for x in have if x not in want)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _call_events(result: RunResult, cid: str) -> list[Event]:
    return [e for e in result.events if e.call == cid]


def check_call(result: RunResult, exp: ExpectCall) -> list[Verdict]:
    if not any(c.id == exp.call for c in result.calls):
        return [
            Verdict(
                False,
                f"call {exp.call}",
                "the call to run",
                "it never ran (the run stopped before it)",
                (),
                exp.mark,
            )
        ]
    evs = _call_events(result, exp.call)
    out = []
    if exp.ran is not None:
        ran = sorted({e.func for e in evs if isinstance(e, RanEvent)})
        want = sorted(set(exp.ran))
        out.append(
            Verdict(
                ran == want,
                f"call {exp.call}: ran {_names(want)}",
                f"bodies {_names(want)}",
                f"bodies {_names(ran)}" + _diff(want, ran),
                tuple(e for e in evs if e.kind in ("ran", "int3")),
                exp.mark,
            )
        )
    got = Counter(e.ops for e in evs if isinstance(e, CallbackEvent))
    if exp.called is not None:
        want = sorted(set(exp.called))
        have = sorted(got)
        out.append(
            Verdict(
                have == want,
                f"call {exp.call}: called {_names(want)}",
                f"handlers {_names(want)}",
                f"handlers {_names(have)}" + _diff(want, have, "not called", "called too"),
                tuple(e for e in evs if e.kind in ("callback", "int3")),
                exp.mark,
            )
        )
    if exp.called_counts is not None:
        want_c = dict(exp.called_counts)
        out.append(
            Verdict(
                dict(got) == want_c,
                f"call {exp.call}: called {fmt(want_c)}",
                f"handlers {fmt(want_c)}",
                f"handlers {fmt(dict(got))}",
                tuple(e for e in evs if isinstance(e, CallbackEvent)),
                exp.mark,
            )
        )
    return out


def fmt(counts: dict[str, int]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "}"


def _callbacks(
    result: RunResult, ops: str, func: str | None, regs: bool | None = None
) -> list[CallbackEvent]:
    return [
        e
        for e in result.events
        if isinstance(e, CallbackEvent)
        and e.ops == ops
        and (func is None or e.ip == func)
        and (regs is None or e.regs == regs)
    ]


def _what(ops: str, func: str | None, regs: bool | None = None) -> str:
    what = f"{ops} on {func}" if func else ops
    if regs is None:
        return what
    return f"{what} {'with' if regs else 'without'} regs"


def check_called(result: RunResult, exp: ExpectCalled) -> Verdict:
    evs = _callbacks(result, exp.ops, exp.func, exp.regs)
    n = len(evs)
    ok = n >= 1 if exp.count is None else n == exp.count
    want = "at least once" if exp.count is None else f"{exp.count} time(s)"
    return Verdict(
        ok,
        f"called {_what(exp.ops, exp.func, exp.regs)} {want}",
        want,
        f"{n} time(s)" + _other_regs(result, exp.ops, exp.func, exp.regs),
        tuple(evs),
        exp.mark,
    )


def check_not_called(result: RunResult, exp: ExpectNotCalled) -> Verdict:
    evs = _callbacks(result, exp.ops, exp.func, exp.regs)
    return Verdict(
        not evs,
        f"not_called {_what(exp.ops, exp.func, exp.regs)}",
        "0 times",
        f"{len(evs)} time(s)",
        tuple(evs),
        exp.mark,
    )


def _other_regs(result: RunResult, ops: str, func: str | None, regs: bool | None) -> str:
    """For a count filtered by ``regs``: how often the handler ran with the other kind."""
    if regs is None:
        return ""
    others = len(_callbacks(result, ops, func, not regs))
    return f" (and {others} time(s) {'without' if regs else 'with'} regs)" if others else ""


def check_site(result: RunResult, exp: ExpectSite) -> Verdict:
    texts = result.trampoline_sites if is_trampoline_site(exp.func) else result.sites
    have = texts.get(exp.func, "(no call site)")
    want = " ".join(exp.is_.split())
    return Verdict(have == want, f"site {exp.func} is {want}", want, have, (), exp.mark)


def _record_text(count: int | None, flags: tuple[str, ...] | None) -> str:
    parts = [] if count is None else [f"count {count}"]
    if flags is not None:
        parts.append(f"flags [{', '.join(flags)}]")
    return ", ".join(parts)


def check_record(result: RunResult, exp: ExpectRecord) -> Verdict:
    """A record's count and/or exact flags after a step (or after the last step); a step
    cut short by a fault has no record to read."""
    steps = {s.id: s.index for s in result.scenario.timeline if s.id is not None}
    when = "after the last step" if exp.after is None else f"after step {exp.after}"
    title = f"record {exp.func} {when}: {_record_text(exp.count, exp.flags)}"
    want = _record_text(exp.count, exp.flags)
    at = max(result.records_after, default=-1) if exp.after is None else steps[exp.after]
    words = result.records_after.get(at)
    if words is None or exp.func not in words:
        return Verdict(False, title, want, "not read: the run stopped before that step ended")
    word = words[exp.func]
    count, flags = recflags.count(word), recflags.names(word)
    ok = (exp.count is None or exp.count == count) and (
        exp.flags is None or set(exp.flags) == set(flags)
    )
    have = f"{_record_text(count, flags)} ({word:#x})"
    evs = tuple(e for e in result.events if isinstance(e, WarnEvent) and e.func == exp.func)
    return Verdict(ok, title, want, have, evs, exp.mark)


def check_expectation(result: RunResult, exp: Expectation) -> list[Verdict]:
    if isinstance(exp, ExpectCall):
        return check_call(result, exp)
    if isinstance(exp, ExpectCalled):
        return [check_called(result, exp)]
    if isinstance(exp, ExpectNotCalled):
        return [check_not_called(result, exp)]
    if isinstance(exp, ExpectRecord):
        return [check_record(result, exp)]
    return [check_site(result, exp)]


def check_steps(result: RunResult) -> list[Verdict]:
    """Patcher return values: an error nobody expected fails the run (docs/format.md)."""
    out = []
    steps = {s.index: s for s in result.scenario.timeline}
    for sr in result.steps:
        if sr.errno is None:
            continue
        step = steps[sr.index]
        title = f"step {sr.index} returns {sr.expected or '0'}"
        if sr.expected is None and sr.errno == "0":
            continue
        ok = sr.errno == (sr.expected or "0")
        want = sr.expected or "0 (no error was expected)"
        evs = tuple(e for e in result.events if isinstance(e, ResultEvent) and e.step == sr.index)
        out.append(Verdict(ok, title, want, sr.errno, evs, step.mark, step.id))
    return out


def check_fault(result: RunResult) -> list[Verdict]:
    f = result.fault
    if f is None:
        return []
    evs = tuple(e for e in result.events if isinstance(e, FaultEvent))
    where = f"cpu{f.cpu} at {f.pc} in step {f.step}" + (f", call {f.call}" if f.call else "")
    return [
        Verdict(
            False,
            f"emulation fault: {f.kind}",
            "no fault",
            f"{f.kind} on {where} ({f.detail})",
            evs,
            name="fault",
        )
    ]


def check_quantified(result: RunResult, q: Quantified) -> Verdict:
    """``sometimes:`` / ``never:`` over the one placement a run is: ``sometimes`` holds when
    its assertion does, ``never`` when it does not; a call that never ran gives no
    placement to quantify over, which fails (vacuity; docs/explore.md)."""
    inner = check_expectation(result, q.inner)
    word = q.quantifier.value
    title = f"{word}: " + "; ".join(v.title for v in inner)
    events = tuple(e for v in inner for e in v.events)
    exp = q.inner
    if isinstance(exp, ExpectCall) and not any(c.id == exp.call for c in result.calls):
        return Verdict(False, title, f"call {exp.call} to run", "vacuous: it never ran", (), q.mark)
    held = all(v.ok for v in inner)
    if q.quantifier is Quantifier.NEVER:
        want = "not: " + "; ".join(v.expected for v in inner)
        return Verdict(not held, title, want, "; ".join(v.actual for v in inner), events, q.mark)
    want = "; ".join(v.expected for v in inner)
    return Verdict(held, title, want, "; ".join(v.actual for v in inner), events, q.mark)


def evaluate(result: RunResult) -> tuple[Outcome, list[Verdict]]:
    """All verdicts of a run and the scenario's outcome on its kernel: assertions limited to
    other kernels are not checked, and ``xfail`` counts only on the kernels it names."""
    release = result.profile.release
    verdicts = check_fault(result) + check_steps(result)
    for exp in result.scenario.expect:
        if exp.kernels is None or release in exp.kernels:
            name = assertion_name(exp)
            verdicts.extend(replace(v, name=name) for v in check_expectation(result, exp))
    for q in result.scenario.quantified:
        if q.kernels is None or release in q.kernels:
            verdicts.append(replace(check_quantified(result, q), name=assertion_name(q.inner)))
    held = all(v.ok for v in verdicts)
    sc = result.scenario
    if not sc.xfail_on(release):
        return (Outcome.PASS if held else Outcome.FAIL), verdicts
    if sc.xfail_strict is None:
        return (Outcome.XPASS if held else Outcome.XFAIL), verdicts
    return strict_outcome(sc.xfail_strict, verdicts)


#: How a verdict stands under a strict xfail: (ok, named in ``fails``) -> note. A name fails
#: when any of its verdicts fails; "held" is noted only when all of them held.
_STRICT_NOTES = {
    (False, True): "expected to fail",
    (False, False): "not among xfail's expected failures",
    (True, True): "named in xfail.fails but held",
}


def strict_outcome(xfail: Xfail, verdicts: list[Verdict]) -> tuple[Outcome, list[Verdict]]:
    """A strict xfail: exactly the named assertions fail. Another one failing is FAIL (the
    known bug is not all that went wrong); a named one holding is XPASS (the bug is gone, or
    the file no longer shows it). Each verdict concerned carries a note saying which."""
    named = set(xfail.fails)
    failed_names = {v.name for v in verdicts if not v.ok}
    noted = [replace(v, xfail=_note(v, named, failed_names)) for v in verdicts]
    if any(not v.ok and v.name not in named for v in verdicts):
        return Outcome.FAIL, noted
    if named - failed_names:
        return Outcome.XPASS, noted
    return Outcome.XFAIL, noted


def _note(v: Verdict, named: set[str], failed_names: set[str | None]) -> str:
    if v.ok and v.name in failed_names:
        return ""
    return _STRICT_NOTES.get((v.ok, v.name in named), "")
