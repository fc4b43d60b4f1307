"""The supported scikit-learn range, checked before anything of scikit-learn is used."""

from __future__ import annotations

import sys
import warnings
from importlib.metadata import PackageNotFoundError, version

from mltrack_core.errors import MissingDependencyError, TrackingWarning

__all__ = ["OLDEST", "UNTESTED_FROM", "require_sklearn", "sklearn_is_imported", "sklearn_version"]

OLDEST = (1, 4)
"""The oldest scikit-learn release supported: ``__sklearn_clone__``, ``set_output`` and
``get_feature_names_out`` on every built-in transformer are all there from 1.4 on."""
UNTESTED_FROM = (1, 10)
"""The first scikit-learn release not yet tested (the ``instruments`` extra stops before it)."""
INSTALL_HINT = "pip install 'mltrack-sklearn[instruments]'"

_checked = False


def sklearn_version() -> str | None:
    """The installed scikit-learn version, or None."""
    try:
        return version("scikit-learn")
    except PackageNotFoundError:
        return None


def sklearn_is_imported() -> bool:
    """Whether the user's process imported scikit-learn (plugins must not import it for them)."""
    return "sklearn" in sys.modules


def _release(text: str) -> tuple[int, int]:
    major, minor = ([int("".join(ch for ch in part if ch.isdigit()) or 0) for part in text.split(".")[:2]] + [0, 0])[:2]
    return major, minor


def require_sklearn() -> None:
    """Check once that a supported scikit-learn is installed.

    :raises MissingDependencyError: scikit-learn is missing or older than :data:`OLDEST`.
    Newer releases than the tested range work with a :class:`TrackingWarning`.
    """
    global _checked
    if _checked:
        return
    found = sklearn_version()
    supported = f">={OLDEST[0]}.{OLDEST[1]},<{UNTESTED_FROM[0]}.{UNTESTED_FROM[1]}"
    if found is None:
        raise MissingDependencyError(f"mltrack-sklearn needs scikit-learn{supported}: {INSTALL_HINT}")
    release = _release(found)
    if release < OLDEST:
        raise MissingDependencyError(
            f"mltrack-sklearn supports scikit-learn{supported}, but {found} is installed: {INSTALL_HINT}"
        )
    if release >= UNTESTED_FROM:
        warnings.warn(
            f"mltrack-sklearn was tested with scikit-learn{supported}; {found} is installed, "
            "so some metadata may be missing",
            TrackingWarning,
            stacklevel=2,
        )
    _checked = True
