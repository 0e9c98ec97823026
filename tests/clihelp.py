"""Helpers for tests that drive the ``ftscen`` command (CliRunner or a real process)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from typer.testing import CliRunner, Result

from ftscen.app.cli import app

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSING = ("filter-notrace.yaml", "i386-regs-caller-window.yaml", "ipmodify-exclusive.yaml",
           "seed-livepatch-tracer-window.yaml", "text-poke-new-insn.yaml")
SEED = "seed-livepatch-tracer-window.yaml"


def copy_fixture(name: str, dest: Path, as_name: str | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / (as_name or name)
    shutil.copyfile(FIXTURES / name, target)
    return target


def invoke(args: Sequence[str]) -> Result:
    """``ftscen ARGS`` in this process (the current directory is the caller's)."""
    return CliRunner().invoke(app, list(args))


def run_process(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``ftscen ARGS`` as a real process, through the console entry point ``main()``."""
    full_env = {k: v for k, v in os.environ.items() if k != "CI"}
    full_env.update(env or {})
    code = "from ftscen.app.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120, check=False)
