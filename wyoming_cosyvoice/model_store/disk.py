"""Disk space: checked before a download starts, and a full disk turned into a message people can act on.

Owns: the free-space check (with a small reserve for the manifest and file system slack) and recognising the
errors a full disk raises.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from .errors import NotEnoughSpaceError
from .progress import format_bytes

DEFAULT_RESERVE_BYTES = 16 * 1024 * 1024
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def ensure_free_space(folder: Path, needed: int, reserve: int = DEFAULT_RESERVE_BYTES) -> int:
    """Raise NotEnoughSpaceError unless `needed` bytes plus `reserve` fit in `folder`; returns the free bytes."""
    free = free_bytes(folder)
    if free < needed + reserve:
        raise NotEnoughSpaceError(
            f"Not enough disk space in {folder}: the model needs {format_bytes(needed + reserve)} "
            f"({format_bytes(needed)} of files plus {format_bytes(reserve)} to spare), "
            f"only {format_bytes(free)} is free. Free some space or choose a --download-dir on a larger disk."
        )
    return free


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS


def disk_full_error(folder: Path, file_name: str, still_needed: int) -> NotEnoughSpaceError:
    return NotEnoughSpaceError(
        f"The disk holding {folder} filled up while downloading {file_name} "
        f"({format_bytes(free_bytes(folder))} free, {format_bytes(still_needed)} still to download). "
        "Free some space or choose a --download-dir on a larger disk; files already complete are kept "
        "and the next start continues from there."
    )
