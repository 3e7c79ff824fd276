"""The server's voices as Home Assistant sees them: by language, sorted, with a deterministic default language.

Owns: reading voices and languages from the CosyVoice program's `info`, the voice list per language, which
voices speak a language, and choosing the default language.
"""

from __future__ import annotations

from collections import defaultdict

from homeassistant.components.tts import Voice
from wyoming.info import TtsProgram

FALLBACK_LANGUAGE = "en"


def _primary(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


class VoiceCatalog:
    """Voices and languages of one CosyVoice program, in a stable order."""

    def __init__(self, program: TtsProgram) -> None:
        self._by_language: dict[str, list[Voice]] = defaultdict(list)
        self.descriptions: dict[str, str] = {}
        """Voice name → readable description, sorted by description."""
        installed = sorted(
            (voice for voice in program.voices if voice.installed),
            key=lambda voice: ((voice.description or voice.name).casefold(), voice.name),
        )
        for voice in installed:
            label = voice.description or voice.name
            self.descriptions[voice.name] = label
            for language in voice.languages:
                self._by_language[language].append(Voice(voice_id=voice.name, name=label))
        self.languages: list[str] = sorted(self._by_language)

    def voices(self, language: str) -> list[Voice] | None:
        return self._by_language.get(language)

    def speaks(self, voice_name: str, language: str) -> bool:
        """Whether `voice_name` is one of the voices listed under `language`."""
        return any(voice.voice_id == voice_name for voice in self._by_language.get(language, ()))

    def default_language(self, preferred: str) -> str:
        """`preferred` (Home Assistant's language) if offered, else a language of its family, else English,
        else the first language in sorted order."""
        family = [language for language in self.languages if _primary(language) == _primary(preferred)]
        candidates = [preferred, _primary(preferred), *family, FALLBACK_LANGUAGE, *self.languages]
        for language in candidates:
            if language in self._by_language:
                return language
        raise ValueError("the server offers no installed voice")
