"""The HTML page in a real headless Chromium (Debian's ``chromium`` package, driven by
Playwright pointed at that binary; nothing here downloads a browser).

Without the browser or Playwright these tests skip, saying why; in CI (``CI=true``) they
fail instead, so a missing install step cannot pass for a green run. Screenshots go to
``$FTSCEN_ARTIFACTS`` when set, else to the test's temporary folder; the path is printed.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from html_support import HOSTILE_DESCRIPTION, HOSTILE_GLOB, SEED, write_hostile
from support import run_ftscen

from ftscen.app import pipeline as api
from ftscen.image.build import build_image

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")


def _chromium() -> str | None:
    found = shutil.which("chromium")
    return found or next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must run the browser tests: .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    exe = _chromium()
    if exe is None:
        _unavailable("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FTSCEN_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(browser: Any, page_file: Path) -> Any:
    """The page, offline: any request other than the file itself fails the test."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(page_file.as_uri())
    assert asked == [page_file.as_uri()], f"the page asked for more than itself: {asked}"
    return page


def _call_at(sc_path: Path, version: str, site: str, target: str) -> bytes:
    """``call target`` encoded at ``site`` by hand, from the image's symbol table."""
    sc = api.load(sc_path)
    (profile,) = api.profiles(sc, [version])
    sym = build_image(sc, profile).symbols
    ip = sym.addr(site)
    return bytes([0xE8]) + struct.pack("<i", sym.addr(target) - (ip + 5))


def test_seed_under_two_kernels_in_chromium(browser: Any, tmp_path: Path):
    out = tmp_path / "seed.html"
    proc = run_ftscen(["run", str(SEED), "--kernel", "5.1,5.3", "--html", str(out)], tmp_path)
    assert proc.returncode == 1, proc.stderr  # 5.1 fails the window, by design
    page = _open(browser, out)
    # the kernel table: 5.1 failed, 5.3 passed, each a link to its run
    table = page.locator("#kernels")
    assert table.locator('td[data-kernel="5.1"]').inner_text() == "FAIL"
    assert table.locator('td[data-kernel="5.3"]').inner_text() == "PASS"
    for version in ("5.1", "5.3"):
        run = page.locator(f'section.run[data-kernel="{version}"]')
        (profile,) = api.profiles(api.load(SEED), [version])
        lanes = run.locator("th.lane").all_inner_texts()
        assert lanes == ["patcher"] + [f"cpu{c}" for c in range(profile.cpus)]
        assert run.locator('td.lane[data-lane="cpu1"] .call').count() == 4
        assert run.locator('td.lane[data-lane="patcher"] .call').count() == 0
    run51 = page.locator('section.run[data-kernel="5.1"]')
    # step 2 moves f from ftrace_caller to ftrace_regs_caller: at sites.int3 f holds CC and
    # the tail of the old call, at sites.tail CC and the tail of the new one
    old = _call_at(SEED, "5.1", "f", "ftrace_caller")
    new = _call_at(SEED, "5.1", "f", "ftrace_regs_caller")
    row = run51.locator('tr[data-point="sites.int3"][data-step="2"]')
    cell = row.locator('td.site[data-site="f"] code')
    assert cell.inner_text().replace(" ", "") == "cc" + old[1:].hex()
    tail = run51.locator('tr[data-point="sites.tail"][data-step="2"] td.site[data-site="f"] code')
    assert tail.inner_text().replace(" ", "") == "cc" + new[1:].hex()
    # the failing window is highlighted and linked to its two failed assertions
    window = run51.locator('.call[data-call="window"]')
    assert "failed" in (window.get_attribute("class") or "").split()
    assert window.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(198, 40, 40)"
    links = window.locator("a.verdict-link")
    assert links.count() == 2
    href = links.first.get_attribute("href") or ""
    assert "window" in page.locator(href).inner_text()
    assert "FAIL" in page.locator(href).inner_text()
    ok_window = page.locator('section.run[data-kernel="5.3"] .call[data-call="window"]')
    assert "failed" not in (ok_window.get_attribute("class") or "").split()
    shot = _artifacts(tmp_path) / "seed-5.1-5.3.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000


def test_hostile_scenario_text_stays_text_in_chromium(browser: Any, tmp_path: Path):
    scenario = write_hostile(tmp_path)
    out = tmp_path / "hostile.html"
    proc = run_ftscen(["run", scenario.name, "--html", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr  # XFAIL
    page = _open(browser, out)
    count = "t => document.querySelectorAll(t).length"
    counts = page.evaluate(f"() => ['script', 'img', 'iframe', 'svg', 'b'].map({count})")
    assert counts == [0, 0, 0, 0, 0]
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.locator(".description").inner_text() == HOSTILE_DESCRIPTION
    assert HOSTILE_GLOB in page.locator('tr.row-step[data-step="1"]').inner_text()
    assert scenario.name in page.locator("section.file h2").inner_text()
    shot = _artifacts(tmp_path) / "hostile.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
