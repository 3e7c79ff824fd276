"""WAV containers for the PCM audio the server sends.

Owns: a complete WAV file for one-shot results, and the header that starts a streamed WAV whose length is not
known yet (frame count 0, as Home Assistant's own Wyoming client streams it).
"""

from __future__ import annotations

import io
import wave

from wyoming.audio import AudioFormat


def wav_bytes(audio_format: AudioFormat, pcm: bytes = b"") -> bytes:
    """A WAV file holding `pcm`; with no `pcm`, the header of a stream of unknown length."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as writer:
            writer.setframerate(audio_format.rate)
            writer.setsampwidth(audio_format.width)
            writer.setnchannels(audio_format.channels)
            writer.writeframes(pcm)
        return buffer.getvalue()
