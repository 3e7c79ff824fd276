"""Japanese spoken forms (hand-written, by the conventions of frontend-cases.md).

Numbers become kanji numerals in positional form (二千二十四年, 百円, 一万円, 三時半), never the Chinese reading
(no 一百, no 零); % → パーセント, negative numbers マイナス, ℃ → 度, units in katakana, digit strings and phone
numbers digit by digit (ゼロ for 0, groups joined with の as they are read aloud).
"""

from __future__ import annotations

from typing import ClassVar

from .numerals import JAPANESE
from .verbalizer import Verbalizer

CURRENCIES = {  # code → main unit, subunit (None: no subunit is spoken)
    "USD": ("ドル", "セント"),
    "HKD": ("香港ドル", "セント"),
    "EUR": ("ユーロ", "セント"),
    "GBP": ("ポンド", "ペンス"),
    "JPY": ("円", None),
    "CNY": ("元", None),
    "KRW": ("ウォン", None),
}
UNITS = {
    "km/h": "キロメートル毎時",
    "kph": "キロメートル毎時",
    "mph": "マイル毎時",
    "m/s": "メートル毎秒",
    "kWh": "キロワット時",
    "Wh": "ワット時",
    "kW": "キロワット",
    "W": "ワット",
    "V": "ボルト",
    "A": "アンペア",
    "mA": "ミリアンペア",
    "mAh": "ミリアンペア時",
    "Hz": "ヘルツ",
    "km": "キロメートル",
    "m": "メートル",
    "cm": "センチメートル",
    "mm": "ミリメートル",
    "m²": "平方メートル",
    "m2": "平方メートル",
    "m³": "立方メートル",
    "kg": "キログラム",
    "g": "グラム",
    "mg": "ミリグラム",
    "L": "リットル",
    "l": "リットル",
    "ml": "ミリリットル",
    "mL": "ミリリットル",
    "h": "時間",
    "min": "分",
    "ms": "ミリ秒",
    "dB": "デシベル",
    "hPa": "ヘクトパスカル",
    "lx": "ルクス",
    "KB": "キロバイト",
    "MB": "メガバイト",
    "GB": "ギガバイト",
    "TB": "テラバイト",
    "µg/m³": "マイクログラム毎立方メートル",
    "μg/m³": "マイクログラム毎立方メートル",
}
SYMBOLS = {"&": "アンド", "+": "プラス", "=": "イコール"}


class JapaneseVerbalizer(Verbalizer):
    """Japanese: how each written form is spoken."""

    degree_words = ("度",)
    digit_context_words = ("電話", "番号", "暗証番号", "パスワード")
    units = UNITS
    symbols = SYMBOLS
    numerals = JAPANESE
    minus = "マイナス"
    point = "点"
    plus = "プラス"
    phone_joiner = "の"
    range_word = "から"
    ratio_template = "{left}対{right}"
    fraction_template = "{denominator}分の{numerator}"
    percent_template = "{}パーセント"
    per_mille_template = "{}パーミル"
    temperature_templates: ClassVar[dict[str, str]] = {"C": "{}度", "F": "華氏{}度", "": "{}度"}
    currencies = CURRENCIES

    def digit_words(self, digits: str) -> str:
        return "".join("ゼロ" if d == "0" else JAPANESE.digits[int(d)] for d in digits)

    def date_words(self, year: str, month: int, day: int) -> str:
        return f"{JAPANESE.cardinal(int(year))}年{JAPANESE.cardinal(month)}月{JAPANESE.cardinal(day)}日"

    def time_words(self, hour: int, minute: int, second: int | None, meridiem: str | None) -> str:
        words = {"AM": "午前", "PM": "午後", None: ""}[meridiem] + JAPANESE.cardinal(hour) + "時"
        if minute:
            words += JAPANESE.cardinal(minute) + "分"
        if second:
            words += JAPANESE.cardinal(second) + "秒"
        return words
