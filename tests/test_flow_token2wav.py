"""Streaming token → waveform: the reference's chunking, tunable schedules, incremental feeding and chunk sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from wyoming_cosyvoice.model.flow import mel_frames
from wyoming_cosyvoice.model.token2wav import ChunkSchedule, TokenToWave
from wyoming_cosyvoice.parity import Tolerances, check_stream_case

SAMPLES_PER_FRAME = 256
HELD_BACK_SAMPLES = 20 * SAMPLES_PER_FRAME
OVERLAP_FRAMES = 34


@pytest.fixture(scope="module")
def tokens(parity_dir: Path) -> list[int]:
    return torch.load(parity_dir / "stream_case.pt", weights_only=True)["tokens"][0].tolist()


@pytest.fixture(scope="module")
def speaker(parity_model) -> torch.Tensor:
    return parity_model.speakers["中文女"]


def decode_all(decoder: TokenToWave) -> list:
    chunks = []
    with torch.inference_mode():
        while decoder.chunk_ready:
            chunks.append(decoder.decode_chunk())
    return chunks


def test_reference_streaming_is_reproduced(parity_dir: Path, parity_model) -> None:
    results = check_stream_case(parity_dir, parity_model, Tolerances.read(parity_dir))
    assert {"flow_mel_2", "hift_mel_2", "f0_2", "speech_2", "chunk_token_ranges", "speech"} <= set(results)
    failures = {name: result for name, result in results.items() if not result.ok}
    assert not failures, failures


def test_schedule_hops() -> None:
    assert [ChunkSchedule().hop_of(index) for index in range(4)] == [100, 100, 100, 100]
    growing = ChunkSchedule(first_hop=25, hop=50, growth=2.0, max_hop=150)
    assert [growing.hop_of(index) for index in range(5)] == [25, 50, 100, 150, 150]


@pytest.mark.parametrize(
    "schedule, message",
    [
        ({"first_hop": 22, "hop": 50}, "first_hop must be at least 23 tokens, got 22"),
        ({"first_hop": 30, "hop": 20}, "hop must be at least 21 tokens, got 20"),
    ],
)
def test_schedules_that_break_the_seams_are_refused(parity_model, speaker, schedule: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenToWave(parity_model.flow, parity_model.hift, speaker, ChunkSchedule(**schedule))


@pytest.mark.parametrize(
    "schedule, message",
    [
        ({"hop": 0}, "hop must be an integer in 1…"),
        ({"growth": 0.5}, "growth must be a number ≥ 1"),
        ({"hop": 100, "max_hop": 50}, "max_hop 50 is below hop 100"),
    ],
)
def test_malformed_schedules_are_refused(schedule: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChunkSchedule(**schedule)


def test_short_first_hop_chunk_sizes(parity_model, speaker, tokens) -> None:
    """140 tokens with hops 30, 50: chunks [0, 50), [30, 100), [80, 140) (final). Each non-final chunk emits its new
    mel frames minus the held-back overlap and the vocoder's held-back samples; the final chunk emits the rest."""
    decoder = TokenToWave(parity_model.flow, parity_model.hift, speaker, ChunkSchedule(first_hop=30, hop=50))
    decoder.add_tokens(tokens[:140])
    decoder.end_tokens()
    chunks = decode_all(decoder)
    assert [chunk.token_range for chunk in chunks] == [(0, 50), (30, 100), (80, 140)]
    assert [chunk.final for chunk in chunks] == [False, False, True]
    new_frames = [mel_frames(50, 50), mel_frames(70, 50) - OVERLAP_FRAMES, mel_frames(60, 50) - OVERLAP_FRAMES]
    emitted = [len(chunk.speech) for chunk in chunks]
    assert emitted[0] == (new_frames[0] - OVERLAP_FRAMES) * SAMPLES_PER_FRAME - HELD_BACK_SAMPLES
    assert emitted[1] == new_frames[1] * SAMPLES_PER_FRAME  # + held back from chunk 0 − held back now
    assert sum(emitted) == sum(new_frames) * SAMPLES_PER_FRAME
    assert chunks[1].vocoder_mel.shape[2] == 20 + new_frames[1] and decoder.finished and not decoder.chunk_ready


def test_tokens_fed_one_by_one_give_the_same_audio(parity_model, speaker, tokens) -> None:
    schedule = ChunkSchedule(first_hop=30, hop=50)
    all_at_once = TokenToWave(parity_model.flow, parity_model.hift, speaker, schedule,
                              generator=torch.Generator().manual_seed(11))
    all_at_once.add_tokens(tokens[:140])
    all_at_once.end_tokens()
    expected = decode_all(all_at_once)
    incremental = TokenToWave(parity_model.flow, parity_model.hift, speaker, schedule,
                              generator=torch.Generator().manual_seed(11))
    chunks, ready_after = [], []
    for count, token in enumerate(tokens[:140], start=1):
        incremental.add_tokens([token])
        if incremental.chunk_ready:
            ready_after.append(count)
            chunks += decode_all(incremental)
    incremental.end_tokens()
    chunks += decode_all(incremental)
    assert ready_after == [50, 100]  # first audio as soon as first_hop + overlap tokens exist
    assert [chunk.token_range for chunk in chunks] == [chunk.token_range for chunk in expected]
    assert torch.equal(torch.cat([c.speech for c in chunks]), torch.cat([c.speech for c in expected]))


def test_one_shot_with_speed_stretches_the_mel(parity_model, speaker, tokens) -> None:
    flow_noise = torch.randn(1, 80, mel_frames(60, 50), generator=torch.Generator().manual_seed(2))
    stretched_frames = int(mel_frames(60, 50) / 1.5)
    source = torch.randn(1, 1, stretched_frames * SAMPLES_PER_FRAME, generator=torch.Generator().manual_seed(3)) * 0.1
    decoder = TokenToWave(parity_model.flow, parity_model.hift, speaker, None, speed=1.5)
    decoder.add_tokens(tokens[:60])
    assert not decoder.chunk_ready  # no streaming: waits for the end
    decoder.end_tokens()
    with torch.inference_mode():
        chunk = decoder.decode_chunk(flow_noise=flow_noise, source=source)
        mel = parity_model.flow(torch.tensor([tokens[:60]]), speaker, noise=flow_noise).mel
        expected = parity_model.hift.decode(F.interpolate(mel, size=stretched_frames, mode="linear"), source)[0]
    assert chunk.final and torch.equal(chunk.speech, expected)


def test_streaming_with_speed_shortens_every_chunk(parity_model, speaker, tokens) -> None:
    lengths = {}
    for speed in (1.0, 2.0):
        decoder = TokenToWave(parity_model.flow, parity_model.hift, speaker, ChunkSchedule(first_hop=40, hop=60),
                              speed=speed, generator=torch.Generator().manual_seed(0))
        decoder.add_tokens(tokens[:200])
        decoder.end_tokens()
        lengths[speed] = sum(len(chunk.speech) for chunk in decode_all(decoder))
    assert abs(lengths[2.0] - lengths[1.0] / 2) < 4 * SAMPLES_PER_FRAME  # rounding of each chunk's frames


def test_lifecycle_errors(parity_model, speaker) -> None:
    decoder = TokenToWave(parity_model.flow, parity_model.hift, speaker, ChunkSchedule())
    decoder.add_tokens([1, 2, 3])
    with pytest.raises(RuntimeError, match="no chunk is ready"):
        decoder.decode_chunk()
    decoder.end_tokens()
    with pytest.raises(RuntimeError, match="tokens added after end_tokens"):
        decoder.add_tokens([4])
    empty = TokenToWave(parity_model.flow, parity_model.hift, speaker, ChunkSchedule())
    empty.end_tokens()
    assert empty.finished and not empty.chunk_ready
    with pytest.raises(ValueError, match="speed must be a positive number"):
        TokenToWave(parity_model.flow, parity_model.hift, speaker, speed=0.0)
