"""Dataset metadata from a Spark DataFrame, computed by Spark in two passes over the data.

* Schema: every column as a TypedColumn; the exact Spark schema (JSON) in the
  ``spark.schema`` annotation, which model tracking replays stages on.
* Pass 1, one aggregation: the row count, the content fingerprint, and for the
  first :data:`MAX_DESCRIBED_COLUMNS` columns the ``missing`` values (nulls,
  and NaN for floating-point columns), ``approx_distinct`` (HyperLogLog++,
  relative standard deviation 5%) of atomic columns, ``min``/``max``/``mean``/
  ``std`` of numeric columns (NaN left out) and ``min``/``max`` of dates and
  timestamps. A statistic holds one value per column, in the order of its ``columns``.
* Pass 2, one aggregation: equal-width histograms (:data:`HISTOGRAM_BUCKETS`
  buckets between the column's min and max) of numeric columns, and the value
  counts of string and boolean columns with at most :data:`MAX_CATEGORIES`
  distinct values, and the target's value counts when it may be a class label
  (a string or boolean, or a number with at most about :data:`~mltrack_core.metafeatures.MAX_CLASSES`
  distinct values).
* Meta-features (``meta.*``, see :mod:`mltrack_core.metafeatures`): counts, shares and missing values
  from pass 1, the class features from the target's value counts of pass 2, and, for a classification
  target only, the landmarkers from the first :data:`~mltrack_core.metafeatures.LANDMARK_ROWS` rows of the
  described data's atomic columns collected to the driver (one more job; skipped without numpy).

The fingerprint is order-independent and computed by the executors: the sum
(as ``decimal(38,0)``, which neither overflows nor trips ANSI mode) of
``xxhash64`` over every column of every row, digested with the row count and
the schema's names and types. Equal multisets of rows give equal fingerprints
whatever the partitioning. Map (and variant) columns are hashed through their
JSON text (Spark refuses to hash them). The location is where the data was read from: the
table's location, the one input file, or the folder that holds all input files
(``DataFrame.inputFiles()``; none of this runs a job).
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import importlib.util
import math
import posixpath
from typing import Any

from mltrack_core.metafeatures import (
    LANDMARK_ROWS,
    MAX_CLASSES,
    MAX_LANDMARK_FEATURES,
    class_statistics,
    sample_landmark_statistics,
    table_statistics,
)
from mltrack_core.plugin import Dataset, DataStatistic, Histogram, SchemaError, TypeHint
from mltrack_spark.columns import typed_columns, unhashable

__all__ = ["describe_dataframe"]

MAX_DESCRIBED_COLUMNS = 100
HISTOGRAM_BUCKETS = 10
MAX_CATEGORIES = 20
APPROX_DISTINCT_RSD = 0.05
FINGERPRINT_PREFIX = "spark-xxhash64-sum:"

_NUMERIC = {"byte", "short", "integer", "long", "float", "double", "decimal"}
_FLOATING = {"float", "double"}
_CATEGORICAL = {"string", "varchar", "char", "boolean"}
_TEMPORAL = {"date", "timestamp", "timestamp_ntz"}
_TARGET = -1
"""The histogram entry of the target's value counts (the class counts), which makes no histogram."""
_CLASS_DISTINCT_LIMIT = MAX_CLASSES * 5 // 4  # approx_distinct's error: a few more, the exact count decides


def describe_dataframe(
    df: Any,
    *,
    name: str | None = None,
    target: str | None = None,
    statistics: bool = True,
    fingerprint: bool = True,
    sample_rows: int | None = None,
) -> Dataset:
    """A :class:`~mltrack_core.plugin.Dataset` describing ``df`` (nothing is stored; pass it to ``track_dataset``).

    Args:
        df: the DataFrame.
        name: the dataset's name (default: the table's name, the file or folder read, else the shape).
        target: the name of the target (label) column.
        statistics: compute row count, statistics and histograms (two passes over the data).
        fingerprint: compute the content fingerprint (in the first pass).
        sample_rows: compute the statistics and histograms from the first this many rows (``limit``: Spark
            reads no further) unless Spark estimates that the DataFrame has no more; row count and fingerprint
            still cover every row, in a pass without statistics (which Spark cannot compile to fast code).

    Raises:
        SchemaError: ``target`` is not a column of ``df``.
    """
    schema = df.schema
    if target is not None and (not isinstance(target, str) or target not in schema.names):
        raise SchemaError(
            f"target={target!r} is not a column of the DataFrame; give the name of the label column "
            f"(columns: {', '.join(schema.names[:20])}{', ...' if len(schema.names) > 20 else ''})"
        )
    location, annotations = _location(df)
    annotations["spark.schema"] = schema.json()
    columns = _Columns(schema, target)
    rows: int | None = None
    found_statistics: list[DataStatistic] = []
    histograms: list[Histogram] = []
    digest = None
    if statistics or fingerprint:
        head = None
        if statistics and sample_rows is not None:
            estimate = _estimated_rows(df)
            if estimate is None or estimate > sample_rows:
                head = df.limit(sample_rows)
        # row count and fingerprint of every row; the statistics of every row too, unless they come from the head
        first = df.agg(*columns.first_pass(statistics and head is None, fingerprint)).collect()[0]
        rows = int(first["rows"])
        if fingerprint:
            digest = _fingerprint(schema, rows, first["fingerprint"])
        if head is not None:
            first = head.agg(*columns.first_pass(True, False)).collect()[0]
        if statistics:
            described = df if head is None else head
            found_statistics = columns.statistics(first)
            entries = columns.histogram_entries(first)
            histograms, counts = columns.histograms(described, entries)
            found_statistics += columns.meta_statistics(described, first, rows, counts)
            of_head = ""
            if head is not None:
                of_head = f" (statistics and histograms of the first {min(rows, sample_rows or 0)} rows: limit)"
            annotations["spark.statistics"] = (
                f"computed by Spark in {2 if entries else 1} aggregation(s) over the first "
                f"{len(columns.described)} of {len(schema.fields)} columns{of_head}; approx_distinct: HyperLogLog++ "
                f"(rsd {APPROX_DISTINCT_RSD})"
            )
    return Dataset(
        name=name or annotations.get("spark.table") or _default_name(location, rows, len(schema.fields)),
        location=location,
        fingerprint=digest,
        schema=typed_columns(schema.fields),
        target=target,
        row_count=rows,
        statistics=found_statistics,
        histograms=histograms,
        annotations=annotations,
    )


class _Columns:
    """The aggregations of both passes over the described columns, and how to read their results."""

    def __init__(self, schema: Any, target: str | None = None) -> None:
        self.schema = schema
        self.described = [(index, field) for index, field in enumerate(schema.fields[:MAX_DESCRIBED_COLUMNS])]
        self.target = None if target is None else (schema.names.index(target), schema[target])

    def first_pass(self, statistics: bool, fingerprint: bool) -> list[Any]:
        from pyspark.sql import functions as F

        expressions = [F.count(F.lit(1)).alias("rows")]
        if fingerprint:
            expressions.append(_hash_sum(self.schema).alias("fingerprint"))
        if not statistics:
            return expressions
        for index, field in self.described:
            kind = field.dataType.typeName()
            column = F.col(_quoted(field.name))
            missing = column.isNull() | F.isnan(column) if kind in _FLOATING else column.isNull()
            expressions.append(F.count(F.when(missing, 1)).alias(f"c{index}_missing"))
            if kind in _NUMERIC | _CATEGORICAL | _TEMPORAL:
                expressions.append(F.approx_count_distinct(column, APPROX_DISTINCT_RSD).alias(f"c{index}_distinct"))
            if kind in _NUMERIC | _TEMPORAL:
                valid = F.when(~F.isnan(column), column) if kind in _FLOATING else column
                expressions += [F.min(valid).alias(f"c{index}_min"), F.max(valid).alias(f"c{index}_max")]
            if kind in _NUMERIC:
                valid = F.when(~F.isnan(column), column) if kind in _FLOATING else column
                expressions += [F.mean(valid).alias(f"c{index}_mean"), F.stddev_samp(valid).alias(f"c{index}_std")]
        if self.target is not None and self.target[0] >= MAX_DESCRIBED_COLUMNS:  # the class counts need it
            column = F.col(_quoted(self.target[1].name))
            expressions.append(F.approx_count_distinct(column, APPROX_DISTINCT_RSD).alias("target_distinct"))
        return expressions

    def statistics(self, first: Any) -> list[DataStatistic]:
        found = []
        names = [field.name for _, field in self.described]
        if names:
            found.append(
                DataStatistic(
                    name="missing", value=[int(first[f"c{i}_missing"]) for i, _ in self.described], columns=names
                )
            )
        groups = {
            "approx_distinct": [
                (i, f) for i, f in self.described if f.dataType.typeName() in _NUMERIC | _CATEGORICAL | _TEMPORAL
            ],
            "numeric": [(i, f) for i, f in self.described if f.dataType.typeName() in _NUMERIC],
            "temporal": [(i, f) for i, f in self.described if f.dataType.typeName() in _TEMPORAL],
        }
        if groups["approx_distinct"]:
            found.append(
                DataStatistic(
                    name="approx_distinct",
                    value=[int(first[f"c{i}_distinct"]) for i, _ in groups["approx_distinct"]],
                    columns=[f.name for _, f in groups["approx_distinct"]],
                )
            )
        for group, statistic_names in (("numeric", ("min", "max", "mean", "std")), ("temporal", ("min", "max"))):
            if groups[group]:
                columns = [f.name for _, f in groups[group]]
                for statistic in statistic_names:
                    values = [_plain(first[f"c{i}_{statistic}"]) for i, _ in groups[group]]
                    found.append(DataStatistic(name=statistic, value=values, columns=columns))
        return found

    def histogram_entries(self, first: Any) -> list[tuple[int, Any, Any]]:
        """(column index, bucket or value expression, bucket edges or None) of every histogram to compute."""
        from pyspark.sql import functions as F

        entries = []
        for index, field in self.described:
            kind = field.dataType.typeName()
            column = F.col(_quoted(field.name))
            if kind in _NUMERIC:
                low, high = _float(first[f"c{index}_min"]), _float(first[f"c{index}_max"])
                if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
                    continue
                buckets = HISTOGRAM_BUCKETS if high > low else 1
                width = (high - low) / buckets if high > low else 1.0
                value = column.cast("double")
                bucket = F.least(F.floor((value - F.lit(low)) / F.lit(width)), F.lit(buckets - 1))
                valid = value.isNotNull() & ~F.isnan(value) & (value >= F.lit(low)) & (value <= F.lit(high))
                edges = [low + width * step for step in range(buckets)] + [high]
                entries.append((index, F.when(valid, bucket.cast("string")), edges))
            elif kind in _CATEGORICAL and int(first[f"c{index}_distinct"]) <= MAX_CATEGORIES:
                entries.append((index, column.cast("string"), None))
        if self.target is not None:
            index, field = self.target
            kind = field.dataType.typeName()
            counted = any(entry[0] == index and entry[2] is None for entry in entries)
            if kind in _NUMERIC | _CATEGORICAL and not counted:
                distinct = first[f"c{index}_distinct" if index < MAX_DESCRIBED_COLUMNS else "target_distinct"]
                if int(distinct) <= _CLASS_DISTINCT_LIMIT:
                    entries.append((_TARGET, F.col(_quoted(field.name)).cast("string"), None))
        return entries

    def histograms(
        self, df: Any, entries: list[tuple[int, Any, Any]]
    ) -> tuple[list[Histogram], dict[int, dict[str, int]]]:
        """The histograms of ``entries``, and the counts they come from: entry index -> bucket or value -> rows."""
        from pyspark.sql import functions as F

        if not entries:
            return [], {}
        pairs = F.array(*[F.struct(F.lit(index).alias("c"), key.alias("k")) for index, key, _ in entries])
        counted = (
            df.select(F.explode(pairs).alias("e"))
            .where(F.col("e.k").isNotNull())
            .groupBy(F.col("e.c").alias("c"), F.col("e.k").alias("k"))
            .count()
            .collect()
        )
        counts: dict[int, dict[str, int]] = {}
        for row in counted:
            counts.setdefault(int(row["c"]), {})[row["k"]] = int(row["count"])
        found = []
        for index, _, edges in entries:
            if index == _TARGET:
                continue
            field_name = self.schema.fields[index].name
            seen = counts.get(index, {})
            if edges is not None:
                values = [seen.get(str(bucket), 0) for bucket in range(len(edges) - 1)]
                found.append(
                    Histogram(
                        column=field_name,
                        bucket_values=values,
                        bucket_labels=[f"{edge:.6g}" for edge in edges],
                        typing=TypeHint.LONG,
                        name="equal-width",
                    )
                )
            elif seen:
                ordered = sorted(seen.items(), key=lambda pair: (-pair[1], pair[0]))
                found.append(
                    Histogram(
                        column=field_name,
                        bucket_values=[count for _, count in ordered],
                        bucket_labels=[value for value, _ in ordered],
                        typing=TypeHint.LONG,
                        name="value counts",
                    )
                )
        return found, counts

    def meta_statistics(self, df: Any, first: Any, rows: int, counts: dict[int, dict[str, int]]) -> list[DataStatistic]:
        """The meta-features: of the features from pass 1, of the target from its counts, landmarkers from ``df``."""
        target = None if self.target is None else self.target[1].name
        features = [(index, field) for index, field in self.described if field.name != target]
        kinds = [field.dataType.typeName() for _, field in features]
        found = table_statistics(
            rows=rows,
            features=len(self.schema.fields) - (target is not None),
            numeric=sum(kind in _NUMERIC for kind in kinds),
            categorical=sum(kind in _CATEGORICAL for kind in kinds),
            described=len(features),
            missing=sum(int(first[f"c{index}_missing"]) for index, _ in features),
            cells=int(first["rows"]) * len(features),
        )
        classes = self._classes(counts)
        if classes is None:
            return found
        found += class_statistics(list(classes.values()))
        if len(classes) < 2 or importlib.util.find_spec("numpy") is None:
            return found
        return found + self._landmarks(df, [field for _, field in features], sorted(classes))

    def _classes(self, counts: dict[int, dict[str, int]]) -> dict[str, int] | None:
        """The target's rows per class (value as text), or None when the target is no class label."""
        if self.target is None:
            return None
        index, field = self.target
        kind = field.dataType.typeName()
        seen = counts.get(_TARGET, counts.get(index if kind in _CATEGORICAL else _TARGET))
        if seen is None:
            return None
        if kind in _NUMERIC:
            seen = {value: count for value, count in seen.items() if not math.isnan(float(value))}
            if not all(float(value).is_integer() for value in seen):
                return None
        return seen if len(seen) <= MAX_CLASSES else None

    def _landmarks(self, df: Any, features: list[Any], classes: list[str]) -> list[DataStatistic]:
        """The landmarkers on the first :data:`LANDMARK_ROWS` rows of ``df`` (one job), atomic features only."""
        import numpy as np
        from pyspark.sql import functions as F

        inputs = [f for f in features if f.dataType.typeName() in _NUMERIC | _CATEGORICAL][:MAX_LANDMARK_FEATURES]
        if not inputs:
            return []
        target = F.col(_quoted(self.target[1].name)).cast("string")  # type: ignore[index]
        collected = df.select(*[F.col(_quoted(f.name)) for f in inputs], target).limit(LANDMARK_ROWS).collect()
        kinds = [f.dataType.typeName() in _NUMERIC for f in inputs]
        numeric = np.full((len(collected), sum(kinds)), np.nan)
        categorical = np.full((len(collected), len(inputs) - sum(kinds)), -1, dtype=np.int64)
        codes: list[dict[Any, int]] = [{} for _ in range(categorical.shape[1])]  # per column: value -> code
        for position, row in enumerate(collected):
            at_numeric = at_categorical = 0
            for value, is_numeric in zip(row[:-1], kinds, strict=True):
                if is_numeric:
                    numeric[position, at_numeric] = np.nan if value is None else float(value)
                    at_numeric += 1
                else:
                    seen = codes[at_categorical]
                    categorical[position, at_categorical] = -1 if value is None else seen.setdefault(value, len(seen))
                    at_categorical += 1
        code_of = {value: code for code, value in enumerate(classes)}
        target = np.array([code_of.get(row[-1], np.nan) for row in collected], dtype=np.float64)
        return sample_landmark_statistics(
            numeric=numeric, categorical=categorical, target=target, categorical_target=True
        )


def _estimated_rows(df: Any) -> int | None:
    """Spark's estimate of the DataFrame's row count, without running a job (None when it has none).

    The optimizer's statistics: exact for a cached DataFrame once computed and for
    local data, else derived from the size in bytes and the schema's default row width.
    """
    try:
        statistics = df._jdf.queryExecution().optimizedPlan().stats()
        counted = statistics.rowCount()
        if counted.isDefined():
            return int(str(counted.get()))
        width = max(1, sum(field.dataType.defaultSize() for field in df.schema.fields))
        return int(str(statistics.sizeInBytes())) // width
    except Exception:  # noqa: BLE001 - no estimate (Spark Connect, a plan Spark cannot size): statistics of every row
        return None


def _hash_sum(schema: Any) -> Any:
    from pyspark.sql import functions as F

    if not schema.fields:
        return F.lit(0).cast("decimal(38,0)")
    columns = [
        F.to_json(F.struct(F.col(_quoted(field.name)))) if unhashable(field.dataType) else F.col(_quoted(field.name))
        for field in schema.fields
    ]
    return F.coalesce(F.sum(F.xxhash64(*columns).cast("decimal(38,0)")), F.lit(0).cast("decimal(38,0)"))


def _fingerprint(schema: Any, rows: int, hash_sum: Any) -> str:
    digest = hashlib.sha256(f"{schema.simpleString()}\0{rows}\0{hash_sum}".encode())
    return f"{FINGERPRINT_PREFIX}{digest.hexdigest()}"


def _location(df: Any) -> tuple[str | None, dict[str, str]]:
    """Where ``df`` was read from, and annotations saying how it was found (no job runs)."""
    table = _catalog_table(df)
    if table is not None:
        return table[1], {"spark.table": table[0]}
    try:
        files = sorted(df.inputFiles())
    except Exception:  # noqa: BLE001 - a source that cannot list its files: the location stays unknown
        return None, {}
    if not files:
        return None, {}
    annotations = {"spark.input_files": str(len(files))}
    if len(files) == 1:
        return files[0], annotations
    common = posixpath.commonpath([file.split("://", 1)[-1] for file in files])
    scheme = files[0].split("://", 1)[0] + "://" if "://" in files[0] else ""
    return f"{scheme}{common}", annotations


def _catalog_table(df: Any) -> tuple[str, str] | None:
    """The (name, location) of the one catalog table ``df`` reads, from its analyzed plan."""
    try:
        leaves = df._jdf.queryExecution().analyzed().collectLeaves()
        if leaves.size() != 1:
            return None
        leaf = leaves.apply(0)
        if leaf.getClass().getSimpleName() != "LogicalRelation" or not leaf.catalogTable().isDefined():
            return None
        table = leaf.catalogTable().get()
        return table.identifier().unquotedString(), table.location().toString()
    except Exception:  # noqa: BLE001 - Spark Connect, or a plan shape of another Spark version: fall back to the input files
        return None


def _default_name(location: str | None, rows: int | None, columns: int) -> str:
    if location:
        base = posixpath.basename(location.rstrip("/"))
        if base:
            return base
    return f"DataFrame {rows}x{columns}" if rows is not None else f"DataFrame with {columns} columns"


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value
