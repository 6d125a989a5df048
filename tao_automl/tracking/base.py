"""The tracker interface: a runner listener that feeds an experiment tracker from a worker thread.

A tracker talks to services and writes files that the study does not depend on, so it must never
slow the runner's loop nor stop it: events are queued and handled on one background thread, the
first error is logged once and the tracker then drops its remaining events while the run goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

logger = logging.getLogger(__name__)

#: Events after which the runner sends nothing more (``aborted``: the run raised).
TERMINAL_EVENTS = frozenset({"finished", "aborted"})
_STOP = object()


class Tracker:
    """Base of every tracker; subclasses set ``name`` and implement :meth:`handle` and :meth:`close_backend`.

    The runner calls the tracker with ``(event, data)`` for every event of ``AutoMLRunner.notify``
    (started, recommendation, submitted, metric, retry, result, final_evaluation, finished,
    aborted). ``handle`` runs on the worker thread, in event order; ``close_backend`` runs once on
    that thread after the last event, even after an error, to release runs and services.
    """

    name = "tracker"
    #: Seconds a terminal event waits for the queue to drain before the runner returns without it.
    drain_timeout = 120.0

    def __init__(self) -> None:
        self.failed: str | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name=f"tracker-{self.name}", daemon=True)
        self._thread.start()

    def handle(self, event: str, data: dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def setup(self) -> None:
        """Slow preparation (importing a client, connecting); called first, on the worker thread."""

    def close_backend(self) -> None:
        """Finish whatever is open; called once, last, on the worker thread."""

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        """Queue an event (never blocks, never raises) and, after a terminal one, wait for the drain."""
        if not self._thread.is_alive():
            return
        self._queue.put((event, data))
        if event in TERMINAL_EVENTS:
            self.close()

    def close(self) -> None:
        """Stop after the queued events; waits at most ``drain_timeout`` seconds."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(self.drain_timeout)
            if self._thread.is_alive():
                logger.warning("%s tracker still busy after %.0fs; the run goes on without it", self.name,
                               self.drain_timeout)  # fmt: skip

    def _work(self) -> None:
        self._guarded(self.setup)
        while (item := self._queue.get()) is not _STOP:
            if self.failed is None:
                self._guarded(self.handle, *item)
        self._guarded(self.close_backend)

    def _guarded(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a tracker never breaks a run: logged once, then it stops
            if self.failed is None:
                self.failed = f"{type(exc).__name__}: {exc}"
                logger.warning("%s tracking failed and is off for the rest of this run: %s", self.name,
                               self.failed, exc_info=True)  # fmt: skip
