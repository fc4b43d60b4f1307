"""The plugin: entry point, explicit extraction, environment, demo."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sklearn.linear_model import LogisticRegression

import mltrack_core as mt
from mltrack_sklearn.demo import run_demo


def test_the_entry_point_registers_the_plugin_without_importing_sklearn():
    code = (
        "import sys, mltrack_core as mt; t = mt.connect('memory://'); "
        "print(t.plugins.has_plugin('sklearn'), 'sklearn' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]


def test_track_model_needs_a_fitted_estimator(tracker, iris):
    X, y = iris
    dataset = tracker.track_dataset(X, target=y)
    with pytest.raises(mt.SchemaError, match="LogisticRegression is not fitted; call fit before tracking it"):
        tracker.track_model(LogisticRegression(), trained_on=dataset)
    model = tracker.track_model(
        LogisticRegression(max_iter=500).fit(X, y), trained_on=dataset, name="lr", serialize=True
    )
    assert model.name == "lr"
    assert model.location.startswith("file://")
    assert model.location.endswith("lr.pkl")


def test_an_unfitted_estimator_starts_a_training_run(tracker):
    with tracker.track_training(LogisticRegression(C=2.0)) as run:
        pass
    stored = tracker.get(run.id)
    assert {p.name: p.value for p in stored.hyperparameters}["C"] == 2.0


def test_the_environment_names_scikit_learn(tracker, iris):
    import sklearn

    model = tracker.track_model(LogisticRegression(max_iter=500).fit(*iris), trained_on=tracker.track_dataset(iris[0]))
    assert model.environment["sklearn.version"] == sklearn.__version__
    assert model.environment["package.scikit-learn"] == sklearn.__version__


def test_the_demo_records_a_search_and_a_held_out_leaderboard(tracker, tmp_path):
    lines = []
    result = run_demo(tracker, tmp_path, lines.append)
    board = tracker.leaderboard(result.dataset, result.metric)
    assert [entry.model.learning_algorithm for entry in board.entries][-1] == "DummyClassifier"
    assert len(board.entries) == 3
    assert board.procedure == "holdout"
    assert any("6 candidates x 5 folds" in line for line in lines)
    best = board.entries[0].evaluation
    kinds = {entity.KIND for entity in tracker.lineage(best.id).nodes.values()}
    assert kinds == {"evaluation", "model", "dataset", "transform"}
    assert tracker.lineage(result.dataset.id).of_kind("dataset")[0].name == "breast cancer (scikit-learn)"
