"""The velocity estimator of CosyVoice v1's flow matching (upstream `ConditionalDecoder`, a Matcha-TTS 1-D U-Net).

Owns `EstimatorConfig` and `ConditionalDecoder`: input [x | mu | speaker broadcast | cond] (4 × 80 channels) and
the flow time t → velocity [B, 80, T]. Down blocks (ResnetBlock1D, transformer blocks, stride-2 convolution), mid
blocks, up blocks (skip concatenation, transformer blocks, transposed convolution), final Block1D and 1×1
projection. The time conditioning (sinusoidal embedding of 1000·t, MLP, one bias per ResnetBlock1D) depends only
on t, so `time_biases` computes it for every solver step at once and `forward` takes the result. Parameter names
equal the official checkpoint's. Inference only, no padding (every frame is valid, so the reference's masks are
all ones and are left out).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConfigError

TIME_SCALE = 1000.0  # the sinusoidal embedding sees 1000·t
GROUP_NORM_GROUPS = 8


@dataclass(frozen=True)
class EstimatorConfig:
    """Hyper-parameters of the U-Net (the yaml's `flow.decoder.estimator`)."""

    in_channels: int = 320
    out_channels: int = 80
    channels: tuple[int, ...] = (256, 256)
    attention_head_dim: int = 64
    n_blocks: int = 4
    num_mid_blocks: int = 12
    num_heads: int = 8

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("flow estimator needs at least one channel stage")
        if self.in_channels % 2:
            raise ConfigError(f"flow estimator in_channels {self.in_channels} must be even (sinusoidal embedding)")
        if any(channel % GROUP_NORM_GROUPS for channel in self.channels):
            raise ConfigError(f"flow estimator channels {list(self.channels)} must be multiples of {GROUP_NORM_GROUPS}")

    @property
    def time_embed_dim(self) -> int:
        return 4 * self.channels[0]

    @classmethod
    def from_yaml(cls, section: Mapping[str, Any]) -> EstimatorConfig:
        activation = section.get("act_fn", "snake")
        if activation != "gelu":
            raise ConfigError(f"unsupported flow estimator act_fn {activation!r} (only 'gelu')")
        defaults = cls()
        return cls(
            in_channels=int(section["in_channels"]),
            out_channels=int(section["out_channels"]),
            channels=tuple(int(channel) for channel in section.get("channels", defaults.channels)),
            attention_head_dim=int(section.get("attention_head_dim", defaults.attention_head_dim)),
            n_blocks=int(section.get("n_blocks", 1)),
            num_mid_blocks=int(section.get("num_mid_blocks", 2)),
            num_heads=int(section.get("num_heads", 4)),
        )


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t [N] → [N, dim]: sin then cos of 1000·t·ω_i, ω_i = exp(−i·ln(10000)/(dim/2 − 1)).

    The frequencies are computed in float32 exactly as the reference does (a float64 table moves the mel by
    ~1.5e-5)."""
    half = dim // 2
    frequencies = torch.exp(torch.arange(half, device=t.device).float() * -(math.log(10000) / (half - 1)))
    angles = TIME_SCALE * t.unsqueeze(1) * frequencies.unsqueeze(0)
    return torch.cat((angles.sin(), angles.cos()), dim=-1).to(t.dtype)


class TimestepEmbedding(nn.Module):
    """Linear → SiLU → Linear."""

    def __init__(self, in_channels: int, time_embed_dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(sample)))


class Block1D(nn.Module):
    """Conv1d k3 → GroupNorm(8) → Mish."""

    def __init__(self, dim: int, dim_out: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv1d(dim, dim_out, 3, padding=1), nn.GroupNorm(GROUP_NORM_GROUPS, dim_out), nn.Mish()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ResnetBlock1D(nn.Module):
    """block2(block1(x) + time bias) + res_conv(x); `mlp` (Mish → Linear) turns the time embedding into the bias."""

    def __init__(self, dim: int, dim_out: int, time_emb_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Mish(), nn.Linear(time_emb_dim, dim_out))
        self.block1 = Block1D(dim, dim_out)
        self.block2 = Block1D(dim_out, dim_out)
        self.res_conv = nn.Conv1d(dim, dim_out, 1)

    def forward(self, x: torch.Tensor, time_bias: torch.Tensor) -> torch.Tensor:
        """x [B, dim, T], time_bias [1 or B, dim_out, 1] (from `mlp`)."""
        return self.block2(self.block1(x) + time_bias) + self.res_conv(x)


class Attention(nn.Module):
    """Multi-head self-attention: q, k, v without bias, scale 1/√head_dim, output projection with bias.
    `to_out` keeps the reference's layout [Linear, dropout slot] so the weights are named `to_out.0`."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Identity()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = x.shape

        def split(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, steps, self.heads, -1).transpose(1, 2)

        context = F.scaled_dot_product_attention(split(self.to_q(x)), split(self.to_k(x)), split(self.to_v(x)))
        return self.to_out[0](context.transpose(1, 2).reshape(batch, steps, -1))


class GELUProjection(nn.Module):
    """Linear followed by the exact (erf) GELU."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x))


class FeedForward(nn.Module):
    """GELU projection to 4·dim, then back; `net` keeps the reference's [proj, dropout slot, Linear] layout."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.ModuleList([GELUProjection(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    """x + attn1(norm1(x)), then x + ff(norm3(x)) on [B, T, dim] (LayerNorm eps 1e-5)."""

    def __init__(self, dim: int, heads: int, head_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, head_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        return self.ff(self.norm3(x)) + x


def _transformer_stack(config: EstimatorConfig, dim: int) -> nn.ModuleList:
    return nn.ModuleList(
        BasicTransformerBlock(dim, config.num_heads, config.attention_head_dim) for _ in range(config.n_blocks)
    )


def _run_transformers(blocks: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """The transformer blocks work on [B, T, C]; the U-Net on [B, C, T]."""
    x = x.transpose(1, 2)
    for block in blocks:
        x = block(x)
    return x.transpose(1, 2)


class Downsample1D(nn.Module):
    """Conv1d k3, stride 2, padding 1 (halves the frames, rounding up)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample1D(nn.Module):
    """ConvTranspose1d k4, stride 2, padding 1 (doubles the frames)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(dim, dim, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ConditionalDecoder(nn.Module):
    """The U-Net. Responsibilities: the per-step time biases and one velocity evaluation."""

    def __init__(self, config: EstimatorConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.channels
        time_dim = config.time_embed_dim
        self.time_mlp = TimestepEmbedding(config.in_channels, time_dim)
        self.down_blocks = nn.ModuleList()
        stage_input = config.in_channels
        for index, channel in enumerate(channels):
            is_last = index == len(channels) - 1
            resample = nn.Conv1d(channel, channel, 3, padding=1) if is_last else Downsample1D(channel)
            self.down_blocks.append(
                nn.ModuleList([ResnetBlock1D(stage_input, channel, time_dim), _transformer_stack(config, channel),
                               resample])
            )
            stage_input = channel
        middle = channels[-1]
        self.mid_blocks = nn.ModuleList(
            nn.ModuleList([ResnetBlock1D(middle, middle, time_dim), _transformer_stack(config, middle)])
            for _ in range(config.num_mid_blocks)
        )
        ladder = (*channels[::-1], channels[0])
        self.up_blocks = nn.ModuleList()
        for index in range(len(ladder) - 1):
            channel = ladder[index + 1]
            is_last = index == len(ladder) - 2
            resample = nn.Conv1d(channel, channel, 3, padding=1) if is_last else Upsample1D(channel)
            self.up_blocks.append(
                nn.ModuleList([ResnetBlock1D(2 * ladder[index], channel, time_dim), _transformer_stack(config, channel),
                               resample])
            )
        self.final_block = Block1D(ladder[-1], ladder[-1])
        self.final_proj = nn.Conv1d(ladder[-1], config.out_channels, 1)
        self._initialise()

    def _initialise(self) -> None:
        """Upstream's initialisation (used for random-weight models): Kaiming-normal convolutions and linears."""
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @property
    def dtype(self) -> torch.dtype:
        """The precision the U-Net computes in (that of its convolution weights)."""
        return self.final_proj.weight.dtype

    def resnets(self) -> list[ResnetBlock1D]:
        """Every ResnetBlock1D in evaluation order."""
        return [blocks[0] for group in (self.down_blocks, self.mid_blocks, self.up_blocks) for blocks in group]

    def time_biases(self, t: torch.Tensor) -> list[torch.Tensor]:
        """t [N] (flow times) → per ResnetBlock1D a bias [N, C, 1]; row n conditions an evaluation at t[n]."""
        embedding = self.time_mlp(sinusoidal_embedding(t, self.config.in_channels).to(self.dtype))
        return [resnet.mlp(embedding).unsqueeze(-1) for resnet in self.resnets()]

    def forward(self, x: torch.Tensor, time_biases: Sequence[torch.Tensor]) -> torch.Tensor:
        """x [B, in_channels, T] (x | mu | speaker | cond) in `dtype`, time_biases from `time_biases` (one row
        each, [1, C, 1]) → velocity [B, out_channels, T]."""
        biases = iter(time_biases)
        skips = []
        for resnet, transformers, downsample in self.down_blocks:
            x = _run_transformers(transformers, resnet(x, next(biases)))
            skips.append(x)
            x = downsample(x)
        for resnet, transformers in self.mid_blocks:
            x = _run_transformers(transformers, resnet(x, next(biases)))
        for resnet, transformers, upsample in self.up_blocks:
            skip = skips.pop()
            x = torch.cat([x[:, :, : skip.shape[-1]], skip], dim=1)
            x = upsample(_run_transformers(transformers, resnet(x, next(biases))))
        return self.final_proj(self.final_block(x))
