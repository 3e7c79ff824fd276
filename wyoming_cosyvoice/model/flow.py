"""Speech tokens → mel spectrogram: CosyVoice v1's conditional flow matching (upstream `MaskedDiffWithXvec`).

Owns `FlowConfig`, `FlowModel` and the streaming `FlowCache`. Stages, each a method so it can be checked alone:
- `project_speaker`: affine of the L2-normalised x-vector (192 → 80);
- `encode_tokens`: token embedding of clamp(token, 0) → Conformer encoder (full attention, `blocks.Encoder`) →
  `encoder_proj` (→ 80);
- `regulate_length`: linear interpolation to int(n / 50 · 22050 / 256) mel frames — the first and last
  `OVERLAP_TOKENS` tokens separately onto `overlap_frames` frames each when there are more than twice as many
  tokens, so chunk seams fall on frame boundaries — then convolutions + GroupNorm(1) + Mish;
- `sample`: Euler integration of the estimator's velocity on the cosine time grid t = 1 − cos(s·π/2), with
  classifier-free guidance as a batch of two (conditioned row, row with mu = speaker = cond = 0).
The initial noise is an input (drawn with `torch.randn` when absent). A `FlowCache` carries the noise and mu of
the last `overlap_frames` frames from one streaming chunk into the next, which starts with the same frames.
Inference only, one utterance at a time (batch 1, no padding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConfigError, Encoder, EncoderConfig
from .flow_estimator import ConditionalDecoder, EstimatorConfig
from .yaml_sections import require_class

MEL_SAMPLE_RATE = 22050  # the reference hard-codes these two in the mel length formula
MEL_HOP = 256
OVERLAP_TOKENS = 20  # tokens shared by consecutive streaming chunks (upstream token_overlap_len)
T_SCHEDULERS = ("cosine", "linear")


def mel_frames(tokens: int, token_rate: int) -> int:
    """Mel frames for `tokens` speech tokens: int(n / rate · 22050 / 256), evaluated as the reference does."""
    return int(tokens / token_rate * MEL_SAMPLE_RATE / MEL_HOP)


@dataclass(frozen=True)
class SamplerConfig:
    """Flow-matching solver settings (the yaml's `cfm_params`; n_timesteps is fixed to 10 in upstream code)."""

    inference_cfg_rate: float = 0.7
    t_scheduler: str = "cosine"
    n_timesteps: int = 10

    def __post_init__(self) -> None:
        if self.t_scheduler not in T_SCHEDULERS:
            raise ConfigError(f"unsupported flow t_scheduler {self.t_scheduler!r} (only {', '.join(T_SCHEDULERS)})")
        if self.n_timesteps < 1:
            raise ConfigError(f"flow n_timesteps must be at least 1, got {self.n_timesteps}")


@dataclass(frozen=True)
class FlowConfig:
    """Hyper-parameters of `FlowModel` (the yaml's `flow` section)."""

    input_size: int
    output_size: int
    spk_embed_dim: int
    vocab_size: int
    input_frame_rate: int
    encoder: EncoderConfig
    estimator: EstimatorConfig
    regulator_blocks: int = 4  # len(length_regulator.sampling_ratios)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    def __post_init__(self) -> None:
        if self.encoder.causal:
            raise ConfigError("flow encoder must use full attention (static_chunk_size 0)")
        if self.encoder.input_size != self.input_size:
            raise ConfigError(f"flow encoder input_size {self.encoder.input_size} differs from input_size")
        if self.estimator.in_channels != 4 * self.output_size:
            raise ConfigError("flow estimator in_channels must be 4 × output_size (x, mu, speaker, cond)")
        if self.estimator.out_channels != self.output_size:
            raise ConfigError("flow estimator out_channels differs from output_size")

    @property
    def overlap_frames(self) -> int:
        """Mel frames of the `OVERLAP_TOKENS` overlap (34 at 50 tokens/s)."""
        return mel_frames(OVERLAP_TOKENS, self.input_frame_rate)

    @classmethod
    def from_yaml(cls, section: Mapping[str, Any]) -> FlowConfig:
        """Read the `flow` section of cosyvoice.yaml (as mapped by config.read_model_config)."""
        require_class(section, "MaskedDiffWithXvec", "flow")
        try:
            decoder = section["decoder"]
            require_class(decoder, "ConditionalCFM", "flow.decoder")
            estimator_section = decoder["estimator"]
            require_class(estimator_section, "ConditionalDecoder", "flow.decoder.estimator")
            regulator = section["length_regulator"]
            require_class(regulator, "InterpolateRegulator", "flow.length_regulator")
            output_size = int(section.get("output_size", 80))
            if int(regulator.get("channels", output_size)) != output_size:
                raise ConfigError("flow.length_regulator.channels differs from flow.output_size")
            return cls(
                input_size=int(section.get("input_size", 512)),
                output_size=output_size,
                spk_embed_dim=int(section.get("spk_embed_dim", 192)),
                vocab_size=int(section.get("vocab_size", 4096)),
                input_frame_rate=int(section.get("input_frame_rate", 50)),
                encoder=EncoderConfig.from_yaml(section["encoder"]),
                estimator=EstimatorConfig.from_yaml(estimator_section),
                regulator_blocks=len(regulator.get("sampling_ratios", ())),
                sampler=_sampler_config(decoder),
            )
        except KeyError as missing:
            raise ConfigError(f"flow section lacks {missing.args[0]!r}") from None
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(f"flow section has a malformed value ({error})") from None


def _sampler_config(decoder: Mapping[str, Any]) -> SamplerConfig:
    params = decoder.get("cfm_params") or {}
    params = params.get("content", params)  # an omegaconf.DictConfig node keeps its values under `content`
    solver = params.get("solver", "euler")
    if solver != "euler":
        raise ConfigError(f"unsupported flow solver {solver!r} (only 'euler')")
    return SamplerConfig(
        inference_cfg_rate=float(params.get("inference_cfg_rate", 0.7)),
        t_scheduler=str(params.get("t_scheduler", "cosine")),
    )


@dataclass(frozen=True)
class FlowCache:
    """Noise and mu [1, 80, frames] of the last overlap frames of one chunk; the next chunk starts with them."""

    noise: torch.Tensor
    mu: torch.Tensor


@dataclass(frozen=True)
class FlowOutput:
    """A flow call's mel [1, 80, frames] (float32) and the cache for the next streaming chunk."""

    mel: torch.Tensor
    cache: FlowCache


class LengthRegulator(nn.Module):
    """Interpolated token features [1, 80, frames] → convolutional refinement (`model`: 4 × Conv k3 + GroupNorm(1)
    + Mish, Conv k1)."""

    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(blocks):
            layers += [nn.Conv1d(channels, channels, 3, 1, 1), nn.GroupNorm(1, channels), nn.Mish()]
        layers.append(nn.Conv1d(channels, channels, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor, frames: int, overlap_frames: int) -> torch.Tensor:
        """features [1, n, C] (per token) → [1, C, frames]."""
        tokens = features.transpose(1, 2).contiguous()
        if features.shape[1] > 2 * OVERLAP_TOKENS:
            pieces = [
                (tokens[:, :, :OVERLAP_TOKENS], overlap_frames),
                (tokens[:, :, OVERLAP_TOKENS:-OVERLAP_TOKENS], frames - 2 * overlap_frames),
                (tokens[:, :, -OVERLAP_TOKENS:], overlap_frames),
            ]
            stretched = torch.cat([_interpolate(piece, size) for piece, size in pieces], dim=2)
        else:
            stretched = _interpolate(tokens, frames)
        return self.model(stretched)


def _interpolate(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x.contiguous(), size=size, mode="linear")


class FlowMatchingSampler(nn.Module):
    """Euler solver of the flow ODE with classifier-free guidance; owns the estimator (`decoder.estimator`)."""

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.settings = config.sampler
        self.estimator = ConditionalDecoder(config.estimator)

    def forward(
        self, noise: torch.Tensor, mu: torch.Tensor, speaker: torch.Tensor, n_timesteps: int, cfg_rate: float
    ) -> torch.Tensor:
        """noise, mu [1, C, T], speaker [1, C] → mel [1, C, T] (float32). cfg_rate 0 runs one row, no guidance.

        The solver state x and the time grid stay float32 whatever precision the estimator runs in."""
        dtype = self.estimator.dtype
        guided = cfg_rate != 0.0
        cond = torch.zeros_like(mu)  # no prompt mel for SFT speakers
        conditioned = torch.cat([mu, speaker.unsqueeze(-1).expand_as(mu), cond], dim=1).to(dtype)
        context = torch.cat([conditioned, torch.zeros_like(conditioned)]) if guided else conditioned
        x = noise.float()
        times, steps = self.time_grid(n_timesteps, x)
        biases = self.estimator.time_biases(times[:-1])
        for step, dt in enumerate(steps):
            estimator_input = torch.cat([x.to(dtype).expand(context.shape[0], -1, -1), context], dim=1)
            velocity = self.estimator(estimator_input, [bias[step : step + 1] for bias in biases]).float()
            if guided:
                velocity = (1.0 + cfg_rate) * velocity[:1] - cfg_rate * velocity[1:]
            x = x + dt * velocity
        return x

    def time_grid(self, n_timesteps: int, like: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The times t_0 … t_n at which the velocity is evaluated (t_n is never used) and the step sizes, built
        like the reference: t advances by dt, the next dt is t_span[k+1] − t."""
        span = torch.linspace(0, 1, n_timesteps + 1, device=like.device, dtype=like.dtype)
        if self.settings.t_scheduler == "cosine":
            span = 1 - torch.cos(span * 0.5 * torch.pi)
        t, dt = span[0], span[1] - span[0]
        times, steps = [t], []
        for step in range(1, n_timesteps + 1):
            steps.append(dt)
            t = t + dt
            times.append(t)
            if step < n_timesteps:
                dt = span[step + 1] - t
        return torch.stack(times), steps


class FlowModel(nn.Module):
    """Speech tokens + speaker x-vector → mel. Responsibilities: the speaker projection, the token encoder, the
    length regulator, and running the sampler with the injectable noise and the streaming flow cache."""

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        self.input_embedding = nn.Embedding(config.vocab_size, config.input_size)
        self.spk_embed_affine_layer = nn.Linear(config.spk_embed_dim, config.output_size)
        self.encoder = Encoder(config.encoder)
        self.encoder_proj = nn.Linear(config.encoder.output_size, config.output_size)
        self.decoder = FlowMatchingSampler(config)
        self.length_regulator = LengthRegulator(config.output_size, config.regulator_blocks)

    def forward(
        self, tokens: torch.Tensor, embedding: torch.Tensor, noise: torch.Tensor | None = None,
        cache: FlowCache | None = None, n_timesteps: int | None = None, cfg_rate: float | None = None,
        generator: torch.Generator | None = None,
    ) -> FlowOutput:
        """tokens [1, n] (int), embedding [1, spk_embed_dim] → FlowOutput(mel [1, 80, frames], cache).

        `noise` [1, 80, frames] is the sampler's initial x₀ (drawn if absent). With `cache`, its frames replace
        the first frames of noise and mu. `n_timesteps` / `cfg_rate` override the configured solver (cfg_rate 0
        turns guidance off)."""
        settings = self.config.sampler
        n_timesteps = settings.n_timesteps if n_timesteps is None else int(n_timesteps)
        cfg_rate = settings.inference_cfg_rate if cfg_rate is None else float(cfg_rate)
        if n_timesteps < 1:
            raise ValueError(f"n_timesteps must be at least 1, got {n_timesteps}")
        speaker = self.project_speaker(embedding)
        mu = self.conditioning(tokens)
        if noise is None:
            noise = torch.randn(mu.shape, dtype=torch.float32, device=mu.device, generator=generator)
        elif tuple(noise.shape) != tuple(mu.shape):
            raise ValueError(
                f"noise must have shape {list(mu.shape)} for {tokens.shape[1]} tokens, got {list(noise.shape)}"
            )
        noise, mu = self._apply_cache(noise.float(), mu, cache)
        keep = self.config.overlap_frames
        next_cache = FlowCache(noise=noise[:, :, -keep:], mu=mu[:, :, -keep:])
        mel = self.decoder(noise, mu, speaker, n_timesteps, cfg_rate)
        return FlowOutput(mel=mel, cache=next_cache)

    def project_speaker(self, embedding: torch.Tensor) -> torch.Tensor:
        """x-vector [1, spk_embed_dim] → [1, output_size]."""
        expected = (1, self.config.spk_embed_dim)
        if tuple(embedding.shape) != expected or not embedding.is_floating_point():
            raise ValueError(
                f"speaker embedding must be float {list(expected)}, got {embedding.dtype} {list(embedding.shape)}"
            )
        return self.spk_embed_affine_layer(F.normalize(embedding.to(self.input_embedding.weight.dtype), dim=1))

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [1, n] → encoder_proj output [1, n, output_size]."""
        if tokens.dim() != 2 or tokens.shape[0] != 1 or tokens.shape[1] < 1:
            raise ValueError(f"tokens must be [1, n ≥ 1], got shape {list(tokens.shape)}")
        if tokens.is_floating_point() or tokens.is_complex():
            raise ValueError(f"tokens must be integers, got {tokens.dtype}")
        if int(tokens.max()) >= self.config.vocab_size:
            raise ValueError(f"speech token {int(tokens.max())} is outside the vocabulary of {self.config.vocab_size}")
        embedded = self.input_embedding(torch.clamp(tokens.long(), min=0))
        return self.encoder_proj(self.encoder(embedded))

    def conditioning(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [1, n] → mu [1, output_size, mel_frames(n)]."""
        features = self.encode_tokens(tokens)
        frames = mel_frames(tokens.shape[1], self.config.input_frame_rate)
        if frames < 1:
            raise ValueError(f"{tokens.shape[1]} speech tokens are too few for one mel frame")
        return self.length_regulator(features, frames, self.config.overlap_frames)

    def _apply_cache(
        self, noise: torch.Tensor, mu: torch.Tensor, cache: FlowCache | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if cache is None or cache.noise.shape[2] == 0:
            return noise, mu
        cached = cache.noise.shape[2]
        if cached > mu.shape[2] or cache.mu.shape != cache.noise.shape or cache.noise.shape[:2] != mu.shape[:2]:
            raise ValueError(
                f"flow cache of shape {list(cache.noise.shape)} does not fit a chunk of shape {list(mu.shape)}"
            )
        noise, mu = noise.clone(), mu.clone()
        noise[:, :, :cached] = cache.noise.to(noise.dtype)
        mu[:, :, :cached] = cache.mu.to(mu.dtype)
        return noise, mu
