"""The part of normalisation every language shares (hand-written): which written forms exist and in what order
they are recognised. Each language subclass says how a form is spoken (its hooks and tables).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import ClassVar

from .numerals import PositionalNumerals
from .rules import (
    ANGLE,
    FRACTION,
    HOUR_MERIDIEM,
    LONG_DIGITS,
    NUMBER,
    PERCENT,
    PHONE,
    RANGE,
    RANGE_AFTER_SYMBOL,
    RATIO,
    SIGNED,
    TIME,
    YEAR_LAST_DATE,
    YEAR_SEP_DATE,
    Number,
    Rule,
    RuleSet,
    alternatives,
    keeps_sentence_period,
)

CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "₩": "KRW", "HK$": "HKD", "RMB": "CNY"}
CURRENCY_CODES = ("USD", "EUR", "GBP", "JPY", "CNY", "RMB", "KRW", "HKD")
SCALE_FACTORS = {
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "bn": 10**9,
    "万": 10**4,
    "萬": 10**4,
    "亿": 10**8,
    "億": 10**8,
    "만": 10**4,
    "억": 10**8,
}
# Other spellings of unit symbols → the spelling the unit tables use.
UNIT_ALIASES = {
    "KG": "kg", "Kg": "kg", "KM": "km", "Km": "km", "kwh": "kWh", "KWh": "kWh", "KWH": "kWh", "KW": "kW",
    "km/hr": "km/h", "kmh": "km/h", "Km/h": "km/h", "KM/H": "km/h", "KPH": "kph", "MPH": "mph", "ML": "ml",
    "sq m": "m²", "sqm": "m²", "m^2": "m²", "m^3": "m³", "hz": "Hz",
}  # fmt: skip


class Verbalizer(ABC):
    """Turns the written numbers, dates, times, money, units and symbols of one language into words."""

    pad_with_spaces = False  # space-separated languages put spaces around words they insert
    yen_code = "JPY"  # what a bare ¥ means in this language
    degree_words: tuple[str, ...] = ()  # words after a number that mean "degrees" (度, 도)
    digit_context_words: tuple[str, ...] = ()  # words after which a number is a code read digit by digit (电话)
    units: ClassVar[dict[str, object]] = {}
    symbols: ClassVar[dict[str, str]] = {}
    # How the shared forms are worded (templates take the spoken number):
    numerals: PositionalNumerals | None = None  # None: the language overrides number_words and digit_words
    minus = ""  # before a negative number
    point = ""  # the decimal point
    plus = ""  # before a phone number's country code
    phone_joiner = ""  # between the digit groups of a phone number
    money_joiner = ""  # between main unit and subunit
    range_word = ""  # after the first number of a range
    ratio_template = "{left}:{right}"
    fraction_template = "{numerator}/{denominator}"
    percent_template = "{}%"
    per_mille_template = "{}‰"
    temperature_templates: ClassVar[dict[str, str]] = {"C": "{}°C", "F": "{}°F", "": "{}°"}
    below_zero = ""  # said before a negative temperature instead of the minus sign (零下, 영하)
    currencies: ClassVar[dict[str, tuple[str, str | None]]] = {}  # code → main unit, spoken subunit (None: none)

    def __init__(self) -> None:
        self._rules = RuleSet(self.rules(), self.pad_with_spaces)

    def verbalize(self, text: str) -> str:
        return self._rules.apply(text)

    def rules(self) -> list[Rule]:
        currency = alternatives({**CURRENCY_SYMBOLS, "¥": self.yen_code})
        scales = alternatives(SCALE_FACTORS)
        degrees = "|".join(["℃", "℉", r"°\s?[CFcf]\b", *map(re.escape, self.degree_words)])
        rules = [
            *self.leading_rules(),
            *self._digit_context_rules(),
            Rule("date_ymd", YEAR_SEP_DATE, self._date_ymd),
            Rule("date_year_last", YEAR_LAST_DATE, self._date_year_last),
            Rule("time", TIME, self._time),
            Rule("hour_meridiem", HOUR_MERIDIEM, self._hour_meridiem),
            Rule("ratio", RATIO, lambda m: self.ratio_words(int(m[1]), int(m[2]))),
            Rule("money", rf"(-)?({currency})\s?({NUMBER})(?:\s?({scales})(?![A-Za-z]))?", self._money),
            Rule("money_code", rf"({SIGNED})\s?({'|'.join(CURRENCY_CODES)})\b", self._money_code),
            Rule("temperature", rf"({SIGNED})\s?({degrees})", self._temperature),
            Rule("angle", ANGLE, lambda m: self.temperature_words(Number.parse(m[1]), "")),
            Rule("percent", PERCENT, lambda m: self.percent_words(Number.parse(m[1]), m[2] == "‰")),
            Rule("phone", PHONE, self._phone),
            Rule("long_digits", LONG_DIGITS, lambda m: self.digit_words(m[1])),
            Rule("fraction", FRACTION, lambda m: self.fraction_words(int(m[1]), int(m[2]))),
            Rule("range", RANGE, lambda m: self.range_words(Number.parse(m[1]))),
            Rule("range_after_symbol", RANGE_AFTER_SYMBOL, lambda m: self.range_word),
        ]
        if self.units:
            spellings = {**self.units, **{alias: unit for alias, unit in UNIT_ALIASES.items() if unit in self.units}}
            unit_pattern = rf"({SIGNED})\s?({alternatives(spellings)})(?![A-Za-z\d])"
            rules.append(Rule("unit", unit_pattern, self._unit))
        rules += self.counter_rules()
        rules.append(Rule("number", SIGNED, lambda m: self.number_words(Number.parse(m[0]))))
        if self.symbols:
            rules.append(Rule("symbol", alternatives(self.symbols), lambda m: self.symbols[m[0]]))
        return rules

    def _digit_context_rules(self) -> list[Rule]:
        if not self.digit_context_words:
            return []
        words = alternatives(set(self.digit_context_words))
        pattern = rf"((?:{words})(?:号码|號碼|番号|번호)?[是係为為はが는은이가:：\s]{{0,3}})(\d{{3,}})(?![\d-]|[.,]\d)"
        return [Rule("digit_context", pattern, lambda m: m[1] + self.phone_words(None, [m[2]]))]

    # --- language-specific rules before and after the shared ones -------------------------------------------

    def leading_rules(self) -> list[Rule]:
        return []

    def counter_rules(self) -> list[Rule]:
        return []

    # --- how each form is spoken: defaults built from the tables above, overridden where a language differs ---

    def number_words(self, number: Number) -> str:
        numerals = self._numerals()
        words = numerals.cardinal(number.value)
        if number.fraction:
            words += self.point + numerals.digit_string(number.fraction)
        return (self.minus if number.negative else "") + words

    def cardinal(self, value: int) -> str:
        return self.number_words(Number(value < 0, str(abs(value)), ""))

    def digit_words(self, digits: str) -> str:
        """A digit string read digit by digit (long numbers, codes)."""
        return self._numerals().digit_string(digits)

    def phone_digit_words(self, digits: str) -> str:
        return self.digit_words(digits)

    @abstractmethod
    def date_words(self, year: str, month: int, day: int) -> str: ...

    @abstractmethod
    def time_words(self, hour: int, minute: int, second: int | None, meridiem: str | None) -> str: ...

    def ratio_words(self, left: int, right: int) -> str:
        return self.ratio_template.format(left=self.cardinal(left), right=self.cardinal(right))

    def fraction_words(self, numerator: int, denominator: int) -> str:
        return self.fraction_template.format(numerator=self.cardinal(numerator), denominator=self.cardinal(denominator))

    def range_words(self, start: Number) -> str:
        """The first number of a range and the word for "to" (the second number follows)."""
        return self.number_words(start) + self.range_word

    def money_words(self, currency: str, amount: Number, scale: str | None) -> str:
        """Main unit and subunit ("十二ドル五十セント"); decimal reading when there is no spoken subunit."""
        amount = amount.scaled(scale_factor(scale)) if scale else amount
        unit, subunit = self.currencies[currency]
        if not amount.fraction or subunit is None or len(amount.fraction) > 2:
            return self.number_words(amount) + unit
        cents = int(amount.fraction.ljust(2, "0"))
        parts = [self.cardinal(amount.value) + unit] if amount.value else []
        if cents:
            parts.append(self.cardinal(cents) + subunit)
        return (self.minus if amount.negative else "") + self.money_joiner.join(parts)

    def temperature_words(self, number: Number, scale: str) -> str:
        """scale is "C", "F" or "" (plain degrees)."""
        template = self.temperature_templates[scale]
        if number.negative and self.below_zero:
            return self.below_zero + template.format(self.number_words(number.positive()))
        return template.format(self.number_words(number))

    def percent_words(self, number: Number, per_mille: bool) -> str:
        template = self.per_mille_template if per_mille else self.percent_template
        return (self.minus if number.negative else "") + template.format(self.number_words(number.positive()))

    def phone_words(self, country: str | None, groups: list[str]) -> str:
        spoken = [self.phone_digit_words(group) for group in groups]
        if country:
            spoken.insert(0, self.plus + self.phone_digit_words(country))
        return self.phone_joiner.join(spoken)

    def unit_words(self, number: Number, unit: str) -> str:
        return self.number_words(number) + str(self.units[unit])

    def _numerals(self) -> PositionalNumerals:
        if self.numerals is None:
            raise NotImplementedError(f"{type(self).__name__} has no positional numerals: override number_words")
        return self.numerals

    # --- shared handlers ----------------------------------------------------------------------------------------

    def _date_ymd(self, match: re.Match[str]) -> str:
        return self.date_words(match[1], int(match[2]), int(match[3]))

    def _date_year_last(self, match: re.Match[str]) -> str:
        first, second, year = int(match[1]), int(match[2]), match[3]
        if 1 <= first <= 12 and 1 <= second <= 31:
            return self.date_words(year, first, second)  # month first (American order)
        if 1 <= second <= 12 and 1 <= first <= 31:
            return self.date_words(year, second, first)
        return " ".join(self.number_words(Number.parse(part)) for part in match.groups())

    def _time(self, match: re.Match[str]) -> str:
        second = int(match[3]) if match[3] else None
        return self._clock(match, int(match[1]), int(match[2]), second, match[4] or "")

    def _hour_meridiem(self, match: re.Match[str]) -> str:
        return self._clock(match, int(match[1]), 0, None, match[2])

    def _clock(self, match: re.Match[str], hour: int, minute: int, second: int | None, written_meridiem: str) -> str:
        meridiem = ("PM" if written_meridiem.lower().startswith("p") else "AM") if written_meridiem else None
        words = self.time_words(hour, minute, second, meridiem)
        ends_sentence = written_meridiem.endswith(".") and keeps_sentence_period(match.string, match.end())
        return words + ("." if ends_sentence else "")

    def _money(self, match: re.Match[str]) -> str:
        currency = {**CURRENCY_SYMBOLS, "¥": self.yen_code}[match[2]]
        amount = Number.parse(("-" if match[1] else "") + match[3])
        return self.money_words(currency, amount, match[4])

    def _money_code(self, match: re.Match[str]) -> str:
        currency = "CNY" if match[2] == "RMB" else match[2]
        return self.money_words(currency, Number.parse(match[1]), None)

    def _temperature(self, match: re.Match[str]) -> str:
        symbol = match[2]
        scale = "C" if symbol == "℃" or symbol[-1:] in "Cc" else "F" if symbol == "℉" or symbol[-1:] in "Ff" else ""
        return self.temperature_words(Number.parse(match[1]), scale)

    def _unit(self, match: re.Match[str]) -> str:
        return self.unit_words(Number.parse(match[1]), UNIT_ALIASES.get(match[2], match[2]))

    def _phone(self, match: re.Match[str]) -> str:
        groups = re.findall(r"\d+", match[0])
        country = groups.pop(0) if match[0].startswith("+") else None
        return self.phone_words(country, groups)


def scale_factor(scale: str | None) -> int:
    return SCALE_FACTORS[scale] if scale else 1
