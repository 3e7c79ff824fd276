"""Random-weight model folders in the official layout, for tests and benchmarks.

`write_random_model(folder, size, seed)` writes `llm.pt`, `flow.pt`, `hift.pt`, `spk2info.pt` (the seven SFT
speakers) and, last, `cosyvoice.yaml` — so an interrupted write leaves a folder that does not load. Sizes: "tiny"
(the parity model's hyper-parameters, real vocabularies) and "full" (CosyVoice-300M); their yaml files are
package data copied from the reference. Weights use the modules' own (upstream-like) initialisation, drawn
deterministically from the seed without touching the global RNG.

Command line: `python -m wyoming_cosyvoice.model.random_weights DIR [--size tiny|full] [--seed N]`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from .config import read_model_config
from .flow import FlowModel
from .hift import HiFTVocoder
from .llm import TransformerLM
from .loader import CHECKPOINT_FILES, CONFIG_FILE, SPEAKERS_FILE

DATA_DIR = Path(__file__).with_name("data")
SIZES = {"tiny": DATA_DIR / "cosyvoice-tiny.yaml", "full": DATA_DIR / "cosyvoice-300m.yaml"}
SPEAKER_NAMES = ("中文女", "中文男", "日语男", "粤语女", "英文女", "英文男", "韩语女")


def write_random_model(folder: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a complete random-weight model folder (created if needed; existing files are replaced)."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(SIZES)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).unlink(missing_ok=True)  # the folder loads again only once everything is written
    config = read_model_config(SIZES[size])
    builders = {
        "llm": lambda: TransformerLM(config.llm),
        "flow": lambda: FlowModel(config.flow),
        "hift": lambda: HiFTVocoder(config.hift),
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for network, build in builders.items():
            _save(build().state_dict(), folder / CHECKPOINT_FILES[network])
        speakers = {name: {"embedding": torch.randn(1, config.llm.spk_embed_dim)} for name in SPEAKER_NAMES}
    _save(speakers, folder / SPEAKERS_FILE)
    temporary = folder / f"{CONFIG_FILE}.partial"
    temporary.write_bytes(SIZES[size].read_bytes())
    os.replace(temporary, folder / CONFIG_FILE)
    return folder


def _save(content: object, path: Path) -> None:
    temporary = path.with_name(path.name + ".partial")
    torch.save(content, temporary)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a random-weight CosyVoice model folder.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    print(write_random_model(arguments.folder, arguments.size, arguments.seed))


if __name__ == "__main__":
    main()
