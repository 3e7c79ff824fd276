"""Loading a model folder in the official layout into ready-to-run modules.

A folder holds `cosyvoice.yaml`, `llm.pt`, `flow.pt`, `hift.pt` and `spk2info.pt` (other files are ignored).
Modules are built on the `meta` device and materialised by assigning the loaded tensors
(`load_state_dict(assign=True)`), so no second float32 copy of the weights ever exists; checkpoints are
memory-mapped when their format allows it. The only key rewrites are the reference's: `generator.` is removed from
vocoder keys, and weight-norm tensors are accepted under both names (`X.weight_g` / `X.weight_v` and
`X.parametrizations.weight.original0` / `original1`), renamed to whatever the module uses.
Every failure is one `ModelLoadError` naming the file and the first offending keys.

Another source of state dicts (e.g. a safetensors pack) only needs a reader producing `NetworkStates` and a
speaker table, then `assemble_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .blocks import ConfigError
from .config import ModelConfig, read_model_config
from .flow import FlowModel
from .hift import HiFTVocoder
from .llm import TransformerLM

CONFIG_FILE = "cosyvoice.yaml"
CHECKPOINT_FILES = {"llm": "llm.pt", "flow": "flow.pt", "hift": "hift.pt"}
SPEAKERS_FILE = "spk2info.pt"
VOCODER_WRAPPER_PREFIX = "generator."
_WEIGHT_NORM_NAMES = (
    ("weight_g", "parametrizations.weight.original0"),
    ("weight_v", "parametrizations.weight.original1"),
)
_SHOWN_KEYS = 5  # offending keys named in an error message

StateDict = dict[str, torch.Tensor]


class ModelLoadError(Exception):
    """A model folder cannot be loaded; the message names the file and what is wrong with it."""


@dataclass
class CosyVoiceModel:
    """The three networks of CosyVoice-300M-SFT, their configuration and the built-in speakers."""

    config: ModelConfig
    llm: TransformerLM
    flow: FlowModel
    hift: HiFTVocoder
    speakers: dict[str, torch.Tensor]  # spk2info name → float32 [1, spk_embed_dim]


@dataclass(frozen=True)
class StateSource:
    """One network's tensors and where they came from (named in error messages)."""

    origin: str
    tensors: Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class NetworkStates:
    """The state dicts of the three networks, whatever format they were read from."""

    llm: StateSource
    flow: StateSource
    hift: StateSource


def load_model(folder: str | Path) -> CosyVoiceModel:
    """Load an official-layout model folder; any problem → ModelLoadError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: model folder not found")
    config = read_config(folder / CONFIG_FILE)
    speakers = read_speakers(folder / SPEAKERS_FILE, config.llm.spk_embed_dim)
    states = NetworkStates(
        llm=read_checkpoint(folder / CHECKPOINT_FILES["llm"]),
        flow=read_checkpoint(folder / CHECKPOINT_FILES["flow"]),
        hift=read_checkpoint(folder / CHECKPOINT_FILES["hift"]),
    )
    return assemble_model(config, states, speakers)


def read_config(path: Path) -> ModelConfig:
    try:
        return read_model_config(path)
    except ConfigError as error:
        raise ModelLoadError(str(error)) from None


def assemble_model(config: ModelConfig, states: NetworkStates, speakers: dict[str, torch.Tensor]) -> CosyVoiceModel:
    """Build the networks on `meta` and materialise them from `states` (strict names and shapes)."""
    hift_state = StateSource(
        states.hift.origin,
        {key.replace(VOCODER_WRAPPER_PREFIX, ""): tensor for key, tensor in states.hift.tensors.items()},
    )
    return CosyVoiceModel(
        config=config,
        llm=materialise(lambda: TransformerLM(config.llm), states.llm),
        flow=materialise(lambda: FlowModel(config.flow), states.flow),
        hift=materialise(lambda: HiFTVocoder(config.hift), hift_state),
        speakers=speakers,
    )


def materialise(build: Callable[[], nn.Module], source: StateSource) -> nn.Module:
    """Build a module on the meta device and give it the source's tensors (no copies where dtypes agree)."""
    with torch.device("meta"):
        module = build()
    expected = module.state_dict()
    state = _match_expected(source, expected)
    module.load_state_dict(state, strict=True, assign=True)
    leftovers = [name for name, tensor in (*module.named_parameters(), *module.named_buffers()) if tensor.is_meta]
    if leftovers:
        raise ModelLoadError(f"{source.origin}: internal error, tensors left unloaded: {_first(leftovers)}")
    return module.requires_grad_(False).eval()


def _match_expected(source: StateSource, expected: Mapping[str, torch.Tensor]) -> StateDict:
    """The source's tensors under the module's names, in its dtypes; mismatches → ModelLoadError."""
    state = {_expected_name(key, expected): tensor for key, tensor in source.tensors.items()}
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    problems = []
    if missing:
        problems.append(f"missing keys {_first(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_first(unexpected)}")
    mismatched = [
        f"{key} (file {list(state[key].shape)}, model {list(want.shape)})"
        for key, want in expected.items()
        if key in state and state[key].shape != want.shape
    ]
    if mismatched:
        problems.append(f"wrong shapes {_first(mismatched)}")
    not_float = [key for key in expected if key in state and not state[key].is_floating_point()]
    if not_float:
        problems.append(f"non-float tensors {_first(not_float)}")
    if problems:
        raise ModelLoadError(f"{source.origin}: does not match the model in {CONFIG_FILE}: " + "; ".join(problems))
    return {key: tensor.to(expected[key].dtype) for key, tensor in state.items()}


def _expected_name(key: str, expected: Mapping[str, Any]) -> str:
    """`key`, or its other weight-norm spelling when that is the one the module uses."""
    if key in expected:
        return key
    for legacy, current in _WEIGHT_NORM_NAMES:
        for old, new in ((legacy, current), (current, legacy)):
            if key.endswith("." + old) and (renamed := key[: -len(old)] + new) in expected:
                return renamed
    return key


def _first(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN_KEYS])
    return shown + (f" (and {len(items) - _SHOWN_KEYS} more)" if len(items) > _SHOWN_KEYS else "")


def read_checkpoint(path: Path) -> StateSource:
    """A state dict saved with torch.save: names → tensors, read with weights_only=True."""
    content = _torch_load(path)
    if not isinstance(content, Mapping):
        raise ModelLoadError(f"{path}: expected a state dict (names → tensors), found {type(content).__name__}")
    not_tensors = [str(key) for key, value in content.items() if not isinstance(key, str) or not torch.is_tensor(value)]
    if not_tensors:
        raise ModelLoadError(f"{path}: entries that are not named tensors: {_first(not_tensors)}")
    return StateSource(str(path), content)


def read_speakers(path: Path, embedding_size: int) -> dict[str, torch.Tensor]:
    """spk2info.pt: {name: {'embedding': tensor with embedding_size values, …}} → {name: float32 [1, size]}."""
    content = _torch_load(path)
    if not isinstance(content, Mapping) or not content:
        raise ModelLoadError(f"{path}: expected a non-empty mapping of speaker names to {{'embedding': tensor}}")
    speakers = {}
    for name, entry in content.items():
        embedding = entry.get("embedding") if isinstance(entry, Mapping) else None
        if not torch.is_tensor(embedding):
            raise ModelLoadError(f"{path}: speaker {name!r} has no 'embedding' tensor")
        if embedding.numel() != embedding_size or not embedding.is_floating_point():
            raise ModelLoadError(
                f"{path}: speaker {name!r} embedding must hold {embedding_size} floats, "
                f"got {embedding.dtype} {list(embedding.shape)}"
            )
        speakers[str(name)] = embedding.detach().to(torch.float32).reshape(1, embedding_size).clone()
    return speakers


def _torch_load(path: Path) -> Any:
    if not path.is_file():
        raise ModelLoadError(f"{path}: file not found")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except Exception as error:  # noqa: BLE001 - torch.load raises many kinds; all mean "unreadable"
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelLoadError(
            f"{path}: cannot read (truncated, corrupted or not a plain PyTorch tensor file): {reason}"
        ) from None
