"""Reading cosyvoice.yaml (HyperPyYAML) as data, without executing any tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from wyoming_cosyvoice.model.blocks import YAML_CLASS_KEY, ConfigError
from wyoming_cosyvoice.model.config import YAML_ARGS_KEY, read_hyperpyyaml, read_model_config


def test_reads_the_full_size_yaml(reference_dir: Path) -> None:
    config = read_model_config(reference_dir / "cosyvoice-300m.yaml")
    assert config.sample_rate == 22050
    llm = config.llm
    assert (llm.text_token_size, llm.speech_token_size, llm.eos_id) == (51866, 4096, 4096)
    assert (llm.text_encoder.output_size, llm.text_encoder.num_blocks, llm.text_encoder.attention_heads) == (1024, 6, 16)
    assert llm.text_encoder.causal and llm.text_encoder.activation == "silu"
    assert (llm.decoder.num_blocks, llm.decoder.input_layer, llm.decoder.activation) == (14, "linear_legacy", "relu")
    assert (llm.sampling.top_p, llm.sampling.top_k, llm.sampling.win_size, llm.sampling.tau_r) == (0.8, 25, 10, 0.1)


def test_reads_the_tiny_parity_yaml(parity_dir: Path) -> None:
    llm = read_model_config(parity_dir / "cosyvoice.yaml").llm
    assert (llm.text_encoder_input_size, llm.llm_input_size, llm.text_encoder.output_size) == (32, 64, 48)
    assert (llm.decoder.num_blocks, llm.decoder.attention_heads, llm.decoder.linear_units) == (3, 4, 128)


def test_tags_become_data_and_refs_resolve(reference_dir: Path) -> None:
    document = read_hyperpyyaml(reference_dir / "cosyvoice-300m.yaml")
    assert document["__set_seed1"] == {YAML_CLASS_KEY: "random.seed", YAML_ARGS_KEY: [1986]}
    assert document["llm"][YAML_CLASS_KEY] == "cosyvoice.llm.llm.TransformerLM"
    assert document["llm"]["llm_input_size"] == 1024
    assert document["hift"]["sampling_rate"] == 22050
    assert document["hifigan"]["generator"] == document["hift"]
    assert document["flow"]["decoder"]["cfm_params"]["content"]["sigma_min"] == 1e-06
    assert document["data_pipeline"][0] == document["parquet_opener"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cosyvoice.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_python_tags_are_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = write(tmp_path, f"x: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        read_hyperpyyaml(path)
    assert not marker.exists()


def test_nested_ref_subscript(tmp_path: Path) -> None:
    document = read_hyperpyyaml(write(tmp_path, "a: {b: {c: 3}}\nd: !ref <a[b][c]>\n"))
    assert document["d"] == 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: !ref <missing>\n", "undefined key 'missing'"),
        ("a: !ref <b>\nb: !ref <a>\n", "cycle"),
        ("a: 1\nb: !ref <a> * 2\n", "unsupported !ref expression"),
        ("a: [1, 2\n", "invalid YAML"),
        ("- just a list\n", "mapping at the top level"),
        ("sample_rate: 22050\n", "no 'llm' section"),
    ],
)
def test_bad_yaml_gives_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message.replace("*", r"\*")) as raised:
        read_model_config(path)
    assert str(path) in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_model_config(tmp_path / "cosyvoice.yaml")


def test_unsupported_network_setting_names_the_file(tmp_path: Path, parity_dir: Path) -> None:
    text = (parity_dir / "cosyvoice.yaml").read_text(encoding="utf-8").replace(
        "use_cnn_module: False", "use_cnn_module: True", 1
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="use_cnn_module=True") as raised:
        read_model_config(path)
    assert str(path) in str(raised.value)
