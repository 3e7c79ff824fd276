"""Number words for the five languages (hand-written: no library reads all the forms we need).

English: American cardinals without "and", ordinals, years ("twenty twenty four"). Chinese, Japanese and
Korean share one positional scheme (groups of four digits: 十百千 within a group, 万/億/… between groups) that
differs only in its tables: whether a leading 1 is spoken, whether zeros are spoken. Korean also has the native
numbers (하나, 둘 … 아흔아홉) used with counters.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_POSITIONAL_DIGITS = 16  # beyond four groups of four, numbers are read digit by digit


@dataclass(frozen=True)
class PositionalNumerals:
    """Reads non-negative integers in a CJK positional system described by its tables."""

    digits: tuple[str, ...]  # words for 0..9
    small_units: tuple[str, str, str]  # 十 百 千
    big_units: tuple[str, ...]  # "", 万, 亿, 万亿 (group multipliers, lowest first)
    zero: str | None = None  # spoken for skipped places (Chinese 零); None: zeros are silent
    silent_one: frozenset[str] = frozenset()  # small units before which a 1 is not spoken
    silent_one_big: frozenset[str] = frozenset()  # big units before which a group equal to 1 is not spoken
    short_leading_ten: bool = False  # 10–19 at the start read 十X, not 一十X (Chinese)
    one_thousand_before_big: bool = False  # a group of exactly 1000 before 万/億 is 一千 (Japanese 一千万)

    def cardinal(self, value: int) -> str:
        if value < 0:
            raise ValueError("cardinal() takes a non-negative integer")
        if value == 0:
            return self.digits[0]
        if len(str(value)) > MAX_POSITIONAL_DIGITS:
            return self.digit_string(str(value))
        groups = self._groups(value)
        words: list[str] = []
        pending_zero = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                pending_zero = bool(words)
                continue
            text = self._group_words(group, is_first=not words)
            if pending_zero and self.zero and not text.startswith(self.zero):
                words.append(self.zero)
            pending_zero = False
            big = self.big_units[index]
            if group == 1 and big in self.silent_one_big:
                text = ""
            elif group == 1000 and big and self.one_thousand_before_big:
                text = self.digits[1] + self.small_units[2]
            words.append(text + big)
        return "".join(words)

    def digit_string(self, digits: str) -> str:
        return "".join(self.digits[int(d)] for d in digits)

    def _groups(self, value: int) -> list[int]:
        groups = []
        while value:
            groups.append(value % 10000)
            value //= 10000
        return groups

    def _group_words(self, group: int, is_first: bool) -> str:
        words: list[str] = []
        pending_zero = False
        places = zip(f"{group:04d}", (self.small_units[2], self.small_units[1], self.small_units[0], ""))
        for digit, unit in places:
            if digit == "0":
                pending_zero = pending_zero or bool(words) or not is_first
                continue
            if pending_zero and self.zero:
                words.append(self.zero)
            pending_zero = False
            short_ten = self.short_leading_ten and is_first and not words and unit == self.small_units[0]
            if digit == "1" and unit and (unit in self.silent_one or short_ten):
                words.append(unit)
            else:
                words.append(self.digits[int(digit)] + unit)
        return "".join(words)


CHINESE = PositionalNumerals(
    digits=tuple("零一二三四五六七八九"),
    small_units=("十", "百", "千"),
    big_units=("", "万", "亿", "万亿"),
    zero="零",
    short_leading_ten=True,
)
JAPANESE = PositionalNumerals(
    digits=tuple("〇一二三四五六七八九"),
    small_units=("十", "百", "千"),
    big_units=("", "万", "億", "兆"),
    silent_one=frozenset("十百千"),
    one_thousand_before_big=True,
)
KOREAN_SINO = PositionalNumerals(
    digits=("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"),
    small_units=("십", "백", "천"),
    big_units=("", "만", "억", "조"),
    silent_one=frozenset("십백천"),
    silent_one_big=frozenset({"만"}),
)

# --- Korean native numbers (used with counters such as 개, 명, 시) ---------------------------------------------

_KOREAN_NATIVE_ONES = ("", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉")
_KOREAN_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
_KOREAN_ATTRIBUTIVE = {"하나": "한", "둘": "두", "셋": "세", "넷": "네"}


def korean_native(value: int, attributive: bool = True) -> str | None:
    """Native Korean number 1..99 (attributive form before a counter: 한, 두, 세, 네, 스무); None outside."""
    if not 1 <= value <= 99:
        return None
    tens, ones = _KOREAN_NATIVE_TENS[value // 10], _KOREAN_NATIVE_ONES[value % 10]
    if attributive:
        if value == 20:
            return "스무"
        ones = _KOREAN_ATTRIBUTIVE.get(ones, ones)
    return tens + ones


# --- English ------------------------------------------------------------------------------------------------

_EN_ONES_LIST = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
_EN_ONES = tuple(_EN_ONES_LIST.split())
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_EN_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_EN_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def english_cardinal(value: int) -> str:
    """American English cardinal, no "and": 1299 → "one thousand two hundred ninety nine"."""
    if value < 0:
        return "minus " + english_cardinal(-value)
    if value >= 10**15:
        return " ".join(_EN_ONES[int(d)] for d in str(value))
    if value < 20:
        return _EN_ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return _EN_TENS[tens] + (" " + _EN_ONES[ones] if ones else "")
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return _EN_ONES[hundreds] + " hundred" + (" " + english_cardinal(rest) if rest else "")
    for scale, name in _EN_SCALES:
        if value >= scale:
            high, rest = divmod(value, scale)
            return english_cardinal(high) + " " + name + (" " + english_cardinal(rest) if rest else "")
    raise AssertionError("unreachable")


def english_ordinal(value: int) -> str:
    """21 → "twenty first"."""
    words = english_cardinal(value).split(" ")
    last = words[-1]
    if last in _EN_ORDINAL_IRREGULAR:
        words[-1] = _EN_ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def english_year(year: int) -> str:
    """2024 → "twenty twenty four", 1905 → "nineteen oh five", 2005 → "two thousand five", 1900 → "nineteen hundred"."""
    if year < 1000 or year >= 10000 or 2000 <= year <= 2009:
        return english_cardinal(year)
    high, low = divmod(year, 100)
    if low == 0:
        return english_cardinal(high) + " hundred"
    if low < 10:
        return english_cardinal(high) + " oh " + _EN_ONES[low]
    return english_cardinal(high) + " " + english_cardinal(low)


def english_digits(digits: str) -> str:
    return " ".join(_EN_ONES[int(d)] for d in digits)
