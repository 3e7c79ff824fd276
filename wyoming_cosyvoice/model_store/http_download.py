"""A small resumable HTTP download (standard library only) for sources without a client library of their own.

Owns: fetching one URL into a file through a `.incomplete` neighbour that survives restarts, continuing with
`Range` requests after a broken connection or a restart, retrying transient failures with backoff, and honouring
the usual proxy variables (urllib reads HTTP(S)_PROXY / NO_PROXY).
"""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import DownloadError
from .progress import DownloadProgress

_LOGGER = logging.getLogger(__name__)

INCOMPLETE_SUFFIX = ".incomplete"
_CHUNK = 1024 * 1024
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


class _TransientError(Exception):
    """A failure worth another attempt (connection cut, timeout, 5xx, short body)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often to retry without progress, and how long to wait between attempts (doubling)."""

    attempts: int = 6
    first_delay: float = 0.5
    max_delay: float = 15.0
    timeout: float = 30.0


DEFAULT_RETRY = RetryPolicy()


def incomplete_path(destination: Path) -> Path:
    return destination.with_name(destination.name + INCOMPLETE_SUFFIX)


def download_resumable(
    url: str,
    destination: Path,
    *,
    size: int,
    progress: DownloadProgress,
    headers: dict[str, str] | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> None:
    """Fetch `url` (`size` bytes) to `destination`; bytes already in its `.incomplete` file are not fetched again."""
    partial = incomplete_path(destination)
    failures = 0
    delay = retry.first_delay
    while True:
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            progress.advance(-have)
            continue
        if have == size:
            break
        try:
            _fetch_range(url, partial, have, size, headers or {}, progress, retry.timeout)
        except _TransientError as err:
            gained = (partial.stat().st_size if partial.exists() else 0) - have
            failures = 1 if gained > 0 else failures + 1
            if failures > retry.attempts:
                raise DownloadError(f"Downloading {destination.name} failed {failures} times in a row: {err}") from None
            _LOGGER.warning("Download of %s interrupted (%s); resuming in %.1f s", destination.name, err, delay)
            time.sleep(delay)
            delay = retry.first_delay if gained > 0 else min(delay * 2, retry.max_delay)
    os.replace(partial, destination)


def _fetch_range(
    url: str,
    partial: Path,
    start: int,
    size: int,
    headers: dict[str, str],
    progress: DownloadProgress,
    timeout: float,
) -> None:
    request = urllib.request.Request(url, headers={**headers, "Accept-Encoding": "identity"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            offset = _start_offset(response, start)
            if offset != start:
                progress.advance(offset - start)
            _copy_body(response, partial, offset, size, progress)
    except urllib.error.HTTPError as err:
        if err.code in _RETRY_STATUSES:
            raise _TransientError(f"HTTP {err.code} {err.reason}") from None
        raise DownloadError(f"{url} answered HTTP {err.code} {err.reason}") from None
    except _NETWORK_ERRORS as err:
        raise _TransientError(str(err) or type(err).__name__) from None


def _start_offset(response: http.client.HTTPResponse, requested: int) -> int:
    """Where the body starts: `requested` for a 206 answer, 0 when the server ignored the Range header."""
    if response.status != 206:
        return 0
    content_range = response.headers.get("Content-Range", "")
    try:
        first = int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        raise DownloadError(f"unreadable Content-Range {content_range!r} in a partial answer") from None
    if first != requested:
        raise DownloadError(f"asked for bytes from {requested}, the server sent them from {first}")
    return first


def _copy_body(
    response: http.client.HTTPResponse, partial: Path, offset: int, size: int, progress: DownloadProgress
) -> None:
    with partial.open("r+b" if offset else "wb") as stream:
        stream.seek(offset)
        stream.truncate()
        written = offset
        while chunk := response.read(_CHUNK):
            if written + len(chunk) > size:
                raise DownloadError(f"the server sent more than the published {size:,} bytes")
            stream.write(chunk)
            written += len(chunk)
            progress.advance(len(chunk))
    if written < size:
        raise _TransientError(f"connection closed after {written:,} of {size:,} bytes")
