"""Text + speaker + speed → 16-bit PCM chunks at the model's rate, produced while computing continues.

Owns: loading the model once with the chosen precision and thread count, the synthesis presets, and the streaming
pipeline of one request. The pipeline is a generator whose every `next()` is a bounded piece of work on the one
compute thread (the server round-robins requests over these generators; no second OpenMP pool):
- a few LLM decode steps of the sentence being generated, or
- one flow + vocoder chunk of the sentence being spoken (`TokenToWave`: short first hop for early audio, then
  longer hops; mel and waveform cross-faded at the seams, flow noise and vocoder source carried across chunks).
A ready chunk is always decoded first; otherwise the LLM extends the current sentence; the next sentence starts
when the current one is fully decoded. On one compute thread this order is the best there is: a chunk can only
be decoded after every token before it and after the chunks before it, so its completion time is the sum of that
work whatever the interleaving, and decoding each chunk as soon as it is ready gets every chunk out at that
earliest time. Generating sentence N+1 earlier (pipelining) would only delay sentence N's remaining audio; it pays
off only with parallel compute (separate processes with split thread counts).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .model.loader import CosyVoiceModel, load_model
from .model.precision import PRECISION_CHOICES, PrecisionPlan, apply_precision, resolve_precision
from .model.token2wav import ChunkSchedule, TokenToWave
from .text import Segment, SentenceStream, TextFrontend

_LOGGER = logging.getLogger(__name__)

PCM_FULL_SCALE = 32767
WARM_UP_TOKENS = 10  # one short final chunk: every weight of the three networks is used once
MIN_SPEED, MAX_SPEED = 0.5, 2.0  # speaking rates (mel stretched or squeezed before the vocoder)
EARLY_AUDIO_SCHEDULE = ChunkSchedule(first_hop=23, hop=50, growth=2.0, max_hop=200)
"""First chunk as early as the seams allow (23 new + 20 overlap tokens), then hops of 50, 100, 200 tokens: every
flow call also streams the weights once and recomputes the overlap, so fewer, longer chunks cost less in total
(measured with bench_pipeline: first audio −0.1 s against a first hop of 25, flow −9 % on 500 tokens against a
longest hop of 100)."""


@dataclass(frozen=True)
class SynthesisOptions:
    """How the pipeline runs: precision, flow quality, threads, chunking and work granularity."""

    precision: str = "auto"
    flow_steps: int = 10
    cfg_rate: float = 0.7  # classifier-free guidance of the flow; 0 turns it off (half the flow work)
    threads: int | None = None  # None: torch's default (one per core)
    schedule: ChunkSchedule = EARLY_AUDIO_SCHEDULE
    llm_tokens_per_step: int = 4  # LLM decode steps per scheduler turn
    seed: int | None = None  # fixed random draws (tests, benchmarks); None: fresh randomness per request
    fixed_token_count: int | None = None  # benchmarks: generate exactly this many tokens per sentence (EOS ignored)

    def __post_init__(self) -> None:
        if self.precision not in PRECISION_CHOICES:
            raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, got {self.precision!r}")
        if not 1 <= self.flow_steps <= 100:
            raise ValueError(f"flow steps must be between 1 and 100, got {self.flow_steps}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")

    @classmethod
    def from_preset(
        cls,
        preset: str,
        *,
        precision: str = "auto",
        flow_steps: int | None = None,
        threads: int | None = None,
        seed: int | None = None,
    ) -> SynthesisOptions:
        """A preset's options, with the explicitly given values taking precedence."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(sorted(PRESETS))}")
        options = replace(PRESETS[preset], precision=precision, threads=threads, seed=seed)
        return options if flow_steps is None else replace(options, flow_steps=flow_steps)

    def describe(self) -> str:
        guidance = f"guidance {self.cfg_rate}" if self.cfg_rate else "no guidance"
        threads = self.threads or torch.get_num_threads()
        return f"precision {self.precision}, {self.flow_steps} flow steps, {guidance}, {threads} threads"


PRESETS: dict[str, SynthesisOptions] = {
    "quality": SynthesisOptions(),  # the reference's settings: 10 flow steps with guidance
    "fast": SynthesisOptions(flow_steps=5, cfg_rate=0.0),  # about a quarter of the flow work
}


class SegmentFeed:
    """Segments of one request, handed from the event loop (producer) to the compute thread (consumer)."""

    def __init__(self, segments: Iterable[Segment] = (), closed: bool = False) -> None:
        self._segments: collections.deque[Segment] = collections.deque(segments)
        self._closed = closed
        self._lock = threading.Lock()

    def put(self, segments: Iterable[Segment]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("segments added to a closed feed")
            self._segments.extend(segments)

    def close(self) -> None:
        """No more segments will come."""
        with self._lock:
            self._closed = True

    def take(self) -> Segment | None:
        """The next segment, or None when there is none right now."""
        with self._lock:
            return self._segments.popleft() if self._segments else None

    @property
    def exhausted(self) -> bool:
        """Closed and every segment taken."""
        with self._lock:
            return self._closed and not self._segments


@dataclass
class _Utterance:
    """One segment on its way to audio: its LLM token stream (None once complete) and its chunk decoder."""

    tokens: Iterator[int] | None
    wave: TokenToWave
    tokens_per_step: int
    token_count: int = 0


class Synthesizer:
    """Owns the loaded model and the text frontend; turns segments into PCM with the streaming pipeline.

    Language-aware only through the frontend (`segments`, `sentence_stream`); the model sees token ids only."""

    def __init__(self, model: CosyVoiceModel, options: SynthesisOptions, plan: PrecisionPlan) -> None:
        self.model = model
        self.options = options
        self.precision = plan
        self.frontend = TextFrontend()

    @classmethod
    def load(cls, model_dir: str | Path, options: SynthesisOptions | None = None) -> Synthesizer:
        """Load a model folder, convert it to the chosen precision in place and warm the frontend."""
        options = options or SynthesisOptions()
        if options.threads is not None:
            torch.set_num_threads(options.threads)
        model = load_model(model_dir)
        plan = resolve_precision(options.precision)
        apply_precision(model, plan)
        _LOGGER.info("Precision: %s (requested %s)", plan.describe(), options.precision)
        synthesizer = cls(model, options, plan)
        synthesizer.frontend.tokenize("warm up")  # builds the vocabulary now, not during the first request
        return synthesizer

    @property
    def sample_rate(self) -> int:
        return self.model.config.sample_rate

    @property
    def speakers(self) -> tuple[str, ...]:
        """The model's built-in speaker names (spk2info keys)."""
        return tuple(self.model.speakers)

    # -- text ---------------------------------------------------------------------------------------------
    def segments(self, text: str, language: str) -> list[Segment]:
        """Normalised, tokenised speakable pieces of `text` (empty when nothing can be spoken)."""
        return self.frontend.segments(text, language)

    def sentence_stream(self, language: str) -> SentenceStream:
        """An incremental splitter for text arriving in fragments."""
        return self.frontend.sentence_stream(language)

    # -- audio --------------------------------------------------------------------------------------------
    def synthesize(
        self, text: str, speaker: str, language: str, speed: float = 1.0, cancel: threading.Event | None = None
    ) -> Iterator[bytes | None]:
        """`synthesize_segments` of a whole text."""
        feed = SegmentFeed(self.segments(text, language), closed=True)
        return self.synthesize_segments(feed, speaker, speed, cancel or threading.Event())

    def synthesize_segments(
        self, feed: SegmentFeed, speaker: str, speed: float, cancel: threading.Event
    ) -> Iterator[bytes | None]:
        """PCM of the feed's segments, one bounded work step per `next()`.

        Yields int16 mono PCM bytes (empty when the step produced no audio) or None when it waits for the feed.
        Stops when the feed is exhausted and everything is spoken, or as soon as `cancel` is set.
        An unknown speaker or a speed outside MIN_SPEED…MAX_SPEED raises ValueError here, before any work."""
        if speaker not in self.model.speakers:
            known = ", ".join(sorted(self.model.speakers))
            raise ValueError(f"unknown speaker {speaker!r}; the model has: {known}")
        check_speed(speed)
        return self._pipeline(feed, self.model.speakers[speaker], speed, cancel, self.options)

    def warm_up(self) -> None:
        """Run one tiny synthesis, so the first request does not pay for first-touch reads of the memory-mapped
        weights, kernel selection and one-time caches (about 4 s at full size on the benchmark machine)."""
        options = replace(self.options, fixed_token_count=WARM_UP_TOKENS, seed=0)
        feed = SegmentFeed([Segment("warm up", self.frontend.tokenize("warm up"))], closed=True)
        embedding = next(iter(self.model.speakers.values()))
        for _ in self._pipeline(feed, embedding, 1.0, threading.Event(), options):
            pass

    def _pipeline(
        self,
        feed: SegmentFeed,
        embedding: torch.Tensor,
        speed: float,
        cancel: threading.Event,
        options: SynthesisOptions,
    ) -> Iterator[bytes | None]:
        generator = None if options.seed is None else torch.Generator().manual_seed(options.seed)
        utterance: _Utterance | None = None  # the segment on its way to audio; the next one starts after it
        while not cancel.is_set():
            if utterance is not None and utterance.wave.chunk_ready:
                yield self._decode_chunk(utterance)
            elif utterance is not None and utterance.tokens is not None:
                self._generate_tokens(utterance)
                yield b""
            elif (segment := feed.take()) is not None:
                utterance = self._start_utterance(segment, embedding, speed, generator, options)
            elif feed.exhausted:
                return
            else:
                utterance = None
                yield None  # waiting for streamed text

    def _start_utterance(
        self,
        segment: Segment,
        embedding: torch.Tensor,
        speed: float,
        generator: torch.Generator | None,
        options: SynthesisOptions,
    ) -> _Utterance:
        text_ids = torch.tensor([segment.token_ids], dtype=torch.int64)
        count = options.fixed_token_count
        limits = None if count is None else (count, count)
        tokens = self.model.llm.generate(text_ids, embedding, generator=generator, limits=limits)
        wave = TokenToWave(
            self.model.flow,
            self.model.hift,
            embedding,
            options.schedule,
            n_timesteps=options.flow_steps,
            cfg_rate=options.cfg_rate,
            speed=speed,
            generator=generator,
        )
        return _Utterance(tokens, wave, options.llm_tokens_per_step)

    def _generate_tokens(self, utterance: _Utterance) -> None:
        """Run up to `llm_tokens_per_step` decode steps, fewer when a chunk becomes decodable (so its audio is
        not delayed by tokens it does not need); end the utterance's tokens when the LLM stops."""
        assert utterance.tokens is not None
        wave = utterance.wave
        for step, token in enumerate(utterance.tokens, start=1):
            wave.add_tokens((token,))
            utterance.token_count += 1
            if step == utterance.tokens_per_step or wave.chunk_ready:
                return
        utterance.tokens = None
        wave.end_tokens()
        _LOGGER.debug("Sentence of %d speech tokens generated", utterance.token_count)

    def _decode_chunk(self, utterance: _Utterance) -> bytes:
        return to_pcm(utterance.wave.decode_chunk().speech)


def check_speed(speed: float) -> float:
    """`speed` if it is a speaking rate the pipeline supports; ValueError otherwise."""
    if not (math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED):
        raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}")
    return speed


def to_pcm(speech: torch.Tensor) -> bytes:
    """float waveform in [-1, 1] → little-endian int16 bytes."""
    scaled = (speech.float() * PCM_FULL_SCALE).round().clamp(-PCM_FULL_SCALE - 1, PCM_FULL_SCALE)
    return scaled.to(torch.int16).numpy().tobytes()
