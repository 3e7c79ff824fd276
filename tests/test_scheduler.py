"""The compute thread: fairness, admission, back-pressure, idling for input, cancellation, failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from wyoming_cosyvoice.scheduler import ComputeScheduler


def counting(label: str, steps: int, log: list[str]):
    def work(cancel: threading.Event) -> Iterator[bytes]:
        for i in range(steps):
            log.append(label)
            yield f"{label}{i};".encode()

    return work


async def collect(job) -> bytes:
    return b"".join([chunk async for chunk in job.chunks()])


@pytest.fixture
def scheduler():
    schedulers: list[ComputeScheduler] = []

    def make(**kwargs) -> ComputeScheduler:
        schedulers.append(ComputeScheduler(**kwargs))
        return schedulers[-1]

    yield make
    for s in schedulers:
        s.shutdown()


def test_jobs_take_turns(scheduler):
    async def main():
        sched = scheduler(max_concurrent=2)
        log: list[str] = []
        gate = threading.Event()

        def gated(cancel):
            gate.wait(5)
            yield b""
            yield from counting("a", 4, log)(cancel)

        first = sched.submit(gated)
        second = sched.submit(counting("b", 4, log))
        gate.set()
        a, b = await asyncio.gather(collect(first), collect(second))
        assert a == b"a0;a1;a2;a3;" and b == b"b0;b1;b2;b3;"
        # round-robin: neither job runs all its steps while the other waits
        assert "".join(log) not in ("aaaabbbb", "bbbbaaaa")

    asyncio.run(main())


def test_admission_limit_runs_later_jobs_in_turn(scheduler):
    async def main():
        sched = scheduler(max_concurrent=1)
        log: list[str] = []
        jobs = [sched.submit(counting(label, 3, log)) for label in "xyz"]
        await asyncio.gather(*(collect(j) for j in jobs))
        assert "".join(log) == "xxxyyyzzz"

    asyncio.run(main())


def test_back_pressure_bounds_buffered_audio(scheduler):
    async def main():
        sched = scheduler(max_concurrent=1, max_buffered_chunks=3)
        produced = 0

        def endless(cancel):
            nonlocal produced
            while True:
                produced += 1
                yield b"x"

        job = sched.submit(endless)
        received = 0
        async for _ in job.chunks():
            received += 1
            await asyncio.sleep(0.01)
            assert produced <= received + 3 + 1
            if received == 20:
                job.cancel()
                break

    asyncio.run(main())


def test_cancel_closes_work_promptly(scheduler):
    async def main():
        sched = scheduler(max_concurrent=1)
        closed = threading.Event()
        cancel_seen = threading.Event()

        def endless(cancel):
            try:
                while True:
                    if cancel.is_set():
                        cancel_seen.set()
                    yield b"."
            finally:
                closed.set()

        job = sched.submit(endless)
        async for _ in job.chunks():
            break
        job.cancel()
        assert await asyncio.to_thread(closed.wait, 5)
        # the next request gets the slot
        assert await collect(sched.submit(counting("n", 2, []))) == b"n0;n1;"

    asyncio.run(main())


def test_idle_work_waits_for_wake(scheduler):
    async def main():
        sched = scheduler(max_concurrent=1)
        inbox: list[bytes] = []
        polls = 0

        def listener(cancel):
            nonlocal polls
            while True:
                polls += 1
                if not inbox:
                    yield None
                    continue
                item = inbox.pop(0)
                if item == b"end":
                    return
                yield item

        job = sched.submit(listener)
        await asyncio.sleep(0.2)
        assert polls == 1  # parked, not spinning
        inbox.extend([b"hello", b"end"])
        job.wake()
        assert await collect(job) == b"hello"

    asyncio.run(main())


def test_failure_reaches_the_request(scheduler):
    async def main():
        sched = scheduler(max_concurrent=1)

        def broken(cancel):
            yield b"ok"
            raise RuntimeError("model exploded")

        job = sched.submit(broken)
        with pytest.raises(RuntimeError, match="model exploded"):
            await collect(job)
        assert await collect(sched.submit(counting("k", 1, []))) == b"k0;"

    asyncio.run(main())


def test_calls_run_on_the_compute_thread_and_raise_there_errors(scheduler):
    """Loading and warm-up go through `call`: the same thread as every job's steps (one OpenMP pool)."""

    async def main():
        sched = scheduler(max_concurrent=1)
        step_threads: list[int] = []

        def work(cancel):
            step_threads.append(threading.get_ident())
            yield b"x"

        call_thread = await sched.call(threading.get_ident)
        assert await collect(sched.submit(work)) == b"x"
        assert step_threads == [call_thread] and call_thread != threading.get_ident()

        def broken_load():
            raise SystemExit("Cannot load the model: missing llm.pt")

        with pytest.raises(SystemExit, match="missing llm.pt"):
            await sched.call(broken_load)
        assert await sched.call(lambda: 42) == 42  # the thread survives a failed call

    asyncio.run(main())
