"""The official release on the Hugging Face hub, fetched with huggingface_hub.

Owns: the repository id and the revision we tested, reading sizes and digests from the hub's file metadata, and
downloading single files with huggingface_hub's local-folder mode (which honours HF_ENDPOINT, proxies, tokens,
retries and resumes a broken transfer). Only the files inference needs are fetched.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .. import __version__
from .disk import is_disk_full
from .errors import DownloadError
from .progress import DownloadProgress, hub_progress_bar_class
from .remote import RemoteFile, RemoteModel

# No usage telemetry from a home server; set before huggingface_hub reads it at import (a user's choice wins).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    HTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    XetDownloadError,
)

HF_REPO_ID = "FunAudioLLM/CosyVoice-300M-SFT"
# The commit we tested. Public record: the xorbitsai/inference model registry pins FunAudioLLM/CosyVoice-300M-SFT
# to this commit (xinference/model/audio/models/CosyVoice-300M-SFT.json). Override with --model-revision.
HF_PINNED_REVISION = "096a5cff8d497fabb3dec2756a200f3688457a1b"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_SHA1 = re.compile(r"[0-9a-f]{40}")
_USER_AGENT = {"library_name": "wyoming-cosyvoice", "library_version": __version__}
_HUB_ERRORS = (HTTPError, OSError, ValueError, XetDownloadError)


class HuggingFaceSource:
    """Downloads files of one hub repository at one revision into a local folder, without keeping a cache copy."""

    name = "huggingface"

    def __init__(self, revision: str | None = None, repo_id: str = HF_REPO_ID) -> None:
        self.repo_id = repo_id
        self.revision = revision or HF_PINNED_REVISION
        self.endpoint = (os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None
        self._commit: str | None = None
        # The model is downloaded once into its folder; a Xet chunk cache would be a second copy of it.
        os.environ.setdefault("HF_XET_CHUNK_CACHE_SIZE_BYTES", "0")

    def describe(self) -> str:
        where = f" via {self.endpoint}" if self.endpoint else ""
        return f"Hugging Face {self.repo_id} at revision {self.revision}{where}"

    def lookup(self, names: tuple[str, ...]) -> RemoteModel:
        files = tuple(self._lookup_file(name) for name in names)
        provenance = {"source": self.name, "repo": self.repo_id, "revision": self.revision}
        if self._commit:
            provenance["commit"] = self._commit
        return RemoteModel(files, provenance)

    def _lookup_file(self, name: str) -> RemoteFile:
        # After the first answer every file is asked for at that commit, so a branch that moves meanwhile
        # cannot mix two versions.
        revision = self._commit or self.revision
        url = hf_hub_url(self.repo_id, name, revision=revision, endpoint=self.endpoint)
        try:
            metadata = get_hf_file_metadata(url, retry_on_errors=True, **_USER_AGENT)
        except _HUB_ERRORS as err:
            raise self._explain(err, name) from None
        if metadata.size is None or metadata.etag is None:
            raise DownloadError(f"{self.describe()}: the hub did not publish the size and digest of {name}")
        self._commit = self._commit or metadata.commit_hash
        etag = metadata.etag.lower()
        return RemoteFile(
            name=name,
            size=metadata.size,
            sha256=etag if _SHA256.fullmatch(etag) else None,
            git_sha1=etag if _GIT_SHA1.fullmatch(etag) else None,
        )

    def partial_bytes(self, remote: RemoteFile, folder: Path) -> int:
        """huggingface_hub resumes a broken transfer within one run but starts a file afresh in the next."""
        return 0

    def fetch(self, remote: RemoteFile, folder: Path, progress: DownloadProgress) -> None:
        try:
            hf_hub_download(
                self.repo_id,
                remote.name,
                revision=self._commit or self.revision,
                local_dir=folder,
                endpoint=self.endpoint,
                tqdm_class=hub_progress_bar_class(progress),
                **_USER_AGENT,
            )
        except _HUB_ERRORS as err:
            if is_disk_full(err):
                raise
            raise self._explain(err, remote.name) from None

    def clean(self, folder: Path) -> None:
        """huggingface_hub keeps per-file metadata and temporary files under `.cache/huggingface` in the folder."""
        shutil.rmtree(folder / ".cache" / "huggingface", ignore_errors=True)
        try:
            (folder / ".cache").rmdir()
        except OSError:
            pass

    def _explain(self, err: BaseException, name: str) -> DownloadError:
        if isinstance(err, RepositoryNotFoundError):
            return DownloadError(f"{self.describe()}: the hub has no such repository (or it is private)")
        if isinstance(err, RevisionNotFoundError):
            return DownloadError(f"{self.describe()}: the repository has no such revision; check --model-revision")
        if isinstance(err, RemoteEntryNotFoundError):
            return DownloadError(f"{self.describe()}: the repository has no file {name}")
        return DownloadError(
            f"Downloading {name} from {self.describe()} failed: {err}. Check the network connection and proxy "
            "settings (HTTPS_PROXY), try --model-source modelscope, or put the files in place yourself "
            "and use --local-files-only."
        )
