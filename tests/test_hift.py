"""The HiFT vocoder: parity with the reference at each stage, both weight-norm namings, and its input rules."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from wyoming_cosyvoice.model.blocks import ConfigError
from wyoming_cosyvoice.model.config import read_hyperpyyaml
from wyoming_cosyvoice.model.hift import HiFTConfig, HiFTVocoder
from wyoming_cosyvoice.model.weight_norm import WeightNormConv1d, WeightNormConvTranspose1d
from wyoming_cosyvoice.parity import Tolerances, check_hift_case, check_hift_legacy_case


@pytest.fixture(scope="module")
def hift_case(parity_dir: Path) -> dict:
    return torch.load(parity_dir / "hift_case.pt", weights_only=True)


def assert_all_within_bounds(results: dict) -> None:
    failures = {name: result for name, result in results.items() if not result.ok}
    assert not failures, failures


def test_f0_source_and_speech_match_the_reference(parity_dir: Path, parity_model) -> None:
    results = check_hift_case(parity_dir, parity_model, Tolerances.read(parity_dir))
    assert set(results) == {"f0", "source", "speech"}
    assert_all_within_bounds(results)


def test_legacy_weight_norm_checkpoint_gives_identical_output(parity_dir: Path, parity_model) -> None:
    results = check_hift_legacy_case(parity_dir, parity_model, Tolerances.read(parity_dir))
    assert_all_within_bounds(results)
    assert results["speech_same_as_hift_pt"].max_abs_error == 0.0


@pytest.mark.parametrize("file_name", ["hift.pt", "hift_legacy_weight_norm.pt"])
def test_both_namings_load_strictly_into_the_module(parity_dir: Path, parity_model, hift_case, file_name) -> None:
    vocoder = HiFTVocoder(parity_model.config.hift)
    vocoder.load_state_dict(torch.load(parity_dir / file_name, weights_only=True), strict=True)
    with torch.inference_mode():
        speech = vocoder.decode(hift_case["mel"], hift_case["source"])
        expected = parity_model.hift.decode(hift_case["mel"], hift_case["source"])
    assert torch.equal(speech, expected)
    assert list(vocoder.state_dict()) == list(torch.load(parity_dir / "hift.pt", weights_only=True))


@pytest.mark.parametrize("transposed", [False, True])
def test_weight_norm_layers_equal_pytorchs_parametrization(transposed: bool) -> None:
    torch.manual_seed(1)
    if transposed:  # the norm is per *input* channel (dim 0 of a transposed convolution's weight)
        ours: nn.Module = WeightNormConvTranspose1d(6, 4, 16, 8, 4)
        theirs = nn.utils.parametrizations.weight_norm(nn.ConvTranspose1d(6, 4, 16, 8, 4))
    else:
        ours = WeightNormConv1d(6, 4, 7, padding=6, dilation=2)
        theirs = nn.utils.parametrizations.weight_norm(nn.Conv1d(6, 4, 7, padding=6, dilation=2))
    with torch.no_grad():
        theirs.parametrizations.weight.original0.mul_(torch.rand_like(theirs.parametrizations.weight.original0) + 0.5)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = torch.randn(2, 6, 40)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_old_style_weight_norm_names_load() -> None:
    torch.manual_seed(2)
    with warnings.catch_warnings():  # torch.nn.utils.weight_norm is deprecated; it is what wrote the v1 files
        warnings.simplefilter("ignore")
        legacy = nn.utils.weight_norm(nn.Conv1d(3, 5, 3, padding=1))
    ours = WeightNormConv1d(3, 5, 3, padding=1)
    ours.load_state_dict(legacy.state_dict(), strict=True)
    x = torch.randn(1, 3, 20)
    with torch.no_grad():
        assert torch.allclose(ours(x), legacy(x), atol=1e-6)


def test_folded_weight_follows_new_weights(parity_dir: Path, parity_model, hift_case) -> None:
    state = torch.load(parity_dir / "hift.pt", weights_only=True)
    vocoder = HiFTVocoder(parity_model.config.hift)
    vocoder.load_state_dict(state, strict=True)
    mel = hift_case["mel"]
    with torch.inference_mode():
        before = vocoder.predict_f0(mel)
    changed = dict(state)
    changed["f0_predictor.condnet.0.parametrizations.weight.original0"] = state[
        "f0_predictor.condnet.0.parametrizations.weight.original0"] * 1.5
    vocoder.load_state_dict(changed, strict=True)  # copies into the existing parameters (same storage)
    fresh = HiFTVocoder(parity_model.config.hift)
    fresh.load_state_dict(changed, strict=True)
    with torch.inference_mode():
        after, expected = vocoder.predict_f0(mel), fresh.predict_f0(mel)
    assert not torch.equal(before, after)
    assert torch.equal(after, expected)


def test_folding_in_place_keeps_an_equivalent_state_dict(parity_dir: Path, parity_model, hift_case) -> None:
    vocoder = HiFTVocoder(parity_model.config.hift)
    vocoder.load_state_dict(torch.load(parity_dir / "hift.pt", weights_only=True), strict=True)
    with torch.inference_mode():
        speech = vocoder.decode(hift_case["mel"], hift_case["source"])  # folds every weight-normalised layer
    again = HiFTVocoder(parity_model.config.hift)
    again.load_state_dict(vocoder.state_dict(), strict=True)
    with torch.inference_mode():
        assert torch.allclose(again.decode(hift_case["mel"], hift_case["source"]), speech, atol=1e-6)


def test_cached_source_replaces_the_start_of_the_excitation(parity_model, hift_case) -> None:
    mel, source = hift_case["mel"], hift_case["source"]
    cached = torch.full((1, 1, 5120), 0.05)
    with torch.inference_mode():
        speech, used = parity_model.hift(mel, cache_source=cached, source=source)
        expected = parity_model.hift.decode(mel, used)
    assert torch.equal(used[:, :, :5120], cached) and torch.equal(used[:, :, 5120:], source[:, :, 5120:])
    assert torch.equal(speech, expected)
    assert speech.shape == (1, 256 * mel.shape[2]) and float(speech.abs().max()) <= 0.99


def test_random_excitation_is_reproducible_and_well_formed(parity_model, hift_case) -> None:
    hift = parity_model.hift
    phases = hift.m_source.random_phases(3, torch.float32, torch.device("cpu"), torch.Generator().manual_seed(5))
    assert phases.shape == (3, 9, 1) and torch.all(phases[:, 0] == 0) and float(phases.abs().max()) <= torch.pi
    with torch.inference_mode():
        first = hift(hift_case["mel"], generator=torch.Generator().manual_seed(7))
        second = hift(hift_case["mel"], generator=torch.Generator().manual_seed(7))
        other = hift(hift_case["mel"], generator=torch.Generator().manual_seed(8))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[1], other[1])


def test_voicing_threshold_gates_the_sines(parity_model) -> None:
    hift = parity_model.hift
    silent = torch.zeros(1, 9, 256 * 4)
    phases = torch.zeros(1, 9, 1)
    with torch.inference_mode():
        unvoiced = hift.excitation(torch.full((1, 4), 9.99), phases, silent)
        voiced = hift.excitation(torch.full((1, 4), 10.01), phases, silent)
    assert torch.all(unvoiced == unvoiced[0, 0, 0])  # only the merge layer's bias: no sine below 10 Hz
    assert float(voiced.std()) > 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda hift: hift.predict_f0(torch.zeros(1, 79, 10)), r"mel must be \[batch, 80, frames ≥ 1\]"),
        (lambda hift: hift.decode(torch.zeros(1, 80, 10), torch.zeros(1, 1, 100)), r"source must have shape"),
        (lambda hift: hift.excitation(torch.zeros(1, 4), torch.zeros(1, 8, 1)), r"phases must have shape"),
        (lambda hift: hift.excitation(torch.zeros(4)), r"f0 must be \[batch, frames\]"),
        (lambda hift: hift(torch.zeros(1, 80, 2), cache_source=torch.zeros(1, 1, 600)), r"more than the 512"),
    ],
)
def test_bad_inputs_are_named(parity_model, call, message: str) -> None:
    with pytest.raises(ValueError, match=message), torch.inference_mode():
        call(parity_model.hift)


def test_config_reads_the_tiny_yaml_and_rejects_what_it_cannot_run(parity_dir: Path) -> None:
    section = read_hyperpyyaml(parity_dir / "cosyvoice.yaml")["hift"]
    config = HiFTConfig.from_yaml(section)
    assert (config.base_channels, config.f0_cond_channels, config.harmonics) == (32, 32, 9)
    assert config.samples_per_frame == 256
    with pytest.raises(ConfigError, match="sampling_rate 24000"):
        HiFTConfig.from_yaml({**section, "sampling_rate": 24000})
    with pytest.raises(ConfigError, match="f0_predictor class"):
        HiFTConfig.from_yaml({**section, "f0_predictor": {"__class__": "x.CausalConvRNNF0Predictor"}})
    with pytest.raises(ConfigError, match="one source resblock"):
        HiFTConfig.from_yaml({**section, "source_resblock_kernel_sizes": [7]})
    with pytest.raises(ConfigError, match="malformed"):
        HiFTConfig.from_yaml({**section, "upsample_rates": ["eight", 8]})
