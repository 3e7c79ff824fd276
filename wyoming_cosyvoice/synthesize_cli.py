"""`wyoming-cosyvoice synthesize "text" -o out.wav`: speech to a file or to stdout, without a server.

Owns: the command's options, the audio sinks (WAV written as it is computed, MP3/OGG/FLAC through pydub, which
needs ffmpeg, raw 16-bit PCM to stdout with `-o -`), the progress line on long text, and turning every expected
failure into one clear message and exit status 2 (bad request) or 1 (cannot write).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from .options import add_model_arguments, load_synthesizer
from .synthesizer import MAX_SPEED, MIN_SPEED, SegmentFeed, Synthesizer, check_speed
from .voices import DEFAULT_VOICE, VOICES, UnknownVoiceError, VoiceChoice, choose_voice, find_voice, frontend_language

SAMPLE_WIDTH = 2
COMPRESSED_FORMATS = {".mp3": "mp3", ".ogg": "ogg", ".flac": "flac"}
PROGRESS_MIN_CHARACTERS = 200  # shorter texts finish too quickly for a progress line to help
BAD_REQUEST, CANNOT_WRITE, INTERRUPTED = 2, 1, 130


class OutputError(Exception):
    """The output cannot be written as asked."""


class AudioSink(Protocol):
    """Where PCM goes: written piece by piece, then closed."""

    def write(self, pcm: bytes) -> None: ...

    def close(self) -> None: ...


class RawSink:
    """Raw little-endian 16-bit mono PCM on stdout, flushed per chunk (for pipes into players)."""

    def write(self, pcm: bytes) -> None:
        sys.stdout.buffer.write(pcm)
        sys.stdout.buffer.flush()

    def close(self) -> None:
        sys.stdout.buffer.flush()


class WavSink:
    """A WAV file written as the audio is computed (the header is completed on close)."""

    def __init__(self, path: str, rate: int) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115
        self._wav.setnchannels(1)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(rate)

    def write(self, pcm: bytes) -> None:
        self._wav.writeframes(pcm)

    def close(self) -> None:
        self._wav.close()
        self._file.close()


class CompressedSink:
    """MP3/OGG/FLAC through pydub and ffmpeg: the audio is collected and encoded at the end."""

    def __init__(self, path: str, rate: int, audio_format: str) -> None:
        Path(path).touch()  # fail now, not after the synthesis, when the file cannot be created
        self._path, self._rate, self._format = path, rate, audio_format
        self._pieces: list[bytes] = []

    def write(self, pcm: bytes) -> None:
        self._pieces.append(pcm)

    def close(self) -> None:
        from pydub import AudioSegment

        audio = AudioSegment(data=b"".join(self._pieces), sample_width=SAMPLE_WIDTH, frame_rate=self._rate, channels=1)
        try:
            audio.export(self._path, format=self._format)
        except Exception as error:  # noqa: BLE001 - pydub raises its own and ffmpeg's failures in many forms
            raise OutputError(f"ffmpeg could not write {self._path}: {error}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wyoming-cosyvoice synthesize", description=__doc__.splitlines()[0])
    parser.add_argument("text", help="text to speak; '-' reads it from stdin")
    parser.add_argument("-o", "--output", default="out.wav", help=".wav/.mp3/.ogg/.flac file, or - for raw PCM")
    parser.add_argument("--voice", default=DEFAULT_VOICE, help=f"one of: {', '.join(v.name for v in VOICES)}")
    parser.add_argument("--language", help="language of the text when it differs from the voice's (zh, en, …)")
    parser.add_argument("--speed", type=_speed, default=1.0, help=f"speaking rate, {MIN_SPEED}–{MAX_SPEED}")
    add_model_arguments(parser)
    return parser


def _speed(value: str) -> float:
    try:
        return check_speed(float(value))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error) if "between" in str(error) else f"not a number: {value!r}")


def check_output(output: str) -> str | None:
    """The pydub format for a compressed output, None for WAV / raw; errors before any computation."""
    if output == "-":
        return None
    path = Path(output)
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {output}: folder {path.parent} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".wav":
        return None
    if suffix not in COMPRESSED_FORMATS:
        raise OutputError(f"unsupported output format {suffix or output!r}: use .wav, .mp3, .ogg, .flac or -")
    if shutil.which("ffmpeg") is None:
        raise OutputError(f"writing {suffix} needs ffmpeg, which is not installed; install it or write a .wav file")
    return COMPRESSED_FORMATS[suffix]


def open_sink(output: str, rate: int, compressed: str | None) -> AudioSink:
    if output == "-":
        return RawSink()
    if compressed is None:
        return WavSink(output, rate)
    return CompressedSink(output, rate, compressed)


def choose(args: argparse.Namespace) -> VoiceChoice:
    if args.language and frontend_language(args.language) is None:
        raise UnknownVoiceError(f"Unsupported language {args.language!r}. Supported: zh, yue (zh-HK), en, ja, ko")
    default = find_voice(DEFAULT_VOICE)
    assert default is not None
    return choose_voice(args.voice, None, args.language, default)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return synthesize(args)
    except KeyboardInterrupt:
        return fail("interrupted", INTERRUPTED)


def synthesize(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        compressed = check_output(args.output)
        choice = choose(args)
    except (OutputError, UnknownVoiceError) as error:
        return fail(error, BAD_REQUEST)
    synthesizer = load_synthesizer(args)
    segments = synthesizer.segments(text, choice.language)
    if not segments:
        return fail("the text contains nothing that can be spoken", BAD_REQUEST)
    try:
        work = synthesizer.synthesize_segments(
            SegmentFeed(segments, closed=True), choice.voice.speaker, args.speed, threading.Event()
        )
    except ValueError as error:  # the model lacks the voice's speaker
        return fail(error, BAD_REQUEST)
    try:
        sink = open_sink(args.output, synthesizer.sample_rate, compressed)
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}", CANNOT_WRITE)
    return run(work, sink, synthesizer, args.output, show_progress=len(text) > PROGRESS_MIN_CHARACTERS)


def run(
    work: Iterator[bytes | None], sink: AudioSink, synthesizer: Synthesizer, output: str, show_progress: bool
) -> int:
    """Drain the synthesis into the sink; the progress line goes to a terminal's stderr only."""
    show_progress = show_progress and sys.stderr.isatty()
    started = time.perf_counter()
    samples = 0
    try:
        for pcm in work:
            if not pcm:
                continue
            sink.write(pcm)
            samples += len(pcm) // SAMPLE_WIDTH
            if show_progress:
                print(f"\r{progress(samples, synthesizer.sample_rate, started)}", end="", file=sys.stderr)
        sink.close()
    except BrokenPipeError:  # the reader of stdout went away: stop quietly, also at interpreter exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CANNOT_WRITE
    except (OSError, OutputError) as error:
        return fail(f"cannot write {output}: {getattr(error, 'strerror', None) or error}", CANNOT_WRITE)
    if show_progress:
        print(file=sys.stderr)
    if output != "-":
        print(f"wrote {output}: {progress(samples, synthesizer.sample_rate, started)}", file=sys.stderr)
    return 0


def progress(samples: int, rate: int, started: float) -> str:
    return f"{samples / rate:.1f} s of audio in {time.perf_counter() - started:.1f} s"


def fail(error: object, status: int) -> int:
    print(f"error: {error}", file=sys.stderr)
    return status
