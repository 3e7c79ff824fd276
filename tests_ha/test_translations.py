"""Translations: every language file has the keys and placeholders of strings.json, and Home Assistant loads them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from custom_components.cosyvoice.const import DOMAIN

INTEGRATION = Path(__file__).resolve().parents[1] / "custom_components" / DOMAIN
LANGUAGES = ("en", "zh-Hans")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted key → text of a nested translation file."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read(path: Path) -> dict[str, str]:
    return flatten(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("language", LANGUAGES)
def test_translation_has_every_key_and_placeholder_of_strings_json(language: str) -> None:
    source = read(INTEGRATION / "strings.json")
    translated = read(INTEGRATION / "translations" / f"{language}.json")
    assert set(translated) == set(source)
    for key, text in source.items():
        if text.startswith("[%key:"):
            continue  # a reference into Home Assistant's common strings, resolved by its translation script
        assert set(PLACEHOLDER.findall(translated[key])) == set(PLACEHOLDER.findall(text)), key


async def test_home_assistant_serves_the_chinese_config_flow_texts(hass: HomeAssistant) -> None:
    translations = await async_get_translations(hass, "zh-Hans", "config", [DOMAIN])
    expected = read(INTEGRATION / "translations" / "zh-Hans.json")
    assert translations[f"component.{DOMAIN}.config.step.user.title"] == expected["config.step.user.title"]
