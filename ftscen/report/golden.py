"""Golden files: the canonical log of a scenario, kept beside it and compared on every run.

A golden file holds a short meta header, then the body that is compared::

    # ftscen golden file: the expected log of the scenario beside it (ftscen run --golden)
    # ftscen-version: 0.1.0
    # scenario-sha256: 6b2c...
    # scenario: seed-livepatch-tracer-window          <- body: report.header_lines,
    # kernel: 5.3 (int3: emulate-call, pt_regs: full, dynamic trampolines)
    [0] register livepatch                            <- report.log_lines,
    ...
    outcome: PASS (9/9 assertions hold)               <- and the outcome line

Only the body is compared, so a new ftscen version does not invalidate every golden; the
recorded sha256 of the scenario file makes a golden **stale** once its scenario is edited.

Keying: the scenario's own kernel (no ``--kernel``, or ``--kernel`` naming the version the
file declares) uses ``NAME.golden``; any other version ``V`` uses ``NAME@V.golden``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ftscen import __version__
from ftscen.core.files import FileRefused, read_bounded
from ftscen.report.text import ScenarioReport, header_lines, log_lines

BANNER = "# ftscen golden file: the expected log of the scenario beside it (ftscen run --golden)"
VERSION_KEY = "# ftscen-version: "
SHA_KEY = "# scenario-sha256: "
_META = (BANNER, VERSION_KEY, SHA_KEY)
#: A golden is a scenario's log: a few KiB, at most a few hundred. A larger file is not a
#: golden (or is a runaway log), and diffing it would cost memory and screens of output.
GOLDEN_LIMIT = 4 << 20


class GoldenMode(Enum):
    """What a run does with goldens: ``--golden``, ``--update-golden``, or (the pytest
    plugin) compare only where a golden file exists."""

    COMPARE = "compare"
    UPDATE = "update"
    EXISTING = "existing"


class GoldenStatus(Enum):
    MATCH = "match"
    DIFFERS = "differs"
    MISSING = "missing"
    STALE = "stale"
    UNREADABLE = "unreadable"
    UNWRITABLE = "unwritable"
    WRITTEN = "written"
    UNCHANGED = "unchanged"

    @property
    def ok(self) -> bool:
        return self in (GoldenStatus.MATCH, GoldenStatus.WRITTEN, GoldenStatus.UNCHANGED)


@dataclass(frozen=True)
class GoldenCheck:
    """The result of comparing (or writing) one golden file; ``stale`` may go with DIFFERS."""

    path: str
    status: GoldenStatus
    diff: tuple[str, ...] = ()
    stale: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status.ok and not self.stale

    def to_json(self) -> dict[str, object]:
        """The ``golden`` object of the JSON report (schema/report.schema.json)."""
        return {
            "path": self.path,
            "status": self.status.value,
            "stale": self.stale,
            "ok": self.ok,
            "diff": list(self.diff),
        }


@dataclass(frozen=True)
class Golden:
    """A parsed golden file."""

    version: str | None
    sha256: str | None
    body: tuple[str, ...]


def golden_path(scenario: str | os.PathLike[str], version: str, own_version: str) -> Path:
    """``NAME.golden`` for the scenario's own kernel version, ``NAME@V.golden`` otherwise."""
    path = Path(scenario)
    suffix = ".golden" if version == own_version else f"@{version}.golden"
    return path.with_name(path.stem + suffix)


def outcome_line(rep: ScenarioReport) -> str:
    held = sum(v.ok for v in rep.verdicts)
    return f"outcome: {rep.outcome.name} ({held}/{len(rep.verdicts)} assertions hold)"


def body_lines(rep: ScenarioReport) -> list[str]:
    """What a golden compares: header, callback log and outcome; no paths, no timestamps."""
    return header_lines(rep.result) + log_lines(rep.result) + [outcome_line(rep)]


def render(rep: ScenarioReport) -> str:
    return render_body(body_lines(rep), rep.result.scenario.source_sha256)


def render_body(body: list[str], sha256: str) -> str:
    """A golden file: the meta header, then ``body``."""
    meta = [BANNER, VERSION_KEY + __version__, SHA_KEY + sha256]
    return "\n".join(meta + body) + "\n"


def parse(text: str) -> Golden:
    """The golden's meta and body. A byte order mark and CRLF line ends (an editor's doing)
    are ignored, as they are in scenario files: they are invisible in a diff."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    version = sha = None
    n = 0
    while n < len(lines) and lines[n].startswith(_META):
        line = lines[n]
        if line.startswith(VERSION_KEY):
            version = line[len(VERSION_KEY) :].strip()
        elif line.startswith(SHA_KEY):
            sha = line[len(SHA_KEY) :].strip()
        n += 1
    return Golden(version, sha, tuple(lines[n:]))


def _read(path: Path) -> Golden | GoldenCheck:
    try:
        data = read_bounded(path, GOLDEN_LIMIT, "golden")
        return parse(data.decode("utf-8"))
    except FileNotFoundError:
        return GoldenCheck(path.as_posix(), GoldenStatus.MISSING)
    except FileRefused as refused:
        return GoldenCheck(
            path.as_posix(), GoldenStatus.UNREADABLE, detail=f"{refused.reason}; {refused.hint}"
        )
    except UnicodeDecodeError as exc:
        return GoldenCheck(
            path.as_posix(),
            GoldenStatus.UNREADABLE,
            detail=f"not UTF-8 text ({exc.reason} at offset {exc.start})",
        )


def compare(rep: ScenarioReport, path: Path) -> GoldenCheck:
    """Compare a run with its golden file: MATCH, DIFFERS (with a unified diff), MISSING,
    STALE (the scenario changed since the golden was written) or UNREADABLE."""
    return compare_body(body_lines(rep), rep.result.scenario.source_sha256, path)


def compare_body(actual: list[str], sha256: str, path: Path) -> GoldenCheck:
    """:func:`compare` for any body (an exploration's report is one too)."""
    found = _read(path)
    if isinstance(found, GoldenCheck):
        return found
    shown = path.as_posix()
    stale = found.sha256 != sha256
    if list(found.body) == actual:
        return GoldenCheck(shown, GoldenStatus.STALE if stale else GoldenStatus.MATCH, stale=stale)
    import difflib  # only for a golden that differs

    diff = difflib.unified_diff(
        list(found.body), actual, fromfile=shown, tofile=f"{shown} (this run)", lineterm=""
    )
    return GoldenCheck(shown, GoldenStatus.DIFFERS, tuple(diff), stale)


def update(rep: ScenarioReport, path: Path) -> GoldenCheck:
    """Write the golden unless it already matches (body and scenario hash): WRITTEN or
    UNCHANGED. The diff against the previous content (if any) is kept for the report."""
    return update_body(body_lines(rep), rep.result.scenario.source_sha256, path)


def update_body(body: list[str], sha256: str, path: Path) -> GoldenCheck:
    """:func:`update` for any body."""
    before = compare_body(body, sha256, path)
    if before.status is GoldenStatus.MATCH:
        return GoldenCheck(before.path, GoldenStatus.UNCHANGED)
    try:
        write_atomic(path, render_body(body, sha256))
    except OSError as exc:
        return GoldenCheck(before.path, GoldenStatus.UNWRITABLE, detail=exc.strerror or str(exc))
    return GoldenCheck(before.path, GoldenStatus.WRITTEN, before.diff)


def check(rep: ScenarioReport, scenario: str, mode: GoldenMode) -> GoldenCheck | None:
    """Compare (or write) the golden of one report as ``mode`` asks."""
    path = golden_path(scenario, rep.result.profile.version, rep.result.scenario.kernel.version)
    return check_body(body_lines(rep), rep.result.scenario.source_sha256, path, mode)


def check_body(body: list[str], sha256: str, path: Path, mode: GoldenMode) -> GoldenCheck | None:
    """:func:`check` for any body, at ``path``."""
    if mode is GoldenMode.UPDATE:
        return update_body(body, sha256, path)
    if mode is GoldenMode.EXISTING and not path.exists():
        return None
    return compare_body(body, sha256, path)


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same directory, then ``os.replace`` it: readers see
    the old file or the new one, never half of it."""
    mode = _mode_for(path)
    import tempfile  # only when writing (start-up time)

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())  # else a crash soon after the rename can leave it empty
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def ci_refusal(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """Why ``--update-golden`` must not run here, or None. Goldens are reviewed changes,
    never rewritten by CI: any non-empty ``CI`` other than ``0``/``false`` refuses."""
    value = environ.get("CI", "").strip()
    if value and value.lower() not in ("0", "false"):
        return (
            f"--update-golden refuses to run when CI is set (CI={value}): goldens are "
            "updated locally and reviewed; run without --update-golden to compare"
        )
    return None


#: One status line per status (DIFFERS and STALE add the diff and what to do).
_SAID = {
    GoldenStatus.MATCH: "matches",
    GoldenStatus.UNCHANGED: "up to date",
    GoldenStatus.WRITTEN: "written",
    GoldenStatus.MISSING: "missing (create it with: {fix})",
    GoldenStatus.UNREADABLE: "cannot be read ({detail}); to write it anew: {fix}",
    GoldenStatus.UNWRITABLE: "cannot be written ({detail}); check that its folder is writable",
}


def describe(check: GoldenCheck, scenario: str, kernel_option: str | None) -> list[str]:
    """What a user reads about one golden: a status line, the diff, and what to do."""
    fix = f"ftscen run {scenario}{kernel_option or ''} --update-golden"
    s, path = check.status, check.path
    if s in _SAID:
        return [f"golden {path}: " + _SAID[s].format(fix=fix, detail=check.detail)]
    stale = (
        f"golden {path}: stale: {scenario} changed since this golden was written; "
        f"review the log, then: {fix}"
    )
    if s is GoldenStatus.STALE:
        return [stale]
    out = [f"golden {path}: differs from this run"] + list(check.diff)
    out.append(stale if check.stale else f"if the new log is right: {fix}")
    return out
