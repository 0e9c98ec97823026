"""Filter globs follow kernel/trace/ftrace.c (filter_parse_regex, ftrace_match) and
lib/glob.c (glob_match)."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftscen.core.globs import MatchType, apply_globs, glob_match, glob_matches, parse_glob

NAMES = ("sched_a", "sched_b", "Sched", "schedule", "__migrate_task", "do_IRQ", "lock_c", "ab")


def selected(glob: str) -> list[str]:
    return [name for name in NAMES if glob_matches(glob, name)]


@pytest.mark.parametrize(
    "glob, kind, search",
    [
        ("do_IRQ", MatchType.FULL, "do_IRQ"),
        ("sched_*", MatchType.FRONT_ONLY, "sched_"),
        ("*_task", MatchType.END_ONLY, "_task"),
        ("*mig*", MatchType.MIDDLE_ONLY, "mig"),
        ("a*b", MatchType.GLOB, "a*b"),
        ("[Ss]ched", MatchType.GLOB, "[Ss]ched"),
        ("?ched", MatchType.GLOB, "?ched"),
        ("!sched_*", MatchType.FRONT_ONLY, "sched_"),
        ("3", MatchType.INDEX, "3"),
    ],
)
def test_globs_are_classified_like_filter_parse_regex(
    glob: str, kind: MatchType, search: str
) -> None:
    assert parse_glob(glob)[:2] == (kind, search)


def test_a_plain_name_matches_only_itself() -> None:
    assert selected("sched_a") == ["sched_a"]


def test_a_trailing_star_matches_the_front() -> None:
    assert selected("sched_*") == ["sched_a", "sched_b"]


def test_a_leading_star_matches_the_end() -> None:
    assert selected("*_task") == ["__migrate_task"]


def test_stars_on_both_sides_match_the_middle() -> None:
    assert selected("*mig*") == ["__migrate_task"]


def test_a_star_inside_is_a_full_glob() -> None:
    assert glob_matches("a*b", "ab") and glob_matches("a*b", "axxb")
    assert not glob_matches("a*b", "axxbc")


def test_a_character_class_matches_one_of_its_characters() -> None:
    assert selected("[Ss]ched") == ["Sched"]
    assert selected("[Ss]ched*") == ["sched_a", "sched_b", "Sched", "schedule"]


def test_an_inverted_class_and_a_range() -> None:
    assert glob_matches("[!a]x", "bx") and not glob_matches("[!a]x", "ax")
    assert glob_matches("[a-c]x", "bx") and not glob_matches("[a-c]x", "dx")


def test_a_question_mark_matches_exactly_one_character() -> None:
    assert selected("?ched") == ["Sched"]
    assert not glob_matches("?ched", "ched")


def test_a_malformed_class_is_a_literal_bracket() -> None:
    assert glob_match("[ab", "[ab") and not glob_match("[ab", "a")


def test_a_backslash_escapes_a_wildcard() -> None:
    assert glob_match("a\\*b", "a*b") and not glob_match("a\\*b", "axb")


def test_a_lone_star_matches_everything() -> None:
    assert selected("*") == list(NAMES)


def test_an_index_glob_matches_no_name() -> None:
    assert selected("1") == []


def test_globs_add_to_the_hash_in_order() -> None:
    hash_, unmatched = apply_globs(frozenset(), ["sched_*", "lock_c"], NAMES, reset=True)
    assert hash_ == {"sched_a", "sched_b", "lock_c"} and unmatched is None


def test_a_leading_bang_removes_matching_functions() -> None:
    hash_, unmatched = apply_globs(
        frozenset({"sched_a", "sched_b"}), ["!sched_a"], NAMES, reset=False
    )
    assert hash_ == {"sched_b"} and unmatched is None


def test_reset_replaces_and_no_reset_adds() -> None:
    start = frozenset({"lock_c"})
    assert apply_globs(start, ["sched_a"], NAMES, reset=True)[0] == {"sched_a"}
    assert apply_globs(start, ["sched_a"], NAMES, reset=False)[0] == {"sched_a", "lock_c"}


def test_an_empty_list_with_reset_clears_the_hash() -> None:
    assert apply_globs(frozenset({"lock_c"}), [], NAMES, reset=True) == (frozenset(), None)


def test_the_first_glob_that_matches_nothing_is_returned() -> None:
    hash_, unmatched = apply_globs(frozenset(), ["sched_a", "do_irq", "nope*"], NAMES, True)
    assert hash_ == {"sched_a"} and unmatched == "do_irq"


def test_a_removal_that_matches_no_function_is_a_miss_too() -> None:
    assert apply_globs(frozenset(), ["!nope"], NAMES, reset=True)[1] == "!nope"


@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab", max_size=6))
def test_star_and_question_mark_agree_with_fnmatch(pattern: str, name: str) -> None:
    assert glob_match(pattern, name) == fnmatch.fnmatchcase(name, pattern)


@given(st.text(alphabet="ab*?", max_size=6), st.text(alphabet="ab", min_size=1, max_size=6))
def test_every_glob_form_agrees_with_a_full_glob(pattern: str, name: str) -> None:
    if pattern and not pattern.startswith("!"):
        assert glob_matches(pattern, name) == fnmatch.fnmatchcase(name, pattern)
