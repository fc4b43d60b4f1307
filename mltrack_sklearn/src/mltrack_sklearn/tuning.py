"""Searches and cross-validation: the folds, candidates, per-fold scores and winner of a search.

See the package documentation (``help(mltrack_sklearn)``) for the representation.
Nothing is refitted: scores come from ``cv_results_`` (or ``cross_validate``'s
results), folds from the splitter.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn

from mltrack_core.plugin import Dataset, Evaluation, Model, SchemaError, Tracker, get_tracker
from mltrack_sklearn.data import subset_fingerprint
from mltrack_sklearn.extract import learning_algorithm, model_name, record_data
from mltrack_sklearn.framework import FRAMEWORK
from mltrack_sklearn.parameters import hyperparameters

__all__ = ["CandidateRecord", "CrossValidationRecord", "Split", "cross_validate", "track_search"]


@dataclass(frozen=True)
class Split:
    """The two parts of one split of the input dataset."""

    training: Dataset
    validation: Dataset


@dataclass(frozen=True)
class CandidateRecord:
    """One candidate's parameters, and its model and evaluation on each split."""

    index: int
    params: Mapping[str, Any]
    models: tuple[Model, ...]
    evaluations: tuple[Evaluation, ...]


@dataclass(frozen=True)
class CrossValidationRecord:
    """What :func:`track_search` recorded; ``model`` is the refit best estimator (None without refit)."""

    dataset: Dataset
    splits: tuple[Split, ...]
    candidates: tuple[CandidateRecord, ...]
    best_index: int | None
    model: Model | None
    procedure: str

    @property
    def best(self) -> CandidateRecord | None:
        """The winning candidate."""
        return self.candidates[self.best_index] if self.best_index is not None else None


def track_search(
    search: Any, X: Any, y: Any = None, *, groups: Any = None, tracker: Tracker | None = None, name: str | None = None
) -> CrossValidationRecord:
    """Record what a fitted search ran: folds, every candidate on every fold, scores, winner.

    Args:
        search: a fitted ``GridSearchCV``, ``RandomizedSearchCV`` or halving search.
        X: the data the search was fitted on.
        y: its target.
        groups: the groups given to ``fit``, for group splitters.
        tracker: where to record; default :func:`mltrack_core.get_tracker`.
        name: a name for the search (default: the estimator's chain of steps).

    Raises:
        SchemaError: ``search`` is not a fitted search.
    """
    results = getattr(search, "cv_results_", None)
    if results is None or not hasattr(search, "n_splits_"):
        raise SchemaError(
            f"track_search needs a fitted search (GridSearchCV, RandomizedSearchCV, ...), got {type(search).__name__}; "
            "call its fit first"
        )
    tracker = tracker or get_tracker()
    name = name or f"{type(search).__name__} of {model_name(search.estimator)}"
    dataset = record_data(tracker, X, y)
    replay, splitter, reason = _replayed_splits(search.cv, search.estimator, X, y, groups, search.n_splits_)
    procedure = _procedure(splitter, search.n_splits_)
    splits = _track_splits(tracker, dataset, replay, search.n_splits_, splitter, reason)
    scores = _per_split_scores(results, search.scoring, search.n_splits_)
    ranks = _ranks(results, search)
    best_index = int(search.best_index_) if hasattr(search, "best_index_") else None
    candidates = []
    for index, params in enumerate(results["params"]):
        candidate = sklearn.base.clone(search.estimator).set_params(**params)
        annotations = {"sklearn.search.candidate": str(index), "sklearn.search.rank": str(ranks[index])}
        if best_index is not None:
            annotations["sklearn.search.best"] = "true" if index == best_index else "false"
        candidates.append(
            _track_candidate(
                tracker, f"{name} candidate {index}", candidate, index, splits, scores, procedure, annotations, params
            )
        )
    return CrossValidationRecord(
        dataset, splits, tuple(candidates), best_index, _refit_model(tracker, search, dataset, name), procedure
    )


def cross_validate(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    groups: Any = None,
    tracker: Tracker | None = None,
    name: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """:func:`sklearn.model_selection.cross_validate`, recording its folds, models and scores.

    ``options`` are passed to scikit-learn's ``cross_validate``; its results are
    returned unchanged. With ``return_estimator=True`` each fold's model is
    recorded from its fitted estimator (hyperparameters and DAG), otherwise from
    ``estimator``'s hyperparameters. Recording is implicit: a failure is a
    :class:`~mltrack_core.TrackingWarning` and the results are still returned.
    """
    from sklearn.model_selection import check_cv
    from sklearn.model_selection import cross_validate as sklearn_cross_validate

    wants_indices = options.get("return_indices", False)
    results = sklearn_cross_validate(estimator, X, y, groups=groups, **{**options, "return_indices": True})
    tracker = tracker or get_tracker()
    with tracker.implicit("the cross-validation"):
        splitter = check_cv(options.get("cv"), y, classifier=sklearn.base.is_classifier(estimator))
        indices = results["indices"]
        count = len(indices["test"])
        dataset = record_data(tracker, X, y)
        procedure = _procedure(splitter, count)
        replay = list(zip(indices["train"], indices["test"], strict=True))
        splits = _track_splits(tracker, dataset, replay, count, splitter, None)
        scores = _cross_validate_scores(results, options.get("scoring"), count)
        name = name or model_name(estimator)
        fitted = results.get("estimator")
        for k, split in enumerate(splits):
            model_label = f"{name} split {k + 1}/{count}"
            annotations = {"sklearn.search.split": str(k)}
            if fitted is not None:
                model = tracker.track_model(
                    fitted[k], trained_on=split.training, name=model_label, annotations=annotations
                )
            else:
                model = tracker.track_model(_template_model(estimator, model_label, split.training, annotations))
            _track_scores(
                tracker,
                model,
                split,
                {part: {m: v[0] for m, v in found.items()} for part, found in scores[k].items()},
                procedure,
            )
    if not wants_indices:
        del results["indices"]
    return results


# ---------------------------------------------------------------- splits


def _replayed_splits(
    cv: Any, estimator: Any, X: Any, y: Any, groups: Any, expected: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]] | None, Any, str | None]:
    """The search's splits, made again by its splitter when that gives the same splits."""
    from sklearn.model_selection import check_cv

    if hasattr(cv, "__next__"):
        return None, cv, "the search consumed the generator of splits it was given; pass a list or a splitter"
    splitter = check_cv(cv, y, classifier=sklearn.base.is_classifier(estimator))
    random_state = getattr(splitter, "random_state", None)
    shuffles = getattr(splitter, "shuffle", True) if hasattr(splitter, "random_state") else False
    if shuffles and not isinstance(random_state, numbers.Integral):
        return (
            None,
            splitter,
            (
                f"{splitter!r} shuffles with random_state={random_state!r}, so its splits differ at every call; "
                "give it an int random_state"
            ),
        )
    try:
        splits = list(splitter.split(X, y, groups))
    except Exception as exc:  # noqa: BLE001 (a group splitter without groups, ...): folds unknown, scores kept
        return None, splitter, f"replaying {splitter!r} failed: {type(exc).__name__}: {exc}"
    if len(splits) != expected:
        return None, splitter, f"{splitter!r} made {len(splits)} splits now but {expected} during the search"
    return splits, splitter, None


def _procedure(splitter: Any, count: int) -> str:
    kind = type(splitter).__name__
    if "KFold" in kind:
        return f"{count}-fold cross-validation"
    return f"cross-validation ({kind}, {count} splits)"


def _track_splits(
    tracker: Tracker,
    dataset: Dataset,
    replay: Sequence[tuple[np.ndarray, np.ndarray]] | None,
    count: int,
    splitter: Any,
    reason: str | None,
) -> tuple[Split, ...]:
    splits = []
    for k in range(count):
        rows = replay[k] if replay is not None else (None, None)
        parts = [
            _track_part(tracker, dataset, part, k, count, splitter, positions, reason)
            for part, positions in (("training", rows[0]), ("validation", rows[1]))
        ]
        splits.append(Split(*parts))
    return tuple(splits)


def _track_part(
    tracker: Tracker,
    dataset: Dataset,
    part: str,
    k: int,
    count: int,
    splitter: Any,
    positions: np.ndarray | None,
    reason: str | None,
) -> Dataset:
    fingerprint = subset_fingerprint(dataset, positions) if positions is not None else None
    derivation = f"{part} part of split {k + 1} of {count} made by {splitter!r}"
    if fingerprint is not None:
        for stored in tracker.find("dataset", fingerprint=fingerprint, derived_from=dataset, limit=5):
            assert isinstance(stored, Dataset)
            if stored.derivation == derivation and stored.target == dataset.target:
                return stored
    annotations = {"sklearn.split": str(k), "sklearn.split_part": part}
    if reason:
        annotations["mltrack.sklearn.rows_unknown"] = reason
    return tracker.track_dataset(
        name=f"{dataset.name} split {k + 1}/{count} {part}",
        derived_from=[dataset.id],
        derivation=derivation,
        fingerprint=fingerprint,
        schema=dataset.schema,
        target=dataset.target,
        row_count=len(positions) if positions is not None else None,
        annotations=annotations,
    )


# ---------------------------------------------------------------- scores


def _metric_keys(keys: Sequence[str], prefix: str, scoring: Any) -> dict[str, str]:
    """Result keys (``accuracy`` in ``split0_test_accuracy``) -> metric names to record."""
    found = sorted({key[len(prefix) :] for key in keys if key.startswith(prefix)})
    if found == ["score"] and isinstance(scoring, str):
        return {"score": scoring}
    return {key: key for key in found}


def _per_split_scores(results: Mapping[str, Any], scoring: Any, count: int) -> list[dict[str, dict[str, list[float]]]]:
    """For each split: {"test": {metric: [score of each candidate]}, "train": {...}}."""
    metrics = _metric_keys(list(results), "mean_test_", scoring)
    split_scores = []
    for k in range(count):
        by_part: dict[str, dict[str, list[float]]] = {}
        for part in ("test", "train"):
            found = {
                metric: [float(v) for v in results[f"split{k}_{part}_{key}"]]
                for key, metric in metrics.items()
                if f"split{k}_{part}_{key}" in results
            }
            if found:
                by_part[part] = found
        split_scores.append(by_part)
    return split_scores


def _cross_validate_scores(
    results: Mapping[str, Any], scoring: Any, count: int
) -> list[dict[str, dict[str, list[float]]]]:
    """cross_validate's ``test_<metric>`` arrays in the shape of :func:`_per_split_scores` (one candidate)."""
    metrics = _metric_keys(list(results), "test_", scoring)
    return [
        {
            part: {metric: [float(results[f"{part}_{key}"][k])] for key, metric in metrics.items()}
            for part in ("test", "train")
            if all(f"{part}_{key}" in results for key in metrics)
        }
        for k in range(count)
    ]


def _ranks(results: Mapping[str, Any], search: Any) -> list[int]:
    refit = search.refit if isinstance(search.refit, str) else "score"
    key = (
        f"rank_test_{refit}"
        if f"rank_test_{refit}" in results
        else next(k for k in results if k.startswith("rank_test_"))
    )
    return [int(rank) for rank in results[key]]


# ---------------------------------------------------------------- candidates


def _track_candidate(
    tracker: Tracker,
    label: str,
    candidate: Any,
    index: int,
    splits: Sequence[Split],
    scores: Sequence[dict[str, dict[str, list[float]]]],
    procedure: str,
    annotations: dict[str, str],
    params: Mapping[str, Any],
) -> CandidateRecord:
    template = _template_model(candidate, label, splits[0].training, annotations)
    models, evaluations = [], []
    for k, split in enumerate(splits):
        model = tracker.track_model(
            Model(
                name=f"{label} split {k + 1}/{len(splits)}",
                learning_algorithm=template.learning_algorithm,
                trained_on=split.training.id,
                framework=FRAMEWORK,
                framework_version=sklearn.__version__,
                hyperparameters=template.hyperparameters,
                annotations={**annotations, "sklearn.search.split": str(k)},
            )
        )
        per_candidate = {
            part: {metric: values[index] for metric, values in found.items()} for part, found in scores[k].items()
        }
        evaluations.append(_track_scores(tracker, model, split, per_candidate, procedure))
        models.append(model)
    return CandidateRecord(index, dict(params), tuple(models), tuple(evaluations))


def _template_model(estimator: Any, name: str, trained_on: Dataset, annotations: dict[str, str]) -> Model:
    """A model of an estimator whose fitted state is gone: what its hyperparameters say."""
    return Model(
        name=name,
        learning_algorithm=learning_algorithm(estimator),
        trained_on=trained_on.id,
        framework=FRAMEWORK,
        framework_version=sklearn.__version__,
        hyperparameters=hyperparameters(estimator),
        annotations=annotations,
    )


def _track_scores(
    tracker: Tracker, model: Model, split: Split, scores: Mapping[str, Any], procedure: str
) -> Evaluation:
    """The validation scores (and training scores, when computed) of one model on one split."""
    if "train" in scores:
        tracker.track_evaluation(
            scores["train"], computed_by=model, on_dataset=split.training, procedure=f"training part of {procedure}"
        )
    return tracker.track_evaluation(scores["test"], computed_by=model, on_dataset=split.validation, procedure=procedure)


def _refit_model(tracker: Tracker, search: Any, dataset: Dataset, name: str) -> Model | None:
    """The refit best estimator's model: the one its TrackedPipeline recorded, else recorded now."""
    best = getattr(search, "best_estimator_", None)
    if best is None:
        return None
    recorded = getattr(best, "tracked_model_", None)
    if isinstance(recorded, Model) and recorded.trained_on == dataset.id and tracker.get_many([recorded.id]):
        return recorded
    return tracker.track_model(search, trained_on=dataset, name=f"{name} (refit best)")
