"""LLM decode speed per precision at full size (random weights): milliseconds per generated speech token.

Loads the CosyVoice-300M-sized random-weight model folder of `bench_pipeline.py` (written there once) once per
precision, converts the LLM with `apply_precision`, then runs `TransformerLM.generate` for a fixed number of tokens
(EOS ignored) in interleaved rounds (fp32, int8, … then again), so the variants see the same machine load. Reports
per precision the median ms/token over the rounds (the prefix step excluded) and the fastest round.

    .venv/bin/python benchmarks/bench_llm.py [--profile native|avx2] [--precisions fp32,int8,bf16] [--tokens 100]
        [--rounds 5] [--threads N]

Prints one line per figure, then all figures as one JSON object (the last line).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import AVX2_ENVIRONMENT, DEFAULT_MODEL_DIR, SPEAKER, ensure_model

TEXT_TOKENS = 20


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["native", "avx2"], default="native")
    parser.add_argument("--precisions", default="fp32,int8", help="comma-separated LLM precisions (fp32, bf16, int8)")
    parser.add_argument("--tokens", type=int, default=100, help="speech tokens per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    return parser.parse_args(argv)


def ensure_profile(profile: str) -> None:
    """Re-execute this script with the AVX2 caps set before torch is imported when the profile asks for them."""
    if profile == "avx2" and any(os.environ.get(name) != value for name, value in AVX2_ENVIRONMENT.items()):
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], {**os.environ, **AVX2_ENVIRONMENT})


def ms_per_token(model: object, tokens: int) -> float:
    """One generation of `tokens` tokens; the time after the first token (the prefix step) per further token."""
    import torch

    text = torch.arange(1, TEXT_TOKENS + 1).view(1, -1)
    stream = model.llm.generate(text, model.speakers[SPEAKER], torch.Generator().manual_seed(0), (tokens, tokens))
    next(stream)
    started = time.perf_counter()
    for _ in stream:
        pass
    return (time.perf_counter() - started) * 1000 / (tokens - 1)


def main(argv: list[str]) -> None:
    arguments = parse_arguments(argv)
    ensure_profile(arguments.profile)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import torch

    from wyoming_cosyvoice.model.loader import load_model
    from wyoming_cosyvoice.model.precision import PrecisionPlan, apply_precision

    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    ensure_model(arguments.model_dir)
    precisions = arguments.precisions.split(",")
    models = {}
    for precision in precisions:
        models[precision] = load_model(arguments.model_dir)
        apply_precision(models[precision], PrecisionPlan(llm=precision))
        ms_per_token(models[precision], 5)  # first touch of the weights, kernel packing
    rounds: dict[str, list[float]] = {precision: [] for precision in precisions}
    for _ in range(arguments.rounds):
        for precision in precisions:
            rounds[precision].append(ms_per_token(models[precision], arguments.tokens))
    figures = {
        "profile": arguments.profile,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "tokens": arguments.tokens,
        "rounds": arguments.rounds,
        **{f"llm_ms_per_token_{p}": round(statistics.median(values), 2) for p, values in rounds.items()},
        **{f"llm_ms_per_token_{p}_fastest": round(min(values), 2) for p, values in rounds.items()},
        "loadavg": round(os.getloadavg()[0], 2),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
