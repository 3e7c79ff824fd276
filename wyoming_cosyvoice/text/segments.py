"""Speakable segments for the synthesizer: normalised, cut to the model's size, merged, tokenised (hand-written).

Each raw sentence is normalised on its own (boundaries never fall inside a number, time or abbreviation, so
nothing that a rule reads is split). A piece longer than the limit is cut at clause marks, then at spaces, then
anywhere between characters, so no segment exceeds `MAX_TOKENS`. The first segment is the first piece alone (the
first sentence is cut to at most `FIRST_MAX_TOKENS`, so audio starts early); later pieces are merged until a segment
reaches `MERGE_MIN_TOKENS` or the next piece would pass `MAX_TOKENS` (the reference splits to 60–80 tokens). The merge
decision depends only on pieces already seen, so the stream's segments equal the one-shot segments.
Pieces with nothing to speak (punctuation only) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .languages import HANGUL, is_wide
from .sentences import SentenceSplitter

MAX_TOKENS = 80
MERGE_MIN_TOKENS = 60
FIRST_MAX_TOKENS = 30
MAX_CHARS_PER_TOKEN = 33  # bounds the hard-cut search: the longest vocabulary entry is 33 bytes

CLAUSE_END = re.compile(r"(?<=[，、,;；：:])(?!\d)")
SPEAKABLE = re.compile(r"\w")
HANGUL_CHAR = re.compile(f"[{HANGUL}]")

Tokenize = Callable[[str], list[int]]
Normalize = Callable[[str], str]


@dataclass(frozen=True)
class Segment:
    """One piece of text for one LLM run: its normalised text and its token ids."""

    text: str
    token_ids: list[int]


def join_pieces(left: str, right: str) -> str:
    """Concatenate two normalised pieces, with a space unless one side is written without spaces (Chinese,
    Japanese, full-width punctuation; Korean is written with spaces)."""
    if not left or not right or unspaced(left[-1]) or unspaced(right[0]):
        return left + right
    return f"{left} {right}"


def unspaced(char: str) -> bool:
    return is_wide(char) and not HANGUL_CHAR.match(char)


def cut_to_fit(text: str, limit: int, tokenize: Tokenize) -> list[str]:
    """Split text into pieces of at most `limit` tokens: at clause marks, then spaces, then characters."""
    if len(tokenize(text)) <= limit:
        return [text]
    for splitter in (CLAUSE_END.split, str.split):
        parts = [part.strip() for part in splitter(text) if part.strip()]
        if len(parts) > 1:
            return pack(parts, limit, tokenize)
    return cut_characters(text, limit, tokenize)


def pack(parts: list[str], limit: int, tokenize: Tokenize) -> list[str]:
    """Greedily join consecutive parts into pieces of at most `limit` tokens (over-long parts are cut further)."""
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = join_pieces(current, part)
        if current and len(tokenize(candidate)) > limit:
            pieces.append(current)
            candidate = part
        if len(tokenize(candidate)) > limit:
            *whole, candidate = cut_to_fit(candidate, limit, tokenize)
            pieces.extend(whole)
        current = candidate
    if current:
        pieces.append(current)
    return pieces


def cut_characters(text: str, limit: int, tokenize: Tokenize) -> list[str]:
    """Hard cut: the longest prefix within the limit, found by bisection, repeatedly."""
    pieces = []
    while text:
        low, high = 1, min(len(text), limit * MAX_CHARS_PER_TOKEN)
        while low < high:
            middle = (low + high + 1) // 2
            if len(tokenize(text[:middle])) <= limit:
                low = middle
            else:
                high = middle - 1
        pieces.append(text[:low])
        text = text[low:]
    return pieces


class SegmentAssembler:
    """Turns normalised pieces into segments: first one alone and short, later ones merged to 60–80 tokens."""

    def __init__(self, tokenize: Tokenize) -> None:
        self._tokenize = tokenize
        self._pending = ""
        self._pending_tokens: list[int] = []
        self._emitted = 0

    def add_sentence(self, text: str) -> list[Segment]:
        limit = FIRST_MAX_TOKENS if self._emitted == 0 and not self._pending else MAX_TOKENS
        segments: list[Segment] = []
        for piece in cut_to_fit(text, limit, self._tokenize):
            segments += self._add_piece(piece)
        return segments

    def finish(self) -> list[Segment]:
        return self._flush()

    def _add_piece(self, piece: str) -> list[Segment]:
        if not SPEAKABLE.search(piece):
            return []
        if self._emitted == 0 and not self._pending:
            self._pending, self._pending_tokens = piece, self._tokenize(piece)
            return self._flush()
        segments: list[Segment] = []
        merged = join_pieces(self._pending, piece)
        merged_tokens = self._tokenize(merged)
        if self._pending and len(merged_tokens) > MAX_TOKENS:
            segments += self._flush()
            merged, merged_tokens = piece, self._tokenize(piece)
        self._pending, self._pending_tokens = merged, merged_tokens
        if len(merged_tokens) >= MERGE_MIN_TOKENS:
            segments += self._flush()
        return segments

    def _flush(self) -> list[Segment]:
        if not self._pending:
            return []
        segment = Segment(self._pending, self._pending_tokens)
        self._pending, self._pending_tokens = "", []
        self._emitted += 1
        return [segment]


class SentenceStream:
    """Incremental segments for text that arrives in fragments (e.g. streamed Wyoming synthesize-chunk events)."""

    def __init__(self, normalize: Normalize, tokenize: Tokenize) -> None:
        self._normalize = normalize
        self._splitter = SentenceSplitter()
        self._assembler = SegmentAssembler(tokenize)
        self._finished = False

    def feed(self, fragment: str) -> list[Segment]:
        """Add text; returns the segments completed by it (possibly none)."""
        if self._finished:
            raise RuntimeError("this sentence stream is finished; start a new one")
        if not isinstance(fragment, str):
            raise TypeError(f"text fragments must be strings, not {type(fragment).__name__}")
        return self._segments(self._splitter.feed(fragment))

    def finish(self) -> list[Segment]:
        """The end of the text: returns the remaining segments."""
        if self._finished:
            return []
        self._finished = True
        return self._segments(self._splitter.finish()) + self._assembler.finish()

    def _segments(self, sentences: list[str]) -> list[Segment]:
        segments: list[Segment] = []
        for sentence in sentences:
            normalized = self._normalize(sentence)
            if normalized:
                segments += self._assembler.add_sentence(normalized)
        return segments
