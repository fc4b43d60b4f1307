"""Seven kinds of scikit-learn programs, unmodified, under ``mltrack run``: each fit, split, search, score once, right.

Each program in ``gallery/`` has the shape of a scikit-learn gallery example and no
line of mltrack. It runs twice in a subprocess, plainly and under
``python -m mltrack_core.run``: its output must be the same, and the store must
hold what it computed, with lineage from every evaluation back to its source data.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import mltrack_core as mt
from mltrack_core.testing.gallery import Gallery

GALLERY = Path(__file__).parent / "gallery"


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """Runs each gallery program once, plainly and tracked; returns {name: (tracker, plain stdout, tracked run)}."""
    environment = {"PYTHONWARNINGS": "error::FutureWarning"}
    with Gallery(GALLERY, tmp_path_factory.mktemp("gallery"), environment=environment) as gallery:

        def run(name):
            tracker, plain, tracked = gallery.run(name)
            return tracker, plain.stdout, tracked

        yield run


# ---------------------------------------------------------------- what every program must satisfy


def _top_level_models(tracker):
    return [m for m in tracker.find("model") if "sklearn.search.split" not in m.annotations]


def _source_of(tracker, dataset):
    """Follow ``derived_from`` to the dataset the data came from."""
    while dataset.derived_from:
        (parent,) = dataset.derived_from
        dataset = tracker.get(parent)
    return dataset


def _check_common(tracker, plain_stdout, tracked):
    assert tracked.stdout == plain_stdout  # tracking changed no result the program printed
    (summary,) = re.findall(r"^mltrack: recorded (.*) in sqlite", tracked.stderr, re.MULTILINE)
    said = {kind: int(count) for count, kind in re.findall(r"(\d+) (model|dataset|evaluation)s?\b", summary)}
    assert said == {kind: tracker.count(kind) for kind in ("model", "dataset", "evaluation")}  # all written by exit
    assert "Traceback" not in tracked.stderr and "TrackingWarning" not in tracked.stderr, tracked.stderr
    runs = tracker.find("run")
    assert runs and all(run.state is mt.TrainingState.FINISHED for run in runs)
    for model in _top_level_models(tracker):
        dataset = tracker.get(model.trained_on)
        assert dataset.target is not None, f"{model.name} trained on {dataset.name} without target"
    for evaluation in tracker.find("evaluation"):
        dataset = tracker.get(evaluation.on_dataset)
        source = _source_of(tracker, dataset)
        assert source.row_count is not None and source.row_count >= dataset.row_count
        assert tracker.get(evaluation.computed_by).KIND == "model"


def _scores(evaluation):
    return {score.metric: score.value for score in evaluation.scores}


def _holdout_evaluations(tracker):
    return [e for e in tracker.find("evaluation") if e.procedure == "holdout"]


def _split_parts(tracker):
    """The train and test parts of a train_test_split, from their derivations."""
    parts = [d for d in tracker.find("dataset") if d.derivation and "train_test_split" in d.derivation]
    train = [d for d in parts if "train" in d.name.rsplit(" ", 1)[-1] or "train part" in d.derivation]
    test = [d for d in parts if d not in train]
    assert len(train) == 1 and len(test) == 1, [(d.name, d.derivation) for d in parts]
    return train[0], test[0]


# ---------------------------------------------------------------- the programs


def test_column_transformer_with_mixed_types(programs):
    tracker, plain, tracked = programs("column_transformer_mixed_types")
    _check_common(tracker, plain, tracked)
    train, test = _split_parts(tracker)
    assert (train.row_count, test.row_count) == (426, 143)
    assert train.derived_from == test.derived_from
    source = tracker.get(train.derived_from[0])
    assert source.row_count == 569 and source.target == train.target == test.target
    assert "random_state=0" in train.derivation and "strat" in train.derivation
    pipeline, search = sorted(_top_level_models(tracker), key=lambda m: "search" in str(m.annotations))
    assert pipeline.trained_on == search.trained_on == train.id
    assert search.annotations["sklearn.search.best_index"]
    assert {e.computed_by for e in _holdout_evaluations(tracker)} == {pipeline.id, search.id}
    for evaluation in _holdout_evaluations(tracker):
        assert evaluation.on_dataset == test.id and set(_scores(evaluation)) == {"accuracy"}
    fold_models = [m for m in tracker.find("model") if "sklearn.search.split" in m.annotations]
    assert len(fold_models) == 4 * 3


def test_feature_union(programs):
    tracker, plain, tracked = programs("feature_union")
    _check_common(tracker, plain, tracked)
    (search,) = _top_level_models(tracker)
    dataset = tracker.get(search.trained_on)
    assert dataset.row_count == 150 and not dataset.derived_from
    parameters = {p.name: p.value for p in search.hyperparameters}
    assert parameters["estimator__features__pca__n_components"] in (1, 2)
    assert len(tracker.find("model")) == 1 + 8 * 3
    folds = [d for d in tracker.find("dataset") if d.derived_from == (dataset.id,)]
    assert sorted(d.row_count for d in folds) == [50] * 3 + [100] * 3


def test_digits_pipe_searched_in_worker_processes(programs):
    tracker, plain, tracked = programs("digits_pipe")
    _check_common(tracker, plain, tracked)
    (search,) = _top_level_models(tracker)
    assert search.learning_algorithm == "LogisticRegression"
    assert len(tracker.find("model")) == 1 + 4 * 3  # folds fitted in loky workers: recorded once, from the results


def test_text_grid_search(programs):
    tracker, plain, tracked = programs("text_grid_search")
    _check_common(tracker, plain, tracked)
    train, test = _split_parts(tracker)
    (search,) = _top_level_models(tracker)
    assert search.trained_on == train.id
    (holdout,) = _holdout_evaluations(tracker)
    assert holdout.computed_by == search.id and holdout.on_dataset == test.id
    assert set(_scores(holdout)) == {"accuracy"}
    printed = float(plain.rsplit(":", 1)[1])
    assert _scores(holdout)["accuracy"] == pytest.approx(printed, abs=5e-4)


def test_nested_cross_validation_records_what_each_outer_fold_chose(programs):
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV, KFold, cross_validate
    from sklearn.svm import SVC

    tracker, plain, tracked = programs("nested_cv_iris")
    _check_common(tracker, plain, tracked)
    X, y = load_iris(return_X_y=True)
    inner, outer = (KFold(n_splits=4, shuffle=True, random_state=0) for _ in range(2))
    search = GridSearchCV(SVC(kernel="rbf"), {"C": [1, 10, 100], "gamma": [0.01, 0.1]}, cv=inner)
    fitted = cross_validate(search, X, y, cv=outer, return_estimator=True)["estimator"]
    chosen = [fold.best_params_ for fold in fitted]

    outer_models = [m for m in tracker.find("model") if "sklearn.search.candidate" not in m.annotations]
    outer_models = [m for m in outer_models if "sklearn.search.split" in m.annotations]
    assert len(outer_models) == 4
    recorded = {}
    for model in outer_models:
        parameters = {p.name: p.value for p in model.hyperparameters}
        recorded[int(model.annotations["sklearn.search.split"])] = {
            "C": parameters["estimator__C"],
            "gamma": parameters["estimator__gamma"],
        }
    assert [recorded[k] for k in range(4)] == chosen
    scores = [e for e in tracker.find("evaluation") if e.computed_by in {m.id for m in outer_models}]
    assert len(scores) == 4 and all(set(_scores(e)) == {"accuracy"} for e in scores)
    printed = float(plain.rsplit(" ", 1)[1])
    assert np.mean([_scores(e)["accuracy"] for e in scores]) == pytest.approx(printed, abs=5e-4)


def test_transformed_target(programs):
    tracker, plain, tracked = programs("transformed_target")
    _check_common(tracker, plain, tracked)
    train, test = _split_parts(tracker)
    models = _top_level_models(tracker)
    assert len(models) == 3 and {m.trained_on for m in models} == {train.id}
    by_algorithm = Counter(m.learning_algorithm for m in models)
    assert sum(by_algorithm.values()) == 3
    functions = {
        p.name: p.value for m in models for p in m.hyperparameters if p.name in ("func", "inverse_func") and p.value
    }
    assert functions == {"func": "numpy.log1p", "inverse_func": "numpy.expm1"}
    holdout = _holdout_evaluations(tracker)
    assert len(holdout) == 6 and {e.on_dataset for e in holdout} == {test.id}
    assert Counter(name for e in holdout for name in _scores(e)) == {"r2": 3, "median_absolute_error": 3}
    printed = [float(line.split("R2 ")[1].split(",")[0]) for line in plain.splitlines()]
    assert sorted(round(_scores(e)["r2"], 3) for e in holdout if "r2" in _scores(e)) == sorted(printed)


def test_stacking(programs):
    tracker, plain, tracked = programs("stacking")
    _check_common(tracker, plain, tracked)
    train, test = _split_parts(tracker)
    (stacking,) = [m for m in _top_level_models(tracker) if m.trained_on == train.id]
    assert stacking.learning_algorithm == "StackingRegressor"
    (holdout,) = _holdout_evaluations(tracker)
    assert holdout.computed_by == stacking.id and holdout.on_dataset == test.id and set(_scores(holdout)) == {"r2"}
    cross_validated = [e for e in tracker.find("evaluation") if "cross-validation" in (e.procedure or "")]
    assert {"r2", "neg_mean_absolute_error"} <= {name for e in cross_validated for name in _scores(e)}
