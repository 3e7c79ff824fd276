"""Turning an official model folder into a lite pack: `wyoming-cosyvoice convert SRC DEST` (or
`python -m wyoming_cosyvoice.convert`).

Owns: checking the source (a complete official folder), choosing the precision of each stage, writing the pack's
files, the manifest (written last) and the atomic install: everything is written into a hidden staging folder
beside DEST (`model_store.folders.staging_folder`) and appears under DEST in one rename, so an interrupted
conversion never leaves a folder that looks complete. An existing DEST is replaced only with `--force`.

The pack (read by `model.loader.load_lite_pack`):
- `llm.safetensors`, `flow.safetensors`, `hift.safetensors`: each network's state dict after the precision plan
  was applied (int8 weights with their scales, bf16 or float32 tensors), metadata `network` and `precision`;
  memory-mapped when loaded, no pickle;
- `config.yaml`: the model sections of cosyvoice.yaml (`sample_rate`, `llm`, `flow`, `hift`) as plain YAML with
  every `!ref` resolved and every class tag turned into data — any YAML reader reads it, ours gives the same
  hyper-parameters as from the original (the tokenizer, feature and training sections are left out: nothing reads
  them);
- `speakers.json`: `{name: {"embedding": [192 numbers]}}`, the float32 values exactly;
- `cosyvoice-manifest.json`: format `lite`, sizes and SHA-256 of the files above, provenance (the source's manifest
  entries, the source folder, the precision plan).
"""

from __future__ import annotations

# isort: off
from . import openmp  # noqa: F401  (OpenMP's waiting policy, set before torch is imported)

# isort: on
import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from safetensors import SafetensorError
from safetensors.torch import save_file

from .model.config import read_hyperpyyaml
from .model.loader import PACK_NETWORK_KEY, PACK_PRECISION_KEY, ModelLoadError, load_model
from .model.precision import PRECISION_CHOICES, apply_precision, resolve_precision
from .model_store.disk import ensure_free_space, is_disk_full
from .model_store.errors import ModelNotFoundError
from .model_store.folders import (
    LITE_CONFIG_FILE,
    LITE_FILES,
    LITE_SPEAKERS_FILE,
    LITE_WEIGHT_FILES,
    OFFICIAL_FILES,
    open_model_folder,
    staging_folder,
)
from .model_store.install import folder_lock, fsync_path, publish_folder
from .model_store.manifest import FORMAT_LITE, FORMAT_OFFICIAL, Manifest, file_digests, write_manifest
from .model_store.progress import format_bytes

_LOGGER = logging.getLogger(__name__)

CONFIG_SECTIONS = ("sample_rate", "llm", "flow", "hift")
RETIRED_SUFFIX = ".replaced"


class ConvertError(Exception):
    """The conversion cannot be done; the message says why and what to do."""


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated values in full instead of as YAML anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def convert(source: Path, destination: Path, precision: str = "auto", force: bool = False) -> Manifest:
    """Write the lite pack of the official folder `source` into `destination`; returns the pack's manifest."""
    source, destination = Path(source), Path(destination)
    source_manifest = _check_source(source)
    _check_destination(source, destination, force)
    plan = resolve_precision(precision)
    try:
        model = load_model(source)
    except ModelLoadError as error:
        raise ConvertError(f"Cannot load the source model: {error}") from None
    apply_precision(model, plan)
    states = {network: _plain_state(getattr(model, network)) for network in LITE_WEIGHT_FILES}
    destination.parent.mkdir(parents=True, exist_ok=True)
    ensure_free_space(destination.parent, sum(t.nbytes for state in states.values() for t in state.values()))
    provenance = {
        **(source_manifest.source if source_manifest else {}),
        "converted_from": str(source.resolve()),
        "precision": plan.describe(),
    }
    with folder_lock(destination.parent):
        staging = _fresh_staging(destination)
        try:
            _write_config(source / OFFICIAL_FILES[0], staging / LITE_CONFIG_FILE)
            _write_speakers(model.speakers, staging / LITE_SPEAKERS_FILE)
            for network, state in states.items():
                _write_network(state, network, getattr(plan, network), staging / LITE_WEIGHT_FILES[network])
            manifest = _manifest_of(staging, provenance)
            write_manifest(staging, manifest)
            _replace(staging, destination)
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, OSError) and is_disk_full(error):
                raise ConvertError(f"The disk holding {destination.parent} is full; free some space") from None
            raise
    return manifest


def _check_source(source: Path) -> Manifest | None:
    """The source's manifest (None without one); ConvertError unless it is a complete official folder."""
    expected = f"an official CosyVoice-300M-SFT folder with {', '.join(OFFICIAL_FILES)}"
    folder = open_model_folder(source)
    if folder is None:
        state = "is not a model folder" if source.is_dir() else "does not exist"
        raise ConvertError(f"{source} {state}; convert needs {expected}")
    if folder.format != FORMAT_OFFICIAL:
        raise ConvertError(f"{source} is already a {folder.format} pack; convert needs {expected}")
    problems = folder.problems(verify=False)
    if problems:
        raise ConvertError(f"{source} is incomplete ({'; '.join(map(str, problems))}); convert needs {expected}")
    return folder.manifest


def _check_destination(source: Path, destination: Path, force: bool) -> None:
    resolved = destination.resolve()
    if resolved == source.resolve() or source.resolve() in resolved.parents:
        raise ConvertError(f"{destination} is inside the source folder; choose a folder beside it")
    if destination.exists() and not force:
        raise ConvertError(f"{destination} already exists; pass --force to replace it")
    if destination.exists() and not destination.is_dir():
        raise ConvertError(f"{destination} exists and is not a folder")


def _plain_state(module: Any) -> dict[str, Any]:
    """The module's tensors as safetensors needs them: contiguous, each with storage of its own."""
    return {name: tensor.detach().contiguous() for name, tensor in module.state_dict().items()}


def _fresh_staging(destination: Path) -> Path:
    """An empty staging folder; whatever an interrupted conversion left there is thrown away."""
    staging = staging_folder(destination)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _write_config(official_yaml: Path, path: Path) -> None:
    document = read_hyperpyyaml(official_yaml)
    sections = {key: document[key] for key in CONFIG_SECTIONS if key in document}
    header = f"# The model sections of {official_yaml.name}, references resolved (written by wyoming-cosyvoice).\n"
    text = yaml.dump(sections, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True)
    _write_durably(path, (header + text).encode("utf-8"))


def _write_speakers(speakers: dict[str, Any], path: Path) -> None:
    table = {name: {"embedding": embedding.flatten().tolist()} for name, embedding in speakers.items()}
    _write_durably(path, (json.dumps(table, ensure_ascii=False) + "\n").encode("utf-8"))


def _write_network(state: dict[str, Any], network: str, precision: str, path: Path) -> None:
    try:
        save_file(state, path, metadata={PACK_NETWORK_KEY: network, PACK_PRECISION_KEY: precision})
    except SafetensorError as error:
        raise ConvertError(f"Cannot write {path}: {error}") from None
    os.chmod(path, _default_file_mode())  # safetensors creates files readable by their owner only
    fsync_path(path)


def _default_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _manifest_of(staging: Path, provenance: dict[str, str]) -> Manifest:
    entries = {name: file_digests(staging / name).entry() for name in LITE_FILES}
    return Manifest(FORMAT_LITE, entries, source=provenance)


def _replace(staging: Path, destination: Path) -> None:
    """Put the staged pack under `destination`; an existing folder there (allowed by --force) is removed after."""
    if not destination.exists():
        publish_folder(staging, destination)
        return
    retired = destination.with_name(f".{destination.name}{RETIRED_SUFFIX}")
    shutil.rmtree(retired, ignore_errors=True)
    os.rename(destination, retired)
    publish_folder(staging, destination)
    shutil.rmtree(retired)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-cosyvoice convert",
        description="Convert an official CosyVoice-300M-SFT folder into a lite pack (safetensors weights in the "
        "chosen precision, plain YAML/JSON config and speakers, manifest) that loads faster and with less memory.",
    )
    parser.add_argument("source", type=Path, help=f"official model folder ({', '.join(OFFICIAL_FILES)})")
    parser.add_argument("destination", type=Path, help="folder to write the lite pack into (created)")
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="weights precision per stage, stored converted (default: auto, what this machine's CPU runs best)",
    )
    parser.add_argument("--force", action="store_true", help="replace the destination if it exists")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s: %(message)s")
    started = time.perf_counter()
    try:
        manifest = convert(args.source, args.destination, args.precision, args.force)
    except (ConvertError, ModelNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing was written under the destination", file=sys.stderr)
        return 130
    size = sum(entry.size for entry in manifest.files.values())
    _LOGGER.info(
        "Lite pack (%s, %s) written in %.1f s",
        manifest.source["precision"],
        format_bytes(size),
        time.perf_counter() - started,
    )
    print(args.destination)
    return 0


if __name__ == "__main__":
    sys.exit(main())
