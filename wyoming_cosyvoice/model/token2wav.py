"""Streaming speech tokens → waveform: flow and vocoder run chunk by chunk with seamless joins.

Owns `ChunkSchedule`, `TokenToWave` and `Chunk`. Tokens arrive incrementally (`add_tokens`, then `end_tokens`);
whenever `chunk_ready` is true, `decode_chunk` turns the next chunk into audio — one flow call and one vocoder
call, a bounded amount of work. Consecutive chunks share `OVERLAP_TOKENS` tokens. The joins follow the reference
(upstream `CosyVoiceModel.token2wav`, constants of the 50 Hz model):
- flow: the next chunk starts from the noise and mu of the previous chunk's last overlap frames (flow cache);
- mel: the new chunk's first overlap frames (34) are cross-faded with the previous chunk's held-back last 34
  frames using the halves of a symmetric Hamming window (numpy.hamming(68)); every non-final chunk holds its last
  34 frames back;
- vocoder: the last 20 mel frames of a chunk are prepended to the next chunk's mel, the last 20·256 excitation
  samples replace the first ones of the next excitation, and the last 20·256 output samples are held back and
  cross-faded into the next chunk's first samples (numpy.hamming(10240) halves). The final chunk holds nothing.
The cross-fades are computed in float64 and rounded to float32, as the reference does.
Unlike the reference, the hop lengths are a parameter (`ChunkSchedule`): a short first hop gives early audio.
Once the tokens have ended, a chunk stays non-final only if more than two overlaps of tokens remain after its hop;
otherwise all that is left becomes the final chunk (the reference may end on a chunk of only 20 tokens, whose
frames no longer line up with the flow cache).
`speed` ≠ 1 stretches each chunk's new mel frames linearly before the vocoder (the reference's non-streaming
speed rule, applied per chunk); speed 1 leaves the reference arithmetic untouched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .flow import OVERLAP_TOKENS, FlowCache, FlowModel, mel_frames
from .hift import HiFTVocoder

VOCODER_CACHE_FRAMES = 20  # mel frames (and their excitation/output samples) carried into the next vocoder call
LONGEST_HOP = 10_000  # tokens; a sanity cap on schedule values


@dataclass(frozen=True)
class ChunkSchedule:
    """How many new tokens each streaming chunk covers: `first_hop` for the first chunk, then `hop`, multiplied by
    `growth` after every chunk up to `max_hop` (None: `hop`). Each chunk also decodes the `OVERLAP_TOKENS` tokens
    after its hop, which the next chunk decodes again. The reference streams with first_hop = hop = 100."""

    first_hop: int = 100
    hop: int = 100
    growth: float = 1.0
    max_hop: int | None = None

    def __post_init__(self) -> None:
        for name in ("first_hop", "hop", "max_hop"):
            value = getattr(self, name)
            if name == "max_hop" and value is None:
                continue
            if not isinstance(value, int) or not 1 <= value <= LONGEST_HOP:
                raise ValueError(f"chunk schedule {name} must be an integer in 1…{LONGEST_HOP}, got {value!r}")
        if not (isinstance(self.growth, (int, float)) and math.isfinite(self.growth) and self.growth >= 1.0):
            raise ValueError(f"chunk schedule growth must be a number ≥ 1, got {self.growth!r}")
        if self.max_hop is not None and self.max_hop < self.hop:
            raise ValueError(f"chunk schedule max_hop {self.max_hop} is below hop {self.hop}")

    def hop_of(self, chunk_index: int) -> int:
        """New tokens covered by chunk `chunk_index` (0-based)."""
        if chunk_index == 0:
            return self.first_hop
        ceiling = self.hop if self.max_hop is None else self.max_hop
        hop = self.hop
        for _ in range(chunk_index - 1):
            if hop >= ceiling or self.growth == 1.0:
                break
            hop = min(ceiling, int(hop * self.growth))
        return hop


@dataclass(frozen=True)
class Chunk:
    """One decoded chunk: the audio to play now and what produced it (for checks and diagnostics)."""

    speech: torch.Tensor  # float32 [samples], 22,050 Hz, in ±audio_limit
    token_range: tuple[int, int]  # tokens [start, end) of the utterance decoded by this chunk's flow call
    flow_mel: torch.Tensor  # [1, 80, frames], the flow output before any cross-fade
    vocoder_mel: torch.Tensor  # [1, 80, frames'], the mel the vocoder received
    final: bool


@dataclass
class _VocoderCache:
    mel: torch.Tensor  # [1, 80, VOCODER_CACHE_FRAMES]
    source: torch.Tensor  # [1, 1, VOCODER_CACHE_FRAMES · samples_per_frame]
    speech: torch.Tensor  # [samples of the same span]


class TokenToWave:
    """One utterance's streaming decoder. Responsibilities: buffering tokens, deciding when a chunk is decodable,
    and carrying the flow cache, the mel overlap and the vocoder caches from chunk to chunk."""

    def __init__(
        self, flow: FlowModel, hift: HiFTVocoder, embedding: torch.Tensor, schedule: ChunkSchedule | None = None,
        *, n_timesteps: int | None = None, cfg_rate: float | None = None, speed: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        """`schedule` None decodes everything as one final chunk once the tokens end (no streaming)."""
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive number, got {speed}")
        self.flow, self.hift, self.embedding = flow, hift, embedding
        self.schedule = schedule
        self.n_timesteps, self.cfg_rate, self.speed, self.generator = n_timesteps, cfg_rate, speed, generator
        token_rate = flow.config.input_frame_rate
        self.overlap_frames = mel_frames(OVERLAP_TOKENS, token_rate)
        self.cache_samples = VOCODER_CACHE_FRAMES * hift.config.samples_per_frame
        self.mel_window = torch.from_numpy(np.hamming(2 * self.overlap_frames))
        self.speech_window = torch.from_numpy(np.hamming(2 * self.cache_samples))
        if schedule is not None:
            self._check_schedule(schedule, token_rate)
        self._tokens: list[int] = []
        self._start = 0  # utterance index of self._tokens[0]
        self._ended = False
        self._chunks = 0
        self._finished = False
        self._flow_cache: FlowCache | None = None
        self._mel_overlap: torch.Tensor | None = None
        self._vocoder_cache: _VocoderCache | None = None

    def _check_schedule(self, schedule: ChunkSchedule, token_rate: int) -> None:
        for name, hop, carried in (("first_hop", schedule.first_hop, 0), ("hop", schedule.hop, VOCODER_CACHE_FRAMES)):
            shortest = self._shortest_hop(carried, token_rate)
            if hop < shortest:
                raise ValueError(f"chunk schedule {name} must be at least {shortest} tokens, got {hop}")

    def _shortest_hop(self, carried: int, token_rate: int) -> int:
        """The fewest new tokens a non-final chunk may cover: more than the overlap, so the chunk takes the length
        regulator's split path and its seams fall on frame boundaries, and enough for the vocoder to get two
        caches' worth of frames, so the faded-in and the held-back samples do not overlap."""
        hop = OVERLAP_TOKENS + 1
        while self._vocoder_frames(hop, carried, token_rate) < 2 * VOCODER_CACHE_FRAMES:
            hop += 1
        return hop

    def _vocoder_frames(self, hop: int, carried: int, token_rate: int) -> int:
        """Mel frames a non-final chunk of `hop` new tokens gives the vocoder."""
        return carried + mel_frames(hop + OVERLAP_TOKENS, token_rate) - self.overlap_frames

    @property
    def finished(self) -> bool:
        """The final chunk has been decoded."""
        return self._finished

    @property
    def chunk_ready(self) -> bool:
        """`decode_chunk` has a chunk to decode now."""
        return not self._finished and self._next_chunk() is not None

    def add_tokens(self, tokens: Iterable[int]) -> None:
        """Append speech tokens (ints) produced by the LLM."""
        if self._ended:
            raise RuntimeError("tokens added after end_tokens()")
        self._tokens.extend(int(token) for token in tokens)

    def end_tokens(self) -> None:
        """No more tokens will come: the rest becomes the final chunk (an utterance without tokens has none)."""
        self._ended = True
        if self._chunks == 0 and not self._tokens:
            self._finished = True

    @torch.inference_mode()
    def decode_chunk(self, flow_noise: torch.Tensor | None = None, source: torch.Tensor | None = None) -> Chunk:
        """Decode the next chunk (no autograd). `flow_noise` [1, 80, frames] and `source` [1, 1, samples] replace the
        random draws (the source before the cached excitation overwrites its start), as reference vectors record."""
        plan = None if self._finished else self._next_chunk()
        if plan is None:
            raise RuntimeError("no chunk is ready: add tokens or call end_tokens() first")
        length, final = plan
        token_range = (self._start, self._start + length)
        tokens = torch.tensor([self._tokens[:length]], dtype=torch.int32)
        flow_out = self.flow(
            tokens, self.embedding, noise=flow_noise, cache=self._flow_cache, n_timesteps=self.n_timesteps,
            cfg_rate=self.cfg_rate, generator=self.generator,
        )
        self._flow_cache = flow_out.cache
        mel = flow_out.mel
        if self._mel_overlap is not None:
            mel = _cross_fade(mel, self._mel_overlap, self.mel_window)
        if not final:
            self._mel_overlap = mel[:, :, -self.overlap_frames :]
            mel = mel[:, :, : -self.overlap_frames]
        vocoder_mel, speech = self._vocode(_stretch(mel, self.speed), source, final)
        self._advance(length, final)
        return Chunk(speech, token_range, flow_out.mel, vocoder_mel, final)

    def _next_chunk(self) -> tuple[int, bool] | None:
        """(tokens to decode, final?) for the next chunk, or None when it must wait for more tokens."""
        buffered = len(self._tokens)
        if self.schedule is not None:
            window = self.schedule.hop_of(self._chunks) + OVERLAP_TOKENS
            # after the tokens end, a chunk stays non-final only if the remainder keeps the split path
            if buffered >= window and (not self._ended or buffered - (window - OVERLAP_TOKENS) > 2 * OVERLAP_TOKENS):
                return window, False
        if self._ended:
            return buffered, True
        return None

    def _vocode(
        self, mel: torch.Tensor, source: torch.Tensor | None, final: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the vocoder with the carried caches; returns (mel it received, speech to emit)."""
        cache = self._vocoder_cache
        if cache is not None:
            mel = torch.cat([cache.mel, mel], dim=2)
        speech, used_source = self.hift(
            mel, cache_source=None if cache is None else cache.source, source=source, generator=self.generator
        )
        speech = speech[0]
        if cache is not None:
            speech = _cross_fade(speech, cache.speech, self.speech_window)
        if not final:
            self._vocoder_cache = _VocoderCache(
                mel=mel[:, :, -VOCODER_CACHE_FRAMES:],
                source=used_source[:, :, -self.cache_samples :],
                speech=speech[-self.cache_samples :],
            )
            speech = speech[: -self.cache_samples]
        return mel, speech

    def _advance(self, length: int, final: bool) -> None:
        self._chunks += 1
        if final:
            self._tokens.clear()
            self._finished = True
            return
        hop = length - OVERLAP_TOKENS
        del self._tokens[:hop]
        self._start += hop


def _cross_fade(fade_in: torch.Tensor, fade_out: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """fade_in with its first n = len(window)/2 values (last dim) replaced by fade_in·w[:n] + fade_out[-n:]·w[n:],
    computed in float64 and rounded back."""
    overlap = window.shape[0] // 2
    if fade_in.shape[-1] < overlap or fade_out.shape[-1] < overlap:
        raise ValueError(f"cross-fade needs {overlap} values on both sides")
    head = fade_in[..., :overlap].double() * window[:overlap] + fade_out[..., -overlap:].double() * window[overlap:]
    return torch.cat([head.to(fade_in.dtype), fade_in[..., overlap:]], dim=-1)


def _stretch(mel: torch.Tensor, speed: float) -> torch.Tensor:
    """Linear time stretch of mel [1, C, T] to int(T / speed) frames (unchanged at speed 1)."""
    if speed == 1.0:
        return mel
    return F.interpolate(mel, size=max(1, int(mel.shape[2] / speed)), mode="linear")
