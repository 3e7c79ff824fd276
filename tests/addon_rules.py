"""The Home Assistant Supervisor's rules for an add-on repository, restated for the add-on tests.

Owns: reading the add-on files at the repository root, and our own statement of the rules the Supervisor
(home-assistant/supervisor: store/data.py, apps/validate.py, apps/options.py, validate.py) applies when it
scans a repository, reads config.yaml / build.yaml / translations and validates option values.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
SUPPORTED_ARCHES = {"amd64", "aarch64"}
SLUG = re.compile(r"[-_.A-Za-z0-9]+")
PORT_KEY = re.compile(r"\d+(?:/tcp|/udp)?")
MAP_STRING = re.compile(
    r"(?P<type>data|config|ssl|local_apps|addons|backup|share|media|homeassistant_config|all_app_configs"
    r"|all_addon_configs|app_config|addon_config)(?::(?P<mode>rw|ro))?"
)
LEGACY_MAP_TYPES = {"config", "addons", "addon_config", "all_addon_configs"}
IMAGE_FOR_BUILD = re.compile(r"([a-zA-Z\-.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)(:[.\-\w{}]+)?")
OPTION_TYPE = re.compile(
    r"(?P<type>bool|email|url|port|device|str|password|int|float|match|list)(?:\((?P<args>.*)\))?(?P<optional>\?)?"
)


def load_yaml(name: str) -> Any:
    return yaml.safe_load((REPO_ROOT / name).read_text(encoding="utf-8"))


def repository_files() -> list[PurePosixPath]:
    """Files a clone of the repository holds: tracked ones plus new ones not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [PurePosixPath(name) for name in listed if (REPO_ROOT / name).exists()]


def addon_config_files(files: list[PurePosixPath]) -> list[PurePosixPath]:
    """What the Supervisor takes for add-ons: config.{yaml,yml,json} anywhere, except under hidden folders or
    a folder named rootfs."""
    return [
        path
        for path in files
        if path.stem == "config"
        and path.suffix in CONFIG_SUFFIXES
        and not any(part.startswith(".") or part == "rootfs" for part in path.parts)
    ]


def named_config_files(files: list[PurePosixPath], stem: str) -> list[PurePosixPath]:
    """The Supervisor finds repository.* and build.* by a recursive search and takes the first hit."""
    return [path for path in files if path.stem == stem and path.suffix in CONFIG_SUFFIXES]


@dataclass(frozen=True)
class OptionType:
    """One schema element such as `int(1,64)?` or `list(a|b)`, parsed."""

    kind: str
    args: str | None
    optional: bool

    @classmethod
    def parse(cls, text: str) -> OptionType:
        match = OPTION_TYPE.fullmatch(text)
        if match is None:
            raise ValueError(f"not a Supervisor option type: {text!r}")
        return cls(match["type"], match["args"], bool(match["optional"]))

    def bounds(self) -> tuple[float | None, float | None]:
        if self.args is None:
            return None, None
        low, _, high = self.args.partition(",")
        return (float(low) if low else None), (float(high) if high else None)

    def choices(self) -> list[str]:
        return (self.args or "").split("|")

    def problem_with(self, value: Any) -> str | None:
        """Why the Supervisor would refuse `value` for this type (None when it accepts it)."""
        if self.kind == "bool":
            return None if isinstance(value, bool) else "not a boolean"
        if self.kind == "list":
            return None if str(value) in self.choices() else f"not one of {self.choices()}"
        if self.kind == "match":
            return None if re.match(self.args or "", str(value)) else f"does not match {self.args}"
        if self.kind in ("int", "float", "port"):
            return self._number_problem(value)
        if self.kind in ("str", "password", "email", "url", "device"):
            return self._text_problem(value)
        return f"unknown type {self.kind}"

    def _number_problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "not a number"
        if self.kind in ("int", "port") and not float(value).is_integer():
            return "not an integer"
        low, high = (1, 65535) if self.kind == "port" else self.bounds()
        if (low is not None and value < low) or (high is not None and value > high):
            return f"outside [{low}, {high}]"
        return None

    def _text_problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return "not a string"
        low, high = self.bounds() if self.kind in ("str", "password") else (None, None)
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            return f"length outside [{low}, {high}]"
        return None
