"""``tauro check`` for the LLM: reach the server, list its models, find ours.

Runs without the actor system, with a client of its own, so that an operator
can test a configuration before starting the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import httpx
import trio

from tauro.actors.llm._context import ContextBudget
from tauro.actors.llm._http import make_client
from tauro.actors.llm._parallel import ParallelLimit
from tauro.actors.llm._provider import resolve_model
from tauro.actors.llm._service import (
    LIST_MODELS_TIMEOUT,
    apply_server_info,
    list_models,
    make_provider,
)
from tauro.config import LLMSettings
from tauro.errors import LLMError, LLMUnreachableError


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCheck:
    """What ``check_llm`` found; ``ok`` means the bot can answer with this setup."""

    provider: str
    base_url: str
    model: str
    reachable: bool
    models: tuple[str, ...] = ()
    installed_as: str | None = None  # the model's installed name, None if missing
    error: str | None = None
    max_parallel: int = 1  # the limit in use at start, and where it came from
    parallel_source: str = ""
    context_window: int = 0
    context_source: str = ""
    tokenizer: str = "estimate"

    @property
    def ok(self) -> bool:
        return self.reachable and self.error is None and self.installed_as is not None

    def lines(self) -> list[str]:
        """Human-readable lines for the ``tauro check`` report."""
        where = f"LLM server ({self.provider}) at {self.base_url}"
        if not self.reachable or self.error is not None:
            return [f"FAIL {where}: {self.error}"]
        lines = [f"ok   {where}: {len(self.models)} models: {', '.join(self.models) or 'none'}"]
        if self.installed_as is None:
            hint = f"run `ollama pull {self.model}`" if self.provider == "ollama" else "load it"
            lines.append(f"FAIL model {self.model!r} (OLLAMA_MODEL) is not installed: {hint}")
        else:
            lines.append(f"ok   model {self.model!r} is installed as {self.installed_as!r}")
        lines.append(f"ok   answers at once: {self.max_parallel} ({self.parallel_source})")
        lines.append(
            f"ok   context window: {self.context_window} tokens ({self.context_source}); "
            f"token counts: {self.tokenizer}"
        )
        return lines


async def check_llm(
    settings: LLMSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> LLMCheck:
    """Reach the server and say whether OLLAMA_MODEL is installed; never raises LLMError."""
    async with make_client(settings, transport) as client:
        provider = make_provider(settings, client)
        found = LLMCheck(
            provider=provider.name,
            base_url=provider.base_url,
            model=settings.model,
            reachable=True,
        )
        try:
            models = await list_models(provider)
        except LLMError as exc:
            reachable = not isinstance(exc, LLMUnreachableError)
            return replace(found, reachable=reachable, error=str(exc))
        parallel, context = ParallelLimit(settings.max_parallel), ContextBudget(settings, provider)
        with trio.move_on_after(LIST_MODELS_TIMEOUT):
            apply_server_info(await provider.server_info(), parallel, context)
        return replace(
            found,
            models=models,
            installed_as=resolve_model(settings.model, models),
            max_parallel=parallel.value,
            parallel_source=_parallel_source(parallel),
            context_window=context.window,
            context_source=context.source,
            tokenizer=context.tokenizer,
        )


def _parallel_source(parallel: ParallelLimit) -> str:
    if parallel.adaptive:
        return "LLM_MAX_PARALLEL=auto: the server does not say, so the bot starts at 1 and adapts"
    return parallel.source
