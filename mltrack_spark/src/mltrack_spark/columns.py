"""Spark SQL types as the schema's type hints, and columns as TypedColumns."""

from __future__ import annotations

from typing import Any

from mltrack_core.plugin import TypedColumn, TypeHint

__all__ = ["type_hint", "typed_columns", "unhashable"]

_ATOMIC = {
    "boolean": TypeHint.BOOLEAN,
    "byte": TypeHint.INT,
    "short": TypeHint.INT,
    "integer": TypeHint.INT,
    "long": TypeHint.LONG,
    "float": TypeHint.FLOAT,
    "double": TypeHint.DOUBLE,
    "decimal": TypeHint.DOUBLE,
    "string": TypeHint.STRING,
    "varchar": TypeHint.STRING,
    "char": TypeHint.STRING,
}
_ARRAYS = {
    TypeHint.STRING: TypeHint.STRING_ARRAY,
    TypeHint.INT: TypeHint.INT_ARRAY,
    TypeHint.LONG: TypeHint.INT_ARRAY,
    TypeHint.FLOAT: TypeHint.DOUBLE_ARRAY,
    TypeHint.DOUBLE: TypeHint.DOUBLE_ARRAY,
}
_VECTOR_UDTS = {"pyspark.ml.linalg.VectorUDT", "pyspark.mllib.linalg.VectorUDT"}


def type_hint(data_type: Any) -> TypeHint:
    """The schema's type hint for a Spark SQL data type (vectors of ``pyspark.ml.linalg`` are VECTOR)."""
    from pyspark.sql.types import ArrayType, StructType, UserDefinedType

    if isinstance(data_type, UserDefinedType):
        name = f"{type(data_type).__module__}.{type(data_type).__name__}"
        return TypeHint.VECTOR if name in _VECTOR_UDTS else TypeHint.UNKNOWN
    if isinstance(data_type, ArrayType):
        if isinstance(data_type.elementType, StructType):
            return TypeHint.STRUCT_ARRAY
        return _ARRAYS.get(type_hint(data_type.elementType), TypeHint.UNKNOWN)
    return _ATOMIC.get(data_type.typeName(), TypeHint.UNKNOWN)


def typed_columns(fields: Any) -> list[TypedColumn]:
    """The fields of a StructType (or a list of StructFields) as TypedColumns."""
    return [TypedColumn(name=field.name, typing=type_hint(field.dataType)) for field in fields]


def unhashable(data_type: Any) -> bool:
    """Whether a map (or variant) type occurs anywhere in ``data_type``: Spark's hash functions refuse them."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    if isinstance(data_type, MapType) or data_type.typeName() == "variant":
        return True
    if isinstance(data_type, ArrayType):
        return unhashable(data_type.elementType)
    if isinstance(data_type, StructType):
        return any(unhashable(field.dataType) for field in data_type.fields)
    return False
