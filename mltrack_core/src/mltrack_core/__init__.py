"""mltrack: metadata and provenance of machine-learning experiments.

Record datasets, models, feature transformations, training runs, predictions
and evaluations with their lineage, and ask provenance questions::

    import mltrack_core as mt

    tracker = mt.connect()  # $MLTRACK_URI, else the embedded store ~/.mltrack/store.db
    train = tracker.track_dataset(name="churn-train", location="s3://data/churn/train.parquet",
                                  fingerprint="sha256:...")
    model = tracker.track_model(name="churn-lr", learning_algorithm="LogisticRegression",
                                trained_on=train)
    with tracker.track_training(name="churn-lr run", trained_on=train) as run:
        for epoch in range(10):
            run.log("loss", 0.1 / (epoch + 1), epoch=epoch)
    evaluation = tracker.track_evaluation({"accuracy": 0.91}, computed_by=model, on_dataset=train)
    tracker.lineage(evaluation.id).of_kind("dataset")       # which data was this computed on?
    tracker.leaderboard(train, "accuracy").entries           # best models on this data

Framework packages (``mltrack-sklearn``, ``mltrack-spark``, ``mltrack-mxnet``)
extract all of this from the frameworks' own objects.
"""

from mltrack_core.autolog import autolog  # imported at once: a lazy name would lose to the submodule of that name
from mltrack_core.errors import (
    ConflictError,
    DanglingReferenceError,
    MissingDependencyError,
    MissingPluginError,
    MltrackError,
    NotFoundError,
    RunStateError,
    SchemaError,
    StoreCorruptError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
    StoreVersionError,
    TrackingWarning,
    UnknownSchemeError,
)
from mltrack_core.extraction import Extraction
from mltrack_core.hookspecs import hookimpl
from mltrack_core.live import LiveRun
from mltrack_core.schema import (
    ConfusionMatrix,
    Dataset,
    DataStatistic,
    Entity,
    Evaluation,
    Histogram,
    Model,
    Parameter,
    Prediction,
    Score,
    ScoreAtTime,
    TrainingRun,
    TrainingState,
    Transform,
    TypedColumn,
    TypeHint,
)
from mltrack_core.tracker import Tracker, connect, get_tracker, set_tracker

__version__ = "0.2.0"

__all__ = [
    "ConflictError",
    "ConfusionMatrix",
    "DanglingReferenceError",
    "DataStatistic",
    "Dataset",
    "Entity",
    "Evaluation",
    "Extraction",
    "Histogram",
    "LiveRun",
    "MissingDependencyError",
    "MissingPluginError",
    "MltrackError",
    "Model",
    "NotFoundError",
    "Parameter",
    "Prediction",
    "RunStateError",
    "SchemaError",
    "Score",
    "ScoreAtTime",
    "StoreCorruptError",
    "StoreError",
    "StoreReadOnlyError",
    "StoreUnavailableError",
    "StoreVersionError",
    "Tracker",
    "TrackingWarning",
    "TrainingRun",
    "TrainingState",
    "Transform",
    "TypeHint",
    "TypedColumn",
    "UnknownSchemeError",
    "__version__",
    "autolog",
    "connect",
    "get_tracker",
    "hookimpl",
    "set_tracker",
]
