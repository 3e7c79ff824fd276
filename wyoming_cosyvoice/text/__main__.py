"""Try the text frontend: `python -m wyoming_cosyvoice.text "text" [--lang zh] [--json]` prints the language runs,
the normalised text and each segment with its token ids; `--check FILE` scores a case file (.tsv normalisation
cases or .json tokenizer cases) and prints one JSON object (see ../shared/frontend-cases.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .check import CaseFileError, check_file
from .frontend import TextFrontend
from .languages import LANGUAGES, language_runs
from .sanitize import clean_input


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wyoming_cosyvoice.text", description=__doc__)
    parser.add_argument("text", nargs="?", help="text to process ('-' or nothing: read standard input)")
    parser.add_argument("--lang", default="en", choices=LANGUAGES, help="the voice's language (default: en)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of readable lines")
    parser.add_argument("--check", type=Path, metavar="FILE", help="score a .tsv or .json case file")
    return parser


def describe(text: str, language: str, frontend: TextFrontend) -> dict[str, object]:
    runs = language_runs(clean_input(text), language)
    segments = frontend.segments(text, language)
    return {
        "language": language,
        "runs": [{"language": run.language, "text": run.text} for run in runs],
        "normalized": frontend.normalize(text, language),
        "segments": [{"text": s.text, "token_ids": s.token_ids} for s in segments],
    }


def print_readable(result: dict[str, object]) -> None:
    runs = result["runs"]
    assert isinstance(runs, list)
    print("runs:       " + " | ".join(f"[{run['language']}] {run['text']}" for run in runs))
    print(f"normalized: {result['normalized']}")
    segments = result["segments"]
    assert isinstance(segments, list)
    if not segments:
        print("(nothing to speak)")
    for number, segment in enumerate(segments, start=1):
        print(f"segment {number} ({len(segment['token_ids'])} tokens): {segment['text']}")
        print(f"  ids: {segment['token_ids']}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    frontend = TextFrontend()
    if args.check is not None:
        try:
            report, passed = check_file(args.check, frontend)
        except CaseFileError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(json.dumps(report, ensure_ascii=False))
        return 0 if passed else 1
    text = sys.stdin.read() if args.text in (None, "-") else args.text
    result = describe(text, args.lang, frontend)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_readable(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
