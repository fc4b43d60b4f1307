"""mltrack for scikit-learn: track every fit, search and score with no added line, or pipelines by changing one.

Run the program unchanged under ``mltrack run python train.py``, or add
``mltrack_sklearn.autolog()`` before training (see *Automatic tracking* below).
Or replace ``Pipeline`` by :class:`TrackedPipeline`::

    import mltrack_core as mt
    from mltrack_sklearn import TrackedPipeline

    pipeline = TrackedPipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5))])
    pipeline.fit(X_train, y_train)        # records dataset, training run, model and its DAG
    pipeline.tracked_model_               # the recorded mltrack_core.Model

Each fit records, through ``tracker=`` (default :func:`mltrack_core.get_tracker`,
i.e. ``$MLTRACK_URI`` or the embedded store):

* the training **dataset** described from ``X`` and ``y``: column names and types,
  row count, a content fingerprint (``XXH3-128`` digest of the data's memory, without copying
  it), the target column, and statistics and histograms computed on at most 10,000
  evenly spaced rows. Fitting again on the same data reuses the stored dataset.
  The same sample gives its meta-features (``meta.*``: size, feature types, missing
  values, classes, and landmarkers learnt on at most 1,000 rows; see :mod:`mltrack_core.metafeatures`).
* a **training run** (started before the fit, FINISHED or FAILED after it);
* the fitted **model**: ``learning_algorithm`` (the final step), every
  hyperparameter of every step named as in ``get_params(deep=True)``, typed, with
  the default from the class's ``__init__`` and a ``non_default`` flag (the values
  scikit-learn's ``repr`` shows), and the **transformation DAG** as ``Transform``
  vertices, with column-level lineage where scikit-learn can tell (see below).

Tracking never refits, never predicts and never copies the data. It is implicit:
if something cannot be recorded, a :class:`mltrack_core.TrackingWarning` says what,
whatever could be recorded is stored with the failure in its ``mltrack.failures``
annotation, and ``fit`` returns normally. A ``TrackedPipeline`` is a ``Pipeline``
in every other respect: ``get_params``/``set_params``, ``clone`` (clones share the
tracker), pickling (the tracker is left out; an unpickled copy records into the
default tracker of the process that fits it), and use inside ``GridSearchCV``.

Any fitted estimator can be recorded explicitly::

    model = tracker.track_model(fitted_estimator, trained_on=X_train)   # or a tracked Dataset

Transformation DAG
    Every estimator of the composition is a vertex named by its ``get_params``
    path (``preprocess__num__scale``). Pipelines (also ``make_pipeline``) are
    chains; ``ColumnTransformer`` (also ``make_column_transformer``) and
    ``FeatureUnion`` (``make_union``) are parallel branches merging into the
    composition's vertex, a ``drop`` branch being a vertex without outputs and
    ``passthrough`` (also the ``remainder``) a vertex whose outputs are its inputs.
    Stacking and voting ensembles are branches merging into the ensemble (stacking
    then feeds its ``final_estimator``); a fitted search is its ``best_estimator_``
    feeding the search's vertex; one-vs-rest, bagging and other meta-estimators
    are vertices fed by their inner estimators.

Column lineage
    Each vertex records its ``input`` and ``output`` columns (from
    ``get_feature_names_out``; with a numpy input scikit-learn's ``x0, x1, ...``)
    and ``column_lineage``: for each output column, the input columns it is
    computed from. Known for one-to-one transformers (scalers, imputers, ordinal
    encoders), feature selectors, one-hot, binning and spline encoders,
    polynomial features, missing indicators, projections mixing all inputs
    (PCA and the like) and single-column inputs (text vectorizers). A merging
    vertex's lineage goes through its branches back to its own input columns.
    Where outputs or lineage cannot be known, the vertex's
    ``mltrack.column_lineage`` annotation says why.

Evaluations
    :func:`track_evaluation` predicts once and records an ``Evaluation`` with a score for
    each scikit-learn scorer name (``"accuracy"``, ``"neg_log_loss"``, ...) or metric
    function, and the confusion matrix for classifiers, linked to the model and
    the test dataset (and to a tracked ``Prediction`` when given).

Cross-validation provenance
    :func:`track_search` (after ``GridSearchCV``/``RandomizedSearchCV``/halving
    searches' ``fit``) and :func:`cross_validate` (a drop-in for scikit-learn's)
    record, without refitting, the experiment the search ran:

    * the input dataset, and for each split ``k`` of ``n`` a training part and a
      validation part: datasets ``derived_from`` the input, with the splitter in
      their ``derivation`` and a fingerprint of the parent's fingerprint and the
      row positions (equal folds of equal data get equal fingerprints);
    * for each candidate and split, a ``Model`` trained on the training part, with
      the candidate's hyperparameters (the base estimator with the candidate's
      parameters set) and annotations ``sklearn.search.candidate``,
      ``sklearn.search.split``, ``sklearn.search.rank`` and whether it is the winner
      (``sklearn.search.best``);
    * for each of these, an ``Evaluation`` on the validation part with the split's
      scores from ``cv_results_`` (every scorer; training-part scores go to an
      evaluation on the training part), procedure ``"<n>-fold cross-validation"``,
      so ``tracker.leaderboard(validation_part, metric)`` ranks the candidates on it;
    * the refit best estimator as the search's ``Model``, trained on the input
      dataset, with ``sklearn.search.best_index``/``best_params``/``best_score``.

    A search does not keep its splits, so :func:`track_search` replays the
    splitter: an integer ``cv``, an unshuffled splitter or one with an integer
    ``random_state``, or a list of splits. A splitter that cannot be replayed (a
    shuffle without a fixed seed, a consumed generator) still gives the fold
    datasets, without fingerprints, and the reason in their annotations.
    Fits that scikit-learn's model selection makes on folds of a
    ``TrackedPipeline`` are not recorded one by one (they are what these
    functions record); the search's refit on all the data is.

Warm start from the history
    :func:`warm_start` reorders a search's grid so that the configurations that
    did best on similar datasets of the store come first (see
    :meth:`mltrack_core.Tracker.recommend`)::

        grid = warm_start({"C": [0.1, 1, 10], "kernel": ["rbf", "linear"]}, X, y, estimator=SVC())
        GridSearchCV(SVC(), grid, scoring="accuracy").fit(X, y)     # or warm_start(..., limit=3) on a budget
        grid.recommendations                                         # why: similar datasets, evidence, confidence

Serialized models
    ``tracker.track_model(fitted_estimator, trained_on=..., serialize=True)``
    pickles the estimator into the tracker's artifact store and records the
    file's URI as the model's ``location``; :func:`load_model` reads it back from
    the ``Model`` or its location. Unpickling can run any code: load only models
    from stores you trust.

Automatic tracking
    After ``mltrack_sklearn.autolog()`` (or ``mltrack_core.autolog()``, which
    turns on every installed framework plugin; ``mltrack run`` calls it):

    * every top-level ``fit``, ``fit_transform`` or ``fit_predict`` of any
      estimator, pipeline or meta-estimator records what a ``TrackedPipeline``
      fit records (dataset with ``y`` as the target, run, model, DAG). Only the
      top-level call: the fits made inside it (by a pipeline, a search, a
      meta-estimator, ``super().fit``) are part of its record. A fit that raises
      leaves a FAILED run and its exception reaches the program unchanged;
    * a search's ``fit`` also records what :func:`track_search` records;
    * ``sklearn.model_selection.cross_validate``, ``cross_val_score`` and
      ``cross_val_predict`` record what :func:`cross_validate` records, and
      return scikit-learn's results unchanged;
    * predictions and scores of recorded models are remembered, so that a later
      ``estimator.score`` or ``sklearn.metrics`` call on them is recorded as an
      ``Evaluation`` on the data the predictions came from.

    ``autolog(tracker=t)`` records into ``t`` (default: the process-wide tracker
    at each record); calling it again is a no-op; ``autolog(disable=True)``
    restores scikit-learn exactly. Recording never changes a result (the same
    predictions, draws from the global random state and warnings, mltrack's
    own :class:`mltrack_core.TrackingWarning` aside). While a recorded call
    runs, calls in other threads count as part of it (joblib's threading backend
    fits trees and folds there): of two fits running at once in two threads of
    the program, only the first is recorded.

Supported scikit-learn: the ``instruments`` extra's range, which
:func:`supported_versions` returns (``pip install 'mltrack-sklearn[instruments]'``
installs one). Older releases are refused with :class:`mltrack_core.MissingDependencyError`;
newer ones are used with one :class:`mltrack_core.TrackingWarning`, as some metadata may be missing.
"""

from __future__ import annotations

import importlib
from typing import Any

# autolog is imported at once (it imports no scikit-learn): so ``mltrack_sklearn.autolog`` is the function,
# not the module of the same name, whatever imported the module first.
from mltrack_sklearn.autolog import autolog
from mltrack_sklearn.framework import require_sklearn, supported_versions

__version__ = "0.2.0"

__all__ = [
    "TrackedPipeline",
    "__version__",
    "autolog",
    "cross_validate",
    "load_model",
    "supported_versions",
    "track_evaluation",
    "track_search",
    "warm_start",
]

_LOCATIONS = {
    "TrackedPipeline": "mltrack_sklearn.tracked",
    "cross_validate": "mltrack_sklearn.tuning",
    "track_search": "mltrack_sklearn.tuning",
    "track_evaluation": "mltrack_sklearn.evaluation",
    "load_model": "mltrack_sklearn.serialize",
    "warm_start": "mltrack_sklearn.warmstart",
}


def __getattr__(name: str) -> Any:
    """Import scikit-learn only when a public name is used (the plugin is loaded by every ``connect``)."""
    if name not in _LOCATIONS:
        raise AttributeError(f"module 'mltrack_sklearn' has no attribute {name!r}")
    require_sklearn()
    return getattr(importlib.import_module(_LOCATIONS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
