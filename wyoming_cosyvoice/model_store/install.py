"""Installing the official model atomically: nothing appears under the model's name until it is whole and verified.

Owns: the lock that keeps two processes from installing into one folder, the hidden staging folder beside the
target (where an interrupted download waits for the next run), the free-space check, fetching what is missing,
checking every file against the digests the source published (a bad file is fetched once more), writing the
manifest and the final rename.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .disk import DEFAULT_RESERVE_BYTES, disk_full_error, ensure_free_space, is_disk_full
from .errors import DownloadError
from .folders import OFFICIAL_FILES, staging_folder
from .manifest import FORMAT_OFFICIAL, MANIFEST_NAME, Digests, FileProblem, Manifest, write_manifest
from .progress import DownloadProgress, format_bytes, format_duration
from .remote import ModelSource, RemoteFile, RemoteModel

_LOGGER = logging.getLogger(__name__)

_FETCH_ROUNDS = 2


class Installer:
    """Brings the official model into `target` from one source, through a staging folder and a single rename.

    An existing `target` (broken, or of another revision) is moved into the staging folder first, so files that
    are still right are checked and kept instead of downloaded again.
    """

    def __init__(
        self,
        target: Path,
        source: ModelSource,
        progress: DownloadProgress,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
    ) -> None:
        self.target = target
        self.source = source
        self.progress = progress
        self.reserve_bytes = reserve_bytes

    def install(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.target.parent):
            remote = self.source.lookup(OFFICIAL_FILES)
            staging = self._prepare_staging()
            try:
                digests = self._fetch_and_check(staging, remote)
            except BaseException:
                _remove_if_empty(staging)
                raise
            self._move_into_place(staging, remote, digests)
        _LOGGER.info("Model installed in %s", self.target)
        return self.target

    def _prepare_staging(self) -> Path:
        staging = staging_folder(self.target)
        if self.target.exists():
            _merge_into(self.target, staging)
        staging.mkdir(exist_ok=True)
        (staging / MANIFEST_NAME).unlink(missing_ok=True)
        return staging

    def _fetch_and_check(self, staging: Path, remote: RemoteModel) -> dict[str, Digests]:
        """Fetch what is missing, check everything; a file that fails its check is fetched once more."""
        self._fetch_missing(staging, remote)
        for round_number in range(1, _FETCH_ROUNDS + 1):
            digests, problems = self._check(staging, remote)
            if not problems:
                return digests
            if round_number == _FETCH_ROUNDS:
                break
            _LOGGER.warning(
                "Downloaded files do not match what %s published (%s); fetching them again",
                self.source.describe(),
                "; ".join(map(str, problems)),
            )
            for problem in problems:
                (staging / problem.name).unlink(missing_ok=True)
            self._fetch_missing(staging, remote)
        raise DownloadError(
            f"{self.source.describe()} served files that do not match its own published digests twice "
            f"({'; '.join(map(str, problems))}). Try again later or use the other --model-source."
        )

    def _fetch_missing(self, staging: Path, remote: RemoteModel) -> None:
        todo: list[RemoteFile] = []
        present = 0
        for file in remote.files:
            path = staging / file.name
            if path.is_file() and path.stat().st_size == file.size:
                present += file.size
                continue
            path.unlink(missing_ok=True)
            todo.append(file)
        if not todo:
            return
        partial = sum(self.source.partial_bytes(file, staging) for file in todo)
        remaining = sum(file.size for file in todo) - partial
        free = ensure_free_space(self.target.parent, remaining, self.reserve_bytes)
        _LOGGER.info(
            "Downloading %s (%s) from %s into %s; %s free",
            ", ".join(file.name for file in todo),
            format_bytes(remaining),
            self.source.describe(),
            self.target.parent,
            format_bytes(free),
        )
        self.progress.start(remote.total_size, present + partial)
        for index, file in enumerate(todo):
            try:
                self.source.fetch(file, staging, self.progress)
            except OSError as err:
                if is_disk_full(err):
                    still_needed = sum(f.size - self.source.partial_bytes(f, staging) for f in todo[index:])
                    raise disk_full_error(self.target.parent, file.name, still_needed) from None
                raise
        self.progress.finish()

    def _check(self, staging: Path, remote: RemoteModel) -> tuple[dict[str, Digests], list[FileProblem]]:
        started = time.monotonic()
        digests: dict[str, Digests] = {}
        problems: list[FileProblem] = []
        for file in remote.files:
            file_digests, problem = file.check(staging / file.name)
            if problem:
                problems.append(problem)
            else:
                digests[file.name] = file_digests
        _LOGGER.info(
            "Checked %s against the published digests in %s",
            format_bytes(remote.total_size),
            format_duration(time.monotonic() - started),
        )
        return digests, problems

    def _move_into_place(self, staging: Path, remote: RemoteModel, digests: dict[str, Digests]) -> None:
        entries = {name: d.entry() for name, d in digests.items()}
        self.source.clean(staging)
        write_manifest(staging, Manifest(FORMAT_OFFICIAL, entries, source=remote.provenance))
        publish_folder(staging, self.target)


def publish_folder(staging: Path, target: Path) -> None:
    """The single rename that makes a complete folder appear under its final name, made durable."""
    os.rename(staging, target)
    fsync_path(target.parent)


def _merge_into(old: Path, staging: Path) -> None:
    """Move `old`'s entries into `staging` (files already there win), then remove what is left of `old`."""
    if not staging.exists():
        os.rename(old, staging)
        return
    for entry in old.iterdir():
        if not (staging / entry.name).exists():
            os.rename(entry, staging / entry.name)
    shutil.rmtree(old)


def _remove_if_empty(folder: Path) -> None:
    """A staging folder that holds nothing worth resuming is not left behind."""
    try:
        folder.rmdir()
    except OSError:
        pass


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself (no lock file left behind); waits for another installer."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _LOGGER.info("Another process is installing the model in %s; waiting for it to finish", folder)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def fsync_path(path: Path) -> None:
    """Make a file's content, or a folder's entries (e.g. after a rename), durable before anyone relies on them."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
