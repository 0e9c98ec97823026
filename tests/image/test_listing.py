"""``ftscen build --listing``: Capstone listing of the image, before and after the run."""

from __future__ import annotations

import subprocess
import sys

from support import FIXTURES, SEED, invoke

SEED_PATH = str(FIXTURES / SEED)


def listing(*args: str) -> list[str]:
    result = invoke(["build", SEED_PATH, "--listing", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_listing_shows_each_call_site_with_its_bytes_and_meaning_as_built():
    lines = listing()
    assert (
        lines[1] == "# the text as built, before the timeline runs (--after: as the run leaves it)"
    )
    assert "  do_IRQ          0x00110000  3e 8d 74 26 00  nop" in lines
    assert "  0x00110000  3e 8d 74 26 00        lea esi, ds:[esi]  ; <== call site: nop" in lines


def test_listing_marks_the_shared_trampolines_patch_sites_and_the_list_function():
    lines = listing()
    for label in (
        "ftrace_caller:",
        "ftrace_call:",
        "ftrace_regs_caller:",
        "ftrace_regs_call:",
        "ftrace_ops_list_func:",
        "do_IRQ:",
        "caller_cpu1:",
    ):
        assert label in lines, label
    assert (
        "livepatch.tramp: allocated at registration; its template, with "
        "livepatch.tramp_call still unset:"
    ) in lines
    call = lines[lines.index("ftrace_call:") + 1]
    assert call.startswith("  0x00100019  e8 0b 00 00 00        call 0x100029 <ftrace_stub>")
    assert call.endswith("; <== ftrace_call: what ftrace_caller calls (update_ftrace_func)")
    regs = lines[lines.index("ftrace_regs_call:") + 1]
    assert "<== ftrace_regs_call" in regs
    assert any("mov ecx, dword ptr [0x300008 <function_trace_op>]" in t for t in lines)


def test_after_runs_the_timeline_and_shows_the_patched_text():
    lines = listing("--after")
    assert lines[1] == "# the text after the timeline ran"
    assert "  do_IRQ          0x00110000  e8 25 00 ff ff  call ftrace_regs_caller" in lines
    call = lines[lines.index("ftrace_call:") + 1]
    assert "call 0x100081 <ftrace_ops_list_func>" in call
    tramp = lines[lines.index("livepatch.tramp_call:") + 1]
    # 5.3: an ops without RECURSION_SAFE is reached through the assist function
    assert "<ftrace_ops_assist_func>" in tramp


def test_other_kernel_versions_change_the_regs_frame():
    short = invoke(["build", SEED_PATH, "--listing", "--kernel", "5.1"]).stdout
    assert (
        "# image of seed-livepatch-tracer-window for kernel 5.1 (int3: skip, pt_regs: short"
        in short
    )
    assert "push ss" not in short.split("ftrace_regs_caller:")[1].split("ftrace_regs_call:")[0]


def test_capstone_is_imported_only_for_a_listing():
    code = (
        "import sys; from typer.testing import CliRunner; from ftscen.app.cli import app; "
        "r = CliRunner().invoke(app, ['build', sys.argv[1]] + sys.argv[2:]); "
        "print(r.exit_code, 'capstone' in sys.modules)"
    )
    plain = subprocess.run(
        [sys.executable, "-c", code, SEED_PATH], capture_output=True, text=True, check=True
    ).stdout.split()
    full = subprocess.run(
        [sys.executable, "-c", code, SEED_PATH, "--listing"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert plain == ["0", "False"] and full == ["0", "True"]
