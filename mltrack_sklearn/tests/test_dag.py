"""The transformation DAG and column lineage, checked against what the fitted compositions do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector, make_column_transformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, StackingClassifier, VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectKBest
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline, make_union
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, PolynomialFeatures, SplineTransformer, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from mltrack_sklearn.parameters import plain_value


def observed_lineage(fitted, X) -> dict[str, set[str]]:
    """Which outputs change when one input column is shuffled (rolled by one row): what the transform really uses."""
    names = list(fitted.get_feature_names_out())
    base = _dense(fitted.transform(X))
    found: dict[str, set[str]] = {name: set() for name in names}
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{i}" for i in range(X.shape[1])]
    for index, column in enumerate(columns):
        changed = X.copy()
        if isinstance(X, pd.DataFrame):
            changed[column] = np.roll(X[column].to_numpy(), 1)
        else:
            changed[:, index] = np.roll(X[:, index], 1)
        after = _dense(fitted.transform(changed))
        differs = ~((after == base) | (np.isnan(after) & np.isnan(base))).all(axis=0)
        for position in np.flatnonzero(differs):
            found[names[position]].add(column)
    return {name: used for name, used in found.items() if used}


def _dense(values) -> np.ndarray:
    values = values.toarray() if hasattr(values, "toarray") else values
    return np.asarray(values, dtype=float)


def recorded_lineage(transform) -> dict[str, set[str]]:
    return {output: set(inputs) for output, inputs in transform.expanded_column_lineage().items()}


def test_column_transformer_branches_drop_and_remainder(tracker, vertices, wine):
    X, y = wine
    numeric = ["alcohol", "malic_acid", "magnesium", "color_intensity"]
    transformer = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), numeric),
            ("text", OneHotEncoder(), ["strength"]),
            ("gone", "drop", ["proline"]),
        ],
        remainder="passthrough",
    )
    pipeline = Pipeline([("prepare", transformer), ("classify", LogisticRegression(max_iter=2000))]).fit(X, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    fitted = pipeline.named_steps["prepare"]
    merge = found["prepare"]
    assert [c.name for c in merge.output] == list(fitted.get_feature_names_out())
    assert [c.name for c in merge.input] == list(X.columns)
    assert recorded_lineage(merge) == observed_lineage(fitted, X)
    branch = fitted.named_transformers_["num"]
    assert [c.name for c in found["prepare__num__standardscaler"].output] == list(branch.get_feature_names_out())
    assert found["prepare__num__standardscaler"].input_transforms == (found["prepare__num__simpleimputer"].id,)
    assert [c.name for c in found["prepare__text"].output] == ["strength_light", "strength_strong"]
    assert [c.name for c in found["prepare__gone"].input] == ["proline"]
    assert found["prepare__gone"].output == ()
    remainder = found["prepare__remainder"]
    assert remainder.operator == "passthrough"
    assert {c.name for c in remainder.output} == set(X.columns) - {*numeric, "strength", "proline"}
    assert set(merge.input_transforms) == {
        found["prepare__num__standardscaler"].id,
        found["prepare__text"].id,
        remainder.id,
    }
    assert found["classify"].input_transforms == (merge.id,)
    assert [c.name for c in found["classify"].input] == list(fitted.get_feature_names_out())
    typed = {c.name: c.typing.value for c in found["prepare__num__simpleimputer"].input}
    assert typed["alcohol"] == "DOUBLE"


def test_make_helpers_name_vertices_like_get_params(tracker, vertices, wine):
    X, y = wine
    pipeline = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), make_column_selector(dtype_include=np.number)),
            (OneHotEncoder(), ["strength"]),
        ),
        make_union(PCA(n_components=2), SelectKBest(k=3)),
        LogisticRegression(max_iter=2000),
    ).fit(X, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    parameters = pipeline.get_params(deep=True)
    for name in found:
        owner = name.rpartition("__")[0]
        assert name in parameters or owner in parameters or name == "columntransformer", name
    union = pipeline.named_steps["featureunion"]
    prepared = pipeline.named_steps["columntransformer"].transform(X)
    recorded = found["featureunion"]
    assert [c.name for c in recorded.output] == list(pipeline[:2].get_feature_names_out())
    assert [c.name for c in recorded.input] == list(pipeline[:1].get_feature_names_out())
    observed = observed_lineage(union, prepared)
    input_names = {f"x{i}": c.name for i, c in enumerate(recorded.input)}
    output_names = dict(zip(union.get_feature_names_out(), pipeline[:2].get_feature_names_out(), strict=True))
    observed = {output_names[out]: {input_names[i] for i in used} for out, used in observed.items()}
    assert recorded_lineage(recorded) == observed
    selected = found["featureunion__selectkbest"]
    assert len(selected.output) == 3
    assert all(len(sources) == 1 for sources in selected.column_lineage.values())


def test_feature_union_and_encoders_on_numpy_input(tracker, vertices, cancer):
    X, y = cancer
    X = X[:, :4]
    union = FeatureUnion(
        [
            ("poly", PolynomialFeatures(degree=2)),
            ("spline", SplineTransformer(n_knots=3, degree=2)),
            ("bins", KBinsDiscretizer(n_bins=3, encode="onehot-dense", strategy="uniform", subsample=None)),
            ("pca", PCA(n_components=2)),
        ]
    )
    pipeline = Pipeline([("features", union), ("classify", DecisionTreeClassifier(max_depth=3))]).fit(X, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    assert [c.name for c in found["features"].input] == ["x0", "x1", "x2", "x3"]
    assert [c.name for c in found["features"].output] == list(union.get_feature_names_out())
    assert recorded_lineage(found["features"]) == observed_lineage(union, X)
    assert recorded_lineage(found["features__poly"])["x0 x2"] == {"x0", "x2"}


def test_imputer_indicator_and_missing_indicator(tracker, vertices, wine):
    X, y = wine
    numeric = X.drop(columns=["strength"])
    union = make_union(SimpleImputer(add_indicator=True), MissingIndicator(features="all"))
    pipeline = make_pipeline(union, DecisionTreeClassifier(max_depth=3)).fit(numeric, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(numeric, target=y))
    recorded = recorded_lineage(vertices(model)["featureunion"])
    assert recorded["simpleimputer__missingindicator_magnesium"] == {"magnesium"}
    assert recorded["missingindicator__missingindicator_magnesium"] == {"magnesium"}
    # indicators of columns without missing values never change, so shuffling cannot observe their source
    constant = {name: {name.rpartition("_")[2]} for name in recorded if name.startswith("missingindicator__")}
    constant = {name: sources for name, sources in recorded.items() if name in constant and "magnesium" not in name}
    assert recorded == observed_lineage(union, numeric) | constant


def test_stacking_and_voting(tracker, vertices, iris):
    X, y = iris
    stack = StackingClassifier(
        [
            ("linear", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))),
            ("tree", DecisionTreeClassifier(random_state=0)),
            ("off", "drop"),
        ],
        final_estimator=LogisticRegression(max_iter=500),
        passthrough=True,
        cv=3,
    ).fit(X, y)
    model = tracker.track_model(stack, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    assert set(found) == {
        "linear__standardscaler",
        "linear__logisticregression",
        "tree",
        "stackingclassifier",
        "final_estimator",
    }
    merge = found["stackingclassifier"]
    assert [c.name for c in merge.output] == list(stack.get_feature_names_out())
    assert set(merge.input_transforms) == {found["linear__logisticregression"].id, found["tree"].id}
    assert found["final_estimator"].input_transforms == (merge.id,)
    assert merge.column_lineage["sepal length (cm)"] == ("sepal length (cm)",)
    assert "prediction columns" in merge.annotations["mltrack.column_lineage"]
    assert model.learning_algorithm == "StackingClassifier"

    vote = VotingClassifier(
        [
            ("forest", RandomForestClassifier(n_estimators=5, random_state=0)),
            ("off", "drop"),
            ("linear", LogisticRegression(max_iter=500)),
        ],
        voting="soft",
    ).fit(X, y)
    found = vertices(tracker.track_model(vote, trained_on=tracker.track_dataset(X, target=y)))
    assert set(found) == {"forest", "linear", "votingclassifier"}
    assert set(found["votingclassifier"].input_transforms) == {found["forest"].id, found["linear"].id}


def test_one_vs_rest_and_search_with_inner_estimators(tracker, vertices, iris):
    X, y = iris
    ovr = OneVsRestClassifier(make_pipeline(StandardScaler(), LinearSVC(C=0.3, dual="auto"))).fit(X, y)
    model = tracker.track_model(ovr, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    assert set(found) == {"estimator__standardscaler", "estimator__linearsvc", "onevsrestclassifier"}
    assert found["estimator__linearsvc"].state == "fitted"
    assert found["onevsrestclassifier"].input_transforms == (found["estimator__linearsvc"].id,)
    assert {p.name for p in model.hyperparameters} == set(ovr.get_params(deep=True))

    search = GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=500))]),
        {"classify__C": [0.01, 10.0]},
        cv=3,
    ).fit(X, y)
    model = tracker.track_model(search, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    assert set(found) == {"estimator__scale", "estimator__classify", "gridsearchcv"}
    recorded = {p.name: p.value for p in model.hyperparameters}
    assert recorded["estimator__classify__C"] == search.best_params_["classify__C"]
    assert recorded["param_grid"] == {"classify__C": (0.01, 10.0)}
    assert model.annotations["sklearn.search.best_index"] == str(search.best_index_)
    assert model.learning_algorithm == "LogisticRegression"


class Doubler(TransformerMixin, BaseEstimator):
    """A third-party transformer without get_feature_names_out."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X) * 2.0


def test_estimators_that_cannot_name_outputs_degrade_with_the_reason(tracker, vertices, diabetes):
    X, y = diabetes
    pipeline = Pipeline([("double", Doubler()), ("scale", StandardScaler()), ("regress", Ridge())]).fit(X, y)
    model = tracker.track_model(pipeline, trained_on=tracker.track_dataset(X, target=y))
    found = vertices(model)
    assert found["double"].output == ()
    assert "no get_feature_names_out" in found["double"].annotations["mltrack.column_lineage"]
    assert found["scale"].input == ()
    assert found["scale"].annotations["mltrack.column_lineage"] == "the input columns are unknown"
    assert found["scale"].input_transforms == (found["double"].id,)
    assert "mltrack.failures" not in model.annotations


def test_texts_feed_a_vectorizer_whose_outputs_come_from_the_text(tracker, vertices):
    documents, labels = [], []
    for label, loader in enumerate((load_iris, load_wine, load_breast_cancer, load_diabetes)):
        sentences = [line.strip() for line in loader().DESCR.splitlines() if len(line.split()) > 6]
        documents += sentences
        labels += [label] * len(sentences)
    pipeline = Pipeline([("words", TfidfVectorizer(min_df=2)), ("classify", LogisticRegression(max_iter=500))]).fit(
        documents, labels
    )
    dataset = tracker.track_dataset(documents, target=np.array(labels))
    assert dataset.schema[0].name == "text"
    assert dataset.row_count == len(documents)
    model = tracker.track_model(pipeline, trained_on=dataset)
    words = vertices(model)["words"]
    assert [c.name for c in words.output] == list(pipeline[0].get_feature_names_out())
    assert set(words.column_lineage.values()) == {("text",)}


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(StandardScaler(), PCA(n_components=2), LogisticRegression(C=3.0, max_iter=400)),
        StackingClassifier([("a", LogisticRegression(max_iter=400)), ("b", DecisionTreeClassifier(max_depth=2))]),
        OneVsRestClassifier(LogisticRegression(max_iter=400)),
    ],
    ids=["pipeline", "stacking", "one-vs-rest"],
)
def test_hyperparameters_are_every_parameter_with_class_defaults(tracker, iris, estimator):
    X, y = iris
    estimator.fit(X, y)
    model = tracker.track_model(estimator, trained_on=tracker.track_dataset(X, target=y))
    recorded = {p.name: p for p in model.hyperparameters}
    expected = estimator.get_params(deep=True)
    assert set(recorded) == set(expected)
    for key, value in expected.items():
        assert recorded[key].value == plain_value(value) or plain_value(value) != plain_value(value), key
    changed = {
        key
        for key, parameter in recorded.items()
        if parameter.non_default and "__" in key and parameter.default is not None
    }
    shown = repr(estimator)
    for key in changed:
        assert key.rpartition("__")[2] in shown, key
