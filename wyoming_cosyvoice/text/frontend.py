"""`TextFrontend`: the one object the synthesizer and the server use to turn text into model input."""

from __future__ import annotations

from .languages import check_language
from .normalize import Normalizer
from .segments import Segment, SentenceStream
from .tokenizer import WhisperTokenizer


class TextFrontend:
    """Normalises, splits and tokenises text for one voice language at a time; cheap to construct (the
    vocabulary and the per-language rules are built on first use) and safe to share between requests."""

    def __init__(self) -> None:
        self.tokenizer = WhisperTokenizer()
        self._normalizer = Normalizer()

    def normalize(self, text: str, language: str) -> str:
        """The text as it is spoken in `language` (the voice's language; mixed text is handled run by run)."""
        return self._normalizer.normalize(text, language)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of text; never a special or control id, whatever the text contains."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, not {type(text).__name__}")
        return self.tokenizer.encode_user(text)

    def sentence_stream(self, language: str) -> SentenceStream:
        """An incremental splitter: feed(fragment) → finished segments, finish() → the rest."""
        check_language(language)
        return SentenceStream(lambda sentence: self.normalize(sentence, language), self.tokenize)

    def segments(self, text: str, language: str) -> list[Segment]:
        """Speakable segments of a whole text (the same segments a stream gives for the same text)."""
        stream = self.sentence_stream(language)
        return stream.feed(text) + stream.finish()
