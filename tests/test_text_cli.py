"""`python -m wyoming_cosyvoice.text` as a subprocess: trying text, --check on .tsv and .json case files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_cosyvoice.text", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_prints_runs_normalised_text_segments_and_ids() -> None:
    result = run_cli("今天的meeting改到3:30 PM了。Dr. Smith is here.", "--lang", "zh")
    assert result.returncode == 0, result.stderr
    assert "[en] meeting" in result.stdout
    assert "normalized: 今天的meeting改到下午三点三十分了。Doctor Smith is here." in result.stdout
    assert "segment 1 (" in result.stdout and "ids: [" in result.stdout


def test_json_output_and_standard_input() -> None:
    result = run_cli("--json", "--lang", "ja", stdin="気温は-3℃です。")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["normalized"] == "気温はマイナス三度です。"
    assert data["segments"][0]["token_ids"]


def test_check_tsv_lists_every_case_and_passes(reference_dir: Path) -> None:
    case_file = reference_dir.parent / "frontend-cases.tsv"
    result = run_cli("--check", str(case_file))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    report = json.loads(result.stdout)
    lines = [line for line in case_file.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    assert report["total"] == len(lines) == len(report["cases"])
    assert report["passed"] / report["total"] >= 0.95
    assert set(report["cases"][0]) == {"lang", "input", "expected", "got", "ok"}


def test_check_tsv_fails_below_95_percent(tmp_path: Path) -> None:
    case_file = tmp_path / "wrong.tsv"
    case_file.write_text("lang\tinput\texpected\nen\t5 cats\tfive cats\nen\t3 dogs\tthree cats\n", encoding="utf-8")
    result = run_cli("--check", str(case_file))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["passed"], report["total"]) == (1, 2)
    assert [case["ok"] for case in report["cases"]] == [True, False]


def test_check_json_token_ids(reference_dir: Path, tmp_path: Path) -> None:
    result = run_cli("--check", str(reference_dir / "tokenizer_cases.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] == report["total"] >= 20
    assert set(report["cases"][0]) == {"text", "ids", "got", "ok"}

    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        json.dumps({"cases": [{"text": "Hello", "ids": [1, 2]}, {"text": "a", "ids": [64]}]}), encoding="utf-8"
    )
    result = run_cli("--check", str(wrong))
    assert result.returncode == 1
    assert [case["ok"] for case in json.loads(result.stdout)["cases"]] == [False, True]


def test_bad_case_files_get_a_clear_message(tmp_path: Path) -> None:
    for name, content in [
        ("bad.json", "{not json"),
        ("bad.tsv", "lang\tinput\texpected\nonly-one-column\n"),
        ("cases.txt", "x"),
    ]:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        result = run_cli("--check", str(path))
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    result = run_cli("--check", str(tmp_path / "missing.tsv"))
    assert result.returncode == 2 and "cannot read" in result.stderr
