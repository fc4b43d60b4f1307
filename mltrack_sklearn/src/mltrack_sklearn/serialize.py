"""Fitted estimators in the artifact store: pickled by ``track_model(..., serialize=True)``, read by ``load_model``.

The estimator is pickled into the tracker's artifact store as
``<model name>.pkl`` (a name that is not a plain lowercase file name gets a
digest of it appended, see :func:`~mltrack_core.plugin.safe_file_name`); the
artifact's URI becomes the model's ``location``.
"""

from __future__ import annotations

import pickle
from typing import Any

from mltrack_core.plugin import ArtifactStore, MltrackError, Model, Tracker, location_of, safe_file_name
from mltrack_sklearn.framework import FRAMEWORK

__all__ = ["load_model", "save_model"]


def save_model(estimator: Any, tracker: Tracker, name: str | None) -> str:
    """Pickle a fitted estimator into the tracker's artifact store.

    Args:
        estimator: the fitted estimator.
        tracker: the tracker whose artifact store keeps the pickle.
        name: the model's name, which names the file; default the estimator's class name.

    Returns:
        The artifact's URI, the model's ``location``.
    """
    file_name = safe_file_name(name or type(estimator).__name__, ".pkl")
    return tracker.artifacts.put_bytes(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL), file_name)


def load_model(model_or_location: Model | str, tracker: Tracker | None = None) -> Any:
    """Load a fitted estimator that ``track_model(..., serialize=True)`` saved.

    The artifact is a pickle, and unpickling can run any code the pickle names:
    load only models from artifact stores you trust.

    Args:
        model_or_location: the tracked :class:`~mltrack_core.Model`, or its ``location`` URI.
        tracker: whose artifact store reads it (default: a local one; any stored location can be read).

    Returns:
        The fitted estimator, as it was when it was tracked.

    Raises:
        MltrackError: the model is not a scikit-learn model or has no location, or the artifact is not a pickle.
    """
    location = _location(model_or_location)
    artifacts = tracker.artifacts if tracker is not None else ArtifactStore()
    with artifacts.open(location) as stored:
        content = stored.read()
    try:
        return pickle.loads(content)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise MltrackError(f"{location} is not a model saved by mltrack-sklearn: {exc}") from None


def _location(model_or_location: Model | str) -> str:
    if isinstance(model_or_location, Model) and model_or_location.framework != FRAMEWORK:
        model = model_or_location
        raise MltrackError(f"model {model.id!r} is not a {FRAMEWORK} model (its framework: {model.framework!r})")
    return location_of(model_or_location)
