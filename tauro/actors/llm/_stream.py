"""The caller's side of one generation: text deltas in order, then a result.

The generation runs in the LLM actor's task context and feeds a bounded trio
memory channel; this object is the receiving end. A consumer that falls
behind fills the channel and so pauses the generation (backpressure), and a
consumer that closes the stream cancels the generation and frees its slot.
"""

from __future__ import annotations

from types import TracebackType
from typing import NoReturn

import trio

from tauro.actors.llm._messages import GenerationResult
from tauro.errors import LLMError


class GenerationState:
    """What the generation task and the stream share.

    Invariant: the task sets ``result`` before it closes its end of the
    channel, so a consumer that saw the end of the stream always finds it.
    """

    def __init__(self) -> None:
        self.cancel_scope = trio.CancelScope()
        self.result: GenerationResult | None = None
        self.closed_by_caller = False


class AnswerStream:
    """Iterate with ``async for delta in stream`` (``str`` pieces), then read ``result``.

    When the answer failed, iteration first yields every piece that arrived,
    then raises the ``LLMError`` (also in ``result.error``), once. Use it as
    ``async with stream:`` so that leaving early (an exception, a cancelled
    turn) closes it and cancels the generation.
    """

    def __init__(
        self, receive: trio.MemoryReceiveChannel[str], state: GenerationState, model: str
    ) -> None:
        self._receive = receive
        self._state = state
        self._model = model
        self._parts: list[str] = []
        self._closed = False
        self._raised = False

    @property
    def model(self) -> str:
        """The model answering this request."""
        return self._model

    @property
    def text(self) -> str:
        """Everything this stream has delivered so far."""
        return "".join(self._parts)

    @property
    def finished(self) -> bool:
        """True once the generation ended and ``result`` is final."""
        return self._state.result is not None

    @property
    def result(self) -> GenerationResult:
        """How the generation ended; available once iteration stopped or after aclose."""
        if self._state.result is not None:
            return self._state.result
        if self._closed:
            return GenerationResult(text=self.text, complete=False, error=None, model=self._model)
        raise RuntimeError("the answer is still streaming: iterate the stream to its end first")

    def __aiter__(self) -> AnswerStream:
        return self

    async def __anext__(self) -> str:
        if self._closed:
            raise StopAsyncIteration
        try:
            delta: str | None = await self._receive.receive()
        except trio.EndOfChannel:
            delta = None
        if delta is None:
            self._end()
        self._parts.append(delta)
        return delta

    def _end(self) -> NoReturn:
        """Raise the generation's error the first time the end is reached."""
        result = self._state.result
        if result is not None and result.error is not None and not self._raised:
            self._raised = True
            raise result.error
        raise StopAsyncIteration

    async def next_batch(self) -> str | None:
        """Wait for the next delta, then add every delta already waiting; None at the end.

        Lets a consumer that does slow work per step (a Telegram edit) catch
        up in one step instead of one step per token.
        """
        try:
            pieces = [await self.__anext__()]
        except StopAsyncIteration:
            return None
        while True:
            try:
                piece = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break  # the end (and its error) comes with the next call
            self._parts.append(piece)
            pieces.append(piece)
        return "".join(pieces)

    async def collect(self) -> GenerationResult:
        """Read the whole answer and return the result; never raises ``LLMError``."""
        async with self:
            try:
                async for _ in self:
                    pass
            except LLMError:
                pass  # it is result.error
        return self.result

    async def aclose(self) -> None:
        """Stop reading; a generation still running is cancelled."""
        if self._closed:
            return
        self._closed = True
        if self._state.result is None:
            self._state.closed_by_caller = True
            self._state.cancel_scope.cancel()
        await self._receive.aclose()

    async def __aenter__(self) -> AnswerStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
