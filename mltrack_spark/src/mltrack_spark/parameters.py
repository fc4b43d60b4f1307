"""Every parameter of every stage, as Spark's params API describes it.

For each ``Param`` of a stage: its value (``getOrDefault``, or None when it is
neither set nor has a default), its default, whether the user set it (Spark's
``isSet``: recorded as ``non_default``, so a value set explicitly to the
default also counts as the user's choice), its type (from the param's type
converter) and its documentation string.

Names are paths (see :mod:`mltrack_spark.stages`): ``maxIter`` for a single
stage, ``stages[2].LogisticRegression.maxIter`` inside a pipeline,
``classifier.maxIter`` for OneVsRest's classifier,
``stages[3].CrossValidatorModel.bestModel.regParam`` for the model a tuning
chose. Values that hold stages are recorded by class name (their own
parameters follow under their path); a tuning's parameter grid is a list of
mappings from parameter path to value.
"""

from __future__ import annotations

import re
from typing import Any

from mltrack_core.plugin import Parameter, TypeHint
from mltrack_spark.stages import child_params, join

__all__ = ["own_parameters", "parameter_grid", "parameters", "plain_value"]

_CONVERTER_TYPES = {
    "toInt": TypeHint.LONG,  # IntParam and LongParam alike: Python ints
    "toFloat": TypeHint.DOUBLE,
    "toString": TypeHint.STRING,
    "toBoolean": TypeHint.BOOLEAN,
    "toListFloat": TypeHint.DOUBLE_ARRAY,
    "toListListFloat": TypeHint.DOUBLE_ARRAY,  # arrays of arrays of doubles (Bucketizer.splitsArray)
    "toMatrix": TypeHint.DOUBLE_ARRAY,  # rows of doubles
    "toListInt": TypeHint.INT_ARRAY,
    "toListString": TypeHint.STRING_ARRAY,
    "toVector": TypeHint.VECTOR,
}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def parameters(obj: Any, prefix: str = "") -> list[Parameter]:
    """The parameters of ``obj`` and of every stage and evaluator nested in it."""
    found = own_parameters(obj, prefix, nested=False)
    for path, child in child_params(obj):
        found += parameters(child, join(prefix, path))
    return found


def own_parameters(stage: Any, prefix: str = "", *, nested: bool = True) -> list[Parameter]:
    """The parameters of ``stage`` (with those of the objects its parameters hold when ``nested``)."""
    found = [_parameter(stage, param, join(prefix, param.name)) for param in stage.params]
    if nested:
        for path, child in child_params(stage):
            found += parameters(child, join(prefix, path))
    return found


def _parameter(stage: Any, param: Any, name: str) -> Parameter:
    defined = stage.isDefined(param)
    value = stage.getOrDefault(param) if defined else None
    plain = parameter_grid(stage) if param.name == "estimatorParamMaps" and value else plain_value(value)
    has_default = stage.hasDefault(param)
    default = plain_value(stage._defaultParamMap[param]) if has_default else None  # Params has no public getDefault
    converter = getattr(param.typeConverter, "__name__", "")
    typing = _CONVERTER_TYPES.get(converter) or (None if plain is not None else TypeHint.UNKNOWN)  # None: inferred
    return Parameter(
        name=name,
        value=plain,
        typing=typing,
        default=default,
        non_default=stage.isSet(param),
        doc=param.doc or None,
    )


def plain_value(value: Any) -> Any:
    """A parameter value as JSON-compatible data (stages by class name, vectors and matrices as lists)."""
    from pyspark.ml.linalg import DenseVector, Matrix, SparseVector
    from pyspark.ml.param import Params

    if value is None or isinstance(value, (bool, int, str, float)):
        return value  # NaN and infinities stay floats: stored as "NaN"/"Infinity", read back as floats
    if isinstance(value, Params):
        return type(value).__name__
    if isinstance(value, DenseVector):
        return [float(item) for item in value]
    if isinstance(value, SparseVector):
        return {"size": int(value.size), "indices": value.indices.tolist(), "values": value.values.tolist()}
    if isinstance(value, Matrix):
        return value.toArray().tolist()
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalars
        return plain_value(value.item())
    if isinstance(value, (list, tuple)):
        return [plain_value(item) for item in value]
    if isinstance(value, dict):
        return {str(getattr(key, "name", key)): plain_value(item) for key, item in value.items()}
    return _ADDRESS.sub("", repr(value))


def _grid_paths(stage: Any) -> dict[str, str]:
    """For a tuning stage: the path of every Params object in its estimator, by uid (relative to the tuning)."""
    if not stage.hasParam("estimatorParamMaps") or not stage.isDefined(stage.getParam("estimator")):
        return {}
    paths: dict[str, str] = {}

    def visit(obj: Any, path: str) -> None:
        paths.setdefault(obj.uid, path)
        for child_path, child in child_params(obj):
            visit(child, join(path, child_path))

    visit(stage.getOrDefault("estimator"), "estimator")
    return paths


def parameter_grid(stage: Any) -> list[dict[str, Any]]:
    """The grid of a tuning stage (its ``estimatorParamMaps``) as mappings from parameter path to value."""
    paths = _grid_paths(stage)
    return [
        {
            join(paths.get(param.parent, str(param.parent)), param.name): plain_value(value)
            for param, value in grid.items()
        }
        for grid in stage.getOrDefault("estimatorParamMaps")
    ]
