"""The ``ftscen`` command: parses options and wires the stages; nothing else.

Exit codes: 0 every assertion held (or XFAIL) and every golden matched, 1 an assertion
failed / fault / XPASS / golden differs, is missing or stale, 2 invalid scenario or usage,
3 internal error, 5 an exploration stopped by --max-placements or --max-time before it found
a failure (docs/explore.md). Every error becomes one of these codes, never a traceback. Failures of
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
    from ftscen.app.explore import ExploreOptions
    from ftscen.core.model import Scenario
    from ftscen.core.profile import KernelProfile

# No rich: plain help and errors, plain tracebacks (main() turns errors into exit codes).
# Completion is typer's: --install-completion / --show-completion for bash, zsh, fish and
# PowerShell (docs/ci.md shows how).
app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Deterministic scenarios for races in Linux ftrace's code patching.",
)


class Format(str, Enum):
    text = "text"
    json = "json"


class RunFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class Color(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


KERNEL_HELP = (
    "Kernel version(s) to model, overriding kernel.version; e.g. 5.1 or 5.1,5.3,6.6; "
    "'all': one run per era (files without per-era keys: their own kernel)."
)
PATHS_HELP = (
    "Scenario files (- for standard input), or directories searched recursively for "
    "*.yaml/*.yml (directories named 'invalid' are skipped unless given themselves)."
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
OneFile = Annotated[
    Path, typer.Argument(help="Scenario file (- for standard input).", readable=False)
]
Kernel = Annotated[str | None, typer.Option("--kernel", "-K", help=KERNEL_HELP)]
# -k was --kernel's short form; pytest users read it as a name filter. It still works (a
# mistaken name filter fails as a bad kernel version, never as a different run), says it
# is deprecated, and is left out of --help.
KernelOld = Annotated[str | None, typer.Option("-k", hidden=True)]
FormatOpt = Annotated[
    RunFormat,
    typer.Option(
        "--format",
        help="Output format (json: one document for the whole run, schema/report.schema.json; "
        "github: the text plus ::error annotations for GitHub Actions).",
    ),
]
ColorOpt = Annotated[
    Color,
    typer.Option(
        "--color",
        help="Colour the outcomes: auto (on a terminal, unless NO_COLOR is set; "
        "FORCE_COLOR colours a pipe too), always or never.",
    ),
]


def _kernel(kernel: str | None, old: str | None) -> str | None:
    """``--kernel``/``-K``, or the deprecated ``-k`` (with a note on stderr)."""
    if old is None:
        return kernel
    sys.stderr.write("ftscen: note: -k is deprecated and will be removed; use -K or --kernel\n")
    if kernel is not None and kernel != old:
        raise _usage(UsageError("give the kernel once: -K/--kernel (-k is its old name)"))
    return old


@app.command()
def run(
    paths: Paths,
    kernel: Kernel = None,
    kernel_old: KernelOld = None,
    fmt: FormatOpt = RunFormat.text,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="One file: only its summary line. Several: only what failed, and the summary.",
        ),
    ] = False,
    color: ColorOpt = Color.auto,
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
    html: Annotated[
        str | None,  # not Path: typer would turn an empty name into '.'
        typer.Option(
            "--html",
            help="Also write the run as one self-contained HTML page (swimlane timeline of "
            "patcher and CPUs, site bytes at every point, failures linked to assertions).",
        ),
    ] = None,
    max_insns: Annotated[
        int,
        typer.Option("--max-insns", min=1, help="Instruction budget per call (runaway detection)."),
    ] = 2_000_000,
    max_total: Annotated[
        int, typer.Option("--max-insns-total", min=1, help="Instruction budget per scenario run.")
    ] = 50_000_000,
    place: Annotated[
        list[str] | None,
        typer.Option(
            "--place",
            help="Pin an explored call: ID=POINT (ID=POINT@CPU for cpu: any); repeatable. "
            "With every explored call pinned, the one run of that placement (a witness replay).",
        ),
    ] = None,
    max_placements: Annotated[
        int,
        typer.Option(
            "--max-placements",
            min=1,
            help="Exploration: refuse a kernel's space over N placements; stop (exit 5) after "
            "N placements in all.",
        ),
    ] = 100_000,
    max_time: Annotated[
        float | None,
        typer.Option("--max-time", min=0, help="Exploration: stop after SECONDS (exit 5)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Exploration: run the placements on this Dask scheduler (tcp://HOST:PORT; "
            "needs the 'explore' extra).",
        ),
    ] = None,
) -> None:
    """Run scenarios (files, directories, or - for standard input) and check their
    assertions and goldens; a file with explored calls (at: any) is explored."""
    import os

    from ftscen.app import corpus, session
    from ftscen.app import pipeline as api
    from ftscen.app.explore import ExploreOptions
    from ftscen.emu.run import Budget

    try:
        if max_time is not None and not max_time >= 0:  # nan passes the option's own range
            raise UsageError(f"--max-time {max_time}: give a number of seconds, 0 or more")
        versions = api.parse_kernels(_kernel(kernel, kernel_old))
        shown = tuple(str(p) for p in paths)
        stdin = api.read_stdin() if corpus.STDIN in shown else None
        explore = ExploreOptions(
            shown[0],
            tuple(versions) if versions else None,
            tuple(place or ()),
            max_placements,
            max_time,
            jobs,
            scheduler,
            fmt is RunFormat.json,
            junit,
            Budget(max_insns, max_total),
            stdin,
            github=fmt is RunFormat.github,
            html=html,
        )
        ignored = [
            name
            for name, given in (
                ("--golden", golden or update_golden),
                ("--html", html is not None),
                ("--shard", shard is not None),
            )
            if given
        ]
        code = _explore(explore, len(shown), color.value, ignored)
        if code is not None:
            raise typer.Exit(code)
        opts = session.RunOptions(
            shown,
            tuple(versions) if versions else None,
            fmt is RunFormat.json,
            quiet,
            session.golden_mode(golden, update_golden, os.environ),
            jobs,
            corpus.parse_shard(shard) if shard is not None else None,
            junit,
            Budget(max_insns, max_total),
            html=html,
            stdin=stdin,
            github=fmt is RunFormat.github,
            max_placements=max_placements,
        )
        streams = session.Streams.of(sys.stdout, sys.stderr, color.value)
        code = session.run_session(opts, streams)
    except UsageError as exc:
        raise _usage(exc) from None
    raise typer.Exit(code)


def _explore(opts: ExploreOptions, files: int, color: str, ignored: list[str]) -> int | None:
    """A single file with explored calls (or ``--place``): the exploration's exit code;
    None for any other run."""
    from ftscen.app import explore
    from ftscen.app.session import Streams

    streams = Streams.of(sys.stdout, sys.stderr, color)
    try:
        return explore.dispatch(opts, files, ignored, sys.stdout, sys.stderr, streams.progress)
    except ScenarioInvalid as exc:
        _diagnostics(exc, Format.json if opts.json else Format.text)
        return ExitCode.INVALID


@app.command()
def validate(
    paths: Paths,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    max_placements: Annotated[
        int,
        typer.Option(
            "--max-placements",
            min=1,
            help="Refuse a file whose placement space on a kernel is over N, as run does.",
        ),
    ] = 100_000,
) -> None:
    """Check scenarios (schema, names, the points each step really passes, and the size of
    an exploration's placement space)."""
    from ftscen.app.corpus import STDIN
    from ftscen.app.pipeline import read_stdin
    from ftscen.app.validating import validate_paths

    stdin = read_stdin() if any(str(p) == STDIN for p in paths) else None
    try:
        code = validate_paths(
            paths, fmt is Format.json, sys.stdout, sys.stderr, stdin, max_placements
        )
    except UsageError as exc:
        raise _usage(exc) from None
    raise typer.Exit(code)


def _load(path: Path, kernel: str | None) -> tuple[Scenario, list[KernelProfile]]:
    """The scenario and its profiles, or exit 2 with the diagnostics / usage error."""
    from ftscen.app import pipeline as api
    from ftscen.app.corpus import STDIN, STDIN_SHOWN

    try:
        stdin = str(path) == STDIN
        sc = api.load_text(STDIN_SHOWN, api.read_stdin()) if stdin else api.load(path)
        return sc, api.profiles(sc, api.parse_kernels(kernel))
    except ScenarioInvalid as exc:
        _diagnostics(exc, Format.text)
        raise typer.Exit(ExitCode.INVALID) from None
    except UsageError as exc:
        raise _usage(exc) from None


@app.command()
def points(
    path: OneFile,
    kernel: Kernel = None,
    kernel_old: KernelOld = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
) -> None:
    """For each patcher step, the named points it passes (for placing 'during' calls)."""
    from ftscen.emu.run import dry_run
    from ftscen.report.text import describe_action, points_json

    sc, profiles = _load(path, _kernel(kernel, kernel_old))
    results = [(profile, dry_run(sc, profile)) for profile in profiles]
    if fmt is Format.json:
        typer.echo(points_json(sc, results), nl=False)
        return
    steps = {s.index: s for s in sc.timeline}
    for profile, result in results:
        typer.echo(f"# kernel {profile.version} (int3: {profile.int3})")
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
    kernel_old: KernelOld = None,
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

    sc, profiles = _load(path, _kernel(kernel, kernel_old))
    for i, profile in enumerate(profiles):
        try:
            view = build_view(sc, profile, after)
        except ScenarioInvalid as exc:  # --after: the run met a mistake only running shows
            _diagnostics(exc, Format.text)
            raise typer.Exit(ExitCode.INVALID) from None
        lines = listing_lines(view) if listing else summary_lines(view)
        sys.stdout.write(("\n" if i else "") + "\n".join(lines) + "\n")


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The new scenario: NAME or NAME.yaml.")],
) -> None:
    """Write a commented scenario template that passes as it is (never over an existing file)."""
    from ftscen.app.scaffold import create

    try:
        path = create(name)
    except UsageError as exc:
        raise _usage(exc) from None
    typer.echo(f"wrote {path.as_posix()}; run it with: ftscen run {path.as_posix()}")


@app.command()
def schema(
    path: Annotated[
        bool, typer.Option("--path", help="Print where the schema file is, not its text.")
    ] = False,
) -> None:
    """Print the scenario JSON Schema (or its path), for editors and other tools."""
    from ftscen.app.scaffold import schema_path, schema_text

    sys.stdout.write(schema_path() + "\n" if path else schema_text())


@app.command("export-module")
def export_module(
    path: OneFile,
    out: Annotated[Path, typer.Option("--output", "-o", help="Directory to write the module to.")],
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the module's files in a non-empty directory.")
    ] = False,
) -> None:
    """Write the scenario as a kernel module (C, Kbuild, step script) for your own kernel."""
    from ftscen.kernel.export import export_module as write

    sc, _ = _load(path, None)
    try:
        files = write(sc, out, force)
    except ScenarioInvalid as exc:
        _diagnostics(exc, Format.text)
        raise typer.Exit(ExitCode.INVALID) from None
    except UsageError as exc:
        raise _usage(exc) from None
    for f in files:
        typer.echo(f"wrote {f.as_posix()}")
    target = out.resolve().as_posix()
    typer.echo(f"build: make -C /lib/modules/$(uname -r)/build M={target} modules")


@app.command()
def crosscheck(
    paths: Annotated[list[Path] | None, typer.Argument(help=PATHS_HELP, readable=False)] = None,
    generate: Annotated[
        int, typer.Option("--generate", min=0, help="Also check N random sequential scenarios.")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --generate.")] = 1,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list what was left out of agreeing ones.")
    ] = False,
) -> None:
    """Run scenarios on the installed 6.1 kernel under QEMU and compare with the model."""
    from ftscen.app.kernelcheck import run_crosscheck

    try:
        code = run_crosscheck(paths or [], generate, seed, verbose, sys.stdout, sys.stderr)
    except UsageError as exc:
        raise _usage(exc) from None
    raise typer.Exit(code)


@guarded
def main() -> None:
    """Console entry point: every error becomes an exit code, never a traceback."""
    parser_errors = _parser_errors()
    try:
        # prog_name: "python -m ftscen" would otherwise name the completion script
        code = app(prog_name="ftscen", standalone_mode=False)  # returns the exit code
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
