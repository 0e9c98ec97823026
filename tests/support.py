"""What tests share: where the repository and fixtures are, writing a scenario file, and
running ``ftscen`` in this process (CliRunner) or as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from ftscen.app.cli import app

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
PASSING = (
    "filter-notrace.yaml",
    "i386-regs-caller-window.yaml",
    "ipmodify-exclusive.yaml",
    "seed-livepatch-tracer-window.yaml",
    "text-poke-new-insn.yaml",
)
SEED = "seed-livepatch-tracer-window.yaml"

Preexec = Callable[[], None] | None


def write_file(folder: Path, name: str, content: str | bytes) -> Path:
    """``content`` as ``folder/name`` (text as UTF-8, bytes as they are)."""
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def copy_fixture(name: str, dest: Path, as_name: str | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / (as_name or name)
    shutil.copyfile(FIXTURES / name, target)
    return target


#: for ``invoke(env=...)``: as outside CI, where ``--update-golden`` may write goldens
NOT_CI: dict[str, str | None] = {"CI": None}


def invoke(args: Sequence[str], env: dict[str, str | None] | None = None) -> Result:
    """``ftscen ARGS`` in this process (the current directory is the caller's); ``env``
    changes the environment for the call (None: the variable is unset)."""
    return CliRunner().invoke(app, list(args), env=env)


def explore_json(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """``ftscen run PATH --format json ARGS`` in process: the exit code and the document."""
    res = invoke(["run", str(path), "--format", "json", *args])
    return res.exit_code, json.loads(res.stdout)


def run_ftscen(
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    *,
    timeout: float = 120,
    preexec: Preexec = None,
    **streams: Any,
) -> subprocess.CompletedProcess[str]:
    """``ftscen ARGS`` as a real process (``python -m ftscen``, the console entry point), with
    ``CI`` taken out of the environment unless ``env`` sets it; output captured unless
    ``stdout``/``stderr`` say otherwise."""
    full_env = {k: v for k, v in os.environ.items() if k != "CI"}
    full_env.update(env or {})
    streams.setdefault("stdout", subprocess.PIPE)
    streams.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "ftscen", *args],
        cwd=cwd,
        env=full_env,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
        check=False,
        **streams,
    )


def runs_on(path: Path, kernels: Sequence[str]) -> bool:
    """A corpus file valid under every one of ``kernels``: its ops flags exist in each
    (RECURSION is 5.11 on, RECURSION_SAFE before) and its steps pass the points they name in
    each (from 6.2 an update that stays on the list function passes no ftrace_call points)."""
    from ftscen.app import pipeline
    from ftscen.core.errors import ScenarioInvalid

    try:
        return not pipeline.check_points(pipeline.load(path), list(kernels))
    except ScenarioInvalid:
        return False


def fits_junit_xsd(report: Path) -> None:
    """``report`` validates against junit-10.xsd (``FTSCEN_JUNIT_XSD``), when the file is at
    hand (always in CI, where .ci/run fetches it)."""
    xsd = os.environ.get("FTSCEN_JUNIT_XSD", "")
    if not xsd:
        if os.environ.get("CI") == "true":
            import pytest

            pytest.fail("FTSCEN_JUNIT_XSD is not set: .ci/run fetches junit-10.xsd")
        return
    import xmlschema

    xmlschema.XMLSchema(xsd).validate(str(report))
