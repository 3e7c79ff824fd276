"""Finding a model in the user's data dirs, the manifest and lite-pack marker, and the progress log (no network)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from wyoming_cosyvoice.download import ModelNotFoundError, resolve_model_dir
from wyoming_cosyvoice.model_store.folders import (
    LITE_FILES,
    MODEL_FOLDER_NAME,
    OFFICIAL_FILES,
    model_folders_in,
    open_model_folder,
    staging_folder,
)
from wyoming_cosyvoice.model_store.manifest import (
    FORMAT_LITE,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    ManifestError,
    file_digests,
    read_manifest,
    write_manifest,
)
from wyoming_cosyvoice.model_store.progress import DownloadProgress, format_bytes, format_duration


def official_folder(parity_dir: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in OFFICIAL_FILES:
        shutil.copy(parity_dir / name, folder / name)
    return folder


def lite_pack(folder: Path) -> Path:
    """A folder marked as a lite pack by its manifest, with the pack's file names (content: placeholders)."""
    folder.mkdir(parents=True)
    entries = {}
    for name in LITE_FILES:
        (folder / name).write_bytes(b"x" * 100)
        digests = file_digests(folder / name)
        entries[name] = FileEntry(digests.size, digests.sha256)
    write_manifest(folder, Manifest(FORMAT_LITE, entries))
    return folder


def resolve_offline(data_dirs: list[Path], tmp_path: Path, **options: object) -> Path:
    return resolve_model_dir(data_dirs, tmp_path / "downloads", local_files_only=True, **options)


def test_a_data_dir_that_is_an_official_folder_is_used_as_it_is(parity_dir: Path, tmp_path: Path) -> None:
    folder = official_folder(parity_dir, tmp_path / "mine")
    assert resolve_offline([folder], tmp_path) == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(OFFICIAL_FILES)  # nothing written into it


def test_a_data_dir_holding_model_folders_offers_lite_packs_first(parity_dir: Path, tmp_path: Path) -> None:
    official_folder(parity_dir, tmp_path / "models" / "a-official")
    lite = lite_pack(tmp_path / "models" / "z-lite")

    assert [f.path.name for f in model_folders_in(tmp_path / "models")] == ["z-lite", "a-official"]
    assert resolve_offline([tmp_path / "models"], tmp_path) == lite
    assert open_model_folder(lite).format == FORMAT_LITE


def test_data_dirs_are_tried_in_order_and_broken_folders_are_skipped(
    parity_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = official_folder(parity_dir, tmp_path / "broken")
    (broken / "flow.pt").unlink()
    good = official_folder(parity_dir, tmp_path / "good")

    with caplog.at_level(logging.WARNING):
        assert resolve_offline([broken, good], tmp_path) == good
    assert "flow.pt: missing" in caplog.text


def test_hidden_staging_folders_are_never_taken_for_a_model(parity_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "downloads" / MODEL_FOLDER_NAME
    official_folder(parity_dir, staging_folder(target))  # all files there, but not installed

    with pytest.raises(ModelNotFoundError):
        resolve_offline([tmp_path / "downloads"], tmp_path)


def test_the_download_dirs_model_is_found_also_when_it_is_a_data_dir(parity_dir: Path, tmp_path: Path) -> None:
    target = official_folder(parity_dir, tmp_path / "downloads" / MODEL_FOLDER_NAME)
    assert resolve_offline([tmp_path / "downloads"], tmp_path) == target


def test_a_lite_pack_with_a_wrong_size_is_not_used(tmp_path: Path) -> None:
    lite = lite_pack(tmp_path / "lite")
    (lite / "flow.safetensors").write_bytes(b"x" * 99)

    with pytest.raises(ModelNotFoundError, match="flow.safetensors: 99 bytes, the manifest says 100"):
        resolve_offline([lite], tmp_path)


def test_verify_rehashes_and_finds_a_changed_byte(tmp_path: Path) -> None:
    lite = lite_pack(tmp_path / "lite")
    (lite / "flow.safetensors").write_bytes(b"x" * 99 + b"y")

    assert resolve_offline([lite], tmp_path) == lite  # same size: the cheap check passes
    with pytest.raises(ModelNotFoundError, match="flow.safetensors: SHA-256"):
        resolve_offline([lite], tmp_path, verify=True)


def test_an_unreadable_manifest_makes_the_folder_unusable_with_a_reason(parity_dir: Path, tmp_path: Path) -> None:
    folder = official_folder(parity_dir, tmp_path / "mine")
    (folder / MANIFEST_NAME).write_text("{not json", encoding="utf-8")

    with pytest.raises(ModelNotFoundError, match=f"{MANIFEST_NAME}: .* is not valid JSON"):
        resolve_offline([folder], tmp_path)


def test_manifest_round_trip_and_validation(tmp_path: Path) -> None:
    manifest = Manifest("official", {"llm.pt": FileEntry(3, "ab" * 32)}, source={"source": "huggingface"})
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST_NAME]

    for bad, reason in [
        ({"format": "zip", "format_version": 1, "files": {"a": {"size": 1, "sha256": "0"}}}, "unknown format"),
        ({"format": "lite", "format_version": 7, "files": {"a": {"size": 1, "sha256": "0"}}}, "format_version"),
        ({"format": "lite", "format_version": 1, "files": {}}, "no file table"),
        ({"format": "lite", "format_version": 1, "files": {"../x": {"size": 1, "sha256": "0"}}}, "outside"),
        ({"format": "lite", "format_version": 1, "files": {"a": {"size": "big", "sha256": "0"}}}, "bad entry"),
    ]:
        (tmp_path / MANIFEST_NAME).write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(ManifestError, match=reason):
            read_manifest(tmp_path)


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="Unknown model source 'ftp'"):
        resolve_model_dir([], tmp_path, source="ftp")


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_at_most_once_per_interval_with_rate_and_time_left(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = DownloadProgress(interval=10.0, clock=clock)
    with caplog.at_level(logging.INFO):
        progress.start(total=100 * 1024 * 1024, already=20 * 1024 * 1024)
        for _ in range(40):
            clock.now += 1.0
            progress.advance(1024 * 1024)
        progress.finish()

    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "20.0 MiB of 100.0 MiB already on disk"
    ticks = [line for line in lines if line.startswith("Downloading model:")]
    assert len(ticks) == 4
    assert ticks[0] == "Downloading model: 30.0 MiB of 100.0 MiB (30%) at 1.0 MiB/s, about 1 min 10 s left"
    assert lines[-1] == "Downloaded 40.0 MiB in 40 s (1.0 MiB/s)"


def test_sizes_and_durations_read_well() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(1.7 * 1024**3) == "1.7 GiB"
    assert format_duration(5) == "5 s"
    assert format_duration(95) == "1 min 35 s"
    assert format_duration(7300) == "2 h 1 min"


def test_a_download_dir_that_cannot_be_written_gives_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the download dir should be", encoding="utf-8")

    with pytest.raises(ModelNotFoundError, match=f"Cannot write the model into {blocked}"):
        resolve_model_dir([], blocked)
