"""Download and verify speed of the model store against the local hub server used by the tests.

Serves a synthetic repository (the official file names, random contents, `--size-mib` in all) from
`tests/hub_server.py` on 127.0.0.1, downloads it through the Hugging Face path and the ModelScope path, then times a
cheap start (sizes only) and a `--verify` start (re-hash) of the installed model, and the same for the tiny
reference model. Prints one line per figure, then all figures as one JSON object. Loopback only: this measures our
code's overhead (hashing, copying, huggingface_hub), not anyone's internet connection.

    .venv/bin/python benchmarks/download_throughput.py [--size-mib 256]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

from hub_server import HubServer

from wyoming_cosyvoice.download import resolve_model_dir
from wyoming_cosyvoice.model_store.folders import OFFICIAL_FILES
from wyoming_cosyvoice.model_store.progress import DownloadProgress

# Roughly the official release's proportions (llm.pt dominates).
_SHARES = {"cosyvoice.yaml": 0.0, "llm.pt": 0.72, "flow.pt": 0.25, "hift.pt": 0.03, "spk2info.pt": 0.0}


def synthetic_repo(folder: Path, total_mib: int) -> None:
    folder.mkdir()
    rng = random.Random(0)
    for name in OFFICIAL_FILES:
        size = max(int(_SHARES[name] * total_mib * 2**20), 4096)
        with (folder / name).open("wb") as stream:
            for start in range(0, size, 2**24):
                stream.write(rng.randbytes(min(2**24, size - start)))


def seconds_to_resolve(download_dir: Path, **options: object) -> float:
    started = time.perf_counter()
    resolve_model_dir([], download_dir, **options)
    return time.perf_counter() - started


def measure(repo: Path, work: Path, label: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    total = sum((repo / name).stat().st_size for name in OFFICIAL_FILES)
    figures[f"{label}_model_mib"] = round(total / 2**20, 1)
    with HubServer(repo) as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        os.environ["MODELSCOPE_DOMAIN"] = hub.url
        for source in ("huggingface", "modelscope"):
            quiet = DownloadProgress(interval=3600)
            seconds = seconds_to_resolve(work / f"{label}-{source}", source=source, progress=quiet)
            figures[f"{label}_{source}_download_s"] = round(seconds, 3)
            figures[f"{label}_{source}_mib_per_s"] = round(total / 2**20 / seconds, 1)
        installed = work / f"{label}-huggingface"
        seconds = seconds_to_resolve(installed, local_files_only=True)
        figures[f"{label}_size_check_ms"] = round(seconds * 1000, 2)
        seconds = seconds_to_resolve(installed, local_files_only=True, verify=True)
        figures[f"{label}_verify_s"] = round(seconds, 3)
        figures[f"{label}_verify_mib_per_s"] = round(total / 2**20 / seconds, 1)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256, help="size of the synthetic repository")
    parser.add_argument("--parity-dir", type=Path, default=REPO_ROOT.parent / "shared" / "reference" / "parity")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="download-bench-"))
    try:
        synthetic_repo(work / "repo", args.size_mib)
        figures = measure(work / "repo", work, "synthetic")
        if args.parity_dir.is_dir():
            figures.update(measure(args.parity_dir, work, "tiny"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
