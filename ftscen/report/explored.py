"""An exploration inside a corpus run (docs/explore.md, "In a corpus"): the lines it prints,
the body of its goldens, and its entry in the JSON report.

A corpus run prints an explored file compactly: the exploration's summary line, then for
each kernel that failed (or passed where it was expected to fail) its failing checks with
their witness and replay command, without the witness's log (the replay prints it). One
file named alone prints the whole text report (:func:`ftscen.report.explore.render_text`).

A golden of an explored file is kept per kernel, named as a plain file's (``NAME.golden``
for its own kernel, ``NAME@V.golden`` for another): its body is the exploration's text
report restricted to that kernel (its checks, witnesses with their logs, its column of the
placement table, its summary line), with the file's path written as its name alone, so the
golden does not depend on the folder the run starts in.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath
from typing import Any

from ftscen.report import explore as rx
from ftscen.report.golden import GoldenCheck
from ftscen.report.records import INCOMPLETE, ExploredRecord

#: Kernel words that are a problem in a corpus run (INCOMPLETE is its own exit code).
BAD_WORDS = ("FAIL", "XPASS")


def kernel_report(rep: rx.ExploreReport, index: int) -> rx.ExploreReport:
    """The exploration as if only kernel ``index`` had been asked."""
    return dataclasses.replace(rep, kernels=(rep.kernels[index],), stopped=None)


def golden_body(rep: rx.ExploreReport, index: int) -> list[str]:
    """What the golden of kernel ``index`` compares (module docstring)."""
    name = PurePosixPath(rep.path).name
    text = rx.render_text(kernel_report(rep, index))
    if name != rep.path:
        text = text.replace(rep.path, name)
    return text.rstrip("\n").split("\n")


def head_word(rec: ExploredRecord) -> str:
    """The word leading the file's line: the exploration's own (PASS, FAIL, INCOMPLETE),
    or ``FAIL (golden)`` when every check went as expected but a golden did not match."""
    word = rx.summary_line(rec.report).split()[0]  # the same as the words of its kernels
    if word == "PASS" and not rec.ok:
        return "FAIL (golden)"
    return word


def head_line(rec: ExploredRecord) -> str:
    line = rx.summary_line(rec.report)
    word = line.split()[0]
    return head_word(rec) + line[len(word) :]


def failure_lines(rec: ExploredRecord) -> list[str]:
    """Per kernel that failed or passed against its xfail: its failing checks, each with its
    witness and replay command (not its log); an incomplete kernel says so."""
    out = []
    for k in rec.report.kernels:
        word = rec.word(k)
        if word == INCOMPLETE:
            out.append(f"  kernel {k.version}: INCOMPLETE, {k.covered} of {k.size} placements run")
            continue
        if word not in BAD_WORDS:
            continue
        out.append(f"  kernel {k.version}: {word}")
        for c in k.checks:
            if not c.failed:
                continue
            where = f"{c.mark.at()}: " if c.mark.line else ""
            out.append(f"    FAIL  {where}{c.title}  ({rx.held_text(c)})")
            if c.witness is not None:
                out.append(f"            witness: {', '.join(c.witness.place)}")
                out.append(f"            replay: {c.witness.replay}")
        if word == "XPASS":
            out.append("    every check holds, but the file is marked xfail on this kernel")
    return out


def goldens(rec: ExploredRecord) -> list[tuple[str, GoldenCheck]]:
    """(kernel version, golden check) of the kernels whose golden was checked."""
    return [(v, g) for v, _, g in rec.words() if g is not None]


def json_entry(rec: ExploredRecord, exploration: dict[str, Any]) -> dict[str, Any]:
    """One item of the report's ``explorations``: the exploration document (as
    ``ftscen run FILE --format json`` writes it), each kernel's word and golden."""
    return {
        "file": rec.report.path,
        "outcome": head_word(rec).split()[0].lower(),
        "kernels": [
            {"kernel": v, "outcome": w.lower(), "golden": g and g.to_json()}
            for v, w, g in rec.words()
        ],
        "exploration": exploration,
    }
