"""The mltrack plugin for scikit-learn (entry point ``sklearn`` in the ``mltrack`` group).

Loading this module imports neither scikit-learn nor numpy: every hook first
checks that the object is scikit-learn's (or pandas/numpy/scipy data) and only
then imports the extraction code.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from mltrack_core.hookspecs import hookimpl
from mltrack_sklearn._compat import require_sklearn, sklearn_is_imported

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mltrack_core.demo import DemoResult
    from mltrack_core.extraction import Extraction
    from mltrack_core.schema import Dataset
    from mltrack_core.tracker import Tracker

_DATA_MODULES = ("pandas", "numpy", "scipy")


def _is_estimator(obj: Any) -> bool:
    if not sklearn_is_imported():
        return False
    from sklearn.base import BaseEstimator

    return isinstance(obj, BaseEstimator)


@hookimpl
def mltrack_extract_model(
    obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool
) -> Extraction | None:
    """A fitted scikit-learn estimator: its model, hyperparameters and transformation DAG."""
    if not _is_estimator(obj):
        return None
    require_sklearn()
    from mltrack_sklearn.extract import extract_model

    return extract_model(obj, tracker, trained_on, name, serialize)


@hookimpl
def mltrack_extract_training(obj: Any) -> Extraction | None:
    """An estimator about to be fitted: a run with its hyperparameters."""
    if not _is_estimator(obj):
        return None
    require_sklearn()
    from mltrack_sklearn.extract import extract_training

    return extract_training(obj)


@hookimpl
def mltrack_extract_dataset(data: Any, name: str | None, target: Any) -> Extraction | None:
    """pandas, numpy or scipy sparse data (or a list of texts): schema, statistics, fingerprint."""
    module = type(data).__module__.partition(".")[0]
    if module not in _DATA_MODULES and not isinstance(data, (list, tuple)):
        return None
    if "numpy" not in sys.modules and isinstance(data, (list, tuple)):
        return None  # plain lists are ours only in a process that uses numpy
    from mltrack_sklearn.data import is_supported_data

    if not is_supported_data(data):
        return None
    from mltrack_sklearn.extract import extract_dataset

    return extract_dataset(data, name, target)


@hookimpl
def mltrack_environment() -> dict[str, str] | None:
    """The scikit-learn version and the BLAS/OpenMP thread pools it computes with."""
    if not sklearn_is_imported():
        return None
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


@hookimpl
def mltrack_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """Breast cancer data shipped with scikit-learn: a ColumnTransformer pipeline, a grid search, a held-out test."""
    from mltrack_sklearn._compat import sklearn_version

    if sklearn_version() is None:
        say("scikit-learn part skipped: scikit-learn is not installed (pip install 'mltrack-sklearn[instruments]')")
        return None
    from mltrack_sklearn.demo import run_demo

    return run_demo(tracker, folder, say)
