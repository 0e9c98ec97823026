"""Stage: the runs of every placement -> quantified verdicts (docs/explore.md).

Each run of one placement is reduced to one state per :class:`Check` ("held", "failed" or
"not applicable"); the states of all placements are then folded per check, as herd7 folds
a litmus test's outcomes: an unquantified assertion must hold in every placement where it
applies, ``sometimes:`` in at least one, ``never:`` in none. A quantifier over no placement
at all is a failure (vacuity), never a pass, but only on a kernel whose every placement ran:
a check that the placements run so far do not decide (no counterexample yet, or no
placement where it applied) is incomplete when a budget left placements unrun. The witness of a failure is the minimal
placement that shows it (fewest calls off their first point, then the earliest points, in
each call's order of points: the timeline's for ``at: any``, the list's for a list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ftscen.core.kernels import Release
from ftscen.core.model import (
    NO_MARK,
    Expectation,
    ExpectCall,
    ExpectCalled,
    ExpectNotCalled,
    ExpectSite,
    Mark,
    Quantifier,
    Scenario,
    assertion_name,
)
from ftscen.emu.explore import Choice, Probed, Slot
from ftscen.emu.run import RunResult
from ftscen.verdicts.evaluate import (
    _names,
    _what,
    check_expectation,
    check_fault,
    check_steps,
    fmt,
)

#: One placement's state of a check: held, failed, or not applicable (the call never ran).
HELD, FAILED, NOT_APPLICABLE = "1", "0", "-"


@dataclass(frozen=True)
class Check:
    """One expectation of an exploration on one kernel."""

    key: str  # "fault", "steps", "expect[I]": stable across kernels, for JSON and JUnit
    quantifier: Quantifier
    inner: Expectation | None  # None: the fault and patcher-step checks
    mark: Mark = NO_MARK
    name: str | None = None


def checks_for(sc: Scenario, release: Release) -> list[Check]:
    """The checks of ``sc`` on ``release``, in file order: no fault, every patcher step's
    return value, then each assertion (those limited to other kernels left out)."""
    out = [
        Check("fault", Quantifier.ALWAYS, None, name="fault"),
        Check("steps", Quantifier.ALWAYS, None),
    ]
    entries: list[tuple[int, Check]] = []
    for exp in sc.expect:
        if exp.kernels is None or release in exp.kernels:
            index = _index(exp.mark)
            check = Check(f"expect[{index}]", Quantifier.ALWAYS, exp, exp.mark, assertion_name(exp))
            entries.append((index, check))
    for q in sc.quantified:
        if q.kernels is None or release in q.kernels:
            name = assertion_name(q.inner)
            entries.append(
                (q.index, Check(f"expect[{q.index}]", q.quantifier, q.inner, q.mark, name))
            )
    return out + [c for _, c in sorted(entries, key=lambda t: t[0])]


def _index(mark: Mark) -> int:
    """The position in ``expect`` from a mark's path (``$.expect[3]``)."""
    path = mark.path
    if path.startswith("$.expect["):
        return int(path[len("$.expect[") : path.index("]")])
    return 0


def state(result: RunResult, check: Check) -> str:
    """Whether ``check``'s assertion held in one run (unquantified: as written)."""
    if check.inner is None:
        verdicts = check_fault(result) if check.key == "fault" else check_steps(result)
        return HELD if all(v.ok for v in verdicts) else FAILED
    exp = check.inner
    if isinstance(exp, ExpectCall) and not any(c.id == exp.call for c in result.calls):
        return NOT_APPLICABLE
    return HELD if all(v.ok for v in check_expectation(result, exp)) else FAILED


def states(result: RunResult, checks: Sequence[Check]) -> str:
    """One character per check (:data:`HELD`, :data:`FAILED`, :data:`NOT_APPLICABLE`)."""
    return "".join(state(result, c) for c in checks)


@dataclass(frozen=True)
class Folded:
    """One check folded over the placements covered."""

    check: Check
    ok: bool
    applicable: int  # placements where it applied
    held: int  # of those, where its assertion held
    #: the placement that shows the failure (or, for ``sometimes``, none can)
    witness: int | None
    vacuous: bool
    #: not decided: placements left unrun could still change it (``ok`` is then False)
    incomplete: bool = False

    @property
    def failed(self) -> bool:
        return not self.ok and not self.incomplete


def fold(
    check: Check,
    column: Sequence[tuple[int, str]],
    order: Mapping[int, tuple[int, tuple[int, ...]]],
    complete: bool = True,
) -> Folded:
    """Fold one check's states ``(placement, state)``; ``order`` ranks placements for the
    witness (the minimal one first). ``complete``: every placement of the kernel is in
    ``column``; if not, a check that a counterexample does not already decide (a placement
    that breaks ``always`` or ``never``, one where ``sometimes`` holds) is incomplete."""
    applied = [(p, s) for p, s in column if s != NOT_APPLICABLE]
    held = [p for p, s in applied if s == HELD]
    failed = [p for p, s in applied if s == FAILED]
    q = check.quantifier
    if q is Quantifier.ALWAYS:
        ok, shows = not failed, failed
    elif q is Quantifier.NEVER:
        ok, shows = not held, held
    else:
        ok, shows = bool(held), []
    decided = bool(shows) or (q is Quantifier.SOMETIMES and ok)
    if not complete and not decided:
        return Folded(check, False, len(applied), len(held), None, False, incomplete=True)
    if not applied:
        return Folded(check, False, 0, 0, None, True)
    witness = min(shows, key=lambda p: order[p]) if shows and not ok else None
    return Folded(check, ok, len(applied), len(held), witness, False)


def describe(check: Check) -> str:
    """The check as the report names it (``never: call window: ran [do_IRQ]``)."""
    words = {"fault": "no emulation fault", "steps": "every patcher step returns as expected"}
    exp = check.inner
    text = words.get(check.key, "") if exp is None else _describe(exp)
    q = check.quantifier
    return text if q is Quantifier.ALWAYS else f"{q.value}: {text}"


def _describe(exp: Expectation) -> str:
    if isinstance(exp, ExpectCall):
        parts = []
        if exp.ran is not None:
            parts.append(f"ran {_names(sorted(set(exp.ran)))}")
        if exp.called is not None:
            parts.append(f"called {_names(sorted(set(exp.called)))}")
        if exp.called_counts is not None:
            parts.append(f"called {fmt(dict(exp.called_counts))}")
        return f"call {exp.call}: " + ", ".join(parts)
    if isinstance(exp, ExpectCalled):
        want = "at least once" if exp.count is None else f"{exp.count} time(s)"
        return f"called {_what(exp.ops, exp.func, exp.regs)} {want}"
    if isinstance(exp, ExpectNotCalled):
        return f"not_called {_what(exp.ops, exp.func, exp.regs)}"
    if isinstance(exp, ExpectSite):
        return f"site {exp.func} is {' '.join(exp.is_.split())}"
    when = "after the last step" if exp.after is None else f"after step {exp.after}"
    return f"record {exp.func} {when}"


class SplicedStates:
    """The states of spliced placements (:meth:`ftscen.emu.explore.Probed.assemble`),
    reusing what cannot change between them. In a spliced run, call ``X``'s events are its
    segment's (or, for a fixed call, the base run's), and the sites, records, step results
    and fault are the base run's: so a call assertion's state depends only on where its
    call was placed, and a site, record, step or fault check on nothing. Only whole-run
    ``called`` / ``not_called`` counts are evaluated on each spliced log."""

    def __init__(self, probed: Probed, checks: Sequence[Check], slot_ids: Sequence[str]) -> None:
        self.probed, self.checks = probed, list(checks)
        self.cache: dict[tuple[int, object], str] = {}
        self.by_call = {name: i for i, name in enumerate(slot_ids)}

    def states(self, place: list[tuple[Slot, Choice]]) -> str | None:
        """None when the placement cannot be spliced (it must run from the start)."""
        if not self.probed.assemble_ok(place):
            return None
        result: RunResult | None = None
        out = []
        for n, check in enumerate(self.checks):
            key = self._key(n, check, place)
            cached = None if key is None else self.cache.get(key)
            if cached is None:
                if result is None:
                    result = self.probed.assemble(place)
                    assert result is not None
                cached = state(result, check)
                if key is not None:
                    self.cache[key] = cached
            out.append(cached)
        return "".join(out)

    def _key(
        self, n: int, check: Check, place: list[tuple[Slot, Choice]]
    ) -> tuple[int, object] | None:
        exp = check.inner
        if isinstance(exp, (ExpectCalled, ExpectNotCalled)):
            return None
        if isinstance(exp, ExpectCall) and exp.call in self.by_call:
            return (n, place[self.by_call[exp.call]][1])
        return (n, None)
