"""Frames from untrusted clients: limits and malformed input become ProtocolErrors, never crashes."""

import asyncio
import json

import pytest

from wyoming_cosyvoice.wire import MAX_PAYLOAD_BYTES, ProtocolError, read_event


def read(raw: bytes):
    async def main():
        reader = asyncio.StreamReader(limit=64 * 1024)
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_event(reader)

    return asyncio.run(main())


def test_valid_event_with_data_and_payload():
    data = json.dumps({"text": "你好"}).encode()
    header = json.dumps({"type": "synthesize", "data_length": len(data), "payload_length": 3}).encode()
    event = read(header + b"\n" + data + b"abc")
    assert event.type == "synthesize" and event.data == {"text": "你好"} and event.payload == b"abc"


def test_clean_end_of_stream_is_none():
    assert read(b"") is None


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b"not json\n", "malformed-event", "not valid JSON"),
        (b"[1, 2]\n", "malformed-event", "must be a JSON object"),
        (b'{"data": {}}\n', "malformed-event", "no 'type'"),
        (b'{"type": "x", "data": [1]}\n', "malformed-event", "'data' must be"),
        (b'{"type": "x", "data_length": -1}\n', "malformed-event", "non-negative"),
        (b'{"type": "x", "data_length": "9"}\n', "malformed-event", "non-negative"),
        (b'{"type": "x", "data_length": 99999999999}\n', "event-too-large", "exceeds the limit"),
        (f'{{"type": "x", "payload_length": {MAX_PAYLOAD_BYTES + 1}}}\n'.encode(), "event-too-large", "limit"),
        (b'{"type": "x", "data_length": 2}\n[]', "malformed-event", "event data must be a JSON object"),
        (b'\xff\xfe\n', "malformed-event", "not valid JSON"),
        (b'{"type": "x"' + b" " * 70_000 + b"}\n", "event-too-large", "header longer"),
        (b'{"type": "synth', "malformed-event", "closed in the middle"),
    ],
)
def test_broken_frames(raw, code, message):
    with pytest.raises(ProtocolError, match=message) as caught:
        read(raw)
    assert caught.value.code == code


def test_truncated_body_is_end_of_stream():
    assert read(b'{"type": "x", "payload_length": 10}\nabc') is None
