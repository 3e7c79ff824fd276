"""Reading a model folder's cosyvoice.yaml (HyperPyYAML) into plain hyper-parameters — nothing is executed.

HyperPyYAML tags are mapped to data: a `!new:` / `!name:` / `!apply:` (or any other `!…:`) node becomes a dict with
the named class under `YAML_CLASS_KEY` plus the node's own entries (a sequence node's items go under
`YAML_ARGS_KEY`); `!ref <key>` / `!copy <key>` become the referenced value (`<key[sub][…]>` reaches into nested
mappings). YAML-1.2 floats without a dot (`1e-06`) read as floats. Unknown keys are ignored by the consumers.
`read_model_config` then builds `ModelConfig` from the `llm`, `flow` and `hift` sections.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .blocks import YAML_CLASS_KEY, ConfigError
from .flow import FlowConfig
from .hift import HiFTConfig
from .llm import LLMConfig

YAML_ARGS_KEY = "__args__"

_REFERENCE = re.compile(r"^<([^<>\[\]]+)((?:\[[^\[\]]+\])*)>$")
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


@dataclass(frozen=True)
class ModelConfig:
    """The hyper-parameters of the three networks of one model folder."""

    sample_rate: int
    llm: LLMConfig
    flow: FlowConfig
    hift: HiFTConfig


def read_model_config(yaml_path: str | Path) -> ModelConfig:
    """Read cosyvoice.yaml; a missing file, bad YAML, missing section or unsupported setting → ConfigError."""
    path = Path(yaml_path)
    document = read_hyperpyyaml(path)
    try:
        return ModelConfig(
            sample_rate=int(document.get("sample_rate", 22050)),
            llm=LLMConfig.from_yaml(_section(document, "llm")),
            flow=FlowConfig.from_yaml(_section(document, "flow")),
            hift=HiFTConfig.from_yaml(_section(document, "hift")),
        )
    except (ConfigError, KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{path}: {_describe(error)}") from None


def read_hyperpyyaml(path: Path) -> dict[str, Any]:
    """The document as plain data with every `!ref` resolved."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        document = yaml.load(text, Loader=_TagLoader)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML ({error})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return _Resolver(document).resolve(document)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def _section(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = document.get(key)
    if not isinstance(section, Mapping):
        raise ConfigError(f"no {key!r} section")
    return section


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing key {error.args[0]!r}"
    return str(error)


class _Reference:
    """A `!ref` / `!copy` expression waiting for resolution."""

    def __init__(self, expression: str) -> None:
        self.expression = expression.strip()


class _TagLoader(yaml.SafeLoader):
    """SafeLoader that turns HyperPyYAML tags into data instead of objects."""


def _construct_tagged(loader: _TagLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix in ("ref", "copy"):
        return _Reference(str(loader.construct_scalar(node)))  # type: ignore[arg-type]
    target = suffix.split(":", 1)[1] if ":" in suffix else suffix
    if isinstance(node, yaml.MappingNode):
        return {YAML_CLASS_KEY: target, **loader.construct_mapping(node, deep=True)}
    if isinstance(node, yaml.SequenceNode):
        return {YAML_CLASS_KEY: target, YAML_ARGS_KEY: loader.construct_sequence(node, deep=True)}
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return {YAML_CLASS_KEY: target, YAML_ARGS_KEY: [value] if value != "" else []}


_TagLoader.add_multi_constructor("!", _construct_tagged)
_TagLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))


class _Resolver:
    """Replaces `_Reference`s by the values they name, detecting cycles."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.active: set[str] = set()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, _Reference):
            return self._follow(value.expression)
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def _follow(self, expression: str) -> Any:
        match = _REFERENCE.match(expression)
        if match is None:
            raise ConfigError(f"unsupported !ref expression {expression!r}")
        name, subscripts = match.group(1).strip(), re.findall(r"\[([^\[\]]+)\]", match.group(2))
        if name in self.active:
            raise ConfigError(f"!ref cycle through {name!r}")
        if name not in self.root:
            raise ConfigError(f"!ref to undefined key {name!r}")
        self.active.add(name)
        try:
            value = self.resolve(self.root[name])
        finally:
            self.active.discard(name)
        for key in subscripts:
            if not isinstance(value, dict) or key.strip() not in value:
                raise ConfigError(f"!ref {expression!r}: no key {key.strip()!r}")
            value = value[key.strip()]
        return value
