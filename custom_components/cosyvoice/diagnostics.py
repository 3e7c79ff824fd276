"""Diagnostics download for a CosyVoice config entry: the address, options, and what the server offers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.core import HomeAssistant

from .client import CosyVoiceError, async_get_program
from .models import CosyVoiceConfigEntry


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: CosyVoiceConfigEntry) -> dict[str, Any]:
    """The program described at set-up and a fresh describe round trip (or why it failed)."""
    server = entry.runtime_data
    try:
        live = {"reachable": True, "program": asdict(await async_get_program(server.host, server.port))}
    except CosyVoiceError as err:
        live = {"reachable": False, "error": str(err)}
    return {
        "server": {"host": server.host, "port": server.port},
        "options": dict(entry.options),
        "program_at_setup": asdict(server.program),
        "now": live,
    }
