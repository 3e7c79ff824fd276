"""One compute thread shared fairly by every synthesis request.

Owns: the thread that runs model inference, admission of at most `max_concurrent` requests (the rest wait in
arrival order), round-robin between admitted requests one work step at a time, back-pressure towards slow
clients, cancellation, and one-off calls such as loading the model (`call`). A single thread means a single
OpenMP pool: two pools waiting against each other on a 2-core machine make both slower than running them one
after the other (see `openmp`), so every piece of tensor work of the server runs here.

A request's work is a generator created on the compute thread. Each `next()` is one bounded step and yields
PCM bytes (audio to send; empty when the step produced none yet), or `None` when it is waiting for more input
(streamed text): it is then parked until `Job.wake()` is called.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)

Work = Iterator["bytes | None"]
WorkFactory = Callable[[threading.Event], Work]
"""Builds the work of a request; the event is set when the request is cancelled."""

_DONE = object()
T = TypeVar("T")


class Job:
    """One request's place in the scheduler: its work, its output queue and its cancellation flag."""

    def __init__(self, factory: WorkFactory, loop: asyncio.AbstractEventLoop, condition: threading.Condition,
                 max_buffered: int) -> None:
        self.cancelled = threading.Event()
        self._factory = factory
        self._work: Work | None = None
        self._loop = loop
        self._condition = condition
        self._output: asyncio.Queue[object] = asyncio.Queue()
        self._max_buffered = max_buffered
        self._buffered = 0
        self._input_version = 0
        self._idle_at_version: int | None = None

    # -- called from the event loop ---------------------------------------------------------------------
    async def chunks(self) -> AsyncIterator[bytes]:
        """The PCM bytes of this request as they are computed; re-raises the work's exception."""
        while True:
            item = await self._output.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            self._consumed()
            yield item

    def cancel(self) -> None:
        """Stop this request: its work is closed at the next step (or never started)."""
        self.cancelled.set()
        with self._condition:
            self._condition.notify()

    def wake(self) -> None:
        """More input has arrived for a request that yielded None."""
        with self._condition:
            self._input_version += 1
            self._condition.notify()

    # -- called on the compute thread, with the scheduler's condition held ------------------------------
    def runnable(self) -> bool:
        if self.cancelled.is_set():
            return True  # so that it is closed promptly
        waiting_for_input = self._idle_at_version == self._input_version
        return not waiting_for_input and self._buffered < self._max_buffered

    def _consumed(self) -> None:
        with self._condition:
            self._buffered -= 1
            self._condition.notify()

    def _emit(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._output.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.cancelled.set()

    # -- called on the compute thread without the lock ----------------------------------------------------
    def step(self) -> bool:
        """Run one step of the work. Returns False when the job has finished."""
        if self.cancelled.is_set():
            self.close()
            return False
        version = self._input_version
        try:
            if self._work is None:
                self._work = self._factory(self.cancelled)
            item = next(self._work)
        except StopIteration:
            self._emit(_DONE)
            return False
        except Exception as err:  # handed to the request's handler, which reports it to its client
            _LOGGER.debug("Synthesis failed", exc_info=True)
            self._emit(err)
            return False
        with self._condition:
            self._idle_at_version = version if item is None else None
            if item:
                self._buffered += 1
        if item:
            self._emit(item)
        return True

    def close(self) -> None:
        if self._work is not None:
            self._work.close()
        self._emit(_DONE)


class ComputeScheduler:
    """The single compute thread: admits jobs in arrival order and runs them round-robin."""

    def __init__(self, max_concurrent: int = 2, max_buffered_chunks: int = 16) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self.max_buffered_chunks = max_buffered_chunks
        self.condition = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._active: deque[Job] = deque()
        self._calls: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="cosyvoice-compute", daemon=True)
        self._thread.start()

    def submit(self, factory: WorkFactory) -> Job:
        """Queue a request's work; call from the event loop."""
        job = Job(factory, asyncio.get_running_loop(), self.condition, self.max_buffered_chunks)
        with self.condition:
            self._waiting.append(job)
            self.condition.notify()
        return job

    async def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the compute thread, before any further work step, and return its result (or raise
        its exception); call from the event loop."""
        future: Future[T] = Future()
        with self.condition:
            if self._stopping:
                raise RuntimeError("the compute scheduler is shut down")
            self._calls.append((function, future))
            self.condition.notify()
        return await asyncio.wrap_future(future)

    @property
    def busy(self) -> int:
        """Requests admitted or waiting."""
        with self.condition:
            return len(self._active) + len(self._waiting)

    def shutdown(self) -> None:
        with self.condition:
            self._stopping = True
            for job in itertools.chain(self._active, self._waiting):
                job.cancelled.set()
            self.condition.notify()
        self._thread.join()

    def _next_job(self) -> Job | None:
        """Wait for a runnable job and rotate it to the back; None when shutting down and idle.
        Pending calls run first."""
        with self.condition:
            while True:
                while self._calls:
                    function, future = self._calls.popleft()
                    self.condition.release()
                    try:
                        _run_call(function, future)
                    finally:
                        self.condition.acquire()
                while self._waiting and len(self._active) < self.max_concurrent:
                    self._active.append(self._waiting.popleft())
                for _ in range(len(self._active)):
                    job = self._active.popleft()
                    self._active.append(job)
                    if job.runnable():
                        return job
                if self._stopping and not self._active:
                    return None
                self.condition.wait()

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            if not job.step():
                with self.condition:
                    self._active.remove(job)


def _run_call(function: Callable[[], T], future: Future[T]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(function())
    except BaseException as err:  # noqa: BLE001 - SystemExit from loading too: re-raised by the caller
        future.set_exception(err)
