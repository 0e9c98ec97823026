"""The pytest plugin: scenario files collected as items only when asked, failures readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import FIXTURES, SEED

from ftscen.app import pipeline as api
from ftscen.report import golden

REPO = Path(__file__).resolve().parents[2]

pytest_plugins = ["pytester"]


def put(pytester: pytest.Pytester, name: str, as_path: str | None = None) -> Path:
    target = pytester.path / (as_path or name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((FIXTURES / name).read_bytes())
    return target


@pytest.fixture
def corpus(pytester: pytest.Pytester) -> pytest.Pytester:
    put(pytester, SEED, f"scenarios/{SEED}")
    put(pytester, "failing-filter.yaml", "scenarios/failing-filter.yaml")
    (pytester.path / "scenarios" / "config.yaml").write_text("ftscen_like: 1\nkey: value\n")
    (pytester.path / "scenarios" / "invalid").mkdir()
    (pytester.path / "scenarios" / "invalid" / "broken.yaml").write_text("ftscen: 1\n")
    return pytester


def test_without_opt_in_no_yaml_is_collected(corpus: pytest.Pytester):
    result = corpus.runpytest("scenarios", "-p", "no:cacheprovider")
    result.assert_outcomes()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_ftscen_flag_collects_scenarios_as_items_and_reports_failed_verdicts(
    corpus: pytest.Pytester,
):
    result = corpus.runpytest("--ftscen", "scenarios", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "scenarios/failing-filter.yaml::failing-filter FAILED*",
            "scenarios/seed-livepatch-tracer-window.yaml::seed-livepatch-tracer-window PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "FAIL  scenarios/failing-filter.yaml [[]kernel 6.6[]]: 1/2 assertions hold",
            "  FAIL  scenarios/failing-filter.yaml:14:5: call outside: called [[]T[]]",
            "          expected: handlers [[]T[]]",
        ]
    )
    assert "Traceback" not in result.stdout.str() and "runtest" not in result.stdout.str()


def test_ini_option_ftscen_paths_opts_a_directory_in(corpus: pytest.Pytester):
    corpus.makeini("[pytest]\nftscen_paths = scenarios\n")
    result = corpus.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)


def test_an_invalid_directory_is_skipped_unless_pointed_at(corpus: pytest.Pytester):
    result = corpus.runpytest("--ftscen", "scenarios/invalid", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["invalid scenario:", "scenarios/invalid/broken.yaml:*"])


def test_kernel_option_makes_one_item_per_version_and_xfail_is_reported_as_xfailed(
    pytester: pytest.Pytester,
):
    put(pytester, "xfail-skip-window.yaml")
    result = pytester.runpytest(
        "--ftscen", "--ftscen-kernel", "5.1,5.3", "-v", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(xfailed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*xfail-skip-window.yaml::xfail-skip-window[[]5.1[]] XFAIL*",
            "*xfail-skip-window.yaml::xfail-skip-window[[]5.3[]] FAILED*",
        ]
    )
    result.stdout.fnmatch_lines(["XPASS  xfail-skip-window.yaml [[]kernel 5.3[]]*"])


def test_a_golden_beside_the_file_is_compared(pytester: pytest.Pytester):
    path = put(pytester, SEED)
    rep = api.check_file(path)[0]
    text = golden.render(rep).replace("  ran do_IRQ_v2\n", "  ran do_IRQ_v9\n", 1)
    (pytester.path / "seed-livepatch-tracer-window.golden").write_text(text)
    result = pytester.runpytest("--ftscen", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "golden seed-livepatch-tracer-window.golden: differs*",
            "-  ran do_IRQ_v9",
            "+  ran do_IRQ_v2",
        ]
    )


def test_items_run_under_xdist(corpus: pytest.Pytester):
    pytest.importorskip("xdist")
    result = corpus.runpytest_subprocess(
        "--ftscen", "scenarios", "-n", "2", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=1)


def test_empty_binary_and_utf16_yaml_files_are_failing_items_not_skipped(pytester: pytest.Pytester):
    folder = pytester.path / "scenarios"
    folder.mkdir()
    (folder / "empty.yaml").write_bytes(b"")
    (folder / "binary.yaml").write_bytes(b"\x7fELF\x00\x01\x02")
    (folder / "wide.yaml").write_bytes("ftscen: 1\nfunctions: [{name: f}]\n".encode("utf-16"))
    (folder / "other.yaml").write_text("not_a_scenario: 1\n")  # text without the key: not ours
    result = pytester.runpytest("--ftscen", "scenarios", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "scenarios/empty.yaml: error: the file is empty*",
            "scenarios/binary.yaml:1:5: error: this is a binary file*",
            "scenarios/wide.yaml: error: the file is UTF-16 (little-endian) text; ftscen reads UTF-8*",
        ]
    )


def test_kernel_all_makes_one_item_per_era_for_a_per_era_file(pytester: pytest.Pytester):
    text = (REPO / "scenarios" / "r11-direct-ops-recursion-faults.yaml").read_text()
    (pytester.path / "rec.yaml").write_text(text)
    result = pytester.runpytest(
        "--ftscen", "--ftscen-kernel", "all", "-v", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=6, xfailed=2)
    result.stdout.fnmatch_lines(
        ["*rec.yaml::rec[[]5.10[]] PASSED*", "*rec.yaml::rec[[]5.11[]] XFAIL*"]
    )


def test_kernel_all_runs_a_file_without_per_era_keys_at_its_own_kernel(pytester: pytest.Pytester):
    put(pytester, "xfail-skip-window.yaml")
    result = pytester.runpytest(
        "--ftscen", "--ftscen-kernel", "all", "-v", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["*xfail-skip-window[[]5.1[]] XFAIL*"])
