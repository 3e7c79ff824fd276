"""The flow-matching decoder: parity with the reference, injectable noise, the flow cache, solver settings and
its input rules."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from wyoming_cosyvoice.model.blocks import ConfigError
from wyoming_cosyvoice.model.config import read_hyperpyyaml
from wyoming_cosyvoice.model.flow import FlowCache, FlowConfig, mel_frames
from wyoming_cosyvoice.parity import Tolerances, check_flow_case


@pytest.fixture(scope="module")
def flow_case(parity_dir: Path) -> dict:
    return torch.load(parity_dir / "flow_case.pt", weights_only=True)


@pytest.fixture(scope="module")
def flow(parity_model):
    return parity_model.flow


def test_every_stage_matches_the_reference(parity_dir: Path, parity_model) -> None:
    results = check_flow_case(parity_dir, parity_model, Tolerances.read(parity_dir))
    assert set(results) == {"spk_projected", "encoder_proj_out", "mu", "mel", "short_mu", "short_mel"}
    failures = {name: result for name, result in results.items() if not result.ok}
    assert not failures, failures


@pytest.mark.parametrize("tokens, frames", [(60, 103), (25, 43), (20, 34), (250, 430), (1, 1)])
def test_mel_length_rule(tokens: int, frames: int) -> None:
    assert mel_frames(tokens, 50) == frames


def test_injected_noise_decides_the_output(flow, flow_case) -> None:
    tokens, embedding = flow_case["short_tokens"], flow_case["embedding"]
    with torch.inference_mode():
        given = [flow(tokens, embedding, noise=flow_case["short_noise"]).mel for _ in range(2)]
        seeded = [flow(tokens, embedding, generator=torch.Generator().manual_seed(3)).mel for _ in range(2)]
        other = flow(tokens, embedding, generator=torch.Generator().manual_seed(4)).mel
    assert torch.equal(given[0], given[1]) and torch.equal(seeded[0], seeded[1])
    assert not torch.equal(seeded[0], other)


def test_flow_cache_carries_noise_and_mu_of_the_last_overlap(flow, flow_case) -> None:
    tokens, embedding = flow_case["tokens"], flow_case["embedding"]
    later = tokens.roll(7, dims=1)
    noise = torch.randn(1, 80, 103, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        first = flow(tokens, embedding, noise=flow_case["noise"])
        second = flow(later, embedding, noise=noise, cache=first.cache)
        mu = flow.conditioning(tokens)
        expected_noise, expected_mu = noise.clone(), flow.conditioning(later)
        expected_noise[:, :, :34], expected_mu[:, :, :34] = flow_case["noise"][:, :, -34:], mu[:, :, -34:]
        expected = flow.decoder(expected_noise, expected_mu, flow.project_speaker(embedding), 10, 0.7)
    assert torch.equal(first.cache.noise, flow_case["noise"][:, :, -34:])
    assert torch.equal(first.cache.mu, mu[:, :, -34:])
    assert torch.equal(second.mel, expected)
    assert torch.equal(second.cache.noise, noise[:, :, -34:])


def test_guidance_off_equals_the_guided_formula_at_rate_zero(flow, flow_case) -> None:
    tokens, embedding, noise = flow_case["short_tokens"], flow_case["embedding"], flow_case["short_noise"]
    with torch.inference_mode():
        single_row = flow(tokens, embedding, noise=noise, cfg_rate=0.0).mel
        two_rows = flow(tokens, embedding, noise=noise, cfg_rate=1e-30).mel
        guided = flow(tokens, embedding, noise=noise).mel
    assert torch.allclose(single_row, two_rows, atol=1e-5)
    assert not torch.allclose(single_row, guided, atol=1e-3)


def test_fewer_steps_follow_the_cosine_grid(flow, flow_case) -> None:
    times, steps = flow.decoder.time_grid(4, flow_case["noise"])
    grid = [1 - math.cos(s / 4 * math.pi / 2) for s in range(5)]
    assert torch.allclose(times, torch.tensor(grid), atol=1e-6)
    assert math.isclose(float(sum(steps)), 1.0, abs_tol=1e-6)
    tokens, embedding, noise = flow_case["short_tokens"], flow_case["embedding"], flow_case["short_noise"]
    with torch.inference_mode():
        one_step = flow(tokens, embedding, noise=noise, n_timesteps=1).mel
        mu = flow.conditioning(tokens)
        speaker = flow.project_speaker(embedding).unsqueeze(-1).expand_as(mu)
        conditioned = torch.cat([mu, speaker, torch.zeros_like(mu)], 1)
        rows = torch.cat([conditioned, torch.zeros_like(conditioned)])  # guidance row: mu = speaker = cond = 0
        estimator = flow.decoder.estimator
        velocity = estimator(torch.cat([noise.expand(2, -1, -1), rows], 1), estimator.time_biases(torch.zeros(1)))
    assert torch.allclose(one_step, noise + 1.7 * velocity[:1] - 0.7 * velocity[1:], atol=1e-5)


def test_negative_tokens_read_as_token_zero(flow, flow_case) -> None:
    tokens = flow_case["short_tokens"].clone()
    tokens[0, :3] = 0
    negative = tokens.clone()
    negative[0, :3] = -1
    with torch.inference_mode():
        assert torch.equal(flow.encode_tokens(tokens), flow.encode_tokens(negative))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"tokens": torch.tensor([[5, 4096]])}, "speech token 4096 is outside the vocabulary of 4096"),
        ({"tokens": torch.tensor([[0.5, 1.0]])}, "tokens must be integers"),
        ({"tokens": torch.zeros(1, 0, dtype=torch.int32)}, r"tokens must be \[1, n ≥ 1\]"),
        ({"tokens": torch.zeros(2, 5, dtype=torch.int32)}, r"tokens must be \[1, n ≥ 1\]"),
        ({"embedding": torch.zeros(1, 80)}, r"speaker embedding must be float \[1, 192\]"),
        ({"noise": torch.zeros(1, 80, 5)}, r"noise must have shape \[1, 80, 43\] for 25 tokens"),
        ({"cache": FlowCache(torch.zeros(1, 80, 50), torch.zeros(1, 80, 50))}, "does not fit a chunk"),
        ({"n_timesteps": 0}, "n_timesteps must be at least 1"),
    ],
)
def test_bad_inputs_are_named(flow, flow_case, arguments: dict, message: str) -> None:
    call = {"tokens": flow_case["short_tokens"], "embedding": flow_case["embedding"], **arguments}
    with pytest.raises(ValueError, match=message), torch.inference_mode():
        flow(call.pop("tokens"), call.pop("embedding"), **call)


def test_config_reads_the_tiny_yaml_and_rejects_what_it_cannot_run(parity_dir: Path) -> None:
    section = read_hyperpyyaml(parity_dir / "cosyvoice.yaml")["flow"]
    config = FlowConfig.from_yaml(section)
    assert (config.input_size, config.encoder.output_size, config.estimator.channels) == (32, 48, (32, 32))
    assert (config.sampler.inference_cfg_rate, config.sampler.n_timesteps, config.overlap_frames) == (0.7, 10, 34)
    assert not config.encoder.causal and config.regulator_blocks == 4
    decoder = section["decoder"]

    def with_estimator(**changes: object) -> dict:
        return {**section, "decoder": {**decoder, "estimator": {**decoder["estimator"], **changes}}}

    with pytest.raises(ConfigError, match="act_fn 'snakebeta'"):
        FlowConfig.from_yaml(with_estimator(act_fn="snakebeta"))
    with pytest.raises(ConfigError, match="4 × output_size"):
        FlowConfig.from_yaml(with_estimator(in_channels=240))
    with pytest.raises(ConfigError, match="full attention"):
        FlowConfig.from_yaml({**section, "encoder": {**section["encoder"], "static_chunk_size": 1}})
    cfm = {**decoder["cfm_params"], "content": {**decoder["cfm_params"]["content"], "t_scheduler": "exp"}}
    with pytest.raises(ConfigError, match="t_scheduler 'exp'"):
        FlowConfig.from_yaml({**section, "decoder": {**decoder, "cfm_params": cfm}})
    with pytest.raises(ConfigError, match="flow section lacks 'length_regulator'"):
        FlowConfig.from_yaml({key: value for key, value in section.items() if key != "length_regulator"})


def test_estimator_may_run_in_bfloat16(parity_model, flow_case) -> None:
    """The solver state and time grid stay float32; a bfloat16 U-Net moves the mel by ~1.5 % of its range here."""
    flow = copy.deepcopy(parity_model.flow)
    flow.decoder.estimator.to(torch.bfloat16)
    with torch.inference_mode():
        mel = flow(flow_case["tokens"], flow_case["embedding"], noise=flow_case["noise"]).mel
    assert mel.dtype == torch.float32
    assert float((mel - flow_case["mel"]).abs().max()) < 0.05 * float(flow_case["mel"].abs().max())
