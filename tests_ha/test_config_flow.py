"""Config flow and options flow against the real server (and a real non-CosyVoice Wyoming service)."""

from __future__ import annotations

from ipaddress import ip_address

from homeassistant import config_entries
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from custom_components.cosyvoice.const import CONF_SPEED, CONF_VOICE, DOMAIN, VOICE_BY_LANGUAGE

from .conftest import ServerProcess, free_tcp_port
from .helpers import LOOPBACK, OtherWyomingService


def zeroconf_info(port: int, name: str = "cosyvoice") -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address(LOOPBACK),
        ip_addresses=[ip_address(LOOPBACK)],
        port=port,
        hostname=f"{name}.local.",
        type="_wyoming._tcp.local.",
        name=f"{name}._wyoming._tcp.local.",
        properties={},
    )


async def start_user_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return result["flow_id"]


async def test_user_flow_creates_entry(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_HOST: cosyvoice_server.host, CONF_PORT: cosyvoice_server.port}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: cosyvoice_server.host, CONF_PORT: cosyvoice_server.port}
    entry = result["result"]
    assert entry.unique_id == f"{cosyvoice_server.host}:{cosyvoice_server.port}"
    assert entry.state is config_entries.ConfigEntryState.LOADED
    assert len(hass.states.async_entity_ids("tts")) == 1


async def test_user_flow_unreachable_then_fixed(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_HOST: LOOPBACK, CONF_PORT: free_tcp_port()})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert "cannot connect" in result["description_placeholders"]["detail"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_HOST: cosyvoice_server.host, CONF_PORT: cosyvoice_server.port}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_rejects_other_wyoming_service(hass: HomeAssistant) -> None:
    service = OtherWyomingService(free_tcp_port())
    await service.start()
    try:
        flow_id = await start_user_flow(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, {CONF_HOST: LOOPBACK, CONF_PORT: service.port})
    finally:
        await service.stop()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "not_cosyvoice"}
    assert "asr program 'speech-to-text'" in result["description_placeholders"]["detail"]


async def test_same_server_not_added_twice(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    address = {CONF_HOST: cosyvoice_server.host, CONF_PORT: cosyvoice_server.port}
    first = await hass.config_entries.flow.async_configure(await start_user_flow(hass), address)
    await hass.async_block_till_done()
    assert first["type"] is FlowResultType.CREATE_ENTRY

    again = await hass.config_entries.flow.async_configure(await start_user_flow(hass), address)
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_configured"

    discovered = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=zeroconf_info(cosyvoice_server.port)
    )
    assert discovered["type"] is FlowResultType.ABORT
    assert discovered["reason"] == "already_configured"


async def test_zeroconf_discovery_confirmed(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=zeroconf_info(cosyvoice_server.port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"]["port"] == str(cosyvoice_server.port)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: LOOPBACK, CONF_PORT: cosyvoice_server.port}
    assert result["result"].state is config_entries.ConfigEntryState.LOADED


async def test_zeroconf_ignores_other_wyoming_services(hass: HomeAssistant) -> None:
    service = OtherWyomingService(free_tcp_port())
    await service.start()
    try:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=zeroconf_info(service.port, "whisper")
        )
    finally:
        await service.stop()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_cosyvoice"

    gone = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=zeroconf_info(free_tcp_port(), "gone")
    )
    assert gone["type"] is FlowResultType.ABORT
    assert gone["reason"] == "cannot_connect"
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_options_flow_offers_server_voices(hass: HomeAssistant, cosyvoice_server: ServerProcess) -> None:
    address = {CONF_HOST: cosyvoice_server.host, CONF_PORT: cosyvoice_server.port}
    entry = (await hass.config_entries.flow.async_configure(await start_user_flow(hass), address))["result"]
    await hass.async_block_till_done()

    form = await hass.config_entries.options.async_init(entry.entry_id)
    assert form["type"] is FlowResultType.FORM
    voice_selector = form["data_schema"].schema[CONF_VOICE]
    offered = [option["value"] for option in voice_selector.config["options"]]
    assert offered[0] == VOICE_BY_LANGUAGE
    assert {"english-female", "english-male", "mandarin-female"} <= set(offered)

    result = await hass.config_entries.options.async_configure(
        form["flow_id"], {CONF_VOICE: "english-male", CONF_SPEED: 1.5}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_VOICE: "english-male", CONF_SPEED: 1.5}
    assert entry.state is config_entries.ConfigEntryState.LOADED
