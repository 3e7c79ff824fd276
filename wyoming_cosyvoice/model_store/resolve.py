"""Deciding which model folder to use: the user's data dirs first, then the download dir, then a download.

Owns: the search order, when a folder counts as usable (sizes against the manifest; digests with `verify`), when
the download dir's model is repaired or replaced, offline mode (`local_files_only`, HF_HUB_OFFLINE) and the
message that says exactly which files to put where.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from .disk import DEFAULT_RESERVE_BYTES
from .errors import DownloadError, ModelNotFoundError
from .folders import MODEL_FOLDER_NAME, OFFICIAL_FILES, ModelFolder, model_folders_in, open_model_folder
from .install import Installer
from .progress import DownloadProgress
from .remote import ModelSource

_LOGGER = logging.getLogger(__name__)

SOURCES = ("huggingface", "modelscope")
_OFFICIAL_PAGES = (
    "https://huggingface.co/FunAudioLLM/CosyVoice-300M-SFT",
    "https://www.modelscope.cn/models/iic/CosyVoice-300M-SFT",
)


def resolve_model_dir(
    data_dirs: Iterable[Path],
    download_dir: Path,
    *,
    local_files_only: bool = False,
    source: str = "huggingface",
    revision: str | None = None,
    verify: bool = False,
    progress: DownloadProgress | None = None,
    reserve_bytes: int = DEFAULT_RESERVE_BYTES,
) -> Path:
    """The folder of a usable model, downloading the official release into `download_dir` if none is found.

    Tried in order: every data dir (a model folder itself, or a folder holding model folders: official release or
    lite pack), then `download_dir/CosyVoice-300M-SFT`, then a download from `source`. Offline (`local_files_only`
    or HF_HUB_OFFLINE) nothing touches the network. Raises ModelNotFoundError (or a subclass) with a message
    that says what to do.
    """
    if source not in SOURCES:
        raise ModelNotFoundError(f"Unknown model source {source!r}; choose one of: {', '.join(SOURCES)}")
    offline_reason = _offline_reason(local_files_only)
    target = Path(download_dir) / MODEL_FOLDER_NAME
    notes: list[str] = []
    for data_dir in data_dirs:
        found = _usable_in(Path(data_dir), target, verify, notes)
        if found is not None:
            return found
    managed = open_model_folder(target)
    if managed is None:
        notes.append(f"{target}: " + ("no model files" if target.is_dir() else "does not exist"))
    else:
        problems = managed.problems(verify=verify)
        if not problems and not _needs_other_revision(managed, revision, offline_reason):
            return _use(managed, verify)
        reason = "; ".join(map(str, problems)) or f"revision {revision} was asked for"
        notes.append(f"{target}: {reason}")
        if not offline_reason:
            _LOGGER.warning("Replacing the model in %s (%s); files that are still right are kept", target, reason)
    if offline_reason:
        raise ModelNotFoundError(_offline_message(target, offline_reason, notes))
    installer = Installer(target, _make_source(source, revision), progress or DownloadProgress(), reserve_bytes)
    try:
        return installer.install()
    except OSError as err:  # a full disk is reported by the installer; this is e.g. no permission, read-only
        raise DownloadError(f"Cannot write the model into {target.parent}: {err.strerror or err}") from None


def _usable_in(data_dir: Path, target: Path, verify: bool, notes: list[str]) -> Path | None:
    folders = model_folders_in(data_dir)
    if not folders:
        notes.append(f"{data_dir}: " + ("no model folder" if data_dir.is_dir() else "does not exist"))
    for folder in folders:
        if _same_path(folder.path, target):
            continue  # the download dir's model: checked (and repaired if need be) after every data dir
        problems = folder.problems(verify=verify)
        if not problems:
            return _use(folder, verify)
        note = f"{folder.path}: " + "; ".join(map(str, problems))
        _LOGGER.warning("Skipping %s", note)
        notes.append(note)
    return None


def _use(folder: ModelFolder, verify: bool) -> Path:
    if verify and folder.manifest is None:
        _LOGGER.warning(
            "%s has no manifest, so its files cannot be verified; only their presence was checked", folder.path
        )
    checked = "every file verified" if verify and folder.manifest else "file sizes checked"
    _LOGGER.info("Using the %s model in %s (%s)", folder.format, folder.path, checked)
    return folder.path


def _needs_other_revision(folder: ModelFolder, revision: str | None, offline_reason: str | None) -> bool:
    """True when the user asked for a revision that the installed model is not (and we may download)."""
    if revision is None or folder.manifest is None:
        return False
    installed = {folder.manifest.source.get("revision"), folder.manifest.source.get("commit")}
    if revision in installed:
        return False
    if offline_reason:
        _LOGGER.warning(
            "%s holds revision %s, not %s; using it anyway (%s)",
            folder.path,
            folder.manifest.source.get("revision"),
            revision,
            offline_reason,
        )
        return False
    return True


def _same_path(first: Path, second: Path) -> bool:
    return first.resolve() == second.resolve()


def _offline_reason(local_files_only: bool) -> str | None:
    if local_files_only:
        return "--local-files-only"
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return "HF_HUB_OFFLINE is set"
    return None


def _offline_message(target: Path, reason: str, notes: list[str]) -> str:
    files = ", ".join(OFFICIAL_FILES)
    looked = "".join(f"\n  - {note}" for note in notes)
    return (
        f"No usable CosyVoice model was found and downloading is off ({reason}).\n"
        f"Put the official CosyVoice-300M-SFT files {files} into the folder\n  {target}\n"
        f"(download them from {' or '.join(_OFFICIAL_PAGES)}), or pass --data-dir with a folder that holds "
        f"them, then start again.\nLooked in:{looked}"
    )


def _make_source(name: str, revision: str | None) -> ModelSource:
    if name == "modelscope":
        from .modelscope import ModelScopeSource

        return ModelScopeSource(revision)
    from .huggingface import HuggingFaceSource

    return HuggingFaceSource(revision)
