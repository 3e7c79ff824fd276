"""Shared fixtures: where the reference data lives."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("COSYVOICE_SHARED", REPO_ROOT.parent / "shared"))
REFERENCE_DIR = SHARED_DIR / "reference"
PARITY_DIR = REFERENCE_DIR / "parity"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference manifests and vectors (../shared/reference)."""
    if not REFERENCE_DIR.is_dir():
        pytest.fail(f"reference data not found at {REFERENCE_DIR}; set COSYVOICE_SHARED")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def parity_dir(reference_dir: Path) -> Path:
    """The tiny reference model folder in the official layout."""
    return reference_dir / "parity"


@pytest.fixture(scope="session")
def parity_model(parity_dir: Path):
    """The tiny reference model, loaded once (wyoming_cosyvoice.model.loader.CosyVoiceModel). Do not modify it."""
    from wyoming_cosyvoice.model.loader import load_model

    return load_model(parity_dir)


@pytest.fixture(scope="session")
def tiny_random_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight model folder in the official layout with the tiny parity hyper-parameters (seed 0)."""
    from wyoming_cosyvoice.model.random_weights import write_random_model

    return write_random_model(tmp_path_factory.mktemp("tiny-random-model"), size="tiny", seed=0)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module's tests (`pytestmark = pytest.mark.usefixtures("one_thread")`): the tiny
    models gain nothing from a second thread, and on a busy 2-core machine two OpenMP threads spin-waiting for
    each other make these tests 5–30× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
