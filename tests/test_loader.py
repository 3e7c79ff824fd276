"""Loading model folders: the official layout, both weight-norm conventions, and one clear error per failure."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
import torch

from wyoming_cosyvoice.model.loader import ModelLoadError, load_model
from wyoming_cosyvoice.model.random_weights import SPEAKER_NAMES

MODEL_FILES = ("cosyvoice.yaml", "llm.pt", "flow.pt", "hift.pt", "spk2info.pt")


@pytest.fixture()
def folder(tmp_path: Path, parity_dir: Path) -> Path:
    """A model folder whose files link to the parity model; tests replace the files they break."""
    for name in MODEL_FILES:
        (tmp_path / name).symlink_to(parity_dir / name)
    return tmp_path


def replace_file(folder: Path, name: str, content: object) -> Path:
    path = folder / name
    path.unlink()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    return path


def state(parity_dir: Path, name: str) -> dict[str, torch.Tensor]:
    return dict(torch.load(parity_dir / name, weights_only=True))


def load_error(folder: Path) -> str:
    with pytest.raises(ModelLoadError) as raised:
        load_model(folder)
    return str(raised.value)


def test_loads_the_parity_folder(folder: Path, parity_dir: Path) -> None:
    model = load_model(folder)
    assert list(model.speakers) == list(SPEAKER_NAMES)
    for embedding in model.speakers.values():
        assert embedding.dtype == torch.float32 and embedding.shape == (1, 192)
    for network in (model.llm, model.flow, model.hift):
        tensors = [*network.parameters(), *network.buffers()]
        assert tensors and not any(t.is_meta or t.requires_grad for t in tensors)
        assert not network.training
    expected = state(parity_dir, "llm.pt")
    for key, tensor in model.llm.state_dict().items():
        assert torch.equal(tensor, expected[key]), key
    assert model.config.llm.text_encoder_input_size == 32


def test_missing_folder(tmp_path: Path) -> None:
    assert load_error(tmp_path / "nowhere") == f"{tmp_path / 'nowhere'}: model folder not found"


@pytest.mark.parametrize("name", MODEL_FILES)
def test_missing_file_is_named(folder: Path, name: str) -> None:
    (folder / name).unlink()
    message = load_error(folder)
    assert message.startswith(str(folder / name))
    assert "file not found" in message or "cannot read" in message


def test_truncated_checkpoint(folder: Path, parity_dir: Path) -> None:
    data = (parity_dir / "flow.pt").read_bytes()
    path = replace_file(folder, "flow.pt", data[: len(data) // 2])
    assert load_error(folder).startswith(f"{path}: cannot read (truncated, corrupted or not a plain PyTorch")


def test_file_that_is_not_a_checkpoint(folder: Path) -> None:
    path = replace_file(folder, "hift.pt", b"this is not a pickle\n")
    assert load_error(folder).startswith(f"{path}: cannot read")


def test_pickled_objects_are_refused(folder: Path, parity_dir: Path) -> None:
    content = state(parity_dir, "llm.pt")
    content["text_embedding.weight"] = PurePosixPath("/etc/passwd")  # type: ignore[assignment]
    path = replace_file(folder, "llm.pt", content)
    assert load_error(folder).startswith(f"{path}: cannot read")


def test_not_a_state_dict(folder: Path) -> None:
    path = replace_file(folder, "llm.pt", [torch.zeros(2)])
    assert load_error(folder) == f"{path}: expected a state dict (names → tensors), found list"
    path = replace_file(folder, "llm.pt", {"step": 3, "weight": torch.zeros(1)})
    assert load_error(folder) == f"{path}: entries that are not named tensors: step"


def test_wrong_shape_names_the_key(folder: Path, parity_dir: Path) -> None:
    content = state(parity_dir, "llm.pt")
    content["llm_decoder.weight"] = torch.zeros(4096, 64)
    path = replace_file(folder, "llm.pt", content)
    assert load_error(folder) == (
        f"{path}: does not match the model in cosyvoice.yaml: "
        "wrong shapes llm_decoder.weight (file [4096, 64], model [4097, 64])"
    )


def test_extra_and_missing_keys_are_named(folder: Path, parity_dir: Path) -> None:
    content = state(parity_dir, "llm.pt")
    del content["llm_decoder.bias"]
    content["extra.weight"] = torch.zeros(1)
    path = replace_file(folder, "llm.pt", content)
    assert load_error(folder) == (
        f"{path}: does not match the model in cosyvoice.yaml: missing keys llm_decoder.bias; unexpected keys extra.weight"
    )


def test_many_offending_keys_are_summarised(folder: Path, parity_dir: Path) -> None:
    content = {f"prefix.{key}": tensor for key, tensor in state(parity_dir, "flow.pt").items()}
    replace_file(folder, "flow.pt", content)
    message = load_error(folder)
    assert re.search(r"missing keys ([^,;]+, ){4}[^,;]+ \(and \d+ more\)", message)


def test_integer_weights_are_refused(folder: Path, parity_dir: Path) -> None:
    content = state(parity_dir, "llm.pt")
    content["llm_embedding.weight"] = content["llm_embedding.weight"].to(torch.int64)
    replace_file(folder, "llm.pt", content)
    assert load_error(folder).endswith("non-float tensors llm_embedding.weight")


def test_vocoder_saved_inside_a_gan_wrapper(folder: Path, parity_dir: Path) -> None:
    original = state(parity_dir, "hift.pt")
    replace_file(folder, "hift.pt", {f"generator.{key}": tensor for key, tensor in original.items()})
    loaded = load_model(folder).hift.state_dict()
    assert all(torch.equal(loaded[key], tensor) for key, tensor in original.items())


def test_both_weight_norm_conventions_load_the_same_vocoder(folder: Path, parity_dir: Path) -> None:
    current = load_model(folder).hift.state_dict()
    (folder / "hift.pt").unlink()
    (folder / "hift.pt").symlink_to(parity_dir / "hift_legacy_weight_norm.pt")
    legacy = load_model(folder).hift.state_dict()
    assert current.keys() == legacy.keys()
    assert all(torch.equal(current[key], legacy[key]) for key in current)


def test_speaker_table_extra_keys_are_ignored(folder: Path, parity_dir: Path) -> None:
    table = torch.load(parity_dir / "spk2info.pt", weights_only=True)
    for entry in table.values():
        entry["speech_token"] = torch.zeros(1, 5, dtype=torch.int32)
        entry["speech_feat"] = torch.zeros(1, 7, 80)
    replace_file(folder, "spk2info.pt", table)
    speakers = load_model(folder).speakers
    assert torch.equal(speakers["英文女"], table["英文女"]["embedding"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda table: table["日语男"].pop("embedding"), "speaker '日语男' has no 'embedding' tensor"),
        (lambda table: table.__setitem__("x", torch.zeros(1, 192)), "speaker 'x' has no 'embedding' tensor"),
        (
            lambda table: table["韩语女"].__setitem__("embedding", torch.zeros(1, 80)),
            "speaker '韩语女' embedding must hold 192 floats, got torch.float32 [1, 80]",
        ),
        (lambda table: table.clear(), "expected a non-empty mapping of speaker names"),
    ],
)
def test_speaker_table_problems(folder: Path, parity_dir: Path, change, message: str) -> None:
    table = torch.load(parity_dir / "spk2info.pt", weights_only=True)
    change(table)
    path = replace_file(folder, "spk2info.pt", table)
    assert load_error(folder).startswith(f"{path}: {message}")


def test_unsupported_yaml_setting(folder: Path, parity_dir: Path) -> None:
    text = (parity_dir / "cosyvoice.yaml").read_text(encoding="utf-8")
    path = replace_file(folder, "cosyvoice.yaml", text.replace("num_blocks: 3", "num_blocks: 4").encode())
    message = load_error(folder)
    assert message.startswith(f"{folder / 'llm.pt'}: does not match the model in cosyvoice.yaml: missing keys")
    assert "llm.encoders.3." in message
    path = replace_file(folder, "cosyvoice.yaml", text.replace("'rel_pos_espnet'", "'abs_pos'", 1).encode())
    assert load_error(folder).startswith(f"{path}: unsupported encoder setting pos_enc_layer_type='abs_pos'")
