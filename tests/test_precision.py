"""Precision per stage on the tiny reference model: int8 / bf16 stay close to float32 (bounds below, measured on
the parity model with a margin of about 3×), the plan follows the CPU's features, conversion on `meta` gives the
same state-dict layout as on real tensors, and an int8 state dict is plain tensors that round-trip through
safetensors into a model built on `meta`.

Measured (parity model, seed 0): LLM decode over a 23-position prefix + 60 speech tokens, max |Δ log-prob| int8 0.074,
bf16 0.066; max total-variation distance of the next-token distributions int8 0.0073, bf16 0.0093; flow (bf16
estimator, 80 tokens, 10 steps with guidance) mel relative error 0.0099; vocoder (bf16 convolutions) waveform
relative error 0.0067."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from wyoming_cosyvoice.model.flow import FlowModel
from wyoming_cosyvoice.model.hift import HiFTVocoder
from wyoming_cosyvoice.model.llm import TransformerLM
from wyoming_cosyvoice.model.loader import CosyVoiceModel
from wyoming_cosyvoice.model.precision import (
    Int8Linear,
    PrecisionPlan,
    apply_precision,
    cpu_features,
    resolve_precision,
)

SPEAKER = "中文女"
LOG_PROB_BOUND = 0.2  # max |Δ log-prob| over every decode step
TOTAL_VARIATION_BOUND = 0.03  # max total-variation distance between next-token distributions
MEL_RELATIVE_BOUND = 0.03  # ‖Δmel‖ / ‖mel‖
WAVE_RELATIVE_BOUND = 0.02  # ‖Δwave‖ / ‖wave‖
AVX2_ENVIRONMENT = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
}
AVX2_MACHINE = {"sse4_2", "avx", "avx2", "fma3", "f16c"}
AVX512_BF16_MACHINE = AVX2_MACHINE | {"avx512_f", "avx512_bw", "avx512_vnni", "avx512_bf16"}
AMX_MACHINE = AVX2_MACHINE | {"avx512_f", "avx512_bw", "amx_tile", "amx_bf16", "amx_int8"}
AVX512_WITHOUT_BF16 = AVX2_MACHINE | {"avx512_f", "avx512_bw", "avx512_vnni"}
ARM_MACHINE = {"neon", "asimd"}


pytestmark = pytest.mark.usefixtures("one_thread")


def converted(model: CosyVoiceModel, plan: PrecisionPlan) -> CosyVoiceModel:
    copied = copy.deepcopy(model)
    apply_precision(copied, plan)
    return copied


def decode_log_probs(model: CosyVoiceModel) -> torch.Tensor:
    """Log-probabilities of every incremental decode step: the prefix, then 60 fixed speech tokens fed one by one."""
    generator = torch.Generator().manual_seed(0)
    llm = model.llm
    text = torch.randint(0, llm.config.text_token_size, (1, 20), generator=generator)
    speech = torch.randint(0, llm.config.speech_token_size, (60,), generator=generator)
    with torch.inference_mode():
        prefix = llm.prefix_embeddings(text, model.speakers[SPEAKER])
        cache = llm.new_cache(prefix.shape[1] + len(speech))
        rows = [llm.decode_step(prefix, cache)]
        rows += [llm.decode_step(llm.embed_speech(token.view(1, 1)), cache) for token in speech]
    return torch.cat(rows).float()


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual.float() - expected).norm() / expected.norm())


# -- accuracy ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("llm_precision", ["int8", "bf16"])
def test_llm_log_probs_stay_close_to_float32(parity_model, llm_precision: str) -> None:
    expected = decode_log_probs(parity_model)
    actual = decode_log_probs(converted(parity_model, PrecisionPlan(llm=llm_precision)))
    assert (actual - expected).abs().max() < LOG_PROB_BOUND
    total_variation = 0.5 * (actual.exp() - expected.exp()).abs().sum(dim=-1)
    assert total_variation.max() < TOTAL_VARIATION_BOUND


def test_flow_and_vocoder_in_bf16_stay_close_to_float32(parity_model) -> None:
    low = converted(parity_model, PrecisionPlan(flow="bf16", hift="bf16"))
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, parity_model.config.flow.vocab_size, (1, 80), generator=generator)
    embedding = parity_model.speakers[SPEAKER]
    with torch.inference_mode():
        noise = torch.randn(parity_model.flow.conditioning(tokens).shape, generator=generator)
        mel = parity_model.flow(tokens, embedding, noise=noise).mel
        low_mel = low.flow(tokens, embedding, noise=noise).mel
        source = parity_model.hift.excitation(parity_model.hift.predict_f0(mel), generator=generator)
        wave, low_wave = parity_model.hift.decode(mel, source), low.hift.decode(mel, source)
    assert low_mel.dtype == low_wave.dtype == torch.float32
    assert relative_error(low_mel, mel) < MEL_RELATIVE_BOUND
    assert relative_error(low_wave, wave) < WAVE_RELATIVE_BOUND


def test_int8_llm_generates_speech_tokens(parity_model) -> None:
    model = converted(parity_model, PrecisionPlan(llm="int8"))
    text = torch.tensor([[5, 6, 7, 8]])
    tokens = list(model.llm.generate(text, model.speakers[SPEAKER], generator=torch.Generator().manual_seed(0)))
    minimum, maximum = model.llm.token_limits(text.shape[1])
    assert minimum <= len(tokens) <= maximum
    assert all(0 <= token < model.config.llm.speech_token_size for token in tokens)


# -- what gets converted -------------------------------------------------------------------------------------------
def test_int8_plan_quantises_llm_linears_except_the_speaker_projection(parity_model) -> None:
    model = converted(parity_model, PrecisionPlan(llm="int8"))
    assert isinstance(model.llm.llm_decoder, Int8Linear)
    assert isinstance(model.llm.llm.encoders[0].feed_forward.w_1, Int8Linear)
    assert type(model.llm.spk_embed_affine_layer) is torch.nn.Linear
    assert model.llm.speech_embedding.weight.dtype == torch.float32
    assert not any(type(module) is torch.nn.Linear for module in model.llm.llm.modules())
    assert model.precision == PrecisionPlan(llm="int8")


def test_bf16_flow_converts_the_estimator_only(parity_model) -> None:
    model = converted(parity_model, PrecisionPlan(flow="bf16"))
    assert {p.dtype for p in model.flow.decoder.estimator.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in model.flow.encoder.parameters()} == {torch.float32}
    assert model.flow.input_embedding.weight.dtype == torch.float32


def test_conversion_can_be_undone_and_repeated(parity_model) -> None:
    plan = PrecisionPlan(llm="int8", flow="bf16", hift="bf16")
    model = converted(parity_model, plan)
    once, layers = model.llm.state_dict(), list(model.llm.modules())
    apply_precision(model, plan)  # already converted: nothing is quantised or copied again
    assert all(again is before for again, before in zip(model.llm.modules(), layers, strict=True))
    assert all(torch.equal(once[key], tensor) for key, tensor in model.llm.state_dict().items())
    apply_precision(model, PrecisionPlan())
    assert {tensor.dtype for tensor in model.llm.state_dict().values()} == {torch.float32}
    dequantised = model.llm.llm_decoder.weight
    assert (dequantised - parity_model.llm.llm_decoder.weight).abs().max() <= once["llm_decoder.scale"].max() / 2
    assert {tensor.dtype for module in (model.flow, model.hift) for tensor in module.state_dict().values()} == {
        torch.float32
    }
    with torch.inference_mode():
        mel = torch.randn(1, parity_model.config.hift.in_channels, 10)
        source = parity_model.hift.excitation(parity_model.hift.predict_f0(mel))
        restored = model.hift.decode(mel, source)  # weights rounded to bf16 once, computed in float32 again
        assert relative_error(restored, parity_model.hift.decode(mel, source)) < WAVE_RELATIVE_BOUND


# -- state dicts -----------------------------------------------------------------------------------------------------
def meta_model(model: CosyVoiceModel) -> CosyVoiceModel:
    config = model.config
    with torch.device("meta"):
        networks = TransformerLM(config.llm), FlowModel(config.flow), HiFTVocoder(config.hift)
    return CosyVoiceModel(config, *networks, speakers=dict(model.speakers))


def layout(module: torch.nn.Module) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    return {key: (tensor.dtype, tuple(tensor.shape)) for key, tensor in module.state_dict().items()}


@pytest.mark.parametrize(
    "plan", [PrecisionPlan(llm="int8", flow="bf16", hift="bf16"), PrecisionPlan(llm="bf16"), PrecisionPlan()]
)
def test_meta_conversion_has_the_layout_of_real_conversion(parity_model, plan: PrecisionPlan) -> None:
    real, meta = converted(parity_model, plan), meta_model(parity_model)
    apply_precision(meta, plan)
    for network in ("llm", "flow", "hift"):
        assert layout(getattr(meta, network)) == layout(getattr(real, network))
        assert all(tensor.is_meta for tensor in getattr(meta, network).state_dict().values())


def test_int8_state_dict_round_trips_through_safetensors_into_a_meta_model(parity_model, tmp_path) -> None:
    plan = PrecisionPlan(llm="int8")
    real = converted(parity_model, plan)
    expected = decode_log_probs(real)  # the packed kernel weights exist now; they must not be saved
    state = real.llm.state_dict()
    assert all(type(tensor) is torch.nn.Parameter or type(tensor) is torch.Tensor for tensor in state.values())
    assert not any(tensor.is_quantized for tensor in state.values())
    assert state["llm_decoder.weight"].dtype == torch.int8
    assert state["llm_decoder.scale"].dtype == torch.float32
    assert state["llm_decoder.scale"].shape == (parity_model.config.llm.speech_token_size + 1,)
    path = tmp_path / "llm.safetensors"
    save_file({key: tensor.contiguous() for key, tensor in state.items()}, path)
    loaded = meta_model(parity_model)
    apply_precision(loaded, plan)
    loaded.llm.load_state_dict(load_file(path), strict=True, assign=True)
    loaded.llm.requires_grad_(False).eval()
    assert torch.equal(decode_log_probs(loaded), expected)


def test_loading_new_weights_replaces_the_packed_kernel_weight(parity_model) -> None:
    layer = Int8Linear.from_linear(parity_model.llm.llm_decoder)
    hidden = torch.randn(1, parity_model.config.llm.llm_output_size)
    with torch.inference_mode():
        before = layer(hidden)
    state = layer.state_dict()
    layer.load_state_dict({**state, "bias": state["bias"] + 1.0})
    with torch.inference_mode():
        assert torch.allclose(layer(hidden), before + 1.0, atol=1e-4)


# -- choosing the plan -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (AMX_MACHINE, PrecisionPlan(llm="int8", flow="bf16", hift="bf16")),
        (AVX512_BF16_MACHINE, PrecisionPlan(llm="int8", flow="bf16", hift="bf16")),
        (AVX512_WITHOUT_BF16, PrecisionPlan(llm="int8")),
        (AVX2_MACHINE, PrecisionPlan(llm="int8")),
        (ARM_MACHINE, PrecisionPlan()),
    ],
)
def test_auto_follows_the_cpu_features(features: set[str], expected: PrecisionPlan) -> None:
    assert resolve_precision("auto", features) == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("fp32", PrecisionPlan()),
        ("bf16", PrecisionPlan(llm="bf16", flow="bf16", hift="bf16")),
        ("int8", PrecisionPlan(llm="int8")),
    ],
)
def test_explicit_choices_ignore_the_cpu(requested: str, expected: PrecisionPlan) -> None:
    assert resolve_precision(requested, ARM_MACHINE) == expected
    assert resolve_precision(requested) == expected


def test_bad_choices_are_refused() -> None:
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp16")
    with pytest.raises(ValueError, match="flow precision"):
        PrecisionPlan(flow="int8")


def test_plan_describes_itself() -> None:
    assert PrecisionPlan(llm="int8", flow="bf16").describe() == "llm int8, flow bf16, vocoder fp32"


def test_capped_instruction_sets_hide_avx512_and_amx() -> None:
    """Run in a fresh interpreter: the caps act only when set before torch is imported."""
    code = "from wyoming_cosyvoice.model.precision import cpu_features; print(' '.join(sorted(cpu_features())))"
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **AVX2_ENVIRONMENT}, capture_output=True, text=True, check=True
    )
    capped = set(result.stdout.split())
    assert not any(flag.startswith(("avx512", "amx")) for flag in capped)
    assert capped <= cpu_features()
    assert resolve_precision("auto", capped).flow == "fp32"
