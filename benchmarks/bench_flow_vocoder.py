"""Speed of the flow decoder and the HiFT vocoder at full size (random weights), one-shot and streaming.

Builds CosyVoice-300M's flow and vocoder in memory (the modules' own initialisation, seed 0; no model folder
needed), then for `--tokens` speech tokens (250 = 5 s of speech) times, as medians over `--repeats` runs:
the flow (token encoder + `--steps` Euler steps, guidance on unless `--cfg-rate 0`), the vocoder on the flow's
mel, and the streaming decoder's first chunk (flow + vocoder of `--first-hop` + 20 tokens) and whole stream.
Prints one line per figure, then all figures as one JSON object. Timings depend on what else runs on the machine.

    .venv/bin/python benchmarks/bench_flow_vocoder.py [--tokens 250] [--steps 10] [--cfg-rate 0.7]
        [--first-hop 30] [--hop 100] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from wyoming_cosyvoice.model.config import read_model_config
from wyoming_cosyvoice.model.flow import FlowModel
from wyoming_cosyvoice.model.hift import HiFTVocoder
from wyoming_cosyvoice.model.random_weights import SIZES
from wyoming_cosyvoice.model.token2wav import ChunkSchedule, TokenToWave

SAMPLE_RATE = 22050


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stream(flow: FlowModel, hift: HiFTVocoder, tokens: list[int], embedding: torch.Tensor,
           schedule: ChunkSchedule, options: argparse.Namespace, first_only: bool) -> int:
    decoder = TokenToWave(flow, hift, embedding, schedule, n_timesteps=options.steps, cfg_rate=options.cfg_rate,
                          generator=torch.Generator().manual_seed(0))
    decoder.add_tokens(tokens)
    decoder.end_tokens()
    samples = 0
    while decoder.chunk_ready:
        samples += len(decoder.decode_chunk().speech)
        if first_only:
            break
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=250)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cfg-rate", type=float, default=0.7)
    parser.add_argument("--first-hop", type=int, default=30)
    parser.add_argument("--hop", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    config = read_model_config(SIZES["full"])
    torch.manual_seed(0)
    flow = FlowModel(config.flow).eval().requires_grad_(False)
    hift = HiFTVocoder(config.hift).eval().requires_grad_(False)
    tokens = torch.randint(0, config.flow.vocab_size, (1, options.tokens))
    embedding = torch.randn(1, config.flow.spk_embed_dim)
    schedule = ChunkSchedule(first_hop=options.first_hop, hop=options.hop)
    token_list = tokens[0].tolist()
    with torch.inference_mode():
        mel = flow(tokens, embedding, n_timesteps=1).mel  # warm-up (allocations, weight folding)
        hift(mel)
        solver = {"n_timesteps": options.steps, "cfg_rate": options.cfg_rate}
        flow_s = median_seconds(lambda: flow(tokens, embedding, **solver), options.repeats)
        mel = flow(tokens, embedding, **solver).mel
        hift_s = median_seconds(lambda: hift(mel), options.repeats)
        first_chunk_s = median_seconds(
            lambda: stream(flow, hift, token_list, embedding, schedule, options, first_only=True), options.repeats
        )
        stream_s = median_seconds(
            lambda: stream(flow, hift, token_list, embedding, schedule, options, first_only=False), options.repeats
        )
    audio_s = mel.shape[2] * hift.config.samples_per_frame / SAMPLE_RATE
    figures = {
        "tokens": options.tokens, "steps": options.steps, "cfg_rate": options.cfg_rate, "threads": options.threads,
        "first_hop": options.first_hop, "hop": options.hop, "audio_s": round(audio_s, 3),
        "flow_s": round(flow_s, 3), "hift_s": round(hift_s, 3), "rtf_flow_hift": round((flow_s + hift_s) / audio_s, 3),
        "stream_first_chunk_s": round(first_chunk_s, 3), "stream_total_s": round(stream_s, 3),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
