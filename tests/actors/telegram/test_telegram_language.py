"""Which language a chat gets, and the whole bot speaking it end to end: the real
python-telegram-bot client against the Bot API emulator, the real LLMActor against
the Ollama emulator, the real MemoryActor on a file (see test_telegram_actor)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_telegram_actor import BOT, running_bot

from tauro.actors.telegram._incoming import Incoming
from tauro.actors.telegram._language import chat_language, sender_language
from tauro.config import AccessSettings, LanguageSettings, Settings, VoiceSettings

ITALIAN = Settings()  # BOT_LANGUAGE=it, TTS_LANGUAGE empty
PRIVATE = Incoming(1, chat_id=42, user_id=42, text="ciao", language_code="de-AT")
GROUP = dataclasses.replace(PRIVATE, chat_id=-100, chat_type="supergroup")


def test_a_private_chat_follows_the_senders_app() -> None:
    assert chat_language({}, PRIVATE, ITALIAN).text == "de"
    assert chat_language({}, PRIVATE, ITALIAN).voice == "de-at"
    unknown = dataclasses.replace(PRIVATE, language_code="ru")
    assert chat_language({}, unknown, ITALIAN).text == "it"
    assert chat_language({}, dataclasses.replace(PRIVATE, language_code=""), ITALIAN).text == "it"


def test_the_chats_choice_wins_and_a_group_has_only_its_own() -> None:
    assert chat_language({"lang": "pt-br"}, PRIVATE, ITALIAN) == _lang("pt", "pt-br")
    assert chat_language({}, GROUP, ITALIAN).text == "it"  # not the sender's German
    assert chat_language({"lang": "fr"}, GROUP, ITALIAN).text == "fr"
    # A voice-only choice made before languages existed keeps its voice.
    assert chat_language({"lang": "ru"}, PRIVATE, ITALIAN) == _lang("de", "ru")


def test_a_fixed_tts_language_speaks_for_everyone() -> None:
    fixed = Settings(voice=VoiceSettings(language="en-gb"), language=LanguageSettings(default="es"))
    assert chat_language({"lang": "it"}, PRIVATE, fixed) == _lang("it", "en-gb")
    assert sender_language(dataclasses.replace(PRIVATE, language_code="ru"), fixed) == "es"


def _lang(text: str, voice: str) -> object:
    from tauro.actors.telegram._language import ChatLanguage

    return ChatLanguage(text, voice)


# End to end ---------------------------------------------------------------------------


async def test_an_italian_user_sees_italian(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        for text in ("/start", "/help", "ciao", "/stats", "/voice", "/clear", "/stats"):
            bot.emu.push_message(42, text, language_code="it", first_name="Ada")
        texts = await bot.wait_texts(42, 7)
        assert texts[0].startswith("🐂 Ciao Ada! Sono TauroBot")
        assert "/clear - dimentica la nostra conversazione" in texts[0]
        assert texts[1].startswith("🐂 Mandami un messaggio di testo")
        assert texts[2] == "Echo: ciao"
        assert texts[3] == "📊 2 messaggi in questa chat"
        assert texts[4] == "Le risposte vocali sono disattivate su questo bot (ENABLE_TTS)."
        assert texts[5].startswith("✅ Fatto: ho dimenticato la nostra conversazione.")
        assert texts[6] == "📊 0 messaggi in questa chat"
        # The model was asked with the persona in Italian: TauroBot 3.0's own prompt.
        system = bot.llm.requests[-1].to_json()["messages"][0]
        assert system == {"role": "system", "content": ITALIAN.llm.system_prompt}
        bot.emu.push_sticker(42, language_code="it")
        assert "non ho potuto guardare questo (uno sticker)" in (await bot.wait_texts(42, 8))[7]


async def test_llm_errors_in_italian(tmp_path: Path) -> None:
    async with running_bot(tmp_path, llm={"model": "nothere"}) as bot:
        bot.emu.push_message(42, "ciao", language_code="it")
        (missing,) = await bot.wait_texts(42, 1)
        # Sent as Markdown: the command shows as code.
        assert missing == "⚠️ Il modello 'nothere' non è installato: esegui ollama pull nothere"
    async with running_bot(tmp_path, llm={"host": "http://127.0.0.1:9"}) as bot:
        bot.emu.push_message(42, "ciao", language_code="it")
        (down,) = await bot.wait_texts(42, 1)
        assert down == (
            "⚠️ Il server LLM a http://127.0.0.1:9 non è raggiungibile; riprova più tardi"
        )


async def test_rate_limit_and_refusal_in_the_senders_language(tmp_path: Path) -> None:
    access = AccessSettings(rate_limit_messages=1, rate_limit_window=60.0)
    async with running_bot(tmp_path, access=access) as bot:
        bot.emu.push_message(42, "uno", language_code="it")
        bot.emu.push_message(42, "due", language_code="it")
        texts = await bot.wait_texts(42, 2)
        assert texts[1].startswith(
            "Scrivi più velocemente di quanto io riesca a rispondere "
            "(al massimo 1 messaggio ogni 60 secondi). Aspetta circa"
        )
    private = AccessSettings(allowed_user_ids=frozenset({1}))
    async with running_bot(tmp_path, access=private) as bot:
        bot.emu.push_message(77, "hallo", language_code="de")
        (refusal,) = await bot.wait_texts(77, 1)
        assert refusal.startswith("Tut mir leid, das ist ein privater Bot")
        assert "Deine Telegram-Benutzer-ID ist 77." in refusal


async def test_lang_switches_and_survives_a_restart(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        bot.emu.push_message(42, "/lang", language_code="it")
        assert (await bot.wait_texts(42, 1))[0].startswith("Con te parlo Italiano.")
        bot.emu.push_message(42, "/lang en", language_code="it")
        assert (await bot.wait_texts(42, 2))[1].startswith("I speak English with you.")
        bot.emu.push_message(42, "/stats", language_code="it")
        assert (await bot.wait_texts(42, 3))[2] == "📊 0 messages in this chat"
    async with running_bot(tmp_path) as bot:
        bot.emu.push_message(42, "/stats", language_code="it")
        assert (await bot.wait_texts(42, 1))[0] == "📊 0 messages in this chat"
        bot.emu.push_message(42, "hi", language_code="it")
        await bot.wait_texts(42, 2)
        system = bot.llm.requests[-1].to_json()["messages"][0]["content"]
        assert system.startswith("You are TauroBot, a friendly and helpful assistant.")


async def test_german_austria_unknown_and_missing_codes(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        bot.emu.push_message(1, "/stats", language_code="de-AT")
        bot.emu.push_message(2, "/stats", language_code="tlh")
        bot.emu.push_message(3, "/stats", language_code=None)
        assert (await bot.wait_texts(1, 1)) == ["📊 0 Nachrichten in diesem Chat"]
        assert (await bot.wait_texts(2, 1)) == ["📊 0 messaggi in questa chat"]  # BOT_LANGUAGE
        assert (await bot.wait_texts(3, 1)) == ["📊 0 messaggi in questa chat"]


async def test_bot_language_is_the_operators_default(tmp_path: Path) -> None:
    async with running_bot(tmp_path, language=LanguageSettings(default="fr")) as bot:
        bot.emu.push_message(2, "/stats", language_code="tlh")
        assert (await bot.wait_texts(2, 1)) == ["📊 0 message dans ce chat"]


async def test_a_group_has_its_own_language(tmp_path: Path) -> None:
    access = AccessSettings(admin_user_ids=frozenset({7}))
    async with running_bot(tmp_path, access=access) as bot:
        bot.emu.push_message(
            -100,
            f"/stats@{BOT}",
            user_id=5,
            language_code="de",
            chat_type="supergroup",
            chat_title="Amici",
        )
        assert (await bot.wait_texts(-100, 1)) == ["📊 0 messaggi in questa chat"]
        bot.emu.push_message(
            -100,
            f"/lang@{BOT} es",
            user_id=5,
            language_code="de",
            chat_type="supergroup",
            chat_title="Amici",
        )
        assert "(ADMIN_USER_IDS)" in (await bot.wait_texts(-100, 2))[1]
        bot.emu.push_message(
            -100,
            f"/lang@{BOT} es",
            user_id=7,
            language_code="it",
            chat_type="supergroup",
            chat_title="Amici",
        )
        assert (await bot.wait_texts(-100, 3))[2].startswith("Contigo hablo Español.")
        bot.emu.push_message(
            -100,
            f"/stats@{BOT}",
            user_id=5,
            language_code="de",
            chat_type="supergroup",
            chat_title="Amici",
        )
        assert (await bot.wait_texts(-100, 4))[3] == "📊 0 mensajes en este chat"
        # The sender's own private chat keeps the sender's language.
        bot.emu.push_message(5, "/stats", language_code="de")
        assert (await bot.wait_texts(5, 1)) == ["📊 0 Nachrichten in diesem Chat"]
