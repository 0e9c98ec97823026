"""Reporter: run results -> one self-contained HTML page (``ftscen run --html FILE``).

Why a page: a patch race is easier to see than to read. Each run becomes a swimlane
timeline (:mod:`ftscen.report.timeline`): the patcher's steps and points on one lane, each
CPU's calls on its own, and every call site's bytes at every point; failed assertions are
highlighted and linked both ways with the calls they judged. With several kernels, a table
of outcomes leads the page.

Everything the scenario wrote (names, descriptions, globs, paths, xfail reasons) reaches
the page only through Jinja2 with autoescaping on, in a template shipped with the package
(``templates/report.html.j2``); the page has no script and loads nothing (CSS is inline).
Anchors are made from counters, never from scenario text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from ftscen import __version__
from ftscen.core.model import ExpectCall, Scenario
from ftscen.report.records import JobResult, RunRecord
from ftscen.report.text import ScenarioReport
from ftscen.report.timeline import Timeline, build
from ftscen.verdicts.evaluate import Verdict

TEMPLATE = "report.html.j2"


class HtmlUnavailable(Exception):
    """Jinja2 is not installed (it comes with the ``html`` extra)."""


def require() -> None:
    """Fail early, before anything runs, when the page could not be rendered."""
    try:
        import jinja2  # noqa: F401
    except ImportError:
        raise HtmlUnavailable(
            "--html needs Jinja2; install it with: pip install 'ftscen[html]'"
        ) from None


@dataclass(frozen=True)
class VerdictView:
    anchor: str
    ok: bool
    title: str
    expected: str
    actual: str
    at: str
    calls: tuple[tuple[str, str], ...]  # (call id, anchor of its block)


@dataclass(frozen=True)
class RunView:
    anchor: str
    name: str
    path: str
    version: str
    outcome: str
    ok: bool
    golden: str
    description: str
    xfail: str | None
    timeline: Timeline
    failed_calls: frozenset[str]
    call_anchors: dict[str, str]
    verdicts: tuple[VerdictView, ...]


@dataclass(frozen=True)
class FileView:
    path: str
    problem: str
    runs: tuple[RunView, ...]
    #: a file with explored calls: the exploration's text report, and each kernel's word
    exploration: str = ""
    words: tuple[tuple[str, str], ...] = ()
    ok: bool = True


def _verdict_calls(v: Verdict, sc: Scenario) -> list[str]:
    """The calls a verdict judged: those of its events, else the call its expectation names
    (a call that never ran has no events)."""
    ids = [e.call for e in v.events if e.call]
    if not ids:
        ids = [x.call for x in sc.expect if isinstance(x, ExpectCall) and x.mark == v.mark]
    return list(dict.fromkeys(ids))


def _verdicts(rep: ScenarioReport, anchor: str, calls: dict[str, str]) -> tuple[VerdictView, ...]:
    out = []
    for j, v in enumerate(rep.verdicts):
        ids = _verdict_calls(v, rep.result.scenario)
        at = v.mark.at() if v.mark.line else ""
        links = tuple((c, calls[c]) for c in ids if c in calls)
        out.append(VerdictView(f"{anchor}-v{j}", v.ok, v.title, v.expected, v.actual, at, links))
    return tuple(out)


def _golden(run: RunRecord) -> str:
    g = run.golden
    return "" if g is None else f"golden {'matches' if g.ok else 'differs'}"


def _run_view(run: RunRecord, anchor: str) -> RunView:
    rep = run.report
    res, sc = rep.result, rep.result.scenario
    timeline = build(res)
    calls = {c.id: f"{anchor}-call{k}" for k, c in enumerate(res.calls)}
    verdicts = _verdicts(rep, anchor, calls)
    failed = frozenset(c for v in verdicts if not v.ok for c, _ in v.calls)
    return RunView(
        anchor,
        sc.name,
        rep.display_path,
        run.version,
        run.outcome.name,
        run.ok,
        _golden(run),
        sc.description,
        sc.xfail,
        timeline,
        failed,
        calls,
        verdicts,
    )


def _problem(result: JobResult) -> str:
    if result.error:
        return f"internal error: {result.error}"
    return "\n".join(d.header() for d in result.diagnostics)


def views(results: Sequence[JobResult]) -> list[FileView]:
    """The page's data: one view per file, one per run in it, anchors numbered in order."""
    files, n = [], 0
    for result in results:
        runs = []
        for run in result.runs:
            runs.append(_run_view(run, f"run{n}"))
            n += 1
        files.append(FileView(result.path, _problem(result), tuple(runs), *_explored(result)))
    return files


def _explored(result: JobResult) -> tuple[str, tuple[tuple[str, str], ...], bool]:
    """An explored file's section: its text report (no timeline: a placement's is its
    replay's), and the word of each kernel for the table."""
    from ftscen.report.explore import render_text

    rec = result.explored
    if rec is None:
        return "", (), True
    return render_text(rec.report), tuple((v, w) for v, w, _ in rec.words()), rec.ok


def _versions(files: Sequence[FileView], asked: Sequence[str] | None) -> list[str]:
    if asked:
        return list(asked)
    return list(
        dict.fromkeys(
            [r.version for f in files for r in f.runs] + [v for f in files for v, _ in f.words]
        )
    )


def render(results: Sequence[JobResult], versions: Sequence[str] | None = None) -> str:
    """The whole page for a run: results must be full (with their callback logs), not
    :meth:`JobResult.summary` reductions."""
    import jinja2

    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    source = resources.files("ftscen.report").joinpath("templates", TEMPLATE).read_text("utf-8")
    files = views(results)
    kernels = _versions(files, versions)
    page = env.from_string(source).render(
        version=__version__,
        files=files,
        kernels=kernels,
        table=len(kernels) > 1,
        summary=_summary(files),
    )
    return str(page)


def _summary(files: Sequence[FileView]) -> str:
    runs = [r for f in files for r in f.runs]
    failed = sum(not r.ok for r in runs) + sum(bool(f.problem) or not f.ok for f in files)
    return f"{len(files)} file(s), {len(runs)} run(s), {failed} failed"
