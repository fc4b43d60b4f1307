"""Tunings (CrossValidator, TrainValidationSplit): what each compared and chose, and the chosen candidate's evaluation.

A fitted tuning inside a tracked model (the model itself, a pipeline stage, a
stage of a pipeline inside it) is summarised in the model's ``spark.tuning``
annotation: its path, its procedure ("3-fold cross-validation"), the
evaluator's metric and direction, every candidate's parameters and metric
(``avgMetrics`` with ``stdMetrics``, or ``validationMetrics``) and the index of
the candidate Spark chose. The chosen candidate's metric is also recorded as an
:class:`~mltrack_core.plugin.Evaluation` of the model, under the tuning's
procedure, on the training data.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Evaluation, Score
from mltrack_spark.parameters import parameter_grid
from mltrack_spark.stages import child_params, is_tuning_model, join

if TYPE_CHECKING:
    from mltrack_core.plugin import Dataset, Model

__all__ = ["tuning_annotations", "tuning_evaluations", "tuning_summaries"]

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
    return {TUNING_ANNOTATION: json.dumps(summaries, sort_keys=True)} if summaries else {}


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
            "spark.tuning.candidate": json.dumps(best["params"], sort_keys=True),
        },
    )
