"""The LLM subsystem: streamed answers from a local language model server.

Layers, outside in: ``LLMActor`` (messages) -> ``LLMService`` (slots,
timeouts, retries, statistics) -> a ``Provider`` (one server API: Ollama's
``/api/chat`` or the OpenAI-compatible ``/v1/chat/completions``) -> httpx.
Only ``tauro.errors.LLMError`` subclasses come out; each has a
``user_message`` safe to show in a chat.

Protocol of ``LLMActor`` (asks; frozen dataclasses in ``_messages.py``):

- ``Generate(messages, model=None, conversation=None)`` -> ``AnswerStream``,
  at once: the generation runs as a task of the actor.
- ``ListModels()`` -> ``tuple[str, ...]``; ``GetModel()`` -> ``str``.
- ``SetModel(model)`` -> the installed name, or ``ModelNotFoundError`` (the
  caller checks that the user is an admin).
- ``GetLLMStats()`` -> ``LLMStatistics`` (counters, p50/p95/p99 latencies).

Streaming API for callers (the conversation turn)::

    stream = await llm.ask(Generate((ChatMessage("user", "ciao"),)))
    async with stream:                  # leaving early cancels the generation
        try:
            async for delta in stream:  # str pieces, in order
                show(delta)
        except LLMError as error:       # after the pieces that did arrive
            warn(error.user_message)
    result = stream.result              # GenerationResult: text, complete, error,
                                        # time_to_first_token, duration, tokens...

A failure before or after the first token ends the iteration by raising the
``LLMError`` once, after every piece that arrived; ``result`` describes it too
(``text`` keeps what arrived, ``complete`` is False, ``error`` is the same
exception). ``await stream.collect()`` reads everything and returns the result
without raising. ``await stream.next_batch()`` returns all pieces already
waiting at once (None at the end), for consumers with slow steps.

The generation waits for one of LLM_MAX_PARALLEL slots, so the first
``async for`` step is where a caller waits when the server is busy; the
stream's channel is bounded (256 pieces), so a consumer that stops reading
pauses the generation. When ``messages`` does not start with a system
message, LLM_SYSTEM_PROMPT is put first; choosing the last
LLM_CONTEXT_MESSAGES stored messages is the caller's job.
"""

from tauro.actors.llm._actor import LLMActor as LLMActor
from tauro.actors.llm._check import LLMCheck as LLMCheck
from tauro.actors.llm._check import check_llm as check_llm
from tauro.actors.llm._messages import ChatMessage as ChatMessage
from tauro.actors.llm._messages import Generate as Generate
from tauro.actors.llm._messages import GenerationResult as GenerationResult
from tauro.actors.llm._messages import GetLLMStats as GetLLMStats
from tauro.actors.llm._messages import GetModel as GetModel
from tauro.actors.llm._messages import LatencyHistogram as LatencyHistogram
from tauro.actors.llm._messages import LatencyStatistics as LatencyStatistics
from tauro.actors.llm._messages import ListModels as ListModels
from tauro.actors.llm._messages import LLMMessage as LLMMessage
from tauro.actors.llm._messages import LLMStatistics as LLMStatistics
from tauro.actors.llm._messages import SetModel as SetModel
from tauro.actors.llm._ollama import OllamaProvider as OllamaProvider
from tauro.actors.llm._openai import OpenAIProvider as OpenAIProvider
from tauro.actors.llm._provider import ChatEnd as ChatEnd
from tauro.actors.llm._provider import ChatRequest as ChatRequest
from tauro.actors.llm._provider import Provider as Provider
from tauro.actors.llm._provider import ServerInfo as ServerInfo
from tauro.actors.llm._provider import resolve_model as resolve_model
from tauro.actors.llm._service import LLMService as LLMService
from tauro.actors.llm._service import make_provider as make_provider
from tauro.actors.llm._stream import AnswerStream as AnswerStream
