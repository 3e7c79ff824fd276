"""Loading a model folder — the official layout or our lite pack — into ready-to-run modules.

An official folder holds `cosyvoice.yaml`, `llm.pt`, `flow.pt`, `hift.pt` and `spk2info.pt` (other files are
ignored). A lite pack (written by `wyoming_cosyvoice.convert`; told apart by its manifest, see
`model_store.folders.is_lite_pack`) holds `config.yaml` (plain YAML, the model sections of cosyvoice.yaml with every
reference resolved), `llm.safetensors`, `flow.safetensors`, `hift.safetensors` (each network's state dict already in
its stage's precision, named in the file's metadata) and `speakers.json`. A pack is loaded by building the networks
on `meta`, applying the pack's precision plan (so int8 layers exist with the right tensor names) and assigning the
memory-mapped tensors: names, shapes and dtypes must match exactly, nothing is converted or copied.
Modules are built on the `meta` device and materialised by assigning the loaded tensors
(`load_state_dict(assign=True)`), so no second float32 copy of the weights ever exists; checkpoints are
memory-mapped when their format allows it. The only key rewrites are the reference's: `generator.` is removed from
vocoder keys, and weight-norm tensors are accepted under both names (`X.weight_g` / `X.weight_v` and
`X.parametrizations.weight.original0` / `original1`), renamed to whatever the module uses.
Every failure is one `ModelLoadError` naming the file and the first offending keys.

"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from ..model_store.folders import LITE_CONFIG_FILE, LITE_SPEAKERS_FILE, LITE_WEIGHT_FILES, is_lite_pack
from .blocks import ConfigError
from .config import ModelConfig, read_model_config
from .flow import FlowModel
from .hift import HiFTVocoder
from .llm import TransformerLM
from .precision import STAGE_CHOICES, PrecisionPlan, apply_precision

CONFIG_FILE = "cosyvoice.yaml"
CHECKPOINT_FILES = {"llm": "llm.pt", "flow": "flow.pt", "hift": "hift.pt"}
SPEAKERS_FILE = "spk2info.pt"
VOCODER_WRAPPER_PREFIX = "generator."
_WEIGHT_NORM_NAMES = (
    ("weight_g", "parametrizations.weight.original0"),
    ("weight_v", "parametrizations.weight.original1"),
)
_SHOWN_KEYS = 5  # offending keys named in an error message
PACK_PRECISION_KEY = "precision"  # safetensors metadata of a lite pack: the stage's precision
PACK_NETWORK_KEY = "network"  # … and which network the file holds

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
    precision: PrecisionPlan = field(default_factory=PrecisionPlan)  # what the networks compute in now


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
    """Load a model folder, official layout or lite pack; any problem → ModelLoadError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: model folder not found")
    if is_lite_pack(folder):
        return load_lite_pack(folder)
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
    state = {_expected_name(key, expected): tensor for key, tensor in source.tensors.items()}
    problems = _layout_problems(state, expected)
    not_float = [key for key in expected if key in state and not state[key].is_floating_point()]
    if not_float:
        problems.append(f"non-float tensors {_first(not_float)}")
    _raise_mismatch(source.origin, CONFIG_FILE, problems)
    return _assign(module, {key: tensor.to(expected[key].dtype) for key, tensor in state.items()}, source.origin)


def _layout_problems(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> list[str]:
    """Missing and unexpected names, and tensors whose shape differs from the module's."""
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} (file {list(state[key].shape)}, model {list(want.shape)})"
        for key, want in expected.items()
        if key in state and state[key].shape != want.shape
    ]
    named = (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", mismatched))
    return [f"{what} {_first(keys)}" for what, keys in named if keys]


def _raise_mismatch(origin: str, config_file: str, problems: list[str]) -> None:
    if problems:
        raise ModelLoadError(f"{origin}: does not match the model in {config_file}: " + "; ".join(problems))


def _assign(module: nn.Module, state: StateDict, origin: str) -> nn.Module:
    """Give a module built on `meta` its tensors (assigned, not copied); every tensor must then be real."""
    module.load_state_dict(state, strict=True, assign=True)
    leftovers = [name for name, tensor in (*module.named_parameters(), *module.named_buffers()) if tensor.is_meta]
    if leftovers:
        raise ModelLoadError(f"{origin}: internal error, tensors left unloaded: {_first(leftovers)}")
    return module.requires_grad_(False).eval()


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
        speakers[str(name)] = _checked_embedding(path, str(name), embedding, embedding_size)
    return speakers


def _checked_embedding(path: Path, name: str, embedding: torch.Tensor, embedding_size: int) -> torch.Tensor:
    """The embedding as float32 [1, embedding_size] (a copy of its own); any other size or kind → ModelLoadError."""
    if embedding.numel() != embedding_size or not embedding.is_floating_point():
        raise ModelLoadError(
            f"{path}: speaker {name!r} embedding must hold {embedding_size} floats, "
            f"got {embedding.dtype} {list(embedding.shape)}"
        )
    return embedding.detach().to(torch.float32).reshape(1, embedding_size).clone()


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


# -- lite pack ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PackedNetwork:
    """One network's file of a lite pack: its memory-mapped tensors and the precision they are stored in."""

    source: StateSource
    precision: str


def load_lite_pack(folder: Path) -> CosyVoiceModel:
    """Build the networks on `meta`, apply the pack's precision plan, then assign the memory-mapped tensors."""
    config = read_config(folder / LITE_CONFIG_FILE)
    speakers = read_speaker_table(folder / LITE_SPEAKERS_FILE, config.llm.spk_embed_dim)
    packed = {network: read_packed_network(folder / name, network) for network, name in LITE_WEIGHT_FILES.items()}
    plan = PrecisionPlan(**{network: file.precision for network, file in packed.items()})
    with torch.device("meta"):
        model = CosyVoiceModel(
            config, TransformerLM(config.llm), FlowModel(config.flow), HiFTVocoder(config.hift), speakers, plan
        )
    apply_precision(model, plan)
    for network, file in packed.items():
        module = getattr(model, network)
        expected = module.state_dict()
        problems = _layout_problems(file.source.tensors, expected)
        problems += _dtype_problems(file.source.tensors, expected)
        _raise_mismatch(file.source.origin, LITE_CONFIG_FILE, problems)
        _assign(module, dict(file.source.tensors), file.source.origin)
    return model


def _dtype_problems(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> list[str]:
    wrong = [
        f"{key} (file {state[key].dtype}, model {want.dtype})"
        for key, want in expected.items()
        if key in state and state[key].dtype != want.dtype
    ]
    return [f"wrong dtypes {_first(wrong)}"] if wrong else []


def read_packed_network(path: Path, network: str) -> PackedNetwork:
    """A lite pack's safetensors file, memory-mapped (no pickle, no copy), and the precision its metadata names."""
    if not path.is_file():
        raise ModelLoadError(f"{path}: file not found")
    try:
        with safe_open(path, framework="pt", device="cpu") as reader:
            metadata = reader.metadata() or {}
            tensors = {key: reader.get_tensor(key) for key in reader.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelLoadError(f"{path}: cannot read (truncated, corrupted or not a safetensors file): {reason}") from None
    if metadata.get(PACK_NETWORK_KEY) != network:
        raise ModelLoadError(f"{path}: holds network {metadata.get(PACK_NETWORK_KEY)!r}, expected {network!r}")
    precision, allowed = metadata.get(PACK_PRECISION_KEY), STAGE_CHOICES[network]
    if precision not in allowed:
        raise ModelLoadError(f"{path}: unknown precision {precision!r} (expected one of {', '.join(allowed)})")
    return PackedNetwork(StateSource(str(path), tensors), precision)


def read_speaker_table(path: Path, embedding_size: int) -> dict[str, torch.Tensor]:
    """speakers.json: {name: {"embedding": [embedding_size numbers]}} → {name: float32 [1, size]}."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: file not found") from None
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: cannot read ({error})") from None
    if not isinstance(content, dict) or not content:
        raise ModelLoadError(f"{path}: expected a non-empty mapping of speaker names to {{\"embedding\": [numbers]}}")
    speakers = {}
    for name, entry in content.items():
        values = entry.get("embedding") if isinstance(entry, dict) else None
        try:
            embedding = torch.tensor(values, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise ModelLoadError(f"{path}: speaker {name!r} has no list of numbers under 'embedding'") from None
        speakers[name] = _checked_embedding(path, name, embedding, embedding_size)
    return speakers
