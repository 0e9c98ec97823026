"""The everyday commands: ftscen new, ftscen schema, reading '-', shell completion, -K."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import FIXTURES, REPO, SEED, invoke, run_ftscen


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---- new -------------------------------------------------------------------------------------
def test_new_writes_a_commented_template_that_passes(here: Path) -> None:
    made = invoke(["new", "my-race"])
    assert made.exit_code == 0
    assert made.stdout == "wrote my-race.yaml; run it with: ftscen run my-race.yaml\n"
    text = (here / "my-race.yaml").read_text()
    assert text.startswith("# my-race: a new ftscen scenario.")
    assert sum(line.lstrip().startswith("#") or "  # " in line for line in text.splitlines()) > 10
    result = invoke(["run", "my-race.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "PASS  my-race.yaml [kernel 6.6]: 4/4 assertions hold"
    )


def test_new_never_overwrites_a_file(here: Path) -> None:
    (here / "mine.yaml").write_text("my own work\n")
    result = invoke(["new", "mine"])
    assert result.exit_code == 2
    assert "mine.yaml already exists; it was left as it is" in result.stderr
    assert (here / "mine.yaml").read_text() == "my own work\n"


@pytest.mark.parametrize("name", ["", "../", "a b", "-x", "a;rm"])
def test_new_refuses_a_name_that_is_no_scenario_name(here: Path, name: str) -> None:
    result = invoke(["new", "--", name])
    assert result.exit_code == 2
    assert "is not a scenario name" in result.stderr
    assert list(here.iterdir()) == []


# ---- schema ----------------------------------------------------------------------------------
def test_schema_prints_the_schema_and_its_path() -> None:
    text = invoke(["schema"]).stdout
    assert json.loads(text) == json.loads((REPO / "schema" / "scenario.schema.json").read_text())
    path = invoke(["schema", "--path"]).stdout.strip()
    assert Path(path).is_file() and json.loads(Path(path).read_text()) == json.loads(text)
    assert json.loads(text)["$id"].startswith("https://")


def test_the_format_docs_show_the_editor_line() -> None:
    assert "# yaml-language-server: $schema=" in (REPO / "docs" / "format.md").read_text()


# ---- standard input --------------------------------------------------------------------------
def test_a_scenario_read_from_stdin_runs_and_is_named_stdin(here: Path) -> None:
    seed = (FIXTURES / SEED).read_bytes()
    done = run_ftscen(["run", "-", "-q"], here, input=seed.decode())
    assert done.returncode == 0, done.stderr
    assert done.stdout == "PASS  <stdin> [kernel 5.3]: 9/9 assertions hold\n"
    bad = run_ftscen(["run", "-"], here, input="ftscen: 1\nfunctions: [{name: f}]\n")
    assert bad.returncode == 2
    assert bad.stderr.startswith("<stdin>:1:1: error: a scenario needs the key 'timeline'")
    checked = run_ftscen(["validate", "-"], here, input=seed.decode())
    assert (checked.returncode, checked.stdout) == (0, "<stdin>: valid\n")
    points = run_ftscen(["points", "-"], here, input=seed.decode())
    assert points.returncode == 0 and points.stdout.startswith("# kernel 5.3")


def test_stdin_has_no_place_for_a_golden(here: Path) -> None:
    done = run_ftscen(["run", "-", "--golden"], here, input="")
    assert done.returncode == 2
    assert "standard input has no place for one" in done.stderr


# ---- -K and -k -------------------------------------------------------------------------------
def test_kernel_short_form_is_capital_k_and_lowercase_k_is_deprecated(here: Path) -> None:
    (here / SEED).write_bytes((FIXTURES / SEED).read_bytes())
    capital = invoke(["run", SEED, "-K", "5.1", "-q"])
    old = invoke(["run", SEED, "-k", "5.1", "-q"])
    assert capital.exit_code == old.exit_code == 1
    assert capital.stdout == old.stdout
    assert "-k is deprecated" in old.stderr and capital.stderr == ""
    assert "-k" not in invoke(["run", "--help"]).stdout.replace("--kernel", "")
    both = invoke(["run", SEED, "-K", "5.1", "-k", "5.3"])
    assert both.exit_code == 2


# ---- completion ------------------------------------------------------------------------------
# Typer installs and shows completion for the shell ftscen runs under, found by walking the
# parent processes (shellingham): run under a bash that stays the parent, so the test does not
# depend on whatever started pytest.
def _under_bash(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ftscen", *args]
    return subprocess.run(
        ["bash", "-c", '"$@"; exit $?', "bash", *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_completion_script_installs_and_completes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(HOME=str(tmp_path), SHELL="/bin/bash")
    done = _under_bash(["--install-completion"], env)
    assert done.returncode == 0, done.stderr
    script = tmp_path / ".bash_completions" / "ftscen.sh"
    assert "complete -o default -F _ftscen_completion ftscen" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    # what the script asks ftscen when the user presses TAB after "ftscen r"
    asked = {
        **env,
        "_FTSCEN_COMPLETE": "complete_bash",
        "COMP_WORDS": "ftscen r",
        "COMP_CWORD": "1",
    }
    answer = subprocess.run(
        [sys.executable, "-m", "ftscen"], env=asked, capture_output=True, text=True, check=False
    )
    assert answer.stdout.split() == ["run"]


def test_show_completion_prints_the_script() -> None:
    shown = _under_bash(["--show-completion"], dict(os.environ))
    assert shown.returncode == 0, shown.stderr
    assert "complete -o default -F _ftscen_completion ftscen" in shown.stdout


# ---- the log header --------------------------------------------------------------------------
def test_the_header_shows_a_hostile_description_escaped(here: Path) -> None:
    text = (FIXTURES / "filter-notrace.yaml").read_text()
    hostile = 'description: "two\\nlines \\e[2J\\e]0;title\\a done"\n'
    lines = [hostile if t.startswith("description:") else t for t in text.splitlines(True)]
    (here / "h.yaml").write_text("".join(lines))
    result = invoke(["run", "h.yaml"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    header = result.stdout.splitlines()[:5]
    assert header[3:] == [
        "# description: two",
        "#   lines \\x1b[2J\\x1b]0;title\\x07 done",
    ]
