"""Extraction of models, training runs and datasets: what the plugin's hooks return."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sklearn

from mltrack_core.plugin import Dataset, Extraction, Model, SchemaError, TrainingRun, TypedColumn, TypeHint
from mltrack_sklearn import links
from mltrack_sklearn.dag import build_dag, input_columns
from mltrack_sklearn.data import DataDescription, describe_data
from mltrack_sklearn.framework import FRAMEWORK
from mltrack_sklearn.parameters import hyperparameters, plain_value
from mltrack_sklearn.serialize import save_model

if TYPE_CHECKING:
    from mltrack_core.plugin import Tracker

__all__ = ["extract_dataset", "extract_model", "extract_training", "learning_algorithm", "model_name", "record_data"]


def extract_model(
    estimator: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool
) -> Extraction:
    """The model, its hyperparameters and its transformation DAG, from a fitted estimator."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise SchemaError(
            f"{type(estimator).__name__} is not fitted; call fit before tracking it as a model "
            "(an unfitted estimator can be tracked as a training run with tracker.track_training)"
        ) from None
    trained_on = _with_fitted_target(estimator, tracker, trained_on)
    failures: list[str] = []
    parameters = _guarded(hyperparameters, estimator, "hyperparameters", failures) or []
    types = {column.name: column.typing for column in trained_on.schema}
    features = [column.name for column in trained_on.schema if column.name != trained_on.target]
    columns = input_columns(estimator, fallback=features if not _is_wide(trained_on) else ())
    dag = build_dag(estimator, columns, types, target=trained_on.target)
    failures += dag.failures
    location = save_model(estimator, tracker, name) if serialize else None
    model = Model(
        name=name or model_name(estimator),
        learning_algorithm=learning_algorithm(estimator),
        trained_on=trained_on.id,
        framework=FRAMEWORK,
        framework_version=sklearn.__version__,
        location=location,
        hyperparameters=parameters,
        transforms=[transform.id for transform in dag.transforms],
        input=[TypedColumn(name=column, typing=types.get(column, TypeHint.UNKNOWN)) for column in columns or ()],
        annotations=_search_annotations(estimator),
    )
    return Extraction(model, tuple(dag.transforms), tuple(failures))


def extract_training(estimator: Any) -> Extraction:
    """A training run template: the hyperparameters the estimator is about to be fitted with."""
    failures: list[str] = []
    parameters = _guarded(hyperparameters, estimator, "hyperparameters", failures) or []
    return Extraction(
        TrainingRun(name=f"fit {model_name(estimator)}", hyperparameters=parameters), failures=tuple(failures)
    )


def extract_dataset(data: Any, name: str | None, target: Any) -> Extraction:
    """A dataset describing ``data`` and ``target``."""
    described = describe_data(data, target, name)
    if target is None:
        # For track_model(estimator, trained_on=X): which recorded fits saw this X with a target.
        links.remember_features(described.fingerprint, (found.id for found in links.datasets_of(data) if found.target))
    return Extraction(described.dataset())


def record_data(
    tracker: Tracker,
    data: Any,
    target: Any = None,
    name: str | None = None,
    *,
    described: DataDescription | None = None,
) -> Dataset:
    """Track ``data`` as a dataset, reusing the dataset it was recorded as, or a stored one with the same content.

    The same objects recorded before (a part ``train_test_split`` made, the data
    of an earlier fit) are found by identity (:mod:`mltrack_sklearn.links`)
    without computing a fingerprint; other data by its content fingerprint,
    target and row count. So fitting again on the same data records it once
    (and computes its statistics once), and a fit on data the user or a split
    tracked before (a part ``derived_from`` its source) is linked to it.

    Args:
        tracker: where to record.
        data: the data (``X``).
        target: its labels (``y``), or the name of its target column.
        name: the dataset's name (a stored dataset is reused only with this name).
        described: ``describe_data(data, target, name)``, when the caller computed it already.

    Raises:
        SchemaError: the data or the target cannot be described.
    """
    linked = links.dataset_of(data, target, tracker)
    if linked is not None and (name is None or linked.name == name):
        return linked
    described = described or describe_data(data, target, name)
    dataset = _same_stored_dataset(tracker, described, name_given=name is not None)
    if dataset is None:  # the statistics of a new dataset are computed off the caller's path, from a copied sample
        snapshot = described.snapshot()
        tracker.defer(f"the dataset {snapshot.dataset.id}", lambda: tracker.track_dataset(snapshot.complete()))
        dataset = snapshot.dataset
    links.remember_dataset(data, target, dataset, tracker)
    return dataset


def _same_stored_dataset(tracker: Tracker, described: DataDescription, *, name_given: bool) -> Dataset | None:
    """A stored dataset with the same content that the tracker would not change when writing it again."""
    filters = {"experiment": tracker.experiment_name} if tracker.experiment_name else {}
    for stored in tracker.find("dataset", fingerprint=described.fingerprint, limit=5, **filters):
        assert isinstance(stored, Dataset)
        if (
            stored.target == described.target
            and stored.row_count == described.row_count
            and (not name_given or stored.name == described.name)
        ):
            return stored
    return None


def _with_fitted_target(estimator: Any, tracker: Tracker, trained_on: Dataset) -> Dataset:
    """For ``track_model(estimator, trained_on=X)``: the dataset with ``y`` that the estimator's recorded fit saw.

    ``trained_on=X`` describes ``X`` alone. When this estimator's last fit was
    recorded (by autolog or a ``TrackedPipeline``) on this very ``X`` object
    with a target ``y``, the model was trained on ``X`` and ``y``: that fit's
    dataset is the training dataset. Otherwise ``trained_on`` is kept.
    """
    if trained_on.target is not None or trained_on.fingerprint is None:
        return trained_on
    candidates = links.fitted_datasets(trained_on.fingerprint)
    if not candidates:
        return trained_on
    model = links.model_of(estimator, tracker) or getattr(estimator, "tracked_model_", None)
    if not isinstance(model, Model) or model.trained_on not in candidates:
        return trained_on
    fitted = tracker.get_many([model.trained_on]).get(model.trained_on)
    return fitted if isinstance(fitted, Dataset) else trained_on


def learning_algorithm(estimator: Any) -> str:
    """What learns: the final step of a pipeline, the best estimator of a search, else the class."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        steps = [step for _, step in estimator.steps if step is not None and step != "passthrough"]
        return learning_algorithm(steps[-1]) if steps else "Pipeline"
    best = getattr(estimator, "best_estimator_", None)
    if best is not None and hasattr(estimator, "cv_results_"):
        return learning_algorithm(best)
    return type(estimator).__name__


def model_name(estimator: Any) -> str:
    """A readable default name: the chain of a pipeline's steps, or the class name."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return " -> ".join(type(step).__name__ if not isinstance(step, str) else step for _, step in estimator.steps)
    best = getattr(estimator, "best_estimator_", None)
    if best is not None and hasattr(estimator, "cv_results_"):
        return f"{type(estimator).__name__} best: {model_name(best)}"
    return type(estimator).__name__


def _search_annotations(estimator: Any) -> dict[str, str]:
    """Which candidate of a fitted search was chosen, and how many there were."""
    results = getattr(estimator, "cv_results_", None)
    best_index = getattr(estimator, "best_index_", None)
    if results is None or best_index is None:
        return {}
    annotations = {
        "sklearn.search.candidates": str(len(results["params"])),
        "sklearn.search.splits": str(getattr(estimator, "n_splits_", "")),
        "sklearn.search.best_index": str(int(best_index)),
        "sklearn.search.best_params": json.dumps(
            {key: plain_value(value) for key, value in estimator.best_params_.items()}, sort_keys=True
        ),
    }
    best_score = getattr(estimator, "best_score_", None)
    if best_score is not None:
        annotations["sklearn.search.best_score"] = repr(float(best_score))
    return annotations


def _is_wide(dataset: Dataset) -> bool:
    return any(column.typing is TypeHint.VECTOR for column in dataset.schema)


def _guarded(function: Any, subject: Any, what: str, failures: list[str]) -> Any:
    try:
        return function(subject)
    except Exception as exc:  # noqa: BLE001 (unreadable parameters: record the rest)
        failures.append(f"{what}: {type(exc).__name__}: {exc}")
        return None
