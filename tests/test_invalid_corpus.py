"""Every file in scenarios/invalid/ is refused with exactly the diagnostics beside it.

Paths are shown relative to the repository root, as a user running ``ftscen`` there sees
them. ``FTSCEN_UPDATE_EXPECTED=1`` rewrites the ``.expected`` files (never when ``CI`` is set).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ftscen.diagnostics import render_text
from ftscen.errors import ScenarioInvalid
from ftscen.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "scenarios" / "invalid"
CASES = sorted(CORPUS.glob("*.yaml"))
UPDATE = bool(os.environ.get("FTSCEN_UPDATE_EXPECTED")) and not os.environ.get("CI")


def rendered(path: Path) -> str:
    shown = path.relative_to(REPO).as_posix()
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(shown, path.read_bytes())
    return render_text(caught.value.diagnostics)


def test_the_corpus_covers_each_kind_of_mistake() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_an_invalid_scenario_gives_its_expected_diagnostics(path: Path) -> None:
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
