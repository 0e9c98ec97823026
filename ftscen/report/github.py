"""``--format github``: the text report, plus one workflow command per problem, so that a
GitHub Actions run shows each failed assertion, invalid scenario or changed golden on the
line of the file it concerns.

A workflow command is ``::error file=F,line=L,col=C,title=T::MESSAGE``. GitHub reads it
from standard output, line by line, so the values are escaped as its toolkit escapes them
(``@actions/core``, ``command.ts``): in the message ``%``, CR and LF become ``%25``, ``%0D``,
``%0A``; in a property value ``:`` and ``,`` also become ``%3A`` and ``%2C``. Without this a
scenario named ``a,line=1`` or a message with a newline could forge or split a command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ftscen.report.explore import held_text
from ftscen.report.records import ExploredRecord, JobResult, RunRecord
from ftscen.verdicts.evaluate import Outcome

_DATA = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY = (*_DATA, (":", "%3A"), (",", "%2C"))


def escape_data(text: str) -> str:
    for char, code in _DATA:  # "%" first: the codes themselves contain "%"
        text = text.replace(char, code)
    return text


def escape_property(text: str) -> str:
    for char, code in _PROPERTY:
        text = text.replace(char, code)
    return text


def command(message: str, file: str, line: int = 0, col: int = 0, title: str = "") -> str:
    """One ``::error`` line; ``line``/``col`` 0 and an empty title are left out."""
    props = [("file", file), ("line", line), ("col", col), ("title", title)]
    shown = ",".join(f"{k}={escape_property(str(v))}" for k, v in props if v)
    return f"::error {shown}::{escape_data(message)}"


def workflow_commands(results: Sequence[JobResult]) -> list[str]:
    """The workflow commands for every problem of a run, in the order of the results."""
    return [line for result in results for line in _for_result(result)]


def _for_result(result: JobResult) -> Iterator[str]:
    if result.error is not None:
        yield command(f"internal error in ftscen: {result.error}", result.path, title="ftscen")
    for d in result.diagnostics:
        hint = f" ({d.hint})" if d.hint else ""
        yield command(d.message + hint, d.file, d.line, d.col, "ftscen: invalid scenario")
    for run in result.runs:
        yield from _for_run(result.path, run)
    if result.explored is not None:
        yield from _for_explored(result.path, result.explored)


def _for_explored(path: str, rec: ExploredRecord) -> Iterator[str]:
    """A failing explored kernel: one command per failing check, at the check, with its
    witness's replay command; an XPASS or INCOMPLETE kernel, and a golden, at the file."""
    for k, (version, word, golden) in zip(rec.report.kernels, rec.words(), strict=True):
        title = f"ftscen explore [kernel {version}]"
        if word == "FAIL":
            for c in k.checks:
                if c.failed:
                    held = held_text(c)
                    replay = f"; replay: {c.witness.replay}" if c.witness is not None else ""
                    yield command(
                        f"{c.title} ({held}){replay}", path, c.mark.line, c.mark.col, title
                    )
        elif word in ("XPASS", "INCOMPLETE"):
            said = {
                "XPASS": "marked xfail, but every check holds in every placement",
                "INCOMPLETE": f"exploration cut short: {k.covered} of {k.size} placements run",
            }[word]
            yield command(said, path, title=title)
        if golden is not None and not golden.ok:
            message = f"golden {golden.path}: {golden.status.value}; review with: ftscen run {path} --golden"
            yield command(message, path, title=f"{title} golden")


def _for_run(path: str, run: RunRecord) -> Iterator[str]:
    title = f"ftscen [kernel {run.version}]"
    if run.outcome is Outcome.FAIL:
        for v in run.report.verdicts:
            if not v.ok:
                message = f"{v.title}: expected {v.expected}; log shows {v.actual}"
                yield command(message, path, v.mark.line, v.mark.col, title)
    elif run.outcome is Outcome.XPASS:
        reason = run.report.result.scenario.xfail
        yield command(f"marked xfail ({reason}) but every assertion held", path, title=title)
    if run.golden is not None and not run.golden.ok:
        word = run.golden.status.value
        if run.golden.stale and word != "stale":
            word += ", stale"
        message = f"golden {run.golden.path}: {word}; review with: ftscen run {path} --golden"
        yield command(message, path, title=f"{title} golden")
