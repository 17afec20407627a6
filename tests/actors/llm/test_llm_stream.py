"""AnswerStream on a hand-fed channel: ordering, the end, the error, closing."""

from __future__ import annotations

import pytest
import trio

from tauro.actors.llm import AnswerStream, GenerationResult
from tauro.actors.llm._stream import GenerationState
from tauro.errors import LLMResponseError


def make() -> tuple[trio.MemorySendChannel[str], GenerationState, AnswerStream]:
    send, receive = trio.open_memory_channel[str](10)
    state = GenerationState()
    return send, state, AnswerStream(receive, state, "m")


def finish(state: GenerationState, send: trio.MemorySendChannel[str], **fields: object) -> None:
    values: dict[str, object] = {"text": "ab", "complete": True, "error": None, "model": "m"}
    values.update(fields)
    state.result = GenerationResult(**values)  # type: ignore[arg-type]
    send.close()


async def test_pieces_then_the_end() -> None:
    send, state, stream = make()
    send.send_nowait("a")
    send.send_nowait("b")
    finish(state, send)
    assert [piece async for piece in stream] == ["a", "b"]
    assert stream.text == "ab"
    assert stream.finished
    assert stream.result.complete


async def test_the_error_comes_after_the_pieces_and_only_once() -> None:
    send, state, stream = make()
    error = LLMResponseError("cut", user_message="cut off")
    send.send_nowait("a")
    finish(state, send, text="a", complete=False, error=error)
    assert await stream.__anext__() == "a"
    with pytest.raises(LLMResponseError) as caught:
        await stream.__anext__()
    assert caught.value is error
    assert caught.value.__context__ is None  # not chained to trio.EndOfChannel
    assert [piece async for piece in stream] == []  # a second loop just ends


async def test_result_before_the_end_is_a_usage_error() -> None:
    _, _, stream = make()
    with pytest.raises(RuntimeError, match="still streaming"):
        _ = stream.result


async def test_aclose_cancels_the_generation_and_leaves_a_result() -> None:
    send, state, stream = make()
    send.send_nowait("a")
    assert await stream.__anext__() == "a"
    await stream.aclose()
    assert state.cancel_scope.cancel_called
    assert state.closed_by_caller
    assert stream.result == GenerationResult(text="a", complete=False, error=None, model="m")
    assert [piece async for piece in stream] == []
    with pytest.raises(trio.BrokenResourceError):
        send.send_nowait("late")


async def test_aclose_after_the_end_cancels_nothing() -> None:
    send, state, stream = make()
    finish(state, send)
    async with stream:
        pass
    assert not state.cancel_scope.cancel_called
    assert stream.result.complete


async def test_next_batch_takes_everything_waiting_and_ends_with_the_error() -> None:
    send, state, stream = make()
    for piece in "abc":
        send.send_nowait(piece)
    error = LLMResponseError("x", user_message="y")
    finish(state, send, text="abc", complete=False, error=error)
    assert await stream.next_batch() == "abc"
    with pytest.raises(LLMResponseError):
        await stream.next_batch()
    assert await stream.next_batch() is None


async def test_collect_never_raises() -> None:
    send, state, stream = make()
    error = LLMResponseError("x", user_message="y")
    finish(state, send, text="", complete=False, error=error)
    result = await stream.collect()
    assert result.error is error
