"""The manifest written next to every model folder we install or convert: file names, sizes and SHA-256 digests.

Owns: the manifest file's name and JSON layout, the format marker that tells an official release folder from a
lite pack, hashing files, and comparing a folder against its manifest (sizes: cheap; digests: `verify`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "cosyvoice-manifest.json"
MANIFEST_VERSION = 1
FORMAT_OFFICIAL = "official"
FORMAT_LITE = "lite"
FORMATS = (FORMAT_OFFICIAL, FORMAT_LITE)

_CHUNK = 8 * 1024 * 1024


class ManifestError(ValueError):
    """The manifest file exists but cannot be read or does not follow the layout."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a model folder as the manifest records it."""

    size: int
    sha256: str


@dataclass(frozen=True)
class FileProblem:
    """Why one file of a model folder cannot be trusted."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True)
class Digests:
    """What hashing a file once yields: its size, SHA-256 and (when asked) its git blob SHA-1."""

    size: int
    sha256: str
    git_sha1: str | None = None

    def entry(self) -> FileEntry:
        """What the manifest records of these digests."""
        return FileEntry(size=self.size, sha256=self.sha256)


@dataclass(frozen=True)
class Manifest:
    """A model folder's format marker, provenance and file table."""

    format: str
    files: dict[str, FileEntry]
    source: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "format_version": MANIFEST_VERSION,
            "source": dict(self.source),
            "files": {name: {"size": e.size, "sha256": e.sha256} for name, e in sorted(self.files.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise ManifestError("not a JSON object")
        if data.get("format") not in FORMATS:
            raise ManifestError(f"unknown format {data.get('format')!r} (expected one of {', '.join(FORMATS)})")
        if data.get("format_version") != MANIFEST_VERSION:
            raise ManifestError(f"unsupported format_version {data.get('format_version')!r}")
        files = data.get("files")
        if not isinstance(files, dict) or not files:
            raise ManifestError("no file table")
        entries = {}
        for name, entry in files.items():
            _check_file_name(name)
            try:
                entries[name] = FileEntry(size=int(entry["size"]), sha256=str(entry["sha256"]).lower())
            except (TypeError, KeyError, ValueError):
                raise ManifestError(f"bad entry for {name!r}") from None
        source = data.get("source") or {}
        return cls(format=data["format"], files=entries, source={str(k): str(v) for k, v in source.items()})

    def size_problems(self, folder: Path) -> list[FileProblem]:
        """Files that are missing or have another size than recorded (reads no file content)."""
        problems = []
        for name, entry in sorted(self.files.items()):
            path = folder / name
            if not path.is_file():
                problems.append(FileProblem(name, "missing"))
            elif (size := path.stat().st_size) != entry.size:
                problems.append(FileProblem(name, f"{size:,} bytes, the manifest says {entry.size:,}"))
        return problems

    def digest_problems(self, folder: Path) -> list[FileProblem]:
        """Like `size_problems`, then re-hashes every file of the right size."""
        problems = self.size_problems(folder)
        broken = {p.name for p in problems}
        for name, entry in sorted(self.files.items()):
            if name in broken:
                continue
            actual = file_digests(folder / name).sha256
            if actual != entry.sha256:
                problems.append(FileProblem(name, f"SHA-256 {actual[:12]}…, the manifest says {entry.sha256[:12]}…"))
        return problems


def _check_file_name(name: str) -> None:
    """Manifest entries name files inside the folder: no absolute paths, no `..`."""
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:
        raise ManifestError(f"file name {name!r} points outside the model folder")


def file_digests(path: Path, *, git_sha1: bool = False) -> Digests:
    """Hash a file in one pass; `git_sha1` adds the blob id git (and the Hugging Face hub) gives small files."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(f"blob {size}\0".encode()) if git_sha1 else None
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha256.update(chunk)
            if sha1 is not None:
                sha1.update(chunk)
    return Digests(size=size, sha256=sha256.hexdigest(), git_sha1=sha1.hexdigest() if sha1 else None)


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, or None when it has none. Raises ManifestError when it is unreadable."""
    path = folder / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ManifestError(f"cannot read {path}: {err.strerror}") from None
    try:
        return Manifest.from_json(json.loads(text))
    except json.JSONDecodeError as err:
        raise ManifestError(f"{path} is not valid JSON ({err.msg} at line {err.lineno})") from None
    except ManifestError as err:
        raise ManifestError(f"{path}: {err}") from None


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    """Write the manifest atomically (a reader sees the old file or the whole new one, never half)."""
    path = folder / MANIFEST_NAME
    scratch = folder / f".{MANIFEST_NAME}.tmp"
    with scratch.open("w", encoding="utf-8") as stream:
        json.dump(manifest.to_json(), stream, indent=1, ensure_ascii=False)
        stream.write("\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(scratch, path)
    return path
