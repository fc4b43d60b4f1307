"""Records that used to be wrong: function-valued hyperparameters, a transformed target in the DAG,
NaN-valued parameters in diffs, evaluating a fitted search."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.feature_selection import SelectKBest, chi2, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, QuantileTransformer, StandardScaler

import mltrack_core as mt
from mltrack_sklearn import TrackedPipeline, track_evaluation
from mltrack_sklearn.dag import build_dag, input_columns
from mltrack_sklearn.parameters import plain_value


class Clip:
    """A callable object, as a user writes one for FunctionTransformer."""

    def __init__(self, low: float) -> None:
        self.low = low

    def __call__(self, X):
        return np.clip(X, self.low, None)


TARGET_NOTE = "sklearn.target_transform"


def qualified(function) -> str:
    return f"{function.__module__}.{function.__qualname__}"


# ---------------------------------------------------------------- function-valued hyperparameters


def test_diff_tells_functions_apart(tracker, iris):
    X, y = iris
    dataset = tracker.track_dataset(X, target=y)
    log, root = (
        tracker.track_model(
            make_pipeline(FunctionTransformer(function), StandardScaler(), LogisticRegression()).fit(X, y),
            trained_on=dataset,
        )
        for function in (np.log1p, np.sqrt)
    )

    diff = tracker.diff(log, root)

    assert diff.hyperparameters == {"functiontransformer__func": ("numpy.log1p", "numpy.sqrt")}
    assert diff.transforms == {"functiontransformer.func": ("numpy.log1p", "numpy.sqrt")}
    func = {parameter.name: parameter for parameter in log.hyperparameters}["functiontransformer__func"]
    assert func.non_default and func.default is None


def test_a_transformed_target_records_its_functions(tracker, diabetes):
    X, y = diabetes
    regressor = TransformedTargetRegressor(Ridge(), func=np.log1p, inverse_func=np.expm1).fit(X, y)

    model = tracker.track_model(regressor, trained_on=tracker.track_dataset(X, target=y))

    recorded = {parameter.name: parameter for parameter in model.hyperparameters}
    assert (recorded["func"].value, recorded["inverse_func"].value) == ("numpy.log1p", "numpy.expm1")
    assert recorded["func"].non_default and recorded["inverse_func"].non_default


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.log1p, "numpy.log1p"),
        (np.expm1, "numpy.expm1"),
        (np.mean, "numpy.mean"),
        (abs, "abs"),
        (f_classif, qualified(f_classif)),
        (functools.partial(np.clip, a_min=0, a_max=10), "functools.partial(numpy.clip, a_min=0, a_max=10)"),
        (functools.partial(np.power, 2), "functools.partial(numpy.power, 2)"),
        (Clip(0.5), f"{__name__}.Clip(low=0.5)"),
    ],
    ids=["ufunc", "another ufunc", "function", "builtin", "sklearn function", "partial", "positional", "object"],
)
def test_callables_are_recorded_by_qualified_name(value, expected):
    assert plain_value(value) == expected


def test_lambdas_are_recorded_with_their_module(tracker, iris):
    X, y = iris
    pipeline = make_pipeline(FunctionTransformer(lambda X: X * 2), StandardScaler(), LogisticRegression()).fit(X, y)

    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))

    func = {parameter.name: parameter.value for parameter in model.hyperparameters}["functiontransformer__func"]
    assert func == f"{__name__}.{test_lambdas_are_recorded_with_their_module.__qualname__}.<locals>.<lambda>"


def test_a_scorer_keeps_its_metric_and_options():
    recorded = plain_value(make_scorer(f1_score, average="macro"))

    assert "f1_score" in recorded and "macro" in recorded
    assert recorded != plain_value(make_scorer(f1_score, average="micro"))


def test_a_function_default_is_not_a_user_choice(tracker, iris):
    X, y = iris
    dataset = tracker.track_dataset(X, target=y)

    default, chosen = (
        tracker.track_model(make_pipeline(selector, LogisticRegression()).fit(X, y), trained_on=dataset)
        for selector in (SelectKBest(k=2), SelectKBest(chi2, k=2))
    )

    score_func = {p.name: p for p in default.hyperparameters}["selectkbest__score_func"]
    assert score_func.value == score_func.default == qualified(f_classif)
    assert not score_func.non_default
    chosen_func = {p.name: p for p in chosen.hyperparameters}["selectkbest__score_func"]
    assert (chosen_func.value, chosen_func.default) == (qualified(chi2), qualified(f_classif))
    assert chosen_func.non_default


# ---------------------------------------------------------------- a transformed target in the DAG


def test_a_target_transformer_transforms_y_and_feeds_the_regressor(tracker, vertices, diabetes):
    X, y = diabetes
    pipeline = make_pipeline(
        StandardScaler(), TransformedTargetRegressor(Ridge(), transformer=QuantileTransformer(n_quantiles=100))
    ).fit(X, y)

    found = vertices(tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y)))

    scale = found["standardscaler"]
    transformer = found["transformedtargetregressor__transformer"]
    regressor = found["transformedtargetregressor__regressor"]
    assert transformer.operator == "QuantileTransformer"
    assert transformer.input_transforms == ()  # y comes from the data, not from the scaler
    assert set(regressor.input_transforms) == {scale.id, transformer.id}
    assert transformer.name in regressor.annotations[TARGET_NOTE]
    assert [column.name for column in regressor.input] == list(X.columns)
    assert regressor.id in found["transformedtargetregressor"].input_transforms


def test_a_target_transformer_takes_the_target_column(tracker, diabetes):
    X, y = diabetes
    regressor = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), Ridge()), transformer=QuantileTransformer(n_quantiles=100)
    ).fit(X, y)
    dataset = tracker.track_dataset(X, target=y)
    types = {column.name: column.typing for column in dataset.schema}

    dag = build_dag(regressor, input_columns(regressor), types, target=dataset.target)

    found = {transform.name: transform for transform in dag.transforms}
    transformer = found["transformer"]
    assert [(column.name, column.typing) for column in transformer.input] == [(y.name, types[y.name])]
    assert [column.name for column in transformer.output] == [y.name]
    assert transformer.input_transforms == ()
    learner = found["regressor__ridge"]
    assert set(learner.input_transforms) == {found["regressor__standardscaler"].id, transformer.id}
    assert not dag.failures


def test_a_target_function_is_noted_on_the_regressor(tracker, vertices, diabetes):
    X, y = diabetes
    regressor = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), Ridge()), func=np.log1p, inverse_func=np.expm1
    ).fit(X, y)

    found = vertices(tracker.track_model(regressor, trained_on=tracker.track_dataset(X, target=y)))

    assert set(found) == {"regressor__standardscaler", "regressor__ridge", "transformedtargetregressor"}
    note = found["regressor__ridge"].annotations[TARGET_NOTE]
    assert "numpy.log1p" in note and "numpy.expm1" in note
    assert TARGET_NOTE not in found["regressor__standardscaler"].annotations


# ---------------------------------------------------------------- NaN-valued parameters in diffs


def test_nan_valued_parameters_are_not_differences_on_the_embedded_store(tmp_path, wine):
    X, y = wine
    X = X.drop(columns=["strength"])
    with mt.connect(f"sqlite:///{tmp_path / 'store.db'}", artifacts=tmp_path / "artifacts") as tracker:
        dataset = tracker.track_dataset(X, target=y)
        mean, median = (
            tracker.track_model(
                make_pipeline(SimpleImputer(missing_values=np.nan, strategy=strategy), Ridge()).fit(X, y),
                trained_on=dataset,
            )
            for strategy in ("mean", "median")
        )
        stored = {parameter.name: parameter.value for parameter in tracker.get(mean.id).hyperparameters}
        assert np.isnan(stored["simpleimputer__missing_values"])

        diff = tracker.diff(mean.id, median.id)

    assert diff.hyperparameters == {"simpleimputer__strategy": ("mean", "median")}
    assert diff.transforms == {"simpleimputer.strategy": ("mean", "median")}


# ---------------------------------------------------------------- evaluating a fitted search


@pytest.fixture
def iris_split(iris):
    X, y = iris
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_evaluating_a_search_evaluates_its_refit_best_estimator(tracker, iris_split):
    X_train, X_test, y_train, y_test = iris_split
    pipeline = TrackedPipeline([("scale", StandardScaler()), ("classify", LogisticRegression())], tracker=tracker)
    search = GridSearchCV(pipeline, {"classify__C": [0.01, 1.0]}, cv=3).fit(X_train, y_train)

    evaluation = track_evaluation(search, X_test, y_test, ["accuracy"], tracker=tracker)

    assert evaluation.computed_by == search.best_estimator_.tracked_model_.id
    assert evaluation.score("accuracy").value == accuracy_score(y_test, search.predict(X_test))


def test_a_model_recorded_for_the_search_itself_comes_first(tracker, iris_split):
    X_train, X_test, y_train, y_test = iris_split
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0]}, cv=3).fit(X_train, y_train)
    search.tracked_model_ = tracker.track_model(search, trained_on=tracker.track_dataset(X_train, target=y_train))

    evaluation = track_evaluation(search, X_test, y_test, tracker=tracker)

    assert evaluation.computed_by == search.tracked_model_.id
    assert evaluation.confusion_matrix.labels == tuple(str(label) for label in search.classes_)


def test_a_search_without_a_recorded_model_says_what_to_do(tracker, iris_split):
    X_train, X_test, y_train, y_test = iris_split
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0]}, cv=3).fit(X_train, y_train)

    with pytest.raises(mt.SchemaError, match=r"best_estimator_.*model=.*track_search"):
        track_evaluation(search, X_test, y_test, tracker=tracker)
    assert tracker.count() == 0
