"""Random-weight model folders: official layout, loadable, deterministic, sane scale."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from wyoming_cosyvoice.model.loader import load_model
from wyoming_cosyvoice.model.random_weights import SPEAKER_NAMES, write_random_model


def test_tiny_folder_has_the_official_layout_and_loads(tiny_random_model_dir: Path, parity_dir: Path) -> None:
    names = sorted(path.name for path in tiny_random_model_dir.iterdir())
    assert names == ["cosyvoice.yaml", "flow.pt", "hift.pt", "llm.pt", "spk2info.pt"]
    assert (tiny_random_model_dir / "cosyvoice.yaml").read_bytes() == (parity_dir / "cosyvoice.yaml").read_bytes()
    model = load_model(tiny_random_model_dir)
    assert list(model.speakers) == list(SPEAKER_NAMES)
    for name in ("llm.pt", "flow.pt", "hift.pt"):
        ours = torch.load(tiny_random_model_dir / name, weights_only=True)
        reference = torch.load(parity_dir / name, weights_only=True)
        assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in reference.items()}, name
        assert all(torch.isfinite(tensor).all() for tensor in ours.values())


def test_same_seed_same_weights(tmp_path: Path, tiny_random_model_dir: Path) -> None:
    state = torch.get_rng_state()
    again = write_random_model(tmp_path / "again", "tiny", seed=0)
    other = write_random_model(tmp_path / "other", "tiny", seed=1)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is untouched
    first = torch.load(tiny_random_model_dir / "llm.pt", weights_only=True)
    second = torch.load(again / "llm.pt", weights_only=True)
    third = torch.load(other / "llm.pt", weights_only=True)
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not torch.equal(first["llm_decoder.weight"], third["llm_decoder.weight"])


def test_llm_of_a_random_model_generates_tokens(tiny_random_model_dir: Path) -> None:
    model = load_model(tiny_random_model_dir)
    text = torch.tensor([[100, 200, 300, 400]])
    tokens = list(model.llm.generate(text, model.speakers["英文女"], torch.Generator().manual_seed(0)))
    assert 8 <= len(tokens) <= 80


def test_unknown_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model size 'huge'"):
        write_random_model(tmp_path, "huge")


def test_random_model_turns_text_into_finite_audio(tiny_random_model_dir: Path) -> None:
    model = load_model(tiny_random_model_dir)
    speaker = model.speakers["中文女"]
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        tokens = list(model.llm.generate(torch.tensor([[100, 200, 300]]), speaker, generator, limits=(30, 30)))
        mel = model.flow(torch.tensor([tokens]), speaker, generator=generator).mel
        speech, _ = model.hift(mel, generator=generator)
    assert mel.shape == (1, 80, 51) and speech.shape == (1, 51 * 256)
    assert torch.isfinite(mel).all() and torch.isfinite(speech).all()
    assert 0.0 < float(speech.abs().max()) <= 0.99
