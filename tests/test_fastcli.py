"""The fast path for plain command lines decides exactly what typer would, or steps aside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import FIXTURES, SEED

from ftscen.app import cli, fastcli, session
from ftscen.app.cli import app

PLAIN = [
    ["run", "a.yaml"],
    ["run", "a.yaml", "b", "-q", "--kernel", "5.1,5.3", "--format", "json", "--golden",
     "-j", "3", "--shard=2/4", "--junit", "r.xml", "--max-insns", "1000"],
    ["run", "--update-golden", "a.yaml", "--format=text", "-k", "6.6", "--jobs=0"],
]
NOT_PLAIN = [
    [], ["--version"], ["nope"], ["run"], ["run", "--help"], ["run", "a.yaml", "-qk", "5.1"],
    ["run", "a.yaml", "--bogus"], ["run", "a.yaml", "--jobs", "-1"],
    ["run", "a.yaml", "--format", "xml"], ["run", "a.yaml", "--kernel"],
    ["run", "a.yaml", "--golden=yes"], ["run", "--", "a.yaml"], ["points", "a.yaml", "b.yaml"],
]


def recorded(monkeypatch: pytest.MonkeyPatch, call) -> session.RunOptions:
    seen: list[session.RunOptions] = []
    monkeypatch.setattr(session, "run_session", lambda opts, streams: seen.append(opts) or 0)
    call()
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("argv", PLAIN)
def test_a_plain_command_line_gives_the_options_typer_gives(
        argv: list[str], monkeypatch: pytest.MonkeyPatch):
    from typer.testing import CliRunner

    monkeypatch.delenv("CI", raising=False)
    via_typer = recorded(monkeypatch, lambda: CliRunner().invoke(app, argv))
    monkeypatch.setattr(sys, "argv", ["ftscen", *argv])
    assert fastcli.parse(app, argv) is not None

    def fast() -> None:
        with pytest.raises(SystemExit) as exit_:
            cli.main()
        assert exit_.value.code == 0

    assert recorded(monkeypatch, fast) == via_typer


@pytest.mark.parametrize("argv", NOT_PLAIN)
def test_anything_else_is_left_to_typer(argv: list[str]):
    assert fastcli.parse(app, argv) is None


def test_every_command_can_take_the_fast_path():
    for argv in (["validate", "a"], ["points", "a"], ["build", "a", "--listing", "--after"]):
        callback, kwargs = fastcli.parse(app, argv)
        assert callback.__name__ == argv[0]
    assert kwargs == {"path": Path("a"), "kernel": None, "listing": True, "after": True}


def test_a_plain_run_does_not_import_pydantic():
    code = ("import sys; from ftscen.app.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n"
            "    print(e.code, 'pydantic' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, "run", "-q", str(FIXTURES / SEED)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.stderr.split() == ["0", "False"]
