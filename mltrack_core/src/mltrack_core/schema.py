"""The metadata schema: frozen dataclasses for every entity and value type.

Six entity kinds carry the metadata of an ML experiment: :class:`Dataset`,
:class:`Model`, :class:`Transform`, :class:`TrainingRun`, :class:`Prediction`
and :class:`Evaluation`. They are declarative (pointers to data and models,
never code) and immutable: instances are frozen, lists become tuples and
mappings become read-only :class:`FrozenDict` objects.

Every field of the schema published with the paper
(``ml-experiments-schema.json``) has a place here; the extensions are a
content ``fingerprint`` and ``derived_from`` links for datasets, an
``experiment`` that groups artifacts, ``column_lineage`` for transforms,
evaluation ``procedure`` and the environment of models and runs.

Each entity names the entities it depends on by id (``trained_on``,
``computed_by``, ...); those reference fields are listed in ``LINKS`` and are
what the tracker checks and lineage queries follow.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import hashlib
import json
import math
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from mltrack_core.errors import SchemaError

__all__ = [
    "ALL_INPUTS",
    "KINDS",
    "LINK_FIELDS",
    "ConfusionMatrix",
    "DataStatistic",
    "Dataset",
    "Entity",
    "Evaluation",
    "FrozenDict",
    "Histogram",
    "Model",
    "Parameter",
    "Prediction",
    "Score",
    "ScoreAtTime",
    "TrainingRun",
    "TrainingState",
    "Transform",
    "TypeHint",
    "TypedColumn",
    "build",
    "dumps",
    "entity_from_json",
    "float_from_json",
    "infer_type",
    "is_valid_id",
    "json_safe",
    "metric_name",
    "new_id",
    "now_ms",
    "replace",
    "with_context",
]

MAX_ID_LENGTH = 512
ID_PUNCTUATION = "_.:@+=~-"
"""The ASCII punctuation an id may contain: ids travel in URL paths and become file names."""
ID_RULE = (
    f"ids have 1 to {MAX_ID_LENGTH} characters: letters, digits, {' '.join(ID_PUNCTUATION)} and printable "
    "non-ASCII characters, not starting with '.' or '-' (no '/', '%', spaces or control characters)"
)
"""The id rule in words, for error messages."""
_SIMPLE_ID = re.compile(r"[A-Za-z0-9_:@+=~][A-Za-z0-9_.:@+=~-]*")
MAX_TIME = 253_402_300_799_999
"""The last millisecond of the year 9999: the latest time the schema accepts (and dates can show)."""
MAX_COUNT = 2**63 - 1
"""The largest count, epoch or step: what every store's 64-bit integer columns hold."""
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
"""How JSON written by mltrack spells non-finite floats (standard JSON has no NaN or Infinity)."""


class TypeHint(str, enum.Enum):
    """Type of a data item, as in the published schema."""

    UNKNOWN = "UNKNOWN"
    BOOLEAN = "BOOLEAN"
    LONG = "LONG"
    FLOAT = "FLOAT"
    STRING = "STRING"
    STRING_ARRAY = "STRING_ARRAY"
    INT = "INT"
    INT_ARRAY = "INT_ARRAY"
    DOUBLE = "DOUBLE"
    DOUBLE_ARRAY = "DOUBLE_ARRAY"
    VECTOR = "VECTOR"
    STRUCT_ARRAY = "STRUCT_ARRAY"


class TrainingState(str, enum.Enum):
    """Life cycle of a training run: TRAINING, then FINISHED or FAILED once."""

    TRAINING = "TRAINING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


class FrozenDict(dict):
    """A read-only dict: the mapping type of every schema field.

    It is a real ``dict`` (so ``json.dumps`` and ``==`` work as expected), but
    every mutating method raises ``TypeError``.
    """

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("schema mappings are read-only; build a new entity with dataclasses.replace")

    __setitem__ = __delitem__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


def now_ms() -> int:
    """The current time in milliseconds since 1970-01-01 UTC (the schema's time unit)."""
    return time.time_ns() // 1_000_000


_ID_PREFIX = {
    "dataset": "ds",
    "model": "model",
    "transform": "tf",
    "run": "run",
    "prediction": "pred",
    "evaluation": "eval",
}


def new_id(kind: str) -> str:
    """A fresh id for an entity of ``kind``: a kind prefix, then time-ordered hex digits.

    The leading millisecond timestamp keeps ids of one store roughly sorted by
    creation time, which keeps B-tree inserts local in large stores.
    """
    return f"{_ID_PREFIX[kind]}-{now_ms():012x}{os.urandom(8).hex()}"


# ---------------------------------------------------------------- converters
# Each schema field carries a converter in its metadata. A converter takes the
# value given by the user (or read from JSON) and the field's name, and returns
# the frozen, validated value or raises SchemaError naming the field.

Converter = Callable[[Any, str], Any]


def _fail(where: str, expected: str, value: Any) -> SchemaError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return SchemaError(f"{where}: expected {expected}, got {type(value).__name__} {shown}")


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, "a non-empty string", value)
    return _encodable(value, where)


def _encodable(value: str, where: str) -> str:
    """Refuse text no store can write: lone surrogates, which UTF-8 cannot encode."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _fail(where, "text that can be encoded as UTF-8 (no lone surrogates)", value) from None
    return value


def metric_name(value: Any, where: str) -> str:
    """A metric name: any non-empty text that UTF-8 can encode (names come from users' code as they are)."""
    return _text(value, where)


def _optional_text(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where)


def is_valid_id(text: Any) -> bool:
    """Whether ``text`` may be an id: 1 to 512 characters that are safe in a URL path segment and a file name.

    Allowed: ASCII letters and digits, ``_ . : @ + = ~ -``, and printable
    non-ASCII characters (no spaces, controls or formatting characters); the
    first character is neither ``.`` nor ``-``. So no slash or backslash,
    no ``%``, ``?``, ``#``, whitespace or NUL, and never ``.`` or ``..``.
    """
    if not isinstance(text, str) or not 0 < len(text) <= MAX_ID_LENGTH:
        return False
    if _SIMPLE_ID.fullmatch(text):
        return True
    if text[0] in ".-" or text.isascii():
        return False
    return all(
        (character.isascii() and (character.isalnum() or character in ID_PUNCTUATION))
        or (not character.isascii() and unicodedata.category(character)[0] not in "CZ")
        for character in text
    )


def _identifier(value: Any, where: str) -> str:
    if isinstance(value, Entity):
        return value.id
    text = _text(value, where)
    if not is_valid_id(text):
        raise SchemaError(f"{where}: {text[:80]!r} is not a valid id: {ID_RULE}")
    return text


def _optional_identifier(value: Any, where: str) -> str | None:
    return None if value is None else _identifier(value, where)


def _identifiers(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, Entity)):
        value = (value,)
    if not isinstance(value, Iterable):
        raise _fail(where, "a list of ids", value)
    ids = tuple(_identifier(item, f"{where}[{index}]") for index, item in enumerate(value))
    return tuple(dict.fromkeys(ids))


def _time(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIME:
        raise _fail(where, "milliseconds since 1970-01-01 as an int from 0 to the end of year 9999", value)
    return value


def _optional_time(value: Any, where: str) -> int | None:
    return None if value is None else _time(value, where)


def _optional_count(value: Any, where: str) -> int | None:
    return None if value is None else _count(value, where)


def _count(value: Any, where: str) -> int:
    if hasattr(value, "item") and not isinstance(value, int):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise _fail(where, "a non-negative 64-bit int", value)
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, "True or False", value)
    return value


def _optional_flag(value: Any, where: str) -> bool | None:
    return None if value is None else _flag(value, where)


def _tags(value: Any, where: str) -> FrozenDict:
    """Tags: like annotations, but values must not be empty (they are labels to filter by)."""
    tags = _text_map(value, where)
    empty = sorted(key for key, item in tags.items() if not item)
    if empty:
        raise SchemaError(f"{where}: tag(s) {', '.join(empty)} need a non-empty value")
    return tags


def _text_map(value: Any, where: str) -> FrozenDict:
    """Annotations and tags: str keys; str values (numbers and booleans are turned into text)."""
    if value is None:
        return FrozenDict()
    if not isinstance(value, Mapping):
        raise _fail(where, "a mapping of str to str", value)
    items = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise _fail(f"{where} key", "a non-empty string", key)
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, (int, float)):
            item = repr(item)
        elif not isinstance(item, str):
            raise _fail(f"{where}[{key!r}]", "a string (or number)", item)
        items[_encodable(key, f"{where} key")] = _encodable(item, f"{where}[{key!r}]")
    return FrozenDict(items)


MAX_NESTING = 100
"""How deeply lists and mappings may nest inside one value."""


def _json_value(value: Any, where: str, depth: int = 0) -> Any:
    """A JSON-compatible value, frozen: lists become tuples, dicts FrozenDicts."""
    if depth > MAX_NESTING:
        field_name = where.partition("[")[0]
        raise SchemaError(f"{field_name}: lists and mappings nest more than {MAX_NESTING} levels deep")
    if isinstance(value, str):
        return _encodable(value, where)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(_json_value(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value))
    if isinstance(value, Mapping):
        frozen = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(f"{where} key", "a string", key)
            frozen[_encodable(key, f"{where} key")] = _json_value(item, f"{where}[{key!r}]", depth + 1)
        return FrozenDict(frozen)
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy
        return _json_value(value.tolist(), where, depth)
    raise _fail(where, "a JSON-compatible value (None, bool, number, str, list or dict); convert it to str", value)


def _items(value: Any, where: str) -> Iterable[Any]:
    """The items of a list-like value (None is empty); text and mappings are not lists."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise _fail(where, "a list", value)
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise _fail(where, "a number", value)
    try:
        return float(value)
    except OverflowError:
        raise _fail(where, "a number within the range of a 64-bit float", value) from None


def _enum(enum_type: type[enum.Enum]) -> Converter:
    def convert(value: Any, where: str) -> enum.Enum:
        if value.__class__ is enum_type:  # the common case, without the enum machinery's cost
            return value
        try:
            return enum_type(value)
        except ValueError:
            choices = ", ".join(member.value for member in enum_type)
            raise _fail(where, f"one of {choices}", value) from None

    return convert


def _optional_enum(enum_type: type[enum.Enum]) -> Converter:
    convert = _enum(enum_type)
    return lambda value, where: None if value is None else convert(value, where)


S = TypeVar("S", bound="_Struct")
E = TypeVar("E", bound="Entity")


def _struct(struct_type: type[S]) -> Converter:
    def convert(value: Any, where: str) -> S:
        if isinstance(value, struct_type):
            return value
        if isinstance(value, Mapping):
            return struct_type.from_json(value, where=where)
        raise _fail(where, f"a {struct_type.__name__} or a mapping of its fields", value)

    return convert


def _optional_struct(struct_type: type[S]) -> Converter:
    convert = _struct(struct_type)
    return lambda value, where: None if value is None else convert(value, where)


def _structs(struct_type: type[S]) -> Converter:
    convert = _struct(struct_type)

    def convert_all(value: Any, where: str) -> tuple[S, ...]:
        if value is None:
            return ()
        if isinstance(value, (str, Mapping, _Struct)) or not isinstance(value, Iterable):
            raise _fail(where, f"a list of {struct_type.__name__}", value)
        return tuple(convert(item, f"{where}[{index}]") for index, item in enumerate(value))

    return convert_all


ALL_INPUTS = "*"
"""In :attr:`Transform.column_lineage`: the output is computed from every input column of the transform.

A projection (PCA, a random projection, a kernel approximation) computes each
output from all of its inputs; listing them would take outputs x inputs names
(200 components of 1,000 columns: 200,000). The marker is the bare string
``"*"`` in place of the list, so it can never be mistaken for a column: an
input column that is really named ``*`` is written ``["*"]``. It may only be
used when the transform lists its ``input`` columns, which is what it stands for.
"""


def _column_lineage(value: Any, where: str) -> FrozenDict:
    if value is None:
        return FrozenDict()
    if not isinstance(value, Mapping):
        raise _fail(where, "a mapping of output column to input columns", value)
    lineage = {}
    for output, inputs in value.items():
        _text(output, f"{where} key")
        if isinstance(inputs, str) and inputs == ALL_INPUTS:
            lineage[output] = ALL_INPUTS
            continue
        if isinstance(inputs, str) or not isinstance(inputs, Iterable):
            expected = f"a list of input column names, or {ALL_INPUTS!r} for every input column"
            raise _fail(f"{where}[{output!r}]", expected, inputs)
        lineage[output] = tuple(_text(column, f"{where}[{output!r}]") for column in inputs)
    return FrozenDict(lineage)


def _field(converter: Converter, **kwargs: Any) -> Any:
    return field(metadata={"convert": converter}, **kwargs)


def infer_type(value: Any) -> TypeHint:
    """The schema type hint of a (frozen) JSON value."""
    if isinstance(value, bool):
        return TypeHint.BOOLEAN
    if isinstance(value, int):
        return TypeHint.LONG
    if isinstance(value, float):
        return TypeHint.DOUBLE
    if isinstance(value, str):
        return TypeHint.STRING
    if isinstance(value, tuple) and value:
        if all(isinstance(item, str) for item in value):
            return TypeHint.STRING_ARRAY
        if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            return TypeHint.INT_ARRAY
        if all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
            return TypeHint.DOUBLE_ARRAY
        if all(isinstance(item, Mapping) for item in value):
            return TypeHint.STRUCT_ARRAY
    return TypeHint.UNKNOWN


# ---------------------------------------------------------------- base class


@dataclass(frozen=True)
class _Struct:
    """Common behaviour: convert and validate fields, JSON round trip."""

    def __post_init__(self) -> None:
        prefix = self._where_prefix()
        values = self.__dict__  # frozen dataclasses without slots: set the converted values in place
        for name, convert in _converters(type(self)).items():
            values[name] = convert(values[name], prefix + name)

    def _where_prefix(self) -> str:
        """How error messages name this object's fields: the prefix of ``<prefix><field>``."""
        return f"{type(self).__name__}."

    def to_json(self) -> dict[str, Any]:
        """This object as a JSON-compatible dict; fields at their default are left out."""
        document: dict[str, Any] = {}
        for name, _, default in _specs(type(self)):
            value = getattr(self, name)
            if value == default:
                continue
            document[name] = _to_json(value)
        return document

    @classmethod
    def from_json(cls: type[S], document: Mapping[str, Any], *, where: str | None = None) -> S:
        """Build an object from :meth:`to_json` output, rejecting unknown fields."""
        if not isinstance(document, Mapping):
            raise _fail(where or cls.__name__, "a JSON object", document)
        names = {spec.name for spec in _fields(cls)}
        unknown = sorted(set(document) - names - {"kind"})
        if unknown:
            raise SchemaError(f"{where or cls.__name__}: unknown field(s) {', '.join(unknown)}")
        return build(cls, where=where, **{key: value for key, value in document.items() if key != "kind"})


def build(cls: type[S], *, where: str | None = None, **fields: Any) -> S:
    """``cls(**fields)``, with a missing or unknown field a :class:`SchemaError` that lists the fields of ``cls``."""
    try:
        return cls(**fields)
    except TypeError as exc:
        raise _fields_error(cls, fields, where, exc) from None


def replace(struct: S, **fields: Any) -> S:
    """``dataclasses.replace(struct, **fields)``, with an unknown field a :class:`SchemaError`.

    For a class whose only rules are those of each field (models, runs,
    datasets, ...), only the given fields are converted: the others were
    checked when ``struct`` was made, and are immutable.
    """
    cls = type(struct)
    if cls.__post_init__ in _FIELD_RULES_ONLY and set(fields) <= _init_names(cls):
        if isinstance(struct, Entity) and "id" in fields and fields["id"] is None:
            fields["id"] = new_id(struct.KIND)
        return _copy_with(struct, fields)
    try:
        return dataclasses.replace(struct, **fields)
    except TypeError as exc:
        raise _fields_error(type(struct), fields, None, exc) from None


def _init_names(cls: type) -> frozenset[str]:
    cached = _INIT_NAMES_CACHE.get(cls)
    if cached is None:
        cached = _INIT_NAMES_CACHE[cls] = frozenset(spec.name for spec in _fields(cls) if spec.init)
    return cached


_INIT_NAMES_CACHE: dict[type, frozenset[str]] = {}


CONTEXT_FIELDS = frozenset({"creator", "creator_team", "experiment", "environment"})
"""Fields the tracker fills in on write; no rule of the schema relates them to another field."""


def with_context(entity: E, **fields: Any) -> E:
    """``replace(entity, **fields)`` for :data:`CONTEXT_FIELDS`, converting only those fields.

    Unlike ``replace``, it takes this short way for every kind, those with rules
    across fields (transforms) included: no such rule involves a context field.
    The tracker completes every entity it writes, so this keeps that cheap.
    """
    unknown = sorted(set(fields) - CONTEXT_FIELDS)
    if unknown:
        raise SchemaError(f"with_context sets {', '.join(sorted(CONTEXT_FIELDS))}, not {', '.join(unknown)}")
    return _copy_with(entity, fields)


def _copy_with(struct: S, fields: dict[str, Any]) -> S:
    """A copy of ``struct`` with ``fields`` set and converted; its other fields were checked when it was made."""
    copied = copy.copy(struct)
    values = copied.__dict__
    values.update(fields)
    prefix = copied._where_prefix()
    converters = _converters(type(struct))
    for name in fields:
        convert = converters.get(name)
        if convert is not None:
            values[name] = convert(values[name], prefix + name)
    return copied


def _fields_error(cls: type, fields: Mapping[str, Any], where: str | None, error: TypeError) -> SchemaError:
    known = [spec.name for spec in _fields(cls) if spec.init]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        problem = f"unknown field(s) {', '.join(unknown)}"
    else:
        missing = [spec.name for spec in _fields(cls) if spec.init and _default_of(spec) is _NO_DEFAULT]
        missing = [name for name in missing if name not in fields and name not in ("id", "creation_time")]
        problem = f"missing required field(s) {', '.join(missing)}" if missing else str(error)
    return SchemaError(f"{where or cls.__name__}: {problem}; the fields of {cls.__name__} are {', '.join(known)}")


_FIELDS_CACHE: dict[type, tuple[dataclasses.Field, ...]] = {}
_SPECS_CACHE: dict[type, tuple[tuple[str, Converter | None, Any], ...]] = {}


def _fields(cls: type) -> tuple[dataclasses.Field, ...]:
    cached = _FIELDS_CACHE.get(cls)
    if cached is None:
        cached = _FIELDS_CACHE[cls] = tuple(dataclasses.fields(cls))
    return cached


def _specs(cls: type) -> tuple[tuple[str, Converter | None, Any], ...]:
    """(name, converter, default) of each field of ``cls``, computed once per class."""
    cached = _SPECS_CACHE.get(cls)
    if cached is None:
        cached = _SPECS_CACHE[cls] = tuple(
            (spec.name, spec.metadata.get("convert"), _default_of(spec)) for spec in _fields(cls)
        )
    return cached


_CONVERTERS_CACHE: dict[type, dict[str, Converter]] = {}


def _converters(cls: type) -> dict[str, Converter]:
    """The converter of each field of ``cls`` that has one, by field name, computed once per class."""
    cached = _CONVERTERS_CACHE.get(cls)
    if cached is None:
        cached = _CONVERTERS_CACHE[cls] = {name: convert for name, convert, _ in _specs(cls) if convert}
    return cached


_NO_DEFAULT = object()


def _default_of(spec: dataclasses.Field) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING and spec.name not in ("id", "creation_time"):
        return spec.default_factory()
    return _NO_DEFAULT


def _to_json(value: Any) -> Any:
    if isinstance(value, _Struct):
        return value.to_json()
    if isinstance(value, enum.Enum):
        return value._value_  # what ``.value`` returns, without the enum property's cost
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, FrozenDict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


# ---------------------------------------------------------------- value types


@dataclass(frozen=True, kw_only=True)
class TypedColumn(_Struct):
    """A named, typed column of a dataset, a transform's input or output, or a prediction."""

    name: str = _field(_text)
    typing: TypeHint = _field(_enum(TypeHint), default=TypeHint.UNKNOWN)

    def to_json(self) -> dict[str, Any]:
        # the generic method, unrolled: models and transforms of wide data hold thousands of columns
        if self.typing is TypeHint.UNKNOWN:
            return {"name": self.name}
        return {"name": self.name, "typing": self.typing._value_}


@dataclass(frozen=True, kw_only=True)
class Parameter(_Struct):
    """A hyperparameter or transform parameter with its type and default.

    ``value`` and ``default`` are JSON-compatible values (lists become tuples);
    objects that are not must be given as text. ``typing`` is inferred from the
    value when not given. ``non_default`` says the user changed the value from
    the framework's default; ``tracked_by_user`` that the user recorded it by
    hand rather than it being extracted. Values of any size are kept whole.
    """

    name: str = _field(_text)
    value: Any = _field(_json_value, default=None)
    typing: TypeHint | None = _field(_optional_enum(TypeHint), default=None)
    default: Any = _field(_json_value, default=None)
    non_default: bool = _field(_flag, default=False)
    tracked_by_user: bool = _field(_flag, default=False)
    doc: str | None = _field(_optional_text, default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.typing is None:
            object.__setattr__(self, "typing", infer_type(self.value))
        else:
            object.__setattr__(self, "value", _non_finite_restored(self.value, self.typing))
            object.__setattr__(self, "default", _non_finite_restored(self.default, self.typing))

    @classmethod
    def of(cls, name: str, value: Any, *, default: Any = _NO_DEFAULT, **fields: Any) -> Parameter:
        """A parameter whose ``non_default`` flag is computed by comparing ``value`` with ``default``.

        Values that are not JSON-compatible (estimators, functions, ...) are
        recorded by their ``repr`` with the UNKNOWN type.
        """
        value = _jsonable_or_repr(value)
        if default is _NO_DEFAULT:
            return cls(name=name, value=value, **fields)
        default = _jsonable_or_repr(default)
        return cls(name=name, value=value, default=default, non_default=value != default, **fields)


def _jsonable_or_repr(value: Any) -> Any:
    try:
        return _json_value(value, "value")
    except SchemaError:
        return repr(value)


@dataclass(frozen=True, kw_only=True)
class Score(_Struct):
    """The value of one metric. Arrays (per fold, per class) are allowed.

    ``greater_is_better`` overrides the metric's known direction for
    leaderboards (see :func:`mltrack_core.lineage.greater_is_better`).
    """

    metric: str = _field(metric_name)
    value: Any = _field(_json_value)
    typing: TypeHint | None = _field(_optional_enum(TypeHint), default=None)
    greater_is_better: bool | None = _field(_optional_flag, default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.typing is None:
            object.__setattr__(self, "typing", infer_type(self.value))
        else:
            object.__setattr__(self, "value", _non_finite_restored(self.value, self.typing))

    @property
    def is_scalar(self) -> bool:
        """True when the value is one finite number (what leaderboards rank)."""
        value = self.value
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class ScoreAtTime(_Struct):
    """One metric value logged during training, at a wall-clock time and optionally an epoch/step."""

    metric: str = _field(metric_name)
    value: float = _field(_number)
    timestamp: int = _field(_time)
    epoch: int | None = _field(_optional_count, default=None)
    step: int | None = _field(_optional_count, default=None)

    @classmethod
    def from_stored(cls, metric: str, value: float, timestamp: int, epoch: int | None, step: int | None) -> ScoreAtTime:
        """Build without validation, for values a store returns (a long run has millions)."""
        point = object.__new__(cls)
        for name, item in (
            ("metric", metric),
            ("value", value),
            ("timestamp", timestamp),
            ("epoch", epoch),
            ("step", step),
        ):
            object.__setattr__(point, name, item)
        return point


@dataclass(frozen=True, kw_only=True)
class ConfusionMatrix(_Struct):
    """A confusion matrix: ``matrix[i][j]`` counts items of true class ``labels[i]`` predicted as ``labels[j]``."""

    labels: tuple[str, ...] = _field(lambda value, where: tuple(_text(str(v), where) for v in _items(value, where)))
    matrix: tuple[tuple[int, ...], ...] = _field(
        lambda value, where: tuple(tuple(_count(v, where) for v in _items(row, where)) for row in _items(value, where))
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        size = len(self.labels)
        if size == 0 or len(self.matrix) != size or any(len(row) != size for row in self.matrix):
            raise SchemaError(
                f"ConfusionMatrix: a {size}x{size} matrix is needed for {size} labels, "
                f"got {len(self.matrix)} rows of lengths {[len(row) for row in self.matrix]}"
            )

    @property
    def number_of_classes(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, kw_only=True)
class Histogram(_Struct):
    """A histogram of one column: bucket values (usually counts) with optional bucket labels."""

    column: str = _field(_text)
    bucket_values: tuple[Any, ...] = _field(_json_value)
    bucket_labels: tuple[str, ...] = _field(
        lambda value, where: tuple(str(v) for v in _items(value, where)), default=()
    )
    typing: TypeHint | None = _field(_optional_enum(TypeHint), default=None)
    name: str | None = _field(_optional_text, default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.bucket_values, tuple):
            raise _fail("Histogram.bucket_values", "a list of values", self.bucket_values)
        if self.bucket_labels and len(self.bucket_labels) not in (len(self.bucket_values), len(self.bucket_values) + 1):
            raise SchemaError(
                f"Histogram of {self.column!r}: {len(self.bucket_labels)} labels for {len(self.bucket_values)} buckets"
            )
        if self.typing is None:
            element = infer_type(self.bucket_values[0]) if self.bucket_values else TypeHint.UNKNOWN
            object.__setattr__(self, "typing", element)
        else:
            object.__setattr__(self, "bucket_values", _non_finite_restored(self.bucket_values, self.typing))


@dataclass(frozen=True, kw_only=True)
class DataStatistic(_Struct):
    """A statistic of a dataset (``columns`` empty) or of some of its columns."""

    name: str = _field(_text)
    value: Any = _field(_json_value)
    columns: tuple[str, ...] = _field(
        lambda value, where: tuple(_text(v, where) for v in _items(value, where)), default=()
    )
    typing: TypeHint | None = _field(_optional_enum(TypeHint), default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.typing is None:
            object.__setattr__(self, "typing", infer_type(self.value))
        else:
            object.__setattr__(self, "value", _non_finite_restored(self.value, self.typing))


# ---------------------------------------------------------------- entities


@dataclass(frozen=True, kw_only=True)
class Entity(_Struct):
    """Fields every entity has. ``id`` is generated and ``creation_time`` set when not given."""

    KIND: ClassVar[str] = ""
    LINKS: ClassVar[Mapping[str, str]] = {}
    """Reference fields of this kind: field name -> kind of the entity it names."""

    id: str = _field(_identifier, default=None)  # type: ignore[assignment]
    name: str | None = _field(_optional_text, default=None)
    creation_time: int = _field(_time, default_factory=now_ms)
    creator: str | None = _field(_optional_text, default=None)
    creator_team: str | None = _field(_optional_text, default=None)
    comments: str | None = _field(_optional_text, default=None)
    experiment: str | None = _field(_optional_text, default=None)
    annotations: Mapping[str, str] = _field(_text_map, default_factory=FrozenDict)
    tags: Mapping[str, str] = _field(_tags, default_factory=FrozenDict)

    def __post_init__(self) -> None:
        if self.id is None:
            object.__setattr__(self, "id", new_id(self.KIND))
        super().__post_init__()

    def _where_prefix(self) -> str:
        return f"{type(self).__name__} {self.id!r}: "

    def to_json(self) -> dict[str, Any]:
        document = super().to_json()
        document["kind"] = self.KIND
        return document

    def references(self) -> list[tuple[str, str, str]]:
        """The ids this entity names, as (field, id, kind of the named entity) triples."""
        refs = []
        for name, kind in self.LINKS.items():
            value = getattr(self, name)
            for target in value if isinstance(value, tuple) else (value,):
                if target is not None:
                    refs.append((name, target, kind))
        return refs

    def content_hash(self) -> str:
        """A digest of the content, creation time excluded: equal digests mean a re-create is a no-op."""
        return content_hash_of(self.to_json())


_FIELD_RULES_ONLY = frozenset({_Struct.__post_init__, Entity.__post_init__})
"""``__post_init__`` methods that only convert each field: classes with no rule across fields."""


def content_hash_of(document: Mapping[str, Any]) -> str:
    """:meth:`Entity.content_hash` from the entity's JSON document (creation time and run points left out)."""
    content = {key: value for key, value in document.items() if key not in ("creation_time", "scores_over_time")}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def canonical_json(document: Any) -> str:
    """JSON text with sorted keys and no spaces: the stored form of every document."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its :data:`NON_FINITE` spelling, for standard JSON."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """Standard JSON text of ``value`` (``json.dumps`` options apply); NaN and infinities become strings.

    Every JSON mltrack writes for others (CLI ``--json``, exports, server
    answers) is written this way, so strict parsers accept it. Float fields
    read back through the schema (scores, metric points, parameters typed
    ``DOUBLE``/``FLOAT``) turn ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
    back into floats.
    """
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:  # a NaN or an infinity somewhere: rare, so the common value is not walked twice
        return json.dumps(json_safe(value), allow_nan=False, **options)


def float_from_json(value: Any) -> Any:
    """A float read from standard JSON: ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` become floats, the rest stays."""
    return NON_FINITE.get(value, value) if isinstance(value, str) else value


_FLOAT_TYPES = (TypeHint.DOUBLE, TypeHint.FLOAT)
_FLOAT_ARRAY_TYPES = (TypeHint.DOUBLE_ARRAY, TypeHint.VECTOR)


def _non_finite_restored(value: Any, typing: TypeHint | None) -> Any:
    """A float-typed value read from standard JSON, with the spelled-out NaN and infinities as floats again."""
    if typing not in _FLOAT_TYPES and typing not in _FLOAT_ARRAY_TYPES:
        return value
    if isinstance(value, tuple) and any(isinstance(item, (str, tuple)) for item in value):
        # arrays of arrays (Spark's Bucketizer.splitsArray, matrices) nest their floats one level down
        return tuple(
            _non_finite_restored(item, typing) if isinstance(item, tuple) else float_from_json(item) for item in value
        )
    return float_from_json(value)


@dataclass(frozen=True, kw_only=True)
class Dataset(Entity):
    """Metadata of a dataset: where it lives, its schema, statistics and where it came from.

    ``fingerprint`` is a digest of the content (so "the same data" is decidable
    when names differ); ``derived_from`` names the datasets this one was made
    from (a split, a fold, a feature set), with ``derivation`` saying how.
    """

    KIND: ClassVar[str] = "dataset"
    LINKS: ClassVar[Mapping[str, str]] = {"derived_from": "dataset"}

    name: str = _field(_text)
    location: str | None = _field(_optional_text, default=None)
    version: str | None = _field(_optional_text, default=None)
    fingerprint: str | None = _field(_optional_text, default=None)
    schema: tuple[TypedColumn, ...] = _field(_structs(TypedColumn), default=())
    target: str | None = _field(_optional_text, default=None)
    row_count: int | None = _field(_optional_count, default=None)
    statistics: tuple[DataStatistic, ...] = _field(_structs(DataStatistic), default=())
    histograms: tuple[Histogram, ...] = _field(_structs(Histogram), default=())
    derived_from: tuple[str, ...] = _field(_identifiers, default=())
    derivation: str | None = _field(_optional_text, default=None)


@dataclass(frozen=True, kw_only=True)
class Transform(Entity):
    """A feature transformation (or network layer): a vertex of a model's transformation DAG.

    ``input_transforms`` are the transforms whose output this one consumes;
    ``column_lineage`` maps each output column to the input columns it is
    computed from, when the framework can tell: a list of input column names,
    or :data:`ALL_INPUTS` (``"*"``) for an output computed from every one of
    the transform's ``input`` columns. Read it through :meth:`inputs_of` or
    :meth:`expanded_column_lineage`, which expand the marker.
    """

    KIND: ClassVar[str] = "transform"
    LINKS: ClassVar[Mapping[str, str]] = {"input_transforms": "transform"}

    name: str = _field(_text)
    operator: str | None = _field(_optional_text, default=None)
    framework: str | None = _field(_optional_text, default=None)
    framework_version: str | None = _field(_optional_text, default=None)
    version: str | None = _field(_optional_text, default=None)
    state: str | None = _field(_optional_text, default=None)
    parameters: tuple[Parameter, ...] = _field(_structs(Parameter), default=())
    input: tuple[TypedColumn, ...] = _field(_structs(TypedColumn), default=())
    output: tuple[TypedColumn, ...] = _field(_structs(TypedColumn), default=())
    input_transforms: tuple[str, ...] = _field(_identifiers, default=())
    column_lineage: Mapping[str, tuple[str, ...] | Literal["*"]] = _field(_column_lineage, default_factory=FrozenDict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.input and ALL_INPUTS in self.column_lineage.values():
            output = next(key for key, value in self.column_lineage.items() if value == ALL_INPUTS)
            raise SchemaError(
                f"Transform {self.id!r}: column_lineage[{output!r}] is {ALL_INPUTS!r} (every input column) "
                "but the transform lists no input columns; list them in input= or name the columns"
            )

    def inputs_of(self, output: str) -> tuple[str, ...]:
        """The input columns that output column ``output`` is computed from (``()`` when not known).

        :data:`ALL_INPUTS` is expanded to the names of every ``input`` column.
        """
        inputs = self.column_lineage.get(output, ())
        return tuple(column.name for column in self.input) if inputs == ALL_INPUTS else inputs

    def expanded_column_lineage(self) -> dict[str, tuple[str, ...]]:
        """``column_lineage`` with every :data:`ALL_INPUTS` marker replaced by the input column names.

        The expanded form can be large (outputs x inputs names for a projection); the
        tuple of input names is one object shared by every expanded output.
        """
        everything = tuple(column.name for column in self.input)
        lineage = self.column_lineage
        return {output: everything if inputs == ALL_INPUTS else inputs for output, inputs in lineage.items()}


@dataclass(frozen=True, kw_only=True)
class Model(Entity):
    """Metadata of a trained model; ``trained_on`` (the training dataset's id) is required."""

    KIND: ClassVar[str] = "model"
    LINKS: ClassVar[Mapping[str, str]] = {"trained_on": "dataset", "transforms": "transform"}

    name: str = _field(_text)
    learning_algorithm: str = _field(_text)
    trained_on: str = _field(_identifier)
    framework: str | None = _field(_optional_text, default=None)
    framework_version: str | None = _field(_optional_text, default=None)
    version: str | None = _field(_optional_text, default=None)
    location: str | None = _field(_optional_text, default=None)
    hyperparameters: tuple[Parameter, ...] = _field(_structs(Parameter), default=())
    transforms: tuple[str, ...] = _field(_identifiers, default=())
    input: tuple[TypedColumn, ...] = _field(_structs(TypedColumn), default=())
    environment: Mapping[str, str] = _field(_text_map, default_factory=FrozenDict)


@dataclass(frozen=True, kw_only=True)
class TrainingRun(Entity):
    """A training run: the one mutable kind.

    Its ``scores_over_time`` only grow, its ``state`` moves from TRAINING to
    FINISHED or FAILED once, and at the end it gets its ``end_time`` and the
    ``for_model`` link (plus any field it was started without).
    """

    KIND: ClassVar[str] = "run"
    LINKS: ClassVar[Mapping[str, str]] = {
        "for_model": "model",
        "trained_on": "dataset",
        "transforms": "transform",
    }

    state: TrainingState = _field(_enum(TrainingState), default=TrainingState.TRAINING)
    start_time: int | None = _field(_optional_time, default=None)
    end_time: int | None = _field(_optional_time, default=None)
    for_model: str | None = _field(_optional_identifier, default=None)
    trained_on: str | None = _field(_optional_identifier, default=None)
    hyperparameters: tuple[Parameter, ...] = _field(_structs(Parameter), default=())
    transforms: tuple[str, ...] = _field(_identifiers, default=())
    environment: Mapping[str, str] = _field(_text_map, default_factory=FrozenDict)
    scores_over_time: tuple[ScoreAtTime, ...] = _field(_structs(ScoreAtTime), default=())


@dataclass(frozen=True, kw_only=True)
class Prediction(Entity):
    """Metadata of predictions a model computed on a dataset; the data itself lives at ``location``."""

    KIND: ClassVar[str] = "prediction"
    LINKS: ClassVar[Mapping[str, str]] = {"computed_by": "model", "on_dataset": "dataset"}

    computed_by: str = _field(_identifier)
    on_dataset: str = _field(_identifier)
    location: str | None = _field(_optional_text, default=None)
    schema: tuple[TypedColumn, ...] = _field(_structs(TypedColumn), default=())


@dataclass(frozen=True, kw_only=True)
class Evaluation(Entity):
    """Scores of a model on a dataset, optionally computed from a tracked prediction.

    ``procedure`` names how the scores were estimated ("holdout",
    "10-fold cross-validation", ...); evaluations with different procedures are
    not comparable.
    """

    KIND: ClassVar[str] = "evaluation"
    LINKS: ClassVar[Mapping[str, str]] = {
        "computed_by": "model",
        "on_dataset": "dataset",
        "for_prediction": "prediction",
    }

    computed_by: str = _field(_identifier)
    on_dataset: str = _field(_identifier)
    for_prediction: str | None = _field(_optional_identifier, default=None)
    scores: tuple[Score, ...] = _field(_structs(Score), default=())
    confusion_matrix: ConfusionMatrix | None = _field(_optional_struct(ConfusionMatrix), default=None)
    procedure: str | None = _field(_optional_text, default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        metrics = [score.metric for score in self.scores]
        repeated = sorted({metric for metric in metrics if metrics.count(metric) > 1})
        if repeated:
            raise SchemaError(f"Evaluation {self.id!r}: metric(s) {', '.join(repeated)} given more than once")

    def score(self, metric: str) -> Score | None:
        """The score of ``metric``, or None."""
        return next((score for score in self.scores if score.metric == metric), None)


KINDS: Mapping[str, type[Entity]] = FrozenDict(
    {cls.KIND: cls for cls in (Dataset, Model, Transform, TrainingRun, Prediction, Evaluation)}
)


LINK_FIELDS: frozenset[str] = frozenset(name for cls in KINDS.values() for name in cls.LINKS)
"""Every reference field of every kind (``trained_on``, ``computed_by``, ...): the lineage graph's relations."""


def entity_from_json(document: Mapping[str, Any]) -> Entity:
    """Build an entity of any kind from its JSON form (the ``kind`` key selects the class)."""
    if not isinstance(document, Mapping):
        raise _fail("entity", "a JSON object", document)
    kind = document.get("kind")
    cls = KINDS.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise SchemaError(f"unknown entity kind {kind!r}; expected one of {', '.join(KINDS)}")
    return cls.from_json(document)
