"""Downloading from the ModelScope mirror (a real local HTTP server speaking ModelScope's file API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_server import HubServer, assert_same_files, copy_repo, kill_download_when_stalled, serving

from wyoming_cosyvoice.download import resolve_model_dir
from wyoming_cosyvoice.model_store.errors import DownloadError
from wyoming_cosyvoice.model_store.folders import MODEL_FOLDER_NAME, OFFICIAL_FILES, staging_folder
from wyoming_cosyvoice.model_store.http_download import INCOMPLETE_SUFFIX
from wyoming_cosyvoice.model_store.manifest import read_manifest
from wyoming_cosyvoice.model_store.modelscope import DEFAULT_ENDPOINT, modelscope_endpoint


@pytest.fixture
def mirror(tmp_path: Path, parity_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """The tiny model folder (with files inference does not need) served as the hub and mirror serve it."""
    with serving(copy_repo(parity_dir, tmp_path / "repo"), monkeypatch) as server:
        yield server


def download(tmp_path: Path, **options: object) -> Path:
    return resolve_model_dir([], tmp_path / "downloads", source="modelscope", **options)


def test_first_run_lists_files_once_and_fetches_only_what_inference_needs(mirror: HubServer, tmp_path: Path) -> None:
    model = download(tmp_path)

    assert_same_files(model, mirror.folder)
    listings = [r.path for r in mirror.requests if "/repo/files" in r.path]
    assert listings == ["/api/v1/models/iic/CosyVoice-300M-SFT/repo/files?Revision=master&Recursive=True"]
    assert [mirror.file_gets(name) for name in OFFICIAL_FILES] == [1] * len(OFFICIAL_FILES)
    assert mirror.file_gets("llm_case.pt") == 0
    manifest = read_manifest(model)
    assert manifest is not None and manifest.source == {
        "source": "modelscope",
        "repo": "iic/CosyVoice-300M-SFT",
        "revision": "master",
    }
    assert not any(p.name.endswith(INCOMPLETE_SUFFIX) for p in model.iterdir())


def test_a_connection_cut_mid_file_resumes_from_the_byte_it_stopped_at(mirror: HubServer, tmp_path: Path) -> None:
    mirror.cut_once("llm.pt", 3_000_000)

    model = download(tmp_path)

    assert_same_files(model, mirror.folder)
    assert [r.range for r in mirror.file_requests("llm.pt")] == [None, "bytes=3000000-"]


def test_a_killed_download_continues_from_the_partial_file_in_the_next_run(mirror: HubServer, tmp_path: Path) -> None:
    mirror.stall_once("llm.pt", 5_000_000)
    partial = staging_folder(tmp_path / "downloads" / MODEL_FOLDER_NAME) / f"llm.pt{INCOMPLETE_SUFFIX}"
    kill_download_when_stalled(
        mirror, ["--download-dir", str(tmp_path / "downloads"), "--model-source", "modelscope"], written=partial
    )
    kept = partial.stat().st_size
    assert 0 < kept < 5_000_000

    model = download(tmp_path)

    assert_same_files(model, mirror.folder)
    assert [r.range for r in mirror.file_requests("llm.pt")] == [None, f"bytes={kept}-"]
    assert mirror.file_gets("cosyvoice.yaml") == 1


def test_a_file_corrupted_in_transit_is_fetched_again(mirror: HubServer, tmp_path: Path) -> None:
    mirror.corrupt_once("hift.pt")

    model = download(tmp_path)

    assert_same_files(model, mirror.folder)
    assert mirror.file_gets("hift.pt") == 2


def test_an_unknown_revision_gives_a_clear_error(mirror: HubServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"ModelScope iic/CosyVoice-300M-SFT at revision v9 .*HTTP 404"):
        download(tmp_path, revision="v9")


def test_an_unreachable_mirror_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with HubServer(tmp_path) as stopped:
        address = stopped.url
    monkeypatch.setenv("MODELSCOPE_DOMAIN", address)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    with pytest.raises(DownloadError, match="cannot reach the mirror"):
        download(tmp_path)


def test_modelscope_domain_accepts_a_bare_host_or_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSCOPE_DOMAIN", raising=False)
    assert modelscope_endpoint() == DEFAULT_ENDPOINT
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "mirror.example.org/")
    assert modelscope_endpoint() == "https://mirror.example.org"
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "http://127.0.0.1:8080")
    assert modelscope_endpoint() == "http://127.0.0.1:8080"
