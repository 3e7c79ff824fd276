"""Transformer building blocks shared by CosyVoice's encoders.

Owns the encoder used three times in the model — the LLM's text encoder and decoder body, and the flow's token
encoder: an input layer (`linear` / `linear_legacy`) scaled by √d, pre-norm blocks of relative-position
("rel_pos_espnet") multi-head self-attention and a feed-forward network, and a final LayerNorm. Parameter names
equal the official checkpoint names (`embed.out.0`, `encoders.N.self_attn.pos_bias_u`, …).

Two execution paths compute the same function:
- full sequence (`Encoder.forward`): the whole input at once, causal or full attention;
- incremental (`Encoder.forward_step` with a `KeyValueCache`): a prefix in one call, then one or more positions
  per call; keys and values go into a pre-allocated cache and no mask is built for single-position steps.
The relative-position table projected by each layer's `linear_pos` does not depend on the input, so every
attention layer projects it once, keeps it and only projects new rows when a longer sequence needs them.
Inference only: there is no dropout and no padding (every row of a batch has the full length).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# config.read_model_config stores the class named by a `!new:` / `!name:` tag under this key of the mapping.
YAML_CLASS_KEY = "__class__"

BLOCK_NORM_EPS = 1e-12  # LayerNorms inside the blocks
OUTER_NORM_EPS = 1e-5  # LayerNorms of the input layer and after_norm
TABLE_GROWTH = 64  # the projected position table grows in steps of this many positions

_LAYER_STYLES = {"ConformerEncoder": "conformer", "TransformerEncoder": "transformer"}
_DEFAULT_ACTIVATION = {"conformer": "silu", "transformer": "relu"}
_ACTIVATIONS = {"swish": "silu", "silu": "silu", "relu": "relu"}
# (attention norm, feed-forward norm) names per layer style
_NORM_NAMES = {"conformer": ("norm_mha", "norm_ff"), "transformer": ("norm1", "norm2")}


class ConfigError(ValueError):
    """A hyper-parameter file describes something this implementation does not support."""


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of one encoder stack (upstream `ConformerEncoder` / `TransformerEncoder`)."""

    input_size: int
    output_size: int
    attention_heads: int
    linear_units: int
    num_blocks: int
    input_layer: str = "linear"  # "linear" or "linear_legacy" (adds a ReLU)
    layer_style: str = "conformer"  # decides the LayerNorm names: conformer norm_mha/norm_ff, transformer norm1/norm2
    activation: str = "silu"  # feed-forward activation: "silu" or "relu"
    causal: bool = False  # chunk-1 subsequent mask instead of full attention
    key_bias: bool = True

    def __post_init__(self) -> None:
        if self.input_layer not in ("linear", "linear_legacy"):
            raise ConfigError(f"unsupported encoder input_layer {self.input_layer!r}")
        if self.layer_style not in _NORM_NAMES:
            raise ConfigError(f"unsupported encoder layer style {self.layer_style!r}")
        if self.activation not in ("silu", "relu"):
            raise ConfigError(f"unsupported encoder activation {self.activation!r}")
        if self.output_size % self.attention_heads:
            raise ConfigError(
                f"encoder output_size {self.output_size} is not divisible by {self.attention_heads} heads"
            )

    @classmethod
    def from_yaml(cls, section: Mapping[str, Any]) -> EncoderConfig:
        """Read an encoder section of cosyvoice.yaml (as mapped by config.read_model_config)."""
        class_name = str(section.get(YAML_CLASS_KEY, "")).rsplit(".", 1)[-1]
        style = _LAYER_STYLES.get(class_name)
        if style is None:
            raise ConfigError(f"unsupported encoder class {class_name or '(none)'!r}")
        _require(section, "pos_enc_layer_type", "rel_pos_espnet")
        _require(section, "selfattention_layer_type", "rel_selfattn")
        _require(section, "normalize_before", True)
        _require(section, "use_cnn_module", False)
        _require(section, "macaron_style", False)
        _require(section, "use_dynamic_chunk", False)
        chunk = int(section.get("static_chunk_size", 0))
        if chunk not in (0, 1):
            raise ConfigError(f"unsupported encoder static_chunk_size {chunk} (only 0 and 1)")
        activation_type = str(section.get("activation_type", _DEFAULT_ACTIVATION[style]))
        if activation_type not in _ACTIVATIONS:
            raise ConfigError(f"unsupported encoder activation_type {activation_type!r}")
        try:
            return cls(
                input_size=int(section["input_size"]),
                output_size=int(section.get("output_size", 256)),
                attention_heads=int(section.get("attention_heads", 4)),
                linear_units=int(section.get("linear_units", 2048)),
                num_blocks=int(section.get("num_blocks", 6)),
                input_layer=str(section.get("input_layer", "conv2d")),
                layer_style=style,
                activation=_ACTIVATIONS[activation_type],
                causal=chunk == 1,
                key_bias=bool(section.get("key_bias", True)),
            )
        except KeyError as missing:
            raise ConfigError(f"encoder section lacks {missing.args[0]!r}") from None

    @property
    def head_size(self) -> int:
        return self.output_size // self.attention_heads


def _require(section: Mapping[str, Any], key: str, supported: object) -> None:
    """Reject a setting that changes the network into one this module does not implement."""
    value = section.get(key, supported)
    if value != supported:
        raise ConfigError(f"unsupported encoder setting {key}={value!r} (only {supported!r})")


def relative_position_rows(relative_positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """Espnet relative-position encoding rows (float32 [n, d_model]) for the given relative positions.

    Row for position r: sin(r·ω_i) on even dims, cos(r·ω_i) on odd dims, ω_i = 10000^(−2i/d) — computed in float32
    exactly as the reference does (its table lists r = L−1 … 0 … −(L−1))."""
    frequencies = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
    angles = relative_positions.to(torch.float32).unsqueeze(1) * frequencies
    rows = torch.empty(len(relative_positions), d_model, dtype=torch.float32)
    rows[:, 0::2] = torch.sin(angles)
    rows[:, 1::2] = torch.cos(angles)
    return rows


def rel_shift(scores: torch.Tensor) -> torch.Tensor:
    """Turn position scores [B, H, Tq, 2Tk−1] over relative positions Tk−1 … −(Tk−1) into [B, H, Tq, Tk] scores
    per key: out[i, j] = scores[i, Tq−1−i+j], i.e. relative position (Tk−Tq+i) − j for query i (the queries are
    the last Tq of the Tk positions)."""
    batch, heads, queries, width = scores.shape
    padded = F.pad(scores, (1, 0)).view(batch, heads, width + 1, queries)
    return padded[:, :, 1:].reshape(batch, heads, queries, width)[..., : width // 2 + 1]


class KeyValueCache:
    """Pre-allocated keys and values of every layer of one encoder, for incremental decoding.

    `length` positions are stored; a step writes its keys at [length, length + T) in every layer and the encoder
    then advances `length`. Capacity grows (by copying) only if a caller exceeds what it asked for."""

    def __init__(
        self, num_layers: int, batch: int, heads: int, head_size: int, capacity: int, dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        shape = (num_layers, batch, heads, capacity, head_size)
        self.keys = torch.empty(shape, dtype=dtype, device=device)
        self.values = torch.empty(shape, dtype=dtype, device=device)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.keys.shape[3]

    def store(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write one layer's new keys/values [B, H, T, d_k]; return all keys/values so far [B, H, length+T, d_k]."""
        end = self.length + keys.shape[2]
        if end > self.capacity:
            self._grow(end)
        self.keys[layer, :, :, self.length : end] = keys
        self.values[layer, :, :, self.length : end] = values
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]

    def advance(self, steps: int) -> None:
        self.length += steps

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * self.capacity)
        for name in ("keys", "values"):
            old = getattr(self, name)
            new = old.new_empty((*old.shape[:3], capacity, old.shape[4]))
            new[:, :, :, : self.length] = old[:, :, :, : self.length]
            setattr(self, name, new)


class RelPositionSelfAttention(nn.Module):
    """Multi-head self-attention with espnet relative positions and Transformer-XL biases.

    scores = ((q + pos_bias_u)·kᵀ + rel_shift((q + pos_bias_v)·pᵀ)) / √d_k, p = linear_pos(relative table).
    Responsibilities: the projections, the cached projected position table, causal masking, KV-cache writes."""

    def __init__(self, d_model: int, heads: int, key_bias: bool, causal: bool) -> None:
        super().__init__()
        self.heads = heads
        self.head_size = d_model // heads
        self.causal = causal
        self.linear_q = nn.Linear(d_model, d_model)
        self.linear_k = nn.Linear(d_model, d_model, bias=key_bias)
        self.linear_v = nn.Linear(d_model, d_model)
        self.linear_out = nn.Linear(d_model, d_model)
        self.linear_pos = nn.Linear(d_model, d_model, bias=False)
        self.pos_bias_u = nn.Parameter(torch.empty(heads, self.head_size))
        self.pos_bias_v = nn.Parameter(torch.empty(heads, self.head_size))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)
        self._table: torch.Tensor | None = None  # [H, rows, d_k], relative positions reach−1 … 0 (… −(reach−1))
        self._table_reach = 0
        self._table_fingerprint: tuple[Any, ...] = ()

    def forward(self, x: torch.Tensor, cache: KeyValueCache | None = None, layer: int = 0) -> torch.Tensor:
        """x [B, T, D] → [B, T, D]. With a cache, x holds the T positions after the cached ones."""
        batch, steps, d_model = x.shape
        split = (batch, steps, self.heads, self.head_size)
        query = self.linear_q(x).view(split)
        keys = self.linear_k(x).view(split).transpose(1, 2)
        values = self.linear_v(x).view(split).transpose(1, 2)
        if cache is not None:
            keys, values = cache.store(layer, keys, values)
        content = torch.matmul((query + self.pos_bias_u).transpose(1, 2), keys.transpose(-2, -1))
        position = self._position_scores((query + self.pos_bias_v).transpose(1, 2), keys.shape[2])
        scores = (content + position) / math.sqrt(self.head_size)
        if self.causal and steps > 1:
            scores = scores.masked_fill(_future_mask(steps, keys.shape[2], x.device), float("-inf"))
        context = torch.matmul(torch.softmax(scores, dim=-1), values)
        return self.linear_out(context.transpose(1, 2).reshape(batch, steps, d_model))

    def _position_scores(self, query_v: torch.Tensor, key_len: int) -> torch.Tensor:
        """(q + pos_bias_v)·p for every query/key pair: [B, H, Tq, d_k] → [B, H, Tq, Tk]."""
        table = self._projected_table(key_len)
        zero = self._table_reach - 1  # row of relative position 0
        behind = table[:, zero - key_len + 1 : zero + 1]  # relative positions key_len−1 … 0
        if query_v.shape[2] == 1:  # the last position: key j is key_len−1−j behind it
            return torch.matmul(query_v, behind.transpose(-2, -1))
        if self.causal:  # keys ahead are masked: zeros stand in for their scores
            scores = F.pad(torch.matmul(query_v, behind.transpose(-2, -1)), (0, key_len - 1))
        else:
            scores = torch.matmul(query_v, table[:, zero - key_len + 1 : zero + key_len].transpose(-2, -1))
        return rel_shift(scores)

    def _projected_table(self, key_len: int) -> torch.Tensor:
        """linear_pos of the relative table, per head, covering at least key_len positions; recomputed only when
        the projection's weights change, extended by new rows when a longer sequence needs them."""
        fingerprint = self._weights_fingerprint()
        if fingerprint != self._table_fingerprint:
            self._table, self._table_reach, self._table_fingerprint = None, 0, fingerprint
        if key_len > self._table_reach:
            self._extend_table(TABLE_GROWTH * math.ceil(key_len / TABLE_GROWTH))
        assert self._table is not None
        return self._table

    def _weights_fingerprint(self) -> tuple[Any, ...]:
        weights = tuple((p.data_ptr(), _version(p), p.dtype, p.device) for p in self.linear_pos.parameters())
        return (self.linear_pos, *weights)

    def _extend_table(self, reach: int) -> None:
        old = self._table_reach
        ahead = torch.arange(reach - 1, old - 1, -1)  # new positive positions, descending
        parts = [self._project(ahead)]
        if self._table is not None:
            parts.append(self._table)
        if not self.causal:
            parts.append(self._project(torch.arange(-max(old, 1), -reach, -1)))  # new negative positions
        self._table = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        self._table_reach = reach

    def _project(self, relative_positions: torch.Tensor) -> torch.Tensor:
        reference = self.pos_bias_u
        rows = relative_position_rows(relative_positions, self.heads * self.head_size)
        with torch.no_grad():
            projected = self.linear_pos(rows.to(device=reference.device, dtype=reference.dtype))
        return projected.view(len(relative_positions), self.heads, self.head_size).transpose(0, 1).contiguous()


def _version(tensor: torch.Tensor) -> int | None:
    """The in-place write counter; None for inference tensors (they cannot be written outside inference mode)."""
    try:
        return tensor._version
    except RuntimeError:
        return None


def _future_mask(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    """True where key j lies after query i (queries are the last `queries` of `keys` positions)."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).triu(keys - queries + 1)


class FeedForward(nn.Module):
    """Position-wise feed-forward network w_2(act(w_1(x)))."""

    def __init__(self, d_model: int, units: int, activation: str) -> None:
        super().__init__()
        self.w_1 = nn.Linear(d_model, units)
        self.activation = nn.SiLU() if activation == "silu" else nn.ReLU()
        self.w_2 = nn.Linear(units, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.activation(self.w_1(x)))


class EncoderLayer(nn.Module):
    """Pre-norm block: x + attention(norm(x)), then x + feed_forward(norm(x))."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        d_model = config.output_size
        self.self_attn = RelPositionSelfAttention(d_model, config.attention_heads, config.key_bias, config.causal)
        self.feed_forward = FeedForward(d_model, config.linear_units, config.activation)
        self._attention_norm, self._feed_forward_norm = _NORM_NAMES[config.layer_style]
        # sorted: the order of the official checkpoints (norm_ff before norm_mha, norm1 before norm2)
        for name in sorted(_NORM_NAMES[config.layer_style]):
            self.add_module(name, nn.LayerNorm(d_model, eps=BLOCK_NORM_EPS))

    def forward(self, x: torch.Tensor, cache: KeyValueCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.self_attn(getattr(self, self._attention_norm)(x), cache, layer)
        return x + self.feed_forward(getattr(self, self._feed_forward_norm)(x))


class InputLayer(nn.Module):
    """Linear → LayerNorm (→ ReLU for `linear_legacy`), then × √d (the espnet position encoding's scaling)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Linear(config.input_size, config.output_size),
            nn.LayerNorm(config.output_size, eps=OUTER_NORM_EPS),
        ]
        if config.input_layer == "linear_legacy":
            layers.append(nn.ReLU())
        self.out = nn.Sequential(*layers)
        self.scale = math.sqrt(config.output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x) * self.scale


class Encoder(nn.Module):
    """Input layer, `num_blocks` pre-norm relative-position blocks, after_norm; full-sequence or incremental."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = InputLayer(config)
        self.after_norm = nn.LayerNorm(config.output_size, eps=OUTER_NORM_EPS)
        self.encoders = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_blocks))

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        """xs [B, T, input_size] → [B, T, output_size] over the whole sequence (causal if configured)."""
        x = self.embed(xs)
        for layer in self.encoders:
            x = layer(x)
        return self.after_norm(x)

    def forward_step(self, xs: torch.Tensor, cache: KeyValueCache) -> torch.Tensor:
        """The next T positions xs [B, T, input_size] after the cached ones → [B, T, output_size]; extends cache."""
        x = self.embed(xs)
        for index, layer in enumerate(self.encoders):
            x = layer(x, cache, index)
        cache.advance(xs.shape[1])
        return self.after_norm(x)

    def new_cache(self, capacity: int, batch: int = 1, dtype: torch.dtype | None = None) -> KeyValueCache:
        """An empty key/value cache for `capacity` positions (dtype and device of the encoder's weights)."""
        reference = self.after_norm.weight
        return KeyValueCache(
            self.config.num_blocks, batch, self.config.attention_heads, self.config.head_size, capacity,
            dtype or reference.dtype, reference.device,
        )
