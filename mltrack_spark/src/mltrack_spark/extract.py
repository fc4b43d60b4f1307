"""What the plugin's hooks return: models, training runs and datasets from Spark objects."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Extraction, Model, SchemaError, TrainingRun, Transform
from mltrack_spark.dag import FRAMEWORK, Dag, build_dag
from mltrack_spark.data import describe_dataframe
from mltrack_spark.fits import UPSTREAM_ATTRIBUTE
from mltrack_spark.parameters import parameters
from mltrack_spark.serialize import save_model
from mltrack_spark.stages import learning_algorithm, model_name
from mltrack_spark.tuning import tuning_annotations, tuning_evaluations, tuning_summaries

if TYPE_CHECKING:
    from mltrack_core.plugin import Dataset, Tracker

__all__ = ["extract_dataset", "extract_model", "extract_training", "spark_schema_of"]

SCHEMA_ANNOTATION = "spark.schema"


def extract_model(obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool) -> Extraction:
    """The model with every stage's parameters, its column DAG and the evaluations of its tunings.

    Each fitted CrossValidator or TrainValidationSplit inside ``obj`` adds the
    ``spark.tuning`` annotation (every candidate's parameters and metric) and
    one :class:`~mltrack_core.plugin.Evaluation` of the model: the chosen candidate's
    metric under the tuning's procedure ("3-fold cross-validation") on the
    training data.
    """
    import pyspark
    from pyspark.ml import Estimator, Transformer

    if isinstance(obj, Estimator):
        raise SchemaError(
            f"{type(obj).__name__} is an estimator, not a fitted model: track the model its fit(df) returns, "
            "or fit a mltrack_spark.TrackedPipeline, which records the fit"
        )
    if not isinstance(obj, Transformer):
        raise SchemaError(
            f"{type(obj).__name__} is not a Spark ML model or transformer, so it cannot be tracked as a model"
        )
    failures: list[str] = []
    hyperparameters = _guarded(lambda: parameters(obj), "hyperparameters", failures) or []
    upstream = tuple(getattr(obj, UPSTREAM_ATTRIBUTE, ()))  # transforms applied by hand before the fit
    dag = _model_dag(
        obj, trained_on, failures, [transform for transform in upstream if isinstance(transform, Transform)]
    )
    summaries = _guarded(lambda: tuning_summaries(obj), "tuning results", failures) or []
    model = Model(
        name=name or model_name(obj),
        learning_algorithm=learning_algorithm(obj),
        trained_on=trained_on.id,
        framework=FRAMEWORK,
        framework_version=pyspark.__version__,
        location=save_model(obj, tracker, name) if serialize else None,
        hyperparameters=hyperparameters,
        transforms=[*(_id(transform) for transform in upstream), *(transform.id for transform in dag.transforms)],
        input=dag.inputs,
        annotations=tuning_annotations(summaries),
    )
    evaluations = tuning_evaluations(summaries, model, trained_on)
    return Extraction(model, (*dag.transforms, *evaluations), tuple(failures))


def extract_training(obj: Any) -> Extraction:
    """A training run template with the hyperparameters the estimator is about to be fitted with."""
    from pyspark.ml import Estimator

    if not isinstance(obj, Estimator):
        raise SchemaError(
            f"{type(obj).__name__} is not a Spark ML estimator; track_training describes what is about to be fitted"
        )
    failures: list[str] = []
    found = _guarded(lambda: parameters(obj), "hyperparameters", failures) or []
    return Extraction(TrainingRun(name=f"fit {model_name(obj)}", hyperparameters=found), failures=tuple(failures))


def extract_dataset(data: Any, name: str | None, target: Any) -> Extraction:
    """A dataset describing a DataFrame: schema, statistics and histograms, fingerprint, location."""
    if target is not None and not isinstance(target, str):
        raise SchemaError(
            f"target must be the name of the label column of the DataFrame, not a {type(target).__name__}"
        )
    return Extraction(describe_dataframe(data, name=name, target=target))


def spark_schema_of(dataset: Dataset) -> Any:
    """The exact Spark schema recorded with a dataset tracked from a DataFrame, or None."""
    from pyspark.sql.types import StructType

    recorded = dataset.annotations.get(SCHEMA_ANNOTATION)
    return StructType.fromJson(json.loads(recorded)) if recorded else None


def _id(transform: Transform | str) -> str:
    return transform if isinstance(transform, str) else transform.id


def _model_dag(obj: Any, trained_on: Dataset, failures: list[str], upstream: list[Transform]) -> Dag:
    schema = spark_schema_of(trained_on)
    if schema is None:
        failures.append(
            f"column types: dataset {trained_on.id} was not tracked from a DataFrame, so its Spark schema is unknown "
            "and the stages could not be replayed (track it with tracker.track_dataset(df), or pass trained_on=df)"
        )
    try:
        dag = build_dag(obj, schema, upstream=upstream)
    except Exception as exc:  # noqa: BLE001 - a stage whose parameters or columns cannot be read: keep the rest of the model
        failures.append(f"column DAG: {type(exc).__name__}: {exc}")
        return Dag()
    failures += dag.failures
    return dag


def _guarded(function: Any, what: str, failures: list[str]) -> Any:
    try:
        return function()
    except Exception as exc:  # noqa: BLE001 - one part that cannot be read must not lose the rest of the metadata
        failures.append(f"{what}: {type(exc).__name__}: {exc}")
        return None
