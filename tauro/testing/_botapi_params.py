"""Decoding Bot API request parameters the way Telegram accepts them.

Telegram takes parameters from the query string, ``application/x-www-form-urlencoded``,
``application/json`` or ``multipart/form-data``. python-telegram-bot sends form fields
whose values are JSON-encoded except plain strings (``RequestData.json_parameters``),
and files as multipart parts, so a field is interpreted by the type its method
expects: ``Params.integer("chat_id")`` accepts ``123`` and ``"123"``, ``Params.json``
decodes ``"[...]"`` strings. Multipart is parsed with the standard library's email
parser, which spares a dependency for a test tool.
"""

from __future__ import annotations

import json
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from tauro.testing._botapi_types import UploadedPart, bad_request

__all__ = ["Params", "decode_body"]


def _from_json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise bad_request("can't parse JSON object") from None
    if not isinstance(doc, dict):
        raise bad_request("JSON object expected")
    return doc


def _part_value(part: Message) -> object:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    filename = part.get_filename()
    if filename is None:
        return data.decode("utf-8", errors="replace")
    return UploadedPart(data=data, filename=filename, content_type=part.get_content_type())


def _from_multipart(content_type: str, body: bytes) -> dict[str, object]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise bad_request("can't parse multipart/form-data body")
    values: dict[str, object] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            values[name] = _part_value(part)
    return values


def decode_body(content_type: str, body: bytes, query: str) -> dict[str, object]:
    """All parameters of one call; body fields win over query-string ones."""
    values: dict[str, object] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        values.update(_from_json(body))
    elif kind == "multipart/form-data":
        values.update(_from_multipart(content_type, body))
    elif body:
        values.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return values


class Params:
    """Typed access to one call's parameters; wrong or missing ones give a 400.

    Getters are named for Bot API types (``text``, ``integer``, ``number``, ``flag``,
    ``json``, ``chat_id``, ``file``).
    """

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values

    def shown(self) -> dict[str, object]:
        """The parameters as recorded in ``ApiCall`` (file parts summarised)."""
        return {k: _shown(v) for k, v in self.values.items()}

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def opt_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, UploadedPart):
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def text(self, name: str, empty: str | None = None) -> str:
        value = self.opt_str(name)
        if value is None or value == "":
            raise bad_request(empty or f"{name} is empty")
        return value

    def opt_integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise bad_request(f'field "{name}" must be of type Integer')
        try:
            return int(value)
        except ValueError:
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def integer(self, name: str) -> int:
        value = self.opt_integer(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Float') from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def chat_id(self) -> int | str:
        """``chat_id`` as an int, or an ``@username`` string as Telegram allows."""
        value = self.opt_str("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        try:
            return int(value)
        except ValueError:
            if value.startswith("@"):
                return value
            raise bad_request("chat not found") from None

    def file(self, name: str) -> UploadedPart | str:
        """A file field: an uploaded part, ``attach://<part>``, or a file_id / URL."""
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = self.values.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedPart):
            return value
        if isinstance(value, str) and value:
            return value
        raise bad_request(f"there is no {name} in the request")


def _shown(value: object) -> object:
    if isinstance(value, UploadedPart):
        return f"<file {value.filename!r} {len(value.data)} bytes>"
    return value
