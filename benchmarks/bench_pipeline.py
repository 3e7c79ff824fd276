"""End-to-end speed and memory of the synthesis pipeline at full size (random weights), in one process.

Builds (once, then reuses) a CosyVoice-300M-sized random-weight model folder, loads it with `Synthesizer.load`
(timed: `load_s`), runs `Synthesizer.warm_up` (`warm_up_s`) and a first 60-token request, then synthesises one
sentence through `synthesize_segments` with exactly `--tokens` speech tokens (EOS ignored; 250 tokens = 5 s of
speech) and reports:
- `first_audio_s`: from the request's start to its first non-empty PCM chunk (`first_request_first_audio_s`: the
  same for the first, 60-token request after `Synthesizer.warm_up`, timed as `warm_up_s`);
- `flow_s`, `hift_s`: time inside `model.flow` / `model.hift` calls (forward hooks; no timing code in the product);
- `llm_ms_per_token`: (compute − flow − hift) / tokens — the LLM plus the pipeline's own small overhead;
- `stall_s`: playback gaps after the first audio if each chunk were played as soon as it is computed;
- `audio_s`, `rtf` (compute ÷ audio), `peak_rss_mb` (peak resident memory of this process, load included).
`--repeats N` runs the measured request N times and reports each figure's median.

`--profile avx2` re-executes this script with the CPU capped at AVX2 (the instruction set of the mini PCs Home
Assistant runs on): ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
FBGEMM_ENABLE_INSTRUCTIONS=AVX2, set before torch is imported. `native` uses whatever the CPU has.

Prints one line per figure, then all figures as one JSON object (the last line). Timings depend on what else runs
on the machine: compare medians taken under similar load (`loadavg` is reported).

    .venv/bin/python benchmarks/bench_pipeline.py [--profile native|avx2] [--precision auto|fp32|bf16|int8]
        [--preset quality|fast] [--flow-steps N] [--tokens 250] [--threads N] [--repeats 1] [--model-dir DIR]
        [--schedule FIRST,HOP,GROWTH,MAX] [--llm-tokens-per-step N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = Path.home() / ".cache" / "wyoming-cosyvoice" / "bench-models" / "full-seed0"
AVX2_ENVIRONMENT = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
}
SENTENCE = "The front door has been unlocked and the hallway lights are on."
SPEAKER = "英文女"
WARM_UP_TOKENS = 60


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["native", "avx2"], default="native")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"], default="auto")
    parser.add_argument("--preset", choices=["quality", "fast"], default="quality")
    parser.add_argument("--flow-steps", type=int, help="override the preset's flow steps")
    parser.add_argument("--tokens", type=int, default=250, help="speech tokens to generate (50 per second)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="measured requests; figures are medians")
    parser.add_argument("--schedule", help="chunk schedule FIRST,HOP,GROWTH,MAX (default: the product's)")
    parser.add_argument("--llm-tokens-per-step", type=int, help="LLM decode steps per pipeline step")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="random-weight model folder")
    arguments = parser.parse_args(argv)
    if arguments.tokens < 1 or arguments.repeats < 1:
        parser.error("--tokens and --repeats must be at least 1")
    return arguments


def ensure_profile(profile: str) -> None:
    """Re-execute this script with the AVX2 caps when the profile asks for them and they are not set yet."""
    if profile != "avx2" or all(os.environ.get(name) == value for name, value in AVX2_ENVIRONMENT.items()):
        return
    if "torch" in sys.modules:
        raise RuntimeError("the avx2 profile must be set before torch is imported")
    os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], {**os.environ, **AVX2_ENVIRONMENT})


def ensure_model(folder: Path) -> float:
    """Write the full-size random-weight folder unless it exists; returns the seconds spent writing it."""
    from wyoming_cosyvoice.model.loader import CONFIG_FILE
    from wyoming_cosyvoice.model.random_weights import write_random_model

    if (folder / CONFIG_FILE).is_file():  # written last: its presence means the folder is complete
        return 0.0
    print(f"writing a full-size random-weight model to {folder} (once)", file=sys.stderr)
    started = time.perf_counter()
    write_random_model(folder, "full", seed=0)
    return time.perf_counter() - started


class StageTimer:
    """Adds up the wall time spent inside one module's forward calls, through forward hooks."""

    def __init__(self, module: Any) -> None:
        self.seconds = 0.0
        self._started = 0.0
        self._handles = [
            module.register_forward_pre_hook(self._enter),
            module.register_forward_hook(self._leave),
        ]

    def _enter(self, *_: object) -> None:
        self._started = time.perf_counter()

    def _leave(self, *_: object) -> None:
        self.seconds += time.perf_counter() - self._started

    def reset(self) -> None:
        self.seconds = 0.0


def run_request(synthesizer: Any, token_ids: list[int]) -> dict[str, float]:
    """One request through `synthesize_segments`: wall time, first audio and audio length."""
    import threading

    from wyoming_cosyvoice.synthesizer import SegmentFeed
    from wyoming_cosyvoice.text import Segment

    feed = SegmentFeed([Segment(SENTENCE, token_ids)], closed=True)
    arrivals: list[tuple[float, int]] = []  # (seconds since the start, samples) of every audio chunk
    started = time.perf_counter()
    for pcm in synthesizer.synthesize_segments(feed, SPEAKER, 1.0, threading.Event()):
        if pcm:
            arrivals.append((time.perf_counter() - started, len(pcm) // 2))
    compute = time.perf_counter() - started
    return {
        "compute_s": compute,
        "first_audio_s": arrivals[0][0],
        "stall_s": playback_stalls(arrivals, synthesizer.sample_rate),
        "samples": sum(samples for _, samples in arrivals),
    }


def playback_stalls(arrivals: list[tuple[float, int]], rate: int) -> float:
    """Silence a listener would hear after the first audio if every chunk were played as soon as it arrives and
    the previous one has finished: the gaps where playback waits for computation."""
    playing_until, stalls = arrivals[0][0], 0.0
    for arrival, samples in arrivals:
        stalls += max(0.0, arrival - playing_until)
        playing_until = max(playing_until, arrival) + samples / rate
    return stalls


def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    import torch

    from wyoming_cosyvoice.synthesizer import SynthesisOptions, Synthesizer

    build_s = ensure_model(arguments.model_dir)
    options = SynthesisOptions.from_preset(
        arguments.preset,
        precision=arguments.precision,
        flow_steps=arguments.flow_steps,
        threads=arguments.threads,
        seed=0,
    )
    options = replace(options, **tuning_overrides(arguments))
    started = time.perf_counter()
    synthesizer = Synthesizer.load(arguments.model_dir, options)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    synthesizer.warm_up()
    warm_up_s = time.perf_counter() - started
    token_ids = synthesizer.frontend.tokenize(SENTENCE)
    timers = {"flow": StageTimer(synthesizer.model.flow), "hift": StageTimer(synthesizer.model.hift)}

    synthesizer.options = replace(options, fixed_token_count=WARM_UP_TOKENS)
    first = run_request(synthesizer, token_ids)  # the first request: sizes the warm-up did not see
    synthesizer.options = replace(options, fixed_token_count=arguments.tokens)
    runs = []
    for _ in range(arguments.repeats):
        for timer in timers.values():
            timer.reset()
        run = run_request(synthesizer, token_ids)
        run.update({f"{name}_s": timer.seconds for name, timer in timers.items()})
        runs.append(run)
    figures = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    audio_s = figures["samples"] / synthesizer.sample_rate
    llm_s = figures["compute_s"] - figures["flow_s"] - figures["hift_s"]
    return {
        "profile": arguments.profile,
        "precision": arguments.precision,
        "precision_plan": str(synthesizer.precision),
        "preset": arguments.preset,
        "flow_steps": options.flow_steps,
        "cfg_rate": options.cfg_rate,
        "schedule": describe_schedule(options.schedule),
        "llm_tokens_per_step": options.llm_tokens_per_step,
        "tokens": arguments.tokens,
        "repeats": arguments.repeats,
        "llm_ms_per_token": round(llm_s / arguments.tokens * 1000, 2),
        "flow_s": round(figures["flow_s"], 3),
        "hift_s": round(figures["hift_s"], 3),
        "compute_s": round(figures["compute_s"], 3),
        "audio_s": round(audio_s, 3),
        "rtf": round(figures["compute_s"] / audio_s, 3),
        "first_audio_s": round(figures["first_audio_s"], 3),
        "stall_s": round(figures["stall_s"], 3),
        "first_request_first_audio_s": round(first["first_audio_s"], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_s": round(load_s, 3),
        "warm_up_s": round(warm_up_s, 3),
        "model_written_s": round(build_s, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu_name(),
        "loadavg": round(os.getloadavg()[0], 2),
    }


def tuning_overrides(arguments: argparse.Namespace) -> dict[str, Any]:
    """SynthesisOptions fields given on the command line (for tuning experiments)."""
    from wyoming_cosyvoice.model.token2wav import ChunkSchedule

    overrides: dict[str, Any] = {}
    if arguments.schedule:
        first, hop, growth, longest = arguments.schedule.split(",")
        overrides["schedule"] = ChunkSchedule(int(first), int(hop), float(growth), int(longest))
    if arguments.llm_tokens_per_step:
        overrides["llm_tokens_per_step"] = arguments.llm_tokens_per_step
    return overrides


def describe_schedule(schedule: Any) -> str:
    return f"first {schedule.first_hop}, hop {schedule.hop}, growth {schedule.growth}, max {schedule.max_hop}"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    ensure_profile(arguments.profile)
    sys.path.insert(0, str(REPO_ROOT))
    import wyoming_cosyvoice.openmp  # noqa: F401  (the server's OpenMP waiting, set before torch is imported)

    print_figures(measure(arguments))


def print_figures(figures: dict[str, Any]) -> None:
    """One line per figure, then all of them as one JSON object (the line other tools read)."""
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
