"""Print the Python requirements of the Home Assistant components the tests load, one per line.

The test harness never installs requirements itself, so script/test-ha installs these into .venv-ha. Read
from the manifests of the installed Home Assistant (and ours), following dependencies, so the list follows
whatever Home Assistant version the harness brings.
"""

from __future__ import annotations

import json
from pathlib import Path

import homeassistant.components

OUR_MANIFEST = Path(__file__).resolve().parents[1] / "custom_components" / "cosyvoice" / "manifest.json"
COMPONENTS_DIR = Path(homeassistant.components.__path__[0])
LOADED_BY_TESTS = ("tts", "wyoming", "media_source", "media_player", "zeroconf", "diagnostics", "homeassistant")


def _manifest(component: str) -> dict:
    return json.loads((COMPONENTS_DIR / component / "manifest.json").read_text(encoding="utf-8"))


def requirements() -> list[str]:
    ours = json.loads(OUR_MANIFEST.read_text(encoding="utf-8"))
    found, seen = set(ours.get("requirements", [])), set()
    pending = [*LOADED_BY_TESTS, *ours.get("dependencies", [])]
    while pending:
        component = pending.pop()
        if component in seen:
            continue
        seen.add(component)
        manifest = _manifest(component)
        found.update(manifest.get("requirements", []))
        pending += manifest.get("dependencies", []) + manifest.get("after_dependencies", [])
    return sorted(found)


if __name__ == "__main__":
    print("\n".join(requirements()))
