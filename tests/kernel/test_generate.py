"""``crosscheck --generate``: valid, sequential scenarios, the same ones for the same seed."""

from __future__ import annotations

from ftscen.core.model import Call
from ftscen.kernel.generate import generate


def test_the_same_seed_draws_the_same_scenarios_and_another_seed_others() -> None:
    first = [text for _, _, text in generate(15, seed=3)]
    assert first == [text for _, _, text in generate(15, seed=3)]
    assert first != [text for _, _, text in generate(15, seed=4)]


def test_generated_scenarios_are_sequential_and_cover_every_kind_of_step() -> None:
    drawn = generate(60, seed=1)
    assert len(drawn) == 60
    kinds = set()
    for _, sc, _ in drawn:
        assert sc.kernel.version == "6.1"
        for step in sc.timeline:
            assert not step.during
            assert not isinstance(step.action, Call) or step.action.cpu is None
            kinds.add(type(step.action).__name__)
    assert kinds == {"Call", "Register", "Unregister", "SetFilter", "SetNotrace", "Sysctl"}
    assert any(o.redirect for _, sc, _ in drawn for o in sc.ops)
    assert any(o.calls for _, sc, _ in drawn for o in sc.ops)
