"""The TTS entity against the real server: voices, speaking, streaming, options, errors and recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from homeassistant.components import media_source, tts
from homeassistant.components.tts.media_source import generate_media_source_id
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import async_mock_service
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.cosyvoice import synthesis
from custom_components.cosyvoice.const import CONF_SPEED, CONF_VOICE
from custom_components.cosyvoice.diagnostics import async_get_config_entry_diagnostics

from .conftest import ServerProcess
from .entries import add_entry, tts_entity_id
from .helpers import LOOPBACK, StallingProxy, describe_directly, parse_wav, synthesize_directly

WAV = {"preferred_format": "wav"}
SAMPLE_RATE = 22050
SENTENCE = "Hello from Home Assistant."


async def media_audio(
    hass: HomeAssistant, entity_id: str, message: str, language: str | None = None, **options: Any
) -> bytes:
    """Ask HA's TTS manager for the audio of `message` (raises what the engine raised)."""
    media_id = generate_media_source_id(
        hass, message, engine=entity_id, language=language, options={**WAV, **options}, cache=False
    )
    extension, data = await tts.async_get_media_source_audio(hass, media_id)
    assert extension == "wav"
    return data


async def test_entity_offers_server_voices_and_languages(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    entry = await add_entry(hass, cosyvoice_server.host, cosyvoice_server.port)
    entity = hass.data[tts.DATA_COMPONENT].get_entity(tts_entity_id(hass, entry))
    (program,) = (await describe_directly(cosyvoice_server.host, cosyvoice_server.port)).tts

    languages = sorted({language for voice in program.voices for language in voice.languages})
    assert entity.supported_languages == languages
    assert entity.default_language == "en"  # HA's language in the test harness
    english = entity.async_get_supported_voices("en")
    assert [voice.name for voice in english] == sorted(voice.name for voice in english)
    assert {voice.voice_id for voice in english} == {v.name for v in program.voices if "en" in v.languages}
    assert {voice.voice_id for voice in entity.async_get_supported_voices("zh-CN")} >= {"mandarin-female"}
    assert entity.async_supports_streaming_input() is program.supports_synthesize_streaming is True


async def test_speak_serves_wav_through_http(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, cosyvoice_server: ServerProcess
) -> None:
    entry = await add_entry(hass, cosyvoice_server.host, cosyvoice_server.port)
    entity_id = tts_entity_id(hass, entry)
    assert await async_setup_component(hass, "media_source", {})
    play_media = async_mock_service(hass, "media_player", "play_media")

    await hass.services.async_call(
        tts.DOMAIN,
        "speak",
        {
            "entity_id": entity_id,
            "media_player_entity_id": "media_player.kitchen",
            "message": SENTENCE,
            "language": "en",
            "options": {**WAV, "voice": "english-female"},
            "cache": False,
        },
        blocking=True,
    )
    assert len(play_media) == 1
    media = await media_source.async_resolve_media(hass, play_media[0].data["media_content_id"], None)
    response = await (await hass_client()).get(media.url)
    assert response.status == 200
    wav = parse_wav(await response.read())

    expected = await synthesize_directly(
        cosyvoice_server.host, cosyvoice_server.port, SENTENCE, voice="english-female", language="en", streamed=True
    )
    assert (wav.rate, wav.width, wav.channels) == (SAMPLE_RATE, 2, 1)
    assert wav.frames > 0
    assert len(wav.pcm) == len(expected)


async def test_streaming_delivers_audio_before_text_ends(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    entry = await add_entry(hass, cosyvoice_server.host, cosyvoice_server.port)
    first_audio = asyncio.Event()
    text_finished_after_audio: list[bool] = []

    async def llm_reply() -> AsyncGenerator[str]:
        for word in ["This", "is", "the", "first", "sentence.", "And"]:
            yield word + " "
        await first_audio.wait()  # the rest of the reply only comes once audio is playing
        text_finished_after_audio.append(True)
        yield "this one came later."

    stream = tts.async_create_stream(hass, tts_entity_id(hass, entry), language="en", options=WAV)
    stream.async_set_message_stream(llm_reply())
    received = b""
    async with asyncio.timeout(300):
        async for data in stream.async_stream_result():
            received += data
            if len(received) > 44:
                first_audio.set()

    assert text_finished_after_audio == [True]
    wav = parse_wav(received)
    assert (wav.rate, wav.width, wav.channels) == (SAMPLE_RATE, 2, 1)
    assert wav.declared_frames == 0  # streamed: the header was sent before the length was known
    assert wav.frames > 0


async def test_slow_text_is_not_mistaken_for_a_hung_server(
    hass: HomeAssistant, cosyvoice_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waiting for Home Assistant's next text (an LLM thinking) does not count against the server's timeouts."""
    monkeypatch.setattr(synthesis, "FIRST_AUDIO_TIMEOUT", 1.0)
    monkeypatch.setattr(synthesis, "CHUNK_TIMEOUT", 1.0)
    entry = await add_entry(hass, cosyvoice_server.host, cosyvoice_server.port)

    async def slow_reply() -> AsyncGenerator[str]:
        await asyncio.sleep(2.5)
        yield "Thinking took a while. "
        await asyncio.sleep(2.5)
        yield "So did this."

    stream = tts.async_create_stream(hass, tts_entity_id(hass, entry), language="en", options=WAV)
    stream.async_set_message_stream(slow_reply())
    audio = b"".join([data async for data in stream.async_stream_result()])
    assert parse_wav(audio).frames > 0


async def test_one_shot_server_gets_complete_wav(hass: HomeAssistant, one_shot_server: ServerProcess) -> None:
    entry = await add_entry(hass, one_shot_server.host, one_shot_server.port)
    entity_id = tts_entity_id(hass, entry)
    assert hass.data[tts.DATA_COMPONENT].get_entity(entity_id).async_supports_streaming_input() is False

    wav = parse_wav(await media_audio(hass, entity_id, SENTENCE, "en", voice="english-male"))
    expected = await synthesize_directly(
        one_shot_server.host, one_shot_server.port, SENTENCE, voice="english-male", language="en"
    )
    assert wav.declared_frames == wav.frames == len(expected) // 2


async def test_options_choose_voice_and_speed(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    entry = await add_entry(
        hass, cosyvoice_server.host, cosyvoice_server.port, {CONF_VOICE: "english-male", CONF_SPEED: 2.0}
    )
    entity_id = tts_entity_id(hass, entry)

    mark = cosyvoice_server.log_mark()
    fast = parse_wav(await media_audio(hass, entity_id, SENTENCE, "en"))
    assert cosyvoice_server.voices_used_since(mark) == ["english-male"]

    mark = cosyvoice_server.log_mark()
    slow = parse_wav(await media_audio(hass, entity_id, SENTENCE, "en", speed=0.5))
    assert cosyvoice_server.voices_used_since(mark) == ["english-male"]
    assert slow.frames > 2 * fast.frames

    # The default voice is English; for Mandarin the server picks its own best voice.
    mark = cosyvoice_server.log_mark()
    await media_audio(hass, entity_id, "你好。", "zh-CN")
    assert cosyvoice_server.voices_used_since(mark) == ["mandarin-female"]

    hass.config_entries.async_update_entry(entry, options={CONF_VOICE: "english-female", CONF_SPEED: 1.0})
    await hass.async_block_till_done()
    mark = cosyvoice_server.log_mark()
    await media_audio(hass, entity_id, SENTENCE, "en")
    assert cosyvoice_server.voices_used_since(mark) == ["english-female"]


async def test_server_error_raises_then_recovers(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    entry = await add_entry(hass, cosyvoice_server.host, cosyvoice_server.port)
    entity_id = tts_entity_id(hass, entry)

    with pytest.raises(HomeAssistantError, match="no-such-voice"):
        await media_audio(hass, entity_id, SENTENCE, "en", voice="no-such-voice")
    with pytest.raises(HomeAssistantError, match="speed"):
        await media_audio(hass, entity_id, SENTENCE, "en", speed=9.0)

    assert parse_wav(await media_audio(hass, entity_id, SENTENCE, "en")).frames > 0


async def test_hung_or_dropped_server_raises_then_recovers(
    hass: HomeAssistant, cosyvoice_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synthesis, "FIRST_AUDIO_TIMEOUT", 1.0)
    monkeypatch.setattr(synthesis, "CHUNK_TIMEOUT", 1.0)
    proxy = StallingProxy(cosyvoice_server.host, cosyvoice_server.port)
    await proxy.start()
    try:
        entry = await add_entry(hass, LOOPBACK, proxy.port)
        entity_id = tts_entity_id(hass, entry)

        proxy.stall()
        with pytest.raises(HomeAssistantError, match="stopped answering"):
            await media_audio(hass, entity_id, "A server that hangs.", "en")
        proxy.resume()
        assert parse_wav(await media_audio(hass, entity_id, "It answers again.", "en")).frames > 0

        proxy.stall()
        task = asyncio.create_task(media_audio(hass, entity_id, "A server that goes away.", "en"))
        await asyncio.sleep(0.3)
        proxy.cut()
        with pytest.raises(HomeAssistantError, match="closed the connection|lost"):
            await task
        proxy.resume()
        assert parse_wav(await media_audio(hass, entity_id, "And it is back.", "en")).frames > 0
    finally:
        await proxy.stop()


async def test_builtin_wyoming_integration_speaks_with_our_server(
    hass: HomeAssistant, cosyvoice_server: ServerProcess
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    entry = await add_entry(hass, cosyvoice_server.host, cosyvoice_server.port, domain="wyoming")
    entity_id = tts_entity_id(hass, entry)

    wav = parse_wav(await media_audio(hass, entity_id, SENTENCE, voice="english-female"))
    assert (wav.rate, wav.width, wav.channels) == (SAMPLE_RATE, 2, 1)
    assert wav.frames > 0


async def test_diagnostics_and_reload(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    entry = await add_entry(hass, cosyvoice_server.host, cosyvoice_server.port)

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["server"] == {"host": cosyvoice_server.host, "port": cosyvoice_server.port}
    assert diagnostics["now"]["reachable"] is True
    voices = {voice["name"] for voice in diagnostics["program_at_setup"]["voices"]}
    assert {"english-female", "mandarin-female"} <= voices

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert parse_wav(await media_audio(hass, tts_entity_id(hass, entry), SENTENCE, "en")).frames > 0
