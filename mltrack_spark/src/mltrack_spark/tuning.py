"""Tunings (CrossValidator, TrainValidationSplit): what each compared and chose, and the chosen candidate's evaluation.

A fitted tuning inside a tracked model (the model itself, a pipeline stage, a
stage of a pipeline inside it) is summarised in the model's ``spark.tuning``
annotation: its path, its procedure ("3-fold cross-validation"), the
evaluator's metric and direction, every candidate's parameters and metric
(``avgMetrics`` with ``stdMetrics``, or ``validationMetrics``) and the index of
the candidate Spark chose. The chosen candidate's metric is also recorded as an
:class:`~mltrack_core.plugin.Evaluation` of the model, under the tuning's
procedure, on the training data.

:func:`record_tunings` (called when a fit is recorded, see
:mod:`mltrack_spark.fits`) records what a fitted tuning at the top of the
model, or a stage of its pipeline, compared:

* its folds (CrossValidator: for each of the ``numFolds`` folds a training and a
  validation part; TrainValidationSplit: the training and the validation part) as
  datasets ``derived_from`` the tuning's input dataset, with the row counts Spark
  fitted and evaluated on: Spark draws the parts with ``rand(seed)`` (or reads
  them from ``foldCol``), and one aggregation over the same DataFrame with the same
  ``rand(seed)`` column counts them again, exactly (the values ``rand`` gives
  depend only on the seed and the DataFrame's partitions). A tuning that is a
  pipeline stage draws from what the stages before it output, which is replayed
  with the fitted stages;
* every candidate: a model with the estimator's parameters and the candidate's
  parameter map, and an evaluation with its metric under the tuning's
  procedure, greater-is-better from the evaluator's ``isLargerBetter``:
  CrossValidator's average over the folds (``avgMetrics``, ``stdMetrics`` in the
  ``spark.tuning.std`` annotation) on the tuning's input dataset (the folds'
  validation parts together), TrainValidationSplit's ``validationMetrics`` on the
  validation part. Spark keeps no metric per fold, so none is recorded (the
  ``spark.tuning.per_fold`` annotation says so);
* the winner: the candidate annotated ``spark.tuning.best``, whose refit is the
  fitted model itself.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Dataset, Evaluation, Model, Score
from mltrack_core.schema import json_safe
from mltrack_spark.dag import FRAMEWORK
from mltrack_spark.parameters import parameter_grid, parameters
from mltrack_spark.stages import child_params, is_tuning_model, item, join, learning_algorithm

if TYPE_CHECKING:
    from mltrack_core.plugin import Tracker

__all__ = [
    "TuningRecord",
    "fold_row_counts",
    "record_tunings",
    "tuning_annotations",
    "tuning_evaluations",
    "tuning_summaries",
]

TUNING_ANNOTATION = "spark.tuning"


def tuning_summaries(obj: Any, prefix: str = "") -> list[dict[str, Any]]:
    """What each fitted tuning (CrossValidatorModel, TrainValidationSplitModel) in ``obj`` compared and chose.

    Each summary has the tuning's ``path``, its ``procedure`` ("3-fold
    cross-validation", "train-validation split (trainRatio 0.75)"), the
    evaluator's ``metric`` and ``larger_is_better``, the ``best_index`` and
    every ``candidates``' parameters, metric and (cross-validation) standard deviation.
    """
    from pyspark.ml.tuning import CrossValidatorModel, TrainValidationSplitModel

    found = []
    for path, stage in _tuning_models(obj, prefix):
        evaluator = stage.getEvaluator()
        larger = bool(evaluator.isLargerBetter())
        if isinstance(stage, CrossValidatorModel):
            metrics = [float(value) for value in stage.avgMetrics]
            spreads = [float(value) for value in (getattr(stage, "stdMetrics", None) or [])]
            folds = stage.getOrDefault("numFolds")
            fold_column = stage.getOrDefault("foldCol") if stage.isDefined(stage.getParam("foldCol")) else ""
            procedure = f"{folds}-fold cross-validation" + (
                f" (folds from column {fold_column})" if fold_column else ""
            )
        else:
            assert isinstance(stage, TrainValidationSplitModel)
            metrics = [float(value) for value in stage.validationMetrics]
            spreads = []
            procedure = f"train-validation split (trainRatio {stage.getOrDefault('trainRatio')})"
        grid = parameter_grid(stage)
        candidates = [
            {"params": params, "metric": metric, **({"std": spreads[index]} if index < len(spreads) else {})}
            for index, (params, metric) in enumerate(zip(grid, metrics, strict=False))
        ]
        best = _best_index(metrics, larger)
        found.append(
            {
                "path": path,
                "procedure": procedure,
                "metric": evaluator.getMetricName()
                if hasattr(evaluator, "getMetricName")
                else type(evaluator).__name__,
                "larger_is_better": larger,
                "best_index": best,
                "candidates": candidates,
            }
        )
    return found


def tuning_annotations(summaries: list[dict[str, Any]]) -> dict[str, str]:
    """The model's ``spark.tuning`` annotation holding ``summaries`` (none without tunings)."""
    return {TUNING_ANNOTATION: json.dumps(json_safe(summaries), sort_keys=True)} if summaries else {}


def tuning_evaluations(summaries: list[dict[str, Any]], model: Model, trained_on: Dataset) -> tuple[Evaluation, ...]:
    """For each tuning that chose a candidate: the chosen candidate's metric as an evaluation of ``model``."""
    return tuple(
        _tuning_evaluation(summary, model, trained_on) for summary in summaries if summary["best_index"] is not None
    )


def _tuning_models(obj: Any, prefix: str) -> list[tuple[str, Any]]:
    found = [(prefix or type(obj).__name__, obj)] if is_tuning_model(obj) else []
    for path, child in child_params(obj):
        if path != "evaluator":
            found += _tuning_models(child, join(prefix, path))
    return found


def _best_index(metrics: list[float], larger_is_better: bool) -> int | None:
    """The candidate Spark chooses: the first best finite metric."""
    finite = [(value, index) for index, value in enumerate(metrics) if math.isfinite(value)]
    if not finite:
        return None
    return min(finite, key=lambda pair: (-pair[0] if larger_is_better else pair[0], pair[1]))[1]


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
            "spark.tuning.candidate": json.dumps(json_safe(best["params"]), sort_keys=True),
        },
    )


# ---------------------------------------------------------------- folds and candidates

PER_FOLD_NOT_KEPT = (
    "not recorded: Spark keeps the average and standard deviation over the folds (avgMetrics, stdMetrics), "
    "not the metric of each fold"
)


@dataclass(frozen=True)
class TuningRecord:
    """What :func:`record_tunings` recorded for one fitted tuning."""

    path: str
    procedure: str
    parts: tuple[tuple[Dataset, Dataset], ...]
    """(training, validation) parts: one per fold, or the one train-validation split."""
    candidates: tuple[tuple[Model, Evaluation], ...]
    best_index: int | None


def record_tunings(tracker: Tracker, fitted: Any, df: Any, dataset: Dataset, model: Model) -> list[TuningRecord]:
    """Record the folds, candidates and winner of each tuning in ``fitted``, fitted on ``df`` (recorded as ``dataset``).

    Tunings at the top of ``fitted`` or stages of its pipeline are recorded; a
    tuning nested deeper (in another tuning's estimator) is summarised in the
    model's annotation only.
    """
    from pyspark.ml import PipelineModel

    found: list[tuple[str, Any, int | None]] = []
    if is_tuning_model(fitted):
        found.append((type(fitted).__name__, fitted, None))
    elif isinstance(fitted, PipelineModel):
        found += [
            (item("stages", index, stage), stage, index)
            for index, stage in enumerate(fitted.stages)
            if is_tuning_model(stage)
        ]
    records = []
    for path, tuning, stage_index in found:
        data = df
        if stage_index:  # what the pipeline's earlier stages gave the tuning
            data = PipelineModel(stages=list(fitted.stages[:stage_index])).transform(df)
        summary = tuning_summaries(tuning, path)[0]
        records.append(_record_tuning(tracker, tuning, data, dataset, model, summary, stage_index))
    return records


def fold_row_counts(tuning: Any, df: Any) -> list[tuple[int, int]]:
    """The (training, validation) row counts of each part a fitted tuning drew from ``df``, as Spark drew them.

    One Spark job: the same ``rand(seed)`` column Spark's ``_kFold`` (or
    TrainValidationSplit's ``_fit``) adds, counted with the same conditions; or
    the rows of each fold number when folds come from ``foldCol``.
    """
    from pyspark.ml.tuning import CrossValidatorModel
    from pyspark.sql import functions as F

    if isinstance(tuning, CrossValidatorModel):
        folds = tuning.getOrDefault("numFolds")
        fold_column = tuning.getOrDefault("foldCol") if tuning.isDefined(tuning.getParam("foldCol")) else ""
        if fold_column:
            conditions = [F.col(fold_column) == F.lit(k) for k in range(folds)]
            drawn = df
        else:
            width = 1.0 / folds
            drawn = df.select(F.rand(tuning.getOrDefault("seed")).alias("r"))
            conditions = [(F.col("r") >= k * width) & (F.col("r") < (k + 1) * width) for k in range(folds)]
    else:
        drawn = df.select(F.rand(tuning.getOrDefault("seed")).alias("r"))
        conditions = [F.col("r") >= tuning.getOrDefault("trainRatio")]
    row = drawn.agg(
        F.count(F.lit(1)).alias("rows"),
        *[F.sum(F.when(condition, 1).otherwise(0)).alias(f"v{k}") for k, condition in enumerate(conditions)],
    ).first()
    validation = [int(row[f"v{k}"] or 0) for k in range(len(conditions))]
    if isinstance(tuning, CrossValidatorModel) and fold_column:
        return [(sum(validation) - count, count) for count in validation]  # rows outside [0, numFolds) fail the fit
    return [(int(row["rows"]) - count, count) for count in validation]


def _record_tuning(
    tracker: Tracker,
    tuning: Any,
    data: Any,
    dataset: Dataset,
    model: Model,
    summary: dict[str, Any],
    stage_index: int | None,
) -> TuningRecord:
    from pyspark.ml.tuning import CrossValidatorModel

    cross_validation = isinstance(tuning, CrossValidatorModel)
    counts = fold_row_counts(tuning, data)
    where = "" if not stage_index else f" of the data reaching pipeline stage {stage_index}"
    parts = []
    for k, (training_rows, validation_rows) in enumerate(counts):
        label = f"fold {k + 1}/{len(counts)}" if cross_validation else "train-validation split"
        parts.append(
            tuple(
                _track_part(tracker, dataset, tuning, k, len(counts), part, rows, label, where)
                for part, rows in (("training", training_rows), ("validation", validation_rows))
            )
        )
    estimator = tuning.getEstimator()
    grid = tuning.getEstimatorParamMaps()
    name = f"{model.name} {summary['path']}" if stage_index is not None else model.name
    candidates = []
    for index, candidate in enumerate(summary["candidates"]):
        annotations = {
            "spark.tuning.path": summary["path"],
            "spark.tuning.candidate": str(index),
            "spark.tuning.params": json.dumps(json_safe(candidate["params"]), sort_keys=True),
        }
        if summary["best_index"] is not None:
            annotations["spark.tuning.best"] = "true" if index == summary["best_index"] else "false"
            if index == summary["best_index"]:
                annotations["spark.tuning.refit_model"] = model.id
        if cross_validation:
            annotations["spark.tuning.per_fold"] = PER_FOLD_NOT_KEPT
            annotations["spark.tuning.folds"] = json.dumps([validation.id for _, validation in parts])
            trained_on, evaluated_on = dataset, dataset
        else:
            trained_on, evaluated_on = parts[0]
        configured = estimator.copy(grid[index]) if index < len(grid) else estimator
        candidate_model = tracker.track_model(
            Model(
                name=f"{name} candidate {index}",
                learning_algorithm=learning_algorithm(configured),
                trained_on=trained_on.id,
                framework=FRAMEWORK,
                framework_version=_pyspark_version(),
                hyperparameters=parameters(configured),
                annotations=annotations,
            )
        )
        evaluation_annotations = {"spark.tuning.candidate": str(index)}
        if "std" in candidate:
            evaluation_annotations["spark.tuning.std"] = repr(candidate["std"])
        evaluation = tracker.track_evaluation(
            Evaluation(
                name=f"{summary['metric']} of candidate {index} ({summary['procedure']})",
                computed_by=candidate_model.id,
                on_dataset=evaluated_on.id,
                scores=[
                    Score(
                        metric=summary["metric"],
                        value=candidate["metric"],
                        greater_is_better=summary["larger_is_better"],
                    )
                ],
                procedure=summary["procedure"],
                annotations=evaluation_annotations,
            )
        )
        candidates.append((candidate_model, evaluation))
    return TuningRecord(summary["path"], summary["procedure"], tuple(parts), tuple(candidates), summary["best_index"])


def _track_part(
    tracker: Tracker,
    dataset: Dataset,
    tuning: Any,
    k: int,
    count: int,
    part: str,
    rows: int,
    label: str,
    where: str,
) -> Dataset:
    from pyspark.ml.tuning import CrossValidatorModel

    seed = tuning.getOrDefault("seed")
    if isinstance(tuning, CrossValidatorModel):
        fold_column = tuning.getOrDefault("foldCol") if tuning.isDefined(tuning.getParam("foldCol")) else ""
        if fold_column:
            rule = f"rows whose {fold_column} is {'not ' if part == 'training' else ''}{k}"
        else:
            low, high = k / count, (k + 1) / count
            rule = f"rows whose rand(seed={seed}) is {'outside' if part == 'training' else 'in'} [{low:g}, {high:g})"
        derivation = f"{part} part of fold {k + 1} of {count} (CrossValidator){where}: {rule}"
    else:
        ratio = tuning.getOrDefault("trainRatio")
        rule = f"rand(seed={seed}) {'<' if part == 'training' else '>='} {ratio:g}"
        derivation = f"{part} part of the train-validation split (TrainValidationSplit){where}: rows with {rule}"
    return tracker.track_dataset(
        name=f"{dataset.name} {label} {part}",
        derived_from=[dataset.id],
        derivation=derivation,
        schema=dataset.schema,
        target=dataset.target,
        row_count=rows,
        annotations={"spark.fold": str(k), "spark.fold_part": part, **_schema_annotation(dataset)},
    )


def _schema_annotation(dataset: Dataset) -> dict[str, str]:
    """The Spark schema of the parent, so that models trained on a part replay their stages too."""
    schema = dataset.annotations.get("spark.schema")
    return {"spark.schema": schema} if schema else {}


def _pyspark_version() -> str:
    import pyspark

    return pyspark.__version__
