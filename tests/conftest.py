"""Shared fixtures: where the reference data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
