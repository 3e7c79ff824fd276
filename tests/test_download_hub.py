"""Downloading the official model from a Hugging Face hub (a real local HTTP server speaking the hub's API)."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import (
    DEFAULT_COMMIT,
    REPO_ROOT,
    HubServer,
    assert_same_files,
    client_env,
    copy_repo,
    kill_download_when_stalled,
    serving,
)

from wyoming_cosyvoice.download import ModelNotFoundError, resolve_model_dir
from wyoming_cosyvoice.model_store.errors import DownloadError
from wyoming_cosyvoice.model_store.folders import MODEL_FOLDER_NAME, OFFICIAL_FILES
from wyoming_cosyvoice.model_store.manifest import MANIFEST_NAME, file_digests, read_manifest
from wyoming_cosyvoice.model_store.progress import DownloadProgress


@pytest.fixture
def hub(tmp_path: Path, parity_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """The tiny model folder (with files inference does not need) served as the hub and mirror serve it."""
    with serving(copy_repo(parity_dir, tmp_path / "repo"), monkeypatch) as server:
        yield server


def downloads(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


def test_first_run_downloads_only_what_inference_needs_and_writes_a_manifest(hub: HubServer, tmp_path: Path) -> None:
    model = resolve_model_dir([], downloads(tmp_path))

    assert model == downloads(tmp_path) / MODEL_FOLDER_NAME
    assert_same_files(model, hub.folder)
    assert sorted(p.name for p in model.iterdir()) == sorted([*OFFICIAL_FILES, MANIFEST_NAME])
    assert [p.name for p in downloads(tmp_path).iterdir()] == [MODEL_FOLDER_NAME]  # no staging, no cache left
    manifest = read_manifest(model)
    assert manifest is not None and manifest.format == "official"
    assert manifest.source["commit"] == DEFAULT_COMMIT
    for name in OFFICIAL_FILES:
        assert manifest.files[name].sha256 == file_digests(hub.folder / name).sha256
    for unneeded in ("llm_case.pt", "config.json", "hift_legacy_weight_norm.pt"):
        assert hub.file_gets(unneeded) == 0


def test_second_start_checks_sizes_without_touching_the_network(hub: HubServer, tmp_path: Path) -> None:
    first = resolve_model_dir([], downloads(tmp_path))
    before = len(hub.requests)

    assert resolve_model_dir([], downloads(tmp_path)) == first
    assert len(hub.requests) == before


def test_connection_cut_mid_file_resumes_with_a_range_request(
    parity_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo_folder = copy_repo(parity_dir, tmp_path / "repo")
    # Large enough that huggingface_hub has written whole chunks (10 MiB each) before the cut.
    (repo_folder / "llm.pt").write_bytes(random.Random(0).randbytes(24 * 1024 * 1024))
    with serving(repo_folder, monkeypatch) as hub:
        hub.cut_once("llm.pt", 15 * 1024 * 1024)

        model = resolve_model_dir([], downloads(tmp_path))

        transfers = hub.file_requests("llm.pt")
    assert_same_files(model, repo_folder)
    assert len(transfers) == 2
    assert transfers[0].range is None
    assert transfers[1].range is not None and transfers[1].range.startswith("bytes=")
    assert int(transfers[1].range.removeprefix("bytes=").rstrip("-")) > 0


def test_a_file_corrupted_in_transit_is_detected_and_fetched_again(
    hub: HubServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub.corrupt_once("flow.pt")

    with caplog.at_level(logging.WARNING):
        model = resolve_model_dir([], downloads(tmp_path))

    assert_same_files(model, hub.folder)
    assert hub.file_gets("flow.pt") == 2
    assert hub.file_gets("llm.pt") == 1
    assert "flow.pt: SHA-256" in caplog.text


def test_corruption_on_disk_is_found_by_verify_and_only_that_file_is_fetched_again(
    hub: HubServer, tmp_path: Path
) -> None:
    model = resolve_model_dir([], downloads(tmp_path))
    damaged = bytearray((model / "llm.pt").read_bytes())
    damaged[1000] ^= 0xFF
    (model / "llm.pt").write_bytes(damaged)
    gets = {name: hub.file_gets(name) for name in OFFICIAL_FILES}

    assert resolve_model_dir([], downloads(tmp_path)) == model  # sizes are right: a cheap start does not notice
    assert resolve_model_dir([], downloads(tmp_path), verify=True) == model

    assert_same_files(model, hub.folder)
    assert hub.file_gets("llm.pt") == gets["llm.pt"] + 1
    assert all(hub.file_gets(name) == gets[name] for name in OFFICIAL_FILES if name != "llm.pt")


def test_a_truncated_file_is_noticed_on_a_cheap_start_and_repaired(hub: HubServer, tmp_path: Path) -> None:
    model = resolve_model_dir([], downloads(tmp_path))
    with (model / "hift.pt").open("r+b") as stream:
        stream.truncate(100)

    assert resolve_model_dir([], downloads(tmp_path)) == model
    assert_same_files(model, hub.folder)
    assert hub.file_gets("hift.pt") == 2


def test_offline_mode_uses_the_installed_model_and_never_connects(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = resolve_model_dir([], downloads(tmp_path))
    with (model / "spk2info.pt").open("r+b") as stream:
        stream.truncate(10)  # broken, but offline there is nothing to repair it with
    before = len(hub.requests)

    with pytest.raises(ModelNotFoundError, match="spk2info.pt: 10 bytes"):
        resolve_model_dir([], downloads(tmp_path), local_files_only=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE"):
        resolve_model_dir([], downloads(tmp_path), verify=True)
    assert len(hub.requests) == before

    monkeypatch.delenv("HF_HUB_OFFLINE")
    resolve_model_dir([], downloads(tmp_path))  # repaired online
    before = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model_dir([], downloads(tmp_path), verify=True) == model
    assert resolve_model_dir([], downloads(tmp_path), local_files_only=True, revision="main") == model
    assert len(hub.requests) == before


def test_local_files_only_with_nothing_present_says_which_files_to_put_where(hub: HubServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model_dir([empty, tmp_path / "missing"], downloads(tmp_path), local_files_only=True)

    message = str(caught.value)
    assert "--local-files-only" in message
    assert str(downloads(tmp_path) / MODEL_FOLDER_NAME) in message
    assert all(name in message for name in OFFICIAL_FILES)
    assert f"{empty}: no model folder" in message
    assert f"{tmp_path / 'missing'}: does not exist" in message
    assert hub.requests == []


def test_an_unknown_revision_is_named_in_the_error(hub: HubServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="no such revision; check --model-revision"):
        resolve_model_dir([], downloads(tmp_path), revision="0" * 40)
    assert list(downloads(tmp_path).iterdir()) == []


def test_asking_for_another_revision_replaces_the_model_and_keeps_files_that_are_right(
    hub: HubServer, tmp_path: Path
) -> None:
    model = resolve_model_dir([], downloads(tmp_path))
    gets = len([r for r in hub.requests if r.method == "GET"])

    assert resolve_model_dir([], downloads(tmp_path), revision="main") == model

    manifest = read_manifest(model)
    assert manifest is not None and manifest.source["revision"] == "main"
    assert len([r for r in hub.requests if r.method == "GET"]) == gets  # same files: checked, not fetched


def test_progress_is_logged_with_bytes_rate_and_time_left(hub: HubServer, tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="wyoming_cosyvoice"):
        resolve_model_dir([], downloads(tmp_path), progress=DownloadProgress(interval=0.0))

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Downloading model:")]
    assert lines
    assert "of 12.0 MiB" in lines[-1] and "(100%)" in lines[-1] and "/s" in lines[-1]
    assert any("left" in line for line in lines)
    assert any(r.getMessage().startswith("Downloaded 12.0 MiB in") for r in caplog.records)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_cosyvoice.download", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


def test_download_subcommand_prints_the_folder_and_works_offline_afterwards(hub: HubServer, tmp_path: Path) -> None:
    fetched = run_cli("--download-dir", str(downloads(tmp_path)), env=client_env(hub))
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.strip() == str(downloads(tmp_path) / MODEL_FOLDER_NAME)
    assert "Model installed in" in fetched.stderr
    before = len(hub.requests)

    offline = run_cli("--download-dir", str(downloads(tmp_path)), "--verify", env=client_env(hub, HF_HUB_OFFLINE="1"))

    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.strip() == fetched.stdout.strip()
    assert len(hub.requests) == before


def test_download_subcommand_with_nothing_local_exits_with_the_documented_message(
    hub: HubServer, tmp_path: Path
) -> None:
    result = run_cli("--download-dir", str(downloads(tmp_path)), "--local-files-only", env=client_env(hub))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: No usable CosyVoice model was found and downloading is off")
    assert "Traceback" not in result.stderr
    assert hub.requests == []


def test_a_killed_download_never_looks_complete_and_the_next_run_continues(hub: HubServer, tmp_path: Path) -> None:
    hub.stall_once("flow.pt", 100_000)
    kill_download_when_stalled(hub, ["--download-dir", str(downloads(tmp_path))])

    assert not (downloads(tmp_path) / MODEL_FOLDER_NAME).exists()
    with pytest.raises(ModelNotFoundError):
        resolve_model_dir([downloads(tmp_path)], downloads(tmp_path), local_files_only=True)

    model = resolve_model_dir([], downloads(tmp_path))

    assert_same_files(model, hub.folder)
    assert hub.file_gets("llm.pt") == 1  # finished before the kill: kept, checked, not fetched again
    assert hub.file_gets("flow.pt") == 2
    assert [p.name for p in downloads(tmp_path).iterdir()] == [MODEL_FOLDER_NAME]
    assert not (model / ".cache").exists()


def test_manifest_is_plain_json_people_can_read(hub: HubServer, tmp_path: Path) -> None:
    model = resolve_model_dir([], downloads(tmp_path))
    data = json.loads((model / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert data["format"] == "official" and data["format_version"] == 1
    assert set(data["files"]) == set(OFFICIAL_FILES)
    assert data["source"]["repo"] == "FunAudioLLM/CosyVoice-300M-SFT"
