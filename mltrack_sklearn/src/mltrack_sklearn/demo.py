"""The scikit-learn part of ``mltrack demo``: breast cancer data shipped with scikit-learn.

A ``ColumnTransformer`` pipeline (the 30 measurements come in three groups: means,
standard errors and worst values; each group gets its own preprocessing), a grid
search over it with 5-fold stratified cross-validation recorded with
:func:`~mltrack_sklearn.track_search`, two other models for comparison, and a
held-out evaluation of all three.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mltrack_core.plugin import DemoResult
from mltrack_sklearn.evaluation import track_evaluation
from mltrack_sklearn.tracked import TrackedPipeline
from mltrack_sklearn.tuning import track_search

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mltrack_core.plugin import Tracker

__all__ = ["run_demo"]

SEED = 0
METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "neg_log_loss")


def run_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult:
    """Record the scikit-learn experiment; return its held-out dataset and metric."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    source = files("sklearn.datasets") / "data" / "breast_cancer.csv"
    full = tracker.track_dataset(
        X,
        target=y,
        name="breast cancer (scikit-learn)",
        location=f"file://{source}",
        version=f"scikit-learn {sklearn.__version__}",
        comments="Wisconsin diagnostic breast cancer data, as shipped with scikit-learn (load_breast_cancer)",
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=SEED)
    how = f"stratified split, train_test_split(test_size=0.25, random_state={SEED})"
    train = tracker.track_dataset(
        X_train, target=y_train, name="breast cancer train", derived_from=[full], derivation=f"75% training part: {how}"
    )
    test = tracker.track_dataset(
        X_test, target=y_test, name="breast cancer test", derived_from=[full], derivation=f"25% test part: {how}"
    )
    say(f"tracked {full.name} ({full.row_count} rows) and its train/test split")

    search = GridSearchCV(
        TrackedPipeline([("features", _features()), ("classify", LogisticRegression(max_iter=5000))], tracker=tracker),
        {"classify__C": [0.1, 1.0, 10.0], "features__worst__pca__n_components": [3, 8]},
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED),
        scoring="accuracy",
    )
    search.fit(X_train, y_train)
    record = track_search(search, X_train, y_train, tracker=tracker, name="breast cancer grid search")
    say(
        f"grid search: {len(record.candidates)} candidates x {len(record.splits)} folds recorded "
        f"({record.procedure}); best {search.best_params_} with accuracy {search.best_score_:.3f}"
    )

    others = [
        TrackedPipeline(
            [("features", _features()), ("classify", RandomForestClassifier(n_estimators=200, random_state=SEED))],
            tracker=tracker,
        ),
        TrackedPipeline([("classify", DummyClassifier(strategy="most_frequent"))], tracker=tracker),
    ]
    for pipeline in others:
        pipeline.fit(X_train, y_train)
    for estimator, model in [(search.best_estimator_, record.model), *((p, p.tracked_model_) for p in others)]:
        track_evaluation(estimator, X_test, y_test, METRICS, model=model, on_dataset=test, tracker=tracker)
    say(f"trained a random forest and a majority-class baseline on {train.name}; evaluated all three on {test.name}")
    return DemoResult("scikit-learn: breast cancer (ColumnTransformer, grid search, held-out test)", test, "accuracy")


def _features() -> ColumnTransformer:
    """Means are scaled; standard errors are log-scaled (they are skewed); worst values are projected by PCA."""
    names = load_breast_cancer().feature_names
    means = [str(name) for name in names if name.startswith("mean ")]
    errors = [str(name) for name in names if name.endswith(" error")]
    worst = [str(name) for name in names if name.startswith("worst ")]
    return ColumnTransformer(
        [
            ("mean", StandardScaler(), means),
            (
                "error",
                make_pipeline(FunctionTransformer(np.log1p, feature_names_out="one-to-one"), StandardScaler()),
                errors,
            ),
            ("worst", make_pipeline(StandardScaler(), PCA(n_components=3, random_state=SEED)), worst),
        ]
    )
