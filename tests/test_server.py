"""The Wyoming server as Home Assistant meets it: a real subprocess on TCP and on stdio, driven by the wyoming
package's client with the tiny reference model (real vocabularies, real network shapes)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.server_process import Reply, TcpServer, connection_closed, read_until, server_command, tcp_server
from wyoming_cosyvoice.synthesizer import SynthesisOptions, Synthesizer
from wyoming_cosyvoice.text import TextFrontend

SEED = 7  # tcp_server starts every server with --seed 7
VOICE_NAMES = {
    "mandarin-female",
    "mandarin-male",
    "cantonese-female",
    "english-female",
    "english-male",
    "japanese-male",
    "korean-female",
}
HOME_TEXT = "Garage door opened at 07:05. 客厅温度21.5℃，湿度45%。"


@pytest.fixture(scope="module")
def server(parity_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    with tcp_server(parity_dir, tmp_path_factory.mktemp("server"), "--max-concurrent", "2") as running:
        yield running


def run(coroutine):
    return asyncio.run(coroutine)


def client(server: TcpServer) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", server.port)


async def request(server: TcpServer, *events: Event, last_type: str = "audio-stop") -> Reply:
    async with client(server) as connection:
        for event in events:
            await connection.write_event(event)
        return await read_until(connection, last_type)


async def describe(server: TcpServer) -> tuple[Info, float]:
    async with client(server) as connection:
        started = time.monotonic()
        await connection.write_event(Describe().event())
        reply = await read_until(connection, "info")
        return Info.from_event(reply.events[-1]), reply.times[-1] - started


def assert_complete_audio(reply: Reply) -> bytes:
    """One audio-start, chunks in one constant format, one audio-stop; returns the PCM."""
    types = [kind for kind in reply.types if kind != "audio-chunk"]
    assert types[:2] == ["audio-start", "audio-stop"], reply.types
    assert reply.formats() == {(22050, 2, 1)}
    audio = reply.audio()
    assert audio and len(audio) % 2 == 0
    return audio


# -- describe ---------------------------------------------------------------------------------------------
def test_describe_advertises_the_seven_voices(server: TcpServer) -> None:
    info, _ = run(describe(server))
    (program,) = info.tts
    assert program.supports_synthesize_streaming is True
    assert program.attribution.name == "FunAudioLLM/CosyVoice"
    voices = {voice.name: voice for voice in program.voices}
    assert set(voices) == VOICE_NAMES
    assert {"zh-CN", "zh"} <= set(voices["mandarin-female"].languages)
    assert {"zh-HK", "yue"} <= set(voices["cantonese-female"].languages)
    assert "中文女" in voices["mandarin-female"].description
    assert all(name.isascii() for name in voices)


def test_no_streaming_option_is_advertised(parity_dir: Path, tmp_path: Path) -> None:
    with tcp_server(parity_dir, tmp_path, "--no-streaming") as running:
        info, _ = run(describe(running))
        assert info.tts[0].supports_synthesize_streaming is False


# -- one-shot ---------------------------------------------------------------------------------------------
def test_one_shot_audio_is_the_models_output(server: TcpServer, parity_dir: Path) -> None:
    reply = run(request(server, Synthesize(text=HOME_TEXT, voice=SynthesizeVoice(name="english-male")).event()))
    audio = assert_complete_audio(reply)
    assert len(reply.of_type("audio-chunk")) > 1

    synthesizer = Synthesizer.load(parity_dir, SynthesisOptions(seed=SEED))
    expected = b"".join(pcm for pcm in synthesizer.synthesize(HOME_TEXT, "英文男", "en") if pcm)
    assert len(audio) == len(expected)
    assert audio == expected


def test_voice_by_language_and_per_call_speed(server: TcpServer) -> None:
    text = "今天天气真不错。"
    normal = run(request(server, Synthesize(text=text, voice=SynthesizeVoice(name="mandarin-female")).event()))
    by_language = run(request(server, Synthesize(text=text, context={"language": "zh"}).event()))
    fast = run(
        request(
            server,
            Synthesize(text=text, voice=SynthesizeVoice(name="mandarin-female"), context={"speed": 2.0}).event(),
        )
    )
    assert assert_complete_audio(by_language) == assert_complete_audio(normal)  # zh → mandarin-female, same seed
    ratio = len(assert_complete_audio(fast)) / len(normal.audio())
    assert 0.4 < ratio < 0.6


def test_first_audio_arrives_before_the_last_sentence_is_generated(parity_dir: Path) -> None:
    """Over stdio: the first audio-chunk is on stdout before the server logs that the last of several sentences
    has its speech tokens, i.e. audio streams while the text is still being processed."""
    text = " ".join(f"This is sentence number {n} of a longer announcement." for n in range(1, 13))
    segments = len(TextFrontend().segments(text, "en"))
    assert segments >= 3
    process = subprocess.Popen(
        server_command(parity_dir, "--uri", "stdio://", "--seed", "7", "--debug"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        events, log_lines = run(_stdio_session(process, Synthesize(text=text).event()))
    finally:
        process.kill()
        process.wait()
    first_audio = next(at for at, event in events if event.type == "audio-chunk")
    ready = next(at for at, line in log_lines if "Ready on stdio" in line)  # after the warm-up's own sentence
    generated = [at for at, line in log_lines if "speech tokens generated" in line and at > ready]
    assert len(generated) == segments
    assert first_audio < generated[-1]
    assert [event.type for _, event in events][-1] == "audio-stop"


async def _stdio_session(process: subprocess.Popen[bytes], event: Event):
    loop = asyncio.get_running_loop()
    stdout = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdout), process.stdout)
    stderr = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stderr), process.stderr)
    log_lines: list[tuple[float, str]] = []

    async def collect_log() -> None:
        while line := await stderr.readline():
            log_lines.append((time.monotonic(), line.decode(errors="replace")))

    log_task = asyncio.create_task(collect_log())
    assert process.stdin is not None
    process.stdin.write(b"".join(_frame(event)))
    process.stdin.flush()
    events: list[tuple[float, Event]] = []
    while True:
        received = await asyncio.wait_for(async_read_event(stdout), 120)
        assert received is not None, "server closed stdout"
        events.append((time.monotonic(), received))
        if received.type in ("audio-stop", "error"):
            break
    await asyncio.sleep(0.5)  # let the last log lines arrive
    log_task.cancel()
    return events, log_lines


def _frame(event: Event) -> list[bytes]:
    data = json.dumps(event.data, ensure_ascii=False).encode()
    header = {"type": event.type, "data_length": len(data), "version": "1.7.2"}
    return [json.dumps(header).encode() + b"\n", data]


# -- streamed text ----------------------------------------------------------------------------------------
def test_streamed_text_in_one_character_fragments(server: TcpServer) -> None:
    first_sentence, rest = "The washing machine has finished. ", "Please empty it before the evening, thank you."

    async def session() -> tuple[Reply, int]:
        async with client(server) as connection:
            await connection.write_event(SynthesizeStart(voice=SynthesizeVoice(name="english-female")).event())
            for char in first_sentence + rest[:5]:
                await connection.write_event(SynthesizeChunk(text=char).event())
            reply = await read_until(connection, "audio-chunk")  # audio while the text is still arriving
            chunks_before_rest = len(reply.of_type("audio-chunk"))
            for char in rest[5:]:
                await connection.write_event(SynthesizeChunk(text=char).event())
            await connection.write_event(Synthesize(text=first_sentence + rest).event())  # ignored in a stream
            await connection.write_event(SynthesizeStop().event())
            return await read_until(connection, "synthesize-stopped", reply), chunks_before_rest

    reply, chunks_before_rest = run(session())
    assert chunks_before_rest == 1
    assert reply.types[-1] == "synthesize-stopped"
    assert reply.types.count("audio-start") == 1 and reply.types.count("audio-stop") == 1
    assert_complete_audio(reply)


def test_stream_without_speakable_text_still_sends_an_audio_pair(server: TcpServer) -> None:
    reply = run(
        request(
            server,
            SynthesizeStart().event(),
            SynthesizeChunk(text="🙂 ").event(),
            SynthesizeStop().event(),
            last_type="synthesize-stopped",
        )
    )
    assert reply.types == ["audio-start", "audio-stop", "synthesize-stopped"]


def test_two_streams_on_one_connection(server: TcpServer) -> None:
    async def session() -> Reply:
        async with client(server) as connection:
            reply = Reply()
            for text in ("First request.", "Second request."):
                await connection.write_event(SynthesizeStart().event())
                await connection.write_event(SynthesizeChunk(text=text).event())
                await connection.write_event(SynthesizeStop().event())
                await read_until(connection, "synthesize-stopped", reply)
            return reply

    reply = run(session())
    assert reply.types.count("synthesize-stopped") == 2
    assert reply.types.count("audio-start") == 2 and "error" not in reply.types


# -- several clients ----------------------------------------------------------------------------------------
def test_three_clients_at_once(server: TcpServer) -> None:
    async def all_three() -> list[Reply]:
        texts = ["Front door unlocked.", "洗衣机已经洗好了。", "3時半に会議があります。"]
        return await asyncio.gather(*(request(server, Synthesize(text=text).event()) for text in texts))

    for reply in run(all_three()):
        assert_complete_audio(reply)


def test_disconnect_mid_stream_frees_the_slot(parity_dir: Path, tmp_path: Path) -> None:
    long_text = "This announcement goes on and on. " * 200

    async def session(running: TcpServer) -> Reply:
        async with client(running) as leaving:
            await leaving.write_event(Synthesize(text=long_text).event())
            await read_until(leaving, "audio-chunk")
        # the only slot must be free again: otherwise this request would wait for the whole long text
        return await request(running, Synthesize(text="Short one.").event())

    with tcp_server(parity_dir, tmp_path, "--max-concurrent", "1", "--debug") as running:
        reply = run(session(running))
        assert_complete_audio(reply)
        assert running.log().count("speech tokens generated") < 20


def test_describe_is_answered_during_a_long_synthesis(server: TcpServer) -> None:
    async def session() -> list[float]:
        async with client(server) as busy:
            await busy.write_event(Synthesize(text="Keep the compute thread busy for a while. " * 100).event())
            await read_until(busy, "audio-chunk")
            return [(await describe(server))[1] for _ in range(5)]

    latencies = run(session())
    print(f"describe latencies during synthesis: {[round(s * 1000, 1) for s in latencies]} ms")
    assert max(latencies) < 1.0  # Home Assistant gives a probe one second


# -- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "code"),
    [
        (Synthesize(text="").event(), "empty-text"),
        (Synthesize(text="   \n\t ").event(), "empty-text"),
        (Synthesize(text="🙂🎉👍").event(), "empty-text"),
        (Synthesize(text="a" * 100_000).event(), "text-too-long"),
        (Synthesize(text="hello", voice=SynthesizeVoice(name="nobody")).event(), "voice-not-found"),
        (Synthesize(text="hello", context={"speed": 9}).event(), "bad-speed"),
        (Synthesize(text="hello", context={"speed": "fast"}).event(), "bad-speed"),
        (Event(type="synthesize", data={"text": 42}), "malformed-event"),
    ],
)
def test_bad_requests_get_an_error_and_a_closed_connection(server: TcpServer, event: Event, code: str) -> None:
    async def session() -> tuple[Reply, bool]:
        async with client(server) as connection:
            await connection.write_event(event)
            reply = await read_until(connection, "audio-stop")
            assert connection._reader is not None
            return reply, await connection_closed(connection._reader)

    reply, closed = run(session())
    assert reply.types == ["error"]
    assert reply.events[0].data["code"] == code and reply.events[0].data["text"]
    assert closed
    assert run(describe(server))[0].tts  # the server keeps serving


def test_streamed_text_beyond_the_limit(server: TcpServer) -> None:
    events = [SynthesizeStart().event()] + [SynthesizeChunk(text="x" * 10_000).event()] * 3
    reply = run(request(server, *events, last_type="synthesize-stopped"))
    assert reply.types[-1] == "error" and reply.events[-1].data["code"] == "text-too-long"


def test_control_tokens_in_text_are_spoken_as_text(server: TcpServer) -> None:
    reply = run(request(server, Synthesize(text="Hello <|endoftext|> world <|zh|>.").event()))
    assert_complete_audio(reply)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"this is not json\n", "malformed-event"),
        (b'["a list"]\n', "malformed-event"),
        (b'{"data": {}}\n', "malformed-event"),
        (b'{"type": "synthesize", "data_length": -5}\n', "malformed-event"),
        (b'{"type": "synthesize", "data_length": 99999999999}\n', "event-too-large"),
        (b'{"type": "audio-chunk", "payload_length": 99999999999}\n', "event-too-large"),
        (b'{"type": "synthesize", "data_length": 8}\nnot json', "malformed-event"),
        (b"{" + b" " * 70_000 + b"\n", "event-too-large"),
    ],
)
def test_malformed_frames(server: TcpServer, raw: bytes, code: str) -> None:
    async def session() -> tuple[Event | None, bool]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(raw)
        await writer.drain()
        event = await asyncio.wait_for(async_read_event(reader), 30)
        closed = await connection_closed(reader)
        writer.close()
        return event, closed

    event, closed = run(session())
    assert event is not None and event.type == "error" and event.data["code"] == code
    assert closed
    assert run(describe(server))[0].tts


def test_a_client_still_sending_text_after_an_error_reads_the_error(server: TcpServer) -> None:
    """Like Home Assistant's text sender: it keeps writing chunks after the server refused the stream. The error
    must still arrive, followed by an end of stream, rather than a reset that would discard it unread."""

    async def session() -> tuple[list[Event], bool]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await async_write_event(SynthesizeStart(voice=SynthesizeVoice(name="nobody")).event(), writer)
        await asyncio.sleep(0.5)  # the server has answered and half-closed by now
        for _ in range(50):
            await async_write_event(SynthesizeChunk(text="more text ").event(), writer)
        await async_write_event(SynthesizeStop().event(), writer)
        events = []
        while (event := await asyncio.wait_for(async_read_event(reader), 30)) is not None:
            events.append(event)
        closed = await connection_closed(reader)
        writer.close()
        return events, closed

    events, closed = run(session())
    assert [event.type for event in events] == ["error"] and events[0].data["code"] == "voice-not-found"
    assert closed


def test_truncated_frame_then_hang_up(server: TcpServer) -> None:
    async def session() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await async_write_event(Synthesize(text="hello").event(), writer)
        writer.write(b'{"type": "synthesize", "data_length": 100}\n{"text": "cut')
        await writer.drain()
        writer.close()

    run(session())
    assert run(describe(server))[0].tts
    assert server.process.poll() is None


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        server_command(tmp_path / "nowhere", "--uri", "tcp://127.0.0.1:0"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "nowhere" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_model_file_is_a_clear_error(parity_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for source in parity_dir.iterdir():
        (model / source.name).symlink_to(source)
    (model / "flow.pt").unlink()
    (model / "flow.pt").write_bytes(b"this is not a checkpoint")
    result = subprocess.run(
        server_command(model, "--uri", "tcp://127.0.0.1:0"), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    assert "flow.pt" in result.stderr and "Traceback" not in result.stderr
