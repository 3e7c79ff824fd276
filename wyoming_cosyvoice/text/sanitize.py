"""Language-independent clean-up before normalisation, and the final tidy-up after it (all hand-written).

Before: control markers such as `<|endoftext|>` removed (never spoken, never a special token), control and
zero-width characters, emoji and pictographs dropped, full-width digits/letters/number symbols folded to ASCII
(full-width punctuation is kept: it carries Chinese and Japanese prosody), dashes and minus signs between digits
unified, URLs reduced to their host ("home assistant dot io"), e-mail addresses spoken, whitespace collapsed.
After: symbols nobody can speak (markdown and similar noise) removed and whitespace collapsed again.
"""

from __future__ import annotations

import re
import unicodedata

CONTROL_MARKER = re.compile(r"<\|[^<>|\n]{0,64}\|>")
INVISIBLE = re.compile(
    r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\u2060-\u206f\ufeff]"
)
PICTOGRAPH = re.compile(
    "["
    "\u00a9\u00ae\u2122\u2190-\u21ff\u2300-\u23ff\u25a0-\u25ff\u2600-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\ufe0e\ufe0f\u20e3\u3030\u303d"
    "\U0001f000-\U0001faff\U000e0020-\U000e007f"
    "]"
)
HALFWIDTH_KANA = re.compile(r"[\uff61-\uff9f]+")
URL = re.compile(r"(?i)\b(?:https?://|www\.)[a-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
BARE_DOMAIN = re.compile(  # home-assistant.io, github.com/path: a host with a well-known top-level domain
    r"(?i)(?<![a-z0-9.@/-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,4}"
    r"(?:com|org|net|io|dev|app|ai|info|gov|edu|co|uk|de|fr|nl|eu|cn|jp|kr|tw|hk|us|ca|au)(?![a-z0-9-])"
    r"(?:/[a-z0-9\-._/?=&%#]*)?"
)
# starts only where a run of address characters starts, and never backtracks: linear on any input
EMAIL = re.compile(r"(?i)(?<![a-z0-9._%+\-])([a-z0-9._%+\-]++)@((?:[a-z0-9\-]++\.)++[a-z]{2,}+)\b")
DASH_BETWEEN_DIGITS = re.compile(r"(?<=\d)\s?[\u2010-\u2015\u2212\ufe63]\s?(?=\d)")
MINUS_BEFORE_DIGIT = re.compile(r"[\u2212\ufe63\u2013](?=\d)")
FULLWIDTH_COLON_OR_DOT_IN_NUMBER = re.compile(r"(?<=\d)[\uff1a\uff0e](?=\d)")
ORDINAL_SIGN_AS_DEGREE = re.compile(r"(?<=\d)\s?[º˚](?=\s?[CFcf]\b|\s|$)")  # 20ºC typed with º or ˚
SPACES = re.compile(r"[ \t\u00a0\u3000\u2000-\u200a\u202f\u205f]+")
SPACE_AROUND_NEWLINE = re.compile(r" *\n[\s]*")
UNSPEAKABLE_SYMBOLS = re.compile(r"[*_`|\\^<>{}\[\]#~=+@$€£¥₩\u00b0℃℉%‰]+")

# Full-width forms folded to ASCII: digits, Latin letters and the symbols numbers are written with.
_FOLDED = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz%$+-=/@#&*~<>"
WIDTH_FOLD = {ord(c) + 0xFEE0: c for c in _FOLDED} | {0xFFE5: "¥", 0xFFE6: "₩", 0xFFE1: "£", 0xFFE0: "¢"}
URL_TRAILING = ".,;:!?)'"


def speak_url(match: re.Match[str]) -> str:
    url = match.group(0).rstrip(URL_TRAILING)
    tail = match.group(0)[len(url) :]
    host = re.sub(r"(?i)^(?:https?://)?(?:www\.)?", "", url)
    host = re.split(r"[/?#:]", host, maxsplit=1)[0]
    words = [re.sub(r"[-_]+", " ", part) for part in host.split(".") if part]
    return " dot ".join(words) + tail


def speak_email(match: re.Match[str]) -> str:
    user = re.sub(r"[._%+\-]+", " ", match.group(1))
    domain = " dot ".join(match.group(2).split("."))
    return f"{user} at {domain}"


def clean_input(text: str) -> str:
    """Everything before normalisation; see the module docstring."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_MARKER.sub(" ", text)
    text = INVISIBLE.sub("", text)
    text = PICTOGRAPH.sub(" ", text)
    text = HALFWIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    text = text.translate(WIDTH_FOLD)
    text = FULLWIDTH_COLON_OR_DOT_IN_NUMBER.sub(lambda m: ":" if m.group(0) == "\uff1a" else ".", text)
    text = ORDINAL_SIGN_AS_DEGREE.sub("°", text)
    text = DASH_BETWEEN_DIGITS.sub("-", text)
    text = MINUS_BEFORE_DIGIT.sub("-", text)
    text = URL.sub(speak_url, text)
    text = BARE_DOMAIN.sub(speak_url, text)
    text = EMAIL.sub(speak_email, text)
    return collapse_whitespace(text)


def collapse_whitespace(text: str) -> str:
    text = SPACES.sub(" ", text)
    text = SPACE_AROUND_NEWLINE.sub("\n", text)
    return text.strip()


def tidy_output(text: str) -> str:
    """After normalisation: drop leftover symbols that cannot be spoken and collapse whitespace."""
    return collapse_whitespace(UNSPEAKABLE_SYMBOLS.sub(" ", text))
