"""The networks built from the full-size yaml have exactly the official tensor names and shapes (on `meta`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from wyoming_cosyvoice.model.config import read_model_config
from wyoming_cosyvoice.model.flow import FlowModel
from wyoming_cosyvoice.model.hift import HiFTVocoder
from wyoming_cosyvoice.model.llm import TransformerLM


def manifest(reference_dir: Path, name: str) -> dict[str, list[int]]:
    tensors = json.loads((reference_dir / name).read_text(encoding="utf-8"))["tensors"]
    return {key: entry["shape"] for key, entry in tensors.items()}


@pytest.mark.parametrize(
    "build, manifest_name",
    [
        (lambda config: TransformerLM(config.llm), "keys_llm.json"),
        (lambda config: FlowModel(config.flow), "keys_flow.json"),
        (lambda config: HiFTVocoder(config.hift), "keys_hift.json"),
    ],
)
def test_full_size_names_and_shapes(reference_dir: Path, build, manifest_name: str) -> None:
    config = read_model_config(reference_dir / "cosyvoice-300m.yaml")
    with torch.device("meta"):
        module: nn.Module = build(config)
    built = {key: list(tensor.shape) for key, tensor in module.state_dict().items()}
    expected = manifest(reference_dir, manifest_name)
    assert sorted(set(built) - set(expected))[:5] == [] and sorted(set(expected) - set(built))[:5] == []
    assert built == expected


def test_llm_state_dict_order_is_official(reference_dir: Path) -> None:
    config = read_model_config(reference_dir / "cosyvoice-300m.yaml")
    with torch.device("meta"):
        llm = TransformerLM(config.llm)
    assert list(llm.state_dict()) == list(manifest(reference_dir, "keys_llm.json"))
    assert sum(parameter.numel() for parameter in llm.parameters()) == 310_718_465
