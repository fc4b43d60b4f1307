"""The mltrack plugin for scikit-learn (entry point ``sklearn`` in the ``mltrack`` group).

Loading this module imports neither scikit-learn nor numpy: every hook first
checks that the object is scikit-learn's (or pandas/numpy/scipy data) and only
then imports the extraction code.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import MissingDependencyError, hookimpl
from mltrack_sklearn.framework import (
    FRAMEWORK,
    is_sklearn_estimator,
    require_sklearn,
    sklearn_environment,
    sklearn_is_imported,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mltrack_core.plugin import Dataset, DemoResult, Extraction, Tracker

_DATA_MODULES = ("pandas", "numpy", "scipy")


@hookimpl
def mltrack_extract_model(
    obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool
) -> Extraction | None:
    """A fitted scikit-learn estimator: its model, hyperparameters and transformation DAG."""
    if not is_sklearn_estimator(obj):
        return None
    require_sklearn()
    from mltrack_sklearn.extract import extract_model

    return extract_model(obj, tracker, trained_on, name, serialize)


@hookimpl
def mltrack_extract_training(obj: Any) -> Extraction | None:
    """An estimator about to be fitted: a run with its hyperparameters."""
    if not is_sklearn_estimator(obj):
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
    return sklearn_environment()


@hookimpl
def mltrack_autolog(tracker: Tracker | None, disable: bool) -> str | None:
    """Record every top-level scikit-learn fit, search, cross-validation and score (see ``mltrack_sklearn.autolog``).

    scikit-learn is patched once the program imports it (at once if it is
    already imported); nothing here imports it.
    """
    if importlib.util.find_spec("sklearn") is None:
        return None
    from mltrack_sklearn.autolog import autolog

    autolog(tracker=tracker, disable=disable)
    return FRAMEWORK


@hookimpl
def mltrack_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """Breast cancer data shipped with scikit-learn: a ColumnTransformer pipeline, a grid search, a held-out test."""
    try:
        require_sklearn()
    except MissingDependencyError as exc:
        say(f"scikit-learn part skipped: {exc}")
        return None
    from mltrack_sklearn.demo import run_demo

    return run_demo(tracker, folder, say)
