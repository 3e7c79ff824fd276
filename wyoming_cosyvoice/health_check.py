"""`python -m wyoming_cosyvoice.health_check`: one describe → info round trip (Docker HEALTHCHECK).

Exits 0 when the server answers with a TTS program within the timeout, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from wyoming.client import AsyncClient
from wyoming.info import Describe, Info


async def describe(uri: str, timeout: float) -> Info:
    """Ask the server at `uri` to describe itself."""
    async def round_trip() -> Info:
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise ConnectionError("the server closed the connection without answering")
                if Info.is_type(event.type):
                    return Info.from_event(event)

    return await asyncio.wait_for(round_trip(), timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wyoming_cosyvoice.health_check", description=__doc__)
    parser.add_argument("--uri", default="tcp://127.0.0.1:10200")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    try:
        info = asyncio.run(describe(args.uri, args.timeout))
    except (TimeoutError, OSError, ValueError) as err:
        print(f"unhealthy: {args.uri}: {err or type(err).__name__}", file=sys.stderr)
        return 1
    if not any(program.installed for program in info.tts):
        print(f"unhealthy: {args.uri} offers no text-to-speech program", file=sys.stderr)
        return 1
    voices = sum(len(program.voices) for program in info.tts)
    print(f"healthy: {args.uri} ({voices} voices)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
