"""The rewriting engine shared by the languages (hand-written).

`RuleSet` applies an ordered list of regex rules in one left-to-right pass (linear in the text): at each
position the first rule in list order that matches wins and its handler returns the spoken form. `Number`
parses a written number. The pattern pieces here are the written forms all languages share.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

Handler = Callable[[re.Match[str]], str]

# 1,000,000 or 1000: at most 21 digits (longer digit strings are read digit by digit), never backtracking
INT = r"(?:(?<![\d,])\d{1,3}(?:,\d{3}){1,6}+(?!\d|,\d)|(?<!\d)\d{1,18}+(?!\d))"
NUMBER = rf"{INT}(?:\.\d{{1,18}}+)?"
SIGN = r"(?:(?<![A-Za-z0-9.,:/%‰℃°-])-)?"
SIGNED = rf"{SIGN}{NUMBER}"
MERIDIEM = r"(?i:[ap]\.?\s?m(?![A-Za-z])\.?)"
HOUR_MERIDIEM = rf"(?<![\d.:,])(\d{{1,2}})\s?({MERIDIEM})"
YEAR_SEP_DATE = r"(?<![\d.])(\d{4})[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])(?![\d])"
YEAR_LAST_DATE = r"(?<![\d.])(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?![\d])"
TIME = rf"(?<![\d:.])([01]?\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?(?![\d:])(?:\s?({MERIDIEM}))?"
RATIO = r"(?<![\d:.])(\d{1,6}):(\d)(?![\d:])"
PHONE = (
    r"(?<![\d-])(?:\+\d{1,3}(?:[\s-]\d{1,5}){2,5}|\(\d{2,4}\)\s?\d{3,4}-\d{4}"
    r"|\d{1,4}(?:-\d{2,8}){2,3}|0\d{1,3}-\d{5,8}|\d{2,4}-\d{7,8}|\d{3}-\d{4}|\d{3}\.\d{3}\.\d{4})(?![\d-])"
)
LONG_DIGITS = r"(?<![\d.,])(0\d{2,}|\d{10,})(?![\d]|[.,]\d)"
FRACTION = r"(?<![\d/.])(\d{1,6})/(\d{1,6})(?![\d/]|\.\d)"
RANGE = rf"({SIGNED})(?:-|\s?[~〜～]\s?)(?=-?\d)"
# a range mark after a number already read (10:30-11:30, 45%-50%, 10時〜12時); "-" only after digits or symbols
RANGE_AFTER_SYMBOL = r"(?<=[\d%‰℃℉°])\s?[-~〜～]\s?(?=-?\d)|(?<=\w)\s?[~〜～]\s?(?=\d)"
PERCENT = rf"({SIGNED})\s?([%‰])"
ANGLE = rf"({SIGNED})\s?°(?!\s?[CFcf]\b)"


def alternatives(words: list[str] | set[str] | dict[str, object]) -> str:
    """A regex alternation of literal words, longest first (so "km/h" wins over "km")."""
    return "|".join(re.escape(word) for word in sorted(words, key=lambda w: (-len(w), w)))


@dataclass(frozen=True)
class Number:
    """A written number split into sign, integer digits and fraction digits ("-1,368.50" → -, 1368, 50)."""

    negative: bool
    integer: str
    fraction: str

    @classmethod
    def parse(cls, text: str) -> Number:
        text = text.replace(",", "").strip()
        negative = text.startswith("-")
        integer, _, fraction = text.lstrip("-").partition(".")
        return cls(negative, integer or "0", fraction)

    @property
    def value(self) -> int:
        return int(self.integer)

    @property
    def is_integer(self) -> bool:
        return not self.fraction

    def decimal(self) -> Decimal:
        return Decimal(("-" if self.negative else "") + self.integer + ("." + self.fraction if self.fraction else ""))

    def scaled(self, factor: int) -> Number:
        """The number multiplied by an integer factor (for "2.5 million", "3万")."""
        value = self.decimal() * factor
        text = format(value.normalize(), "f") if value != value.to_integral() else str(int(value))
        return Number.parse(text)

    def positive(self) -> Number:
        return Number(False, self.integer, self.fraction)


@dataclass(frozen=True)
class Rule:
    """One written form: its pattern and the handler that returns its spoken form."""

    name: str
    pattern: str
    handler: Handler


class RuleSet:
    """Applies ordered rules in one pass; handlers see a match of their own pattern (their own groups)."""

    def __init__(self, rules: list[Rule], pad_with_spaces: bool = False) -> None:
        names = [rule.name for rule in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate rule names in {names}")
        self._rules = {rule.name: (re.compile(rule.pattern), rule.handler) for rule in rules}
        combined = "|".join(f"(?P<{rule.name}>{_unnamed(rule.pattern)})" for rule in rules)
        self._combined = re.compile(combined)
        self._pad = pad_with_spaces

    def apply(self, text: str) -> str:
        return self._combined.sub(self._dispatch, text)

    def _dispatch(self, match: re.Match[str]) -> str:
        name = match.lastgroup
        assert name is not None
        regex, handler = self._rules[name]
        own = regex.match(match.string, match.start())
        assert own is not None and own.end() == match.end(), f"rule {name} matched differently on its own"
        spoken = handler(own)
        if self._pad and spoken:
            text, start, end = match.string, match.start(), match.end()
            if start > 0 and text[start - 1].isalnum() and spoken[0].isalnum():
                spoken = " " + spoken
            if end < len(text) and text[end].isalnum() and spoken[-1].isalnum():
                spoken += " "
        return spoken


def _unnamed(pattern: str) -> str:
    if re.search(r"\(\?P=|\\\d", pattern):
        raise ValueError(f"rule patterns must not use back-references: {pattern}")
    return re.sub(r"\(\?P<\w+>", "(", pattern)


def keeps_sentence_period(text: str, end: int) -> bool:
    """Whether a period that ends an abbreviation at `end` also ends the sentence."""
    rest = text[end : end + 3]
    return not rest.strip() or rest.startswith("\n") or bool(re.match(r"\s+[A-Z\u3000-\u9fff]", rest))
