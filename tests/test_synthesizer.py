"""The synthesis pipeline on the tiny models: chunk arithmetic, streaming against one-shot decoding, speed,
cancellation, bounded work per step, long text with bounded memory, streamed segments and bad requests."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from wyoming_cosyvoice.model.flow import OVERLAP_TOKENS, mel_frames
from wyoming_cosyvoice.model.loader import CosyVoiceModel, load_model
from wyoming_cosyvoice.model.precision import PrecisionPlan
from wyoming_cosyvoice.model.token2wav import ChunkSchedule, TokenToWave
from wyoming_cosyvoice.synthesizer import EARLY_AUDIO_SCHEDULE, SegmentFeed, SynthesisOptions, Synthesizer
from wyoming_cosyvoice.text import Segment

SPEAKER = "英文女"
TOKEN_RATE = 50
SAMPLES_PER_FRAME = 256
OVERLAP_FRAMES = 34  # mel frames of the 20 overlap tokens
VOCODER_CACHE_FRAMES = 20
SEAM_FRAMES = OVERLAP_FRAMES + VOCODER_CACHE_FRAMES  # around a seam: mel cross-fade + vocoder cache
SENTENCE = Segment("The hallway lights are on.", [1, 2, 3, 4, 5, 6, 7, 8])


pytestmark = pytest.mark.usefixtures("one_thread")


def make_synthesizer(model: CosyVoiceModel, **options: object) -> Synthesizer:
    """A synthesizer around an already loaded model (fp32, seeded unless told otherwise)."""
    return Synthesizer(model, SynthesisOptions(**{"seed": 0, "precision": "fp32", **options}), PrecisionPlan())


def audio_of(work: Iterator[bytes | None]) -> bytes:
    return b"".join(pcm for pcm in work if pcm)


def chunk_plan(tokens: int, schedule: ChunkSchedule) -> list[int]:
    """Tokens decoded by each chunk once `tokens` tokens exist: windows of hop + overlap while more than two
    overlaps remain after the hop, then everything left as the final chunk."""
    windows, remaining = [], tokens
    while True:
        hop = schedule.hop_of(len(windows))
        if remaining >= hop + OVERLAP_TOKENS and remaining - hop > 2 * OVERLAP_TOKENS:
            windows.append(hop + OVERLAP_TOKENS)
            remaining -= hop
        else:
            return [*windows, remaining]


def streamed_frames(windows: list[int]) -> int:
    """Mel frames a stream of these chunk windows emits: each chunk's frames minus the overlap it shares with the
    chunk before it."""
    frames = [mel_frames(window, TOKEN_RATE) for window in windows]
    return frames[0] + sum(frame - OVERLAP_FRAMES for frame in frames[1:])


@contextmanager
def model_calls(model: CosyVoiceModel) -> Iterator[dict[str, int]]:
    """Counts forward calls of the flow, the vocoder and the LLM's output layer (one per decode step)."""
    calls = {"llm": 0, "flow": 0, "hift": 0}
    modules = {"llm": model.llm.llm_decoder, "flow": model.flow, "hift": model.hift}

    def counter(name: str):
        def count(*_: object) -> None:
            calls[name] += 1

        return count

    handles = [module.register_forward_hook(counter(name)) for name, module in modules.items()]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


# -- chunk arithmetic ---------------------------------------------------------------------------------------
def test_early_audio_schedule_hops() -> None:
    assert [EARLY_AUDIO_SCHEDULE.hop_of(index) for index in range(5)] == [23, 50, 100, 200, 200]
    assert chunk_plan(43, EARLY_AUDIO_SCHEDULE) == [43]
    assert chunk_plan(300, EARLY_AUDIO_SCHEDULE) == [43, 70, 120, 127]
    assert chunk_plan(600, EARLY_AUDIO_SCHEDULE) == [43, 70, 120, 220, 227]


@pytest.mark.parametrize("tokens", [30, 43, 150, 300, 517])
def test_streamed_length_follows_the_chunk_arithmetic(parity_model, tokens: int) -> None:
    """Through the whole pipeline: the audio is exactly the streamed frames of the schedule's chunks; each chunk
    rounds its frames down, so a stream is at most one frame per chunk shorter than one-shot decoding."""
    synthesizer = make_synthesizer(parity_model, fixed_token_count=tokens, flow_steps=2)
    pcm = audio_of(
        synthesizer.synthesize_segments(SegmentFeed([SENTENCE], closed=True), SPEAKER, 1.0, threading.Event())
    )
    windows = chunk_plan(tokens, EARLY_AUDIO_SCHEDULE)
    assert len(pcm) // 2 == streamed_frames(windows) * SAMPLES_PER_FRAME
    one_shot = mel_frames(tokens, TOKEN_RATE)
    assert 0 <= one_shot - streamed_frames(windows) < len(windows)


# -- streaming against one-shot decoding -------------------------------------------------------------------
def decode_with_shared_noise(
    model: CosyVoiceModel, tokens: list[int], schedule: ChunkSchedule | None, noise: torch.Tensor, source: torch.Tensor
) -> tuple[torch.Tensor, list[int]]:
    """Decode `tokens` with every chunk's flow noise and vocoder source cut from the same one-shot draws at the
    chunk's place on the utterance's time line. Returns the audio and the sample offsets of the seams."""
    decoder = TokenToWave(model.flow, model.hift, model.speakers[SPEAKER], schedule)
    decoder.add_tokens(tokens)
    decoder.end_tokens()
    windows = [len(tokens)] if schedule is None else chunk_plan(len(tokens), schedule)
    mel_start = vocoded = 0  # time line frames: where this chunk's mel starts; mel handed to the vocoder so far
    pieces, seams = [], []
    for index, window in enumerate(windows):
        final = index == len(windows) - 1
        frames = mel_frames(window, TOKEN_RATE)
        vocoded_end = mel_start + frames - (0 if final else OVERLAP_FRAMES)
        vocoder_start = vocoded - (VOCODER_CACHE_FRAMES if index else 0)
        chunk = decoder.decode_chunk(
            flow_noise=noise[:, :, mel_start : mel_start + frames],
            source=source[:, :, vocoder_start * SAMPLES_PER_FRAME : vocoded_end * SAMPLES_PER_FRAME],
        )
        assert chunk.token_range[1] - chunk.token_range[0] == window and chunk.final == final
        pieces.append(chunk.speech)
        seams.append(sum(len(piece) for piece in pieces))
        mel_start, vocoded = mel_start + frames - OVERLAP_FRAMES, vocoded_end
    assert decoder.finished
    return torch.cat(pieces), seams[:-1]


def relative_error(actual: torch.Tensor, expected: torch.Tensor, where: torch.Tensor) -> float:
    return float((actual - expected)[where].norm() / expected[where].norm())


@pytest.mark.parametrize(
    "model_dir_fixture, away_bound, seam_bound, other_noise_floor",
    [("tiny_random_model_dir", 0.005, 0.1, 0.05), ("parity_dir", 0.12, 0.2, 0.25)],
)
def test_streaming_matches_one_shot_away_from_seams(
    request, model_dir_fixture: str, away_bound: float, seam_bound: float, other_noise_floor: float
) -> None:
    """300 fixed tokens decoded in one chunk and streamed with the early-audio schedule, with the same flow noise
    and vocoder source (each chunk gets its slice of the one-shot draws). Both are the same length here (300
    tokens: no frame lost to rounding) and agree approximately: the flow's token encoder attends only within its
    chunk and the length regulator stretches a chunk's middle tokens separately from its 20-token edges, so mu
    differs slightly everywhere; around the seams the cross-fades add to that.

    Relative L2 error of the waveform, measured (torch 2.13) with the schedule 23/50/×2/200 and, in brackets, with
    25/50/×2/100: tiny random model 0.00024 (0.0014) away from the seams (±54 frames around each) and 0.038
    (0.038) at them; tiny reference model (perturbed weights, sharper attention) 0.013 (0.061) away and 0.043
    (0.068) at the seams. The bounds leave room for schedule tuning. Control: streaming with *other* noise and
    source differs from the one-shot audio by 0.11 (random) and 0.36 (reference) away from the seams, so the test
    tells shared noise apart from any noise."""
    model = load_model(request.getfixturevalue(model_dir_fixture))
    draws = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, model.config.flow.vocab_size, (300,), generator=draws).tolist()
    frames = mel_frames(len(tokens), TOKEN_RATE)

    def noise_and_source() -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn(1, 80, frames, generator=draws)
        return noise, torch.randn(1, 1, frames * SAMPLES_PER_FRAME, generator=draws) * 0.1

    shared = noise_and_source()
    one_shot, _ = decode_with_shared_noise(model, tokens, None, *shared)
    streamed, seams = decode_with_shared_noise(model, tokens, EARLY_AUDIO_SCHEDULE, *shared)
    other_noise, _ = decode_with_shared_noise(model, tokens, EARLY_AUDIO_SCHEDULE, *noise_and_source())
    assert len(streamed) == len(one_shot) == frames * SAMPLES_PER_FRAME and len(seams) == 3
    away = torch.ones(len(one_shot), dtype=torch.bool)
    for seam in seams:
        away[max(0, seam - SEAM_FRAMES * SAMPLES_PER_FRAME) : seam + SEAM_FRAMES * SAMPLES_PER_FRAME] = False
    assert relative_error(streamed, one_shot, away) < away_bound
    assert relative_error(streamed, one_shot, ~away) < seam_bound
    assert relative_error(other_noise, one_shot, away) > other_noise_floor


# -- speed, work per step, cancellation ----------------------------------------------------------------------
@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_speed_changes_the_streamed_length(parity_model, speed: float) -> None:
    """150 tokens stream as 3 chunks; each chunk's new mel frames are stretched to int(frames / speed), so the
    length scales by 1/speed up to one frame per chunk."""
    synthesizer = make_synthesizer(parity_model, fixed_token_count=150, flow_steps=2)
    lengths = {}
    for rate in (1.0, speed):
        feed = SegmentFeed([SENTENCE], closed=True)
        lengths[rate] = len(audio_of(synthesizer.synthesize_segments(feed, SPEAKER, rate, threading.Event()))) // 2
    assert abs(lengths[speed] - lengths[1.0] / speed) <= 3 * SAMPLES_PER_FRAME


def test_every_step_is_a_bounded_piece_of_work(parity_model) -> None:
    """One `next()` runs at most `llm_tokens_per_step` LLM passes (the prefix pass gives the first token), or one
    flow call and one vocoder call — never both kinds; the LLM stops as soon as a chunk is decodable."""
    synthesizer = make_synthesizer(parity_model, fixed_token_count=160, flow_steps=2, llm_tokens_per_step=3)
    work = synthesizer.synthesize_segments(
        SegmentFeed([SENTENCE, SENTENCE], closed=True), SPEAKER, 1.0, threading.Event()
    )
    steps = []
    while True:
        with model_calls(parity_model) as calls:
            try:
                pcm = next(work)
            except StopIteration:
                break
        steps.append((dict(calls), bool(pcm)))
    first_chunk = next(index for index, (calls, _) in enumerate(steps) if calls["flow"])
    assert sum(calls["llm"] for calls, _ in steps[:first_chunk]) == 43  # exactly the first window, not a step more
    llm_steps = [calls["llm"] for calls, _ in steps if calls["llm"]]
    chunk_steps = [calls for calls, audio in steps if calls["flow"]]
    assert max(llm_steps) == 3 and sum(llm_steps) == 2 * 160  # the prefix pass, then one per new token
    assert all(calls == {"llm": 0, "flow": 1, "hift": 1} for calls in chunk_steps)
    assert len(chunk_steps) == 2 * len(chunk_plan(160, EARLY_AUDIO_SCHEDULE))
    assert all(audio for calls, audio in steps if calls["flow"])


@pytest.mark.parametrize("cancel_after", ["first audio", "llm step"])
def test_cancel_stops_before_the_next_step(parity_model, cancel_after: str) -> None:
    synthesizer = make_synthesizer(parity_model, fixed_token_count=400, flow_steps=2)
    cancel = threading.Event()
    work = synthesizer.synthesize_segments(SegmentFeed([SENTENCE] * 3, closed=True), SPEAKER, 1.0, cancel)
    for pcm in work:
        if pcm if cancel_after == "first audio" else pcm == b"":
            break
    with model_calls(parity_model) as calls:
        cancel.set()
        assert list(work) == []
    assert calls == {"llm": 0, "flow": 0, "hift": 0}


# -- long text, streamed segments ------------------------------------------------------------------------------
def resident_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


def live_decoders() -> int:
    """Utterance decoders alive in this process."""
    return sum(type(thing) is TokenToWave for thing in gc.get_objects())


class CountingFeed(SegmentFeed):
    """A closed feed that records how many segments have been taken."""

    def __init__(self, segments: list[Segment]) -> None:
        super().__init__(segments, closed=True)
        self.taken = 0

    def take(self) -> Segment | None:
        segment = super().take()
        self.taken += segment is not None
        return segment


def test_long_text_streams_with_bounded_memory(parity_model) -> None:
    """10,000 characters (31 segments, each forced to 60 speech tokens = 103 mel frames) stream out chunk by
    chunk: the first audio comes after one segment, at most one segment is in progress at any time, and resident
    memory after the first five segments grows by less than 20 MB over the rest (measured: 0.13 MB for 31
    segments), and no finished utterance's decoder stays alive."""
    synthesizer = make_synthesizer(parity_model, fixed_token_count=60, flow_steps=2, cfg_rate=0.0)
    sentences = [
        "Good morning, the kitchen temperature is 21 degrees and the heating will switch off at nine.",
        "Reminder: the bins go out tonight, and the washing machine finished ten minutes ago!",
        "Somebody rang the doorbell while you were away; the camera saved a short clip of the visit.",
    ]
    text = " ".join(sentences[index % len(sentences)] for index in range(200))[:10_000]
    assert len(text) == 10_000
    segments = synthesizer.segments(text, "en")
    feed = CountingFeed(segments)
    samples_per_segment = streamed_frames(chunk_plan(60, EARLY_AUDIO_SCHEDULE)) * SAMPLES_PER_FRAME
    samples, baseline, peak, taken_at_first_audio = 0, None, 0, None
    decoders_before = live_decoders()
    for step, pcm in enumerate(synthesizer.synthesize_segments(feed, SPEAKER, 1.0, threading.Event())):
        samples += len(pcm or b"") // 2
        assert feed.taken <= samples // samples_per_segment + 1  # one segment at a time
        if step % 50 == 0:
            assert live_decoders() - decoders_before <= 2  # finished utterances are not kept
        if samples and taken_at_first_audio is None:
            taken_at_first_audio = feed.taken
        if feed.taken == 5 and baseline is None:
            baseline = resident_bytes()
        elif baseline is not None:
            peak = max(peak, resident_bytes())
    assert taken_at_first_audio == 1 and len(segments) >= 25
    assert samples == len(segments) * samples_per_segment
    assert baseline is not None and peak - baseline < 20 * 2**20


def test_open_feed_waits_for_segments_and_resumes(parity_model) -> None:
    synthesizer = make_synthesizer(parity_model, fixed_token_count=50, flow_steps=2)
    feed = SegmentFeed()
    work = synthesizer.synthesize_segments(feed, SPEAKER, 1.0, threading.Event())
    assert next(work) is None and next(work) is None  # nothing to say yet, still open
    for _ in range(2):
        feed.put([SENTENCE])
        spoken = []
        while (pcm := next(work)) is not None:
            spoken.append(pcm)
        assert len(b"".join(spoken)) // 2 == streamed_frames(chunk_plan(50, EARLY_AUDIO_SCHEDULE)) * SAMPLES_PER_FRAME
    feed.close()
    assert list(work) == []
    with pytest.raises(RuntimeError, match="closed feed"):
        feed.put([SENTENCE])


def test_text_becomes_finite_reproducible_speech(parity_model) -> None:
    synthesizer = make_synthesizer(parity_model, flow_steps=2)
    first = audio_of(synthesizer.synthesize("Hello there. How are you today?", SPEAKER, "en"))
    again = audio_of(synthesizer.synthesize("Hello there. How are you today?", SPEAKER, "en"))
    samples = torch.frombuffer(bytearray(first), dtype=torch.int16)
    assert len(samples) > 22050 // 2 and samples.abs().max() > 0 and first == again


def test_warm_up_runs_every_network_once_and_keeps_the_options(parity_model) -> None:
    synthesizer = make_synthesizer(parity_model, seed=None, fixed_token_count=None)
    options = synthesizer.options
    with model_calls(parity_model) as calls:
        synthesizer.warm_up()
    assert calls == {"llm": 10, "flow": 1, "hift": 1} and synthesizer.options is options


# -- bad requests ----------------------------------------------------------------------------------------------
def test_unknown_speaker_is_refused_before_any_work(parity_model) -> None:
    synthesizer = make_synthesizer(parity_model)
    with pytest.raises(ValueError, match="unknown speaker 'nobody'; the model has: .*英文女"):
        synthesizer.synthesize_segments(SegmentFeed([SENTENCE], closed=True), "nobody", 1.0, threading.Event())


@pytest.mark.parametrize("speed", [0.0, 0.49, 2.01, float("nan")])
def test_unsupported_speed_is_refused(parity_model, speed: float) -> None:
    synthesizer = make_synthesizer(parity_model)
    with pytest.raises(ValueError, match="speed must be between 0.5 and 2.0"):
        synthesizer.synthesize("Hello.", SPEAKER, "en", speed=speed)
