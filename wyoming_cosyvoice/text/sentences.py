"""Sentence boundaries in raw text that may arrive in pieces (hand-written).

A sentence ends after 。！？；… . ! ? ; (and their full-width forms) or a line break, together with any closing
quotes or brackets that follow. A period ends a sentence only when whitespace, a line end, a CJK character or
the end of the text follows, never inside 3.14, "home-assistant.io" or after an abbreviation or an initial
(Dr. Smith, e.g. this, J. Smith); after a.m./p.m. only when a capital letter or CJK character follows.
A boundary is reported only once the text after it is known well enough to decide, so feeding text in pieces
gives exactly the boundaries of feeding it at once. A sentence that grows past `MAX_SENTENCE_CHARS` without a
boundary is cut at its last comma or space that is not inside a number (or, failing that, between two
characters that are not both part of one number), so memory and work stay linear in the input.
"""

from __future__ import annotations

import re

from .languages import is_wide

MAX_SENTENCE_CHARS = 300

TERMINATORS = "。！？；…!?;\n．｡"
CLOSERS = "」』”’\"')）】》〉]｣"
CANDIDATE = re.compile(r"[。！？；…!?;\n．｡.]")
NUMBER_CHARS = set("0123456789.,:")
# Words whose period never ends a sentence (titles, abbreviations that precede a word, month abbreviations).
_NO_BREAK_LIST = (
    "dr mr mrs ms prof st jr sr vs etc no nr mt ave rd blvd capt gen lt sgt gov sen rep rev hon fig approx inc ltd corp "
    "dept e.g i.e u.s u.k jan feb mar apr jun jul aug sep sept oct nov dec"
)
NO_BREAK_ABBREVIATIONS = frozenset(_NO_BREAK_LIST.split())
WORD_BEFORE = re.compile(r"([A-Za-z](?:[A-Za-z.]*[A-Za-z])?)$")


class SentenceSplitter:
    """Cuts a stream of text into raw sentences; `feed` returns the sentences completed so far."""

    def __init__(self) -> None:
        self._buffer = ""
        self._scan = 0  # where the next boundary search starts (inside the buffer)

    @property
    def pending_chars(self) -> int:
        """Characters received but not yet part of a reported sentence (bounded by MAX_SENTENCE_CHARS)."""
        return len(self._buffer)

    def feed(self, fragment: str) -> list[str]:
        self._buffer += fragment
        return self._take(final=False)

    def finish(self) -> list[str]:
        sentences = self._take(final=True)
        if self._buffer.strip():
            sentences.append(self._buffer.strip())
        self._buffer, self._scan = "", 0
        return sentences

    def _take(self, final: bool) -> list[str]:
        sentences: list[str] = []
        while True:
            end = self._next_boundary(final)
            if end is None:
                if len(self._buffer) <= MAX_SENTENCE_CHARS:
                    return sentences
                end = forced_cut(self._buffer, MAX_SENTENCE_CHARS)
            sentence = self._buffer[:end].strip()
            if sentence:
                sentences.append(sentence)
            self._buffer, self._scan = self._buffer[end:], 0

    def _next_boundary(self, final: bool) -> int | None:
        """End of the first decidable sentence in the buffer, or None (none yet, or undecidable yet)."""
        text = self._buffer
        while True:
            stop = MAX_SENTENCE_CHARS + 1
            match = CANDIDATE.search(text, self._scan, stop)
            if match is None:
                self._scan = max(self._scan, min(len(text), stop))
                return None
            decision = boundary_after(text, match.start(), final)
            if decision is None:  # need more text to decide
                self._scan = match.start()
                return None
            if decision > 0:
                return decision
            self._scan = match.end()


def boundary_after(text: str, index: int, final: bool) -> int | None:
    """For a candidate at text[index]: the boundary position, 0 when it is no boundary, None when undecidable."""
    end = index
    while end < len(text) and (text[end] in TERMINATORS or text[end] == "."):
        end += 1
    while end < len(text) and text[end] in CLOSERS:
        end += 1
    if end == len(text) and not final:
        return None
    if text[index] != "." or (end - index > 1 and text[index + 1] in TERMINATORS + "."):
        return end
    decision = period_ends_sentence(text, index, end, final)
    if decision is None:
        return None
    return end if decision else 0


def period_ends_sentence(text: str, index: int, end: int, final: bool) -> bool | None:
    """A lone period (text[index] == ".") followed by optional closers up to `end`."""
    after = text[end] if end < len(text) else ""
    if after and not (after.isspace() or is_wide(after)):
        return False  # 3.14, home-assistant.io, e.g.x
    word = WORD_BEFORE.search(text, max(0, index - 12), index)
    if word is None:
        return True
    lowered = word.group(1).lower()
    if lowered in NO_BREAK_ABBREVIATIONS or (len(lowered) == 1 and word.group(1).isupper()):
        return False
    if lowered in ("a.m", "p.m"):
        following = text[end:].lstrip()
        if not following:
            return True if final else None
        return following[0].isupper() or is_wide(following[0])
    return True


def forced_cut(text: str, limit: int) -> int:
    """Where to cut an over-long sentence (position ≤ limit, > 0): last clause mark, else last space, else between
    two characters that do not belong to one number."""
    window = text[:limit]
    for marks in ("，、,：:", " "):
        for position in range(len(window) - 1, 0, -1):
            if window[position] in marks and not _inside_number(text, position):
                return position + 1
    for position in range(limit, 0, -1):
        if not (text[position - 1] in NUMBER_CHARS and text[position] in NUMBER_CHARS):
            return position
    return limit


def _inside_number(text: str, position: int) -> bool:
    before = text[position - 1] if position > 0 else ""
    after = text[position + 1] if position + 1 < len(text) else ""
    return before.isdigit() or after.isdigit()
