"""Adding a CosyVoice server (by hand or found by zeroconf) and choosing its default voice and speed.

Owns: the host/port form and its errors, zeroconf discovery of `_wyoming._tcp` services that turn out to be
CosyVoice (anything else is aborted), the confirm step, the unique id `host:port`, and the options flow.
Every server is checked by a real `describe` round trip.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from wyoming.info import TtsProgram

from .catalog import VoiceCatalog
from .client import CosyVoiceError, NotCosyVoice, async_get_program
from .const import (
    CONF_SPEED,
    CONF_VOICE,
    DEFAULT_PORT,
    DEFAULT_SPEED,
    DOMAIN,
    MAX_SPEED,
    MIN_SPEED,
    VOICE_BY_LANGUAGE,
)
from .models import CosyVoiceConfigEntry

USER_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): str,
        vol.Required(CONF_PORT, default=DEFAULT_PORT): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
    }
)


def _error_key(err: CosyVoiceError) -> str:
    return "not_cosyvoice" if isinstance(err, NotCosyVoice) else "cannot_connect"


class CosyVoiceConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds one CosyVoice server as a config entry."""

    VERSION = 1

    def __init__(self) -> None:
        self._host = ""
        self._port = DEFAULT_PORT
        self._program: TtsProgram | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: CosyVoiceConfigEntry) -> CosyVoiceOptionsFlow:
        return CosyVoiceOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for host and port; create the entry once the server answers as CosyVoice."""
        errors: dict[str, str] = {}
        placeholders = {"detail": ""}
        if user_input is not None:
            try:
                await self._async_check(user_input[CONF_HOST].strip(), user_input[CONF_PORT])
            except CosyVoiceError as err:
                errors["base"] = _error_key(err)
                placeholders["detail"] = str(err)
            else:
                await self.async_set_unique_id(self._unique_id())
                self._abort_if_unique_id_configured()
                return self._create_entry()
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A `_wyoming._tcp` service appeared: keep it only if it is a CosyVoice TTS server."""
        try:
            await self._async_check(discovery_info.host, discovery_info.port or DEFAULT_PORT)
        except CosyVoiceError as err:
            return self.async_abort(reason=_error_key(err))
        await self.async_set_unique_id(self._unique_id())
        self._abort_if_unique_id_configured()
        self.context["title_placeholders"] = {"name": self._title()}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Let the user accept the discovered server."""
        if user_input is not None:
            return self._create_entry()
        self._set_confirm_only()
        return self.async_show_form(
            step_id="zeroconf_confirm",
            description_placeholders={"name": self._title(), "host": self._host, "port": str(self._port)},
        )

    async def _async_check(self, host: str, port: int) -> None:
        self._program = await async_get_program(host, port)
        self._host, self._port = host, port

    def _unique_id(self) -> str:
        return f"{self._host.lower()}:{self._port}"

    def _title(self) -> str:
        return f"CosyVoice ({self._host}:{self._port})"

    def _create_entry(self) -> ConfigFlowResult:
        return self.async_create_entry(title=self._title(), data={CONF_HOST: self._host, CONF_PORT: self._port})


class CosyVoiceOptionsFlow(OptionsFlow):
    """Default voice and speaking rate of a CosyVoice entry; the voices come from the server itself."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        entry = self.config_entry
        try:
            program = await async_get_program(entry.data[CONF_HOST], entry.data[CONF_PORT])
        except CosyVoiceError as err:
            return self.async_abort(reason=_error_key(err), description_placeholders={"detail": str(err)})
        return self.async_show_form(step_id="init", data_schema=self._schema(program))

    def _schema(self, program: TtsProgram) -> vol.Schema:
        choices = [SelectOptionDict(value=VOICE_BY_LANGUAGE, label="By language")]
        choices += [
            SelectOptionDict(value=name, label=label) for name, label in VoiceCatalog(program).descriptions.items()
        ]
        options = self.config_entry.options
        return vol.Schema(
            {
                vol.Required(CONF_VOICE, default=options.get(CONF_VOICE, VOICE_BY_LANGUAGE)): SelectSelector(
                    SelectSelectorConfig(options=choices, translation_key=CONF_VOICE)
                ),
                vol.Required(CONF_SPEED, default=options.get(CONF_SPEED, DEFAULT_SPEED)): NumberSelector(
                    NumberSelectorConfig(min=MIN_SPEED, max=MAX_SPEED, step=0.05, mode=NumberSelectorMode.SLIDER)
                ),
            }
        )
