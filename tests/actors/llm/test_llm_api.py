"""The public names of tauro.actors.llm, and that they come from where they say."""

from __future__ import annotations

import tauro.actors.llm as llm

PUBLIC = {
    "AnswerStream",
    "ChatEnd",
    "ChatMessage",
    "ChatRequest",
    "ServerInfo",
    "Generate",
    "GenerationResult",
    "GetLLMStats",
    "GetModel",
    "LLMActor",
    "LLMCheck",
    "LLMMessage",
    "LLMService",
    "LLMStatistics",
    "LatencyHistogram",
    "LatencyStatistics",
    "ListModels",
    "OllamaProvider",
    "OpenAIProvider",
    "Provider",
    "SetModel",
    "check_llm",
    "make_provider",
    "resolve_model",
}


def test_exported_names() -> None:
    exported = {name for name in dir(llm) if not name.startswith("_")}
    assert exported - {"testing", "annotations"} == PUBLIC
