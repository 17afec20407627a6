"""Specs: validation, the walk order, backoff arithmetic."""

from __future__ import annotations

import pytest

from tauro.runtime import ActorSpec, Backoff, SupervisorSpec
from tauro.runtime.testing import ProbeActor


def actor(name: str) -> ActorSpec:
    return ActorSpec(name=name, factory=ProbeActor)


def test_walk_is_depth_first_in_start_order() -> None:
    spec = SupervisorSpec(
        name="root",
        children=(
            actor("a"),
            SupervisorSpec(name="inner", children=(actor("b"), actor("c"))),
            actor("d"),
        ),
    )
    assert [s.name for s in spec.walk()] == ["root", "a", "inner", "b", "c", "d"]


def test_duplicate_names_anywhere_in_the_tree_are_refused() -> None:
    with pytest.raises(ValueError, match=r"duplicate names \['a'\]"):
        SupervisorSpec(
            name="root", children=(actor("a"), SupervisorSpec(name="inner", children=(actor("a"),)))
        )


@pytest.mark.parametrize("name", ["", "has space", "slash/y"])
def test_names_must_be_simple(name: str) -> None:
    with pytest.raises(ValueError, match="invalid actor or supervisor name"):
        actor(name)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mailbox_size", 0),
        ("ask_timeout", 0),
        ("stop_timeout", -1),
        ("cleanup_timeout", 0),
        ("grace_period", -1),
    ],
)
def test_actor_limits_must_be_positive(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ActorSpec(name="a", factory=ProbeActor, **{field: value})  # type: ignore[arg-type]


def test_backoff_doubles_from_the_initial_delay_up_to_the_maximum() -> None:
    spec = SupervisorSpec(name="s", children=(), backoff_initial=0.5, backoff_max=3)
    assert [spec.backoff(n) for n in range(6)] == [0, 0.5, 1, 2, 3, 3]
    assert spec.restart_backoff == Backoff(initial=0.5, maximum=3)


@pytest.mark.parametrize(("field", "value"), [("backoff_initial", -1), ("backoff_max", -0.5)])
def test_a_negative_backoff_is_refused_naming_the_supervisor(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=r"supervisor 's': backoff (initial|maximum) must be"):
        SupervisorSpec(name="s", children=(), **{field: value})  # type: ignore[arg-type]


def test_shutdown_budget_covers_every_child() -> None:
    spec = SupervisorSpec(
        name="s",
        children=(
            ActorSpec(
                name="a", factory=ProbeActor, grace_period=4, stop_timeout=2, cleanup_timeout=3
            ),
            ActorSpec(
                name="b", factory=ProbeActor, grace_period=0, stop_timeout=1, cleanup_timeout=1
            ),
        ),
    )
    assert spec.shutdown_budget == 4 + 2 + 3 + 0 + 1 + 1 + 1
