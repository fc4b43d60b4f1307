"""Cross-validation provenance: folds, candidates, per-fold scores and the winner, without refitting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold
from sklearn.model_selection import cross_validate as sklearn_cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mltrack_core as mt
from mltrack_sklearn import TrackedPipeline, cross_validate, track_search
from mltrack_sklearn.data import subset_fingerprint


def pipeline():
    return Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=500))])


@pytest.fixture
def no_fitting(monkeypatch):
    """Make any fit fail: recording must only read what the search kept."""

    def refuse(*args, **kwargs):
        raise AssertionError("tracking refitted an estimator")

    monkeypatch.setattr(LogisticRegression, "fit", refuse)
    monkeypatch.setattr(StandardScaler, "fit", refuse)


def test_grid_search_folds_candidates_scores_and_winner(tracker, iris, request):
    X, y = iris
    splitter = StratifiedKFold(n_splits=4, shuffle=True, random_state=3)
    search = GridSearchCV(pipeline(), {"classify__C": [0.01, 0.1, 1.0]}, cv=splitter).fit(X, y)
    request.getfixturevalue("no_fitting")
    record = track_search(search, X, y, tracker=tracker, name="iris search")

    assert record.procedure == "4-fold cross-validation"
    assert len(record.splits) == 4
    for k, (train_rows, test_rows) in enumerate(splitter.split(X, y)):
        split = record.splits[k]
        assert split.training.derived_from == (record.dataset.id,) == split.validation.derived_from
        assert split.training.row_count == len(train_rows)
        assert split.validation.row_count == len(test_rows)
        assert split.validation.fingerprint == subset_fingerprint(record.dataset, test_rows)
        assert "StratifiedKFold" in split.validation.derivation
        assert "validation part of split" in split.validation.derivation
    assert len(record.candidates) == 3
    for candidate in record.candidates:
        assert len(candidate.models) == len(candidate.evaluations) == 4
        for k, (model, evaluation) in enumerate(zip(candidate.models, candidate.evaluations, strict=True)):
            assert model.trained_on == record.splits[k].training.id
            assert {p.name: p.value for p in model.hyperparameters}["classify__C"] == candidate.params["classify__C"]
            assert evaluation.on_dataset == record.splits[k].validation.id
            assert evaluation.computed_by == model.id
            assert evaluation.score("accuracy").value == search.cv_results_[f"split{k}_test_score"][candidate.index]
            assert evaluation.procedure == "4-fold cross-validation"
    assert record.best_index == search.best_index_
    assert record.best.models[0].annotations["sklearn.search.best"] == "true"
    assert record.model.trained_on == record.dataset.id
    assert (
        record.model.annotations["sklearn.search.best_params"]
        == f'{{"classify__C": {search.best_params_["classify__C"]}}}'
    )
    board = tracker.leaderboard(record.splits[0].validation, "accuracy")
    assert len(board.entries) == 3
    assert board.entries[0].value == max(search.cv_results_["split0_test_score"])


def test_randomized_multi_metric_search_with_training_scores(tracker, iris):
    X, y = iris
    search = RandomizedSearchCV(
        pipeline(),
        {"classify__C": loguniform(1e-2, 1e1)},
        n_iter=2,
        cv=3,
        scoring=["accuracy", "f1_macro"],
        refit="f1_macro",
        return_train_score=True,
        random_state=0,
    ).fit(X, y)
    record = track_search(search, X, y, tracker=tracker)
    evaluation = record.candidates[1].evaluations[2]
    assert evaluation.score("f1_macro").value == search.cv_results_["split2_test_f1_macro"][1]
    assert evaluation.score("accuracy").value == search.cv_results_["split2_test_accuracy"][1]
    assert record.candidates[1].models[2].annotations["sklearn.search.rank"] == str(
        search.cv_results_["rank_test_f1_macro"][1]
    )
    (training,) = tracker.find(
        "evaluation", computed_by=record.candidates[1].models[2], on_dataset=record.splits[2].training
    )
    assert training.score("accuracy").value == search.cv_results_["split2_train_accuracy"][1]
    assert training.procedure == "training part of 3-fold cross-validation"


def test_the_refit_model_of_a_search_of_a_tracked_pipeline_names_the_chosen_candidate(tracker, iris):
    X, y = iris
    search = GridSearchCV(TrackedPipeline(pipeline().steps, tracker=tracker), {"classify__C": [0.1, 1.0]}, cv=3).fit(
        X, y
    )
    record = track_search(search, X, y, tracker=tracker)
    assert record.model.trained_on == search.best_estimator_.tracked_model_.trained_on == record.dataset.id
    assert record.model.annotations["sklearn.search.best_index"] == str(search.best_index_)
    assert (
        record.model.annotations["sklearn.search.best_params"]
        == f'{{"classify__C": {search.best_params_["classify__C"]}}}'
    )


def test_splits_that_cannot_be_replayed_are_recorded_without_rows(tracker, iris):
    X, y = iris
    search = GridSearchCV(pipeline(), {"classify__C": [0.1]}, cv=KFold(3, shuffle=True)).fit(X, y)
    record = track_search(search, X, y, tracker=tracker)
    validation = record.splits[0].validation
    assert validation.fingerprint is None
    assert validation.row_count is None
    assert "give it an int random_state" in validation.annotations["mltrack.sklearn.rows_unknown"]
    assert record.candidates[0].evaluations[0].score("accuracy").value == search.cv_results_["split0_test_score"][0]


def test_repeated_searches_on_the_same_data_share_fold_datasets(tracker, iris):
    X, y = iris
    first = track_search(GridSearchCV(pipeline(), {"classify__C": [0.1]}, cv=3).fit(X, y), X, y, tracker=tracker)
    second = track_search(GridSearchCV(pipeline(), {"classify__C": [1.0]}, cv=3).fit(X, y), X, y, tracker=tracker)
    assert [s.validation.id for s in first.splits] == [s.validation.id for s in second.splits]
    assert len(tracker.leaderboard(first.splits[1].validation, "accuracy").entries) == 2


def test_only_fitted_searches_are_accepted(tracker, iris):
    with pytest.raises(mt.SchemaError, match="needs a fitted search"):
        track_search(GridSearchCV(pipeline(), {"classify__C": [0.1]}), *iris, tracker=tracker)


def test_cross_validate_records_exact_folds_and_returns_sklearns_results(tracker, diabetes):
    X, y = diabetes
    estimator = Pipeline([("scale", StandardScaler()), ("regress", Ridge(alpha=0.5))])
    options = {"cv": KFold(5, shuffle=True, random_state=1), "scoring": "neg_mean_absolute_error"}
    results = cross_validate(estimator, X, y, tracker=tracker, return_estimator=True, **options)
    expected = sklearn_cross_validate(estimator, X, y, return_estimator=True, **options)
    assert set(results) == set(expected)
    assert "indices" not in results
    np.testing.assert_array_equal(results["test_score"], expected["test_score"])
    evaluations = tracker.find("evaluation")
    assert sorted(e.score("neg_mean_absolute_error").value for e in evaluations) == sorted(results["test_score"])
    models = tracker.find("model")
    assert len(models) == 5
    assert all(len(m.transforms) == 2 for m in models)
    folds = {tracker.get(e.on_dataset).fingerprint for e in evaluations}
    dataset = tracker.find("dataset", derived_from=tracker.get(models[0].trained_on).derived_from[0])
    assert len(dataset) == 10
    parent = tracker.get(models[0].trained_on).derived_from[0]
    rows = [test for _, test in options["cv"].split(X)]
    assert folds == {subset_fingerprint(tracker.get(parent), test) for test in rows}


def test_cross_validate_without_estimators_records_each_fitted_split_model(tracker, iris):
    X, y = iris
    results = cross_validate(pipeline(), X, y, cv=3, tracker=tracker, return_indices=True, scoring=["accuracy"])
    assert "indices" in results
    assert "estimator" not in results
    models = tracker.find("model")
    assert len(models) == 3
    assert all(len(m.transforms) == 2 for m in models)
    assert {p.name for p in models[0].hyperparameters} == set(pipeline().get_params(deep=True))
    assert {e.score("accuracy").value for e in tracker.find("evaluation")} == set(results["test_accuracy"])
