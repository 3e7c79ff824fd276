"""Reading Wyoming frames from an untrusted client.

Owns: the limits on what a client may send (header line, data and payload sizes) and the errors for frames that
break the protocol. The wyoming package's own reader trusts `data_length`/`payload_length` and lets a header
without a "type" or a non-object header escape as an exception; a server must answer those with a clear error.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event

MAX_HEADER_BYTES = 64 * 1024
MAX_DATA_BYTES = 1024 * 1024
MAX_PAYLOAD_BYTES = 1024 * 1024
"""A TTS server receives no audio: payloads are only ever tolerated, never needed."""


class ProtocolError(Exception):
    """A frame that breaks the Wyoming protocol or our limits; `code` goes into the error event."""

    def __init__(self, text: str, code: str) -> None:
        super().__init__(text)
        self.code = code


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"'{key}' must be a non-negative integer, got {value!r}", "malformed-event")
    if value > limit:
        raise ProtocolError(f"'{key}' of {value} bytes exceeds the limit of {limit} bytes", "event-too-large")
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as err:  # includes invalid UTF-8
        raise ProtocolError(f"{what} is not valid JSON: {err}", "malformed-event") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object", "malformed-event")
    return value


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """Read one event; None when the client has closed the connection (also mid-frame)."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as err:
        if err.partial.strip():
            raise ProtocolError("connection closed in the middle of an event header", "malformed-event") from None
        return None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"event header longer than {MAX_HEADER_BYTES} bytes", "event-too-large") from None

    header = _json_object(line, "event header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("event header has no 'type'", "malformed-event")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("event 'data' must be a JSON object", "malformed-event")

    data_length = _length(header, "data_length", MAX_DATA_BYTES)
    payload_length = _length(header, "payload_length", MAX_PAYLOAD_BYTES)
    try:
        if data_length:
            data = {**data, **_json_object(await reader.readexactly(data_length), "event data")}
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None
    return Event(type=event_type, data=data, payload=payload)
