"""The column DAG: one Transform per leaf stage, with the columns it reads and writes.

Vertices of the lineage are DataFrame columns; each stage consumes columns to
produce columns. What a stage *produces* comes from schema replay (see
:mod:`mltrack_spark.replay`): the columns its ``transformSchema`` adds (or
retypes), with their types; columns it drops are noted in the
``spark.removed`` annotation (with their types). What a stage *reads* comes from its column
parameters (``inputCol(s)``, ``featuresCol``, ``labelCol``, ``weightCol``,
... every parameter named ``*Col``/``*Cols`` whose column exists before the
stage and is not one it adds). Two stages declare no input columns:

* ``SQLTransformer``: the inputs are the columns of its input that its
  statement names;
* ``RFormula``: the label's inputs are the columns named left of ``~``, the
  features' inputs those named right of it (``.`` stands for every other column).

The rule used is recorded in the transform's ``spark.lineage`` annotation.
``column_lineage`` maps each produced column to the columns it is computed
from: position by position for ``inputCols``/``outputCols`` stages, the
features column for models, otherwise every input. ``input_transforms`` link
each stage to the stages that produced the columns it reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mltrack_core.plugin import Transform, TypedColumn, TypeHint
from mltrack_spark.columns import type_hint
from mltrack_spark.links import fitted_on_annotation
from mltrack_spark.parameters import own_parameters
from mltrack_spark.replay import NOT_REPLAYED, ReplayedStage, observed_stage, replay_schema
from mltrack_spark.stages import leaves

__all__ = ["Dag", "build_dag", "declared_columns"]

FRAMEWORK = "pyspark"
_OUTPUT_PARAMS = (
    "outputCol",
    "outputCols",
    "predictionCol",
    "probabilityCol",
    "rawPredictionCol",
    "varianceCol",
    "leafCol",
    "quantilesCol",
)
_IDENTIFIER = re.compile(r"`([^`]+)`|([A-Za-z_][A-Za-z0-9_]*)")
_ALL_COLUMNS = re.compile(r"(^|[\s+:(])\.($|[\s+:)-])")
_SQL_REASON = (
    "SQLTransformer declares no input columns: its inputs are the columns of its input that the statement names, "
    "its outputs the columns schema replay adds"
)
_FORMULA_REASON = (
    "RFormula declares no input columns: the label is computed from the columns named left of ~, the features "
    "from those named right of it ('.' = every other column); outputs from schema replay"
)
_UNDECLARED_REASON = (
    "the stage declares no input column parameters: its outputs come from schema replay, its inputs are unknown"
)


@dataclass
class Dag:
    """The transforms of a model in order, what could not be found, and the input columns the model reads."""

    transforms: list[Transform] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    inputs: list[TypedColumn] = field(default_factory=list)


def build_dag(
    obj: Any, schema: Any, spark: Any = None, upstream: Sequence[Transform] = (), output_schema: Any = None
) -> Dag:
    """The column DAG of ``obj`` (a pipeline, model or stage) fed with a DataFrame of ``schema`` (a StructType).

    With ``schema`` None, the columns come from the stages' parameters only, without types.
    ``upstream``: transforms applied before, outside ``obj``, that produced columns
    of the DataFrame; the stages reading those columns list them in ``input_transforms``.
    ``output_schema``: for a single stage that has just transformed a DataFrame of
    ``schema``, the schema of its output, read instead of replaying the stage.
    """
    import pyspark

    dag = Dag()
    produced_upstream = {column.name: transform.id for transform in upstream for column in transform.output}
    producers: dict[str, str] = {}
    read_from_input: dict[str, TypedColumn] = {}
    stages = leaves(obj)
    if output_schema is not None and schema is not None and len(stages) == 1:
        replayed = [observed_stage(stages[0], schema, output_schema)]
    else:
        replayed = replay_schema(obj, schema, spark)
    for stage in replayed:
        transform = _transform(stage, {**produced_upstream, **producers}, pyspark.__version__)
        for column in transform.input:
            if column.name not in producers:
                read_from_input.setdefault(column.name, column)
        for column in stage.removed:
            producers.pop(column.name, None)
        for column in transform.output:
            producers[column.name] = transform.id
        dag.transforms.append(transform)
    dag.failures += _replay_failures(replayed)
    order = {name: index for index, name in enumerate(schema.names if schema is not None else [])}
    dag.inputs = sorted(read_from_input.values(), key=lambda column: order.get(column.name, len(order)))
    return dag


def declared_columns(stage: Any) -> dict[str, list[str]]:
    """The stage's column parameters (``*Col``, ``*Cols``) that are defined and not empty, by parameter name."""
    found: dict[str, list[str]] = {}
    for param in stage.params:
        if not param.name.endswith(("Col", "Cols")) or not stage.isDefined(param):
            continue
        value = stage.getOrDefault(param)
        names = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
        names = [name for name in names if isinstance(name, str) and name]
        if names:
            found[param.name] = names
    return found


def _transform(stage: ReplayedStage, producers: dict[str, str], version: str) -> Transform:
    from pyspark.ml import Estimator, Model

    spark_stage = stage.stage
    declared = declared_columns(spark_stage)
    available = set(stage.input.names) if stage.input is not None else None
    if stage.output is not None:
        outputs = [(column.name, column.dataType) for column in stage.added]
    else:  # unknown schema: the declared output columns, without types
        outputs = [(name, None) for param in _OUTPUT_PARAMS for name in declared.get(param, [])]
    produced = {name for name, _ in outputs}
    inputs, lineage, reason = _inputs_and_lineage(spark_stage, declared, available, [name for name, _ in outputs])
    inputs = [name for name in inputs if name not in produced]
    input_types = {column.name: column.dataType for column in stage.input.fields} if stage.input is not None else {}
    annotations = {"spark.uid": spark_stage.uid, "spark.replay": stage.failure or stage.method}
    if reason:
        annotations["spark.lineage"] = reason
    if stage.removed:
        annotations["spark.removed"] = ", ".join(
            f"{column.name}: {column.dataType.simpleString()}" for column in stage.removed
        )
    typed_outputs = [(name, data_type) for name, data_type in outputs if data_type is not None]
    if typed_outputs:
        annotations["spark.output_types"] = ", ".join(
            f"{name}: {data_type.simpleString()}" for name, data_type in typed_outputs
        )
    annotations.update(fitted_on_annotation(spark_stage))  # fitted on its own before, by a fit autolog recorded
    state = "fitted" if isinstance(spark_stage, Model) else "not fitted" if isinstance(spark_stage, Estimator) else None
    return Transform(
        name=stage.path,
        operator=type(spark_stage).__name__,
        framework=FRAMEWORK,
        framework_version=version,
        state=state,
        parameters=own_parameters(spark_stage),
        input=[_typed(name, input_types.get(name)) for name in inputs],
        output=[_typed(name, data_type) for name, data_type in outputs],
        input_transforms=[producers[name] for name in inputs if name in producers],
        column_lineage={output: sources for output, sources in lineage.items() if output in produced and sources},
        annotations=annotations,
    )


def _inputs_and_lineage(
    stage: Any, declared: dict[str, list[str]], available: set[str] | None, outputs: list[str]
) -> tuple[list[str], dict[str, list[str]], str | None]:
    """The columns ``stage`` reads, what each output is computed from, and the rule used when params do not say."""
    operator = type(stage).__name__
    if operator == "SQLTransformer" and stage.isDefined(stage.getParam("statement")):
        named = _named_columns(stage.getOrDefault("statement"), available)
        return named, dict.fromkeys(outputs, named), _SQL_REASON
    if operator in ("RFormula", "RFormulaModel") and stage.isDefined(stage.getParam("formula")):
        return _formula_lineage(stage, available)
    inputs = [
        name
        for param, names in declared.items()
        if param not in _OUTPUT_PARAMS
        for name in names
        if (available is None or name in available) and name not in outputs
    ]
    inputs = list(dict.fromkeys(inputs))
    if not inputs:
        return [], {}, _UNDECLARED_REASON if outputs else None
    pairs = list(zip(declared.get("inputCols", []), declared.get("outputCols", []), strict=False))
    pairs += list(zip(declared.get("inputCol", []), declared.get("outputCol", []), strict=False))
    if pairs and len(declared.get("inputCols", [])) == len(declared.get("outputCols", [])):
        lineage = {output: [source] for source, output in pairs}
    elif declared.get("featuresCol") and declared["featuresCol"][0] in inputs:
        lineage = dict.fromkeys(outputs, declared["featuresCol"])
    else:
        lineage = dict.fromkeys(outputs, inputs)
    return inputs, lineage, None


def _named_columns(text: str, available: set[str] | None) -> list[str]:
    """The columns of ``available`` that ``text`` names (case-insensitively, as Spark resolves them)."""
    if not available:
        return []
    tokens = {(quoted or bare).lower() for quoted, bare in _IDENTIFIER.findall(text)}
    return sorted(name for name in available if name.lower() in tokens)


def _formula_lineage(stage: Any, available: set[str] | None) -> tuple[list[str], dict[str, list[str]], str]:
    formula = stage.getOrDefault("formula")
    left, _, right = formula.partition("~")
    label_sources = _named_columns(left, available)
    feature_sources = _named_columns(right, available)
    if _ALL_COLUMNS.search(right) and available:
        feature_sources = sorted(available - set(label_sources))
    lineage = {}
    if stage.isDefined(stage.getParam("featuresCol")):
        lineage[stage.getOrDefault("featuresCol")] = feature_sources
    if stage.isDefined(stage.getParam("labelCol")) and label_sources:
        lineage[stage.getOrDefault("labelCol")] = label_sources
    inputs = list(dict.fromkeys(label_sources + feature_sources))
    return inputs, lineage, _FORMULA_REASON


def _typed(name: str, data_type: Any) -> TypedColumn:
    return TypedColumn(name=name, typing=type_hint(data_type) if data_type is not None else TypeHint.UNKNOWN)


def _replay_failures(replayed: list[ReplayedStage]) -> list[str]:
    failures = []
    skipped = sum(1 for stage in replayed if stage.method == NOT_REPLAYED)
    for stage in replayed:
        if stage.failure:
            after = (
                f"; the {skipped} stage(s) after it have columns from their parameters, without types"
                if skipped
                else ""
            )
            failures.append(f"schema replay of {stage.path} ({type(stage.stage).__name__}): {stage.failure}{after}")
    return failures
