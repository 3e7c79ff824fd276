"""`wyoming-cosyvoice synthesize "text" -o out.wav`: speech to a file or to stdout, without a server.

Owns: the command's options, writing WAV directly and MP3/OGG/FLAC through pydub (which needs ffmpeg), raw
16-bit PCM to stdout with `-o -`, and the progress line on long text.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
import wave
from pathlib import Path

from .options import add_model_arguments, load_synthesizer
from .synthesizer import SegmentFeed
from .voices import DEFAULT_VOICE, VOICES, UnknownVoiceError, choose_voice, find_voice

SAMPLE_WIDTH = 2
COMPRESSED_FORMATS = {".mp3": "mp3", ".ogg": "ogg", ".flac": "flac"}


class OutputError(Exception):
    """The output cannot be written as asked."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wyoming-cosyvoice synthesize", description=__doc__.splitlines()[0])
    parser.add_argument("text", help="text to speak; '-' reads it from stdin")
    parser.add_argument("-o", "--output", default="out.wav", help=".wav/.mp3/.ogg/.flac file, or - for raw PCM")
    parser.add_argument("--voice", default=DEFAULT_VOICE, help=f"one of: {', '.join(v.name for v in VOICES)}")
    parser.add_argument("--language", help="language of the text when it differs from the voice's (zh, en, …)")
    parser.add_argument("--speed", type=float, default=1.0, help="speaking rate, 0.5–2.0")
    add_model_arguments(parser)
    return parser


def check_output(output: str) -> str | None:
    """The pydub format for a compressed output, None for WAV / raw; errors before any computation."""
    if output == "-":
        return None
    suffix = Path(output).suffix.lower()
    if suffix == ".wav":
        return None
    if suffix not in COMPRESSED_FORMATS:
        raise OutputError(f"unsupported output format {suffix or output!r}: use .wav, .mp3, .ogg, .flac or -")
    if shutil.which("ffmpeg") is None:
        raise OutputError(f"writing {suffix} needs ffmpeg, which is not installed; install it or write a .wav file")
    return COMPRESSED_FORMATS[suffix]


def write_audio(pcm: bytes, output: str, rate: int, compressed: str | None) -> None:
    if output == "-":
        sys.stdout.buffer.write(pcm)
        sys.stdout.buffer.flush()
        return
    if compressed is None:
        with wave.open(output, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(SAMPLE_WIDTH)
            wav.setframerate(rate)
            wav.writeframes(pcm)
        return
    from pydub import AudioSegment

    AudioSegment(data=pcm, sample_width=SAMPLE_WIDTH, frame_rate=rate, channels=1).export(output, format=compressed)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        compressed = check_output(args.output)
        default = find_voice(DEFAULT_VOICE)
        assert default is not None
        choice = choose_voice(args.voice, None, args.language, default)
    except (OutputError, UnknownVoiceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    synthesizer = load_synthesizer(args)
    segments = synthesizer.segments(text, choice.language)
    if not segments:
        print("error: the text contains nothing that can be spoken", file=sys.stderr)
        return 2

    started = time.perf_counter()
    pieces: list[bytes] = []
    audio_bytes = 0
    show_progress = len(text) > 200 and sys.stderr.isatty()
    feed = SegmentFeed(segments, closed=True)
    for pcm in synthesizer.synthesize_segments(feed, choice.voice.speaker, args.speed, threading.Event()):
        if not pcm:
            continue
        audio_bytes += len(pcm)
        if args.output == "-":
            write_audio(pcm, "-", synthesizer.sample_rate, None)
        else:
            pieces.append(pcm)
        if show_progress:
            seconds = audio_bytes / SAMPLE_WIDTH / synthesizer.sample_rate
            print(f"\r{seconds:.1f} s of audio after {time.perf_counter() - started:.1f} s", end="", file=sys.stderr)
    if show_progress:
        print(file=sys.stderr)
    if args.output != "-":
        write_audio(b"".join(pieces), args.output, synthesizer.sample_rate, compressed)
        seconds = audio_bytes / SAMPLE_WIDTH / synthesizer.sample_rate
        print(
            f"wrote {args.output}: {seconds:.1f} s of audio in {time.perf_counter() - started:.1f} s", file=sys.stderr
        )
    return 0
