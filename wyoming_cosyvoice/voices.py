"""The seven CosyVoice-300M-SFT speakers as Wyoming voices, and how a request picks one.

Owns: stable ASCII voice names, their descriptions and language codes, the mapping from a request's voice
name / speaker / language to a speaker of the model and the language hint for the text frontend.
"""

from __future__ import annotations

from dataclasses import dataclass

from wyoming.info import Attribution, TtsVoice

ATTRIBUTION = Attribution(name="FunAudioLLM/CosyVoice", url="https://github.com/FunAudioLLM/CosyVoice")
MODEL_LICENCE = "Apache-2.0"


@dataclass(frozen=True)
class Voice:
    """One SFT speaker of the model, as Home Assistant sees it."""

    name: str
    """Stable ASCII name used on the wire."""
    speaker: str
    """Key of the speaker in the model's spk2info.pt."""
    language: str
    """Frontend language of the speaker: zh, en, ja, ko or yue."""
    description: str
    language_codes: tuple[str, ...]
    """Codes under which Home Assistant users find the voice."""

    def to_info(self, version: str) -> TtsVoice:
        return TtsVoice(
            name=self.name,
            description=f"{self.description} — {self.speaker} (CosyVoice-300M-SFT, {MODEL_LICENCE})",
            attribution=ATTRIBUTION,
            installed=True,
            version=version,
            languages=list(self.language_codes),
        )


VOICES: tuple[Voice, ...] = (
    Voice("mandarin-female", "中文女", "zh", "Mandarin, female", ("zh-CN", "zh-Hans", "zh", "zh-TW")),
    Voice("mandarin-male", "中文男", "zh", "Mandarin, male", ("zh-CN", "zh-Hans", "zh", "zh-TW")),
    Voice("cantonese-female", "粤语女", "yue", "Cantonese, female", ("zh-HK", "yue")),
    Voice("english-female", "英文女", "en", "English, female", ("en", "en-US", "en-GB")),
    Voice("english-male", "英文男", "en", "English, male", ("en", "en-US", "en-GB")),
    Voice("japanese-male", "日语男", "ja", "Japanese, male", ("ja", "ja-JP")),
    Voice("korean-female", "韩语女", "ko", "Korean, female", ("ko", "ko-KR")),
)
DEFAULT_VOICE = "english-female"

_PREFERRED_BY_LANGUAGE = {
    "zh": "mandarin-female",
    "yue": "cantonese-female",
    "en": "english-female",
    "ja": "japanese-male",
    "ko": "korean-female",
}


class UnknownVoiceError(ValueError):
    """A request names a voice, speaker or language this server does not have."""


def frontend_language(code: str) -> str | None:
    """Map a language code as Home Assistant sends it (zh-CN, zh-hk, en_US, yue …) to zh/en/ja/ko/yue."""
    parts = code.replace("_", "-").lower().split("-")
    primary = parts[0]
    if primary in ("yue", "zh") and ({"hk", "mo", "yue"} & set(parts[1:]) or primary == "yue"):
        return "yue"
    if primary in ("zh", "cmn"):
        return "zh"
    if primary in ("en", "ja", "ko"):
        return primary
    return None


def find_voice(name: str, voices: tuple[Voice, ...] = VOICES) -> Voice | None:
    """A voice by its ASCII name or its spk2info speaker key."""
    return next((v for v in voices if name in (v.name, v.speaker)), None)


@dataclass(frozen=True)
class VoiceChoice:
    """The speaker and the frontend language one request is synthesised with."""

    voice: Voice
    language: str


def choose_voice(
    name: str | None,
    speaker: str | None,
    language: str | None,
    default: Voice,
    voices: tuple[Voice, ...] = VOICES,
) -> VoiceChoice:
    """Pick the voice for a request.

    Order: an explicit speaker, then the voice name, then the best voice for the language, then the default.
    A name that is a language code selects by language (wyoming 1.7.2 turns a language-only voice into a name).
    The frontend language is the request's language when it names one we read, else the voice's own.
    """
    hint = frontend_language(language) if language else None
    for requested in (speaker, name):
        if not requested:
            continue
        voice = find_voice(requested, voices)
        if voice is None:
            as_language = frontend_language(requested)
            if as_language is None:
                raise UnknownVoiceError(
                    f"Unknown voice {requested!r}. Available voices: {', '.join(v.name for v in voices)}"
                )
            voice = find_voice(_PREFERRED_BY_LANGUAGE[as_language], voices) or default
            hint = hint or as_language
        return VoiceChoice(voice, hint or voice.language)
    if language and hint is None:
        raise UnknownVoiceError(
            f"Unsupported language {language!r}. Supported: zh, yue (zh-HK), en, ja, ko"
        )
    if hint:
        return VoiceChoice(find_voice(_PREFERRED_BY_LANGUAGE[hint], voices) or default, hint)
    return VoiceChoice(default, default.language)


def available_voices(speakers: list[str] | set[str]) -> tuple[Voice, ...]:
    """The voices whose speaker the loaded model carries, in our fixed order."""
    return tuple(v for v in VOICES if v.speaker in speakers)
