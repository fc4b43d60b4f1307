"""Automatic tracking of splits and scores: parts derived from their source, scores traced to the data they used."""

from __future__ import annotations

import gc
import json
import logging
import pickle
import subprocess
import sys
import textwrap
import threading
import warnings
import weakref

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics
import sklearn.model_selection
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import make_scorer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.model_selection import _split as split_module
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mltrack_core as mt
import mltrack_sklearn
from mltrack_sklearn import TrackedPipeline, extract, links, scores, splits
from mltrack_sklearn.autolog import tracked_call
from mltrack_sklearn.data import describe_data

metrics = sklearn.metrics
model_selection = sklearn.model_selection


def patched_names():
    """What the patches replace: every sklearn.metrics function, train_test_split, every class's own split."""
    found = {("sklearn.metrics", name): value for name, value in vars(metrics).items() if callable(value)}
    found[("sklearn.model_selection", "train_test_split")] = model_selection.train_test_split
    found[("_split", "train_test_split")] = split_module.train_test_split
    for value in vars(split_module).values():
        if isinstance(value, type) and "split" in vars(value):
            found[(value.__qualname__, "split")] = vars(value)["split"]
    return found


ORIGINALS = patched_names()


def enable(tracker):
    mltrack_sklearn.autolog(tracker=tracker)
    splits.patch()
    scores.patch()


def disable():
    scores.unpatch()
    splits.unpatch()
    mltrack_sklearn.autolog(disable=True)


@pytest.fixture
def autologged(tracker):
    """Automatic tracking with the split and score patches, into the test's tracker; all undone afterwards."""
    enable(tracker)
    yield tracker
    disable()
    assert patched_names() == ORIGINALS


@pytest.fixture
def turned_off():
    """For tests that turn automatic tracking on themselves."""
    yield
    disable()


def derived_parts(tracker):
    return {d.annotations["sklearn.split_part"]: d for d in tracker.find("dataset") if d.derived_from}


def evaluations_by_metric(tracker):
    found = {}
    for evaluation in tracker.find("evaluation"):
        (score,) = evaluation.scores
        assert score.metric not in found, score.metric
        found[score.metric] = (evaluation, score)
    return found


def scaled_logistic_regression():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


# ---------------------------------------------------------------- train_test_split


def test_train_test_split_records_its_parts_derived_from_the_source_and_the_fit_finds_its_part(autologged, iris):
    tracker = autologged
    X, y = iris
    X_train, X_test, y_train, y_test = model_selection.train_test_split(
        X, y, test_size=0.25, random_state=7, stratify=y
    )
    parts = derived_parts(tracker)
    assert set(parts) == {"training", "test"}
    (source_id,) = parts["training"].derived_from
    source = tracker.get(source_id)
    assert source.row_count == 150
    assert source.target == "target"
    assert source.fingerprint == describe_data(X, y).fingerprint
    for name, (data, labels) in {"training": (X_train, y_train), "test": (X_test, y_test)}.items():
        part = parts[name]
        assert part.derived_from == (source.id,)
        assert part.row_count == len(data)
        assert part.target == "target"
        assert part.fingerprint == describe_data(data, labels).fingerprint
        assert f"{name} part of train_test_split: {len(data)} of 150 rows" in part.derivation
        assert "test_size=0.25" in part.derivation
        assert "random_state=7" in part.derivation
        assert "stratified by the target" in part.derivation
        assert part.statistics
    LogisticRegression(max_iter=1000).fit(X_train, y_train)
    (model,) = tracker.find("model")
    assert model.trained_on == parts["training"].id
    assert tracker.count("dataset") == 3


def test_a_copy_of_a_part_is_found_by_its_content(autologged, iris):
    tracker = autologged
    X, y = iris
    X_train, _, y_train, _ = model_selection.train_test_split(X.to_numpy(), y.to_numpy(), random_state=0)
    LogisticRegression(max_iter=1000).fit(X_train.copy(), y_train.copy())
    (model,) = tracker.find("model")
    assert model.trained_on == derived_parts(tracker)["training"].id


def test_an_unshuffled_split_with_one_array_says_so(autologged, diabetes):
    tracker = autologged
    X, _ = diabetes
    model_selection.train_test_split(X, shuffle=False, test_size=42)
    parts = derived_parts(tracker)
    assert parts["test"].row_count == 42
    assert parts["test"].target is None
    assert "not shuffled: the last 42 rows" in parts["test"].derivation
    assert "not stratified" in parts["test"].derivation


def test_data_changed_in_place_after_the_split_is_not_taken_for_the_part(autologged, iris):
    tracker = autologged
    X, y = iris
    X_train, _, y_train, _ = model_selection.train_test_split(X.to_numpy(), y.to_numpy(), random_state=0)
    X_train /= 2
    LogisticRegression(max_iter=1000).fit(X_train, y_train)
    (model,) = tracker.find("model")
    trained_on = tracker.get(model.trained_on)
    assert trained_on.id != derived_parts(tracker)["training"].id
    assert trained_on.fingerprint == describe_data(X_train, y_train).fingerprint


# ---------------------------------------------------------------- splitters


def test_a_loop_over_kfold_records_each_folds_parts_the_fits_on_them_and_their_scores(autologged, diabetes):
    tracker = autologged
    X, y = diabetes
    splitter = KFold(3, shuffle=True, random_state=0)
    expected = {}
    for k, (train, test) in enumerate(splitter.split(X, y)):
        model = Ridge().fit(X.iloc[train], y.iloc[train])
        expected[k] = (metrics.r2_score(y.iloc[test], model.predict(X.iloc[test])), len(train), len(test))
    source = tracker.get(tracker.find("model")[0].trained_on).derived_from
    (source_id,) = source
    assert tracker.get(source_id).fingerprint == describe_data(X, y).fingerprint
    models = {m.id: m for m in tracker.find("model")}
    assert len(models) == 3
    recorded = tracker.find("evaluation")
    assert len(recorded) == 3
    for evaluation in recorded:
        (score,) = evaluation.scores
        validation = tracker.get(evaluation.on_dataset)
        training = tracker.get(models[evaluation.computed_by].trained_on)
        k = int(validation.annotations["sklearn.split"])
        assert training.annotations["sklearn.split"] == str(k)
        assert (score.metric, score.value) == ("r2", expected[k][0])
        assert (training.row_count, validation.row_count) == expected[k][1:]
        assert training.derived_from == validation.derived_from == (source_id,)
        assert f"validation part of split {k + 1} of 3 made by {splitter!r}" in validation.derivation
        assert evaluation.procedure == "holdout"


def test_a_fold_parts_fingerprint_is_that_of_its_own_copy_whatever_the_data(wine, monkeypatch):
    X, y = wine
    X = X.assign(kind=pd.Categorical(X["strength"]), label=X["strength"].astype("string"))
    numbers = X.select_dtypes("number").to_numpy()
    rows = np.flatnonzero(np.arange(len(X)) % 3 != 1)
    monkeypatch.setattr(splits, "_CHUNK_BYTES", 64)  # many blocks of rows
    cases = [(X, y), (X, None), (numbers, y.to_numpy()), (numbers[:, 0], None), (X[["strength"]], y.rename(None))]
    for data, labels in cases:
        hasher = splits._RowsHasher.of(
            describe_data(data, labels), describe_data(labels) if labels is not None else None
        )
        prints = hasher.fingerprints(rows)

        def take(values):
            return values.iloc[rows] if isinstance(values, (pd.DataFrame, pd.Series)) else values[rows]

        copy = take(data)
        if labels is None:
            assert prints.whole == prints.features == describe_data(copy).fingerprint
        else:
            assert prints.whole == describe_data(copy, take(labels)).fingerprint
            assert prints.features == describe_data(copy).fingerprint
            assert prints.target == describe_data(take(labels)).fingerprint


def test_splits_inside_a_recorded_call_are_not_recorded_by_the_split(autologged, iris):
    tracker = autologged
    X, y = iris
    with tracked_call() as top:
        assert top
        folds = list(StratifiedKFold(3).split(X, y))
        model_selection.train_test_split(X, y, random_state=0)
    assert len(folds) == 3
    assert tracker.count("dataset") == 0


# ---------------------------------------------------------------- scores


def test_scores_after_training_are_evaluations_of_the_model_on_the_test_part(autologged, cancer):
    tracker = autologged
    X, y = cancer
    X_train, X_test, y_train, y_test = model_selection.train_test_split(X, y, random_state=0, stratify=y)
    estimator = scaled_logistic_regression().fit(X_train, y_train)
    predicted = estimator.predict(X_test)
    probabilities = estimator.predict_proba(X_test)
    values = {
        "accuracy": metrics.accuracy_score(y_test, predicted),
        "f1_macro": metrics.f1_score(y_test, predicted, average="macro"),
        "roc_auc": metrics.roc_auc_score(y_test, probabilities[:, 1]),
        "log_loss": metrics.log_loss(y_test, probabilities),
    }
    with tracked_call():  # scikit-learn's own functions, nested: nothing they fit inside is recorded
        original = {
            "accuracy": ORIGINALS["sklearn.metrics", "accuracy_score"](y_test, predicted),
            "f1_macro": ORIGINALS["sklearn.metrics", "f1_score"](y_test, predicted, average="macro"),
            "roc_auc": ORIGINALS["sklearn.metrics", "roc_auc_score"](y_test, probabilities[:, 1]),
            "log_loss": ORIGINALS["sklearn.metrics", "log_loss"](y_test, probabilities),
        }
    assert values == original
    (model,) = tracker.find("model")
    test_part = derived_parts(tracker)["test"]
    recorded = evaluations_by_metric(tracker)
    assert set(recorded) == set(values)
    for metric, value in values.items():
        evaluation, score = recorded[metric]
        assert score.value == value
        assert evaluation.computed_by == model.id
        assert evaluation.on_dataset == test_part.id
        assert evaluation.procedure == "holdout"
    assert recorded["log_loss"][1].greater_is_better is False
    assert recorded["f1_macro"][0].annotations["sklearn.metric.call"] == "f1_score(average='macro')"
    # the held-out score's data is traceable to its source
    lineage = tracker.get(test_part.derived_from[0])
    assert lineage.fingerprint == describe_data(X, y).fingerprint
    assert tracker.get(model.trained_on).derived_from == test_part.derived_from


def test_regression_scores_and_estimator_score_are_named_as_scikit_learn_names_them(autologged, diabetes):
    tracker = autologged
    X, y = diabetes
    X_train, X_test, y_train, y_test = model_selection.train_test_split(X, y, random_state=0)
    regressor = Ridge().fit(X_train, y_train)
    predicted = regressor.predict(X_test)
    r2 = metrics.r2_score(y_test, predicted)
    mae = metrics.mean_absolute_error(y_test, predicted)
    score = regressor.score(X_test, y_test)
    (mae_evaluation,) = [e for e in tracker.find("evaluation") if e.scores[0].metric == "mean_absolute_error"]
    assert mae_evaluation.scores[0].value == mae
    assert mae_evaluation.scores[0].greater_is_better is False
    # r2_score and Ridge.score compute the same: two evaluations, both "r2", both on the test part
    r2_evaluations = [e for e in tracker.find("evaluation") if e.scores[0].metric == "r2"]
    assert sorted(e.scores[0].value for e in r2_evaluations) == sorted([r2, score])
    assert {e.annotations["sklearn.metric.call"] for e in r2_evaluations} == {"r2_score", "Ridge.score"}
    assert {e.on_dataset for e in r2_evaluations} == {derived_parts(tracker)["test"].id}


def test_options_that_change_a_metric_are_in_its_name(autologged, cancer):
    tracker = autologged
    X, y = cancer
    X_train, X_test, y_train, y_test = model_selection.train_test_split(X, y, random_state=1)
    estimator = scaled_logistic_regression().fit(X_train, y_train)
    predicted = estimator.predict(X_test)
    weights = np.where(y_test == 1, 2.0, 1.0)
    calls = {
        "fbeta_score(beta=2)": lambda: metrics.fbeta_score(y_test, predicted, beta=2),
        "precision_score(pos_label=0)": lambda: metrics.precision_score(y_test, predicted, pos_label=0),
        "precision": lambda: metrics.precision_score(y_test, predicted),
        "recall_macro": lambda: metrics.recall_score(y_test, predicted, average="macro", pos_label=None),
        "accuracy_score(normalize=False)": lambda: metrics.accuracy_score(y_test, predicted, normalize=False),
        "roc_auc": lambda: metrics.roc_auc_score(y_test, estimator.decision_function(X_test)),
        "balanced_accuracy": lambda: metrics.balanced_accuracy_score(y_test, predicted, sample_weight=weights),
    }
    values = {name: call() for name, call in calls.items()}
    recorded = evaluations_by_metric(tracker)
    assert {name: score.value for name, (_, score) in recorded.items()} == values
    assert recorded["balanced_accuracy"][0].annotations["sklearn.metric.sample_weight"] == "given"
    assert "sklearn.metric.sample_weight" not in recorded["precision"][0].annotations


def test_a_score_on_the_training_data_is_resubstitution(autologged, iris):
    tracker = autologged
    X, y = iris
    X_train, _, y_train, _ = model_selection.train_test_split(X, y, random_state=0)
    estimator = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    metrics.accuracy_score(y_train, estimator.predict(X_train))
    metrics.accuracy_score(y, estimator.predict(X))
    procedures = {tracker.get(e.on_dataset).name: e.procedure for e in tracker.find("evaluation")}
    assert procedures == {
        derived_parts(tracker)["training"].name: "resubstitution (training data)",
        tracker.get(derived_parts(tracker)["training"].derived_from[0]).name: (
            "resubstitution (data that includes the training data)"
        ),
    }


def test_clustering_labels_scored_against_classes_are_resubstitution(autologged, iris):
    tracker = autologged
    X, y = iris
    labels = KMeans(3, n_init=3, random_state=0).fit_predict(X)
    value = metrics.adjusted_rand_score(y, labels)
    (model,) = tracker.find("model")
    (evaluation,) = tracker.find("evaluation")
    assert evaluation.scores[0].metric == "adjusted_rand_score"
    assert evaluation.scores[0].value == value
    assert evaluation.computed_by == model.id
    assert evaluation.procedure == "resubstitution (training data)"
    assert tracker.get(evaluation.on_dataset).target == "target"


def test_predictions_on_a_copy_that_is_freed_are_traced_to_the_part(autologged, iris):
    tracker = autologged
    X, y = iris
    _, X_test, _, y_test = model_selection.train_test_split(X.to_numpy(), y.to_numpy(), random_state=0)
    X_train, y_train = X.to_numpy()[:100], y.to_numpy()[:100]
    estimator = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    value = metrics.accuracy_score(y_test, estimator.predict(X_test.copy()))
    (evaluation,) = tracker.find("evaluation")
    assert evaluation.on_dataset == derived_parts(tracker)["test"].id
    assert evaluation.scores[0].value == value


def test_metrics_on_what_no_recorded_model_predicted_record_nothing(autologged, iris, caplog):
    tracker = autologged
    X, y = iris
    X_train, X_test, y_train, y_test = model_selection.train_test_split(X, y, random_state=0)
    estimator = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    predicted = estimator.predict(X_test)
    with tracked_call():
        expected = ORIGINALS[("sklearn.metrics", "accuracy_score")](y_test, predicted)
    with caplog.at_level(logging.DEBUG, logger="mltrack.sklearn"):
        values = [
            metrics.accuracy_score(y_test, y_test.to_numpy()),
            metrics.accuracy_score(y_test, list(predicted)),  # a list: cannot be linked
            metrics.accuracy_score(y_test, predicted.astype(float)),  # a new array
            metrics.r2_score(y_test, predicted, multioutput="raw_values")[0],  # not one number
        ]
    assert values[:3] == [1.0, expected, expected]
    assert tracker.count("evaluation") == 0
    assert "is not a prediction of a recorded model" in caplog.text
    assert "not one number" in caplog.text


def test_metrics_inside_a_recorded_call_are_not_recorded(autologged, iris):
    tracker = autologged
    X, y = iris
    estimator = LogisticRegression(max_iter=1000).fit(X, y)
    predicted = estimator.predict(X)
    with tracked_call():
        metrics.accuracy_score(y, predicted)
    assert tracker.count("evaluation") == 0


def test_lists_are_not_linked_and_nothing_wrong_is_recorded(autologged, iris):
    tracker = autologged
    X, y = iris
    rows, labels = X.to_numpy().tolist(), y.tolist()
    X_train, X_test, y_train, y_test = model_selection.train_test_split(rows, labels, random_state=0)
    assert all(isinstance(part, list) for part in (X_train, X_test, y_train, y_test))
    assert tracker.count("dataset") == 0  # a list of rows of numbers is not data mltrack describes
    dataset = tracker.track_dataset(name="rows")
    links.remember_dataset(X_train, None, dataset)
    assert links.dataset_of(X_train) is None
    estimator = LogisticRegression(max_iter=1000).fit(np.asarray(X_train), np.asarray(y_train))
    predicted = estimator.predict(np.asarray(X_test)).tolist()
    metrics.accuracy_score(y_test, predicted)
    assert tracker.count("evaluation") == 0


def test_lists_of_texts_are_traced_by_their_content(autologged):
    import inspect

    import sklearn.linear_model
    import sklearn.preprocessing
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier

    tracker = autologged
    documents, labels = [], []
    for module in (sklearn.linear_model, sklearn.preprocessing):  # texts that ship with scikit-learn
        for name in sorted(module.__all__):
            documents.append(inspect.getdoc(getattr(module, name)) or name)
            labels.append(module.__name__.rpartition(".")[2])
    X_train, X_test, y_train, y_test = model_selection.train_test_split(
        documents, labels, random_state=0, stratify=labels
    )
    estimator = make_pipeline(TfidfVectorizer(), SGDClassifier(random_state=0)).fit(X_train, y_train)
    value = metrics.accuracy_score(y_test, estimator.predict(X_test))  # lists: no identity link, the content
    parts = derived_parts(tracker)
    (model,) = tracker.find("model")
    assert model.trained_on == parts["training"].id
    (evaluation,) = tracker.find("evaluation")
    assert (evaluation.on_dataset, evaluation.scores[0].value) == (parts["test"].id, value)


# ---------------------------------------------------------------- what tracking must not change


def test_splits_return_what_scikit_learn_returns_and_draw_the_same_random_numbers(tracker, iris, turned_off):
    X, y = iris
    splitter = KFold(4, shuffle=True)  # no random_state: draws from numpy's global random state

    def run():
        np.random.seed(3)
        parts = model_selection.train_test_split(X, y, test_size=0.3)
        folds = list(splitter.split(X, y))
        return parts, folds, np.random.get_state()

    expected_parts, expected_folds, expected_state = run()
    enable(tracker)
    parts, folds, state = run()
    assert tracker.count("dataset") > 0
    for got, want in zip(parts, expected_parts, strict=True):
        assert type(got) is type(want)
        pd.testing.assert_index_equal(got.index, want.index)
    for (train, test), (want_train, want_test) in zip(folds, expected_folds, strict=True):
        np.testing.assert_array_equal(train, want_train)
        np.testing.assert_array_equal(test, want_test)
    for got, want in zip(state, expected_state, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_store_that_fails_is_a_warning_and_the_program_gets_its_results(autologged, iris):
    tracker = autologged
    X, y = iris
    X_train, X_test, y_train, y_test = model_selection.train_test_split(X, y, random_state=0)
    predicted = LogisticRegression(max_iter=1000).fit(X_train, y_train).predict(X_test)
    (model,) = tracker.find("model")
    tracker.store.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = model_selection.train_test_split(X, y, random_state=1)
        folds = list(KFold(3).split(X, y))
        value = metrics.accuracy_score(y_test, predicted)
    assert all(issubclass(warning.category, mt.TrackingWarning) for warning in caught)
    messages = " ".join(str(warning.message) for warning in caught)
    assert "a train_test_split call was not recorded: StoreError" in messages
    assert "split 1 made by KFold(n_splits=3, random_state=None, shuffle=False) (and the splits after it)" in messages
    assert f"the accuracy of model {model.id} was not recorded: StoreError" in messages
    assert len(caught) == 3, messages
    assert len(parts) == 4 and len(folds) == 3
    with tracked_call():
        assert value == ORIGINALS["sklearn.metrics", "accuracy_score"](y_test, predicted)


def test_a_split_generator_stays_lazy_and_can_be_closed(autologged, iris):
    tracker = autologged
    X, y = iris
    produced = KFold(5).split(X, y)
    assert tracker.count("dataset") == 0  # nothing happens before the first split is asked for
    train, test = next(produced)
    assert (len(train), len(test)) == (120, 30)
    assert tracker.count("dataset") == 3
    produced.close()
    with pytest.raises(StopIteration):
        next(produced)


def test_links_keep_no_data_alive(autologged, iris):
    X, y = iris
    X_train, X_test, y_train, y_test = model_selection.train_test_split(X.to_numpy(), y.to_numpy(), random_state=0)
    estimator = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    predicted = estimator.predict_proba(X_test)
    metrics.log_loss(y_test, predicted)
    folds = KFold(3).split(X_train, y_train)
    next(folds)
    objects = [X_train, X_test, y_train, y_test, predicted, estimator, folds]
    references = [weakref.ref(value) for value in objects]
    del X_train, X_test, y_train, y_test, predicted, estimator, folds, objects
    gc.collect()
    assert [reference() for reference in references] == [None] * len(references)


def test_a_link_is_never_taken_for_a_new_object_that_got_the_same_id(tracker):
    dataset = tracker.track_dataset(name="ten numbers")
    first = np.arange(10.0)
    links.remember_dataset(first, None, dataset)
    assert links.dataset_of(first) == dataset
    key = id(first)
    tracker.flush()  # no background work that could take the freed memory meanwhile
    del first
    kept = []  # each new array gets memory not handed out yet, until one gets the freed array's
    for _ in range(10_000):
        second = np.arange(10.0)  # the same content: only the identity tells them apart
        if id(second) == key:
            break
        kept.append(second)
    else:
        pytest.skip("CPython gave no new array the freed array's id")
    assert links.dataset_of(second) is None


def test_links_are_safe_to_use_from_many_threads(tracker):
    models = [
        mt.Model(name=f"m{k}", learning_algorithm="L", trained_on=tracker.track_dataset(name=f"d{k}").id)
        for k in range(8)
    ]
    failures = []

    def work(model):
        for _ in range(300):
            output, data = np.zeros(3), np.ones(3)
            links.remember_prediction(output, model, data)
            found = links.prediction_of(output)
            if found is None or found.model is not model or found.data is not data:
                failures.append(found)

    threads = [threading.Thread(target=work, args=(model,)) for model in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_patching_twice_is_once_and_unpatching_restores_every_original(tracker, turned_off):
    enable(tracker)
    once = patched_names()
    splits.patch()
    scores.patch()
    assert patched_names() == once
    changed = {key for key in ORIGINALS if once[key] is not ORIGINALS[key]}
    assert ("sklearn.metrics", "accuracy_score") in changed
    assert ("sklearn.metrics", "confusion_matrix") not in changed
    assert ("sklearn.metrics", "make_scorer") not in changed
    assert ("sklearn.model_selection", "train_test_split") in changed
    assert any(owner == "_BaseKFold" for owner, _ in changed)
    disable()
    assert patched_names() == ORIGINALS


def test_a_patched_function_a_module_copied_passes_straight_through_once_disabled(tracker, iris, turned_off):
    X, y = iris
    enable(tracker)
    predicted = LogisticRegression(max_iter=1000).fit(X, y).predict(X)
    copied = metrics.accuracy_score  # as `from sklearn.metrics import accuracy_score` in a module imported now
    assert copied is not ORIGINALS["sklearn.metrics", "accuracy_score"]
    disable()
    assert copied(y, predicted) == ORIGINALS["sklearn.metrics", "accuracy_score"](y, predicted)
    assert tracker.count("evaluation") == 0


def test_enabling_before_the_program_imports_scikit_learn_patches_what_it_imports_and_restores_it():
    script = textwrap.dedent(
        """
        import json
        import mltrack_core as mt
        import mltrack_sklearn

        tracker = mt.connect("memory://")
        mltrack_sklearn.autolog(tracker=tracker)
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score
        from sklearn.model_selection import train_test_split
        import sklearn.metrics, sklearn.model_selection, sklearn.model_selection._split as split_module

        def ours(function):
            return function.__code__.co_filename.endswith(("splits.py", "scores.py"))

        X, y = load_iris(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        accuracy_score(y_test, LogisticRegression(max_iter=1000).fit(X_train, y_train).predict(X_test))
        found = [ours(train_test_split), ours(accuracy_score), tracker.count("dataset"), tracker.count("evaluation")]
        mltrack_sklearn.autolog(disable=True)
        found.append([ours(f) for f in (sklearn.model_selection.train_test_split, split_module.train_test_split,
                                        sklearn.metrics.accuracy_score)])
        print(json.dumps(found))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [True, True, 3, 1, [False, False, False]]


def test_record_data_finds_linked_data_without_describing_it_again(autologged, iris, monkeypatch):
    tracker = autologged
    X, y = iris
    X_train, _, y_train, _ = model_selection.train_test_split(X, y, random_state=0)

    def no_description(*args, **kwargs):
        raise AssertionError("described again")

    monkeypatch.setattr(extract, "describe_data", no_description)
    # the same dataset: its statistics are completed off the caller's path, so compare ids
    assert extract.record_data(tracker, X_train, y_train).id == derived_parts(tracker)["training"].id


def test_patched_metrics_pickle_and_keep_their_signature(autologged):
    import inspect

    assert pickle.loads(pickle.dumps(metrics.accuracy_score)) is metrics.accuracy_score
    scorer = make_scorer(metrics.f1_score, average="macro")
    assert pickle.loads(pickle.dumps(scorer))._score_func is metrics.f1_score
    original = ORIGINALS["sklearn.metrics", "f1_score"]
    assert inspect.signature(metrics.f1_score) == inspect.signature(original)
    assert metrics.f1_score.__doc__ == original.__doc__


# ---------------------------------------------------------------- explicit track_model(trained_on=X)


def test_track_model_trained_on_x_is_the_dataset_its_recorded_fit_saw_with_y(tracker, iris):
    X, y = iris
    pipeline = TrackedPipeline([("scale", StandardScaler()), ("classify", LogisticRegression())], tracker=tracker)
    pipeline.fit(X, y)
    fitted_on = tracker.get(pipeline.tracked_model_.trained_on)
    assert fitted_on.target == "target"
    model = tracker.track_model(pipeline, trained_on=X)
    assert model.trained_on == fitted_on.id
    assert [column.name for column in model.input] == list(X.columns)
    # an estimator whose fit was not recorded keeps what it was given: X alone
    other = LogisticRegression(max_iter=1000).fit(X, y)
    assert tracker.get(tracker.track_model(other, trained_on=X).trained_on).target is None


def test_track_model_trained_on_x_under_autolog(autologged, iris):
    tracker = autologged
    X, y = iris
    X_train, X_test, y_train, _ = model_selection.train_test_split(X, y, random_state=0)
    estimator = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    model = tracker.track_model(estimator, trained_on=X_train)
    assert model.trained_on == derived_parts(tracker)["training"].id
    assert tracker.get(tracker.track_model(estimator, trained_on=X_test).trained_on).target is None
