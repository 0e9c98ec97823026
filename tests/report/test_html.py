"""The HTML page without a browser: its structure, escaping, corpus form and the --html
option's errors (the browser tests are in test_html_browser.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from html_support import (
    HOSTILE_DESCRIPTION,
    HOSTILE_GLOB,
    HOSTILE_XFAIL,
    SEED,
    parse,
    write_hostile,
)
from support import FIXTURES, copy_fixture, invoke

from ftscen.app import session

pytest.importorskip("jinja2")


def _render(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    out = tmp_path / "report.html"
    result = invoke(["run", *args, "--html", str(out)])
    return result.exit_code, out.read_text(encoding="utf-8"), result.output


def test_a_single_file_page_has_lanes_sites_calls_and_assertions(tmp_path: Path):
    code, page, output = _render(tmp_path, str(SEED), "-q")
    assert code == 0, output
    dom = parse(page)
    (run,) = dom.find_all("section", class_="run")
    assert run.attrs["data-kernel"] == "5.3" and run.attrs["data-outcome"] == "PASS"
    lanes = [th.all_text() for th in run.find_all("th", class_="lane")]
    assert lanes[0] == "patcher" and lanes[1:] == [f"cpu{c}" for c in range(len(lanes) - 1)]
    sites = [th.all_text() for th in run.find_all("th", class_="site")]
    assert sites == ["f", "ftrace_call", "ftrace_regs_call"]
    calls = [c.attrs["data-call"] for c in run.find_all("div", class_="call")]
    assert calls == ["traced", "at_start", "window", "after"]
    window = run.find_all("div", data_call="window")[0]
    # callbacks nested in the call that made them, in the order they ran
    items = [li.all_text() for li in window.find_all("li")]
    assert items[0] == "int3 at f: emulate call ftrace_regs_caller"
    assert items[-1] == "ran f_v2"
    assert [i.split()[1] for i in items if i.startswith("callback")] == ["fixer", "tracer"]
    assert "failed" not in window.attrs["class"]
    assert len(run.find_all("li", class_="ok")) == 9
    assert not dom.find_all("script") and not dom.find_all("link")


def test_every_point_shows_every_site_and_the_protocol_phases(tmp_path: Path):
    _, page, _ = _render(tmp_path, str(SEED), "-q")
    run = parse(page).find_all("section", class_="run")[0]
    points = run.find_all("tr", class_="row-point")
    assert points and all(len(p.find_all("td", class_="site")) == 3 for p in points)
    phases = [
        next(c.attrs["class"].split()[1] for c in p.find_all("td", data_site="f"))
        for p in points
        if p.attrs["data-point"].startswith("sites.")
    ]
    # register tracer enables f (nop -> call), register fixer retargets it
    assert phases == ["phase-int3", "phase-tail", "phase-new"] * 2


def test_scenario_text_is_escaped_everywhere(tmp_path: Path):
    scenario = write_hostile(tmp_path)
    code, page, output = _render(tmp_path, str(scenario))
    assert code == 0, output
    for raw in ("<script", "<img", "<iframe", "<svg", "<b>"):
        assert raw not in page
    dom = parse(page)
    assert dom.find_all("p", class_="description")[0].all_text() == HOSTILE_DESCRIPTION
    assert HOSTILE_XFAIL in dom.find_all("p", class_="xfail")[0].all_text()
    assert HOSTILE_GLOB in page.replace("&lt;", "<").replace("&gt;", ">")
    assert scenario.name in dom.find_all("h2")[0].all_text()


def test_a_corpus_with_several_kernels_leads_with_the_kernel_table(tmp_path: Path):
    folder = tmp_path / "corpus"
    copy_fixture("i386-regs-caller-window.yaml", folder)
    copy_fixture("filter-notrace.yaml", folder)
    (folder / "broken.yaml").write_text("ftscen: 1\nfunctions: 3\n", encoding="utf-8")
    code, page, output = _render(tmp_path, str(folder), "--kernel", "5.1,5.3")
    assert code == 2, output  # the broken file
    dom = parse(page)
    table = dom.find_all("table", class_="kernels")[0]
    rows = {
        tr.find_all("td")[0].all_text(): [td.all_text() for td in tr.find_all("td")[1:]]
        for tr in table.find_all("tr")[1:]
    }
    name = (folder / "i386-regs-caller-window.yaml").as_posix()
    assert rows[name] == ["FAIL", "PASS"]
    assert rows[(folder / "filter-notrace.yaml").as_posix()] == ["PASS", "PASS"]
    assert rows[(folder / "broken.yaml").as_posix()] == ["invalid", "invalid"]
    assert len(dom.find_all("section", class_="run")) == 4
    problem = dom.find_all("pre", class_="problem")[0].all_text()
    assert "broken.yaml" in problem and "error" in problem
    # each table cell links to its run's section
    for a in table.find_all("a"):
        assert dom.find_all("section", id=a.attrs["href"][1:])


def test_an_existing_page_is_replaced_since_the_option_names_it(tmp_path: Path):
    out = tmp_path / "report.html"
    out.write_text("old", encoding="utf-8")
    result = invoke(["run", "-q", str(FIXTURES / "filter-notrace.yaml"), "--html", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("folder", "is a folder; name a file in it"),
        ("missing/report.html", "directory"),
        ("file.txt/report.html", "directory"),
    ],
)
def test_a_path_that_cannot_be_written_exits_4_before_running(
    tmp_path: Path, where: str, message: str
):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    target = tmp_path / where
    result = invoke(["run", str(FIXTURES / "filter-notrace.yaml"), "--html", str(target)])
    assert result.exit_code == 4
    assert "ftscen: error: --html:" in result.output and message in result.output
    assert "PASS" not in result.output  # refused before anything ran


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_exits_4(tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    result = invoke(["run", str(FIXTURES / "filter-notrace.yaml"), "--html", str(ro / "r.html")])
    assert result.exit_code == 4 and "not writable" in result.output


def test_a_write_the_os_refuses_at_the_end_exits_4(tmp_path: Path, monkeypatch):
    def refuse(path: Path, text: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ftscen.report.golden.write_atomic", refuse)
    target = tmp_path / "r.html"
    result = invoke(["run", "-q", str(FIXTURES / "filter-notrace.yaml"), "--html", str(target)])
    assert result.exit_code == 4
    assert "cannot write the HTML report" in result.output and "No space left" in result.output


def test_an_empty_name_is_a_usage_error(tmp_path: Path):
    result = invoke(["run", str(FIXTURES / "filter-notrace.yaml"), "--html", ""])
    assert result.exit_code == 2 and "--html needs a file name" in result.output


def test_the_option_reaches_the_session(monkeypatch: pytest.MonkeyPatch):
    seen: list[session.RunOptions] = []
    monkeypatch.setattr(session, "run_session", lambda opts, streams: seen.append(opts) or 0)
    assert invoke(["run", "a.yaml", "--html", "r.html"]).exit_code == 0
    assert seen[0].html == "r.html"


def test_a_per_ops_trampoline_column_follows_what_the_log_can_tell(tmp_path: Path):
    """Created without a patch: 'not allocated' until a site is about to call it, then
    'allocated', and the last row gives its callee from the run's result."""
    scenario = SEED.parent / "r4-per-ops-trampoline-single-owner.yaml"
    code, page, output = _render(tmp_path, str(scenario), "-q")
    assert code == 0, output
    run = parse(page).find_all("section", class_="run")[0]
    rows = [r for r in run.find_all("tr") if r.find_all("td", data_site="A.tramp_call")]
    texts = [r.find_all("td", data_site="A.tramp_call")[0].all_text() for r in rows]
    k = next(
        i for i, r in enumerate(rows) if "A.tramp" in r.find_all("td", data_site="f")[0].all_text()
    )
    assert rows[k].attrs["data-point"] == "sites.int3"
    assert set(texts[:k]) == {"not allocated"}
    assert texts[k].startswith("allocated")
    assert rows[-1].attrs["class"] == "row-end"
    last = rows[-1].find_all("td", data_site="A.tramp_call")[0]
    assert last.find_all("small")[0].all_text() == "call A.func"
    assert last.find_all("code")[0].all_text().startswith("e8 ")


def test_without_jinja2_the_option_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 -> ImportError
    result = invoke(["run", str(FIXTURES / "filter-notrace.yaml"), "--html", "r.html"])
    assert result.exit_code == 2
    assert "pip install 'ftscen[html]'" in result.output and "PASS" not in result.output
