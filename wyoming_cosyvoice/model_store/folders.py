"""What a model folder looks like on disk, and finding one inside the folders the user named.

Owns: the files the official release needs for inference, the name of the folder a download goes into, telling a
model folder from other folders (official release or lite pack), and checking one before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .manifest import FORMAT_LITE, FORMAT_OFFICIAL, MANIFEST_NAME, FileProblem, Manifest, ManifestError, read_manifest

MODEL_FOLDER_NAME = "CosyVoice-300M-SFT"
OFFICIAL_FILES = ("cosyvoice.yaml", "llm.pt", "flow.pt", "hift.pt", "spk2info.pt")
LITE_CONFIG_FILE = "config.yaml"
LITE_SPEAKERS_FILE = "speakers.json"
LITE_WEIGHT_FILES = {"llm": "llm.safetensors", "flow": "flow.safetensors", "hift": "hift.safetensors"}
LITE_FILES = (LITE_CONFIG_FILE, *LITE_WEIGHT_FILES.values(), LITE_SPEAKERS_FILE)
STAGING_SUFFIX = ".partial"


def staging_folder(target: Path) -> Path:
    """Where files for `target` are gathered before the install: hidden, beside it, never mistaken for a model."""
    return target.with_name(f".{target.name}{STAGING_SUFFIX}")


@dataclass(frozen=True)
class ModelFolder:
    """A folder that holds (or claims to hold) a model: its path and its manifest if it has one."""

    path: Path
    manifest: Manifest | None
    manifest_error: str | None = None

    @property
    def format(self) -> str:
        return self.manifest.format if self.manifest else FORMAT_OFFICIAL

    def problems(self, *, verify: bool) -> list[FileProblem]:
        """Why the folder cannot be used as it is: none means ready. `verify` re-hashes every file."""
        if self.manifest_error:
            return [FileProblem(MANIFEST_NAME, self.manifest_error)]
        if self.manifest is None:
            return _official_files_problems(self.path)
        problems = self.manifest.digest_problems(self.path) if verify else self.manifest.size_problems(self.path)
        required = LITE_FILES if self.manifest.format == FORMAT_LITE else OFFICIAL_FILES
        unlisted = [name for name in required if name not in self.manifest.files]
        return problems + [FileProblem(name, "not listed in the manifest") for name in unlisted]


def _official_files_problems(folder: Path) -> list[FileProblem]:
    problems = []
    for name in OFFICIAL_FILES:
        path = folder / name
        if not path.is_file():
            problems.append(FileProblem(name, "missing"))
        elif path.stat().st_size == 0:
            problems.append(FileProblem(name, "empty"))
    return problems


def open_model_folder(path: Path) -> ModelFolder | None:
    """The folder as a model folder, or None when it does not look like one (no manifest, no cosyvoice.yaml)."""
    if not path.is_dir():
        return None
    try:
        manifest = read_manifest(path)
    except ManifestError as err:
        return ModelFolder(path, None, manifest_error=str(err))
    if manifest is None and not (path / OFFICIAL_FILES[0]).exists():
        return None
    return ModelFolder(path, manifest)


def is_lite_pack(path: Path) -> bool:
    """True when `path` holds a lite pack: its manifest says so, or (no readable manifest) it has the pack's
    config file and not the official one."""
    try:
        manifest = read_manifest(path)
    except ManifestError:
        manifest = None
    if manifest is not None:
        return manifest.format == FORMAT_LITE
    return (path / LITE_CONFIG_FILE).is_file() and not (path / OFFICIAL_FILES[0]).exists()


def model_folders_in(data_dir: Path) -> list[ModelFolder]:
    """The model folders a `--data-dir` offers, best first.

    A data dir is either a model folder itself or a folder holding model folders; among those, lite packs come
    before official folders (the user converted on purpose), then by name. Hidden folders (our staging folders
    among them) are never models.
    """
    itself = open_model_folder(data_dir)
    if itself is not None:
        return [itself]
    if not data_dir.is_dir():
        return []
    children = sorted(child for child in data_dir.iterdir() if not child.name.startswith("."))
    found = [folder for child in children if (folder := open_model_folder(child)) is not None]
    return sorted(found, key=lambda folder: (folder.format != FORMAT_LITE, folder.path.name))
