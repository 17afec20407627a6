"""The conversation turn: the one flow every channel uses to answer a message.

Telegram (``tauro.actors.telegram``) and the web app call ``run_turn`` with a
``TurnSink`` of their own; the turn talks to the memory, LLM and voice actors
and never to a channel's API. Layering: ``conversation`` imports
``tauro.actors.{memory,llm,voice}`` message types and ``tauro.errors``; the
channels import ``conversation``; nothing here imports a channel.

Usage from a channel::

    refs = TurnRefs(memory=ctx.ref("memory"), llm=ctx.ref("llm"),
                    voice=ctx.ref("voice"), context_messages=10, voice_language="it")

    class MySink:                                  # satisfies TurnSink
        async def thinking(self) -> None: ...      # show "typing"
        async def partial(self, text_so_far: str) -> None: ...  # throttle yourself
        async def final(self, text: str) -> None: ...           # complete answer
        async def failed(self, user_message: str) -> None: ...  # safe to show
        async def voice_pending(self) -> None: ...              # "recording" until next
        async def voice(self, note: VoiceNote) -> None: ...     # stream it; turn discards
        async def voice_failed(self, user_message: str) -> None: ...  # a short note

    outcome = await run_turn(refs, "web:42", "ciao", MySink())
    # outcome.status: "answered" | "failed" | "skipped" (update already answered)

The text always goes first; voice comes after it and its failure never fails
the turn (the user gets ``voice_failed`` with ``NO_VOICE``).

Language: the channel fills ``TurnRefs.language`` (the reader's language),
``voice_language`` (the reader's language, or TTS_LANGUAGE when the operator
fixed it) and ``system_prompt`` (``persona_prompt``: the built-in persona in the
reader's language). Texts the turn hands to the sink (``NO_VOICE``, an
``LLMError``'s ``user_message``) are English message ids or
``tauro.i18n.LazyText``: the sink translates them. The length-limit notice
after a final answer is part of its text, so the turn writes it in
``TurnRefs.language`` itself.

Durability: the turn's first request, memory's ``BeginTurn``, records the user
message unless its ``update_id`` is stored already (``answered`` -> skipped,
``recorded`` -> not recorded again) and returns the context; the turn calls
``on_recorded()`` once the user message is durable, so a channel with
redelivery (Telegram's getUpdates offset) confirms only what is safe.
"""

from tauro.conversation._persona import PERSONA as PERSONA
from tauro.conversation._persona import persona_prompt as persona_prompt
from tauro.conversation._sink import Asker as Asker
from tauro.conversation._sink import TurnSink as TurnSink
from tauro.conversation._translated import TranslatedSink as TranslatedSink
from tauro.conversation._turn import NO_VOICE as NO_VOICE
from tauro.conversation._turn import TurnOutcome as TurnOutcome
from tauro.conversation._turn import TurnRefs as TurnRefs
from tauro.conversation._turn import TurnStatus as TurnStatus
from tauro.conversation._turn import run_turn as run_turn
