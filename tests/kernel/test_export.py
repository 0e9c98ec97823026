"""``ftscen export-module``: the files, what of the scenario they hold, and never overwriting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import REPO, invoke, write_file

HOSTILE = """ftscen: 1
description: "*/ system(\\"x\\"); /*\\n$(reboot)\\n`reboot`"
kernel: {version: "6.1"}
functions:
  - name: f
  - name: g
    notrace: true
ops:
  - name: t
    flags: [SAVE_REGS, IPMODIFY]
    filter: ['f*']
    redirect: {f: g}
timeline:
  - register: t
  - set_filter: {ops: t, filter: ['`reboot`*', "f\\\\\\"", '??=', '*/x/*', "f"]}
  - {call: f, id: a}
"""


def test_the_module_holds_one_traced_function_per_scenario_function_and_one_ops(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    result = invoke(["export-module", str(REPO / "scenarios/r13-livepatch-ops-redirects.yaml"),
                     "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    c = (out / "ftscen_mod.c").read_text()
    assert "static noinline void fs0_cmdline_proc_show(void)" in c
    assert "static noinline void fs0_livepatch_cmdline_proc_show(void)" in c
    flags = "FTRACE_OPS_FL_DYNAMIC | FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_PERMANENT | " \
        "FTRACE_OPS_FL_SAVE_REGS"  # fmt: skip
    assert flags in c
    assert "ftrace_instruction_pointer_set(" in c
    assert (out / "Kbuild").read_text() == "obj-m := ftscen_mod.o\n"
    steps = (out / "steps.sh").read_text().splitlines()
    assert "step 0 1  # register klp" in steps and "step 0 6  # sysctl ftrace_enabled=0" in steps


def test_hostile_text_reaches_the_files_only_escaped(tmp_path: Path) -> None:
    sc = write_file(tmp_path, "h.yaml", HOSTILE)
    out = tmp_path / "out"
    result = invoke(["export-module", str(sc), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = "".join(p.read_text() for p in out.iterdir())
    for raw in ("system(", "$(reboot)", "`reboot`", "??=", "*/x/*"):
        assert raw not in text
    assert r'"fs0_\140reboot\140*"' in text  # the glob is there, escaped
    assert "static noinline notrace void fs0_g(void)" in text
    # every comment the C file has is one of the generator's own
    for comment in re.findall(r"/\*.*?\*/", text, re.DOTALL):
        assert "reboot" not in comment and "system" not in comment


def test_a_non_empty_directory_is_refused_unless_forced(tmp_path: Path) -> None:
    sc = REPO / "scenarios/filter-notrace.yaml"
    out = tmp_path / "out"
    out.mkdir()
    mine = write_file(out, "ftscen_mod.c", "my edits\n")
    result = invoke(["export-module", str(sc), "-o", str(out)])
    assert result.exit_code == 2
    assert "not empty" in result.output and "--force" in result.output
    assert mine.read_text() == "my edits\n"
    result = invoke(["export-module", str(sc), "-o", str(out), "--force"])
    assert result.exit_code == 0
    assert mine.read_text() != "my edits\n"


def test_an_invalid_scenario_gets_located_diagnostics_and_no_files(tmp_path: Path) -> None:
    sc = write_file(tmp_path, "bad.yaml", "ftscen: 1\nfunctions: [{name: 'a b'}]\ntimeline: []\n")
    result = invoke(["export-module", str(sc), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "bad.yaml:2:" in result.output
    assert not (tmp_path / "out").exists()


def test_an_empty_filter_is_the_prefix_glob_except_for_an_ipmodify_ops(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sc = REPO / "scenarios/r13-livepatch-ops-redirects.yaml"
    assert invoke(["export-module", str(sc), "-o", str(out)]).exit_code == 0
    c = (out / "ftscen_mod.c").read_text()
    # the unit's "every function" glob, and klp (ops 0) marked IPMODIFY, tracer (ops 1) not
    assert 'static struct ftscen_unit fsk0_unit = { fsk0_tab, 3, "fs0_*" };' in c
    assert re.findall(r"\.ipmodify = (\d)", c) == ["1", "0"]


def test_missing_tools_are_one_message_naming_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ftscen.kernel import boot

    monkeypatch.setattr(boot, "_first", lambda candidates: None)
    monkeypatch.setattr(boot.shutil, "which", lambda name: None)
    monkeypatch.setattr(boot, "_busybox", lambda: None)
    result = invoke(["crosscheck", str(REPO / "scenarios/filter-notrace.yaml")])
    assert result.exit_code == 2
    message = result.output.strip()
    assert message.count("\n") == 0
    for name in ("linux-headers-6.1.0-56-amd64", "qemu-system-x86", "busybox-static"):
        assert name in message
    assert "apt-get install" in message and "dpkg-deb -x" in message
