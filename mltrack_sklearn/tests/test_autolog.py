"""autolog: every top-level fit, search and cross-validation recorded once, correctly, and nothing else changed."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, StackingClassifier
from sklearn.feature_selection import RFECV
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.model_selection import cross_val_predict as sklearn_cross_val_predict
from sklearn.model_selection import cross_val_score as sklearn_cross_val_score
from sklearn.model_selection import cross_validate as sklearn_cross_validate
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC

import mltrack_core as mt
import mltrack_sklearn
from mltrack_sklearn import TrackedPipeline, cross_validate, track_search
from mltrack_sklearn.autolog import inside_tracked_call, tracked_call
from mltrack_sklearn.data import subset_fingerprint
from mltrack_sklearn.tuning import default_metric_name

NESTED_GRID = {"C": [1, 10, 100], "gamma": [0.01, 0.1]}


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


@pytest.fixture
def autologged(tracker):
    """Automatic tracking into the test's tracker, always turned off afterwards."""
    mltrack_sklearn.autolog(tracker=tracker)
    yield tracker
    mltrack_sklearn.autolog(disable=True)


@pytest.fixture
def turned_off():
    """For tests that turn autolog on themselves."""
    yield
    mltrack_sklearn.autolog(disable=True)


def counts(tracker):
    return {kind: tracker.count(kind) for kind in ("dataset", "run", "model", "evaluation")}


def parameters(model):
    return {p.name: p.value for p in model.hyperparameters}


def the_one(tracker, kind, **filters):
    (found,) = tracker.find(kind, **filters)
    return found


def scaled_logistic_regression():
    return Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000))])


# ---------------------------------------------------------------- one record per top-level fit


def test_a_bare_fit_records_its_dataset_with_the_target_a_run_and_the_model(autologged, iris):
    X, y = iris
    estimator = LogisticRegression(max_iter=1000)
    assert estimator.fit(X, y) is estimator
    model = the_one(autologged, "model")
    run = the_one(autologged, "run")
    dataset = autologged.get(model.trained_on)
    assert model.learning_algorithm == "LogisticRegression"
    assert parameters(model)["max_iter"] == 1000
    assert dataset.target == "target"
    assert dataset.row_count == 150
    assert [c.name for c in dataset.schema] == [*X.columns, "target"]
    assert run.state is mt.TrainingState.FINISHED
    assert run.for_model == model.id
    assert run.trained_on == dataset.id


def test_a_pipeline_is_one_record_whatever_its_steps_fit_inside(autologged, iris):
    X, y = iris
    pipeline = scaled_logistic_regression().fit(X, y)
    model = the_one(autologged, "model")
    assert counts(autologged) == {"dataset": 1, "run": 1, "model": 1, "evaluation": 0}
    assert model.learning_algorithm == "LogisticRegression"
    assert len(model.transforms) == 2
    assert parameters(model)["classify__max_iter"] == 1000
    # fit_transform calling fit, and a transformer's own fit_transform, are one record each
    StandardScaler().fit_transform(X)
    make_pipeline(StandardScaler(), PCA(2)).fit_transform(X)
    assert autologged.count("model") == 3
    assert pipeline.predict(X).shape == (150,)


def test_column_transformer_and_feature_union_record_one_model_with_their_branches(autologged, wine, vertices):
    X, y = wine
    numeric = [c for c in X.columns if c != "strength"]
    prepare = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("text", OneHotEncoder(), ["strength"]),
        ]
    )
    union = FeatureUnion([("pca", PCA(3)), ("identity", FunctionTransformer())])
    Pipeline([("prepare", prepare), ("union", union), ("classify", LogisticRegression(max_iter=2000))]).fit(X, y)
    model = the_one(autologged, "model")
    assert autologged.count("run") == 1
    names = set(vertices(model))
    assert {"prepare__numbers__simpleimputer", "prepare__text", "union__pca", "union__identity", "classify"} <= names


def test_meta_estimators_record_once_and_their_inner_fits_not_at_all(autologged, cancer, diabetes):
    X, y = cancer
    stack = StackingClassifier(
        [
            ("forest", RandomForestClassifier(n_estimators=10, random_state=0)),
            ("svc", make_pipeline(StandardScaler(), SVC())),
        ],
        final_estimator=LogisticRegression(max_iter=1000),
        cv=3,
    ).fit(X, y)
    model = the_one(autologged, "model")
    assert model.learning_algorithm == "StackingClassifier"
    # the cross_val_predict inside the stacking records no folds
    assert counts(autologged) == {"dataset": 1, "run": 1, "model": 1, "evaluation": 0}
    assert stack.predict(X).shape == y.shape

    Xd, yd = diabetes
    TransformedTargetRegressor(Ridge(), func=np.log1p, inverse_func=np.expm1).fit(Xd, yd)
    (regressor,) = [m for m in autologged.find("model") if m.learning_algorithm == "TransformedTargetRegressor"]
    assert autologged.get(regressor.trained_on).target == "target"
    assert autologged.count("model") == 2


def test_trees_fitted_in_threads_are_part_of_the_forest(autologged, cancer):
    X, y = cancer
    forest = RandomForestClassifier(n_estimators=8, n_jobs=2, random_state=0).fit(X, y)
    assert len(forest.estimators_) == 8
    assert counts(autologged) == {"dataset": 1, "run": 1, "model": 1, "evaluation": 0}
    assert not inside_tracked_call()


def test_a_users_estimator_defined_after_enabling_is_recorded_once_with_super_fit(autologged, iris):
    class Centered(ClassifierMixin, BaseEstimator):
        """A user's classifier that fits its own steps and calls super()-style helpers."""

        def __init__(self, C=1.0):
            self.C = C

        def fit(self, X, y):
            self.scaler_ = StandardScaler().fit(X)
            self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(self.scaler_.transform(X), y)
            self.classes_ = self.model_.classes_
            return self

        def predict(self, X):
            return self.model_.predict(self.scaler_.transform(X))

    class Shifted(Centered):
        def fit(self, X, y):
            return super().fit(X + 1.0, y)

    X, y = iris
    Shifted(C=2.0).fit(X, y)
    model = the_one(autologged, "model")
    assert model.learning_algorithm == "Shifted"
    assert parameters(model)["C"] == 2.0
    assert autologged.count("run") == 1


def test_a_transformer_defined_while_enabled_still_works_after_disable(autologged, iris):
    class Doubler(TransformerMixin, BaseEstimator):
        """Its own fit_transform, which scikit-learn's set_output wraps when the class is defined."""

        def fit(self, X, y=None):
            self.n_features_in_ = X.shape[1]
            return self

        def transform(self, X):
            return np.asarray(X) * 2.0

        def fit_transform(self, X, y=None):
            return self.fit(X, y).transform(X)

        def get_feature_names_out(self, input_features=None):
            return np.asarray([f"double_{i}" for i in range(self.n_features_in_)], dtype=object)

    X = iris[0]
    np.testing.assert_array_equal(Doubler().fit_transform(X), X.to_numpy() * 2.0)
    assert autologged.count("model") == 1
    mltrack_sklearn.autolog(disable=True)
    frame = Doubler().set_output(transform="pandas").fit_transform(X)
    assert list(frame.columns) == ["double_0", "double_1", "double_2", "double_3"]
    Doubler().fit(X)
    assert autologged.count("model") == 1


def test_a_failing_fit_leaves_a_failed_run_and_raises_unchanged(autologged, iris):
    X, y = iris
    with pytest.raises(ValueError, match="penalty") as autologged_error:
        LogisticRegression(penalty="l3").fit(X, y)
    mltrack_sklearn.autolog(disable=True)
    with pytest.raises(ValueError, match="penalty") as plain_error:
        LogisticRegression(penalty="l3").fit(X, y)
    assert type(autologged_error.value) is type(plain_error.value)
    assert str(autologged_error.value) == str(plain_error.value)
    run = the_one(autologged, "run")
    assert run.state is mt.TrainingState.FAILED
    assert "penalty" in run.annotations["mltrack.failure"]
    assert autologged.count("model") == 0
    assert not inside_tracked_call()


def test_a_store_that_fails_is_a_warning_and_the_fit_goes_on(autologged, iris):
    X, y = iris
    autologged.store.close()

    def fit_and_flush():  # the run's write is deferred: its failure is reported by the next call to the tracker
        fitted = LogisticRegression(max_iter=1000).fit(X, y)
        autologged.flush()
        return fitted

    with pytest.warns(mt.TrackingWarning) as caught:
        estimator = fit_and_flush()
    messages = [str(warning.message) for warning in caught]
    assert any("training data of a LogisticRegression.fit call was not recorded: StoreError" in m for m in messages)
    assert any(re.search(r"run run-\S+ was not recorded: StoreError", m) for m in messages)
    mltrack_sklearn.autolog(disable=True)
    np.testing.assert_array_equal(estimator.predict(X), LogisticRegression(max_iter=1000).fit(X, y).predict(X))


# ---------------------------------------------------------------- searches


def test_a_grid_search_in_worker_processes_records_its_model_folds_and_candidates(autologged, iris):
    X, y = iris
    splitter = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(scaled_logistic_regression(), {"classify__C": [0.1, 1.0]}, cv=splitter, n_jobs=2).fit(X, y)
    run = the_one(autologged, "run")
    model = autologged.get(run.for_model)
    dataset = autologged.get(model.trained_on)
    assert model.annotations["sklearn.search.best_index"] == str(search.best_index_)
    assert json.loads(model.annotations["sklearn.search.best_params"]) == search.best_params_
    assert float(model.annotations["sklearn.search.best_score"]) == search.best_score_
    assert parameters(model)["estimator__classify__C"] == search.best_params_["classify__C"]
    # 2 candidates x 3 folds, each with its accuracy on its validation part, and the refit model
    assert autologged.count("model") == 1 + 6
    assert autologged.count("evaluation") == 6
    parts = autologged.find("dataset", derived_from=dataset)
    assert len(parts) == 6
    validation = {p.fingerprint: p for p in parts if p.annotations["sklearn.split_part"] == "validation"}
    for k, (_, test) in enumerate(splitter.split(X, y)):
        part = validation[subset_fingerprint(dataset, test)]
        board = autologged.leaderboard(part, "accuracy")
        assert sorted(e.value for e in board.entries) == sorted(search.cv_results_[f"split{k}_test_score"])
    assert autologged.count("run") == 1


def test_a_halving_search_records_each_rounds_subsamples(autologged, digits):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = digits
    search = HalvingGridSearchCV(
        SVC(), {"C": [0.1, 1, 10], "gamma": [1e-3, 1e-4]}, factor=2, cv=3, random_state=0, min_resources=200
    ).fit(X, y)
    model = autologged.get(the_one(autologged, "run").for_model)
    dataset = autologged.get(model.trained_on)
    assert model.annotations["sklearn.search.best_params"] == json.dumps(search.best_params_, sort_keys=True)
    results = search.cv_results_
    candidates = [m for m in autologged.find("model") if m.id != model.id]
    assert len(candidates) == len(results["params"]) * 3
    splits = list(StratifiedKFold(3).split(X, y))
    for candidate in candidates:
        index = int(candidate.annotations["sklearn.search.candidate"])
        k = int(candidate.annotations["sklearn.search.split"])
        resources = results["n_resources"][index]
        assert candidate.annotations["sklearn.search.n_resources"] == str(resources)
        training = autologged.get(candidate.trained_on)
        train_rows = splits[k][0]
        assert training.row_count == int(resources / len(y) * len(train_rows))
        if resources < len(y):
            drawn = sklearn.utils.resample(train_rows, replace=False, random_state=0, n_samples=training.row_count)
            assert training.fingerprint == subset_fingerprint(dataset, drawn)
            assert autologged.get(training.derived_from[0]).derived_from == (dataset.id,)
        evaluations = {e.procedure: e for e in autologged.find("evaluation", computed_by=candidate)}
        assert evaluations["3-fold cross-validation"].score("accuracy").value == results[f"split{k}_test_score"][index]
        assert evaluations["training part of 3-fold cross-validation"].on_dataset == training.id


def test_a_search_without_refit_records_its_candidates_and_no_model(autologged, iris):
    X, y = iris
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0]}, cv=3, refit=False).fit(X, y)
    run = the_one(autologged, "run")
    assert run.state is mt.TrainingState.FINISHED
    assert run.for_model is None
    models = autologged.find("model")
    assert len(models) == 2 * 3
    assert {parameters(m)["C"] for m in models} == {0.1, 1.0}
    assert sorted(e.score("accuracy").value for e in autologged.find("evaluation")) == sorted(
        search.cv_results_[f"split{k}_test_score"][i] for k in range(3) for i in range(2)
    )


def test_a_search_over_a_tracked_pipeline_keeps_the_chosen_candidate_on_its_model(tracker, iris):
    X, y = iris
    search = GridSearchCV(
        TrackedPipeline(scaled_logistic_regression().steps, tracker=tracker), {"classify__C": [0.01, 1.0]}, cv=3
    ).fit(X, y)
    record = track_search(search, X, y, tracker=tracker)
    assert record.model.annotations["sklearn.search.best_index"] == str(search.best_index_)
    assert json.loads(record.model.annotations["sklearn.search.best_params"]) == search.best_params_


# ---------------------------------------------------------------- cross-validation


def test_cross_val_score_is_recorded_once_with_the_default_metrics_name(autologged, iris):
    from sklearn.model_selection import cross_val_score  # imported after enabling: the patched function

    X, y = iris
    splitter = KFold(5, shuffle=True, random_state=1)
    scores = cross_val_score(scaled_logistic_regression(), X, y, cv=splitter)
    mltrack_sklearn.autolog(disable=True)
    expected = sklearn_cross_val_score(scaled_logistic_regression(), X, y, cv=splitter)
    np.testing.assert_array_equal(scores, expected)
    assert autologged.count("run") == 0  # the fold fits are not runs of their own
    assert autologged.count("model") == 5
    assert autologged.count("evaluation") == 5
    evaluations = autologged.find("evaluation")
    assert sorted(e.score("accuracy").value for e in evaluations) == sorted(scores)
    for (_, test), score in zip(splitter.split(X, y), scores, strict=True):
        (part,) = [
            d
            for d in autologged.find("dataset")
            if d.annotations.get("sklearn.split_part") == "validation"
            and d.fingerprint == subset_fingerprint(autologged.get(d.derived_from[0]), test)
        ]
        assert autologged.leaderboard(part, "accuracy").entries[0].value == score


def test_cross_validate_returns_what_scikit_learn_returns(autologged, diabetes):
    X, y = diabetes
    options = {"cv": 4, "scoring": ["r2", "neg_mean_absolute_error"], "return_train_score": True}
    results = sklearn.model_selection.cross_validate(Ridge(), X, y, **options)
    mltrack_sklearn.autolog(disable=True)
    expected = sklearn_cross_validate(Ridge(), X, y, **options)
    assert list(results) == list(expected)
    for key in expected:
        if "time" not in key:
            np.testing.assert_array_equal(results[key], expected[key])
    evaluations = [e for e in autologged.find("evaluation") if e.procedure == "4-fold cross-validation"]
    assert sorted(e.score("r2").value for e in evaluations) == sorted(results["test_r2"])
    training = [e for e in autologged.find("evaluation") if e.procedure == "training part of 4-fold cross-validation"]
    assert sorted(e.score("neg_mean_absolute_error").value for e in training) == sorted(
        results["train_neg_mean_absolute_error"]
    )


def test_cross_val_predict_records_the_folds_and_returns_the_same_predictions(autologged, iris):
    X, y = iris
    splitter = KFold(3, shuffle=True, random_state=2)
    predicted = sklearn.model_selection.cross_val_predict(scaled_logistic_regression(), X, y, cv=splitter)
    mltrack_sklearn.autolog(disable=True)
    np.testing.assert_array_equal(predicted, sklearn_cross_val_predict(scaled_logistic_regression(), X, y, cv=splitter))
    models = autologged.find("model")
    assert len(models) == 3
    assert {m.annotations["sklearn.cross_val_predict.method"] for m in models} == {"predict"}
    dataset = [d for d in autologged.find("dataset") if not d.derived_from]
    (source,) = dataset
    trained_on = {autologged.get(m.trained_on).fingerprint for m in models}
    assert trained_on == {subset_fingerprint(source, train) for train, _ in splitter.split(X, y)}


def nested_cross_validation():
    inner = KFold(n_splits=4, shuffle=True, random_state=0)
    outer = KFold(n_splits=4, shuffle=True, random_state=0)
    return GridSearchCV(SVC(kernel="rbf"), NESTED_GRID, cv=inner), outer


def chosen_per_fold(iris):
    """The C each outer fold's search chose, computed by scikit-learn alone."""
    search, outer = nested_cross_validation()
    results = sklearn_cross_validate(search, *iris, cv=outer, return_estimator=True)
    return sorted(fitted.best_params_["C"] for fitted in results["estimator"])


def test_nested_cross_validation_records_the_candidate_each_fold_chose(autologged, iris):
    chosen = chosen_per_fold(iris)
    assert len(set(chosen)) > 1  # the folds disagree: recording the full-data winner everywhere would be wrong
    search, outer = nested_cross_validation()
    search.fit(*iris)  # the non-nested search: one model, its folds and candidates
    before = autologged.count("model")
    from sklearn.model_selection import cross_val_score

    scores = cross_val_score(search, *iris, cv=outer)
    fold_models = [
        m
        for m in autologged.find("model")
        if m.annotations.get("sklearn.search.split") and "sklearn.search.best_params" in m.annotations
    ]
    assert autologged.count("model") == before + 4
    assert sorted(parameters(m)["estimator__C"] for m in fold_models) == chosen
    assert sorted(json.loads(m.annotations["sklearn.search.best_params"])["C"] for m in fold_models) == chosen
    evaluations = [e for m in fold_models for e in autologged.find("evaluation", computed_by=m)]
    assert {e.procedure for e in evaluations} == {"4-fold cross-validation"}
    assert sorted(e.score("accuracy").value for e in evaluations) == sorted(scores)


def test_explicit_cross_validate_of_a_search_records_each_folds_choice(tracker, iris):
    chosen = chosen_per_fold(iris)
    search, outer = nested_cross_validation()
    results = cross_validate(search, *iris, cv=outer, tracker=tracker)
    assert "estimator" not in results
    assert sorted(parameters(m)["estimator__C"] for m in tracker.find("model")) == chosen


def test_explicit_cross_validate_without_scoring_names_the_estimators_metric(tracker, iris, diabetes):
    results = cross_validate(scaled_logistic_regression(), *iris, cv=3, tracker=tracker)
    parts = [d for d in tracker.find("dataset") if d.annotations.get("sklearn.split_part") == "validation"]
    assert len(parts) == 3
    boards = [tracker.leaderboard(part, "accuracy") for part in parts]
    assert sorted(board.entries[0].value for board in boards) == sorted(results["test_score"])
    cross_validate(Ridge(), *diabetes, cv=3, tracker=tracker)
    assert len(tracker.find("evaluation")) == 6
    assert {e.scores[0].metric for e in tracker.find("evaluation")} == {"accuracy", "r2"}


def test_the_default_metric_is_named_after_what_score_computes():
    assert default_metric_name(LogisticRegression()) == "accuracy"
    assert default_metric_name(Ridge()) == "r2"
    assert default_metric_name(scaled_logistic_regression()) == "accuracy"
    assert default_metric_name(TransformedTargetRegressor(Ridge())) == "r2"
    assert default_metric_name(GridSearchCV(Ridge(), {"alpha": [1]})) == "r2"
    assert default_metric_name(GridSearchCV(Ridge(), {"alpha": [1]}, scoring="neg_mean_squared_error")) == (
        "neg_mean_squared_error"
    )
    assert default_metric_name(GridSearchCV(SVC(), {"C": [1]}, scoring=["accuracy", "f1_macro"], refit="f1_macro")) == (
        "f1_macro"
    )
    assert default_metric_name(RFECV(LogisticRegression(), scoring="f1")) == "RFECV.score"  # the estimator's score
    assert default_metric_name(KMeans()) == "KMeans.score"
    assert default_metric_name(GaussianMixture()) == "GaussianMixture.score"


# ---------------------------------------------------------------- TrackedPipeline


def test_a_tracked_pipeline_inside_another_records_only_the_outer_fit(tracker, iris):
    X, y = iris
    inner = TrackedPipeline([("scale", StandardScaler())], tracker=tracker)
    outer = TrackedPipeline([("prepare", inner), ("classify", LogisticRegression(max_iter=1000))], tracker=tracker)
    outer.fit(X, y)
    outer.fit(X, y)
    assert tracker.count("run") == 2
    assert {m.learning_algorithm for m in tracker.find("model")} == {"LogisticRegression"}


def test_a_tracked_pipeline_under_autolog_records_once_into_its_own_tracker(autologged, iris):
    X, y = iris
    with mt.connect("memory://") as own:
        pipeline = TrackedPipeline(scaled_logistic_regression().steps, tracker=own).fit(X, y)
        assert own.count("model") == own.count("run") == 1
        assert pipeline.tracked_model_.id == the_one(own, "model").id
    assert autologged.count("model") == autologged.count("run") == 0


# ---------------------------------------------------------------- turning on and off


def original_methods():
    return {
        (cls, name): cls.__dict__[name]
        for cls in (LogisticRegression, Pipeline, TransformerMixin, ClassifierMixin, SVC, GridSearchCV)
        for name in ("fit", "fit_transform", "fit_predict", "predict", "predict_proba", "score")
        if name in cls.__dict__
    }


def test_disable_restores_every_method_and_records_nothing(tracker, iris, turned_off):
    import sklearn.base
    import sklearn.model_selection._validation as validation

    before = original_methods()
    signatures = {key: inspect.signature(getattr(key[0], key[1])) for key in before}
    functions = {name: getattr(validation, name) for name in ("cross_validate", "cross_val_score")}
    hook = sklearn.base.BaseEstimator.__dict__.get("__init_subclass__")
    mltrack_sklearn.autolog(tracker=tracker)
    patched = original_methods()
    assert all(patched[key] is not before[key] for key in before)
    assert {key: inspect.signature(getattr(key[0], key[1])) for key in before} == signatures
    assert sklearn.model_selection.cross_val_score is not functions["cross_val_score"]
    mltrack_sklearn.autolog(disable=True)
    assert original_methods() == before
    assert all(original_methods()[key] is before[key] for key in before)
    assert sklearn.model_selection.cross_val_score is functions["cross_val_score"]
    assert all(getattr(validation, name) is function for name, function in functions.items())
    assert sklearn.base.BaseEstimator.__dict__.get("__init_subclass__") is hook
    scaled_logistic_regression().fit(*iris)
    sklearn.model_selection.cross_val_score(LogisticRegression(max_iter=1000), *iris, cv=3)
    assert counts(tracker) == {"dataset": 0, "run": 0, "model": 0, "evaluation": 0}


def test_patched_methods_keep_signatures_docstrings_and_availability(autologged, iris):
    assert inspect.signature(LogisticRegression.fit).parameters.keys() == {"self", "X", "y", "sample_weight"}
    assert LogisticRegression.fit.__doc__.lstrip().startswith("Fit the model")
    assert LogisticRegression.fit.__name__ == "fit"
    assert not hasattr(SVC(probability=False), "predict_proba")
    with pytest.raises(AttributeError):
        SVC(probability=False).predict_proba
    assert hasattr(SVC(probability=True), "predict_proba")
    assert not hasattr(Pipeline([("classify", LogisticRegression())]), "fit_transform")
    assert hasattr(Pipeline([("scale", StandardScaler())]), "fit_transform")
    # metadata routing reads fit's signature
    assert "sample_weight" in LogisticRegression().get_metadata_routing().fit.requests


def test_enabling_twice_records_each_fit_once(autologged, iris):
    fit = LogisticRegression.__dict__["fit"]
    mltrack_sklearn.autolog(tracker=autologged)
    assert LogisticRegression.__dict__["fit"] is fit
    LogisticRegression(max_iter=1000).fit(*iris)
    assert counts(autologged)["model"] == counts(autologged)["run"] == 1


def test_a_wrong_tracker_is_refused(turned_off):
    with pytest.raises(mt.SchemaError, match=r"must be a mltrack_core\.Tracker or None, got str"):
        mltrack_sklearn.autolog(tracker="memory://")


def test_the_guard_says_when_a_call_is_nested():
    assert not inside_tracked_call()
    with tracked_call() as top:
        assert top
        assert inside_tracked_call()
        with tracked_call() as nested:
            assert not nested
        assert inside_tracked_call()
    assert not inside_tracked_call()


def test_the_plugin_turns_autolog_on_only_once_the_program_imports_scikit_learn(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import mltrack_core as mt

        tracker = mt.connect("memory://")
        frameworks = mt.autolog(tracker=tracker)
        print(frameworks, "sklearn" in sys.modules)
        from sklearn.datasets import load_iris
        from sklearn.experimental import enable_halving_search_cv
        from sklearn.model_selection import cross_val_score, HalvingRandomSearchCV
        from sklearn.linear_model import LogisticRegression
        X, y = load_iris(return_X_y=True)
        cross_val_score(LogisticRegression(max_iter=1000), X, y, cv=3)
        LogisticRegression(max_iter=1000).fit(X, y)
        print(tracker.count("model"), tracker.count("run"), tracker.count("evaluation"))
        search = HalvingRandomSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1, 10]}, cv=3, random_state=0)
        search.fit(X, y)
        (run,) = [run for run in tracker.find("run") if "Halving" in run.name]
        print(tracker.get(run.for_model).annotations["sklearn.search.best_index"] == str(search.best_index_))
        mt.autolog(tracker=tracker, disable=True)
        before = tracker.count("model")
        LogisticRegression(max_iter=1000).fit(X, y)
        print(tracker.count("model") == before)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "['scikit-learn'] False"
    assert lines[1:] == ["4 1 3", "True", "True"]


NESTED_PROGRAM = """
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.svm import SVC

X, y = load_iris(return_X_y=True)
search = GridSearchCV(SVC(), {"C": [1, 10, 100], "gamma": [0.01, 0.1]}, cv=KFold(4, shuffle=True, random_state=0))
search.fit(X, y)
print(cross_val_score(search, X, y, cv=KFold(4, shuffle=True, random_state=0)).mean())
"""


def test_an_unmodified_program_under_mltrack_run_records_each_folds_choice(tmp_path, iris):
    script = tmp_path / "nested.py"
    script.write_text(NESTED_PROGRAM)
    store = tmp_path / "store.db"
    environment = dict(os.environ)
    python_path = [os.path.abspath(entry) for entry in environment.get("PYTHONPATH", "").split(os.pathsep) if entry]
    environment["PYTHONPATH"] = os.pathsep.join(python_path)
    result = subprocess.run(
        [sys.executable, "-m", "mltrack_core.run", "--uri", f"sqlite:///{store}", str(script)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        check=True,
    )
    assert "mltrack: recorded" in result.stderr
    with mt.connect(f"sqlite:///{store}") as tracker:
        run = the_one(tracker, "run")
        search_model = tracker.get(run.for_model)
        assert "sklearn.search.best_params" in search_model.annotations
        outer = [
            m
            for m in tracker.find("model")
            if m.id != search_model.id and "sklearn.search.best_params" in m.annotations
        ]
        assert sorted(parameters(m)["estimator__C"] for m in outer) == chosen_per_fold(iris)


# ---------------------------------------------------------------- nothing changes for the program


def program():
    """A small program: splits, fits that warn, a search, cross-validation, all drawing from numpy's global state."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_predict, cross_val_score, train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    forest = RandomForestClassifier(n_estimators=5).fit(X_train, y_train)
    unscaled = LogisticRegression(max_iter=5).fit(X_train, y_train)  # a ConvergenceWarning
    grid = {"logisticregression__C": [0.1, 1]}
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)), grid, cv=KFold(3, shuffle=True)
    )
    search.fit(X_train, y_train)
    scores = cross_val_score(RandomForestClassifier(n_estimators=5), X, y, cv=KFold(3, shuffle=True))
    predicted = cross_val_predict(search, X, y, cv=3)
    return [
        forest.predict_proba(X_test),
        unscaled.predict(X_test),
        search.predict(X_test),
        scores,
        predicted,
        search.score(X_test, y_test),
        np.random.random(3),
    ]


def run_program():
    np.random.seed(12345)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outputs = program()
    state = np.random.get_state()
    seen = [
        (w.category, str(w.message), w.filename, w.lineno)
        for w in caught
        if not issubclass(w.category, mt.TrackingWarning)
    ]
    return outputs, state, seen, [w for w in caught if issubclass(w.category, mt.TrackingWarning)]


def test_autolog_changes_no_prediction_no_random_draw_and_no_warning(tracker, turned_off):
    plain_outputs, plain_state, plain_warnings, _ = run_program()
    mltrack_sklearn.autolog(tracker=tracker)
    outputs, state, seen, tracking_warnings = run_program()
    assert tracking_warnings == []
    assert tracker.count("model") > 3
    for plain, tracked in zip(plain_outputs, outputs, strict=True):
        np.testing.assert_array_equal(plain, tracked)
    assert plain_state[0] == state[0]
    np.testing.assert_array_equal(plain_state[1], state[1])
    assert plain_state[2:] == state[2:]
    assert seen == plain_warnings
    assert any(category.__name__ == "ConvergenceWarning" for category, *_ in seen)
