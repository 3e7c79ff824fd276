"""Config entries for the tests: a CosyVoice entry (or the built-in Wyoming one) pointing at a server, set up."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.cosyvoice.const import DOMAIN


async def add_entry(
    hass: HomeAssistant, host: str, port: int, options: dict[str, Any] | None = None, domain: str = DOMAIN
) -> MockConfigEntry:
    """Add and set up an entry for the server at host:port; it must load."""
    entry = MockConfigEntry(
        domain=domain,
        title=f"CosyVoice ({host}:{port})",
        data={CONF_HOST: host, CONF_PORT: port},
        options=options or {},
        unique_id=f"{host}:{port}",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def tts_entity_id(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """The one TTS entity of `entry`."""
    (entity,) = [e for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id) if e.domain == "tts"]
    return entity.entity_id
