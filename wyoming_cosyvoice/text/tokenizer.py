"""The whisper multilingual byte-pair tokenizer the CosyVoice-300M LLM was trained with.

Library: `tiktoken` does the byte-pair encoding. Ours: building the encoding from the vocabulary shipped next
to this module (`multilingual.tiktoken`, MIT licence in `LICENSE.multilingual-tiktoken`), whisper's list of
special tokens (so the model's 51,866 ids exist) and the two encoding policies:

- `encode_reference(text)` encodes `<|...|>` markers as special ids, exactly as the upstream frontend does
  (`allowed_special="all"`); it exists to prove id parity with the reference.
- `encode_user(text)` never produces a special id: a marker typed by a user, such as `<|endoftext|>`, is
  encoded as the plain characters it consists of. (The normaliser also removes such markers before they get
  here, so they are not spoken either.)
"""

from __future__ import annotations

import base64
import threading
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

VOCABULARY_FILE = "multilingual.tiktoken"
MODEL_VOCABULARY_SIZE = 51866
FIRST_SPECIAL_ID = 50257

# whisper's language tags, in its order; the v1 model uses the first 100 (through "yue").
_WHISPER_LANGUAGE_LIST = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg "
    "lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so "
    "af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su yue"
)
WHISPER_LANGUAGES = tuple(_WHISPER_LANGUAGE_LIST.split())

# whisper's pre-tokenisation pattern (contractions, letters, digits, other symbols, whitespace).
SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

TIMESTAMP_COUNT = 1501  # <|0.00|> … <|30.00|> in steps of 0.02 s


def special_token_names() -> list[str]:
    """whisper's special tokens in id order, starting at id 50257."""
    return [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in WHISPER_LANGUAGES),
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
        *(f"<|{step * 0.02:.2f}|>" for step in range(TIMESTAMP_COUNT)),
    ]


def read_mergeable_ranks() -> dict[bytes, int]:
    """The byte sequences of the shipped vocabulary with their ranks (= ids)."""
    text = resources.files(__package__).joinpath(VOCABULARY_FILE).read_text(encoding="ascii")
    ranks: dict[bytes, int] = {}
    for line in text.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def build_encoding() -> tiktoken.Encoding:
    """The tiktoken encoding of the model: shipped ranks, whisper's pattern and special tokens (51,866 ids)."""
    import tiktoken

    ranks = read_mergeable_ranks()
    specials = {name: len(ranks) + index for index, name in enumerate(special_token_names())}
    return tiktoken.Encoding(
        name="whisper-multilingual",
        pat_str=SPLIT_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=specials,
        explicit_n_vocab=MODEL_VOCABULARY_SIZE,
    )


class WhisperTokenizer:
    """Owns the tiktoken encoding (built once, on first use, thread-safe) and the two encoding policies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._encoding: tiktoken.Encoding | None = None

    @property
    def encoding(self) -> tiktoken.Encoding:
        if self._encoding is None:
            with self._lock:
                if self._encoding is None:
                    self._encoding = build_encoding()
        return self._encoding

    def encode_user(self, text: str) -> list[int]:
        """Token ids of user text; special markers are encoded as ordinary characters."""
        return self.encoding.encode_ordinary(text)

    def encode_reference(self, text: str) -> list[int]:
        """Token ids exactly as the upstream frontend computes them (special markers become special ids)."""
        return self.encoding.encode(text, allowed_special="all")

    def decode(self, ids: list[int]) -> str:
        return self.encoding.decode(ids)
