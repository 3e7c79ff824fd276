"""`python -m wyoming_cosyvoice synthesize` as a real subprocess on the tiny reference model: WAV files, raw PCM on
stdout, compressed formats with and without ffmpeg, and clear errors for bad requests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXT = "Hello there. The kitchen lights are on."
FAST = ["--flow-steps", "2", "--seed", "3", "--threads", "1"]  # reproducible and quick on the tiny model


def synthesize(
    *arguments: str, model_dir: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    data_dir = [] if model_dir is None else ["--data-dir", str(model_dir), "--local-files-only"]
    return subprocess.run(
        [sys.executable, "-m", "wyoming_cosyvoice", "synthesize", *arguments, *data_dir],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=300,
        env=env,
    )


def no_traceback(result: subprocess.CompletedProcess[bytes]) -> str:
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    return stderr


def test_wav_file_and_raw_stdout_carry_the_same_speech(parity_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.wav"
    to_file = synthesize(TEXT, "-o", str(output), *FAST, model_dir=parity_dir)
    assert to_file.returncode == 0, to_file.stderr.decode()
    assert "wrote" in no_traceback(to_file) and to_file.stdout == b""
    with wave.open(str(output)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (22050, 1, 2)
        frames = wav.readframes(wav.getnframes())
    assert len(frames) // 2 > 22050 and any(frames)

    to_stdout = synthesize(TEXT, "-o", "-", *FAST, model_dir=parity_dir)
    assert to_stdout.returncode == 0, to_stdout.stderr.decode()
    assert to_stdout.stdout == frames  # raw little-endian int16, no header; the same seed gives the same audio


def test_compressed_format_without_ffmpeg_is_refused_before_any_work(parity_dir: Path, tmp_path: Path) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    output = tmp_path / "out.mp3"
    result = synthesize(TEXT, "-o", str(output), model_dir=parity_dir, env={"PATH": str(empty_path)})
    assert result.returncode == 2
    assert "writing .mp3 needs ffmpeg, which is not installed" in no_traceback(result)
    assert not output.exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_mp3_with_ffmpeg_decodes_to_the_same_length(parity_dir: Path, tmp_path: Path) -> None:
    from pydub import AudioSegment

    result = synthesize(TEXT, "-o", str(tmp_path / "out.mp3"), *FAST, model_dir=parity_dir)
    assert result.returncode == 0, result.stderr.decode()
    reference = synthesize(TEXT, "-o", str(tmp_path / "out.wav"), *FAST, model_dir=parity_dir)
    assert reference.returncode == 0, reference.stderr.decode()
    decoded = AudioSegment.from_file(tmp_path / "out.mp3", format="mp3")
    expected = AudioSegment.from_file(tmp_path / "out.wav", format="wav")
    assert decoded.frame_rate == 22050 and decoded.channels == 1
    assert abs(len(decoded) - len(expected)) < 100  # milliseconds: MP3 frames pad the ends


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--voice", "nobody"], "Unknown voice 'nobody'. Available voices: mandarin-female"),
        (["--language", "xx"], "Unsupported language 'xx'"),
        (["--speed", "3"], "speed must be between 0.5 and 2.0, got 3.0"),
        (["-o", "out.aiff"], "unsupported output format '.aiff'"),
        (["-o", "/no/such/folder/out.wav"], "folder /no/such/folder does not exist"),
    ],
)
def test_bad_requests_get_one_clear_message(
    parity_dir: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = synthesize(TEXT, "-o", str(tmp_path / "out.wav"), *arguments, model_dir=parity_dir)
    assert result.returncode == 2
    assert message in no_traceback(result)


def test_text_with_nothing_to_say(parity_dir: Path, tmp_path: Path) -> None:
    result = synthesize("  ...  ", "-o", str(tmp_path / "out.wav"), *FAST, model_dir=parity_dir)
    assert result.returncode == 2
    assert "nothing that can be spoken" in no_traceback(result)
    assert not (tmp_path / "out.wav").exists()
