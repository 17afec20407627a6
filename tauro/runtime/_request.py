"""Request: a message that names the type of its reply, so ``ask`` is typed."""

from __future__ import annotations

from typing import Generic, TypeVar

ReplyT = TypeVar("ReplyT", covariant=True)  # what the actor replies to a Request


class Request(Generic[ReplyT]):
    """The base of a message that is asked; ``ActorRef.ask`` returns its ``ReplyT``.

    A message class says what its actor replies (``class GetModel(Request[str])``),
    so the type checker knows the reply at every call site and callers need no
    ``isinstance`` checks. The base holds no data and no slots (a slotted frozen
    dataclass stays one), and the runtime does not check replies: the actor's
    handler keeps the promise, and its tests check it.
    """

    __slots__ = ()
