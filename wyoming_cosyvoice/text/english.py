"""English spoken forms (hand-written; American style, as frontend-cases.md sets out).

Cardinals without "and", "X dollars and Y cents", ISO dates as "March fifth, twenty twenty four", years in
pairs, 07:05 → "seven o five", a.m./p.m. → AM/PM, negative temperatures with "minus", units spelled out
(singular for exactly one), abbreviations expanded (St. is Street after a capitalised word, Saint before one).
"""

from __future__ import annotations

import re

from .numerals import english_cardinal, english_digits, english_ordinal, english_year
from .rules import Number, Rule, alternatives, keeps_sentence_period
from .verbalizer import Verbalizer, scale_factor

_MONTH_LIST = "January February March April May June July August September October November December"
MONTHS = tuple(_MONTH_LIST.split())
MONTH_NAMES = (
    {name.lower(): name for name in MONTHS} | {name[:3].lower(): name for name in MONTHS} | {"sept": "September"}
)
MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
)
DAY_SUFFIX = r"(?:st|nd|rd|th)?"
YEAR_WORDS = r"(?i:in|since|until|till|by|from|of|year|circa|during|before|after|through|between|around|early|late|mid)"

CURRENCIES = {  # code → singular, plural, subunit singular, subunit plural
    "USD": ("dollar", "dollars", "cent", "cents"),
    "HKD": ("Hong Kong dollar", "Hong Kong dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "GBP": ("pound", "pounds", "penny", "pence"),
    "JPY": ("yen", "yen", None, None),
    "CNY": ("yuan", "yuan", None, None),
    "KRW": ("won", "won", None, None),
}

UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("meter per second", "meters per second"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "Wh": ("watt hour", "watt hours"),
    "MWh": ("megawatt hour", "megawatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
    "mV": ("millivolt", "millivolts"),
    "A": ("amp", "amps"),
    "mA": ("milliamp", "milliamps"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "m²": ("square meter", "square meters"),
    "m2": ("square meter", "square meters"),
    "km²": ("square kilometer", "square kilometers"),
    "ft²": ("square foot", "square feet"),
    "m³": ("cubic meter", "cubic meters"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "L": ("liter", "liters"),
    "l": ("liter", "liters"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "gal": ("gallon", "gallons"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "dB": ("decibel", "decibels"),
    "ppm": ("part per million", "parts per million"),
    "lx": ("lux", "lux"),
    "hPa": ("hectopascal", "hectopascals"),
    "mbar": ("millibar", "millibars"),
    "psi": ("psi", "psi"),
    "KB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "µg/m³": ("microgram per cubic meter", "micrograms per cubic meter"),
    "μg/m³": ("microgram per cubic meter", "micrograms per cubic meter"),
}

# Abbreviations: those that always precede a word (their period never ends a sentence) and those that may end one.
BEFORE_A_WORD = {
    "Dr": "Doctor",
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miss",
    "Prof": "Professor",
    "Capt": "Captain",
    "Gen": "General",
    "Lt": "Lieutenant",
    "Sgt": "Sergeant",
    "Gov": "Governor",
    "Sen": "Senator",
    "Rep": "Representative",
    "Rev": "Reverend",
    "Hon": "Honorable",
    "Mt": "Mount",
    "Apt": "Apartment",
    "approx": "approximately",
    "vs": "versus",
    "e.g": "for example",
    "i.e": "that is",
    "Dept": "Department",
    "Fig": "figure",
}
MAY_END_SENTENCE = {
    "Jr": "Junior",
    "Sr": "Senior",
    "Ave": "Avenue",
    "Rd": "Road",
    "Blvd": "Boulevard",
    "Ln": "Lane",
    "Hwy": "Highway",
    "etc": "et cetera",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Corp": "Corporation",
}
ABBREVIATIONS = {**BEFORE_A_WORD, **MAY_END_SENTENCE}
TITLES_WITHOUT_PERIOD = ("Dr", "Mr", "Mrs", "Ms", "Prof")  # British style: "Dr Smith"
SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at "}
SCALE_NAMES = {"C": "Celsius", "F": "Fahrenheit"}
FRACTION_NAMES = {2: ("half", "halves"), 4: ("quarter", "quarters")}


class EnglishVerbalizer(Verbalizer):
    """English: how each written form is spoken."""

    pad_with_spaces = True
    units = UNITS
    symbols = SYMBOLS
    minus = "minus "
    plus = "plus "
    phone_joiner = ", "
    range_word = " to "
    ratio_template = "{left} to {right}"
    percent_template = "{} percent"
    per_mille_template = "{} per mille"

    def leading_rules(self) -> list[Rule]:
        abbreviations = alternatives(ABBREVIATIONS)
        units = alternatives(UNITS)
        return [
            Rule(
                "month_day", rf"\b({MONTH})\.?\s+(\d{{1,2}}){DAY_SUFFIX}(?:,?\s+(\d{{4}}))?(?![\d:])", self._month_day
            ),
            Rule(
                "day_month", rf"\b(\d{{1,2}}){DAY_SUFFIX}\s+(?:of\s+)?({MONTH})\b(?:,?\s+(\d{{4}}))?", self._day_month
            ),
            Rule(
                "month_slash_day", r"(?<![\d/.])(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])(?![\d/])", self._month_slash_day
            ),
            Rule("month_year", rf"\b({MONTH})\.?\s+(\d{{4}})\b", self._month_year),
            Rule("decade", r"\b(1[1-9]\d0|20[0-9]0)s\b", self._decade),
            Rule(
                "year", rf"\b({YEAR_WORDS})\s+(1[1-9]\d\d|20\d\d)(?![\d,.:%°]|\s?(?:{units})(?![A-Za-z]))", self._year
            ),
            Rule(
                "year_at_clause_end",
                r"(?<![\d$#.,])\b(1[1-9]\d\d|20\d\d)(?=\s*(?:[.,!?;:)]|$)(?!\d))",
                lambda m: english_year(int(m[1])),
            ),
            Rule(
                "times", r"\b(\d{1,15}(?:\.\d{1,15})?)x\b", lambda m: self.number_words(Number.parse(m[1])) + " times"
            ),
            Rule("ordinal", r"\b(\d{1,15})(?:st|nd|rd|th)\b", lambda m: english_ordinal(int(m[1]))),
            Rule("degrees_scale", r"\b(degrees?)\s+([CF])\b", lambda m: f"{m[1]} {SCALE_NAMES[m[2]]}"),
            Rule("number_sign", r"(?:\b(?:No|no|Nr)\.|#)\s?(?=\d)", lambda m: "number "),
            Rule("saint_street", r"\bSt\.?(?=\s|$)", self._saint_or_street),
            Rule("abbreviation", rf"\b({abbreviations})\.(?!\w)", self._abbreviation),
            Rule("title", rf"\b({'|'.join(TITLES_WITHOUT_PERIOD)})(?=\s+[A-Z])", lambda m: BEFORE_A_WORD[m[1]]),
            Rule("etc", r"\b(etc|vs)\b(?!\.)", lambda m: ABBREVIATIONS[m[1]]),
        ]

    # --- hooks ------------------------------------------------------------------------------------------------

    def number_words(self, number: Number) -> str:
        words = english_cardinal(number.value)
        if number.fraction:
            words += " point " + english_digits(number.fraction)
        return (self.minus if number.negative else "") + words

    def digit_words(self, digits: str) -> str:
        return english_digits(digits)

    def date_words(self, year: str, month: int, day: int) -> str:
        return f"{MONTHS[month - 1]} {english_ordinal(day)}, {english_year(int(year))}"

    def time_words(self, hour: int, minute: int, second: int | None, meridiem: str | None) -> str:
        words = english_cardinal(12 if meridiem and hour == 0 else hour)
        if minute:
            words += (" o " if minute < 10 else " ") + english_cardinal(minute)
        elif not meridiem:
            words += " o'clock" if 0 < hour <= 12 else " hundred"
        if second:
            words += " and " + english_cardinal(second) + (" second" if second == 1 else " seconds")
        return words + (" " + meridiem if meridiem else "")

    def fraction_words(self, numerator: int, denominator: int) -> str:
        if denominator == 0 or denominator > 100 or numerator > 1000:
            return f"{english_cardinal(numerator)} over {english_cardinal(denominator)}"
        if denominator == 1:
            return english_cardinal(numerator)
        singular, plural = FRACTION_NAMES.get(denominator, (None, None))
        if singular is None:
            singular = english_ordinal(denominator)
            plural = singular + "s"
        return f"{english_cardinal(numerator)} {singular if numerator == 1 else plural}"

    def money_words(self, currency: str, amount: Number, scale: str | None) -> str:
        singular, plural, cent, cents = CURRENCIES[currency]
        sign = self.minus if amount.negative else ""
        amount = amount.positive()
        if scale:
            scale_word = {"k": "thousand", "K": "thousand", "M": "million", "bn": "billion"}.get(scale, scale)
            if scale_word not in ("thousand", "million", "billion", "trillion"):
                return sign + self.money_words(currency, amount.scaled(scale_factor(scale)), None)
            return f"{sign}{self.number_words(amount)} {scale_word} {plural}"
        if amount.fraction and (len(amount.fraction) > 2 or cent is None):
            return f"{sign}{self.number_words(amount)} {plural}"
        main = f"{english_cardinal(amount.value)} {singular if amount.value == 1 else plural}"
        subunits = int(amount.fraction.ljust(2, "0")) if amount.fraction else 0
        if not subunits:
            return sign + main
        small = f"{english_cardinal(subunits)} {cent if subunits == 1 else cents}"
        return sign + (f"{main} and {small}" if amount.value else small)

    def temperature_words(self, number: Number, scale: str) -> str:
        degrees = "degree" if number.is_integer and number.value == 1 else "degrees"
        name = f" {SCALE_NAMES[scale]}" if scale else ""
        return f"{self.number_words(number)} {degrees}{name}"

    def unit_words(self, number: Number, unit: str) -> str:
        singular, plural = UNITS[unit]
        one = number.is_integer and number.value == 1
        return f"{self.number_words(number)} {singular if one else plural}"

    # --- English-only forms -------------------------------------------------------------------------------------

    def _month_day(self, match: re.Match[str]) -> str:
        month = MONTH_NAMES[match[1].lower()]
        if not 1 <= int(match[2]) <= 31:
            return f"{month} {english_cardinal(int(match[2]))}"
        words = f"{month} {english_ordinal(int(match[2]))}"
        return words + (f", {english_year(int(match[3]))}" if match[3] else "")

    def _day_month(self, match: re.Match[str]) -> str:
        month = MONTH_NAMES[match[2].lower()]
        preceded_by_the = match.string[max(0, match.start() - 4) : match.start()].lower() == "the "
        words = ("" if preceded_by_the else "the ") + f"{english_ordinal(int(match[1]))} of {month}"
        return words + (f", {english_year(int(match[3]))}" if match[3] else "")

    def _month_slash_day(self, match: re.Match[str]) -> str:
        """03/05 with a leading zero is a date (March fifth), not a fraction."""
        return f"{MONTHS[int(match[1]) - 1]} {english_ordinal(int(match[2]))}"

    def _month_year(self, match: re.Match[str]) -> str:
        return f"{MONTH_NAMES[match[1].lower()]} {english_year(int(match[2]))}"

    def _decade(self, match: re.Match[str]) -> str:
        words = english_year(int(match[1]))
        return words[:-1] + "ies" if words.endswith("y") else words + "s"

    def _year(self, match: re.Match[str]) -> str:
        return f"{match[1]} {english_year(int(match[2]))}"

    def _saint_or_street(self, match: re.Match[str]) -> str:
        before = match.string[max(0, match.start() - 40) : match.start()].rstrip()
        after = match.string[match.end() : match.end() + 3].lstrip()
        after_name = bool(re.search(r"\b[A-Z][a-z]*$", before))
        if not after_name and after[:1].isupper():
            return "Saint"
        period = "." if match[0].endswith(".") and keeps_sentence_period(match.string, match.end()) else ""
        return "Street" + period

    def _abbreviation(self, match: re.Match[str]) -> str:
        word = match[1]
        if word in BEFORE_A_WORD:
            return BEFORE_A_WORD[word]
        period = "." if keeps_sentence_period(match.string, match.end()) else ""
        return MAY_END_SENTENCE[word] + period
