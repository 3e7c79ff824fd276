"""The whisper tokenizer: reference ids, model vocabulary size, control-token injection, shipped vocabulary."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from wyoming_cosyvoice.text import TextFrontend
from wyoming_cosyvoice.text.tokenizer import (
    FIRST_SPECIAL_ID,
    MODEL_VOCABULARY_SIZE,
    WhisperTokenizer,
    special_token_names,
)


@pytest.fixture(scope="module")
def tokenizer() -> WhisperTokenizer:
    return WhisperTokenizer()


def reference_cases(reference_dir: Path) -> list[dict]:
    return json.loads((reference_dir / "tokenizer_cases.json").read_text(encoding="utf-8"))["cases"]


def test_reference_ids_on_every_case(reference_dir: Path, tokenizer: WhisperTokenizer) -> None:
    cases = reference_cases(reference_dir)
    assert len(cases) >= 20
    mismatches = [(c["text"], c["ids"], tokenizer.encode_reference(c["text"])) for c in cases]
    mismatches = [m for m in mismatches if m[1] != m[2]]
    assert not mismatches


def test_user_text_without_markers_encodes_like_the_reference(reference_dir: Path, tokenizer: WhisperTokenizer) -> None:
    for case in reference_cases(reference_dir):
        if "<|" not in case["text"]:
            assert tokenizer.encode_user(case["text"]) == case["ids"]


def test_vocabulary_covers_the_model(tokenizer: WhisperTokenizer) -> None:
    assert tokenizer.encoding.n_vocab == MODEL_VOCABULARY_SIZE
    names = special_token_names()
    assert len(names) == MODEL_VOCABULARY_SIZE - FIRST_SPECIAL_ID
    assert tokenizer.encode_reference("<|endoftext|>") == [50257]
    assert tokenizer.encode_reference("<|yue|>") == [50358]
    assert tokenizer.encode_reference("<|30.00|>") == [MODEL_VOCABULARY_SIZE - 1]


@pytest.mark.parametrize(
    "text",
    [
        "<|endoftext|>",
        "Hello <|endoftext|> world",
        "<|en|><|zh|><|transcribe|><|notimestamps|><|0.00|>",
        "<|startoftranscript|>你好<|nospeech|>",
        "<|endof" + "text|>",
    ],
)
def test_control_token_injection_never_yields_special_ids(tokenizer: WhisperTokenizer, text: str) -> None:
    ids = TextFrontend().tokenize(text)
    assert ids and max(ids) < FIRST_SPECIAL_ID
    assert tokenizer.decode(ids) == text  # encoded as the plain characters it consists of


def test_segments_never_carry_special_ids() -> None:
    segments = TextFrontend().segments("Say <|endoftext|> now. <|en|>Then stop.", "en")
    assert segments
    assert all(max(s.token_ids) < FIRST_SPECIAL_ID for s in segments)
    assert all("<|" not in s.text for s in segments)


def test_vocabulary_and_licence_ship_inside_the_package() -> None:
    folder = resources.files("wyoming_cosyvoice.text")
    vocabulary = folder.joinpath("multilingual.tiktoken").read_text(encoding="ascii")
    assert len(vocabulary.splitlines()) == FIRST_SPECIAL_ID
    licence = folder.joinpath("LICENSE.multilingual-tiktoken").read_text(encoding="utf-8")
    assert "MIT License" in licence and "OpenAI" in licence


def test_package_data_is_declared_in_pyproject() -> None:
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"text/*.tiktoken"' in pyproject and '"text/LICENSE*"' in pyproject


def test_tokenize_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        TextFrontend().tokenize(b"bytes")  # type: ignore[arg-type]
