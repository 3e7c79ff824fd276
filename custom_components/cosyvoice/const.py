"""Names and defaults shared by the CosyVoice integration's modules."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "cosyvoice"
PROGRAM_NAME: Final = "cosyvoice"
"""Name of the TTS program in the `info` of a wyoming-cosyvoice server."""

DEFAULT_PORT: Final = 10200
ZEROCONF_TYPE: Final = "_wyoming._tcp.local."

CONF_VOICE: Final = "voice"
CONF_SPEED: Final = "speed"
ATTR_SPEAKER: Final = "speaker"
ATTR_SPEED: Final = "speed"
VOICE_BY_LANGUAGE: Final = "by_language"
"""Options value: let the server pick the best voice for the requested language."""

DEFAULT_SPEED: Final = 1.0
MIN_SPEED: Final = 0.5
MAX_SPEED: Final = 2.0

CONNECT_TIMEOUT: Final = 10.0
"""Seconds to connect and get `info` back from `describe`."""
FIRST_AUDIO_TIMEOUT: Final = 90.0
"""Seconds to wait for audio after the request (or after more text) reached the server."""
CHUNK_TIMEOUT: Final = 30.0
"""Seconds to wait for the next audio event once audio is flowing."""
