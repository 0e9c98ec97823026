from __future__ import annotations

import pytest

from ftscen.core.model import Kernel
from ftscen.core.profile import parse_version, profile_for


@pytest.mark.parametrize(
    "version, dyn, int3, frame",
    [
        ("3.5", False, "skip", "short"),
        ("4.19", False, "skip", "short"),
        ("5.1", True, "skip", "short"),
        ("5.2", False, "skip", "short"),
        ("5.2", True, "emulate-call", "short"),
        ("5.3", False, "emulate-call", "full"),
        ("5.4.10", False, "emulate-call", "full"),
        ("5.5", False, "emulate-new", "full"),
        ("6.6-rc1", False, "emulate-new", "full"),
    ],
)
def test_era_defaults_follow_the_format_table(version, dyn, int3, frame):
    p = profile_for(Kernel(version, dyn))
    assert (p.int3, p.frame) == (int3, frame)


def test_int3_override_wins_over_the_era():
    assert profile_for(Kernel("5.1", int3="emulate-new")).int3 == "emulate-new"


def test_command_line_version_overrides_the_file():
    p = profile_for(Kernel("5.3"), "5.1")
    assert (p.version, p.int3) == ("5.1", "skip")


def test_text_poke_and_recursion_transition_switch_on_by_release():
    assert not profile_for(Kernel("5.4")).text_poke and profile_for(Kernel("5.5")).text_poke
    assert not profile_for(Kernel("5.9")).recursion_transition
    assert profile_for(Kernel("5.10")).recursion_transition


@pytest.mark.parametrize("text", ["5", "five", "5.x", "", "5.3.1.2"])
def test_parse_version_rejects_non_versions(text):
    assert parse_version(text) is None
