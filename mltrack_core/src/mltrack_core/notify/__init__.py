"""Email digests of experimentation progress: new leaders, regressions, failed training runs.

On demand with ``mltrack notify --since 1d``, or by themselves through the
observer plugin (:mod:`mltrack_core.notify.plugin`) when a training run ends
or a regression check fails. Settings (SMTP server, recipients, events) come
from the environment or a settings file, see :mod:`mltrack_core.notify.settings`::

    from mltrack_core.notify import build_digest, load_settings, send_digest

    digest = build_digest(tracker, since=now_ms() - 24 * 3600 * 1000)
    if not digest.empty:
        send_digest(digest, load_settings())

The names below are imported when first used, so loading the observer plugin
(on every ``mltrack_core.connect``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Digest",
    "FailedRun",
    "NewLeader",
    "NotifyConfigurationError",
    "NotifyError",
    "NotifySettings",
    "Regression",
    "build_digest",
    "load_settings",
    "send_digest",
    "wait_for_notifications",
]

_MODULES = {
    "Digest": "digest",
    "FailedRun": "digest",
    "NewLeader": "digest",
    "Regression": "digest",
    "build_digest": "digest",
    "NotifyError": "mailer",
    "send_digest": "mailer",
    "wait_for_notifications": "plugin",
    "NotifyConfigurationError": "settings",
    "NotifySettings": "settings",
    "load_settings": "settings",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
