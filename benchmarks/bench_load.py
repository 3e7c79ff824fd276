"""Official model folder against its lite pack at full size (random weights): disk size, conversion time, load time
and memory.

Uses the CosyVoice-300M-sized random-weight folder of bench_pipeline.py (built once by its `ensure_model`),
converts it with `wyoming_cosyvoice.convert` at `--precision` (in a child process, timed: `convert_s`), then loads
each folder with `Synthesizer.load` at that same precision in a fresh child process per run (official and lite
interleaved, `--repeats` times; figures are medians) and reports:
- `*_size_mb`: the folder's files on disk;
- `*_load_s`: `Synthesizer.load` (for the official folder this includes converting to the precision);
- `*_rss_after_load_mb` / `*_peak_rss_after_load_mb`: resident memory of the child right after loading (current
  and peak); memory-mapped weights count only once touched;
- `*_peak_rss_after_warm_up_mb`, `*_warm_up_s`: after `Synthesizer.warm_up()`, the tiny synthesis the server runs
  before taking requests; it touches every weight.
Both folders are read once before measuring, so the page cache is warm for both (the usual case on every start
after the first); a cold cache adds the disk's read time, which favours the smaller pack further.

Prints one line per figure, then all figures as one JSON object (the last line). `loadavg` is reported; timings
depend on what else runs on the machine.

    .venv/bin/python benchmarks/bench_load.py [--precision auto|fp32|bf16|int8] [--repeats 3] [--threads N]
        [--model-dir DIR] [--pack-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
sys.path[:0] = [str(REPO_ROOT), str(BENCHMARKS_DIR)]

from bench_pipeline import DEFAULT_MODEL_DIR, cpu_name, ensure_model, print_figures


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"], default="auto")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process loads per folder; figures are medians")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="random-weight official folder")
    parser.add_argument("--pack-dir", type=Path, help="where the lite pack is written (default: beside the model)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: measure one load of this folder
    arguments = parser.parse_args(argv)
    if arguments.repeats < 1:
        parser.error("--repeats must be at least 1")
    return arguments


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    return round(current, 1), round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure_one_load(arguments: argparse.Namespace) -> dict[str, Any]:
    """In a child process: load the folder, then run `Synthesizer.warm_up` (one tiny synthesis that touches every
    weight); times and memory."""
    import wyoming_cosyvoice.openmp  # noqa: F401, I001  (the server's OpenMP waiting, set before torch loads)
    import torch
    from wyoming_cosyvoice.synthesizer import SynthesisOptions, Synthesizer

    options = SynthesisOptions(precision=arguments.precision, threads=arguments.threads)
    started = time.perf_counter()
    synthesizer = Synthesizer.load(arguments.child, options)
    load_s = time.perf_counter() - started
    after_load, peak_after_load = rss_mb()
    started = time.perf_counter()
    synthesizer.warm_up()
    return {
        "load_s": load_s,
        "rss_after_load_mb": after_load,
        "peak_rss_after_load_mb": peak_after_load,
        "warm_up_s": time.perf_counter() - started,
        "peak_rss_after_warm_up_mb": rss_mb()[1],
        "precision_plan": str(synthesizer.precision),
        "threads": torch.get_num_threads(),
    }


def run_child(folder: Path, arguments: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(folder), "--precision", arguments.precision]
    if arguments.threads:
        command += ["--threads", str(arguments.threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def convert_pack(model_dir: Path, pack_dir: Path, precision: str) -> tuple[float, float]:
    """Convert in a child process; (seconds, the child's peak RSS in MiB)."""
    command = [sys.executable, "-m", "wyoming_cosyvoice.convert", str(model_dir), str(pack_dir)]
    command += ["--precision", precision, "--force"]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return seconds, round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def folder_size_mb(folder: Path) -> float:
    return round(sum(path.stat().st_size for path in folder.iterdir() if path.is_file()) / 2**20, 1)


def warm_page_cache(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb") as stream:
                while stream.read(64 * 2**20):
                    pass


def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    model_dir = arguments.model_dir
    pack_dir = arguments.pack_dir or model_dir.with_name(f"{model_dir.name}-lite-{arguments.precision}")
    ensure_model(model_dir)
    convert_s, convert_peak_rss_mb = convert_pack(model_dir, pack_dir, arguments.precision)
    folders = {"official": model_dir, "lite": pack_dir}
    for folder in folders.values():
        warm_page_cache(folder)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in folders}
    for _ in range(arguments.repeats):
        for name, folder in folders.items():
            runs[name].append(run_child(folder, arguments))
    figures: dict[str, Any] = {"precision": arguments.precision, "precision_plan": runs["lite"][0]["precision_plan"]}
    for name, folder in folders.items():
        figures[f"{name}_size_mb"] = folder_size_mb(folder)
        for figure in (
            "load_s",
            "rss_after_load_mb",
            "peak_rss_after_load_mb",
            "peak_rss_after_warm_up_mb",
            "warm_up_s",
        ):
            value = statistics.median(run[figure] for run in runs[name])
            figures[f"{name}_{figure}"] = round(value, 3 if figure.endswith("_s") else 1)
    figures.update(
        convert_s=round(convert_s, 1),
        convert_peak_rss_mb=convert_peak_rss_mb,
        repeats=arguments.repeats,
        threads=runs["lite"][0]["threads"],
        page_cache="warm",
        cpu=cpu_name(),
        loadavg=round(os.getloadavg()[0], 2),
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if arguments.child:
        print(json.dumps(measure_one_load(arguments)))
        return
    print_figures(measure(arguments))


if __name__ == "__main__":
    main()
