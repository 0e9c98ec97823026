"""The ``ftscen`` command: parses options and wires the stages; nothing else.

Exit codes: 0 every assertion held (or XFAIL), 1 an assertion failed / fault / XPASS,
2 invalid scenario or usage, 3 internal error.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ftscen import __version__
from ftscen.errors import FtscenError, ScenarioInvalid, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Deterministic scenarios for races in Linux ftrace's code patching.")

EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3


class Format(str, Enum):
    text = "text"
    json = "json"


KERNEL_HELP = "Kernel version(s) to model, overriding kernel.version; e.g. 5.1 or 5.1,5.3,6.6."


def _diagnostics(exc: ScenarioInvalid, fmt: Format) -> None:
    from ftscen.diagnostics import render_json, render_text

    out = render_json(exc.diagnostics) if fmt is Format.json else render_text(exc.diagnostics)
    (sys.stdout if fmt is Format.json else sys.stderr).write(out)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ftscen {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")) -> None:
    """ftscen: validate, build and run ftrace patching scenarios on an emulated i386."""


@app.command()
def run(
    paths: list[Path] = typer.Argument(..., help="Scenario files."),
    kernel: Optional[str] = typer.Option(None, "--kernel", "-k", help=KERNEL_HELP),
    fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary line(s)."),
    max_insns: int = typer.Option(2_000_000, "--max-insns", min=1,
                                  help="Instruction budget per call (runaway detection)."),
    max_total: int = typer.Option(50_000_000, "--max-insns-total", min=1,
                                  help="Instruction budget per scenario run."),
) -> None:
    """Run scenarios and check their assertions."""
    from ftscen import api
    from ftscen.report import render_json, render_text
    from ftscen.run import Budget

    versions = api.parse_kernels(kernel)
    reports, worst = [], EXIT_OK
    for path in paths:
        try:
            reports.extend(api.check_file(path, versions, Budget(max_insns, max_total)))
        except ScenarioInvalid as exc:
            _diagnostics(exc, fmt)
            worst = max(worst, EXIT_INVALID)
    if fmt is Format.json:
        sys.stdout.write(render_json(reports))
    else:
        show_log = not quiet and len(reports) == 1
        for rep in reports:
            sys.stdout.write(render_text(rep, show_log=show_log or (not quiet and
                                                                     not rep.outcome.ok)))
    if any(not r.outcome.ok for r in reports):
        worst = max(worst, EXIT_FAIL)
    raise typer.Exit(worst)


@app.command()
def validate(
    paths: list[Path] = typer.Argument(..., help="Scenario files."),
    fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
) -> None:
    """Check scenarios (schema, names, and the points each step really passes)."""
    from ftscen import api
    from ftscen.run import check_points, dry_run

    worst = EXIT_OK
    for path in paths:
        try:
            sc = api.load(path)
            problems = []
            for profile in api.profiles(sc, None):
                problems += check_points(sc, dry_run(sc, profile).steps)
            if problems:
                raise ScenarioInvalid(problems)
            if fmt is Format.text:
                typer.echo(f"{api.display_path(path)}: valid")
        except ScenarioInvalid as exc:
            _diagnostics(exc, fmt)
            worst = EXIT_INVALID
    raise typer.Exit(worst)


@app.command()
def points(
    path: Path = typer.Argument(..., help="Scenario file."),
    kernel: Optional[str] = typer.Option(None, "--kernel", "-k", help=KERNEL_HELP),
) -> None:
    """For each patcher step, the named points it passes (for placing 'during' calls)."""
    from ftscen import api
    from ftscen.report import describe_action
    from ftscen.run import dry_run

    try:
        sc = api.load(path)
    except ScenarioInvalid as exc:
        _diagnostics(exc, Format.text)
        raise typer.Exit(EXIT_INVALID)
    for profile in api.profiles(sc, api.parse_kernels(kernel)):
        typer.echo(f"# kernel {profile.version} (int3: {profile.int3})")
        result = dry_run(sc, profile)
        steps = {s.index: s for s in sc.timeline}
        for sr in result.steps:
            step = steps[sr.index]
            if sr.errno is None:
                continue
            label = f" ({step.id})" if step.id else ""
            typer.echo(f"[{sr.index}] {describe_action(step.action)}{label} -> {sr.errno}")
            for p in sr.points:
                typer.echo(f"    {p}")


def main() -> None:
    """Console entry point: every error becomes an exit code, never a traceback."""
    try:
        code = app(standalone_mode=False)  # click returns the exit code instead of raising
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except UsageError as exc:
        sys.stderr.write(f"ftscen: error: {exc}\n")
        sys.exit(EXIT_INVALID)
    except FtscenError as exc:
        sys.stderr.write(f"ftscen: internal error: {exc}\n{_REPORT_HINT}")
        sys.exit(EXIT_INTERNAL)
    except _click_errors() as exc:
        exc.show()
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: one line, no traceback
        sys.stderr.write(f"ftscen: internal error: {type(exc).__name__}: {exc}\n{_REPORT_HINT}")
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


_REPORT_HINT = ("ftscen: this is a bug in ftscen, not in your scenario; please report it with "
                "the scenario file and `ftscen --version` to the ftscen issue tracker.\n")


def _click_errors() -> type[Exception]:
    import click

    return click.ClickException
