"""``ftscen validate``: check files without running their calls; one report for all of them.

Text: ``FILE: valid`` per valid file on stdout, the diagnostics of the others on stderr.
JSON: exactly one document on stdout, whatever the number of files and whether or not they
are valid, so a program can always parse it::

    {"valid": false,
     "files": [{"file": "a.yaml", "valid": true, "errors": 0},
               {"file": "b.yaml", "valid": false, "errors": 2}],
     "errors": [<every diagnostic, as Diagnostic.to_dict>]}

``errors`` is what a single invalid file printed before (``{"errors": [...]}``), so readers
of that form keep working. A folder that cannot be read is an error too. A file that hits a
bug in ftscen is listed with ``"internal_error"`` and the others are still checked (exit 3).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import IO, Any

from ftscen.app import corpus
from ftscen.app.explore_plan import DEFAULT_MAX_PLACEMENTS, plan
from ftscen.core.errors import Diagnostic, ExitCode, InternalError, ScenarioInvalid, UsageError


def problems_of(
    path: str | os.PathLike[str],
    text: bytes | None = None,
    max_placements: int = DEFAULT_MAX_PLACEMENTS,
) -> list[Diagnostic]:
    """Every problem of one file: loading (schema, names), the points of its steps and, for
    a file with explored calls, a placement space over ``max_placements`` (which ``ftscen
    run`` would refuse with the same diagnostic). ``text``: the scenario's bytes, already
    read from standard input (shown as ``<stdin>``)."""
    from ftscen.app import pipeline as api

    try:
        sc = api.load(path) if text is None else api.load_text(corpus.STDIN_SHOWN, text)
        problems = api.check_points(sc)
        if not problems and sc.explores:
            plan(sc, api.profiles(sc, None), max_placements)
        return problems
    except ScenarioInvalid as exc:
        return list(exc.diagnostics)


def validate_paths(
    paths: Sequence[str | os.PathLike[str]],
    as_json: bool,
    out: IO[str],
    err: IO[str],
    stdin: bytes | None = None,
    max_placements: int = DEFAULT_MAX_PLACEMENTS,
) -> ExitCode:
    """Check every scenario file under ``paths``; the exit code (0 all valid, 2 otherwise)."""
    from ftscen.app.pipeline import display_path
    from ftscen.core.diagnostics import render_text

    found = corpus.scan(paths)
    if not found.files and not found.problems:
        shown = ", ".join(display_path(p) for p in paths)
        raise UsageError(f"no scenario files (*.yaml, *.yml) under {shown}")
    if found.problems and not as_json:
        err.write(render_text(found.problems))
    files: list[dict[str, Any]] = []
    errors = [d.to_dict() for d in found.problems]
    broken = 0
    for found_path in found.files:
        text = stdin if str(found_path) == corpus.STDIN else None
        path = corpus.STDIN_SHOWN if text is not None else found_path
        try:
            problems = problems_of(path, text, max_placements)
        except InternalError as exc:  # reported for this file; the others are still checked
            broken += 1
            files.append({"file": display_path(path), "valid": False, "internal_error": str(exc)})
            err.write(f"ftscen: internal error: {display_path(path)}: {exc}\n")
            continue
        files.append({"file": display_path(path), "valid": not problems, "errors": len(problems)})
        errors += [d.to_dict() for d in problems]
        if as_json:
            continue
        if problems:
            err.write(render_text(problems))
        else:
            out.write(f"{display_path(path)}: valid\n")
    valid = not errors and not broken
    if as_json:
        doc = {"valid": valid, "files": files, "errors": errors}
        out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if broken:
        return ExitCode.INTERNAL
    return ExitCode.OK if valid else ExitCode.INVALID
