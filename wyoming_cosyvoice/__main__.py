"""Command line: load the model once, then serve Wyoming clients (or run a subcommand).

Owns: the server's options and their defaults, logging, building the shared server context, the TCP / Unix /
stdio listeners and zeroconf registration. `wyoming-cosyvoice synthesize|download|convert …` hand over to the
module that owns that job.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
import time
from functools import partial
from urllib.parse import urlparse

from wyoming.event import async_get_stdin, async_get_stdout
from wyoming.info import Info, TtsProgram
from wyoming.server import AsyncServer

from . import __version__, openmp  # noqa: F401  (openmp: before torch is imported)
from .handler import MAX_SPEED, MIN_SPEED, CosyVoiceEventHandler, ServerContext
from .options import add_model_arguments, load_synthesizer
from .scheduler import ComputeScheduler
from .voices import ATTRIBUTION, DEFAULT_VOICE, VOICES, Voice, available_voices, find_voice

_LOGGER = logging.getLogger("wyoming_cosyvoice")

SUBCOMMANDS = {
    "synthesize": "wyoming_cosyvoice.synthesize_cli",
    "download": "wyoming_cosyvoice.download",
    "convert": "wyoming_cosyvoice.convert",
}


def _speed(value: str) -> float:
    speed = float(value)
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"must be between {MIN_SPEED} and {MAX_SPEED}")
    return speed


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-cosyvoice",
        description="Wyoming text-to-speech server for CosyVoice-300M-SFT. "
        "Subcommands: synthesize, download, convert (run one with --help for its options).",
    )
    parser.add_argument("--uri", default="tcp://0.0.0.0:10200", help="tcp://HOST:PORT, unix://PATH or stdio://")
    add_model_arguments(parser)
    parser.add_argument(
        "--voice",
        default=DEFAULT_VOICE,
        choices=[v.name for v in VOICES],
        help="voice for requests that name none (default: %(default)s)",
    )
    parser.add_argument("--speed", type=_speed, default=1.0, help="default speaking rate, 0.5–2.0")
    parser.add_argument("--samples-per-chunk", type=_positive, default=1024, help="samples per audio-chunk event")
    parser.add_argument("--no-streaming", action="store_true", help="do not advertise streamed text input")
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const="cosyvoice",
        metavar="NAME",
        help="announce the server as _wyoming._tcp over mDNS (default name: cosyvoice)",
    )
    parser.add_argument(
        "--max-concurrent", type=_positive, default=2, help="requests computed at once; more wait in turn"
    )
    parser.add_argument("--max-text-length", type=_positive, default=20_000, help="characters per request")
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    parser.add_argument("--log-format", default=logging.BASIC_FORMAT, help="format of log messages")
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def build_info(voices: tuple[Voice, ...], streaming: bool) -> Info:
    return Info(
        tts=[
            TtsProgram(
                name="cosyvoice",
                description="CosyVoice-300M-SFT: multilingual speech (Mandarin, Cantonese, English, Japanese, "
                "Korean) on the CPU",
                attribution=ATTRIBUTION,
                installed=True,
                version=__version__,
                voices=[voice.to_info(__version__) for voice in voices],
                supports_synthesize_streaming=streaming,
            )
        ]
    )


async def serve(args: argparse.Namespace) -> None:
    scheduler = ComputeScheduler(max_concurrent=args.max_concurrent)
    try:
        await _serve_with(scheduler, args)
    finally:
        await asyncio.to_thread(scheduler.shutdown)


async def _serve_with(scheduler: ComputeScheduler, args: argparse.Namespace) -> None:
    # Loading and warm-up run on the compute thread too: one thread, one OpenMP pool (see `openmp`).
    synthesizer = await scheduler.call(partial(load_synthesizer, args))
    voices = available_voices(synthesizer.speakers)
    default_voice = find_voice(args.voice, voices)
    if default_voice is None:
        raise SystemExit(f"The model has no speaker for voice {args.voice!r}; it has: {sorted(synthesizer.speakers)}")
    started = time.perf_counter()
    await scheduler.call(synthesizer.warm_up)
    _LOGGER.info("Warmed up in %.1f s", time.perf_counter() - started)
    context = ServerContext(
        synthesizer=synthesizer,
        scheduler=scheduler,
        info=build_info(voices, streaming=not args.no_streaming),
        voices=voices,
        default_voice=default_voice,
        default_speed=args.speed,
        samples_per_chunk=args.samples_per_chunk,
        streaming=not args.no_streaming,
        max_text_chars=args.max_text_length,
    )
    if args.uri.startswith("stdio://"):
        _LOGGER.info("Ready on stdio")
        await CosyVoiceEventHandler(await async_get_stdin(), await async_get_stdout(), context).run()
        return
    server = AsyncServer.from_uri(args.uri)
    if args.zeroconf:
        await register_zeroconf(args.zeroconf, args.uri)
    _LOGGER.info("Ready on %s", args.uri)
    await server.run(partial(CosyVoiceEventHandler, context=context))


async def register_zeroconf(name: str, uri: str) -> None:
    """Announce `_wyoming._tcp` with an address clients can reach (never 0.0.0.0)."""
    from wyoming.zeroconf import register_server

    parsed = urlparse(uri)
    if parsed.scheme != "tcp" or parsed.port is None:
        raise SystemExit("--zeroconf needs a tcp:// URI with a port")
    host = parsed.hostname if parsed.hostname not in ("0.0.0.0", "::", "") else None
    await register_server(name=name, port=parsed.port, host=host)
    _LOGGER.info("Announced %r as _wyoming._tcp on port %s", name, parsed.port)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format=args.log_format)
    _LOGGER.debug(args)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
