"""The tree of a Spark ML object: containers, the stages they hold, and their paths.

A *path* names a stage inside the object that is tracked, the same way in
parameter names, transform names and tuning annotations:
``stages[2].LogisticRegressionModel`` is the third stage of a pipeline,
``stages[4].CrossValidatorModel.bestModel.stages[1].LogisticRegressionModel``
a stage of the best model a cross-validation found. A list item carries its
class name (so paths stay readable and stable across runs, unlike Spark's
random uids); a single nested object is named by the parameter or attribute
that holds it (``classifier``, ``estimator``, ``evaluator``, ``bestModel``).

Containers are pipelines (their stages run in order) and tuning stages
(``CrossValidator``, ``TrainValidationSplit`` and their models, which
transform like their estimator or best model). Every other stage is a *leaf*:
one vertex of the column DAG.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Leaf",
    "child_params",
    "estimator_name",
    "is_tuning_model",
    "join",
    "learning_algorithm",
    "leaves",
    "model_name",
]


@dataclass(frozen=True)
class Leaf:
    """A stage that is one vertex of the column DAG, at ``path`` in the tracked object."""

    path: str
    stage: Any


def join(prefix: str, part: str) -> str:
    """``prefix.part``, or ``part`` at the top."""
    return f"{prefix}.{part}" if prefix else part


def item(name: str, index: int, stage: Any) -> str:
    """The path element of a list item: ``stages[2].LogisticRegression``."""
    return f"{name}[{index}].{type(stage).__name__}"


def _pipeline_types() -> tuple[type, type]:
    from pyspark.ml import Pipeline, PipelineModel

    return Pipeline, PipelineModel


def _tuning_types() -> tuple[type, ...]:
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    return CrossValidator, TrainValidationSplit


def _tuning_model_types() -> tuple[type, ...]:
    from pyspark.ml.tuning import CrossValidatorModel, TrainValidationSplitModel

    return CrossValidatorModel, TrainValidationSplitModel


def is_tuning_model(obj: Any) -> bool:
    """A fitted CrossValidatorModel or TrainValidationSplitModel."""
    return isinstance(obj, _tuning_model_types())


def pipeline_stages(obj: Any) -> list[Any] | None:
    """The stages of a Pipeline or PipelineModel, else None."""
    pipeline, pipeline_model = _pipeline_types()
    if isinstance(obj, pipeline):
        return list(obj.getStages()) if obj.isDefined(obj.stages) else []
    if isinstance(obj, pipeline_model):
        return list(obj.stages)
    return None


def _transforming_child(obj: Any) -> tuple[str, Any] | None:
    """What a tuning stage transforms with: the estimator of a tuning, the best model of a fitted one."""
    if isinstance(obj, _tuning_types()):
        return ("estimator", obj.getEstimator()) if obj.isDefined(obj.estimator) else None
    if is_tuning_model(obj):
        return "bestModel", obj.bestModel
    return None


def leaves(obj: Any, prefix: str = "") -> list[Leaf]:
    """The leaf stages of ``obj`` in the order they transform a DataFrame."""
    stages = pipeline_stages(obj)
    if stages is not None:
        found: list[Leaf] = []
        for index, stage in enumerate(stages):
            found += leaves(stage, join(prefix, item("stages", index, stage)))
        return found
    child = _transforming_child(obj)
    if child is not None:
        return leaves(child[1], join(prefix, child[0]))
    return [Leaf(prefix or type(obj).__name__, obj)]


def child_params(obj: Any) -> list[tuple[str, Any]]:
    """The Params objects nested in ``obj`` with their relative paths (for parameter names).

    Parameters holding Params objects (stages, classifier, estimator, evaluator)
    give children; a PipelineModel's stages and a tuning model's best model are
    attributes. A fitted tuning's ``estimator`` (the unfitted template) is left
    out: its best model holds the same parameters with the chosen values.
    """
    from pyspark.ml.param import Params

    _, pipeline_model = _pipeline_types()
    if isinstance(obj, pipeline_model):
        return [(item("stages", index, stage), stage) for index, stage in enumerate(obj.stages)]
    found: list[tuple[str, Any]] = []
    if is_tuning_model(obj):
        found.append(("bestModel", obj.bestModel))
    for param in obj.params:
        if not obj.isDefined(param) or (param.name == "estimator" and is_tuning_model(obj)):
            continue
        value = obj.getOrDefault(param)
        if isinstance(value, Params):
            found.append((param.name, value))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Params) for v in value):
            found += [(item(param.name, index, stage), stage) for index, stage in enumerate(value)]
    return found


def learning_algorithm(obj: Any) -> str:
    """What learns: a pipeline's last estimator or model (else its last stage), a tuning's best model, else the class.

    ``Model`` is left off class names: a ``LogisticRegressionModel`` was learnt by ``LogisticRegression``.
    """
    from pyspark.ml import Estimator, Model

    stages = pipeline_stages(obj)
    if stages is not None:
        learners = [stage for stage in stages if isinstance(stage, (Estimator, Model))] or stages
        return learning_algorithm(learners[-1]) if learners else type(obj).__name__
    child = _transforming_child(obj)
    if child is not None:
        return learning_algorithm(child[1])
    name = estimator_name(type(obj))
    classifier = getattr(obj, "getClassifier", None)
    if classifier is not None and obj.isDefined(obj.classifier):
        return f"{name}({learning_algorithm(classifier())})"
    return name


def estimator_name(cls: type) -> str:
    """The name of the estimator class that fits ``cls``: ``cls``'s own name unless it is a fitted model class.

    Spark names most models after their estimator (``LogisticRegressionModel``
    from ``LogisticRegression``), but not all: ``RandomForestClassificationModel``
    comes from ``RandomForestClassifier``, ``GBTRegressionModel`` from
    ``GBTRegressor``. The estimator is looked up in the model's module.
    """
    from pyspark.ml import Estimator, Model

    name = cls.__name__
    if not issubclass(cls, Model) or not name.endswith("Model") or name == "Model":
        return name
    base = name.removesuffix("Model")
    guesses = [base]
    if base.endswith("Classification"):
        guesses.insert(0, base.removesuffix("Classification") + "Classifier")
    if base.endswith("Regression"):
        guesses.append(base.removesuffix("Regression") + "Regressor")
    module = sys.modules.get(cls.__module__)
    for guess in guesses:
        found = getattr(module, guess, None)
        if isinstance(found, type) and issubclass(found, Estimator):
            return guess
    return base


def model_name(obj: Any) -> str:
    """A readable default name: the chain of a pipeline's leaf stages (estimator names), or the class name."""
    names = [estimator_name(type(leaf.stage)) for leaf in leaves(obj)]
    chain = " -> ".join(names)
    if len(names) > 8:
        chain = " -> ".join([*names[:3], f"... ({len(names) - 6} more)", *names[-3:]])
    return chain or type(obj).__name__
