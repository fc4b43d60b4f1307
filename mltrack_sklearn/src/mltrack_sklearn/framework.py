"""Access to scikit-learn: the supported version range, estimator recognition, environment facts.

The supported range is written once, in the ``instruments`` extra of this
package's ``pyproject.toml``; the core's one policy checks it. Nothing here
imports scikit-learn unless the user's process already did.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import require_framework
from mltrack_core.plugin import supported_versions as supported_framework_versions

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = [
    "DISTRIBUTION",
    "FRAMEWORK",
    "is_sklearn_estimator",
    "require_sklearn",
    "sklearn_environment",
    "sklearn_is_imported",
    "supported_versions",
]

DISTRIBUTION = "mltrack-sklearn"
FRAMEWORK = "scikit-learn"


def supported_versions() -> SpecifierSet:
    """The scikit-learn versions this package supports (its ``instruments`` extra)."""
    return supported_framework_versions(DISTRIBUTION, FRAMEWORK)


def require_sklearn() -> str:
    """Check once that a supported scikit-learn is installed; return its version.

    A release newer than the tested range is used with one :class:`~mltrack_core.plugin.TrackingWarning`.

    Raises:
        MissingDependencyError: scikit-learn is missing or older than :func:`supported_versions`.
    """
    return require_framework(DISTRIBUTION, FRAMEWORK)


def sklearn_is_imported() -> bool:
    """Whether the user's process imported scikit-learn (plugins must not import it for them)."""
    return "sklearn" in sys.modules


def is_sklearn_estimator(obj: Any) -> bool:
    """Whether ``obj`` is a scikit-learn estimator (or of a user class derived from one)."""
    if not sklearn_is_imported():
        return False
    from sklearn.base import BaseEstimator

    return isinstance(obj, BaseEstimator)


def sklearn_environment() -> dict[str, str]:
    """The scikit-learn version and the BLAS/OpenMP thread pools it computes with."""
    import sklearn

    facts = {"sklearn.version": sklearn.__version__}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, only the version is known
        return facts
    for library in threadpool_info():
        api = library.get("internal_api") or library.get("user_api")
        facts[f"sklearn.threadpool.{api}"] = f"{library.get('version')} ({library.get('num_threads')} threads)"
    return facts
