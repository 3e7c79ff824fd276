"""Download progress for people watching a log (the Home Assistant add-on log has no progress bars).

Owns: counting downloaded bytes across all files, logging bytes, percentage, rate and time left at a calm pace,
and the small adapter that lets huggingface_hub report into the same counter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Self

_LOGGER = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0


def format_bytes(count: float) -> str:
    """1536 → '1.5 KiB'; binary units, one decimal."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """95 → '1 min 35 s'."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


class DownloadProgress:
    """Counts the bytes of one model download and logs how far it is, at most once per `interval` seconds.

    Thread-safe: huggingface_hub may report from a worker thread.
    """

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        logger: logging.Logger = _LOGGER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._logger = logger
        self._clock = clock
        self._lock = threading.Lock()
        self.total = 0
        self.done = 0
        self._resumed_from = 0
        self._started = 0.0
        self._last_log = 0.0

    def start(self, total: int, already: int = 0) -> None:
        """A download of `total` bytes begins, `already` of them on disk from an earlier attempt."""
        with self._lock:
            self.total, self.done, self._resumed_from = total, already, already
            self._started = self._last_log = self._clock()
        if already:
            self._logger.info("%s of %s already on disk", format_bytes(already), format_bytes(total))

    def advance(self, count: int) -> None:
        """`count` more bytes arrived (negative when a restarted transfer throws bytes away)."""
        with self._lock:
            self.done += count
            now = self._clock()
            if now - self._last_log < self._interval:
                return
            self._last_log = now
            line = self._line(now)
        self._logger.info("%s", line)

    def finish(self) -> None:
        with self._lock:
            elapsed = max(self._clock() - self._started, 1e-9)
            fetched = self.done - self._resumed_from
        self._logger.info(
            "Downloaded %s in %s (%s/s)",
            format_bytes(fetched),
            format_duration(elapsed),
            format_bytes(fetched / elapsed),
        )

    def _line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = (self.done - self._resumed_from) / elapsed
        percent = 100.0 * self.done / self.total if self.total else 100.0
        left = f", about {format_duration((self.total - self.done) / rate)} left" if rate > 0 else ""
        return (
            f"Downloading model: {format_bytes(self.done)} of {format_bytes(self.total)} ({percent:.0f}%) "
            f"at {format_bytes(rate)}/s{left}"
        )


class _HubProgressBar:
    """Stands in for the tqdm bar huggingface_hub opens per file; forwards written bytes to a DownloadProgress.

    It offers `update_transfer`, so huggingface_hub treats it as one combined bar and reports each byte once.
    """

    progress: DownloadProgress

    def __init__(self, **options: Any) -> None:
        self.n = 0
        self.total = options.get("total")

    def update(self, count: float = 1) -> None:
        self.n += int(count)
        self.progress.advance(int(count))

    def update_transfer(self, count: float = 1) -> None:
        """Network bytes before decompression/deduplication: the written bytes are what we count."""

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        """No bar is drawn."""

    set_transfer_postfix_str = set_postfix_str
    refresh = set_postfix_str
    close = set_postfix_str

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def hub_progress_bar_class(progress: DownloadProgress) -> type:
    """A bar class for huggingface_hub's `tqdm_class` argument that reports into `progress`."""
    return type("HubProgressBar", (_HubProgressBar,), {"progress": progress})
