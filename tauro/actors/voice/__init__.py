"""Voice answers: text -> speech (pyttsx3 on espeak-ng) -> an OGG/Opus voice note.

Layering: ``VoiceActor`` (``_actor``) plans on the event loop and keeps the
books; the slow work runs in TTS_WORKERS worker processes (``_workers`` on
the bot's side, ``_worker_main`` inside each worker), each owning one engine
(``_engine``) on one thread and encoding with libsndfile (``_encode``). Text
preparation (``_speechtext``), the cache (``_cache``) and the files
(``_store``) are plain modules. The bot's own process never loads espeak-ng
or libsndfile.

Usage::

    spec = ActorSpec(name="voice", factory=lambda: VoiceActor(settings.voice))
    note = await system.ref("voice").ask(Synthesize(answer, "it"))   # VoiceError on failure
    try:
        with note.open() as audio:                 # stream it, never read it whole
            await bot.send_voice(chat_id, audio, duration=note.duration)
    finally:
        note.discard()

``check_voice(settings.voice)`` reports for ``tauro check`` (see docs/voice.md).
"""

from tauro.actors.voice._actor import VoiceActor as VoiceActor
from tauro.actors.voice._check import VoiceCheck as VoiceCheck
from tauro.actors.voice._check import check_voice as check_voice
from tauro.actors.voice._engine import VoiceChoice as VoiceChoice
from tauro.actors.voice._engine import VoiceInfo as VoiceInfo
from tauro.actors.voice._messages import ChooseVoice as ChooseVoice
from tauro.actors.voice._messages import GetVoiceStatistics as GetVoiceStatistics
from tauro.actors.voice._messages import Synthesize as Synthesize
from tauro.actors.voice._messages import VoiceMessage as VoiceMessage
from tauro.actors.voice._messages import VoiceNote as VoiceNote
from tauro.actors.voice._messages import VoiceStatistics as VoiceStatistics

__all__ = [
    "ChooseVoice",
    "GetVoiceStatistics",
    "Synthesize",
    "VoiceActor",
    "VoiceCheck",
    "VoiceChoice",
    "VoiceInfo",
    "VoiceMessage",
    "VoiceNote",
    "VoiceStatistics",
    "check_voice",
]
