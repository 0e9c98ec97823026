"""Golden files: keying, canonical form, compare / diff / stale / missing, atomic update, CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import SEED, copy_fixture, invoke, run_ftscen

from ftscen import __version__
from ftscen.app import pipeline as api
from ftscen.report import golden
from ftscen.report.golden import GoldenStatus


@pytest.fixture
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture
def seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    copy_fixture(SEED, tmp_path)
    return Path(SEED)


def report(path: Path, version: str | None = None) -> api.ScenarioReport:
    return api.check_file(path, [version] if version else None)[0]


def test_golden_of_the_files_own_kernel_is_name_golden_and_other_versions_are_keyed():
    assert golden.golden_path("dir/x.yaml", "5.3", "5.3") == Path("dir/x.golden")
    assert golden.golden_path("dir/x.yaml", "5.1", "5.3") == Path("dir/x@5.1.golden")
    assert golden.golden_path("x.yml", "6.6", "6.6") == Path("x.golden")


def test_golden_text_has_version_and_hash_header_then_the_canonical_log(seed: Path):
    rep = report(seed)
    text = golden.render(rep)
    lines = text.splitlines()
    assert lines[1] == f"# ftscen-version: {__version__}"
    assert lines[2] == f"# scenario-sha256: {rep.result.scenario.source_sha256}"
    assert lines[3] == "# scenario: seed-livepatch-tracer-window"
    assert lines[4].startswith("# kernel: 5.3 (int3: emulate-call")
    assert "      int3 at do_IRQ: emulate call ftrace_regs_caller" in lines
    assert lines[-1] == "outcome: PASS (9/9 assertions hold)"
    assert str(seed.resolve()) not in text and "/tmp" not in text  # no absolute paths


def test_parse_separates_meta_header_from_compared_body(seed: Path):
    rep = report(seed)
    parsed = golden.parse(golden.render(rep).replace("\n", "\r\n"))
    assert parsed.version == __version__
    assert parsed.sha256 == rep.result.scenario.source_sha256
    assert list(parsed.body) == golden.body_lines(rep)


def test_compare_reports_missing_match_and_differs_with_a_unified_diff(seed: Path):
    rep = report(seed)
    path = Path("seed-livepatch-tracer-window.golden")
    assert golden.compare(rep, path).status is GoldenStatus.MISSING
    path.write_text(golden.render(rep))
    assert golden.compare(rep, path).status is GoldenStatus.MATCH
    path.write_text(golden.render(rep).replace("  ran do_IRQ_v2\n", "  ran do_IRQ\n", 1))
    check = golden.compare(rep, path)
    assert check.status is GoldenStatus.DIFFERS and not check.ok
    assert "-  ran do_IRQ" in check.diff and "+  ran do_IRQ_v2" in check.diff
    assert check.diff[0] == f"--- {path.as_posix()}"


def test_a_different_ftscen_version_in_the_header_is_not_a_difference(seed: Path):
    rep = report(seed)
    path = Path("seed-livepatch-tracer-window.golden")
    path.write_text(golden.render(rep).replace(f"version: {__version__}", "version: 0.0.1"))
    assert golden.compare(rep, path).status is GoldenStatus.MATCH


def test_golden_of_an_edited_scenario_is_stale_even_when_the_log_is_the_same(seed: Path):
    path = Path("seed-livepatch-tracer-window.golden")
    path.write_text(golden.render(report(seed)))
    seed.write_text(seed.read_text() + "# a comment changes the hash, not the log\n")
    check = golden.compare(report(seed), path)
    assert check.status is GoldenStatus.STALE and check.stale and not check.ok


def test_update_writes_atomically_and_leaves_a_matching_golden_untouched(seed: Path):
    rep = report(seed)
    path = Path("seed-livepatch-tracer-window.golden")
    assert golden.update(rep, path).status is GoldenStatus.WRITTEN
    assert path.read_text() == golden.render(rep)
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before - 10**9, before - 10**9))
    assert golden.update(rep, path).status is GoldenStatus.UNCHANGED
    assert path.stat().st_mtime_ns == before - 10**9
    assert [p.name for p in Path(".").iterdir() if p.name.endswith(".tmp")] == []


def test_write_atomic_replaces_the_file_and_keeps_its_permissions(tmp_path: Path):
    target = tmp_path / "x.golden"
    target.write_text("old\n")
    target.chmod(0o640)
    golden.write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.golden"]


@pytest.mark.parametrize(
    "value,refused", [("true", True), ("1", True), ("", False), ("false", False), ("0", False)]
)
def test_ci_refusal_follows_the_ci_variable(value: str, refused: bool):
    assert (golden.ci_refusal({"CI": value}) is not None) is refused
    assert golden.ci_refusal({}) is None


# ---- through the command --------------------------------------------------------------------
def test_run_golden_missing_exits_1_and_says_how_to_create_it(seed: Path, no_ci: None):
    result = invoke(["run", str(seed), "--golden"])
    assert result.exit_code == 1
    assert (
        "golden seed-livepatch-tracer-window.golden: missing (create it with: "
        "ftscen run seed-livepatch-tracer-window.yaml --update-golden)"
    ) in result.stdout


def test_update_then_compare_passes_and_a_changed_log_shows_a_diff(seed: Path, no_ci: None):
    first = invoke(["run", str(seed), "--update-golden", "-q"])
    assert first.exit_code == 0, first.output
    assert "golden seed-livepatch-tracer-window.golden: written" in first.stdout
    assert invoke(["run", str(seed), "--golden", "-q"]).exit_code == 0
    path = Path("seed-livepatch-tracer-window.golden")
    path.write_text(path.read_text().replace("ran do_IRQ_v2", "ran do_IRQ_v3"))
    result = invoke(["run", str(seed), "--golden", "-q"])
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert "golden seed-livepatch-tracer-window.golden: differs from this run" in out
    assert "+++ seed-livepatch-tracer-window.golden (this run)" in out
    assert "-  ran do_IRQ_v3" in out and "+  ran do_IRQ_v2" in out


def test_stale_golden_exits_1_with_the_update_hint(seed: Path, no_ci: None):
    assert invoke(["run", str(seed), "--update-golden", "-q"]).exit_code == 0
    seed.write_text(seed.read_text() + "# edited\n")
    result = invoke(["run", str(seed), "--golden", "-q"])
    assert result.exit_code == 1
    assert (
        "golden seed-livepatch-tracer-window.golden: stale: seed-livepatch-tracer-window.yaml"
        " changed since this golden was written"
    ) in result.stdout
    assert "ftscen run seed-livepatch-tracer-window.yaml --update-golden" in result.stdout


def test_other_kernel_versions_get_their_own_golden(seed: Path, no_ci: None):
    result = invoke(["run", str(seed), "--kernel", "5.1,5.3", "--update-golden", "-q"])
    assert result.exit_code == 1  # 5.1 fails its assertions; the goldens are still written
    assert sorted(p.name for p in Path(".").glob("*.golden")) == [
        "seed-livepatch-tracer-window.golden",
        "seed-livepatch-tracer-window@5.1.golden",
    ]
    assert "outcome: FAIL (5/9" in Path("seed-livepatch-tracer-window@5.1.golden").read_text()
    again = invoke(["run", str(seed), "--kernel", "5.3", "--golden", "-q"])
    assert again.exit_code == 0


def test_update_golden_is_refused_when_ci_is_set(seed: Path, tmp_path: Path):
    proc = run_ftscen(["run", str(seed), "--update-golden"], tmp_path, {"CI": "true"})
    assert proc.returncode == 2
    assert "--update-golden refuses to run when CI is set" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*.golden"))


def test_a_byte_order_mark_before_a_golden_is_ignored_like_crlf(seed: Path):
    rep = report(seed)
    path = seed.with_suffix(".golden")
    text = golden.render(rep)
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert golden.compare(rep, path).status is GoldenStatus.MATCH


def test_a_golden_over_the_limit_is_not_read_and_says_how_to_rewrite_it(seed: Path):
    rep = report(seed)
    path = seed.with_suffix(".golden")
    with path.open("wb") as out:
        out.truncate(golden.GOLDEN_LIMIT + 1)
    check = golden.compare(rep, path)
    assert check.status is GoldenStatus.UNREADABLE and not check.diff
    [line] = golden.describe(check, "x.yaml", None)
    assert line == (
        f"golden {path.as_posix()}: cannot be read (the golden file is over the "
        f"limit of {golden.GOLDEN_LIMIT} bytes; a golden is a short text file; "
        "check it is the right file); to write it anew: ftscen run x.yaml "
        "--update-golden"
    )
