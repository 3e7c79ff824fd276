"""Talking to a wyoming-cosyvoice server over TCP with the `wyoming` package's async client.

Owns: opening a connection, reading events under a deadline, turning a server `error` event, a closed
connection or silence into a `CosyVoiceError` with a readable text, and the `describe` → `info` round trip
that tells a CosyVoice TTS server from anything else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info, TtsProgram

from .const import CONNECT_TIMEOUT, PROGRAM_NAME


class CosyVoiceError(Exception):
    """Something went wrong talking to the server; the text says what, for the user."""


class ServerUnreachable(CosyVoiceError):
    """No connection could be made, or the server did not answer `describe`."""


class NotCosyVoice(CosyVoiceError):
    """The server answered, but offers no CosyVoice text-to-speech program."""


class ServerReportedError(CosyVoiceError):
    """The server sent an `error` event."""


class Deadline:
    """When the server must have sent its next event; extended by progress, suspended while we wait for text.

    Progress (text sent, audio received) pushes the deadline back; while the text stream itself is waiting
    for Home Assistant (an LLM still thinking), the server is not late, so the deadline is on hold.
    """

    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds
        self._held = False
        self.changed = asyncio.Event()
        """Set when the deadline moves; a reader waiting on it re-reads `remaining()`."""

    def extend(self, seconds: float) -> None:
        """Allow at least `seconds` more from now."""
        self._at = max(self._at, time.monotonic() + seconds)
        self.changed.set()

    def restart(self, seconds: float) -> None:
        """Allow exactly `seconds` from now (after audio arrived: the next chunk is due soon)."""
        self._at = time.monotonic() + seconds
        self.changed.set()

    def remaining(self) -> float | None:
        """Seconds left; None while on hold."""
        return None if self._held else self._at - time.monotonic()

    async def held_while(self, stream: AsyncIterator[str]) -> AsyncIterator[str]:
        """The items of `stream`; the deadline is on hold while each one is awaited."""
        iterator = aiter(stream)
        while True:
            self._held = True
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            finally:
                self._held = False
                self.changed.set()
            yield item


class ServerConnection:
    """One TCP connection to the server: sends events, reads them under a `Deadline`."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._client = AsyncTcpClient(host, port)
        self._pending_read: asyncio.Task[Event | None] | None = None

    async def __aenter__(self) -> Self:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self._client.connect()
        except (OSError, TimeoutError) as err:
            raise ServerUnreachable(f"cannot connect to {self.host}:{self.port}: {err or 'timed out'}") from err
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._pending_read is not None:
            self._pending_read.cancel()
            await asyncio.gather(self._pending_read, return_exceptions=True)
            self._pending_read = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):  # a peer that reads nothing must not block us
                await self._client.disconnect()
        except (OSError, TimeoutError):
            pass

    async def send(self, event: Event) -> None:
        try:
            await self._client.write_event(event)
        except OSError as err:
            raise CosyVoiceError(f"connection to {self.host}:{self.port} lost: {err}") from err

    async def receive(self, deadline: Deadline, partner: asyncio.Task[None] | None = None) -> Event:
        """The next event from the server, which must arrive before `deadline`.

        `partner` is a task working on the same connection (the text sender): when it fails, its error is
        raised here instead of waiting for the deadline. A half-read frame is never abandoned while the
        deadline moves: the read task lives on between calls.
        """
        if self._pending_read is None:
            self._pending_read = asyncio.ensure_future(self._client.read_event())
        read = self._pending_read
        while not read.done():
            await self._wait(read, deadline, partner)
            if partner is not None and partner.done() and not partner.cancelled():
                partner.result()  # raises the sender's error, if it had one
        self._pending_read = None
        return self._checked(read)

    async def _wait(
        self, read: asyncio.Future[Event | None], deadline: Deadline, partner: asyncio.Task[None] | None
    ) -> None:
        deadline.changed.clear()
        remaining = deadline.remaining()
        if remaining is not None and remaining <= 0:
            raise CosyVoiceError(f"the server at {self.host}:{self.port} stopped answering (timed out)")
        moved = asyncio.ensure_future(deadline.changed.wait())
        waiting: set[asyncio.Future[object]] = {read, moved}
        if partner is not None and not partner.done():
            waiting.add(partner)
        try:
            await asyncio.wait(waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            moved.cancel()

    def _checked(self, read: asyncio.Future[Event | None]) -> Event:
        """The event read, or the error it stands for."""
        try:
            event = read.result()
        except OSError as err:
            raise CosyVoiceError(f"connection to {self.host}:{self.port} lost: {err}") from err
        if event is None:
            raise CosyVoiceError(f"the server at {self.host}:{self.port} closed the connection")
        if Error.is_type(event.type):
            error = Error.from_event(event)
            code = f" ({error.code})" if error.code else ""
            raise ServerReportedError(f"CosyVoice server error{code}: {error.text}")
        return event


async def async_describe(host: str, port: int) -> Info:
    """The server's `info`, answered within `CONNECT_TIMEOUT`."""
    try:
        async with ServerConnection(host, port) as connection:
            await connection.send(Describe().event())
            deadline = Deadline(CONNECT_TIMEOUT)
            while not Info.is_type((event := await connection.receive(deadline)).type):
                pass
    except ServerUnreachable:
        raise
    except CosyVoiceError as err:
        raise ServerUnreachable(str(err)) from err
    return Info.from_event(event)


def cosyvoice_program(info: Info) -> TtsProgram:
    """The installed CosyVoice TTS program in `info`; `NotCosyVoice` when there is none."""
    for program in info.tts:
        if program.name == PROGRAM_NAME and program.installed:
            return program
    raise NotCosyVoice(f"it offers {_offered(info)}, but no {PROGRAM_NAME!r} text-to-speech program")


def _offered(info: Info) -> str:
    """What a Wyoming service offers, e.g. "asr program 'faster-whisper'"."""
    kinds = ("asr", "tts", "handle", "intent", "wake", "mic", "snd")
    offered = [f"{kind} program {p.name!r}" for kind in kinds for p in getattr(info, kind, None) or []]
    if info.satellite is not None:
        offered.append(f"satellite {info.satellite.name!r}")
    return ", ".join(offered) or "nothing"


async def async_get_program(host: str, port: int) -> TtsProgram:
    """Describe the server and return its CosyVoice program (raises `ServerUnreachable` / `NotCosyVoice`)."""
    return cosyvoice_program(await async_describe(host, port))
