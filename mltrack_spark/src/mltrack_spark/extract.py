"""What the plugin's hooks return: models, training runs and datasets from Spark objects."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.artifacts import mltrack_home
from mltrack_core.errors import SchemaError
from mltrack_core.extraction import Extraction
from mltrack_core.schema import Dataset, Evaluation, Model, Score, TrainingRun
from mltrack_spark.dag import FRAMEWORK, Dag, build_dag
from mltrack_spark.data import describe_dataframe
from mltrack_spark.parameters import parameters, tuning_summaries
from mltrack_spark.stages import learning_algorithm, model_name

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["extract_dataset", "extract_model", "extract_training", "load_model", "spark_schema_of"]

SCHEMA_ANNOTATION = "spark.schema"
TUNING_ANNOTATION = "spark.tuning"


def extract_model(obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool) -> Extraction:
    """The model with every stage's parameters, its column DAG and the evaluations of its tunings.

    Each fitted CrossValidator or TrainValidationSplit inside ``obj`` adds the
    ``spark.tuning`` annotation (every candidate's parameters and metric) and
    one :class:`~mltrack_core.Evaluation` of the model: the chosen candidate's
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
    dag = _model_dag(obj, trained_on, failures)
    summaries = _guarded(lambda: tuning_summaries(obj), "tuning results", failures) or []
    model = Model(
        name=name or model_name(obj),
        learning_algorithm=learning_algorithm(obj),
        trained_on=trained_on.id,
        framework=FRAMEWORK,
        framework_version=pyspark.__version__,
        location=_serialized(obj, tracker, name) if serialize else None,
        hyperparameters=hyperparameters,
        transforms=[transform.id for transform in dag.transforms],
        input=dag.inputs,
        annotations={TUNING_ANNOTATION: json.dumps(summaries, sort_keys=True)} if summaries else {},
    )
    evaluations = tuple(
        _tuning_evaluation(summary, model, trained_on) for summary in summaries if summary["best_index"] is not None
    )
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


def _model_dag(obj: Any, trained_on: Dataset, failures: list[str]) -> Dag:
    schema = spark_schema_of(trained_on)
    if schema is None:
        failures.append(
            f"column types: dataset {trained_on.id} was not tracked from a DataFrame, so its Spark schema is unknown "
            "and the stages could not be replayed (track it with tracker.track_dataset(df), or pass trained_on=df)"
        )
    try:
        dag = build_dag(obj, schema)
    except Exception as exc:  # noqa: BLE001 - a stage whose parameters or columns cannot be read: keep the rest of the model
        failures.append(f"column DAG: {type(exc).__name__}: {exc}")
        return Dag()
    failures += dag.failures
    return dag


def _tuning_evaluation(summary: dict[str, Any], model: Model, trained_on: Dataset) -> Evaluation:
    best = summary["candidates"][summary["best_index"]]
    return Evaluation(
        name=f"{summary['metric']} of the chosen candidate ({summary['procedure']})",
        computed_by=model.id,
        on_dataset=trained_on.id,
        scores=[Score(metric=summary["metric"], value=best["metric"], greater_is_better=summary["larger_is_better"])],
        procedure=summary["procedure"],
        annotations={
            "spark.tuning.path": summary["path"],
            "spark.tuning.candidate": json.dumps(best["params"], sort_keys=True),
        },
    )


def _serialized(obj: Any, tracker: Tracker, name: str | None) -> str:
    """Save with Spark's own writer and store the folder, zipped, in the artifact store."""
    from pyspark import SparkContext
    from pyspark.ml.util import MLWritable

    if not isinstance(obj, MLWritable):
        raise SchemaError(
            f"{type(obj).__name__} cannot be saved by Spark (it is not MLWritable); track it with serialize=False"
        )
    context = SparkContext._active_spark_context
    if context is None or not context.master.startswith("local"):
        raise SchemaError(
            "serialize=True saves the model through a folder on this machine, which executors of a cluster "
            f"(master {context.master if context else None!r}) cannot write: save it where the cluster can "
            "(model.write().save(uri)) and pass location=uri instead"
        )
    with tempfile.TemporaryDirectory(prefix="mltrack-spark-") as folder:
        saved = Path(folder) / "model"
        obj.write().save(saved.as_uri())
        archive = Path(folder) / "model.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
            for path in sorted(saved.rglob("*")):
                if path.is_file() and not path.name.startswith("."):  # leave Hadoop's .crc files out
                    packed.write(path, path.relative_to(saved).as_posix())
        file_name = f"{(name or type(obj).__name__).replace(os.sep, '_').replace(' ', '_')}.spark.zip"
        return tracker.artifacts.put_file(archive, file_name)


def load_model(location: str, tracker: Tracker | None = None) -> Any:
    """Load a model that ``track_model(..., serialize=True)`` stored (its ``location``).

    The archive is unpacked once into ``$MLTRACK_HOME/spark-models`` (Spark reads
    some models' data lazily from there) and loaded with the class Spark saved it as.

    Raises:
        SchemaError: ``location`` holds no model saved by Spark.
    """
    if tracker is None:
        from mltrack_core import get_tracker

        tracker = get_tracker()
    folder = mltrack_home() / "spark-models" / hashlib.sha256(location.encode()).hexdigest()[:24]
    if not (folder / "metadata").is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        unpacked = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder.parent))
        with tracker.artifacts.open(location) as data, zipfile.ZipFile(data) as packed:
            packed.extractall(unpacked)
        if folder.exists():  # another process unpacked it meanwhile
            shutil.rmtree(unpacked)
        else:
            unpacked.rename(folder)
    parts = sorted((folder / "metadata").glob("part-*"))
    if not parts:
        raise SchemaError(f"{location} holds no Spark ML model (no metadata/part-* file in it)")
    saved_class = json.loads(parts[0].read_text().splitlines()[0])["class"]
    module_name, _, class_name = saved_class.replace("org.apache.spark", "pyspark").rpartition(".")
    model_class = getattr(importlib.import_module(module_name), class_name)
    return model_class.load(folder.as_uri())


def _guarded(function: Any, what: str, failures: list[str]) -> Any:
    try:
        return function()
    except Exception as exc:  # noqa: BLE001 - one part that cannot be read must not lose the rest of the metadata
        failures.append(f"{what}: {type(exc).__name__}: {exc}")
        return None
