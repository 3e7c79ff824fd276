"""What a loaded config entry knows about its server."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from wyoming.info import TtsProgram


@dataclass(frozen=True)
class CosyVoiceServer:
    """Address of a wyoming-cosyvoice server and the TTS program it described at set-up."""

    host: str
    port: int
    program: TtsProgram


type CosyVoiceConfigEntry = ConfigEntry[CosyVoiceServer]
