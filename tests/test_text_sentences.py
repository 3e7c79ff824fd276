"""Sentence splitting and segments: no text lost, no split inside numbers/abbreviations, incremental equals
one-shot, sizes within the model's limits, linear behaviour on 100,000 characters."""

from __future__ import annotations

import random
import re

import pytest

from wyoming_cosyvoice.text import TextFrontend
from wyoming_cosyvoice.text.segments import (
    FIRST_MAX_TOKENS,
    MAX_TOKENS,
    MERGE_MIN_TOKENS,
)
from wyoming_cosyvoice.text.sentences import MAX_SENTENCE_CHARS, SentenceSplitter

MIXED = (
    "Dr. Smith paid $3.14 at 07:05 a.m. Then he left. It costs 1,000 dollars! e.g. this one… "
    "你好。今天气温21.5℃，湿度45%！“真的吗？”他问。Is it ok?! Yes... 本当に？はい。3時半に会議があります。"
    "배터리가 15% 남았습니다. 사과 3개를 샀어요!\n新的一行\n\nVisit https://www.home-assistant.io/integrations now. "
    "Mr. Jones arrived at 5 p.m. Mrs. Brown lives on Baker St. 而家係下晝3點30分；氣溫28度。The end"
)


def split_at_once(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.finish()


def split_in_pieces(text: str, sizes: list[int]) -> list[str]:
    splitter = SentenceSplitter()
    sentences, position, index = [], 0, 0
    while position < len(text):
        size = sizes[index % len(sizes)]
        sentences += splitter.feed(text[position : position + size])
        position, index = position + size, index + 1
    return sentences + splitter.finish()


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    return TextFrontend()


def test_no_text_is_lost() -> None:
    assert squeeze("".join(split_at_once(MIXED))) == squeeze(MIXED)


def test_sentences_end_where_expected() -> None:
    assert split_at_once(MIXED)[:6] == [
        "Dr. Smith paid $3.14 at 07:05 a.m.",
        "Then he left.",
        "It costs 1,000 dollars!",
        "e.g. this one…",
        "你好。",
        "今天气温21.5℃，湿度45%！",
    ]
    assert "“真的吗？”" in split_at_once(MIXED)  # closing quote stays with its sentence


@pytest.mark.parametrize(
    "protected",
    [
        "3.14",
        "07:05",
        "Dr. Smith",
        "1,000",
        "e.g. this",
        "Mr. Jones",
        "home-assistant.io",
        "J. R. Smith",
        "Mt. Fuji",
        "No. 5",
    ],
)
def test_no_split_inside_numbers_times_or_abbreviations(protected: str) -> None:
    text = f"First sentence here. Then {protected} appears in the middle of a sentence. Last one."
    assert any(protected in sentence for sentence in split_at_once(text))


@pytest.mark.parametrize("text", [MIXED, MIXED * 3, "A. B. C.", "...", "3.", "a.m. A", "Hi!!! ?? 。。。 ok"])
def test_incremental_equals_one_shot(text: str) -> None:
    expected = split_at_once(text)
    assert split_in_pieces(text, [1]) == expected
    assert split_in_pieces(text, [2, 3, 5, 7]) == expected
    generator = random.Random(7)
    assert split_in_pieces(text, [generator.randint(1, 40) for _ in range(50)]) == expected


def test_stream_segments_equal_one_shot_segments(frontend: TextFrontend) -> None:
    for language in ("en", "zh", "ja", "ko", "yue"):
        expected = frontend.segments(MIXED * 2, language)
        stream = frontend.sentence_stream(language)
        streamed = []
        for char in MIXED * 2:
            streamed += stream.feed(char)
        streamed += stream.finish()
        assert streamed == expected


def test_stream_returns_finished_sentences_before_the_end(frontend: TextFrontend) -> None:
    stream = frontend.sentence_stream("en")
    assert stream.feed("Garage door opened at 07:05") == []
    first = stream.feed(". The lights are")
    assert [s.text for s in first] == ["Garage door opened at seven o five."]
    rest = stream.feed(" on.") + stream.finish()
    assert [s.text for s in rest] == ["The lights are on."]
    assert stream.finish() == []
    with pytest.raises(RuntimeError, match="finished"):
        stream.feed("more")


def test_stream_rejects_non_strings(frontend: TextFrontend) -> None:
    with pytest.raises(TypeError, match="strings"):
        frontend.sentence_stream("en").feed(None)  # type: ignore[arg-type]


def test_segments_keep_all_speakable_text(frontend: TextFrontend) -> None:
    for language in ("en", "zh"):
        segments = frontend.segments(MIXED, language)
        spoken = "".join(squeeze(s.text) for s in segments)
        expected = "".join(squeeze(frontend.normalize(sentence, language)) for sentence in split_at_once(MIXED))
        assert re.sub(r"\W", "", spoken) == re.sub(r"\W", "", expected)
        assert all(s.token_ids == frontend.tokenize(s.text) for s in segments)


def test_first_segment_short_later_ones_merged(frontend: TextFrontend) -> None:
    text = " ".join(f"Sentence number {n} is here and it is fine." for n in range(1, 60))
    segments = frontend.segments(text, "en")
    sizes = [len(s.token_ids) for s in segments]
    assert sizes[0] <= FIRST_MAX_TOKENS
    assert all(MERGE_MIN_TOKENS <= size <= MAX_TOKENS for size in sizes[1:-1]), sizes
    assert sizes[-1] <= MAX_TOKENS


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("word " * 2000, "en"),
        ("我们今天去公园玩然后回家吃饭" * 300, "zh"),
        ("a" * 5000, "en"),
        ("非常に長い文章が続きます、" * 200, "ja"),
        ("1234567 " * 500, "en"),
    ],
)
def test_long_text_without_sentence_punctuation_is_still_cut(frontend: TextFrontend, text: str, language: str) -> None:
    segments = frontend.segments(text, language)
    assert len(segments) > 1
    assert len(segments[0].token_ids) <= FIRST_MAX_TOKENS
    assert max(len(s.token_ids) for s in segments) <= MAX_TOKENS


def test_one_hundred_thousand_characters(frontend: TextFrontend) -> None:
    text = (
        "Home Assistant says the living room is at 21.5°C and the humidity is 45%. 客厅温度21.5℃，湿度45%。" * 1500
    )[:100_000]
    segments = frontend.segments(text, "en")
    assert len(segments) > 500
    assert max(len(s.token_ids) for s in segments) <= MAX_TOKENS
    splitter, sentences = SentenceSplitter(), []
    for char in "x" * 100_000:  # no boundary anywhere: memory stays bounded
        sentences += splitter.feed(char)
        assert splitter.pending_chars <= MAX_SENTENCE_CHARS + 1
    sentences += splitter.finish()
    assert sum(map(len, sentences)) == 100_000 and max(map(len, sentences)) <= MAX_SENTENCE_CHARS
