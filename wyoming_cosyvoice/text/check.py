"""`--check FILE`: scores the frontend on a case file, in the output format of ../shared/frontend-cases.md.

A `.tsv` file (lang, input, expected; header line) checks normalisation with the `canon()` comparison rule; a
`.json` file in the format of tokenizer_cases.json checks token ids (reference encoding, special markers
allowed, exactly as upstream).
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

from .frontend import TextFrontend
from .languages import is_wide

PASS_RATE = 0.95
LANGUAGE_OF_CASE = {"mixed": "zh"}  # "mixed" = a Mandarin voice reading mixed text

HYPHEN_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
COMMAS = re.compile("[,，、]")
WHITESPACE = re.compile(r"\s+")


class CaseFileError(ValueError):
    """A case file that cannot be read or has the wrong shape."""


def canon(text: str) -> str:
    """The comparison rule of frontend-cases.md, step by step."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = HYPHEN_BETWEEN_LETTERS.sub(" ", text)
    text = COMMAS.sub("", text)
    text = WHITESPACE.sub(" ", text)
    kept = [
        char
        for index, char in enumerate(text)
        if not (
            char == " "
            and ((index > 0 and is_wide(text[index - 1])) or (index + 1 < len(text) and is_wide(text[index + 1])))
        )
    ]
    return "".join(kept).strip()


def check_file(path: Path, frontend: TextFrontend) -> tuple[dict[str, Any], bool]:
    """The report object and whether the file passes."""
    if path.suffix == ".tsv":
        return check_normalization(read_tsv(path), frontend)
    if path.suffix == ".json":
        return check_token_ids(read_token_cases(path), frontend)
    raise CaseFileError(f"{path}: expected a .tsv (normalisation) or .json (token ids) case file")


def read_tsv(path: Path) -> list[tuple[str, str, str]]:
    rows = list(csv.reader(_read_text(path).splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    cases = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3:
            raise CaseFileError(
                f"{path}:{number}: expected 3 tab-separated columns (lang, input, expected), got {len(row)}"
            )
        cases.append((row[0].strip(), row[1], row[2]))
    return cases


def read_token_cases(path: Path) -> list[tuple[str, list[int]]]:
    try:
        data = json.loads(_read_text(path))
        return [(case["text"], [int(i) for i in case["ids"]]) for case in data["cases"]]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise CaseFileError(f'{path}: not a tokenizer case file ({{"cases": [{{"text", "ids"}}]}}): {error}') from error


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CaseFileError(f"cannot read {path}: {error}") from error


def check_normalization(cases: list[tuple[str, str, str]], frontend: TextFrontend) -> tuple[dict[str, Any], bool]:
    results = []
    for lang, text, expected in cases:
        language = LANGUAGE_OF_CASE.get(lang, lang)
        try:
            got = frontend.normalize(text, language)
        except ValueError as error:
            got = f"error: {error}"
        results.append(
            {"lang": lang, "input": text, "expected": expected, "got": got, "ok": canon(got) == canon(expected)}
        )
    passed = sum(case["ok"] for case in results)
    report = {"passed": passed, "total": len(results), "cases": results}
    return report, bool(results) and passed / len(results) >= PASS_RATE


def check_token_ids(cases: list[tuple[str, list[int]]], frontend: TextFrontend) -> tuple[dict[str, Any], bool]:
    results = []
    for text, ids in cases:
        got = frontend.tokenizer.encode_reference(text)
        results.append({"text": text, "ids": ids, "got": got, "ok": got == ids})
    passed = sum(case["ok"] for case in results)
    return {"passed": passed, "total": len(results), "cases": results}, bool(results) and passed == len(results)
