"""What a corpus run hands its reporters: one record per scenario x kernel, one result per file.

Workers return these objects, reporters render them: nothing here is text. They cross process
boundaries (``--jobs``), so a record holds the report without the built image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ftscen.core.errors import Diagnostic
from ftscen.report.explore import ExploreReport, KernelResult, final
from ftscen.report.golden import GoldenCheck
from ftscen.report.text import ScenarioReport
from ftscen.verdicts.evaluate import Outcome


@dataclass(frozen=True)
class RunRecord:
    """One scenario under one kernel version, checked (and its golden, if asked)."""

    report: ScenarioReport
    golden: GoldenCheck | None = None
    seconds: float = 0.0

    @classmethod
    def of(cls, rep: ScenarioReport, golden: GoldenCheck | None, seconds: float) -> RunRecord:
        """A record that travels light: the image is only needed while running."""
        light = dataclasses.replace(rep, result=dataclasses.replace(rep.result, image=None))
        return cls(light, golden, seconds)

    def summary(self) -> RunRecord:
        """What a whole run keeps of a run once it is printed: outcome, verdicts (the events
        of the failing ones) and golden, without the callback log or the final text, so a
        corpus run holds a small record per scenario, not its whole log."""
        rep, res = self.report, self.report.result
        kept = tuple(v if not v.ok else dataclasses.replace(v, events=()) for v in rep.verdicts)
        scenario = dataclasses.replace(res.scenario, functions=(), ops=(), timeline=(), expect=())
        bare = dataclasses.replace(
            res,
            scenario=scenario,
            events=(),
            calls=(),
            steps=(),
            sites={},
            trampoline_sites={},
            unplaced=(),
        )
        return RunRecord(
            dataclasses.replace(rep, result=bare, verdicts=kept), self.golden, self.seconds
        )

    @property
    def version(self) -> str:
        return self.report.result.profile.version

    @property
    def own_version(self) -> str:
        return self.report.result.scenario.kernel.version

    @property
    def name(self) -> str:
        return self.report.name

    @property
    def outcome(self) -> Outcome:
        return self.report.outcome

    @property
    def ok(self) -> bool:
        return self.outcome.ok and (self.golden is None or self.golden.ok)


#: The word of an explored kernel that a budget cut short before its outcome was known.
INCOMPLETE = "INCOMPLETE"


@dataclass(frozen=True)
class ExploredRecord:
    """A file with explored calls, explored as one job (docs/explore.md): the exploration's
    report and, per kernel in its order, the golden of that kernel's text (None: not asked,
    or the kernel's exploration was cut short)."""

    report: ExploreReport
    goldens: tuple[GoldenCheck | None, ...] = ()
    seconds: float = 0.0
    own: str = ""  # the file's own kernel version (its golden has no ``@V``)

    def word(self, kernel: KernelResult) -> str:
        """PASS, FAIL, XFAIL, XPASS, or INCOMPLETE: a budget stopped the exploration before
        this kernel's placements were all run and none of those run shows a failure that
        more placements cannot undo (a witness)."""
        if self.report.stopped is None or final(kernel):
            return kernel.outcome.name
        return INCOMPLETE

    def words(self) -> list[tuple[str, str, GoldenCheck | None]]:
        """(kernel version, :meth:`word`, golden) per kernel."""
        goldens = self.goldens or (None,) * len(self.report.kernels)
        return [
            (k.version, self.word(k), g) for k, g in zip(self.report.kernels, goldens, strict=True)
        ]

    @property
    def ok(self) -> bool:
        return all(w in ("PASS", "XFAIL") and (g is None or g.ok) for _, w, g in self.words())

    def summary(self) -> ExploredRecord:
        """Without the placements (one line each in JSON, up to the limit): what a run keeps
        once the file is printed; checks and witnesses stay (JUnit needs them)."""
        kernels = tuple(dataclasses.replace(k, placements=()) for k in self.report.kernels)
        return dataclasses.replace(self, report=dataclasses.replace(self.report, kernels=kernels))


@dataclass(frozen=True)
class JobResult:
    """All kernels of one file, or why it could not run (diagnostics or an internal error)."""

    path: str
    runs: tuple[RunRecord, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    error: str | None = None
    versions: tuple[str, ...] | None = field(default=None)
    folder: bool = False  # not a file: a folder that could not be read (its diagnostic says)
    #: a file with explored calls: its exploration (``runs`` is then empty)
    explored: ExploredRecord | None = None

    def summary(self) -> JobResult:
        """The result with each run reduced to :meth:`RunRecord.summary`."""
        explored = self.explored.summary() if self.explored is not None else None
        return dataclasses.replace(
            self, runs=tuple(r.summary() for r in self.runs), explored=explored
        )

    @property
    def ok(self) -> bool:
        """Every run (or the exploration) passed, XFAIL included, and every golden matched."""
        if self.explored is not None:
            return self.explored.ok
        return bool(self.runs) and all(r.ok for r in self.runs)
