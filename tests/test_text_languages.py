"""Language segmentation of mixed text: runs of zh / en / ja / ko / yue and how the voice decides Han text."""

from __future__ import annotations

import pytest

from wyoming_cosyvoice.text import TextFrontend, language_runs


def runs(text: str, voice: str) -> list[tuple[str, str]]:
    return [(run.language, run.text) for run in language_runs(text, voice)]


def test_runs_cover_the_text_exactly() -> None:
    text = "Hello，今天天气真不错! 東京の天気はsunnyです。 배터리가 15% 남았습니다. Mixed 日本語 and 中文."
    assert "".join(run.text for run in language_runs(text, "zh")) == text


def test_latin_words_in_a_chinese_sentence_are_english_runs() -> None:
    assert runs("Home Assistant提醒您：Garage door已经打开了。", "zh") == [
        ("en", "Home Assistant"),
        ("zh", "提醒您："),
        ("en", "Garage door"),
        ("zh", "已经打开了。"),
    ]


def test_number_and_its_unit_or_meridiem_belong_to_the_sentence_language() -> None:
    assert runs("今天的meeting改到3:30 PM了。", "zh") == [
        ("zh", "今天的"),
        ("en", "meeting"),
        ("zh", "改到3:30 PM了。"),
    ]
    assert runs("速度是60km/h。", "en") == [("zh", "速度是60km/h。")]
    assert runs("今天的temperature是25°C。", "zh")[-1] == ("zh", "是25°C。")


def test_numbers_in_an_english_sentence_are_english_for_any_voice() -> None:
    assert runs("Battery at 15%", "zh") == [("en", "Battery at 15%")]
    assert runs("Mixed 日本語 and 中文 in one line.", "zh")[0] == ("en", "Mixed ")


def test_text_without_letters_takes_the_voice_language() -> None:
    for voice in ("zh", "en", "ja", "ko", "yue"):
        assert runs("07:05", voice) == [(voice, "07:05")]


def test_kana_makes_han_japanese_whatever_the_voice() -> None:
    assert runs("3時半に会議があります", "zh") == [("ja", "3時半に会議があります")]
    assert runs("東京の天気はsunnyです。", "en") == [("ja", "東京の天気は"), ("en", "sunny"), ("ja", "です。")]


@pytest.mark.parametrize(
    ("voice", "expected"), [("ja", "ja"), ("yue", "yue"), ("zh", "zh"), ("en", "zh"), ("ko", "zh")]
)
def test_voice_decides_han_only_text(voice: str, expected: str) -> None:
    assert runs("3時半", voice) == [(expected, "3時半")]


def test_hangul_sentence_is_korean() -> None:
    assert runs("사과 3개를 샀어요.", "en") == [("ko", "사과 3개를 샀어요.")]


def test_each_sentence_gets_its_own_language() -> None:
    assert runs("Battery at 15%. 电池还剩15%。", "zh") == [("en", "Battery at 15%."), ("zh", " 电池还剩15%。")]


def test_voice_language_changes_the_reading_of_han_numbers() -> None:
    frontend = TextFrontend()
    assert frontend.normalize("3時半", "ja") == "三時半"
    assert frontend.normalize("100円", "ja") == "百円"
    assert frontend.normalize("100円", "zh") == "一百円"
    assert frontend.normalize("2.5公里", "yue") == "二點五公里"
    assert frontend.normalize("2.5公里", "zh") == "二点五公里"
    assert frontend.normalize("3時半に会議", "zh") == "三時半に会議"


def test_mixed_text_is_normalised_run_by_run() -> None:
    frontend = TextFrontend()
    text = "The living room is 21.5°C. 客厅温度21.5℃。 気温は-3℃です。 기온은 -5도입니다."
    assert frontend.normalize(text, "en") == (
        "The living room is twenty one point five degrees Celsius. 客厅温度二十一点五摄氏度。 "
        "気温はマイナス三度です。 기온은 영하 오도입니다."
    )


def test_unknown_voice_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        language_runs("hello", "de")
