"""Getting the model: `resolve_model_dir` for the server, and the `download` subcommand.

`python -m wyoming_cosyvoice.download` (or `wyoming-cosyvoice download`) finds the model the server would use,
downloading and verifying it when there is none, and prints its folder. The work is done in `model_store`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .model_store.errors import ModelNotFoundError
from .model_store.folders import MODEL_FOLDER_NAME
from .model_store.resolve import SOURCES, resolve_model_dir

__all__ = ["ModelNotFoundError", "add_source_arguments", "build_parser", "main", "resolve_from_args", "resolve_model_dir"]

DEFAULT_DOWNLOAD_DIR = Path("data")


def add_source_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The options that say where the model comes from (read by `resolve_from_args`); every command has them."""
    parser.add_argument(
        "--data-dir",
        action="append",
        type=Path,
        default=[],
        help="a model folder, or a folder holding model folders (repeatable; searched first)",
    )
    parser.add_argument(
        "--download-dir", type=Path, help="where a downloaded model is kept (default: first --data-dir, else ./data)"
    )
    parser.add_argument("--model-source", choices=SOURCES, default="huggingface", help="where to download from")
    parser.add_argument("--model-revision", help="repository revision to download (default: the one we tested)")
    parser.add_argument("--local-files-only", action="store_true", help="never use the network")
    parser.add_argument("--verify", action="store_true", help="re-hash every model file against its manifest")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-cosyvoice download",
        description=f"Download the {MODEL_FOLDER_NAME} model (or check the one already there) and print its folder.",
    )
    add_source_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    return parser


def resolve_from_args(args: argparse.Namespace) -> Path:
    """`resolve_model_dir` driven by the model options every command shares (--data-dir, --download-dir, …)."""
    download_dir = args.download_dir or (args.data_dir[0] if args.data_dir else DEFAULT_DOWNLOAD_DIR)
    return resolve_model_dir(
        args.data_dir,
        download_dir,
        local_files_only=args.local_files_only,
        source=args.model_source,
        revision=args.model_revision,
        verify=args.verify,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s: %(message)s")
    try:
        folder = resolve_from_args(args)
    except ModelNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the next run continues where this one stopped", file=sys.stderr)
        return 130
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
