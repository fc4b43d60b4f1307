"""Schema replay: the columns every stage adds and removes, without running a Spark job.

Starting from the input DataFrame's schema, each leaf stage's
``transformSchema`` is called in order through the stage's JVM object (after
its Python parameters are transferred), exactly as ``Pipeline.transformSchema``
does in Spark. The schema stays in the JVM from one stage to the next; only the
result of each stage is brought back, in slices, because py4j answers slowly
for strings longer than about 8,000 characters.

A pure-Python transformer has no JVM object: it is replayed by transforming an
empty DataFrame of the same schema and reading the result's schema, which runs
no job as long as the transformer itself only builds a query plan. A
pure-Python estimator cannot be replayed (its transformer exists only after
``fit``); the stages after it are not replayed either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mltrack_spark.framework import active_session
from mltrack_spark.stages import leaves

__all__ = ["JvmSchemas", "ReplayedStage", "observed_stage", "replay_schema"]

_CHUNK = 8000
"""Longest string fetched from the JVM in one py4j call (longer ones stall for ~40 ms)."""
NOT_REPLAYED = "not replayed"


@dataclass(frozen=True)
class ReplayedStage:
    """One leaf stage and the schema it receives and produces.

    ``output`` is None when it is unknown: the stage failed to replay
    (``failure`` says why) or an earlier stage did (``method`` is ``"not replayed"``).
    """

    path: str
    stage: Any
    input: Any
    output: Any
    method: str
    failure: str | None = None
    added: tuple[Any, ...] = field(default=(), repr=False)
    removed: tuple[Any, ...] = field(default=(), repr=False)


class JvmSchemas:
    """Moves schemas between Python and the JVM of a SparkSession."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self._jvm = spark._jvm
        self._session = spark._jsparkSession
        try:
            methods = getattr(self._jvm.org.json4s.jackson, "JsonMethods$").__getattr__("MODULE$")
            self._mapper = methods.mapper()
        except Exception:  # noqa: BLE001 - another JSON library in a future Spark: fall back to DataType.json()
            self._mapper = None

    def to_java(self, schema: Any) -> Any:
        """A Python StructType as a JVM StructType."""
        return self._session.parseDataType(schema.json())

    def to_python(self, java_schema: Any) -> Any:
        """A JVM StructType as a Python StructType."""
        from pyspark.sql.types import _parse_datatype_json_string

        return _parse_datatype_json_string(self._json(java_schema))

    def _json(self, java_schema: Any) -> str:
        if self._mapper is None:
            return java_schema.json()
        writer = self._jvm.java.io.StringWriter()
        self._mapper.writeValue(writer, java_schema.jsonValue())
        text = writer.getBuffer()
        length = text.length()
        if length <= _CHUNK:
            return text.toString()
        return "".join(text.substring(start, min(start + _CHUNK, length)) for start in range(0, length, _CHUNK))


def replay_schema(obj: Any, schema: Any, spark: Any = None) -> list[ReplayedStage]:
    """Replay ``schema`` through every leaf stage of ``obj`` (a pipeline, a stage, a fitted model).

    Args:
        obj: a Spark ML Pipeline, PipelineModel, tuning stage or single stage.
        schema: the input: a StructType or a DataFrame (only its schema is read); None when unknown
            (then no stage is replayed).
        spark: the SparkSession whose JVM runs the replay (default: the DataFrame's, else the active one).

    Returns:
        One :class:`ReplayedStage` per leaf stage, in order.
    """
    from pyspark.sql import DataFrame

    if isinstance(schema, DataFrame):
        spark = spark or schema.sparkSession
        schema = schema.schema
    if schema is None:
        return [ReplayedStage(leaf.path, leaf.stage, None, None, NOT_REPLAYED) for leaf in leaves(obj)]
    jvm = JvmSchemas(spark or active_session())
    replayed: list[ReplayedStage] = []
    current, java_current = schema, jvm.to_java(schema)
    for leaf in leaves(obj):
        if current is None:
            replayed.append(ReplayedStage(leaf.path, leaf.stage, None, None, NOT_REPLAYED))
            continue
        try:
            output, java_output, method = _replay_stage(jvm, leaf.stage, current, java_current)
        except Exception as exc:  # noqa: BLE001 - the stage does not accept this schema, or cannot be replayed: say which and why
            replayed.append(ReplayedStage(leaf.path, leaf.stage, current, None, "failed", _reason(exc)))
            current = java_current = None
            continue
        replayed.append(
            ReplayedStage(
                leaf.path,
                leaf.stage,
                current,
                output,
                method,
                added=_added(current, output),
                removed=_removed(current, output),
            )
        )
        current, java_current = output, java_output
    return replayed


def observed_stage(leaf: Any, schema: Any, output: Any) -> ReplayedStage:
    """A stage whose input and output schemas are known from a ``transform`` it has just made (nothing replayed)."""
    return ReplayedStage(
        leaf.path,
        leaf.stage,
        schema,
        output,
        "the output DataFrame's schema",
        added=_added(schema, output),
        removed=_removed(schema, output),
    )


def _replay_stage(jvm: JvmSchemas, stage: Any, schema: Any, java_schema: Any) -> tuple[Any, Any, str]:
    from pyspark.ml import Transformer

    to_java = getattr(stage, "_to_java", None)
    if to_java is not None:
        java_output = to_java().transformSchema(java_schema)
        return jvm.to_python(java_output), java_output, "transformSchema (JVM)"
    if isinstance(stage, Transformer):
        empty = jvm.spark.createDataFrame([], schema)
        output = stage.transform(empty).schema
        return output, jvm.to_java(output), "transform of an empty DataFrame (pure-Python stage)"
    raise TypeError(
        f"{type(stage).__name__} is a pure-Python estimator: the schema it produces is known only after fit"
    )


def _added(before: Any, after: Any) -> tuple[Any, ...]:
    """Fields that are new, or whose type changed."""
    types = {field.name: field.dataType for field in before.fields}
    return tuple(field for field in after.fields if types.get(field.name) != field.dataType)


def _removed(before: Any, after: Any) -> tuple[Any, ...]:
    names = set(after.names)
    return tuple(field for field in before.fields if field.name not in names)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]
