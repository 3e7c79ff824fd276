"""`python -m wyoming_cosyvoice.parity DIR` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_parity(folder: Path) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_cosyvoice.parity", str(folder)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    return result.returncode, json.loads(result.stdout)


@pytest.fixture()
def parity_copy(tmp_path: Path, parity_dir: Path) -> Path:
    """The parity folder as links, so a test can replace one file."""
    for path in parity_dir.iterdir():
        (tmp_path / path.name).symlink_to(path)
    return tmp_path


def test_passes_on_the_reference_folder(parity_dir: Path) -> None:
    code, report = run_parity(parity_dir)
    assert code == 0 and report["ok"] is True
    assert set(report["cases"]["llm_case"]) == {"text_encoded", "prefix_embeddings", "logp", "logp_full_pass"}
    for case in report["cases"].values():
        for output in case.values():
            assert output["ok"] and output["max_abs_error"] <= output["bound"]


def test_fails_when_an_expected_output_is_perturbed(parity_copy: Path, parity_dir: Path) -> None:
    case = torch.load(parity_dir / "llm_case.pt", weights_only=True)
    case["logp"][5, 7] += 0.01  # ~10× the bound
    (parity_copy / "llm_case.pt").unlink()
    torch.save(case, parity_copy / "llm_case.pt")
    code, report = run_parity(parity_copy)
    assert code == 1 and report["ok"] is False
    llm = report["cases"]["llm_case"]
    assert llm["logp"]["ok"] is False and llm["logp"]["max_abs_error"] > llm["logp"]["bound"]
    assert llm["logp_full_pass"]["ok"] is True


def test_fails_when_a_case_file_is_missing(parity_copy: Path) -> None:
    (parity_copy / "llm_case.pt").unlink()
    code, report = run_parity(parity_copy)
    assert code == 1 and report["ok"] is False
    assert report["cases"]["llm_case"] == {"error": f"{parity_copy / 'llm_case.pt'}: file not found", "ok": False}


def test_fails_when_the_tolerances_are_missing(parity_copy: Path) -> None:
    (parity_copy / "observed_tolerances.json").unlink()
    code, report = run_parity(parity_copy)
    assert code == 1 and report["ok"] is False and "observed_tolerances.json" in report["error"]


def test_usage_error_without_a_folder() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_cosyvoice.parity"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "usage" in result.stderr
