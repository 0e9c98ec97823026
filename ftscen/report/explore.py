"""Stage: an exploration's results -> text and JSON (docs/explore.md).

Text: per kernel, each check with how many placements hold of how many, a failure's witness
placement, its replay command and its callback log; then one table per explored call
(its points and CPUs down, the kernels across, one mark each). JSON: the same, plus every
placement with its states. JUnit is :mod:`ftscen.report.junit`'s, as for a corpus run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ftscen.core.model import NO_MARK, Mark
from ftscen.verdicts.evaluate import Outcome

#: The marks of the placement table.
MARK_OK, MARK_FAIL, MARK_ABSENT, MARK_NOT_RUN = ".", "x", "-", "?"


@dataclass(frozen=True)
class Witness:
    place: tuple[str, ...]  # ID=POINT[@CPU] of each explored call
    replay: str  # the command that runs that placement alone
    log: tuple[str, ...]  # its callback log (the lines ``ftscen run`` prints)


@dataclass(frozen=True)
class CheckResult:
    key: str
    title: str
    quantifier: str
    ok: bool
    applicable: int
    held: int
    vacuous: bool
    witness: Witness | None = None
    mark: Mark = NO_MARK
    #: undecided: a budget left placements unrun that could still change it (``ok`` False)
    incomplete: bool = False

    @property
    def failed(self) -> bool:
        return not self.ok and not self.incomplete

    @property
    def status(self) -> str:
        """``pass``, ``fail`` or ``incomplete`` (the JSON report's ``outcome`` of a check)."""
        return "incomplete" if self.incomplete else ("pass" if self.ok else "fail")


def held_text(c: CheckResult) -> str:
    """How a check went over the placements, as every report says it: ``holds in H of A
    placements``, ``vacuous: applies in no placement``, or, undecided, ``undecided: holds
    in H of A placements run so far``."""
    if c.vacuous:
        return "vacuous: applies in no placement"
    held = f"holds in {c.held} of {c.applicable} placements"
    return f"undecided: {held} run so far" if c.incomplete else held


@dataclass(frozen=True)
class KernelResult:
    version: str
    int3: str
    size: int
    covered: int
    outcome: Outcome
    checks: tuple[CheckResult, ...]
    #: per explored call: (id, its choices' words, one mark per choice)
    table: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]
    #: (number, ID=POINT words, states, passes) of every placement run, in order; a
    #: placement passes when no check is broken there (``sometimes`` cannot be)
    placements: tuple[tuple[int, tuple[str, ...], str, bool], ...]


@dataclass(frozen=True)
class ExploreReport:
    path: str
    scenario: str
    calls: tuple[str, ...]  # "window (at: any)"
    kernels: tuple[KernelResult, ...]
    stopped: str | None  # None: complete; "placements" or "time"
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(k.size for k in self.kernels)

    @property
    def covered(self) -> int:
        return sum(k.covered for k in self.kernels)

    @property
    def failed(self) -> bool:
        return any(not k.outcome.ok for k in self.kernels)


def render_text(rep: ExploreReport) -> str:
    out = [f"# scenario: {rep.scenario}", f"# explored: {', '.join(rep.calls)}", ""]
    for k in rep.kernels:
        xfail = {
            Outcome.XFAIL: "  [XFAIL: marked xfail on this kernel]",
            Outcome.XPASS: "  [XPASS: marked xfail on this kernel, but every check holds]",
        }.get(k.outcome, "")
        out.append(f"kernel {k.version} (int3: {k.int3}): {_coverage(k)}{xfail}")
        for c in k.checks:
            out += _check_lines(c)
        out.append("")
    out += _table_lines(rep)
    out.append(summary_line(rep))
    return "\n".join(out) + "\n"


def _coverage(k: KernelResult) -> str:
    if k.covered == k.size:
        return f"{k.size} placement{'s' if k.size != 1 else ''}"
    return f"{k.covered} of {k.size} placements run"


def _check_lines(c: CheckResult) -> list[str]:
    where = f"{c.mark.at()}: " if c.mark.line else ""
    must = {"always": "every one", "sometimes": "at least one", "never": "none"}[c.quantifier]
    held = held_text(c)
    if c.ok:
        return [f"  ok    {c.title}  ({held})"]
    if c.incomplete:
        return [f"  ?     {c.title}  ({held})"]
    held += " (a quantifier over nothing fails)" if c.vacuous else f" (it must hold in {must})"
    out = [f"  FAIL  {where}{c.title}", f"          {held}"]
    if c.witness is not None:
        w = c.witness
        out.append(f"          witness: {', '.join(w.place)}")
        out.append(f"          replay: {w.replay}")
        out += [f"          | {line}" for line in w.log]
    return out


def _table_lines(rep: ExploreReport) -> list[str]:
    """Per explored call: its choices down, kernels across; ``.`` every placement with the
    call there ran and passes, ``x`` one fails at least, ``-`` not a point on that kernel,
    ``?`` some placement with the call there did not run (a budget stopped first) and none
    of those run fails."""
    if not rep.kernels:
        return []
    heads = [k.version for k in rep.kernels]
    legend = (
        "placements (. every placement with the call there ran and holds, "
        "x one fails at least, - no such point on that kernel, ? not every one ran):"
    )
    out = [legend]
    for n, (name, _, _) in enumerate(rep.kernels[0].table):
        rows: dict[str, list[str]] = {}
        for col, k in enumerate(rep.kernels):
            _, words, marks = k.table[n]
            for word, mark in zip(words, marks, strict=True):
                rows.setdefault(word, [MARK_ABSENT] * len(heads))[col] = mark
        width = max([len(name), *(len(w) + 2 for w in rows)])
        out.append((f"  {name:<{width}}  " + " ".join(f"{h:^5}" for h in heads)).rstrip())
        for word, row in rows.items():
            out.append((f"    {word:<{width - 2}}  " + " ".join(f"{m:^5}" for m in row)).rstrip())
    out.append("")
    return out


def summary_line(rep: ExploreReport) -> str:
    n_fail = sum(not c.ok for k in rep.kernels for c in k.checks)  # failed or undecided
    n_all = sum(len(k.checks) for k in rep.kernels)
    covered = f"{rep.covered}/{rep.total} placements"
    if rep.stopped is not None:
        word = "FAIL" if rep.failed and definite(rep) else "INCOMPLETE"
        why = {"placements": "--max-placements", "time": "--max-time"}[rep.stopped]
        return (
            f"{word}  {rep.path}: {covered} explored before {why} ran out; "
            f"{n_all - n_fail}/{n_all} checks hold so far"
        )
    word = "FAIL" if rep.failed else "PASS"
    return f"{word}  {rep.path}: {covered}, {n_all - n_fail}/{n_all} checks hold"


def definite(rep: ExploreReport) -> bool:
    """A failure that more placements cannot undo: a kernel that fails (or passes against
    its xfail) with a counterexample (a witness), or whose every placement ran."""
    return any(not k.outcome.ok and final(k) for k in rep.kernels)


def final(k: KernelResult) -> bool:
    """Whether more placements could not change the kernel's outcome: all of them ran, or
    one of its checks has a witness (an xfail kernel's witness is its expected failure)."""
    return k.covered == k.size or any(c.witness is not None for c in k.checks)


def render_json(rep: ExploreReport) -> str:
    doc: dict[str, Any] = {
        "explore": 1,
        "file": rep.path,
        "scenario": rep.scenario,
        "calls": list(rep.calls),
        "complete": rep.stopped is None,
        "stopped_by": rep.stopped,
        "placements": rep.total,
        "covered": rep.covered,
        "kernels": [_kernel_dict(k) for k in rep.kernels],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _kernel_dict(k: KernelResult) -> dict[str, Any]:
    return {
        "kernel": k.version,
        "int3": k.int3,
        "outcome": k.outcome.value if final(k) else "incomplete",
        "placements": k.size,
        "covered": k.covered,
        "checks": [_check_dict(c) for c in k.checks],
        "runs": [
            {"placement": n, "place": list(words), "ok": ok, "states": states}
            for n, words, states, ok in k.placements
        ],
    }


def _check_dict(c: CheckResult) -> dict[str, Any]:
    w = c.witness
    return {
        "check": c.key,
        "title": c.title,
        "quantifier": c.quantifier,
        "outcome": c.status,
        "ok": c.ok,
        "applicable": c.applicable,
        "held": c.held,
        "vacuous": c.vacuous,
        "witness": None
        if w is None
        else {"place": list(w.place), "replay": w.replay, "log": list(w.log)},
    }
