"""Every file in scenarios/invalid/ is refused with exactly the diagnostics beside it.

Paths are shown relative to the repository root, as a user running ``ftscen`` there sees
them. A file that loads (its mistake shows only when the steps run, as a ``during`` at a point
its step never passes) goes on through :func:`ftscen.app.pipeline.check_file`, as ``ftscen run`` takes
it. ``FTSCEN_UPDATE_EXPECTED=1`` rewrites the ``.expected`` files (never when ``CI`` is set).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import REPO, run_ftscen

from ftscen.app.pipeline import check_file
from ftscen.core.diagnostics import render_text
from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.model import LIMITS
from ftscen.load.scenario import load_scenario

CORPUS = REPO / "scenarios" / "invalid"
CASES = sorted(CORPUS.glob("*.yaml"))
UPDATE = bool(os.environ.get("FTSCEN_UPDATE_EXPECTED")) and not os.environ.get("CI")


def diagnostics(path: Path) -> list[Diagnostic]:
    shown = path.relative_to(REPO).as_posix()
    try:
        load_scenario(shown, path.read_bytes())
    except ScenarioInvalid as invalid:
        return invalid.diagnostics
    with pytest.raises(ScenarioInvalid) as caught:
        check_file(shown)
    return caught.value.diagnostics


def rendered(path: Path) -> str:
    return render_text(diagnostics(path))


#: The kinds of mistake users make most, each of which must have its file here.
KINDS = (
    "yaml-syntax",
    "duplicate-key",
    "non-string-key",
    "unsafe-tag",
    "alias-bomb",
    "empty",
    "binary",
    "not-utf8",
    "multiple-documents",
    "huge-number",
    "wrong-type",
    "unknown-key",
    "missing-keys",
    "unknown-function",
    "unknown-ops",
    "unknown-call-id",
    "duplicate-name",
    "duplicate-ops",
    "duplicate-id",
    "cpu-out-of-range",
    "two-actions",
    "unsupported-version",
    "too-many-functions",
    "too-many-ops",
    "too-many-steps",
    "bad-point",
    "unpassed-point",
)


def test_the_corpus_covers_each_kind_of_mistake() -> None:
    assert sorted(set(KINDS) - {p.stem for p in CASES}) == []


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_an_invalid_scenario_gives_its_expected_diagnostics(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # check_file reads the file by the path it shows
    expected = path.with_suffix(".expected")
    actual = rendered(path)
    if UPDATE:
        expected.write_text(actual, encoding="utf-8", newline="\n")
    assert actual == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_invalid_scenario_is_listed_in_the_readme(path: Path) -> None:
    assert f"`{path.name}`" in (CORPUS / "README.md").read_text(encoding="utf-8")


def test_every_expected_file_has_its_scenario() -> None:
    orphans = [p.name for p in CORPUS.glob("*.expected") if not p.with_suffix(".yaml").exists()]
    assert orphans == []


# ---- through the console script ------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"ftscen: 1\n" + b"# padding\n" * (LIMITS["file_bytes"] // 10))
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(big)
    (diag,) = caught.value.diagnostics
    assert (diag.line, diag.col, diag.path) == (0, 0, "$")
    assert diag.message.startswith(f"the file is {big.stat().st_size} bytes; the limit is ")
    done = run_ftscen(["run", "big.yaml"], tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("big.yaml: error: the file is ")
    assert "hint: a scenario is a short text file; split it" in done.stderr


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("name", ["wrong-type", "unpassed-point"])
def test_json_diagnostics_are_one_document_with_every_field(
    command: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    shown = f"scenarios/invalid/{name}.yaml"
    done = run_ftscen([command, "--format", "json", shown], REPO)
    assert done.returncode == 2, done.stderr
    errors = json.loads(done.stdout)["errors"]
    assert errors == [d.to_dict() for d in diagnostics(REPO / shown)]
    for error in errors:
        assert error["file"] == shown and error["line"] > 0 and error["col"] > 0
        assert error["path"].startswith("$.") and error["message"] and error["hint"]


def test_text_diagnostics_go_to_stderr_with_exit_2() -> None:
    shown = "scenarios/invalid/unknown-key.yaml"
    done = run_ftscen(["run", shown], REPO)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (CORPUS / "unknown-key.expected").read_text(encoding="utf-8")
