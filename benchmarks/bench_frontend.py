"""Text frontend benchmark: import time, first-use cost, and normalise + split + tokenise of 10,000 characters of
mixed text (targets: import < 1 s, 10,000 characters < 0.2 s). Prints readable lines, then one JSON object.

    .venv/bin/python benchmarks/bench_frontend.py [--chars 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from wyoming_cosyvoice.text import TextFrontend

SAMPLE = (
    "Garage door opened at 07:05. The living room temperature is 21.5°C and humidity is 45%. "
    "It costs $1,299.99, Dr. Smith said on 2024-03-05 at 3:45 PM. Call 555-123-4567 for 12.3 kWh. "
    "客厅温度21.5℃，湿度45%。我的电话是13812345678。总价¥1,368.50。今天的meeting改到3:30 PM了。"
    "3時半に会議があります。会費は10,000円です。気温は-3℃です。"
    "배터리가 15% 남았습니다. 사과 3개를 샀어요. 2024년 3월 5일. "
    "而家係下晝3點30分，氣溫28度。Hello，今天天气真不错！🎉 "
)
IMPORT_PROBE = (
    "import time; t = time.perf_counter(); "
    "from wyoming_cosyvoice.text import TextFrontend; TextFrontend(); "
    "print(time.perf_counter() - t)"
)


def mixed_text(chars: int) -> str:
    return (SAMPLE * (chars // len(SAMPLE) + 1))[:chars]


def import_seconds(repeat: int) -> float:
    """Fresh interpreters: the best of `repeat` imports of the frontend (package import + TextFrontend())."""
    times = []
    for _ in range(repeat):
        output = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
        times.append(float(output.stdout))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = mixed_text(args.chars)

    frontend = TextFrontend()
    start = time.perf_counter()
    frontend.segments(SAMPLE, "zh")
    first_use = time.perf_counter() - start  # vocabulary + rules built on first use

    runs, segments = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        segments = frontend.segments(text, "zh")
        runs.append(time.perf_counter() - start)
    start = time.perf_counter()
    frontend.normalize(text, "zh")
    normalize_only = time.perf_counter() - start

    result = {
        "chars": len(text),
        "segments": len(segments),
        "tokens": sum(len(s.token_ids) for s in segments),
        "segments_s_best": round(min(runs), 4),
        "segments_s_median": round(statistics.median(runs), 4),
        "normalize_only_s": round(normalize_only, 4),
        "chars_per_s": round(len(text) / min(runs)),
        "first_use_s": round(first_use, 4),
        "import_s": round(import_seconds(args.repeat), 4),
        "target_segments_s": 0.2,
        "target_import_s": 1.0,
    }
    print(
        f"normalise + split + tokenise {result['chars']} chars: best {result['segments_s_best']} s, "
        f"median {result['segments_s_median']} s (target < 0.2 s); "
        f"{result['segments']} segments, {result['tokens']} tokens"
    )
    print(
        f"import + construct: {result['import_s']} s (target < 1 s); "
        f"first use (vocabulary, rules): {result['first_use_s']} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
