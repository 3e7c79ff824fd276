"""What a download source tells about the model before anything is downloaded, and what every source can do.

Owns: the description of a remote file (name, size, the digests the source publishes), checking a downloaded file
against it, and the `ModelSource` interface the installer drives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .manifest import Digests, FileProblem, file_digests
from .progress import DownloadProgress


@dataclass(frozen=True)
class RemoteFile:
    """One file as the source publishes it. `git_sha1` is the blob id the hub gives files kept outside LFS."""

    name: str
    size: int
    sha256: str | None = None
    git_sha1: str | None = None

    def check(self, path: Path) -> tuple[Digests, FileProblem | None]:
        """Hash the downloaded file once; the digests, and what is wrong with it if anything."""
        digests = file_digests(path, git_sha1=self.git_sha1 is not None)
        if digests.size != self.size:
            return digests, FileProblem(self.name, f"{digests.size:,} bytes, the source published {self.size:,}")
        if self.sha256 and digests.sha256 != self.sha256:
            return digests, FileProblem(self.name, f"SHA-256 {digests.sha256[:12]}…, published {self.sha256[:12]}…")
        if self.git_sha1 and digests.git_sha1 != self.git_sha1:
            return digests, FileProblem(self.name, f"git SHA-1 {digests.git_sha1}, published {self.git_sha1}")
        return digests, None


@dataclass(frozen=True)
class RemoteModel:
    """The files to fetch at one fixed revision, and where they come from (recorded in the manifest)."""

    files: tuple[RemoteFile, ...]
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


class ModelSource(Protocol):
    """A place the official model can be downloaded from."""

    name: str

    def describe(self) -> str:
        """Where from, for people: repository and revision."""
        ...

    def lookup(self, names: tuple[str, ...]) -> RemoteModel:
        """Sizes and digests of `names` at the requested revision (small requests, no file content)."""
        ...

    def partial_bytes(self, remote: RemoteFile, folder: Path) -> int:
        """Bytes of `remote` an interrupted earlier attempt left in `folder` that `fetch` will reuse."""
        ...

    def fetch(self, remote: RemoteFile, folder: Path, progress: DownloadProgress) -> None:
        """Download one file to `folder / remote.name`, resuming what an earlier attempt left if it can."""
        ...

    def clean(self, folder: Path) -> None:
        """Remove the source's own bookkeeping from `folder` before it is installed."""
        ...
