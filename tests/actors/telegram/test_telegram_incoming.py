from __future__ import annotations

from typing import Any

import telegram

from tauro.actors.telegram._incoming import BotIdentity, from_update, strip_mention

BOT = BotIdentity(user_id=999, username="tauro_bot", name="TauroBot")


def update(message: dict[str, Any], update_id: int = 7) -> telegram.Update:
    base = {"message_id": 3, "date": 0, "from": {"id": 5, "is_bot": False, "first_name": "Ada"}}
    return telegram.Update.de_json({"update_id": update_id, "message": base | message}, None)


PRIVATE = {"id": 5, "type": "private", "first_name": "Ada"}
GROUP = {"id": -100, "type": "supergroup", "title": "Friends"}


def test_private_text() -> None:
    incoming = from_update(update({"chat": PRIVATE, "text": "ciao"}), BOT)
    assert incoming.update_id == 7
    assert incoming.chat_id == 5
    assert incoming.user_id == 5
    assert incoming.user_name == "Ada"
    assert incoming.text == "ciao"
    assert incoming.addressed
    assert not incoming.is_group
    assert incoming.conversation == "5"


def test_group_message_is_addressed_only_by_mention_or_reply() -> None:
    plain = from_update(update({"chat": GROUP, "text": "hello all"}), BOT)
    assert not plain.addressed
    text = "hey @Tauro_Bot how are you"
    mention = {"type": "mention", "offset": 4, "length": 10}
    mentioned = from_update(update({"chat": GROUP, "text": text, "entities": [mention]}), BOT)
    assert mentioned.addressed
    assert mentioned.text == "hey how are you"
    assert mentioned.conversation == "-100"
    bot_message = {"message_id": 1, "date": 0, "chat": GROUP, "text": "earlier answer",
                   "from": {"id": 999, "is_bot": True, "first_name": "TauroBot"}}  # fmt: skip
    reply = update({"chat": GROUP, "text": "and?", "reply_to_message": bot_message})
    assert from_update(reply, BOT).addressed


def test_group_command_for_this_bot_is_addressed() -> None:
    entity = {"type": "bot_command", "offset": 0, "length": 16}
    message = {"chat": GROUP, "text": "/stats@tauro_bot", "entities": [entity]}
    assert from_update(update(message), BOT).addressed


def test_non_text_content_is_named() -> None:
    sticker = {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1,
               "is_animated": False, "is_video": False, "type": "regular"}  # fmt: skip
    incoming = from_update(update({"chat": PRIVATE, "sticker": sticker}), BOT)
    assert incoming.text is None
    assert incoming.content == "sticker"


def test_update_without_message() -> None:
    raw = {"update_id": 8, "edited_message": {"message_id": 1, "date": 0, "chat": PRIVATE,
                                               "text": "edited"}}  # fmt: skip
    incoming = from_update(telegram.Update.de_json(raw, None), BOT)
    assert incoming.chat_id is None


def test_strip_mention() -> None:
    assert strip_mention("@tauro_bot  ciao", "tauro_bot") == "ciao"
    assert strip_mention("mail x@tauro_bot.it", "tauro_bot") == "mail x@tauro_bot.it"
    assert strip_mention("ciao", "") == "ciao"
