"""The shared encoder blocks: relative-position attention, its cached table, the KV cache, encoder configs."""

from __future__ import annotations

import math

import pytest
import torch

from wyoming_cosyvoice.model.blocks import (
    YAML_CLASS_KEY,
    ConfigError,
    Encoder,
    EncoderConfig,
    RelPositionSelfAttention,
    rel_shift,
    relative_position_rows,
)


def small_config(causal: bool, **changes: object) -> EncoderConfig:
    settings: dict[str, object] = {
        "input_size": 8, "output_size": 16, "attention_heads": 2, "linear_units": 32, "num_blocks": 2, "causal": causal
    }
    settings.update(changes)
    return EncoderConfig(**settings)  # type: ignore[arg-type]


def naive_attention(attention: RelPositionSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """Textbook relative-position attention: project the whole 2T−1 table, index it per query/key pair."""
    _, steps, d_model = x.shape
    heads, size = attention.heads, attention.head_size
    table = relative_position_rows(torch.arange(steps - 1, -steps, -1), d_model).to(x.dtype)
    positions = attention.linear_pos(table).view(2 * steps - 1, heads, size).transpose(0, 1)
    query = attention.linear_q(x).view(1, steps, heads, size)
    keys = attention.linear_k(x).view(1, steps, heads, size).transpose(1, 2)
    values = attention.linear_v(x).view(1, steps, heads, size).transpose(1, 2)
    content = (query + attention.pos_bias_u).transpose(1, 2) @ keys.transpose(-2, -1)
    by_offset = (query + attention.pos_bias_v).transpose(1, 2) @ positions.transpose(-2, -1)
    relative = torch.arange(steps)[:, None] - torch.arange(steps)[None, :]
    position = torch.gather(by_offset, 3, (steps - 1 - relative).expand(1, heads, steps, steps))
    scores = (content + position) / math.sqrt(size)
    if attention.causal:
        scores = scores.masked_fill(torch.ones(steps, steps, dtype=torch.bool).triu(1), float("-inf"))
    context = (scores.softmax(-1) @ values).transpose(1, 2).reshape(1, steps, d_model)
    return attention.linear_out(context)


def test_position_rows_are_espnet_sinusoids() -> None:
    rows = relative_position_rows(torch.tensor([3, 0, -2]), 4)
    frequencies = torch.tensor([1.0, 0.01])
    for row, position in zip(rows, (3.0, 0.0, -2.0)):
        expected = torch.stack([torch.sin(position * frequencies), torch.cos(position * frequencies)], 1).flatten()
        torch.testing.assert_close(row, expected)


@pytest.mark.parametrize("queries, keys", [(5, 5), (1, 6), (3, 7)])
def test_rel_shift_selects_relative_offsets(queries: int, keys: int) -> None:
    scores = torch.randn(2, 3, queries, 2 * keys - 1)
    shifted = rel_shift(scores)
    for i in range(queries):
        for j in range(keys):
            relative = (keys - queries + i) - j  # column of relative position r is keys−1−r
            assert shifted[0, 1, i, j] == scores[0, 1, i, keys - 1 - relative]


@pytest.mark.parametrize("causal", [True, False])
def test_attention_equals_textbook_formula(causal: bool) -> None:
    torch.manual_seed(0)
    attention = RelPositionSelfAttention(16, 2, key_bias=True, causal=causal)
    x = torch.randn(1, 70, 16)
    with torch.no_grad():
        torch.testing.assert_close(attention(x), naive_attention(attention, x), rtol=0, atol=1e-6)


def test_incremental_decoding_equals_full_causal_pass() -> None:
    torch.manual_seed(1)
    encoder = Encoder(small_config(causal=True))
    x = torch.randn(1, 150, 8)
    with torch.no_grad():
        full = encoder(x)
        cache = encoder.new_cache(capacity=21)  # too small on purpose: the cache grows
        steps = [encoder.forward_step(x[:, :20], cache)]
        steps += [encoder.forward_step(x[:, t : t + 1], cache) for t in range(20, 120)]
        steps.append(encoder.forward_step(x[:, 120:], cache))  # a multi-position chunk after the cache
    assert cache.length == 150
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=0, atol=1e-5)


def test_position_table_follows_new_weights() -> None:
    torch.manual_seed(2)
    attention = RelPositionSelfAttention(16, 2, key_bias=True, causal=True)
    x = torch.randn(1, 10, 16)
    with torch.no_grad():
        attention(x)  # fills the cache
        attention.load_state_dict({k: torch.randn_like(v) for k, v in attention.state_dict().items()})
        torch.testing.assert_close(attention(x), naive_attention(attention, x), rtol=0, atol=1e-5)


def test_weights_converted_in_inference_mode() -> None:
    torch.manual_seed(4)
    attention = RelPositionSelfAttention(16, 2, key_bias=True, causal=False)
    x = torch.randn(1, 9, 16, dtype=torch.float64)
    with torch.inference_mode():
        attention.double()  # parameters become inference tensors (no version counter)
        result = attention(x)
    with torch.no_grad():
        torch.testing.assert_close(result, naive_attention(attention, x), rtol=0, atol=1e-12)


def test_full_attention_sees_future_positions() -> None:
    torch.manual_seed(3)
    encoder = Encoder(small_config(causal=False))
    x = torch.randn(1, 12, 8)
    changed = x.clone()
    changed[:, -1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(encoder(x)[:, 0], encoder(changed)[:, 0])
        causal = Encoder(small_config(causal=True))
        torch.testing.assert_close(causal(x)[:, :-1], causal(changed)[:, :-1])


def test_layer_names_follow_the_layer_style() -> None:
    conformer = Encoder(small_config(causal=False)).state_dict()
    transformer = Encoder(small_config(causal=True, layer_style="transformer", input_layer="linear_legacy"))
    assert "encoders.0.norm_mha.weight" in conformer and "encoders.0.norm_ff.bias" in conformer
    assert "encoders.1.norm1.weight" in transformer.state_dict()
    assert "embed.out.0.weight" in conformer and "embed.out.1.bias" in conformer
    assert isinstance(transformer.embed.out[2], torch.nn.ReLU)


def encoder_section(**changes: object) -> dict:
    section = {
        YAML_CLASS_KEY: "cosyvoice.transformer.encoder.ConformerEncoder", "input_size": 32, "output_size": 48,
        "attention_heads": 4, "linear_units": 96, "num_blocks": 2, "input_layer": "linear",
        "pos_enc_layer_type": "rel_pos_espnet", "selfattention_layer_type": "rel_selfattn",
        "normalize_before": True, "use_cnn_module": False, "macaron_style": False, "static_chunk_size": 1,
    }
    section.update(changes)
    return section


def test_encoder_config_from_yaml() -> None:
    config = EncoderConfig.from_yaml(encoder_section())
    assert config == EncoderConfig(32, 48, 4, 96, 2, "linear", "conformer", "silu", causal=True)
    transformer = EncoderConfig.from_yaml(
        encoder_section(**{YAML_CLASS_KEY: "x.TransformerEncoder", "static_chunk_size": 0, "unknown": 1})
    )
    assert (transformer.layer_style, transformer.activation, transformer.causal) == ("transformer", "relu", False)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"use_cnn_module": True}, "use_cnn_module=True"),
        ({"macaron_style": True}, "macaron_style=True"),
        ({"pos_enc_layer_type": "rel_pos"}, "pos_enc_layer_type='rel_pos'"),
        ({"input_layer": "conv2d"}, "input_layer 'conv2d'"),
        ({"static_chunk_size": 4}, "static_chunk_size 4"),
        ({"activation_type": "gelu"}, "activation_type 'gelu'"),
        ({YAML_CLASS_KEY: "x.UpsampleConformerEncoder"}, "encoder class 'UpsampleConformerEncoder'"),
        ({"attention_heads": 5}, "not divisible"),
    ],
)
def test_encoder_config_rejects_unsupported_settings(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        EncoderConfig.from_yaml(encoder_section(**changes))
