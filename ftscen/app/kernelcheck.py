"""``ftscen crosscheck``: scenario files and generated scenarios, checked on the real kernel.

Invalid files are reported with their diagnostics and make the run exit 2 (the valid ones are
still checked, so one typo does not cost a boot); missing tools are one usage error naming
what to install, before anything is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ftscen.app import corpus
from ftscen.core.errors import ExitCode, ScenarioInvalid, UsageError
from ftscen.core.model import Scenario


def _load_all(paths: Sequence[Path], err: IO[str]) -> tuple[list[tuple[str, Scenario]], bool]:
    from ftscen.app.pipeline import display_path, load
    from ftscen.core.diagnostics import render_text

    found = corpus.scan(paths)
    invalid = bool(found.problems)
    if found.problems:
        err.write(render_text(found.problems))
    out = []
    for path in found.files:
        try:
            out.append((display_path(path), load(path)))
        except ScenarioInvalid as exc:
            err.write(render_text(exc.diagnostics))
            invalid = True
    return out, invalid


def run_crosscheck(
    paths: Sequence[Path], generate: int, seed: int, verbose: bool, out: IO[str], err: IO[str]
) -> int:
    """Check the scenarios under ``paths`` and ``generate`` random ones; the exit code."""
    from ftscen.kernel import boot
    from ftscen.kernel.crosscheck import run_batch
    from ftscen.kernel.generate import generate as draw
    from ftscen.kernel.report import render

    if not paths and not generate:
        raise UsageError("give scenario files or directories, or --generate N")
    tools = boot.find_tools()
    scenarios, invalid = _load_all(paths, err)
    generated = draw(generate, seed) if generate else []
    texts = {shown: text for shown, _, text in generated}
    scenarios += [(shown, sc) for shown, sc, _ in generated]

    def progress(msg: str) -> None:
        err.write(f"crosscheck: {msg}\n")
        err.flush()

    batch = run_batch(scenarios, tools, progress)
    out.write(render(batch, verbose))
    for o in batch.outcomes:  # a generated scenario that differs is printed, to keep
        if o.status in ("DIFFER", "ERROR") and o.shown in texts:
            out.write(f"--- {o.shown}\n{texts[o.shown]}")
    if invalid:
        return ExitCode.INVALID
    c = batch.counts()
    return ExitCode.FAIL if c["DIFFER"] or c["ERROR"] else ExitCode.OK
