"""The ``ftscen`` command: parses options and wires the stages; nothing else.

Exit codes: 0 every assertion held (or XFAIL) and every golden matched, 1 an assertion
failed / fault / XPASS / golden differs, is missing or stale, 2 invalid scenario or usage,
3 internal error. Every error becomes one of these codes, never a traceback. Failures of
the surroundings (stdout closed or full: 4, its reader gone: 141, SIGTERM: 143) are handled
around ``main`` by :mod:`ftscen.app.output`.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ftscen import __version__
from ftscen.app.output import guarded
from ftscen.core.errors import ExitCode, FtscenError, ScenarioInvalid, UsageError

if TYPE_CHECKING:
    from ftscen.core.model import Scenario
    from ftscen.core.profile import KernelProfile

# No rich: plain help and errors, plain tracebacks (main() turns errors into exit codes).
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Deterministic scenarios for races in Linux ftrace's code patching.",
)


class Format(str, Enum):
    text = "text"
    json = "json"


KERNEL_HELP = (
    "Kernel version(s) to model, overriding kernel.version; e.g. 5.1 or 5.1,5.3,6.6; "
    "'all': one run per era (files without per-era keys: their own kernel)."
)
PATHS_HELP = (
    "Scenario files, or directories searched recursively for *.yaml/*.yml "
    "(directories named 'invalid' are skipped unless given themselves)."
)


def _diagnostics(exc: ScenarioInvalid, fmt: Format) -> None:
    from ftscen.core.diagnostics import render_json, render_text

    out = render_json(exc.diagnostics) if fmt is Format.json else render_text(exc.diagnostics)
    (sys.stdout if fmt is Format.json else sys.stderr).write(out)


def _usage(exc: UsageError) -> typer.Exit:
    sys.stderr.write(f"ftscen: error: {exc}\n")
    return typer.Exit(ExitCode.INVALID)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ftscen {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """ftscen: validate, build and run ftrace patching scenarios on an emulated i386."""


# readable=False: the loader checks access itself and says why, naming the file
Paths = Annotated[list[Path], typer.Argument(help=PATHS_HELP, readable=False)]
OneFile = Annotated[Path, typer.Argument(help="Scenario file.", readable=False)]
Kernel = Annotated[str | None, typer.Option("--kernel", "-k", help=KERNEL_HELP)]
FormatOpt = Annotated[
    Format, typer.Option("--format", help="Output format (json: one document for the whole run).")
]


@app.command()
def run(
    paths: Paths,
    kernel: Kernel = None,
    fmt: FormatOpt = Format.text,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary line(s).")] = False,
    golden: Annotated[
        bool,
        typer.Option(
            "--golden",
            help="Compare each run with NAME.golden (NAME@VERSION.golden for a "
            "--kernel other than the file's).",
        ),
    ] = False,
    update_golden: Annotated[
        bool,
        typer.Option(
            "--update-golden", help="Write the golden files (refused when the CI variable is set)."
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Processes to run scenarios in (0: one per CPU); output "
            "order stays the input order.",
        ),
    ] = 1,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard", help="Run only shard K of N of the sorted files, e.g. 2/4 (for CI matrices)."
        ),
    ] = None,
    junit: Annotated[
        str | None,  # not Path: typer would turn an empty name into '.'
        typer.Option(
            "--junit", help="Also write a JUnit XML report (one test case per scenario and kernel)."
        ),
    ] = None,
    max_insns: Annotated[
        int,
        typer.Option("--max-insns", min=1, help="Instruction budget per call (runaway detection)."),
    ] = 2_000_000,
    max_total: Annotated[
        int, typer.Option("--max-insns-total", min=1, help="Instruction budget per scenario run.")
    ] = 50_000_000,
) -> None:
    """Run scenarios (files or directories) and check their assertions and goldens."""
    import os

    from ftscen.app import corpus, session
    from ftscen.app import pipeline as api
    from ftscen.emu.run import Budget

    try:
        versions = api.parse_kernels(kernel)
        opts = session.RunOptions(
            tuple(str(p) for p in paths),
            tuple(versions) if versions else None,
            fmt is Format.json,
            quiet,
            session.golden_mode(golden, update_golden, os.environ),
            jobs,
            corpus.parse_shard(shard) if shard is not None else None,
            junit,
            Budget(max_insns, max_total),
        )
        code = session.run_session(opts, session.Streams.of(sys.stdout, sys.stderr))
    except UsageError as exc:
        raise _usage(exc) from None
    raise typer.Exit(code)


@app.command()
def validate(
    paths: Paths,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
) -> None:
    """Check scenarios (schema, names, and the points each step really passes)."""
    from ftscen.app.validating import validate_paths

    try:
        code = validate_paths(paths, fmt is Format.json, sys.stdout, sys.stderr)
    except UsageError as exc:
        raise _usage(exc) from None
    raise typer.Exit(code)


def _load(path: Path, kernel: str | None) -> tuple[Scenario, list[KernelProfile]]:
    """The scenario and its profiles, or exit 2 with the diagnostics / usage error."""
    from ftscen.app import pipeline as api

    try:
        sc = api.load(path)
        return sc, api.profiles(sc, api.parse_kernels(kernel))
    except ScenarioInvalid as exc:
        _diagnostics(exc, Format.text)
        raise typer.Exit(ExitCode.INVALID) from None
    except UsageError as exc:
        raise _usage(exc) from None


@app.command()
def points(path: OneFile, kernel: Kernel = None) -> None:
    """For each patcher step, the named points it passes (for placing 'during' calls)."""
    from ftscen.emu.run import dry_run
    from ftscen.report.text import describe_action

    sc, profiles = _load(path, kernel)
    for profile in profiles:
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


@app.command()
def build(
    path: OneFile,
    kernel: Kernel = None,
    listing: Annotated[
        bool,
        typer.Option(
            "--listing",
            help="Disassemble the whole text (Capstone): trampolines, list function, functions.",
        ),
    ] = False,
    after: Annotated[
        bool,
        typer.Option(
            "--after",
            help="Run the timeline first and show the text as it leaves it "
            "(default: the text as built).",
        ),
    ] = False,
) -> None:
    """Build the i386 image: memory map, symbols, call sites (and with --listing, code)."""
    from ftscen.app.pipeline import build_view
    from ftscen.image.listing import listing_lines, summary_lines

    sc, profiles = _load(path, kernel)
    for i, profile in enumerate(profiles):
        view = build_view(sc, profile, after)
        lines = listing_lines(view) if listing else summary_lines(view)
        sys.stdout.write(("\n" if i else "") + "\n".join(lines) + "\n")


@guarded
def main() -> None:
    """Console entry point: every error becomes an exit code, never a traceback."""
    parser_errors = _parser_errors()
    try:
        code = app(standalone_mode=False)  # returns the exit code instead of raising it
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except UsageError as exc:
        sys.stderr.write(f"ftscen: error: {exc}\n")
        sys.exit(ExitCode.INVALID)
    except FtscenError as exc:
        sys.stderr.write(f"ftscen: internal error: {exc}\n{_REPORT_HINT}")
        sys.exit(ExitCode.INTERNAL)
    except parser_errors as exc:  # usage errors found by the option parser
        show = getattr(exc, "show", None)
        show() if callable(show) else sys.stderr.write(f"ftscen: error: {exc}\n")
        sys.exit(ExitCode.INVALID)
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 (a bug: one line, no traceback)
        sys.stderr.write(f"ftscen: internal error: {type(exc).__name__}: {exc}\n{_REPORT_HINT}")
        sys.exit(ExitCode.INTERNAL)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _parser_errors() -> tuple[type[Exception], ...]:
    """The option parser's own errors: click's ``ClickException``, wherever typer keeps it
    (typer >= 0.29 exports it as ``TyperException``; 0.2x vendors click as ``typer._click``;
    older typer uses click itself)."""
    vendored = getattr(typer, "TyperException", None)
    if vendored is not None:
        return (vendored,)
    import importlib

    for where in ("typer._click.exceptions", "click.exceptions"):
        try:
            return (importlib.import_module(where).ClickException,)
        except ImportError:
            continue
    return ()


_REPORT_HINT = (
    "ftscen: this is a bug in ftscen, not in your scenario; please report it with "
    "the scenario file and `ftscen --version` to the ftscen issue tracker.\n"
)
