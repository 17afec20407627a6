"""Request: a message that names the type of its reply, so ``ask`` is typed.

The ``assert_type`` lines are checked by mypy on the tests (the CI runs it); at
run time the tests check that the runtime delivers requests like any message.
"""

from __future__ import annotations

import dataclasses
from typing import assert_type

import pytest

from tauro.runtime import Actor, ActorSpec, Request, SupervisorSpec, open_actor_system
from tauro.runtime.testing import ProbeActor


@dataclasses.dataclass(frozen=True, slots=True)
class Double(Request[int]):
    number: int


class Doubler(Actor[Double]):
    async def handle(self, message: Double) -> object:
        return message.number * 2


def system_of(*actors: ActorSpec) -> SupervisorSpec:
    return SupervisorSpec(name="root", children=actors)


async def test_the_reply_to_a_request_has_the_type_it_names() -> None:
    async with open_actor_system(system_of(ActorSpec(name="d", factory=Doubler))) as system:
        reply = await system.ref("d").ask(Double(21))
        assert_type(reply, int)
        assert reply == 42


async def test_the_reply_to_any_other_message_is_an_object_to_check() -> None:
    probe = ProbeActor(reply=lambda m: f"got {m}")
    async with open_actor_system(system_of(ActorSpec(name="p", factory=lambda: probe))) as system:
        reply = await system.ref("p").ask("x")
        assert_type(reply, object)
        assert reply == "got x"


def test_a_request_dataclass_stays_slotted_and_frozen() -> None:
    double = Double(1)
    assert not hasattr(double, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        double.number = 2  # type: ignore[misc]


def test_a_request_is_covariant_in_its_reply() -> None:
    wide: Request[object] = Double(1)  # an int reply is an object reply
    assert isinstance(wide, Request)
