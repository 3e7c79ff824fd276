"""The HiFT vocoder of CosyVoice v1 (upstream `HiFTGenerator` with `ConvRNNF0Predictor`, 22,050 Hz).

Owns `HiFTConfig` and `HiFTVocoder`: mel [B, 80, T] → f0 [B, T] (Hz) → harmonic-plus-noise excitation
[B, 1, 256·T] → waveform [B, 256·T] clamped to ±audio_limit. The three stages are separate methods so each can be
checked (and the random parts — the initial harmonic phases and the noise — can be fed in):
`predict_f0(mel)`, `excitation(f0, phases, noise)`, `decode(mel, source)`; `forward` chains them.
Parameter names equal the official checkpoint's (weight-normalised convolutions under either naming convention,
see `weight_norm.py`).
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
from .weight_norm import WeightNormConv1d, WeightNormConvTranspose1d
from .yaml_sections import int_tuple, nested_int_tuple, require_class

SUPPORTED_SAMPLE_RATE = 22050  # other rates select upstream's SineGen2 source, which v1 (22,050 Hz) never uses
SNAKE_EPS = 1e-9
FINAL_LEAKY_SLOPE = 0.01  # the reference calls leaky_relu without a slope before conv_post: PyTorch's default
MAGNITUDE_CLIP = 100.0
RESBLOCK_INIT_STD = 0.01  # upstream init_weights for resblocks, ups and conv_post


@dataclass(frozen=True)
class HiFTConfig:
    """Hyper-parameters of the vocoder (the yaml's `hift` section; defaults are upstream's)."""

    in_channels: int = 80
    base_channels: int = 512
    nb_harmonics: int = 8
    sampling_rate: int = SUPPORTED_SAMPLE_RATE
    nsf_alpha: float = 0.1  # sine amplitude
    nsf_sigma: float = 0.003  # noise std in voiced frames
    nsf_voiced_threshold: float = 10.0  # Hz
    upsample_rates: tuple[int, ...] = (8, 8)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16)
    istft_n_fft: int = 16
    istft_hop: int = 4
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    source_resblock_kernel_sizes: tuple[int, ...] = (7, 11)
    source_resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5))
    lrelu_slope: float = 0.1
    audio_limit: float = 0.99
    f0_cond_channels: int = 512
    f0_num_class: int = 1

    def __post_init__(self) -> None:
        if self.sampling_rate != SUPPORTED_SAMPLE_RATE:
            raise ConfigError(f"unsupported hift sampling_rate {self.sampling_rate} (only {SUPPORTED_SAMPLE_RATE})")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ConfigError("hift upsample_rates and upsample_kernel_sizes differ in length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ConfigError("hift resblock_kernel_sizes and resblock_dilation_sizes differ in length")
        stages = len(self.upsample_rates)
        if (len(self.source_resblock_kernel_sizes), len(self.source_resblock_dilation_sizes)) != (stages, stages):
            raise ConfigError("hift needs one source resblock kernel and dilation list per upsampling stage")
        if self.base_channels % 2**stages:
            raise ConfigError(f"hift base_channels {self.base_channels} cannot be halved {stages} times")
        if self.f0_num_class != 1:
            raise ConfigError(f"unsupported f0_predictor num_class {self.f0_num_class} (only 1)")

    @property
    def harmonics(self) -> int:
        """Sine components: the fundamental plus nb_harmonics overtones."""
        return self.nb_harmonics + 1

    @property
    def samples_per_frame(self) -> int:
        return math.prod(self.upsample_rates) * self.istft_hop

    @classmethod
    def from_yaml(cls, section: Mapping[str, Any]) -> HiFTConfig:
        """Read the `hift` section of cosyvoice.yaml (as mapped by config.read_model_config)."""
        require_class(section, "HiFTGenerator", "hift")
        predictor = section.get("f0_predictor") or {}
        require_class(predictor, "ConvRNNF0Predictor", "hift.f0_predictor")
        istft = section.get("istft_params") or {}
        defaults = cls()
        try:
            config = cls(
                in_channels=int(section.get("in_channels", defaults.in_channels)),
                base_channels=int(section.get("base_channels", defaults.base_channels)),
                nb_harmonics=int(section.get("nb_harmonics", defaults.nb_harmonics)),
                sampling_rate=int(section.get("sampling_rate", defaults.sampling_rate)),
                nsf_alpha=float(section.get("nsf_alpha", defaults.nsf_alpha)),
                nsf_sigma=float(section.get("nsf_sigma", defaults.nsf_sigma)),
                nsf_voiced_threshold=float(section.get("nsf_voiced_threshold", defaults.nsf_voiced_threshold)),
                upsample_rates=int_tuple(section.get("upsample_rates", defaults.upsample_rates)),
                upsample_kernel_sizes=int_tuple(section.get("upsample_kernel_sizes", defaults.upsample_kernel_sizes)),
                istft_n_fft=int(istft.get("n_fft", defaults.istft_n_fft)),
                istft_hop=int(istft.get("hop_len", defaults.istft_hop)),
                resblock_kernel_sizes=int_tuple(section.get("resblock_kernel_sizes", defaults.resblock_kernel_sizes)),
                resblock_dilation_sizes=nested_int_tuple(
                    section.get("resblock_dilation_sizes", defaults.resblock_dilation_sizes)
                ),
                source_resblock_kernel_sizes=int_tuple(
                    section.get("source_resblock_kernel_sizes", defaults.source_resblock_kernel_sizes)
                ),
                source_resblock_dilation_sizes=nested_int_tuple(
                    section.get("source_resblock_dilation_sizes", defaults.source_resblock_dilation_sizes)
                ),
                lrelu_slope=float(section.get("lrelu_slope", defaults.lrelu_slope)),
                audio_limit=float(section.get("audio_limit", defaults.audio_limit)),
                f0_cond_channels=int(predictor.get("cond_channels", defaults.f0_cond_channels)),
                f0_num_class=int(predictor.get("num_class", defaults.f0_num_class)),
            )
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:
            raise ConfigError(f"hift section has a malformed value ({error})") from None
        predictor_inputs = int(predictor.get("in_channels", config.in_channels))
        if predictor_inputs != config.in_channels:
            raise ConfigError("hift.f0_predictor.in_channels differs from hift.in_channels")
        return config


class Snake(nn.Module):
    """Snake activation x + sin²(αx)/(α + 1e-9), α per channel (linear scale)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha.view(1, -1, 1)
        wave = torch.sin(x * alpha)
        return torch.addcmul(x, wave.mul_(wave), 1.0 / (alpha + SNAKE_EPS))


class ResBlock(nn.Module):
    """For each dilation d: x + conv₂(snake(conv₁,d(snake(x)))) with weight-normalised 'same' convolutions."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()

        def conv(dilation: int) -> WeightNormConv1d:
            padding = dilation * (kernel_size - 1) // 2
            return WeightNormConv1d(channels, channels, kernel_size, padding, dilation, init_std=RESBLOCK_INIT_STD)

        self.convs1 = nn.ModuleList(conv(dilation) for dilation in dilations)
        self.convs2 = nn.ModuleList(conv(1) for _ in dilations)
        self.activations1 = nn.ModuleList(Snake(channels) for _ in dilations)
        self.activations2 = nn.ModuleList(Snake(channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2, snake1, snake2 in zip(self.convs1, self.convs2, self.activations1, self.activations2):
            x = conv2(snake2(conv1(snake1(x)))) + x
        return x


class F0Predictor(nn.Module):
    """mel [B, C, T] → f0 [B, T] in Hz: 5 × (weight-normalised Conv1d k3 + ELU), Linear → 1, absolute value."""

    LAYERS = 5

    def __init__(self, in_channels: int, cond_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(self.LAYERS):
            layers += [WeightNormConv1d(in_channels if index == 0 else cond_channels, cond_channels, 3, 1), nn.ELU()]
        self.condnet = nn.Sequential(*layers)
        self.classifier = nn.Linear(cond_channels, 1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return torch.abs(self.classifier(self.condnet(mel).transpose(1, 2)).squeeze(-1))


class HarmonicSource(nn.Module):
    """f0 → excitation: sines of the harmonics (voiced frames) plus noise, merged by Linear(harmonics → 1) + tanh.

    Phase of harmonic h at sample n: 2π·((Σ_{m≤n} h·f0[m]/sr) mod 1) + φ_h — the running sum in float32 over
    all samples, as the reference computes it. φ_1 = 0, other φ_h ~ U(−π, π); noise ~ N(0, 1) scaled by
    nsf_sigma (voiced) or nsf_alpha/3 (unvoiced). Both random parts can be passed in."""

    def __init__(self, config: HiFTConfig) -> None:
        super().__init__()
        self.config = config
        self.l_linear = nn.Linear(config.harmonics, 1)

    def forward(
        self, f0: torch.Tensor, phases: torch.Tensor | None = None, noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """f0 [B, T] (Hz, one value per mel frame) → excitation [B, 1, samples_per_frame·T]."""
        config = self.config
        f0_samples = f0.unsqueeze(1).repeat_interleave(config.samples_per_frame, dim=2)  # [B, 1, L], nearest
        batch, length = f0_samples.shape[0], f0_samples.shape[2]
        if phases is None:
            phases = self.random_phases(batch, f0.dtype, f0.device, generator)
        if noise is None:
            noise = torch.randn(batch, config.harmonics, length, dtype=f0.dtype, device=f0.device, generator=generator)
        _expect_shape(phases, (batch, config.harmonics, 1), "phases")
        _expect_shape(noise, (batch, config.harmonics, length), "noise")
        multiples = torch.arange(1, config.harmonics + 1, dtype=f0.dtype, device=f0.device).view(1, -1, 1)
        cycles = f0_samples * multiples / config.sampling_rate  # [B, H, L], cycles per sample
        angle = 2 * math.pi * (torch.cumsum(cycles, dim=-1) % 1)
        sines = config.nsf_alpha * torch.sin(angle + phases)
        voiced = (f0_samples > config.nsf_voiced_threshold).to(f0.dtype)
        noise_amplitude = voiced * config.nsf_sigma + (1 - voiced) * config.nsf_alpha / 3
        harmonics = sines * voiced + noise_amplitude * noise
        return torch.tanh(self.l_linear(harmonics.transpose(1, 2))).transpose(1, 2)

    def random_phases(
        self, batch: int, dtype: torch.dtype, device: torch.device, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Initial phases [B, harmonics, 1]: U(−π, π), the fundamental's fixed at 0."""
        phases = torch.rand(batch, self.config.harmonics, 1, dtype=dtype, device=device, generator=generator)
        phases = (phases * 2 - 1) * math.pi
        phases[:, 0] = 0
        return phases


class HiFTVocoder(nn.Module):
    """mel → waveform. Responsibilities: f0 prediction, the excitation, and the iSTFT generator (mel + excitation
    → 18-channel STFT prediction → waveform), plus the streaming rule that a cached excitation replaces the first
    samples of a fresh one."""

    def __init__(self, config: HiFTConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.base_channels
        self.m_source = HarmonicSource(config)
        self.conv_pre = WeightNormConv1d(config.in_channels, channels, 7, 3)
        self.ups = nn.ModuleList(
            WeightNormConvTranspose1d(
                channels // 2**i, channels // 2 ** (i + 1), kernel, rate, (kernel - rate) // 2,
                init_std=RESBLOCK_INIT_STD,
            )
            for i, (rate, kernel) in enumerate(zip(config.upsample_rates, config.upsample_kernel_sizes))
        )
        spectrum_channels = config.istft_n_fft + 2
        self.source_downs = nn.ModuleList(
            _source_down(spectrum_channels, channels // 2 ** (i + 1), rate)
            for i, rate in enumerate(_source_down_rates(config.upsample_rates))
        )
        self.source_resblocks = nn.ModuleList(
            ResBlock(channels // 2 ** (i + 1), kernel, dilations)
            for i, (kernel, dilations) in enumerate(
                zip(config.source_resblock_kernel_sizes, config.source_resblock_dilation_sizes)
            )
        )
        self.resblocks = nn.ModuleList(
            ResBlock(channels // 2 ** (i + 1), kernel, dilations)
            for i in range(len(config.upsample_rates))
            for kernel, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes)
        )
        final_channels = channels // 2 ** len(config.upsample_rates)
        self.conv_post = WeightNormConv1d(final_channels, spectrum_channels, 7, 3, init_std=RESBLOCK_INIT_STD)
        self.f0_predictor = F0Predictor(config.in_channels, config.f0_cond_channels)
        self._window: torch.Tensor | None = None

    def forward(
        self, mel: torch.Tensor, cache_source: torch.Tensor | None = None, source: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """mel [B, C, T] → (speech [B, 256·T], excitation used [B, 1, 256·T]).

        `source` replaces the drawn excitation (tests feed the reference's); `cache_source` [B, 1, n] then
        overwrites its first n samples (streaming continuity)."""
        self._check_mel(mel)
        if source is None:
            source = self.m_source(self.predict_f0(mel), generator=generator)
        _expect_shape(source, (mel.shape[0], 1, mel.shape[2] * self.config.samples_per_frame), "source")
        if cache_source is not None and cache_source.shape[2]:
            if cache_source.shape[2] > source.shape[2]:
                raise ValueError(
                    f"cache_source has {cache_source.shape[2]} samples, more than the {source.shape[2]} of the chunk"
                )
            source = source.clone()
            source[:, :, : cache_source.shape[2]] = cache_source
        return self.decode(mel, source), source

    def predict_f0(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [B, C, T] → f0 [B, T] in Hz."""
        self._check_mel(mel)
        return self.f0_predictor(mel)

    def excitation(
        self, f0: torch.Tensor, phases: torch.Tensor | None = None, noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """f0 [B, T] → excitation [B, 1, 256·T]; `phases` [B, 9, 1] and `noise` [B, 9, 256·T] are drawn if absent."""
        if f0.dim() != 2:
            raise ValueError(f"f0 must be [batch, frames], got shape {list(f0.shape)}")
        return self.m_source(f0, phases, noise, generator)

    def decode(self, mel: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """The deterministic generator: mel [B, C, T] + excitation [B, 1, 256·T] → waveform [B, 256·T]."""
        config = self.config
        self._check_mel(mel)
        _expect_shape(source, (mel.shape[0], 1, mel.shape[2] * config.samples_per_frame), "source")
        spectrum = torch.view_as_real(
            torch.stft(
                source.squeeze(1), config.istft_n_fft, config.istft_hop, config.istft_n_fft,
                window=self._hann_window(source), return_complex=True,
            )
        )
        source_spectrum = torch.cat([spectrum[..., 0], spectrum[..., 1]], dim=1)  # [B, 18, frames]
        x = self.conv_pre(mel)
        per_stage = len(config.resblock_kernel_sizes)
        for stage, (up, down, source_block) in enumerate(zip(self.ups, self.source_downs, self.source_resblocks)):
            x = up(F.leaky_relu(x, config.lrelu_slope))
            if stage == len(self.ups) - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + source_block(down(source_spectrum))
            blocks = self.resblocks[stage * per_stage : (stage + 1) * per_stage]
            total = blocks[0](x)
            for block in blocks[1:]:
                total += block(x)
            x = total / per_stage
        x = self.conv_post(F.leaky_relu(x, FINAL_LEAKY_SLOPE))
        bins = config.istft_n_fft // 2 + 1
        magnitude = torch.clip(torch.exp(x[:, :bins]), max=MAGNITUDE_CLIP)
        phase = torch.sin(x[:, bins:])
        spectrum_out = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        speech = torch.istft(
            spectrum_out, config.istft_n_fft, config.istft_hop, config.istft_n_fft, window=self._hann_window(x)
        )
        return torch.clamp(speech, -config.audio_limit, config.audio_limit)

    def _hann_window(self, like: torch.Tensor) -> torch.Tensor:
        """The periodic Hann window of the (i)STFT: computed in float64, rounded to float32 as the reference does."""
        window = self._window
        if window is None or window.device != like.device or window.dtype != like.dtype:
            window = torch.hann_window(self.config.istft_n_fft, periodic=True, dtype=torch.float64)
            window = self._window = window.to(torch.float32).to(device=like.device, dtype=like.dtype)
        return window

    def _check_mel(self, mel: torch.Tensor) -> None:
        if mel.dim() != 3 or mel.shape[1] != self.config.in_channels or mel.shape[2] < 1:
            raise ValueError(
                f"mel must be [batch, {self.config.in_channels}, frames ≥ 1], got shape {list(mel.shape)}"
            )


def _source_down_rates(upsample_rates: Sequence[int]) -> list[int]:
    """Per stage, the factor between the source spectrum's frame rate and that stage's: the product of the later
    upsampling rates (the last stage runs at the spectrum's rate)."""
    return [math.prod(upsample_rates[stage + 1 :]) for stage in range(len(upsample_rates))]


def _source_down(in_channels: int, out_channels: int, rate: int) -> nn.Conv1d:
    if rate == 1:
        return nn.Conv1d(in_channels, out_channels, 1)
    return nn.Conv1d(in_channels, out_channels, 2 * rate, rate, padding=rate // 2)


def _expect_shape(tensor: torch.Tensor, shape: tuple[int, ...], name: str) -> None:
    if tuple(tensor.shape) != shape:
        raise ValueError(f"{name} must have shape {list(shape)}, got {list(tensor.shape)}")
