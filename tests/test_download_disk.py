"""A disk too small for the model, or one that fills up mid-download, on a real small tmpfs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import HubServer, copy_repo, serving

from wyoming_cosyvoice.download import resolve_model_dir
from wyoming_cosyvoice.model_store.errors import NotEnoughSpaceError
from wyoming_cosyvoice.model_store.folders import MODEL_FOLDER_NAME, OFFICIAL_FILES

MIB = 1024 * 1024


def mount_tmpfs(folder: Path, size_mib: int) -> None:
    folder.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip() or 'mount failed'})")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 14 MiB file system: room for the 12 MiB tiny model, not for much else."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "disk"
    mount_tmpfs(folder, 14)
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def hub(tmp_path: Path, parity_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    with serving(copy_repo(parity_dir, tmp_path / "repo", OFFICIAL_FILES), monkeypatch) as server:
        yield server


def fill(disk: Path, leave_free: int) -> Path:
    """Write a filler file until only `leave_free` bytes are left."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with filler.open("wb") as stream:
        stream.write(b"\0" * max(free - leave_free, 0))
    return filler


@pytest.mark.parametrize("source", ["huggingface", "modelscope"])
def test_a_disk_too_small_is_refused_before_anything_is_downloaded(
    hub: HubServer, small_disk: Path, source: str
) -> None:
    fill(small_disk, leave_free=4 * MIB)

    with pytest.raises(NotEnoughSpaceError) as caught:
        resolve_model_dir([], small_disk / "models", source=source, reserve_bytes=MIB)

    message = str(caught.value)
    assert message.startswith(f"Not enough disk space in {small_disk / 'models'}")
    assert "the model needs 13.0 MiB" in message and "--download-dir" in message
    assert all(hub.file_gets(name) == 0 for name in OFFICIAL_FILES)
    assert list((small_disk / "models").iterdir()) == []


@pytest.mark.parametrize("source", ["huggingface", "modelscope"])
def test_a_disk_that_fills_up_during_the_download_gives_a_clear_error_and_recovers(
    hub: HubServer, small_disk: Path, source: str
) -> None:
    filler: list[Path] = []
    hub.on_file_served = lambda name: filler.append(fill(small_disk, leave_free=MIB)) if name == "llm.pt" else None

    with pytest.raises(NotEnoughSpaceError) as caught:
        resolve_model_dir([], small_disk / "models", source=source, reserve_bytes=MIB)

    assert "filled up while downloading llm.pt" in str(caught.value)
    assert not (small_disk / "models" / MODEL_FOLDER_NAME).exists()

    hub.on_file_served = None
    filler[0].unlink()
    model = resolve_model_dir([], small_disk / "models", source=source, reserve_bytes=MIB)
    assert (model / "llm.pt").read_bytes() == hub.files["llm.pt"].path.read_bytes()
