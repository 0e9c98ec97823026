"""pytest plugin (entry point ``pytest11``): scenario YAML files collected as test items.

The plugin is installed wherever ftscen is, so it collects nothing unless asked:

* ``pytest --ftscen [PATHS]`` collects scenario files under the paths pytest is given, or
* the ini option ``ftscen_paths`` (e.g. ``ftscen_paths = ["scenarios"]`` under
  ``[tool.pytest.ini_options]``) names directories whose scenario files are always collected.

Even then a file is collected only if it is ``*.yaml``/``*.yml`` with a top-level ``ftscen:``
key (or cannot be YAML text at all: empty, binary, unreadable; it fails, saying why), and not
inside a directory named ``invalid`` (deliberately broken files) unless that
directory is what pytest was pointed at. Each file is one item per kernel version
(``--ftscen-kernel 5.1,5.3``; default: the file's own). A failed assertion shows the failing
verdict lines, not a traceback; XFAIL scenarios report as xfailed, XPASS fails. A file with
explored calls is collected the same way, each item exploring its kernel (as a corpus run
does, docs/explore.md): a failure shows the failing checks with their witnesses and replay
commands; an exploration cut short by ``--max-placements`` fails. If a golden
(``NAME.golden``, or ``NAME@V.golden`` for another version) exists beside the file, the run
is compared with it as ``ftscen run --golden`` does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUFFIXES = (".yaml", ".yml")
# A top-level `ftscen:` key (quoted or not) at the start of a line, after an optional BOM.
_TOP_KEY = re.compile(r"^\ufeff?[\"']?ftscen[\"']?[ \t]*:", re.MULTILINE)
_SNIFF_BYTES = 1 << 16


class ScenarioFailure(Exception):
    """A scenario failed (assertions, XPASS, invalid file or golden): shown as plain text."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ftscen", "ftscen scenarios")
    group.addoption(
        "--ftscen",
        action="store_true",
        default=False,
        help="collect ftscen scenario files (*.yaml/*.yml with a top-level "
        "'ftscen:' key) as test items",
    )
    group.addoption(
        "--ftscen-kernel",
        default=None,
        metavar="V[,V...]|all",
        help="run each scenario under these kernel versions (one item each); 'all': one per "
        "era for files with per-era keys, the file's own kernel for the others",
    )
    parser.addini(
        "ftscen_paths",
        type="paths",
        default=[],
        help="directories whose ftscen scenario files are collected without --ftscen",
    )


def looks_like_scenario(path: Path) -> bool:
    """True for a file with a top-level ``ftscen:`` key in its first 64 KiB, and for one
    that cannot be YAML text at all (empty, binary, not UTF-8, unreadable, not a regular
    file): running it says why, where leaving it out would hide a broken scenario."""
    from ftscen.core.files import FileRefused, read_head

    try:
        head = read_head(path, _SNIFF_BYTES, "scenario")
    except (OSError, FileRefused):
        return True
    if not head.strip() or b"\0" in head:
        return True
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # not a character cut by the 64 KiB limit
            return True
        text = head[: err.start].decode("utf-8")
    return _TOP_KEY.search(text) is not None


def _roots(config: pytest.Config) -> list[Path]:
    """Where collection was asked for: the ini paths and (with --ftscen) the arguments."""
    roots = [Path(p) for p in config.getini("ftscen_paths")]
    if config.getoption("ftscen"):
        here = config.invocation_params.dir
        args = [a.split("::")[0] for a in config.args] or [str(config.rootpath)]
        roots += [Path(here, a) for a in args]
    return [Path(os.path.abspath(r)) for r in roots]


def _collected(config: pytest.Config, path: Path) -> bool:
    target = Path(os.path.abspath(path))
    inside = [r for r in _roots(config) if target == r or r in target.parents]
    if not inside:
        return False
    root = max(inside, key=lambda r: len(r.parts))  # the most specific root decides
    return root == target or "invalid" not in target.relative_to(root).parts[:-1]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in SUFFIXES or not _collected(parent.config, file_path):
        return None
    if not looks_like_scenario(file_path):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


class ScenarioFile(pytest.File):
    """One scenario file; one item per kernel version."""

    def collect(self) -> Iterator[ScenarioItem]:
        text = self.config.getoption("ftscen_kernel")
        if not text:
            yield ScenarioItem.from_parent(self, name=self.path.stem, version=None)
            return
        from ftscen.app import pipeline as api
        from ftscen.core.errors import UsageError

        try:
            versions = api.parse_kernels(text) or []
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        if versions == [api.KERNEL_ALL]:
            versions = _all_kernels(self.path)
        for v in versions:
            yield ScenarioItem.from_parent(self, name=f"{self.path.stem}[{v}]", version=v)


def _all_kernels(path: Path) -> list[str]:
    """``--ftscen-kernel all``: every era for a file with per-era keys, else its own kernel
    (a file that does not load gets one item, which reports why)."""
    from ftscen.app import pipeline as api
    from ftscen.core.errors import ScenarioInvalid

    try:
        sc = api.load(path)
    except ScenarioInvalid:
        return [api.KERNEL_ALL]
    return [v or sc.kernel.version for v in api.kernels_for(sc, [api.KERNEL_ALL])]


class ScenarioItem(pytest.Item):
    """Runs the scenario as ``ftscen run FILE [--kernel V] [--golden if one exists]``."""

    def __init__(self, *, version: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version = version

    def _shown(self) -> str:
        try:
            return Path(os.path.relpath(self.path, self.config.invocation_params.dir)).as_posix()
        except ValueError:  # another drive (Windows)
            return self.path.as_posix()

    def runtest(self) -> None:
        """The corpus job ``ftscen run FILE --golden`` runs, with goldens compared only where
        one exists; what fails is worded as the corpus reporter words it."""
        from ftscen.app.corpus import Job, run_job
        from ftscen.report.golden import GoldenMode
        from ftscen.verdicts.evaluate import Outcome

        versions = (self.version,) if self.version else None
        result = run_job(Job(self._shown(), versions, golden=GoldenMode.EXISTING))
        problems = _problems(result, versions)
        if problems:
            raise ScenarioFailure("\n".join(problems))
        if result.explored is not None:
            if any(w == "XFAIL" for _, w, _ in result.explored.words()):
                from ftscen.app import pipeline as api

                pytest.xfail(api.load(self.path).xfail or "expected failure")
            return
        [run] = result.runs
        if run.outcome is Outcome.XFAIL:
            pytest.xfail(run.report.result.scenario.xfail or "expected failure")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, ScenarioFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        kernel = f" [kernel {self.version}]" if self.version else ""
        return self.path, None, f"ftscen scenario {self.path.stem}{kernel}"


def _problems(result: Any, versions: tuple[str, ...] | None) -> list[str]:
    from ftscen.core.diagnostics import render_text
    from ftscen.report.corpus import failure_lines, golden_lines
    from ftscen.report.text import summary_line
    from ftscen.verdicts.evaluate import Outcome

    if result.error is not None:
        return [f"internal error: {result.error}"]
    if result.diagnostics:
        return ["invalid scenario:\n" + render_text(result.diagnostics)]
    if result.explored is not None:
        return _explored_problems(result)
    [run] = result.runs
    out = []
    if run.outcome in (Outcome.FAIL, Outcome.XPASS):
        out += [summary_line(run.report), *failure_lines(run)]
    if run.golden is not None and not run.golden.ok:
        out += golden_lines(run, result.path, versions)
    return out


def _explored_problems(result: Any) -> list[str]:
    """An explored file: its line, failing checks with witnesses and replay commands, and
    goldens that differ, as a corpus run prints them; an exploration cut short fails too."""
    from ftscen.report import explored as ex
    from ftscen.report.golden import describe

    rec = result.explored
    if rec.ok:
        return []
    out = [ex.head_line(rec), *ex.failure_lines(rec)]
    for version, golden in ex.goldens(rec):
        if not golden.ok:
            option = f" --kernel {version}" if version != rec.own else None
            out += describe(golden, result.path, option)
    return out
