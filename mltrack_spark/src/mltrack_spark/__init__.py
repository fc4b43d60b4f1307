"""mltrack for Spark ML: schema replay, a column-level DAG, typed parameters, statistics computed by Spark.

Install ``mltrack-spark[instruments]``: it brings a PySpark of
``supported_versions()`` (Spark needs Java 17). The plugin registers itself
with mltrack. With no added line, run the program under ``mltrack run``
(``mltrack run python train.py``), or call ``mltrack_spark.autolog()`` (or
``mltrack_core.autolog()``) before fitting: every top-level ``fit`` of a Spark
ML estimator (``Pipeline``, a bare ``LogisticRegression`` or
``RandomForestClassifier``, ``CrossValidator``, ``TrainValidationSplit``,
``OneVsRest``, ``RFormula``, your own) is then recorded as ``TrackedPipeline``
records it (below); fits nested in it (a pipeline's stages, a tuning's
candidates in Spark's thread pool, its refit) are not recorded on their own.
``fit(df, param_map)`` records the estimator with the map applied;
``fit(df, [maps])`` records each fit. A fitted ``CrossValidator`` or
``TrainValidationSplit`` (fitted itself, or a pipeline stage) also records its
folds as datasets derived from its input, with the row counts Spark drew
(``rand(seed)`` counted again in one Spark job, or ``foldCol``), every
candidate as a model with its parameter map and an evaluation with its metric
(``avgMetrics`` over the folds, ``stdMetrics`` in an annotation;
``validationMetrics`` on the validation part) named after the evaluator's
metric, with its direction (``isLargerBetter``), under the procedure
("3-fold cross-validation", "train-validation split (trainRatio 0.8)"), and
the winner (``spark.tuning.best``; its refit is the fitted model). Spark keeps
no metric per fold, so none is recorded. PySpark is patched once the program
imports ``pyspark.ml`` (``Estimator.fit``), nothing is imported before;
``autolog(disable=True)`` restores it.

The DataFrames on the way are recorded too (:mod:`mltrack_spark.splits`,
:mod:`mltrack_spark.transforms`, :mod:`mltrack_spark.scores`, linked through
:mod:`mltrack_spark.links`). ``df.randomSplit([0.7, 0.3], seed=42)``: each part
is a dataset ``derived_from`` the source's, with its own row count and the
derivation ``70% part of randomSplit([0.7, 0.3], seed=42): 104 of 150 rows``
(the source described on the tracker's background thread, the parts when one
is first fitted or evaluated on). Transformers applied by hand
(``Tokenizer().transform(df)``, ``HashingTF``, a fitted ``IDFModel`` or
``StringIndexerModel``): one Transform each, with typed columns and
parameters (schema replay, no Spark job); a fit on their output trains on a
dataset ``derived_from`` the input's that names them in order, and the
model's DAG starts with them. ``evaluator.evaluate(model.transform(test))``:
an Evaluation of that model on the dataset it predicted on, with the value
``evaluate`` returned, named by ``getMetricName()``, directed by
``isLargerBetter()``. A stage fitted on its own before (``StringIndexer().fit(data)``)
carries the dataset it was fitted on (``spark.fitted_on``); when the model
using it is evaluated on rows of that dataset (the test part of its split),
the evaluation's ``spark.leak`` annotation says so. Or change one line::

    from mltrack_spark import TrackedPipeline            # instead of pyspark.ml.Pipeline

    pipeline = TrackedPipeline(stages=[tokenizer, hashing_tf, idf, indexer, assembler, cross_validator])
    fitted = pipeline.fit(train_df)                      # a PipelineModel, as always

and each ``fit`` records, into ``mltrack_core.get_tracker()`` (or
``TrackedPipeline(..., tracker=t)``): the training DataFrame as a dataset, a
training run, and the fitted model with every stage's parameters and its
column DAG. Nothing of this ever breaks the fit: a failure to record is a
``TrackingWarning``. Record the model's evaluation with Spark's evaluator::

    from mltrack_spark import track_evaluation

    track_evaluation(BinaryClassificationEvaluator(), fitted.transform(test_df),
                     computed_by=fitted, on_dataset=test_df, metrics=["areaUnderROC", "areaUnderPR"])

Fitted models and DataFrames tracked by hand work the same way::

    train = tracker.track_dataset(train_df, name="churn-train", target="label")
    model = tracker.track_model(pipeline_model, trained_on=train)     # also CrossValidatorModel, ...
    run = tracker.track_training(pipeline, trained_on=train)          # hyperparameters before the fit
    model = tracker.track_model(pipeline_model, trained_on=train, serialize=True)  # saved by Spark (local master)
    loaded = load_model(model.location)                               # ... and read back

What is recorded:

* Datasets (from a DataFrame): the schema as typed columns (the exact Spark
  schema in the ``spark.schema`` annotation), the row count, per-column
  statistics (``missing``, ``approx_distinct``, ``min``/``max``/``mean``/``std``)
  and histograms (equal-width for numbers, value counts for categories),
  and meta-features (``meta.*``, see :mod:`mltrack_core.metafeatures`; the
  landmarkers of a classification target from its first 1,000 rows, one more job),
  computed by Spark in two aggregations whatever the data's size (for the
  training data of a recorded fit: from its first 20,000 rows when there are
  more, described in a second thread while Spark fits); a content
  fingerprint (the sum of ``xxhash64`` over all rows, computed by the executors,
  independent of row order and partitioning); the location: the table's, or
  the files ``inputFiles()`` lists.
* Models: ``learning_algorithm`` (the estimator class of the last learner, as
  written: ``RandomForestClassifier``, not the fitted ``RandomForestClassificationModel``;
  a tuning's best model),
  every parameter of every stage as Spark's params API gives it (value,
  default, ``non_default`` = the user set it, type, documentation string), named
  by path: ``stages[3].LogisticRegressionModel.regParam``,
  ``stages[4].CrossValidatorModel.bestModel.maxIter``, ``classifier.maxIter``.
* The column DAG: one ``Transform`` per stage with the columns it reads and
  adds (typed), the columns it removes (``spark.removed``), ``column_lineage``
  and the stages it consumes from (``input_transforms``). Outputs come from
  *schema replay*: the training schema is passed through each stage's
  ``transformSchema`` in Spark's JVM, which runs no Spark job. Inputs come from
  the column parameters; for ``SQLTransformer`` and ``RFormula``, from the
  columns their statement or formula names (the rule is in ``spark.lineage``).
* Tunings (``CrossValidator``, ``TrainValidationSplit``, also as a pipeline
  stage): the grid, the evaluator, every candidate's parameters and metric
  (``avgMetrics`` with ``stdMetrics``, or ``validationMetrics``) in the
  ``spark.tuning`` annotation, and an ``Evaluation`` of the model with the
  chosen candidate's metric under the procedure ("3-fold cross-validation").
* The environment: Spark's version, master and application id, Java's version.

Only the driver talks to the tracker, so any master (``local[*]``, standalone,
YARN, Kubernetes) works without change. ``replay_schema`` and
``describe_dataframe`` are the building blocks, for use on their own;
``supported_versions()`` is the PySpark range this package supports.
"""

from __future__ import annotations

from typing import Any

# autolog is imported at once (it imports no PySpark): so ``mltrack_spark.autolog`` is the function,
# not the module of the same name, whatever imported the module first.
from mltrack_spark.autolog import autolog
from mltrack_spark.framework import supported_versions

__version__ = "0.2.0"

__all__ = [
    "TrackedPipeline",
    "__version__",
    "autolog",
    "describe_dataframe",
    "load_model",
    "replay_schema",
    "supported_versions",
    "track_evaluation",
    "tracked_model_id",
]

_LAZY = {
    "TrackedPipeline": "mltrack_spark.tracked",
    "tracked_model_id": "mltrack_spark.tracked",
    "describe_dataframe": "mltrack_spark.data",
    "load_model": "mltrack_spark.serialize",
    "replay_schema": "mltrack_spark.replay",
    "track_evaluation": "mltrack_spark.evaluation",
}


def __getattr__(name: str) -> Any:
    """Import what needs PySpark only when it is used: loading the plugin must stay cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mltrack_spark' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
