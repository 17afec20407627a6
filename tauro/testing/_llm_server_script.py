"""What the LLM server emulator says and does: models, answers, faults, records.

Plain data and pure functions, shared by the Ollama and the OpenAI-compatible faces.
The default answer is deterministic ("Echo: <last user message>") so tests can
predict it; ``answer_tokens`` pads (or cuts) every answer to an exact token count
with filler words, which benchmarks use to control answer length. A "token" here is
a word with its leading whitespace, the unit in which answers are streamed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FaultKind",
    "LlmFault",
    "LlmRequest",
    "ModelInfo",
    "echo_answer",
    "fit_tokens",
    "tokenize",
]

FaultKind = Literal["error", "cut", "garbage", "hang", "error_line"]
FAULT_KINDS: frozenset[str] = frozenset({"error", "cut", "garbage", "hang", "error_line"})
_TOKEN = re.compile(r"\s*\S+|\s+")
_FILLER = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")


@dataclass(frozen=True)
class ModelInfo:
    """An installed model as ``/api/tags`` lists it."""

    name: str
    family: str = "llama"
    parameter_size: str = "3.2B"
    quantization_level: str = "Q4_K_M"
    size: int = 2_019_393_189

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()

    @classmethod
    def of(cls, model: ModelInfo | str) -> ModelInfo:
        if isinstance(model, ModelInfo):
            return model
        return cls(model if ":" in model else f"{model}:latest")


@dataclass(frozen=True)
class LlmRequest:
    """One chat request as received (``api`` is "ollama" or "openai")."""

    api: str
    model: str
    messages: tuple[Mapping[str, Any], ...]
    options: Mapping[str, Any]
    stream: bool
    time: float

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    def to_json(self) -> dict[str, Any]:
        doc = {"api": self.api, "model": self.model, "messages": list(self.messages)}
        return doc | {"options": dict(self.options), "stream": self.stream, "time": self.time}


@dataclass(frozen=True)
class LlmFault:
    """A scripted failure for the next ``times`` chat requests.

    - ``error``: HTTP ``status`` with the API's error body, before any token.
    - ``cut``: the connection closes after ``after_chunks`` chunks (no final line).
    - ``garbage``: a non-JSON line after ``after_chunks`` chunks, then the rest.
    - ``error_line``: an in-stream error object after ``after_chunks`` chunks, then end.
    - ``hang``: no answer at all (``after_chunks`` = 0) or a stall after that many.
    """

    kind: FaultKind
    after_chunks: int = 0
    status: int = 500
    message: str = "llama runner process has terminated: signal: killed"
    times: int = 1


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # OpenAI content parts
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping)]
        return "".join(str(p) for p in parts)
    return ""


def tokenize(text: str) -> list[str]:
    """Split an answer into streamed pieces: words with their leading whitespace."""
    return _TOKEN.findall(text)


def fit_tokens(tokens: list[str], count: int | None) -> list[str]:
    """Pad with filler words, or cut, to exactly ``count`` tokens (None: unchanged)."""
    if count is None:
        return tokens
    filler = (f" {_FILLER[i % len(_FILLER)]}" for i in range(max(count - len(tokens), 0)))
    return (tokens + list(filler))[:count]


def echo_answer(request: LlmRequest) -> str:
    """The default answer: predictable from the request alone."""
    return f"Echo: {request.last_user_text}"


@dataclass
class FaultQueue:
    """Faults waiting to be served, first in first out."""

    faults: list[LlmFault] = field(default_factory=list)
    served: int = 0

    def take(self) -> LlmFault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        if fault.times <= 1:
            self.faults.pop(0)
        else:
            self.faults[0] = LlmFault(
                fault.kind, fault.after_chunks, fault.status, fault.message, fault.times - 1
            )
        self.served += 1
        return fault
