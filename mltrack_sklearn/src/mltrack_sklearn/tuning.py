"""Searches and cross-validation: the folds, candidates, per-fold scores and winner of a search.

See the package documentation (``help(mltrack_sklearn)``) for the representation.
Nothing is refitted: scores come from ``cv_results_`` (or ``cross_validate``'s
results), folds from ``cross_validate``'s indices or from the splitter, replayed
only when that draws nothing from the global random state.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn

from mltrack_core.plugin import Dataset, Evaluation, Model, SchemaError, Tracker, get_tracker
from mltrack_sklearn.autolog import tell_links, tracked_call
from mltrack_sklearn.data import subset_fingerprint
from mltrack_sklearn.extract import _search_annotations as search_annotations
from mltrack_sklearn.extract import learning_algorithm, model_name, record_data
from mltrack_sklearn.framework import FRAMEWORK
from mltrack_sklearn.parameters import hyperparameters

__all__ = [
    "CandidateRecord",
    "CrossValidationRecord",
    "Split",
    "cross_validate",
    "default_metric_name",
    "record_cross_val_predict",
    "record_cross_validation",
    "record_search",
    "track_search",
]


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

    (:func:`mltrack_sklearn.autolog` records this at the search's ``fit``.)

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
    if getattr(search, "cv_results_", None) is None or not hasattr(search, "n_splits_"):
        raise SchemaError(
            f"track_search needs a fitted search (GridSearchCV, RandomizedSearchCV, ...), got {type(search).__name__}; "
            "call its fit first"
        )
    tracker = tracker or get_tracker()
    name = name or _search_name(search)
    with tracked_call():  # what recording calls on scikit-learn (a splitter's split) is not recorded on its own
        dataset = record_data(tracker, X, y)
        model = None
        if getattr(search, "best_estimator_", None) is not None:
            model = tracker.track_model(search, trained_on=dataset, name=f"{name} (refit best)")
        return record_search(tracker, search, X, y, groups=groups, dataset=dataset, model=model, name=name)


def record_search(
    tracker: Tracker,
    search: Any,
    X: Any,
    y: Any,
    *,
    groups: Any,
    dataset: Dataset,
    model: Model | None,
    name: str | None = None,
) -> CrossValidationRecord:
    """Record the folds, candidates, per-fold scores and winner of ``search``, fitted on ``dataset``.

    ``model`` is the search's own model (the refit best estimator), already recorded.
    """
    results = search.cv_results_
    name = name or _search_name(search)
    replay, splitter, reason = _replayed_splits(search.cv, search.estimator, X, y, groups, search.n_splits_)
    procedure = _procedure(splitter, search.n_splits_)
    splits = _track_splits(tracker, dataset, replay, search.n_splits_, splitter, reason)
    scores = _per_split_scores(
        results, _metric_keys(list(results), "mean_test_", search.scoring, search.estimator), search.n_splits_
    )
    ranks = _ranks(results, search)
    best_index = int(search.best_index_) if hasattr(search, "best_index_") else None
    rounds = _HalvingRounds(tracker, search, dataset, splits, replay, reason)
    candidates = []
    for index, params in enumerate(results["params"]):
        candidate = sklearn.base.clone(search.estimator).set_params(**params)
        annotations = {"sklearn.search.candidate": str(index), "sklearn.search.rank": str(ranks[index])}
        if best_index is not None:
            annotations["sklearn.search.best"] = "true" if index == best_index else "false"
        annotations.update(rounds.annotations(index))
        candidates.append(
            _track_candidate(
                tracker,
                f"{name} candidate {index}",
                candidate,
                index,
                rounds.splits(index),
                scores,
                procedure,
                annotations,
                params,
            )
        )
    return CrossValidationRecord(dataset, splits, tuple(candidates), best_index, model, procedure)


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
    returned unchanged. Each split's model is recorded from the estimator fitted
    on it (its hyperparameters, DAG and, for a search, the candidate it chose).
    Recording is implicit: a failure is a :class:`~mltrack_core.TrackingWarning`
    and the results are still returned. (:func:`mltrack_sklearn.autolog` records
    scikit-learn's own ``cross_validate`` the same way.)
    """
    from sklearn.model_selection import cross_validate as sklearn_cross_validate

    wanted = {"estimator": options.get("return_estimator", False), "indices": options.get("return_indices", False)}
    with tracked_call():  # the estimator's fits and the splitter are not recorded on their own
        results = sklearn_cross_validate(
            estimator, X, y, groups=groups, **{**options, "return_estimator": True, "return_indices": True}
        )
        complete = dict(results)
        for key, asked in wanted.items():
            if not asked:
                del results[key]
        tracker = tracker or get_tracker()
        with tracker.implicit("the cross-validation"):
            record_cross_validation(
                tracker, estimator, X, y, complete, cv=options.get("cv"), scoring=options.get("scoring"), name=name
            )
    return results


def record_cross_validation(
    tracker: Tracker,
    estimator: Any,
    X: Any,
    y: Any,
    results: Mapping[str, Any],
    *,
    cv: Any,
    scoring: Any,
    name: str | None = None,
) -> CrossValidationRecord:
    """Record the splits, each split's fitted model and its scores from scikit-learn's ``cross_validate`` results.

    ``results`` must hold ``indices`` (``return_indices=True``) and should hold
    ``estimator`` (``return_estimator=True``); without it each split's model is
    what ``estimator``'s hyperparameters say.
    """
    from sklearn.model_selection import check_cv

    splitter = check_cv(cv, y, classifier=sklearn.base.is_classifier(estimator))
    indices = results["indices"]
    count = len(indices["test"])
    dataset = record_data(tracker, X, y)
    procedure = _procedure(splitter, count)
    splits = _track_splits(
        tracker, dataset, list(zip(indices["train"], indices["test"], strict=True)), count, splitter, None
    )
    scores = _cross_validate_scores(results, _metric_keys(list(results), "test_", scoring, estimator), count)
    name = name or model_name(estimator)
    fitted = results.get("estimator")
    models, evaluations = [], []
    for k, split in enumerate(splits):
        model = _split_model(tracker, estimator, fitted[k] if fitted is not None else None, k, count, split, name)
        if fitted is not None:
            tell_links("remember_model", fitted[k], model)
        models.append(model)
        if "test" in scores[k]:
            evaluations.append(
                _track_scores(
                    tracker,
                    model,
                    split,
                    {part: {m: v[0] for m, v in found.items()} for part, found in scores[k].items()},
                    procedure,
                )
            )
    candidate = CandidateRecord(0, {}, tuple(models), tuple(evaluations))
    return CrossValidationRecord(dataset, splits, (candidate,), None, None, procedure)


def record_cross_val_predict(tracker: Tracker, arguments: Mapping[str, Any]) -> CrossValidationRecord:
    """Record the splits of a ``cross_val_predict`` call (its bound ``arguments``) and a model per split.

    scikit-learn does not return the fitted estimators, so each model is what the
    estimator's hyperparameters say; ``cross_val_predict`` computes no scores.
    """
    from sklearn.model_selection import check_cv

    estimator, X, y, groups = (arguments.get(key) for key in ("estimator", "X", "y", "groups"))

    splitter = check_cv(arguments.get("cv"), y, classifier=sklearn.base.is_classifier(estimator))
    count = splitter.get_n_splits(X, y, groups)
    replay, splitter, reason = _replayed_splits(splitter, estimator, X, y, groups, count)
    dataset = record_data(tracker, X, y)
    splits = _track_splits(tracker, dataset, replay, count, splitter, reason)
    name = model_name(estimator)
    method = arguments.get("method", "predict")
    models = []
    for k, split in enumerate(splits):
        annotations = {"sklearn.search.split": str(k), "sklearn.cross_val_predict.method": str(method)}
        models.append(
            tracker.track_model(
                _template_model(estimator, f"{name} split {k + 1}/{count}", split.training, annotations)
            )
        )
    candidate = CandidateRecord(0, {}, tuple(models), ())
    return CrossValidationRecord(dataset, splits, (candidate,), None, None, _procedure(splitter, count))


def _split_model(tracker: Tracker, estimator: Any, fitted: Any, k: int, count: int, split: Split, name: str) -> Model:
    label = f"{name} split {k + 1}/{count}"
    annotations = {"sklearn.search.split": str(k)}
    if fitted is None:
        return tracker.track_model(_template_model(estimator, label, split.training, annotations))
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(fitted)
    except NotFittedError:  # the fit of this split failed and error_score replaced its scores
        annotations["sklearn.fit_failed"] = "the fit on this split failed; its scores are cross_validate's error_score"
        return tracker.track_model(_template_model(estimator, label, split.training, annotations))
    # A fold's search keeps the candidate it chose on that fold (sklearn.search.best_params, ...).
    return tracker.track_model(
        fitted, trained_on=split.training, name=label, annotations={**search_annotations(fitted), **annotations}
    )


def _search_name(search: Any) -> str:
    return f"{type(search).__name__} of {model_name(search.estimator)}"


# ---------------------------------------------------------------- the default metric


def default_metric_name(estimator: Any) -> str:
    """The name of what ``estimator.score`` computes (and so cross-validation with ``scoring=None``).

    A classifier's ``score`` is its accuracy (``"accuracy"``), a regressor's its
    coefficient of determination (``"r2"``), the scorer names scikit-learn gives
    them. A pipeline scores with its final step; a search with its ``scoring``
    (the ``refit`` metric when it has several), else with its estimator's default.
    Other estimators' ``score`` has no scorer name: it is named after the
    estimator's class, ``"<Class>.score"`` (``"KMeans.score"``: the opposite of
    the inertia; ``"GaussianMixture.score"``: the mean log-likelihood; a
    classifier that overrides ``score`` is named so too).
    """
    from sklearn.base import ClassifierMixin, RegressorMixin
    from sklearn.model_selection._search import BaseSearchCV
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1] if estimator.steps else None
        return default_metric_name(final) if final is not None and final != "passthrough" else "score"
    if isinstance(estimator, BaseSearchCV):
        scoring = estimator.scoring
        if isinstance(scoring, str):
            return scoring
        if isinstance(scoring, (list, tuple, set, dict)) and isinstance(getattr(estimator, "refit", None), str):
            return estimator.refit
        return default_metric_name(estimator.estimator) if scoring is None else "score"
    owner = next((klass for klass in type(estimator).__mro__ if "score" in klass.__dict__), None)
    if owner is ClassifierMixin:
        return "accuracy"
    if owner is RegressorMixin:
        return "r2"
    return f"{type(estimator).__name__}.score" if owner is not None else "score"


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
    before = np.random.get_state()
    try:
        splits = list(splitter.split(X, y, groups))
    except Exception as exc:  # noqa: BLE001 (a group splitter without groups, ...): folds unknown, scores kept
        return None, splitter, f"replaying {splitter!r} failed: {type(exc).__name__}: {exc}"
    finally:
        after = np.random.get_state()
        drew = after[2] != before[2] or not np.array_equal(after[1], before[1])
        if drew:  # a splitter of the user's that draws from numpy's global random state: undo the draws
            np.random.set_state(before)
    if drew:
        return None, splitter, f"{splitter!r} draws from numpy's global random state; give it an int random_state"
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
    annotations = {"sklearn.split": str(k), "sklearn.split_part": part}
    if reason:
        annotations["mltrack.sklearn.rows_unknown"] = reason
    return _track_derived(
        tracker,
        dataset,
        dataset,
        name=f"{dataset.name} split {k + 1}/{count} {part}",
        derivation=f"{part} part of split {k + 1} of {count} made by {splitter!r}",
        positions=positions,
        row_count=len(positions) if positions is not None else None,
        annotations=annotations,
    )


def _track_derived(
    tracker: Tracker,
    source: Dataset,
    parent: Dataset,
    *,
    name: str,
    derivation: str,
    positions: np.ndarray | None,
    row_count: int | None,
    annotations: dict[str, str],
) -> Dataset:
    """Rows ``positions`` of ``source`` (the search's input) as a dataset derived from ``parent``.

    A stored dataset with the same rows and derivation is reused, so repeated
    searches on the same data share their folds.
    """
    fingerprint = subset_fingerprint(source, positions) if positions is not None else None
    if fingerprint is not None:
        for stored in tracker.find("dataset", fingerprint=fingerprint, derived_from=parent, limit=5):
            assert isinstance(stored, Dataset)
            if stored.derivation == derivation and stored.target == parent.target:
                return stored
    return tracker.track_dataset(
        name=name,
        derived_from=[parent.id],
        derivation=derivation,
        fingerprint=fingerprint,
        schema=parent.schema,
        target=parent.target,
        row_count=row_count,
        annotations=annotations,
    )


class _HalvingRounds:
    """The data each candidate of a search was fitted and scored on, round by round.

    A successive-halving search over ``n_samples`` fits the candidates of round
    ``i`` on subsamples of each split: ``n_resources_[i]`` of the input's rows,
    as ``int(n_resources_[i] / rows * len(part))`` rows of each training and
    validation part drawn without replacement with the search's
    ``random_state``. These subsamples are datasets derived from the split's
    parts (their rows are known when ``random_state`` is an int; drawing them
    again then uses a generator of its own). Every other search, and halving
    over another resource, fits every candidate on the splits themselves.
    """

    def __init__(
        self,
        tracker: Tracker,
        search: Any,
        dataset: Dataset,
        splits: tuple[Split, ...],
        replay: Sequence[tuple[np.ndarray, np.ndarray]] | None,
        reason: str | None,
    ) -> None:
        results = search.cv_results_
        self.base = splits
        self.rounds = [int(i) for i in results["iter"]] if "iter" in results else None
        self.resources = [int(r) for r in results["n_resources"]] if "n_resources" in results else None
        self.by_round: dict[int, tuple[Split, ...]] = {}
        if self.rounds is None or getattr(search, "resource", None) != "n_samples" or not dataset.row_count:
            return
        subsample = _Subsample(tracker, search, dataset, replay, reason)
        for i, resources in enumerate(getattr(search, "n_resources_", [])):
            if resources < dataset.row_count:
                self.by_round[i] = tuple(
                    Split(*(subsample.part(split, k, part, i, resources) for part in ("training", "validation")))
                    for k, split in enumerate(splits)
                )

    def splits(self, index: int) -> tuple[Split, ...]:
        """The splits candidate row ``index`` of ``cv_results_`` was fitted and scored on."""
        return self.by_round.get(self.rounds[index], self.base) if self.rounds is not None else self.base

    def annotations(self, index: int) -> dict[str, str]:
        if self.rounds is None or self.resources is None:
            return {}
        return {
            "sklearn.search.iteration": str(self.rounds[index]),
            "sklearn.search.n_resources": str(self.resources[index]),
        }


class _Subsample:
    """Draws a halving round's subsample of a split's part again, when the search's random_state allows."""

    def __init__(
        self,
        tracker: Tracker,
        search: Any,
        dataset: Dataset,
        replay: Sequence[tuple[np.ndarray, np.ndarray]] | None,
        reason: str | None,
    ) -> None:
        self.tracker, self.search, self.dataset, self.replay = tracker, search, dataset, replay
        random_state = search.random_state
        self.reason = reason
        if reason is None and not isinstance(random_state, numbers.Integral):
            self.reason = (
                f"{type(search).__name__} drew its subsamples with random_state={random_state!r}, so they cannot "
                "be drawn again; give it an int random_state"
            )

    def part(self, split: Split, k: int, part: str, round_: int, resources: int) -> Dataset:
        from sklearn.utils import resample

        parent = split.training if part == "training" else split.validation
        rows = self.replay[k][0 if part == "training" else 1] if self.replay is not None else None
        size = int(resources / self.dataset.row_count * len(rows)) if rows is not None else None
        positions = None
        if rows is not None and self.reason is None:
            positions = resample(rows, replace=False, random_state=int(self.search.random_state), n_samples=size)
        annotations = {"sklearn.split": str(k), "sklearn.split_part": part, "sklearn.search.iteration": str(round_)}
        if self.reason:
            annotations["mltrack.sklearn.rows_unknown"] = self.reason
        return _track_derived(
            self.tracker,
            self.dataset,
            parent,
            name=f"{parent.name} iteration {round_}",
            derivation=(
                f"{size if size is not None else 'a subsample of'} rows of the {part} part of split {k + 1} drawn "
                f"without replacement by {type(self.search).__name__}(random_state={self.search.random_state!r}) "
                f"for iteration {round_} ({resources} of {self.dataset.row_count} samples)"
            ),
            positions=positions,
            row_count=size,
            annotations=annotations,
        )


# ---------------------------------------------------------------- scores


def _metric_keys(keys: Sequence[str], prefix: str, scoring: Any, estimator: Any) -> dict[str, str]:
    """Result keys (``accuracy`` in ``split0_test_accuracy``) -> metric names to record.

    One metric given as a name is recorded by that name; ``scoring=None`` (the
    estimator's ``score``) by :func:`default_metric_name`; a callable scorer as ``score``.
    """
    found = sorted({key[len(prefix) :] for key in keys if key.startswith(prefix)})
    if found == ["score"]:
        if isinstance(scoring, str):
            return {"score": scoring}
        if scoring is None:
            return {"score": default_metric_name(estimator)}
    return {key: key for key in found}


def _per_split_scores(
    results: Mapping[str, Any], metrics: Mapping[str, str], count: int
) -> list[dict[str, dict[str, list[float]]]]:
    """For each split: {"test": {metric: [score of each candidate]}, "train": {...}}."""
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
    results: Mapping[str, Any], metrics: Mapping[str, str], count: int
) -> list[dict[str, dict[str, list[float]]]]:
    """cross_validate's ``test_<metric>`` arrays in the shape of :func:`_per_split_scores` (one candidate)."""
    return [
        {
            part: {metric: [float(results[f"{part}_{key}"][k])] for key, metric in metrics.items()}
            for part in ("test", "train")
            if metrics and all(f"{part}_{key}" in results for key in metrics)
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
