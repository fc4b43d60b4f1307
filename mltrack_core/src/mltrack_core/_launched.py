"""What ``mltrack run`` does inside the launched program: start automatic tracking, and say at exit what it recorded.

Called by mltrack's ``sitecustomize`` (see :mod:`mltrack_core.run`); kept apart
from the launcher so that the program does not import the command line's
libraries.
"""

from __future__ import annotations

import atexit
import os
import shlex
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mltrack_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from mltrack_core.schema import Entity
    from mltrack_core.tracker import Tracker

__all__ = ["RunSummary", "start_tracking"]

_SUMMARY_PLUGIN = "mltrack-run-summary"
_KIND_WORDS = {  # kind -> (one, many), in the order the summary lists them
    "model": ("model", "models"),
    "run": ("training run", "training runs"),
    "dataset": ("dataset", "datasets"),
    "evaluation": ("evaluation", "evaluations"),
    "prediction": ("prediction", "predictions"),
    "transform": ("transform", "transforms"),
}


def start_tracking() -> None:
    """In the launched program, before its first line: connect, turn on automatic tracking, report at exit.

    Called by mltrack's ``sitecustomize``; it lets exceptions through (the
    caller turns them into one line on stderr). The store is connected now,
    so that a wrong URI is said at once, and a relative SQLite path is read
    from the folder the program was started in. The summary runs after the exit
    handlers registered later (Python runs them last in, first out).
    """
    from mltrack_core.autolog import autolog_with
    from mltrack_core.tracker import get_tracker

    tracker = get_tracker()
    summary = RunSummary(tracker)
    tracker.plugins.register(summary, name=_SUMMARY_PLUGIN)
    summary.frameworks = autolog_with(tracker.plugins, tracker=None, disable=False)
    atexit.register(summary.report)


class RunSummary:
    """Counts what the program records, and says it in one line when the program exits (an observer plugin)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.frameworks: list[str] = []
        self.ids_by_kind: dict[str, set[str]] = {}
        self._process = os.getpid()  # a forked child inherits the exit handler but not the report
        self._lock = threading.Lock()

    @hookimpl
    def mltrack_entities_stored(self, tracker: Tracker, entities: Sequence[Entity]) -> None:
        if tracker is not self.tracker:
            return
        with self._lock:
            for entity in entities:
                self.ids_by_kind.setdefault(entity.KIND, set()).add(entity.id)

    def line(self) -> str:
        """The summary: what was recorded, where, and how to see it."""
        from mltrack_core.backends.uris import mask_credentials
        from mltrack_core.tracker import default_uri

        with self._lock:
            counts = {kind: len(ids) for kind, ids in self.ids_by_kind.items() if ids}
        if not counts:
            if not self.frameworks:
                return (
                    "mltrack: nothing was recorded (no framework plugin is installed or enabled: mltrack-sklearn, ...)"
                )
            return f"mltrack: nothing was recorded (no supported framework call; tracking {', '.join(self.frameworks)})"
        ordered = [kind for kind in _KIND_WORDS if kind in counts] + sorted(set(counts) - set(_KIND_WORDS))
        parts = [_counted(counts[kind], *_KIND_WORDS.get(kind, (kind, f"{kind}s"))) for kind in ordered]
        where = mask_credentials(self.tracker.uri)
        see = ["mltrack"]
        if self.tracker.uri != default_uri():
            see += ["--uri", where]
        see.append("ls")
        experiment = self.tracker.experiment_name
        if experiment:
            see += ["--experiment", experiment]
            where += f" (experiment {experiment})"
        return f"mltrack: recorded {', '.join(parts)} in {where}; see: {shlex.join(see)}"

    def report(self) -> None:
        """Print :meth:`line` on stderr (at exit, in the launched process only)."""
        if os.getpid() != self._process:
            return
        try:
            self.tracker.flush()  # what is still being written in the background counts too
            line = self.line()
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - at exit, with stderr possibly closed: a summary is not worth a traceback
            pass


def _counted(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
