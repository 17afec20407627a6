"""The Bot API methods the emulator answers, one handler each.

Every handler takes the state and the call's ``Params`` and returns the ``result``
of a successful reply or raises ``ApiFailure`` with Telegram's own error text.
``METHODS`` maps the lower-cased method name (Bot API method names are
case-insensitive) to its documented spelling and handler.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import trio

from tauro.testing._botapi_core import BotApiState, ChatAction, text_content
from tauro.testing._botapi_params import Params
from tauro.testing._botapi_serve import is_loopback
from tauro.testing._botapi_text import MAX_CAPTION_LENGTH, ParsedText, parse_text
from tauro.testing._botapi_types import ApiFailure, BotMessage, StoredFile, bad_request

__all__ = ["METHODS", "Handler"]

JsonDict = dict[str, Any]
Handler = Callable[[BotApiState, Params], Awaitable[object]]
METHODS: dict[str, tuple[str, Handler]] = {}

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = (name, handler)
        return handler

    return register


# ------------------------------------------------------------------ bot & updates
@method("getMe")
async def get_me(state: BotApiState, p: Params) -> object:
    user = state.bot_user()
    user.update(can_join_groups=True, can_read_all_group_messages=False)
    user.update(supports_inline_queries=False, can_connect_to_business=False)
    return user | {"has_main_web_app": False}


@method("getUpdates")
async def get_updates(state: BotApiState, p: Params) -> object:
    allowed = p.json("allowed_updates")
    return await state.updates.get(
        offset=p.opt_integer("offset") or 0,
        limit=p.opt_integer("limit") or 100,
        timeout=p.number("timeout", 0.0),
        allowed=None if allowed is None else [str(a) for a in allowed],
    )


@method("setWebhook")
async def set_webhook(state: BotApiState, p: Params) -> object:
    url = p.text("url", "bad webhook: webhook URL must be non-empty")
    _check_webhook_url(url)
    secret = p.opt_str("secret_token")
    if secret is not None and not _SECRET.match(secret):
        raise bad_request("secret token contains unallowed characters")
    connections = p.opt_integer("max_connections") or 40
    if not 1 <= connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = p.json("allowed_updates")
    state.updates.set_webhook(
        url, secret, connections, None if allowed is None else [str(a) for a in allowed]
    )
    if p.flag("drop_pending_updates"):
        state.updates.drop_pending()
    return True


def _check_webhook_url(url: str) -> None:
    """Telegram wants HTTPS; plain HTTP is accepted here for this machine only (tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")


@method("deleteWebhook")
async def delete_webhook(state: BotApiState, p: Params) -> object:
    state.updates.set_webhook("")
    if p.flag("drop_pending_updates"):
        state.updates.drop_pending()
    return True


@method("getWebhookInfo")
async def get_webhook_info(state: BotApiState, p: Params) -> object:
    updates = state.updates
    info: JsonDict = {"url": updates.webhook_url, "has_custom_certificate": False}
    info["pending_update_count"] = updates.pending_count
    if updates.webhook is not None:
        info["max_connections"] = updates.webhook.max_connections
        info["allowed_updates"] = sorted(updates.allowed)
    if updates.last_error is not None:
        info["last_error_date"], info["last_error_message"] = updates.last_error
    return info


@method("setMyCommands")
async def set_my_commands(state: BotApiState, p: Params) -> object:
    commands = p.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command"))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description") or "")) <= 256:
            raise bad_request("command description is empty")
    state.commands = [dict(c) for c in commands]
    return True


@method("getMyCommands")
async def get_my_commands(state: BotApiState, p: Params) -> object:
    return list(state.commands)


@method("deleteMyCommands")
async def delete_my_commands(state: BotApiState, p: Params) -> object:
    state.commands = []
    return True


@method("getChat")
async def get_chat(state: BotApiState, p: Params) -> object:
    return dict(state.chats.resolve(p.chat_id()))


# ----------------------------------------------------------------------- sending
def _reply_target(state: BotApiState, chat: JsonDict, p: Params) -> JsonDict | None:
    """``reply_parameters`` (what PTB 21+ sends) or the older ``reply_to_message_id``."""
    parameters = p.json("reply_parameters")
    message_id = p.opt_integer("reply_to_message_id")
    lenient = p.flag("allow_sending_without_reply")
    if isinstance(parameters, dict):
        message_id = int(parameters.get("message_id") or 0) or None
        lenient = lenient or bool(parameters.get("allow_sending_without_reply"))
    if message_id is None:
        return None
    target = state.chats.message(chat["id"], message_id)
    if target is None and not lenient:
        raise bad_request("message to be replied not found")
    return None if target is None else {k: v for k, v in target.items() if k != "reply_to_message"}


def _markup(p: Params) -> JsonDict:
    markup = p.json("reply_markup")
    return {"reply_markup": markup} if isinstance(markup, dict) and markup else {}


def _given_entities(p: Params, parsed: ParsedText, key: str) -> ParsedText:
    entities = p.json(key)
    if isinstance(entities, list) and entities and not parsed.entities:
        return ParsedText(parsed.text, tuple(entities))
    return parsed


@method("sendMessage")
async def send_message(state: BotApiState, p: Params) -> object:
    chat = state.chats.resolve(p.chat_id())
    parsed = parse_text(p.opt_str("text"), p.opt_str("parse_mode"))
    parsed = _given_entities(p, parsed, "entities")
    reply_to = _reply_target(state, chat, p)
    state.charge_flood(chat)
    content = text_content(parsed) | _markup(p)
    record = state.new_bot_message(chat, "text", content, parsed=parsed, reply_to=reply_to)
    return record.raw


def _editable(state: BotApiState, p: Params, verb: str = "edit") -> BotMessage:
    if p.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = state.chats.resolve(p.chat_id())
    return state.chats.bot_message(chat["id"], p.integer("message_id"), verb)


@method("editMessageText")
async def edit_message_text(state: BotApiState, p: Params) -> object:
    record = _editable(state, p)
    if record.kind != "text":
        raise bad_request("there is no text in the message to edit")
    parsed = _given_entities(p, parse_text(p.opt_str("text"), p.opt_str("parse_mode")), "entities")
    content = text_content(parsed) | _markup(p)
    current = {k: record.raw.get(k) for k in ("text", "entities", "reply_markup")}
    if current == {k: content.get(k) for k in current}:
        raise bad_request(NOT_MODIFIED)
    state.charge_flood(record.raw["chat"])
    for key in ("entities", "reply_markup"):
        record.raw.pop(key, None)
    record.raw.update(content, edit_date=state.date())
    record.texts.append(parsed.text)
    record.times.append(trio.current_time())
    return record.raw


@method("deleteMessage")
async def delete_message(state: BotApiState, p: Params) -> object:
    record = _editable(state, p, "delete")
    record.deleted = True
    return True


@method("sendChatAction")
async def send_chat_action(state: BotApiState, p: Params) -> object:
    chat = state.chats.resolve(p.chat_id())
    action = p.text("action", "wrong parameter action in request")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    state.chat_actions.append(ChatAction(chat["id"], action, trio.current_time()))
    return True


def _file_json(stored: StoredFile) -> JsonDict:
    doc: JsonDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.file_size is not None:
        doc["file_size"] = stored.file_size
    if stored.mime_type:
        doc["mime_type"] = stored.mime_type
    return doc


async def _send_file(state: BotApiState, p: Params, kind: str, mime: str | None) -> object:
    chat = state.chats.resolve(p.chat_id())
    stored = state.files.store(kind, p.file(kind), mime)
    caption = parse_text(
        p.opt_str("caption"), p.opt_str("parse_mode"), limit=MAX_CAPTION_LENGTH, empty_ok=True
    )
    reply_to = _reply_target(state, chat, p)
    state.charge_flood(chat)
    media = _file_json(stored)
    if kind == "voice":
        media["duration"] = p.opt_integer("duration") or 0
    elif stored.file_name:
        media["file_name"] = stored.file_name
    content = {kind: media} | text_content(caption, "caption") | _markup(p)
    record = state.new_bot_message(
        chat, kind, content, parsed=caption, reply_to=reply_to, file=stored
    )
    return record.raw


@method("sendVoice")
async def send_voice(state: BotApiState, p: Params) -> object:
    return await _send_file(state, p, "voice", None)


@method("sendDocument")
async def send_document(state: BotApiState, p: Params) -> object:
    return await _send_file(state, p, "document", None)


@method("getFile")
async def get_file(state: BotApiState, p: Params) -> object:
    stored = state.files.get(p.text("file_id"))
    doc = {k: v for k, v in _file_json(stored).items() if k != "mime_type"}
    return doc | {"file_path": f"{stored.kind}/{stored.file_id}"}


@method("answerCallbackQuery")
async def answer_callback_query(state: BotApiState, p: Params) -> object:
    query_id = p.text("callback_query_id", "QUERY_ID_INVALID")
    if query_id not in state.callback_queries:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    state.callback_queries.discard(query_id)
    return True


def lookup(name: str) -> tuple[str, Handler]:
    """The documented name and handler of a method, or Telegram's 404."""
    found = METHODS.get(name.lower())
    if found is None:
        raise ApiFailure(404, "Not Found")
    return found
