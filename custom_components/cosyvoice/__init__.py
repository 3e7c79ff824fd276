"""CosyVoice text-to-speech for Home Assistant, served by a wyoming-cosyvoice server.

Owns: setting up a config entry (describe the server, keep its TTS program, start the TTS platform), retrying
while the server is unreachable, and reloading (which reconnects) when the entry's options change.
"""

from __future__ import annotations

from homeassistant.const import CONF_HOST, CONF_PORT, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady

from .client import NotCosyVoice, ServerUnreachable, async_get_program
from .models import CosyVoiceConfigEntry, CosyVoiceServer

PLATFORMS = [Platform.TTS]


async def async_setup_entry(hass: HomeAssistant, entry: CosyVoiceConfigEntry) -> bool:
    """Describe the server and set up its TTS entity."""
    host, port = entry.data[CONF_HOST], entry.data[CONF_PORT]
    try:
        program = await async_get_program(host, port)
    except ServerUnreachable as err:
        raise ConfigEntryNotReady(str(err)) from err
    except NotCosyVoice as err:
        raise ConfigEntryError(f"{host}:{port}: {err}") from err
    entry.runtime_data = CosyVoiceServer(host=host, port=port, program=program)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: CosyVoiceConfigEntry) -> bool:
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def _async_reload(hass: HomeAssistant, entry: CosyVoiceConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)
