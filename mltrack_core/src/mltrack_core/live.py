"""Live training runs: logging metrics without blocking the training loop.

:meth:`LiveRun.log` appends a tuple to a queue and returns (a few hundred
nanoseconds); one background thread per tracker drains the queue in batches
into the store. ``flush()`` waits until everything logged so far is durable.
Storage failures never reach the training loop: they are reported as
:class:`~mltrack_core.errors.TrackingWarning` and the points are retried.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import inspect
import operator
import sys
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mltrack_core.errors import (
    MltrackError,
    NotFoundError,
    RunStateError,
    SchemaError,
    StoreError,
    TrackingWarning,
)
from mltrack_core.schema import MAX_COUNT, Model, TrainingRun, TrainingState, metric_name

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["LiveRun"]

WRITE_INTERVAL_SECONDS = 0.25
"""How often the background writer drains the queue."""
MAX_BATCH = 50_000
"""Most points written in one transaction."""
FLUSH_TIMEOUT_SECONDS = 60.0
"""How long ending a run waits for its points to become durable."""
_RETRY_DELAY_MAX_SECONDS = 30.0


class LiveRun:
    """A training run in progress, returned by :meth:`Tracker.track_training`.

    Use it as a context manager (an exception marks the run FAILED), or call
    :meth:`finish` / :meth:`fail`. A run still open when the interpreter exits
    is flushed and ended then (FAILED when an uncaught exception is ending the
    process).
    """

    def __init__(
        self,
        tracker: Tracker,
        run: TrainingRun,
        subject: Any = None,
        helpers: Callable[[LiveRun], object] | None = None,
    ) -> None:
        self.tracker = tracker
        self.id = run.id
        self.subject = subject
        self._started = run
        self._ended: TrainingRun | None = None
        self._logged = False
        self._writer = tracker._point_writer()
        self._queue = self._writer.queue
        self._writer.open_runs[self.id] = self
        self._helpers = helpers(self) if helpers is not None else None

    def __getattr__(self, name: str) -> Any:
        """Framework helpers (e.g. MXNet callbacks) offered by the plugin that described the subject."""
        helpers = self.__dict__.get("_helpers")
        if helpers is not None and not name.startswith("_") and hasattr(helpers, name):
            return getattr(helpers, name)
        subject = self.__dict__.get("subject")
        hint = f" (no framework helper {name!r} for {type(subject).__name__})" if subject is not None else ""
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}{hint}")

    def __repr__(self) -> str:
        state = self._ended.state.value if self._ended else "TRAINING"
        return f"<LiveRun {self.id} {state}>"

    # ------------------------------------------------------------ logging (hot path)

    def log(self, metric: str, value: float, epoch: int | None = None, step: int | None = None) -> None:
        """Record one metric value now; returns at once, the write happens in the background."""
        if self._ended is not None:
            raise RunStateError(f"training run {self.id!r} has ended; metrics can no longer be logged")
        if not (metric.__class__ is str and metric and metric.isascii()):
            metric = metric_name(metric, f"training run {self.id!r}: metric name")
        if value.__class__ is not float:
            try:
                value = float(value)
            except (TypeError, ValueError, OverflowError):
                got = f"{type(value).__name__} {value!r:.60}"
                raise SchemaError(f"training run {self.id!r}: metric {metric!r} needs a number, got {got}") from None
        if epoch is not None and (epoch.__class__ is not int or not 0 <= epoch <= MAX_COUNT):
            epoch = _count(self.id, metric, "epoch", epoch)
        if step is not None and (step.__class__ is not int or not 0 <= step <= MAX_COUNT):
            step = _count(self.id, metric, "step", step)
        self._logged = True
        self._queue.append((self.id, metric, value, epoch, step, time.time_ns() // 1_000_000))  # a Point

    def log_many(self, values: Mapping[str, float], epoch: int | None = None, step: int | None = None) -> None:
        """Record several metrics at the same epoch/step."""
        for metric, value in values.items():
            self.log(metric, value, epoch, step)

    def flush(self, timeout: float | None = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Wait until every point logged so far is durable; False if ``timeout`` passed first."""
        return self._writer.flush(timeout)

    # ------------------------------------------------------------ ending

    @property
    def ended(self) -> bool:
        return self._ended is not None

    def finish(self, model: Model | str | None = None, **fields: Any) -> TrainingRun:
        """End the run as FINISHED, linking the model it produced (``for_model``)."""
        return self._end(TrainingState.FINISHED, model, fields)

    def fail(self, reason: str | BaseException | None = None, **fields: Any) -> TrainingRun:
        """End the run as FAILED, recording ``reason`` in its annotations."""
        if reason is not None:
            text = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
            fields["annotations"] = {**fields.get("annotations", {}), "mltrack.failure": text}
        return self._end(TrainingState.FAILED, None, fields)

    def close(self) -> None:
        """Finish the run unless it has ended already."""
        if self._ended is None:
            self.finish()

    def __enter__(self) -> LiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._ended is not None:
            return
        if exc is None:
            self.finish()
        else:
            self.fail(exc)

    def _end(self, state: TrainingState, model: Model | str | None, fields: dict[str, Any]) -> TrainingRun:
        if self._ended is not None:
            raise RunStateError(f"training run {self.id!r} has already ended ({self._ended.state.value})")
        if self._logged and not self.flush():
            warnings.warn(
                f"mltrack: training run {self.id}: some metric points were not yet durable when it ended; "
                "they stay queued and are retried",
                TrackingWarning,
                stacklevel=3,
            )
        fields_at_end = getattr(self._helpers, "fields_at_end", None)
        if fields_at_end is not None:  # what the framework learned while training (optimizer, epochs, ...)
            fields = {**fields_at_end(), **fields}
        ended = self.tracker._end_run(self._started, state, model, fields)
        self._ended = ended
        self._writer.open_runs.pop(self.id, None)
        self.subject = None
        return ended


_STORE_FAILURES = (StoreError, OSError)  # OSError: ConnectionError and TimeoutError too
"""Errors that say the store cannot take any point now, whatever the points: the batch waits for a retry."""


def _count(run_id: str, metric: str, name: str, value: Any) -> int:
    """An epoch or step as a non-negative 64-bit int (numpy integers are accepted)."""
    try:
        count = operator.index(value)
    except TypeError:
        count = -1
    if not 0 <= count <= MAX_COUNT:
        raise SchemaError(
            f"training run {run_id!r}: metric {metric!r} needs {name} as a non-negative 64-bit int, got {value!r:.60}"
        )
    return count


def _append_with_batch_ids(store: Any) -> Callable[..., Any]:
    """``store.append_points``; for a store written before batch ids, a wrapper that leaves the id out."""
    try:
        parameters = inspect.signature(store.append_points).parameters.values()
    except (TypeError, ValueError):  # a builtin or C extension: assume the current contract
        return store.append_points
    if any(parameter.name == "batch_id" or parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
        return store.append_points
    return lambda points, batch_id: store.append_points(points)


class PointWriter:
    """The background thread of one tracker that moves logged points into its store."""

    def __init__(self, tracker: Tracker) -> None:
        self.queue: collections.deque = collections.deque()
        self.open_runs: dict[str, LiveRun] = {}
        self._tracker_ref = weakref.ref(tracker)
        self._store = tracker.store
        self._append_points = _append_with_batch_ids(tracker.store)
        self._wake = threading.Event()
        self._stop = False
        self._retry: list[tuple[str, list[tuple]]] = []  # (batch id, points) not yet stored, oldest first
        self._retry_delay = WRITE_INTERVAL_SECONDS
        self._warned: set[str] = set()
        self._thread = threading.Thread(target=self._run, name=f"mltrack-writer {tracker.uri}", daemon=True)
        self._thread.start()
        atexit.register(self.at_exit)

    def flush(self, timeout: float | None) -> bool:
        if threading.current_thread() is self._thread:
            return True
        if self._stop:  # the thread has ended (at exit, say): nothing more will be written
            return not self._retry and not any(item.__class__ is tuple for item in self.queue)
        marker = threading.Event()
        self.queue.append(marker)
        self._wake.set()
        return marker.wait(timeout)

    def stop(self, timeout: float | None = FLUSH_TIMEOUT_SECONDS) -> None:
        """Write what is queued, then end the thread."""
        if self._stop:
            return
        self.flush(timeout)
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)
        atexit.unregister(self.at_exit)
        unwritten = sum(len(points) for _, points in self._retry) + sum(
            1 for item in self.queue if item.__class__ is tuple
        )
        if unwritten:
            warnings.warn(
                f"mltrack: {unwritten} metric point(s) could not be stored in {self._store.uri} and are lost",
                TrackingWarning,
                stacklevel=2,
            )

    def at_exit(self) -> None:
        """Flush and end the runs the program left open (FAILED if an uncaught exception is ending it)."""
        uncaught = getattr(sys, "last_value", None)
        for run in list(self.open_runs.values()):
            try:
                if uncaught is not None:
                    run.fail(uncaught, annotations={"mltrack.ended_by": "interpreter exit"})
                else:
                    run.finish(annotations={"mltrack.ended_by": "interpreter exit"})
            except MltrackError as exc:
                warnings.warn(
                    f"mltrack: could not end training run {run.id} at exit: {exc}", TrackingWarning, stacklevel=1
                )
        self.stop()

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(WRITE_INTERVAL_SECONDS if not self._retry else self._retry_delay)
            self._wake.clear()
            try:
                self._drain()
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any surprise; points stay queued
                self._warn_once(f"drain:{type(exc).__name__}", f"the metric writer hit {type(exc).__name__}: {exc}")

    def _drain(self) -> None:
        """Write the batches waiting for a retry, then the queue in batches, in the order they were logged."""
        tracker = self._tracker_ref()
        if tracker is not None and tracker._deferred is not None:
            tracker._deferred.wait()  # a run started off the caller's path is stored before its points
        waiting, self._retry = self._retry, []
        for index, (batch_id, points) in enumerate(waiting):
            left = self._write(batch_id, points)
            if left:  # the store is failing: keep the order, try again later
                self._retry = left + waiting[index + 1 :]
                return
        batch: list[tuple] = []
        queue = self.queue
        while True:
            try:
                item = queue.popleft()
            except IndexError:
                self._write_new(batch)
                return
            if item.__class__ is tuple:
                batch.append(item)
                if len(batch) < MAX_BATCH:
                    continue
                if not self._write_new(batch):
                    return
                batch = []
            else:  # a flush marker: everything queued before it must be written first
                if not self._write_new(batch):
                    queue.appendleft(item)
                    return
                batch = []
                item.set()

    def _write_new(self, points: list[tuple]) -> bool:
        """Write points taken from the queue as a new batch; False when some must wait for a retry."""
        if not points:
            return True
        self._retry = self._write(uuid.uuid4().hex, points)
        return not self._retry

    def _write(self, batch_id: str, points: list[tuple]) -> list[tuple[str, list[tuple]]]:
        """Write one batch in one transaction; return the batches (with their ids) to retry later.

        The batch id makes a retry of a batch whose answer was lost a no-op.
        Points the store refuses as data (a poisoned point) are isolated by
        splitting the batch and dropped with a warning, so that they never
        hold back the other points.
        """
        try:
            self._append_points(points, batch_id=batch_id)
        except _STORE_FAILURES as exc:  # the store, not the data: retry the same batch later
            self._warn_once(
                f"retry:{type(exc).__name__}",
                f"{len(points)} metric point(s) are not yet stored ({type(exc).__name__}: {exc}); retrying",
            )
            self._retry_delay = min(self._retry_delay * 2, _RETRY_DELAY_MAX_SECONDS)
            return [(batch_id, points)]
        except (NotFoundError, RunStateError) as exc:
            return self._write_each_run(points, exc)
        except Exception as exc:  # noqa: BLE001 - refused data: find the poisoned points, never crash training
            return self._isolate(points, exc)
        self._retry_delay = WRITE_INTERVAL_SECONDS
        tracker = self._tracker_ref()
        if tracker is not None:
            tracker.notify_observers("mltrack_points_appended", tracker=tracker, points=points)
        return []

    def _write_each_run(self, points: list[tuple], error: Exception) -> list[tuple[str, list[tuple]]]:
        """Write run by run, dropping the points of runs that ended or vanished."""
        by_run: dict[str, list[tuple]] = {}
        for point in points:
            by_run.setdefault(point[0], []).append(point)
        if len(by_run) == 1:
            run_id = points[0][0]
            self._warn_once(f"drop:{run_id}", f"{len(points)} metric point(s) of run {run_id} were dropped: {error}")
            return []
        return [left for run_points in by_run.values() for left in self._write(uuid.uuid4().hex, run_points)]

    def _isolate(self, points: list[tuple], error: Exception) -> list[tuple[str, list[tuple]]]:
        """Split a refused batch in halves until the refused points are alone, and drop those."""
        if len(points) > 1:
            middle = len(points) // 2
            return self._write(uuid.uuid4().hex, points[:middle]) + self._write(uuid.uuid4().hex, points[middle:])
        run_id, metric, value = points[0][:3]
        self._warn_once(
            f"poisoned:{run_id}:{metric!r}",
            f"a metric point of run {run_id} ({metric!r} = {value!r:.60}) was refused by the store and dropped: "
            f"{type(error).__name__}: {error}",
        )
        return []

    def _warn_once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        # a warnings filter set to "error" must not stop the writer thread
        with contextlib.suppress(Exception):
            warnings.warn(f"mltrack: {message}", TrackingWarning, stacklevel=1)
