"""The observer plugin: sends a digest by itself when a training run ends or a regression check fails.

Registered through the ``mltrack`` entry-point group (name ``notify``; keep it
from loading with ``MLTRACK_DISABLE_PLUGINS=notify``). It does nothing until
notifications are configured (see :mod:`mltrack_core.notify.settings`); then
the events listed in ``MLTRACK_NOTIFY_ON`` send the digest of what happened
since the event began: ``run-failed`` and ``run-ended`` since the run started,
``regression`` the failed check (a check recorded in the last hour: imported
history sends nothing). The digest is collected at once, then sent
from a background thread so the training code does not wait for the mail
server (a run ended at interpreter exit sends before the process ends); a
failure to send is reported as a :class:`~mltrack_core.errors.TrackingWarning`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mltrack_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from mltrack_core.notify.digest import Digest
    from mltrack_core.notify.settings import NotifySettings
    from mltrack_core.schema import Entity, TrainingRun
    from mltrack_core.tracker import Tracker

__all__ = ["wait_for_notifications"]

_RECENT_MS = 3_600_000  # older failed checks are history being imported, not news
_sending: list[threading.Thread] = []
_lock = threading.Lock()


@hookimpl
def mltrack_entities_stored(tracker: Tracker, entities: Sequence[Entity]) -> None:
    from mltrack_core.regression import CHECK_TAG
    from mltrack_core.schema import now_ms

    recent = now_ms() - _RECENT_MS
    failed = [
        entity
        for entity in entities
        if entity.KIND == "evaluation" and entity.tags.get(CHECK_TAG) == "failed" and entity.creation_time >= recent
    ]
    if failed:
        _notify(tracker, "regression", since=min(entity.creation_time for entity in failed), at_exit=False)


@hookimpl
def mltrack_run_ended(tracker: Tracker, run: TrainingRun) -> None:
    event = "run-failed" if run.state.value == "FAILED" else "run-ended"
    at_exit = run.annotations.get("mltrack.ended_by") == "interpreter exit"
    _notify(tracker, event, since=run.start_time or run.creation_time, at_exit=at_exit)


def wait_for_notifications(timeout: float | None = None) -> bool:
    """Wait until the digests being sent in the background are sent; False if ``timeout`` passed first."""
    with _lock:
        pending = list(_sending)
    for thread in pending:
        thread.join(timeout)
    with _lock:
        _sending[:] = [thread for thread in _sending if thread.is_alive()]
        return not _sending


def _notify(tracker: Tracker, event: str, *, since: int, at_exit: bool) -> None:
    from mltrack_core.notify.digest import build_digest
    from mltrack_core.notify.settings import load_settings

    settings = load_settings()
    if settings is None or not (event in settings.events or (event == "run-failed" and "run-ended" in settings.events)):
        return
    digest = build_digest(tracker, since)
    if digest.empty:
        return
    if at_exit:  # threads started now would not be waited for
        _send_reporting_failure(digest, settings)
        return
    thread = threading.Thread(target=_send_reporting_failure, args=(digest, settings), name="mltrack-notify")
    with _lock:
        _sending.append(thread)
    thread.start()


def _send_reporting_failure(digest: Digest, settings: NotifySettings) -> None:
    from mltrack_core.errors import TrackingWarning
    from mltrack_core.notify.mailer import NotifyError, send_digest

    try:
        send_digest(digest, settings)
    except NotifyError as exc:
        warnings.warn(f"mltrack: the digest {digest.subject!r} was not sent: {exc}", TrackingWarning, stacklevel=1)
