"""Korean spoken forms (hand-written: no offline library reads Korean numbers by counter).

Sino-Korean numbers for 년/월/일/분/초/원/도/%/층 and plain numbers (이천이십사, 만 not 일만); native numbers for
시 and the counters of things, people and times (세 시, 세 개, 스무 명, 첫 번째) up to 99; 유월 and 시월;
negative temperatures 영하; 퍼센트; decimals with 점; phone numbers digit by digit with 공 for 0.
"""

from __future__ import annotations

import re
from typing import ClassVar

from .numerals import KOREAN_SINO, korean_native
from .rules import SIGNED, Number, Rule
from .verbalizer import Verbalizer

# Counters that take native numbers (a following 월 or 러 makes 개월/달러 Sino words instead).
NATIVE_COUNTERS = (
    "개(?!월)|명|마리|살|시|권|잔|병|대|장|벌|켤레|송이|그루|채|곳|군데|가지|번|사람|달(?!러)|줄|통|알|봉지|"
    "상자|판|쌍|척|자루|포기"
)
SPECIAL_MONTHS = {6: "유", 10: "시"}
CURRENCIES = {  # code → main unit, subunit (None: no subunit is spoken)
    "USD": ("달러", "센트"),
    "HKD": ("홍콩달러", "센트"),
    "EUR": ("유로", "센트"),
    "GBP": ("파운드", "펜스"),
    "JPY": ("엔", None),
    "CNY": ("위안", None),
    "KRW": ("원", None),
}
SPEED_UNITS = {
    "km/h": ("시속", "킬로미터"),
    "kph": ("시속", "킬로미터"),
    "mph": ("시속", "마일"),
    "m/s": ("초속", "미터"),
}
UNITS = {
    **{unit: words[1] for unit, words in SPEED_UNITS.items()},
    "kWh": "킬로와트시",
    "Wh": "와트시",
    "kW": "킬로와트",
    "W": "와트",
    "V": "볼트",
    "A": "암페어",
    "mA": "밀리암페어",
    "mAh": "밀리암페어시",
    "Hz": "헤르츠",
    "km": "킬로미터",
    "m": "미터",
    "cm": "센티미터",
    "mm": "밀리미터",
    "m²": "제곱미터",
    "m2": "제곱미터",
    "m³": "세제곱미터",
    "kg": "킬로그램",
    "g": "그램",
    "mg": "밀리그램",
    "L": "리터",
    "l": "리터",
    "ml": "밀리리터",
    "mL": "밀리리터",
    "min": "분",
    "ms": "밀리초",
    "dB": "데시벨",
    "hPa": "헥토파스칼",
    "lx": "럭스",
    "KB": "킬로바이트",
    "MB": "메가바이트",
    "GB": "기가바이트",
    "TB": "테라바이트",
    "µg/m³": "마이크로그램 퍼 세제곱미터",
    "μg/m³": "마이크로그램 퍼 세제곱미터",
}
SYMBOLS = {"&": " 앤드 ", "+": " 플러스 "}
PHONE_ZERO = "공"


class KoreanVerbalizer(Verbalizer):
    """Korean: how each written form is spoken."""

    degree_words = ("도",)
    digit_context_words = ("전화", "번호", "비밀번호", "인증번호")
    units = UNITS
    symbols = SYMBOLS
    numerals = KOREAN_SINO
    minus = "마이너스 "
    point = " 점 "
    plus = "플러스 "
    phone_joiner = " "
    money_joiner = " "
    range_word = "에서 "
    ratio_template = "{left} 대 {right}"
    fraction_template = "{denominator}분의 {numerator}"
    percent_template = "{} 퍼센트"
    per_mille_template = "{} 퍼밀"
    temperature_templates: ClassVar[dict[str, str]] = {"C": "{}도", "F": "화씨 {}도", "": "{}도"}
    below_zero = "영하 "
    currencies = CURRENCIES

    def counter_rules(self) -> list[Rule]:
        return [
            Rule("month", r"(?<![\d.])(\d{1,2})\s?(?=월)", lambda m: month_words(int(m[1]))),
            Rule("native_counter", rf"({SIGNED})\s?(?=({NATIVE_COUNTERS}))", self._native_counter),
        ]

    def _native_counter(self, match: re.Match[str]) -> str:
        number = Number.parse(match[1])
        if number.negative or not number.is_integer or not 1 <= number.value <= 99:
            return self.number_words(number)
        if number.value == 1 and match.string.startswith("번째", match.start(2)):
            return "첫"
        return korean_native(number.value) or ""

    # --- hooks ------------------------------------------------------------------------------------------------

    def digit_words(self, digits: str) -> str:
        return "".join(PHONE_ZERO if d == "0" else KOREAN_SINO.digits[int(d)] for d in digits)

    def date_words(self, year: str, month: int, day: int) -> str:
        return f"{KOREAN_SINO.cardinal(int(year))}년 {month_words(month)}월 {KOREAN_SINO.cardinal(day)}일"

    def time_words(self, hour: int, minute: int, second: int | None, meridiem: str | None) -> str:
        words = {"AM": "오전 ", "PM": "오후 ", None: ""}[meridiem]
        words += (korean_native(hour) or KOREAN_SINO.cardinal(hour)) + "시"
        if minute:
            words += " " + KOREAN_SINO.cardinal(minute) + "분"
        if second:
            words += " " + KOREAN_SINO.cardinal(second) + "초"
        return words

    def unit_words(self, number: Number, unit: str) -> str:
        if unit in SPEED_UNITS:
            prefix, name = SPEED_UNITS[unit]
            return f"{prefix} {self.number_words(number)}{name}"
        return self.number_words(number) + UNITS[unit]


def month_words(month: int) -> str:
    """The number of a month name: 유 (월) for June, 시 (월) for October, Sino-Korean otherwise."""
    return SPECIAL_MONTHS.get(month) or KOREAN_SINO.cardinal(month)
