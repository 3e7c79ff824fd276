"""Choosing a speaker and a frontend language from what a Wyoming request carries."""

import pytest

from wyoming_cosyvoice.voices import (
    VOICES,
    UnknownVoiceError,
    available_voices,
    choose_voice,
    find_voice,
    frontend_language,
)

DEFAULT = find_voice("english-female")


def pick(name=None, speaker=None, language=None):
    choice = choose_voice(name, speaker, language, DEFAULT)
    return choice.voice.name, choice.language


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh", "zh"), ("zh-TW", "zh"), ("zh-HK", "yue"), ("zh_hk", "yue"),
     ("yue", "yue"), ("en-US", "en"), ("en", "en"), ("ja", "ja"), ("ko-KR", "ko"), ("de", None), ("", None)],
)
def test_language_codes(code, expected):
    assert frontend_language(code) == expected


def test_seven_voices_with_ascii_names_and_unique_speakers():
    assert len(VOICES) == 7
    assert all(v.name.isascii() for v in VOICES)
    assert {v.speaker for v in VOICES} == {"中文女", "中文男", "日语男", "粤语女", "英文女", "英文男", "韩语女"}


def test_selection_order():
    assert pick() == ("english-female", "en")
    assert pick(name="japanese-male") == ("japanese-male", "ja")
    assert pick(name="中文男") == ("mandarin-male", "zh")
    assert pick(name="english-male", speaker="韩语女") == ("korean-female", "ko")
    assert pick(language="zh-HK") == ("cantonese-female", "yue")
    # wyoming 1.7.2 sends a language-only voice as a name
    assert pick(name="ko") == ("korean-female", "ko")
    # the request's language is the frontend hint; the voice stays the one asked for
    assert pick(name="english-female", language="zh-CN") == ("english-female", "zh")
    assert pick(name="mandarin-female", language="de") == ("mandarin-female", "zh")


def test_unknown_voice_and_language_are_errors():
    with pytest.raises(UnknownVoiceError, match="Unknown voice 'klingon'.*english-female"):
        pick(name="klingon")
    with pytest.raises(UnknownVoiceError, match="Unsupported language 'de'"):
        pick(language="de")


def test_available_voices_follow_the_model():
    assert [v.name for v in available_voices({"英文女", "中文女"})] == ["mandarin-female", "english-female"]
