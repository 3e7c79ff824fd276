"""Mandarin and Cantonese spoken forms (hand-written, by the conventions of frontend-cases.md).

Years digit by digit (二零二四年), clock times X点Y分 with 零 for minutes under ten, digit strings and phone
numbers digit by digit with 1 → 幺, ¥ amounts as X元Y角Z分, negative temperatures 零下, percent 百分之, 2 before a
measure word → 两, A:B with a one-digit B → A比B, Latin words untouched. Cantonese is written in Traditional
characters: its rules are the same, and every character the normaliser inserts is Traditional (點, 萬, 負, 兩 …),
while the user's own characters are never converted.
"""

from __future__ import annotations

import re
from typing import ClassVar

from .numerals import CHINESE
from .rules import SIGNED, Handler, Number, Rule
from .verbalizer import Verbalizer, scale_factor

# Words counted with a number before them ("measure words"): a lone 2 before them is read 两.
_MEASURE_WORD_LIST = (
    "个月 小时 分钟 秒钟 星期 公里 千米 公斤 千克 厘米 毫米 平方米 立方米 個月 小時 分鐘 秒鐘 个 位 只 条 张 本 件 台 辆 次 遍 回 天 年 岁 周 秒 点 分 人 名 家 户 "
    "杯 瓶 罐 碗 盘 盒 箱 包 袋 块 元 角 毛 斤 克 吨 米 里 间 套 双 对 把 支 枝 颗 粒 片 头 匹 份 种 样 部 首 篇 句 架 座 栋 "
    "幢 口 场 届 节 门 所 棵 朵 根 枚 项 组 批 倍 趟 顿 餐 声 步 圈 封 桶 勺 滴 行 排 顶 個 隻 條 張 輛 歲 週 點 戶 盤 塊 噸 "
    "間 雙 對 顆 頭 種 樣 頂 棟 場 屆 節 門 項 組 頓 聲 蚊"
)
MEASURE_WORDS = tuple(_MEASURE_WORD_LIST.split())

# code → name, no spoken subunit: "二十五点九九美元" (yuan have their own X元Y角Z分 form)
CURRENCIES: dict[str, tuple[str, str | None]] = {
    "USD": ("美元", None),
    "EUR": ("欧元", None),
    "GBP": ("英镑", None),
    "JPY": ("日元", None),
    "KRW": ("韩元", None),
    "HKD": ("港元", None),
    "CNY": ("元", None),
}
UNITS = {
    "km/h": "公里每小时",
    "kph": "公里每小时",
    "mph": "英里每小时",
    "m/s": "米每秒",
    "kWh": "千瓦时",
    "Wh": "瓦时",
    "MWh": "兆瓦时",
    "kW": "千瓦",
    "MW": "兆瓦",
    "W": "瓦",
    "V": "伏",
    "mV": "毫伏",
    "mA": "毫安",
    "mAh": "毫安时",
    "Hz": "赫兹",
    "kHz": "千赫兹",
    "MHz": "兆赫兹",
    "GHz": "吉赫兹",
    "km": "公里",
    "m": "米",
    "cm": "厘米",
    "mm": "毫米",
    "mi": "英里",
    "ft": "英尺",
    "m²": "平方米",
    "m2": "平方米",
    "km²": "平方公里",
    "m³": "立方米",
    "kg": "千克",
    "g": "克",
    "mg": "毫克",
    "lb": "磅",
    "lbs": "磅",
    "L": "升",
    "l": "升",
    "ml": "毫升",
    "mL": "毫升",
    "h": "小时",
    "hr": "小时",
    "min": "分钟",
    "sec": "秒",
    "ms": "毫秒",
    "dB": "分贝",
    "lx": "勒克斯",
    "hPa": "百帕",
    "µg/m³": "微克每立方米",
    "μg/m³": "微克每立方米",
}
SYMBOLS = {"&": "和", "+": "加", "=": "等于"}
MONEY_WORDS = "元|块|塊|蚊|美元|欧元|歐元|英镑|英鎊|日元|日圓|港元|港幣|韩元|韓元"
DIGITS_WITH_YAO = "零幺二三四五六七八九"
PHONE_LENGTH = 7  # digit strings at least this long are read like phone numbers (1 → 幺)


class MandarinVerbalizer(Verbalizer):
    """Mandarin: how each written form is spoken."""

    yen_code = "CNY"
    degree_words = ("度",)
    digit_context_words = (
        "电话",
        "電話",
        "手机",
        "手機",
        "号码",
        "號碼",
        "热线",
        "熱線",
        "编号",
        "編號",
        "单号",
        "單號",
        "座机",
        "座機",
        "传真",
        "傳真",
        "分机",
        "分機",
        "尾号",
        "尾號",
        "验证码",
        "驗證碼",
        "密码",
        "密碼",
    )
    units = UNITS
    symbols = SYMBOLS
    numerals = CHINESE
    minus = "负"
    point = "点"
    plus = "加"
    phone_joiner = "，"
    range_word = "到"
    ratio_template = "{left}比{right}"
    fraction_template = "{denominator}分之{numerator}"
    percent_template = "百分之{}"
    per_mille_template = "千分之{}"
    temperature_templates: ClassVar[dict[str, str]] = {"C": "{}摄氏度", "F": "{}华氏度", "": "{}度"}
    below_zero = "零下"
    currencies = CURRENCIES

    def leading_rules(self) -> list[Rule]:
        return [
            Rule("ordinal", r"第\s?(\d{1,16})(?!\d)", lambda m: "第" + CHINESE.cardinal(int(m[1]))),
            Rule("zero_minute", r"(?<![\d.])0(\d)(?=[分秒])", lambda m: clock_part(int(m[1]))),
        ]

    def counter_rules(self) -> list[Rule]:
        measure = "|".join(map(re.escape, MEASURE_WORDS))
        return [
            Rule("year", r"(?<![\d.])(\d{4})\s?(?=年)", lambda m: year_digits(m[1])),
            Rule("money_suffix", rf"({SIGNED})\s?(?={MONEY_WORDS})", lambda m: self.counted(money_amount(m[1]))),
            Rule(
                "measure",
                rf"({SIGNED})\s?(?=[万亿萬億]|(?!年[级級])(?:{measure}))",  # 两年, but 二年级 (second grade)
                lambda m: self.counted(Number.parse(m[1])),
            ),
        ]

    def counted(self, number: Number) -> str:
        """A number before a measure word or 万/亿: a leading 2 is 两 (两个, 两百块, 两千元, 两万)."""
        words = self.number_words(number)
        if number.negative or not number.is_integer:
            return words
        if words == "二" or (words.startswith("二") and words[1:2] in ("百", "千", "万", "亿")):
            return "两" + words[1:]
        return words

    # --- hooks ------------------------------------------------------------------------------------------------

    def digit_words(self, digits: str) -> str:
        return self.phone_digit_words(digits) if len(digits) >= PHONE_LENGTH else CHINESE.digit_string(digits)

    def phone_digit_words(self, digits: str) -> str:
        return "".join(DIGITS_WITH_YAO[int(d)] for d in digits)

    def date_words(self, year: str, month: int, day: int) -> str:
        return f"{year_digits(year)}年{CHINESE.cardinal(month)}月{CHINESE.cardinal(day)}日"

    def time_words(self, hour: int, minute: int, second: int | None, meridiem: str | None) -> str:
        words = {"AM": "上午", "PM": "下午", None: ""}[meridiem]
        words += ("两" if hour == 2 else CHINESE.cardinal(hour)) + "点"
        if minute or second:
            words += clock_part(minute) + "分"
        if second:
            words += clock_part(second) + "秒"
        return words

    def money_words(self, currency: str, amount: Number, scale: str | None) -> str:
        """Yuan as X元Y角Z分 (two decimals at most); other currencies as a decimal number and their name."""
        amount = amount.scaled(scale_factor(scale)) if scale else amount
        if currency != "CNY" or len(amount.fraction) > 2:
            return super().money_words(currency, amount, None)
        jiao, fen = (int(d) for d in amount.fraction.ljust(2, "0"))
        words = self.counted(Number(False, amount.integer, "")) + "元" if amount.value else ""
        if jiao:
            words += self.counted(Number(False, str(jiao), "")) + "角"
        if fen:
            words += ("零" if words and not jiao else "") + CHINESE.cardinal(fen) + "分"
        return (self.minus if amount.negative else "") + (words or "零元")

    def unit_words(self, number: Number, unit: str) -> str:
        return self.counted(number) + UNITS[unit]


def money_amount(text: str) -> Number:
    """An amount before a currency word: trailing zeros of the decimals are not read (12.50元 → 十二点五元)."""
    number = Number.parse(text)
    return Number(number.negative, number.integer, number.fraction.rstrip("0"))


def year_digits(year: str) -> str:
    return CHINESE.digit_string(year)


def clock_part(value: int) -> str:
    """Minutes or seconds of a clock time: 零五 for 5, 三十 for 30."""
    return ("零" if value < 10 else "") + CHINESE.cardinal(value)


# Simplified characters the Mandarin rules insert, and their Traditional forms (for Cantonese).
TRADITIONAL = str.maketrans("点万亿负摄华两时钟欧镑韩号于兹贝与压", "點萬億負攝華兩時鐘歐鎊韓號於茲貝與壓")


class CantoneseVerbalizer(MandarinVerbalizer):
    """Cantonese: the Mandarin rules, with every inserted character in its Traditional form."""

    def rules(self) -> list[Rule]:
        return [Rule(rule.name, rule.pattern, _traditional(rule.handler)) for rule in super().rules()]


def _traditional(handler: Handler) -> Handler:
    return lambda match: handler(match).translate(TRADITIONAL)
