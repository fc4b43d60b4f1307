"""Recording off the caller's path: the background writer behind :meth:`Tracker.defer`.

A framework plugin that records a ``fit`` reads, on the caller's thread, only
what may change once ``fit`` returns: the hyperparameters (``get_params``), the
fitted state (the transformation DAG), the identity of the data (its
fingerprint) and a bounded sample of it for statistics. It builds the entities
there, with their final ids, so that what it returns to the user is what will
be stored. Everything else (computing statistics from the copied sample, JSON,
content hashes, the store's transaction, observers, ending the run) is handed
to one background thread per tracker, which runs the work in the order it was
deferred, so a model is written after the dataset it was trained on.

Consistency: every tracker call that reads or writes the store first waits
until the work deferred before it is done, so a program (or a test) that asks
right after a fit sees the fit's records. :meth:`Tracker.flush` waits
explicitly; :meth:`Tracker.close` and interpreter exit wait too.

Failure policy (that of :meth:`Tracker.implicit`): deferred work never raises
into the program. A failing item is reported as one
:class:`~mltrack_core.errors.TrackingWarning` naming what was not recorded, on
the caller's thread at its next call to the tracker (or at close or exit);
later items still run. At most :data:`MAX_PENDING` items wait at a time: a
program that records faster than the store writes waits for it, instead of
holding an unbounded number of data samples in memory.
"""

from __future__ import annotations

import atexit
import collections
import os
import threading
import warnings
import weakref
from collections.abc import Callable

from mltrack_core.errors import TrackingWarning

__all__ = ["DeferredWriter"]

MAX_PENDING = 32
"""Most deferred items waiting at once; deferring one more waits until one is done."""
IDLE_SECONDS = 2.0
"""The background thread ends after this long without work (a new item starts it again)."""
FLUSH_TIMEOUT_SECONDS = 60.0
"""How long closing a tracker (or the interpreter's exit) waits for deferred work."""

_writers: weakref.WeakSet[DeferredWriter] = weakref.WeakSet()


class DeferredWriter:
    """The background thread of one tracker that runs deferred recording work, in order.

    Work items are callables taking no argument; their result is ignored. See
    the module's documentation for the consistency and failure rules.
    """

    def __init__(self) -> None:
        self._reset()
        _writers.add(self)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._queue: collections.deque[tuple[str, Callable[[], object]]] = collections.deque()
        self._pending = 0  # items queued or running
        self._thread: threading.Thread | None = None
        self._failures: list[str] = []

    # ------------------------------------------------------------ the caller's side

    def submit(self, what: str, work: Callable[[], object]) -> None:
        """Run ``work`` in the background after the work submitted before; ``what`` names it in failure reports."""
        self.report()
        with self._condition:
            while self._pending >= MAX_PENDING and not self.on_writer_thread():
                self._condition.wait()
            self._queue.append((what, work))
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mltrack-deferred", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def on_writer_thread(self) -> bool:
        """Whether the caller is the background thread itself (which never waits for its own queue)."""
        return threading.current_thread() is self._thread

    @property
    def idle(self) -> bool:
        """Nothing is waiting or running."""
        return self._pending == 0

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the work submitted so far is done (at once on the writer thread); False if ``timeout`` passed."""
        if not self._pending or self.on_writer_thread():
            return True
        with self._condition:
            return self._condition.wait_for(lambda: self._pending == 0, timeout)

    def settle(self, timeout: float | None = None) -> bool:
        """:meth:`wait`, then report the failures (on the caller's thread: call it from the program's side)."""
        done = self.wait(timeout)
        self.report()
        return done

    def report(self) -> None:
        """Warn about the deferred work that failed since the last report (one warning each)."""
        if not self._failures or self.on_writer_thread():
            return
        with self._condition:
            failures, self._failures = self._failures, []
        for failure in failures:
            warnings.warn(f"mltrack: {failure}", TrackingWarning, stacklevel=4)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            with self._condition:
                if not self._queue and not self._condition.wait_for(lambda: bool(self._queue), IDLE_SECONDS):
                    self._thread = None  # idle: end; the next submit starts a new thread
                    return
                what, work = self._queue.popleft()
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - the failure policy: report, never break the program
                with self._condition:
                    self._failures.append(f"{what} was not recorded: {type(exc).__name__}: {exc}")
            finally:
                del work  # let go of the item (and the data sample it holds) before waiting for the next one
                with self._condition:
                    self._pending -= 1
                    self._condition.notify_all()


def _settle_all_at_exit() -> None:
    for writer in list(_writers):
        writer.settle(FLUSH_TIMEOUT_SECONDS)


def _forget_all_in_child() -> None:
    """After ``fork``: the parent's queue and thread do not exist in the child; start empty."""
    for writer in list(_writers):
        writer._reset()


atexit.register(_settle_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_in_child)
