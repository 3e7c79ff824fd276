"""Language segmentation: which language each part of a (possibly mixed) text is read in (hand-written).

Text is cut into context sentences; each gets a *matrix* language, the one its numbers and symbols are read in:
- a sentence with CJK characters (at least 1.5 per Latin word) is CJK: Japanese when it has kana,
  Korean when Hangul outnumbers Han characters, otherwise the Han language;
- other sentences are English; a sentence with no letters at all takes the voice's language.
The Han language decides text written only in Chinese characters: Japanese if the sentence has kana, otherwise
the voice's language when that is Japanese or Cantonese (so 3時半 gets a Japanese reading for a Japanese voice
and Cantonese keeps Traditional characters), otherwise Mandarin.
Inside a sentence, letters keep their own script's language (a Latin word in a Chinese sentence is an English
run; kana is always Japanese), except a Latin word right after a number (units, AM/PM, "15 Pro"), which belongs
to the matrix so "3:30 PM" is read as one time (and is not counted as a Latin word above). Digits, symbols and
spaces belong to the matrix, spaces between two words of the same language to that language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

LANGUAGES = ("zh", "en", "ja", "ko", "yue")

HAN = "\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
KANA = "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
HANGUL = "\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff"
LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff\u1e00-\u1eff"

STRONG_RUN = re.compile(f"(?P<han>[{HAN}]+)|(?P<kana>[{KANA}]+)|(?P<hangul>[{HANGUL}]+)|(?P<latin>[{LATIN}]+)")
CONTEXT_END = re.compile(r"[。！？!?\n]+|[.;；](?=\s)")
AFTER_NUMBER = re.compile(r"\d ?(?:°|[A-Za-zµμ]{1,8}/)?$")  # "3 PM", "25°C", "60km/h"
AFTER_NUMBER_WINDOW = 12


@dataclass(frozen=True)
class Run:
    """A stretch of text read by the rules of one language."""

    text: str
    language: str


def is_wide(char: str) -> bool:
    """CJK ideographs, kana, Hangul and full-width characters (East Asian width W or F)."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")
    return language


def language_runs(text: str, voice_language: str) -> list[Run]:
    """Split text into runs of zh / en / ja / ko / yue (see the module docstring for the rules)."""
    check_language(voice_language)
    pieces: list[Run] = []
    start = 0
    for end_match in CONTEXT_END.finditer(text):
        pieces += _context_runs(text[start : end_match.end()], voice_language)
        start = end_match.end()
    if start < len(text):
        pieces += _context_runs(text[start:], voice_language)
    return _merge(pieces)


def _merge(pieces: list[Run]) -> list[Run]:
    """Adjacent pieces of the same language as one run (joined once: linear in the text)."""
    runs: list[Run] = []
    group: list[str] = []
    for index, piece in enumerate(pieces):
        group.append(piece.text)
        if index + 1 == len(pieces) or pieces[index + 1].language != piece.language:
            runs.append(Run("".join(group), piece.language))
            group = []
    return runs


def _context_runs(sentence: str, voice_language: str) -> list[Run]:
    strong = [(m.start(), m.end(), _script(sentence, m)) for m in STRONG_RUN.finditer(sentence)]
    matrix, han_language = _matrix_language(strong, voice_language)
    script_language = {"han": han_language, "kana": "ja", "hangul": "ko", "latin": "en", "unit": matrix}
    labels = [matrix] * len(sentence)
    previous: tuple[int, str] | None = None  # end and language of the previous strong run
    for start, end, script in strong:
        language = script_language[script]
        labels[start:end] = [language] * (end - start)
        if previous and previous[1] == language and sentence[previous[0] : start].isspace():
            labels[previous[0] : start] = [language] * (start - previous[0])
        previous = (end, language)
    return _fill(sentence, labels)


def _fill(sentence: str, labels: list[str]) -> list[Run]:
    runs: list[Run] = []
    start = 0
    for index in range(1, len(labels) + 1):
        if index == len(labels) or labels[index] != labels[start]:
            runs.append(Run(sentence[start:index], labels[start]))
            start = index
    return runs


def _script(sentence: str, match: re.Match[str]) -> str:
    """The script of a strong run; a Latin word right after a number ("unit") belongs to the number."""
    script = match.lastgroup or ""
    if script == "latin" and AFTER_NUMBER.search(sentence, max(0, match.start() - AFTER_NUMBER_WINDOW), match.start()):
        return "unit"
    return script


def _matrix_language(strong: list[tuple[int, int, str]], voice_language: str) -> tuple[str, str]:
    """The sentence's matrix language and the language its Han characters are read in."""
    counts = {"han": 0, "kana": 0, "hangul": 0, "latin": 0, "unit": 0}
    for start, end, script in strong:
        counts[script] += 1 if script == "latin" else end - start
    cjk = counts["han"] + counts["kana"] + counts["hangul"]
    if counts["kana"]:
        han_language = "ja"
    elif voice_language in ("ja", "yue"):
        han_language = voice_language
    else:
        han_language = "zh"
    if cjk == 0:
        return ("en" if counts["latin"] else voice_language), han_language
    if 2 * cjk < 3 * counts["latin"]:  # a Latin word is worth about 1.5 CJK syllables
        return "en", han_language
    if counts["kana"]:
        return "ja", han_language
    if counts["hangul"] > counts["han"]:
        return "ko", han_language
    return han_language, han_language
