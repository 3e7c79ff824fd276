"""The ModelScope mirror of the official release (`iic/CosyVoice-300M-SFT`), spoken to over its public HTTP API.

Owns: the mirror's endpoint (MODELSCOPE_DOMAIN overrides it, as in ModelScope's own client), the file-list call
that publishes sizes and SHA-256 digests, and per-file downloads through the resumable HTTP downloader. The
`modelscope` package is not needed: two HTTP calls are all a download takes.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .. import __version__
from .errors import DownloadError
from .http_download import DEFAULT_RETRY, INCOMPLETE_SUFFIX, RetryPolicy, download_resumable, incomplete_path
from .progress import DownloadProgress
from .remote import RemoteFile, RemoteModel

MODELSCOPE_REPO_ID = "iic/CosyVoice-300M-SFT"
# ModelScope serves branches and tags; no public record gives a tag for this model, so the default is its main
# branch and every file is checked against the SHA-256 the mirror publishes. Override with --model-revision.
MODELSCOPE_REVISION = "master"
DEFAULT_ENDPOINT = "https://www.modelscope.cn"
_USER_AGENT = f"wyoming-cosyvoice/{__version__}"


def modelscope_endpoint() -> str:
    """MODELSCOPE_DOMAIN if set (a bare host name gets https://), else the public site."""
    domain = (os.environ.get("MODELSCOPE_DOMAIN") or "").strip().rstrip("/")
    if not domain:
        return DEFAULT_ENDPOINT
    return domain if domain.startswith(("http://", "https://")) else f"https://{domain}"


class ModelScopeSource:
    """Lists and downloads files of one ModelScope model repository at one revision."""

    name = "modelscope"

    def __init__(
        self, revision: str | None = None, repo_id: str = MODELSCOPE_REPO_ID, retry: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        self.repo_id = repo_id
        self.revision = revision or MODELSCOPE_REVISION
        self.endpoint = modelscope_endpoint()
        self._retry = retry

    def describe(self) -> str:
        return f"ModelScope {self.repo_id} at revision {self.revision} via {self.endpoint}"

    def lookup(self, names: tuple[str, ...]) -> RemoteModel:
        listed = {entry.get("Path"): entry for entry in self._list_files() if entry.get("Type") != "tree"}
        missing = [name for name in names if name not in listed]
        if missing:
            raise DownloadError(f"{self.describe()}: the repository has no {', '.join(missing)}")
        files = tuple(_remote_file(name, listed[name]) for name in names)
        provenance = {"source": self.name, "repo": self.repo_id, "revision": self.revision}
        return RemoteModel(files, provenance)

    def partial_bytes(self, remote: RemoteFile, folder: Path) -> int:
        partial = incomplete_path(folder / remote.name)
        return min(partial.stat().st_size, remote.size) if partial.exists() else 0

    def fetch(self, remote: RemoteFile, folder: Path, progress: DownloadProgress) -> None:
        query = urllib.parse.urlencode({"Revision": self.revision, "FilePath": remote.name})
        url = f"{self.endpoint}/api/v1/models/{self.repo_id}/repo?{query}"
        download_resumable(
            url,
            folder / remote.name,
            size=remote.size,
            progress=progress,
            headers={"User-Agent": _USER_AGENT},
            retry=self._retry,
        )

    def clean(self, folder: Path) -> None:
        for leftover in folder.glob(f"*{INCOMPLETE_SUFFIX}"):
            leftover.unlink()

    def _list_files(self) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"Revision": self.revision, "Recursive": "True"})
        url = f"{self.endpoint}/api/v1/models/{self.repo_id}/repo/files?{query}"
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._retry.timeout) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as err:
            raise DownloadError(f"{self.describe()}: listing files answered HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError) as err:
            raise DownloadError(f"{self.describe()}: cannot reach the mirror ({err})") from None
        except json.JSONDecodeError:
            raise DownloadError(f"{self.describe()}: the file list is not JSON") from None
        if not isinstance(answer, dict) or answer.get("Code") != 200:
            message = answer.get("Message") if isinstance(answer, dict) else None
            raise DownloadError(f"{self.describe()}: listing files failed ({message or 'unexpected answer'})")
        files = (answer.get("Data") or {}).get("Files")
        if not isinstance(files, list):
            raise DownloadError(f"{self.describe()}: the file list has no files")
        return files


def _remote_file(name: str, entry: dict[str, Any]) -> RemoteFile:
    try:
        size = int(entry["Size"])
    except (KeyError, TypeError, ValueError):
        raise DownloadError(f"ModelScope published no size for {name}") from None
    sha256 = str(entry.get("Sha256") or "").lower() or None
    return RemoteFile(name=name, size=size, sha256=sha256)
