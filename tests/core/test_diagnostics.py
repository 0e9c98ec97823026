"""Diagnostics render as text for people and JSON for programs, deterministically."""

from __future__ import annotations

import json

from ftscen.core.diagnostics import did_you_mean, render_json, render_text, sort_diagnostics
from ftscen.core.errors import Diagnostic

UNKNOWN = Diagnostic(
    "s.yaml",
    14,
    15,
    "unknown function 'do_irq' (did you mean 'do_IRQ'?)",
    "$.ops[0].filter[1]",
    "define it under `functions:`",
    "    filter: [f, do_irq]",
)
EMPTY = Diagnostic("e.yaml", 0, 0, "the file is empty", hint="add something")


def test_text_shows_the_header_the_source_line_a_caret_and_the_hint() -> None:
    assert render_text([UNKNOWN]) == (
        "s.yaml:14:15: error: unknown function 'do_irq' (did you mean 'do_IRQ'?) "
        "[at $.ops[0].filter[1]]\n"
        "  14 |     filter: [f, do_irq]\n"
        "     |               ^\n"
        "  hint: define it under `functions:`\n"
        "\n"
        "1 error\n"
    )


def test_a_file_level_problem_has_no_line_or_caret() -> None:
    assert render_text([EMPTY]) == (
        "e.yaml: error: the file is empty [at $]\n  hint: add something\n\n1 error\n"
    )


def test_the_caret_follows_tabs_in_the_source() -> None:
    tabbed = Diagnostic("t.yaml", 1, 3, "m", source_line="\t\tx")
    assert render_text([tabbed]).splitlines()[2] == "    | \t\t^"


def test_the_count_is_plural_for_several_errors() -> None:
    assert render_text([UNKNOWN, EMPTY]).endswith("\n\n2 errors\n")


def test_json_holds_every_diagnostic_and_is_deterministic() -> None:
    text = render_json([UNKNOWN, EMPTY])
    assert text == render_json([UNKNOWN, EMPTY])
    errors = json.loads(text)["errors"]
    assert [e["line"] for e in errors] == [14, 0]
    assert errors[0]["path"] == "$.ops[0].filter[1]" and errors[0]["hint"]


def test_diagnostics_sort_best_first_without_duplicates() -> None:
    assert sort_diagnostics([UNKNOWN, EMPTY, UNKNOWN]) == [EMPTY, UNKNOWN]


def test_did_you_mean_ignores_case_and_stays_quiet_when_nothing_is_close() -> None:
    assert did_you_mean("do_irq", ["do_IRQ", "schedule"]) == "do_IRQ"
    assert did_you_mean("xyz", ["do_IRQ", "schedule"]) is None


def test_a_long_source_line_is_cut_to_a_window_around_the_column() -> None:
    source = "description: " + "x" * 1000 + "!" + "y" * 1000
    diag = Diagnostic("l.yaml", 3, 1014, "m", "$.description", None, source)
    shown, caret = render_text([diag]).splitlines()[1:3]
    assert shown.startswith("  3 | ...xxx") and shown.endswith("yyy...")
    assert len(shown) < 200
    assert caret.index("^") == shown.index("!")


def test_an_overlong_name_is_shown_clipped_with_its_length() -> None:
    name = "f" * 1_000_000
    diag = Diagnostic(
        "x.yaml",
        5,
        11,
        f"unknown function '{name}'",
        "$.timeline[0].call",
        hint=f"define it (defined: {name})",
    )
    text = render_text([diag])
    assert len(text) < 600
    clipped = f"{'f' * 60}...{'f' * 20} (1000000 characters)"
    assert f"unknown function '{clipped}' [at $.timeline[0].call]" in text
    assert f"hint: define it (defined: {clipped})" in text
    assert json.loads(render_json([diag]))["errors"][0]["message"] == (
        f"unknown function '{clipped}'"
    )


def test_names_up_to_the_limit_are_shown_whole() -> None:
    name = "g" * 120
    diag = Diagnostic("x.yaml", 1, 1, f"unknown function '{name}'")
    assert f"'{name}'" in diag.header()
