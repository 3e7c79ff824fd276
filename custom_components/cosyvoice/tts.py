"""The CosyVoice TTS entity.

Owns: languages and voices from the server's `info`, the per-call options (voice, speaker, speed) with the entry's
defaults, streaming text to the server when it advertises streaming (one-shot synthesis otherwise), WAV
output, and turning every failure into a `HomeAssistantError` carrying the server's text. Each request opens
its own connection, so a failed call leaves nothing behind and the next one starts afresh.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from homeassistant.components.tts import (
    ATTR_VOICE,
    TextToSpeechEntity,
    TTSAudioRequest,
    TTSAudioResponse,
    TtsAudioType,
    Voice,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .catalog import VoiceCatalog
from .client import CosyVoiceError
from .const import ATTR_SPEAKER, ATTR_SPEED, CONF_SPEED, CONF_VOICE, DEFAULT_SPEED, DOMAIN, VOICE_BY_LANGUAGE
from .models import CosyVoiceConfigEntry
from .synthesis import AudioPiece, SpeechRequest, synthesize, synthesize_stream
from .wav import wav_bytes


async def async_setup_entry(
    hass: HomeAssistant, entry: CosyVoiceConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    async_add_entities([CosyVoiceTtsEntity(hass, entry)])


class CosyVoiceTtsEntity(TextToSpeechEntity):
    """Speaks through one wyoming-cosyvoice server."""

    def __init__(self, hass: HomeAssistant, entry: CosyVoiceConfigEntry) -> None:
        self._attr_supported_options = [ATTR_VOICE, ATTR_SPEAKER, ATTR_SPEED]
        server = entry.runtime_data
        self._host, self._port = server.host, server.port
        self._streaming = server.program.supports_synthesize_streaming
        self._catalog = VoiceCatalog(server.program)
        self._default_voice = entry.options.get(CONF_VOICE, VOICE_BY_LANGUAGE)
        self._default_speed = float(entry.options.get(CONF_SPEED, DEFAULT_SPEED))
        self._attr_supported_languages = self._catalog.languages
        self._attr_default_language = self._catalog.default_language(hass.config.language)
        self._attr_name = entry.title
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}-tts"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="FunAudioLLM",
            model="CosyVoice-300M-SFT",
            sw_version=server.program.version,
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def default_options(self) -> dict[str, Any]:
        """The entry's defaults. Home Assistant merges them into each call's options before keying its audio
        cache, so changing them in the options flow is never answered from audio cached under the old ones."""
        defaults: dict[str, Any] = {ATTR_SPEED: self._default_speed}
        if self._default_voice != VOICE_BY_LANGUAGE:
            defaults[ATTR_VOICE] = self._default_voice
        return defaults

    @callback
    def async_get_supported_voices(self, language: str) -> list[Voice] | None:
        return self._catalog.voices(language)

    def async_supports_streaming_input(self) -> bool:
        return self._streaming

    async def async_get_tts_audio(self, message: str, language: str, options: dict[str, Any]) -> TtsAudioType:
        """Speak `message` with one `synthesize` event (servers without streamed text input)."""
        request = self._speech_request(language, options)
        pieces: list[AudioPiece] = []
        async for piece in self._guarded(synthesize(self._host, self._port, message, request)):
            pieces.append(piece)
        return "wav", wav_bytes(pieces[0].audio_format, b"".join(piece.pcm for piece in pieces))

    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Forward Home Assistant's text stream and return WAV audio as it arrives."""
        speech = self._speech_request(request.language, request.options)
        audio = synthesize_stream(self._host, self._port, request.message_gen, speech)
        return TTSAudioResponse("wav", self._streamed_wav(audio))

    async def _streamed_wav(self, audio: AsyncIterator[AudioPiece]) -> AsyncGenerator[bytes]:
        """A WAV header (length unknown) before the first audio, then the PCM as it comes."""
        started = False
        async for piece in self._guarded(audio):
            if not started:
                started = True
                yield wav_bytes(piece.audio_format)
            yield piece.pcm

    async def _guarded(self, audio: AsyncIterator[AudioPiece]) -> AsyncGenerator[AudioPiece]:
        try:
            async for piece in audio:
                yield piece
        except CosyVoiceError as err:
            raise HomeAssistantError(str(err)) from err

    def _speech_request(self, language: str, options: dict[str, Any]) -> SpeechRequest:
        """The call's options (Home Assistant merged `default_options` into them). The default voice applies to
        its own languages; for any other language the server picks its best voice."""
        voice = options.get(ATTR_VOICE)
        if voice == self._default_voice and not self._catalog.speaks(voice, language):
            voice = None
        speed = options.get(ATTR_SPEED, self._default_speed)
        try:
            speed = float(speed)
        except (TypeError, ValueError):
            raise HomeAssistantError(f"speed must be a number, got {speed!r}") from None
        return SpeechRequest(language=language, voice=voice, speaker=options.get(ATTR_SPEAKER), speed=speed)
