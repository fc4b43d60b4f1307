"""Dataset metadata from what ``fit`` received: pandas, numpy, scipy sparse, lists of texts.

The data is not copied. The content fingerprint is an XXH3-128 digest (xxHash:
not cryptographic, but about ten times faster than sha256, which matters on the
path of every fit) over the data's own memory (zero-copy through ``memoryview``; a strided column is fed in bounded
blocks); columns of Python objects or pandas extension types are hashed through
``pandas.util.hash_pandas_object``. Column names, types and the row count are
exact. Statistics and histograms are computed on at most :data:`SAMPLE_ROWS`
evenly spaced rows of at most :data:`MAX_DESCRIBED_COLUMNS` columns, so their
cost is bounded whatever the data's size; the sample size is recorded as the
``statistics_sample_rows`` statistic. A statistic over several columns holds one
value per column, in the order of its ``columns``. The dataset's meta-features
(``meta.*``, see :mod:`mltrack_core.metafeatures`) come from the same sample, which
always holds the target; wide and sparse data lend the landmarkers at most
:data:`~mltrack_core.metafeatures.LANDMARK_ROWS` rows of their 100 most often non-zero columns.

Off the fit's path: :meth:`DataDescription.snapshot` copies that bounded sample
at once (the user may change the data in place as soon as ``fit`` returns) and
gives the dataset's final id, so that the statistics can be computed later, on
another thread (see :meth:`mltrack_core.Tracker.defer`), from the copy alone.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xxhash

from mltrack_core.metafeatures import (
    LANDMARK_ROWS,
    MAX_LANDMARK_FEATURES,
    class_codes,
    class_statistics,
    landmark_statistics,
    meta_feature_statistics,
    table_statistics,
)
from mltrack_core.plugin import Dataset, DataStatistic, Histogram, SchemaError, TypedColumn, TypeHint

__all__ = ["DataDescription", "DataSnapshot", "describe_data", "is_supported_data", "subset_fingerprint"]

SAMPLE_ROWS = 10_000
MAX_DESCRIBED_COLUMNS = 100
MAX_NAMED_COLUMNS = 1_000
"""Unnamed array columns beyond this many are recorded as one VECTOR column named ``features``."""
HISTOGRAM_BUCKETS = 10
TOP_VALUES = 10
_CHUNK_BYTES = 1 << 24


def is_supported_data(data: Any) -> bool:
    """A pandas DataFrame or Series, a numpy array, a scipy sparse matrix or array, or a list of texts."""
    if _pandas_kind(data) is not None or isinstance(data, np.ndarray) or _is_sparse(data):
        return True
    return isinstance(data, (list, tuple)) and bool(data) and all(isinstance(item, str) for item in data[:100])


@dataclass(frozen=True)
class DataDescription:
    """What identifies in-memory data (cheap: one pass of hashing); :meth:`dataset` adds the statistics."""

    table: _Table
    name: str
    fingerprint: str
    target: str | None

    @property
    def row_count(self) -> int:
        return self.table.rows

    def dataset(self) -> Dataset:
        """The full description, with statistics and histograms of a bounded sample."""
        return self.snapshot().complete()

    def snapshot(self) -> DataSnapshot:
        """The dataset without its statistics now, and a private copy of the sample they are computed from.

        Copying the sample costs at most :data:`SAMPLE_ROWS` x :data:`MAX_DESCRIBED_COLUMNS`
        values; :meth:`DataSnapshot.complete` then reads nothing of the user's data.
        """
        table = self.table
        dataset = Dataset(
            name=self.name,
            fingerprint=self.fingerprint,
            schema=table.schema(),
            target=self.target,
            row_count=table.rows,
            annotations={"mltrack.sklearn.container": table.container},
        )
        return DataSnapshot(dataset, table.sample(self.target))


@dataclass(frozen=True)
class DataSnapshot:
    """A dataset whose statistics are computed later, from a sample copied when the snapshot was taken.

    ``dataset`` is the dataset as it will be stored (its id is final), without
    statistics and histograms; :meth:`complete` adds them. Safe to complete on
    any thread, after the user changed or freed the data.
    """

    dataset: Dataset
    sample: _Sample

    def complete(self) -> Dataset:
        """``dataset`` with the statistics and histograms of the sample (same id)."""
        sample = self.sample
        return replace(self.dataset, statistics=sample.statistics(), histograms=sample.histograms())


def describe_data(data: Any, target: Any = None, name: str | None = None) -> DataDescription:
    """Describe ``data`` and ``target`` (the labels, or the name of the target column).

    Raises:
        SchemaError: the data or the target cannot be described; the message says why.
    """
    table = _table(data, "data")
    label = f"{table.kind} {table.rows}x{len(table.columns)}"
    target_name = None
    if isinstance(target, str):
        if target not in table.names:
            raise SchemaError(f"target={target!r} is not a column of the data (columns: {', '.join(table.names[:20])})")
        target_name = target
    elif target is not None:
        labels = _table(target, "target")
        if len(labels.columns) != 1 or labels.wide:
            raise SchemaError(f"target must be one column, got {len(labels.columns)}; give a 1-d array or a Series")
        if labels.rows != table.rows:
            raise SchemaError(f"target has {labels.rows} rows but the data has {table.rows}")
        target_name = labels.names[0] if labels.named else "target"
        if target_name in table.names:
            target_name = f"{target_name} (target)"
        table.add(target_name, labels.columns[0][1])
    return DataDescription(table, name or label, f"xxh3-128:{table.fingerprint()}", target_name)


def subset_fingerprint(parent: Dataset, rows: np.ndarray) -> str:
    """The fingerprint of rows ``rows`` of ``parent``: a digest of the parent's fingerprint and the row positions."""
    digest = xxhash.xxh3_128((parent.fingerprint or parent.id).encode())
    digest.update(memoryview(np.ascontiguousarray(rows, dtype=np.int64)).cast("B"))
    return f"rows-xxh3-128:{digest.hexdigest()}"


# ---------------------------------------------------------------- the table view


@dataclass
class _Table:
    """Named 1-d columns over the user's data, and the blocks of memory that hold them.

    ``matrix``: when every column is a column of one 2-d numeric array (a numpy
    array, or a DataFrame held in one block), that array, to sample in one step.
    """

    kind: str
    container: str
    rows: int
    columns: list[tuple[str, Any]]
    blocks: list[Any]
    named: bool
    wide: bool = False
    matrix: np.ndarray | None = None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def add(self, name: str, column: Any) -> None:
        self.columns.append((name, column))
        self.blocks.append(column)

    def fingerprint(self) -> str:
        digest = xxhash.xxh3_128(f"{self.kind}\0{self.rows}\0{self.names}\0".encode())
        for block in self.blocks:
            digest.update(f"{getattr(block, 'dtype', 'object')}\0{getattr(block, 'shape', '')}\0".encode())
            _hash_block(digest, block)
        return digest.hexdigest()

    def schema(self) -> list[TypedColumn]:
        vector = TypeHint.VECTOR
        return [
            TypedColumn(name=name, typing=vector if self.wide and name == "features" else _type_hint(column))
            for name, column in self.columns
        ]

    def sample(self, target: str | None = None) -> _Sample:
        """A private copy of the evenly spaced rows that statistics and histograms describe (with the ``target``)."""
        step = max(1, math.ceil(self.rows / SAMPLE_ROWS))
        rows, count = slice(None, None, step), len(range(0, self.rows, step))
        described = [] if self.wide else self.columns[:MAX_DESCRIBED_COLUMNS]
        if target is not None and target not in [name for name, _ in described]:
            described = [*described, *[(name, column) for name, column in self.columns if name == target]]
        numeric = [(index, name) for index, (name, column) in enumerate(described) if _is_numeric(column)]
        other = [(name, _series(column, rows)) for name, column in described if not _is_numeric(column)]
        matrix = None
        if numeric:
            # the leading columns that are columns of self.matrix are copied in one step, the others (and a target
            # beyond the described columns) one by one
            width = min(self.matrix.shape[1], MAX_DESCRIBED_COLUMNS) if self.matrix is not None else 0
            leading = next((k for k, (index, _) in enumerate(numeric) if index != k or k >= width), len(numeric))
            matrix = _matrix([described[index][1] for index, _ in numeric[leading:]], rows, count, leading)
            if leading:
                matrix[:, :leading] = self.matrix[rows, :leading]  # type: ignore[index]
        landmarks = None
        if self.wide:  # a dense copy of the rows and columns the landmarkers learn from
            picked = np.arange(min(count, LANDMARK_ROWS)) * count // max(1, min(count, LANDMARK_ROWS))
            landmarks = (picked, _landmark_block(self.columns[0][1], picked * step))
        return _Sample(
            rows=count,
            numeric=[name for _, name in numeric],
            matrix=matrix,
            other=other,
            order=[name for name, _ in described],
            block=_block_statistics(self.columns[0][1]) if self.wide else [],
            whole_rows=self.rows,
            features=int(self.columns[0][1].shape[1]) if self.wide else len(self.columns) - (target is not None),
            target=target,
            boolean=[name for name, column in described if _is_numeric(column) and column.dtype.kind == "b"],
            landmarks=landmarks,
        )


@dataclass(frozen=True)
class _Sample:
    """Copies of sampled rows: ``matrix`` holds the ``numeric`` columns as floats, ``other`` the rest as Series."""

    rows: int
    numeric: list[str]
    matrix: np.ndarray | None
    other: list[tuple[str, Any]]
    order: list[str]
    block: list[DataStatistic]
    whole_rows: int = 0
    features: int = 0
    """Columns of the whole data without the target (a wide block's width)."""
    target: str | None = None
    boolean: list[str] = field(default_factory=list)
    """The ``numeric`` columns of booleans: categorical features for the meta-features."""
    landmarks: tuple[np.ndarray, np.ndarray] | None = None
    """Wide data: (positions in the sample, dense copy of those rows of at most 100 columns)."""

    def statistics(self) -> list[DataStatistic]:
        return [*self._statistics(), *self._meta_statistics()]

    def _statistics(self) -> list[DataStatistic]:
        found = [DataStatistic(name="statistics_sample_rows", value=self.rows), *self.block]
        missing: dict[str, int] = {}
        if self.matrix is not None:
            found += _numeric_statistics(self.numeric, self.matrix)
            missing.update(zip(self.numeric, np.isnan(self.matrix).sum(axis=0).tolist(), strict=True))
        if self.other:
            found.append(DataStatistic(name="distinct", value=[int(s.nunique(dropna=True)) for _, s in self.other],
                                       columns=[name for name, _ in self.other]))  # fmt: skip
            missing.update((name, int(s.isna().sum())) for name, s in self.other)
        if missing:
            names = [name for name in self.order if name in missing]
            found.append(DataStatistic(name="missing", value=[missing[name] for name in names], columns=names))
        return found

    def _meta_statistics(self) -> list[DataStatistic]:
        """The meta-features (``meta.*``) of the sample; the target is no feature."""
        numeric, codes, target, categorical_target = [], [], None, False
        for index, name in enumerate(self.numeric):
            values = self.matrix[:, index]  # type: ignore[index]
            if name == self.target:
                target = values
            elif name in self.boolean:
                codes.append(np.where(np.isnan(values), -1, values).astype(np.int64))
            else:
                numeric.append(values)
        for name, series in self.other:  # pandas Series (imported already): nullable numbers, texts, categories
            types = sys.modules["pandas"].api.types
            as_number = types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype)
            if name == self.target:
                categorical_target = not as_number
                target = _floats(series) if as_number else _codes(series).astype(np.float64)
                if categorical_target:
                    target[target < 0] = np.nan
            elif as_number:
                numeric.append(_floats(series))
            else:
                codes.append(_codes(series))
        if self.landmarks is not None:
            return self._wide_meta_statistics(target, categorical_target)
        return meta_feature_statistics(
            rows=self.whole_rows,
            numeric=np.column_stack(numeric) if numeric else np.empty((self.rows, 0)),
            categorical=np.column_stack(codes) if codes else np.empty((self.rows, 0), dtype=np.int64),
            target=target,
            categorical_target=categorical_target,
            features=self.features,
        )

    def _wide_meta_statistics(self, target: np.ndarray | None, categorical_target: bool) -> list[DataStatistic]:
        picked, block = self.landmarks  # type: ignore[misc]
        found = table_statistics(
            rows=self.whole_rows,
            features=self.features,
            numeric=block.shape[1],
            categorical=0,
            described=block.shape[1],
            missing=int(np.isnan(block).sum()),
            cells=block.size,
        )
        codes = None if target is None else class_codes(target, categorical=categorical_target)
        if codes is None:
            return found
        found += class_statistics(np.bincount(codes[codes >= 0]).tolist() if (codes >= 0).any() else [])
        features = np.where(np.isnan(block), 0.0, block)
        return found + landmark_statistics(features, codes[picked])

    def histograms(self) -> list[Histogram]:
        found = _numeric_histograms(self.numeric, self.matrix) if self.matrix is not None else []
        found += [h for name, series in self.other if (h := _top_values(name, series)) is not None]
        return found


def _table(data: Any, role: str) -> _Table:
    container = f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
    kind = _pandas_kind(data)
    if kind == "DataFrame":
        names = [str(name) for name in data.columns]
        if len(set(names)) != len(names):
            raise SchemaError(f"{role} has repeated column names; give each column a distinct name")
        values = _single_block(data)
        if values is not None:
            columns = [(name, values[:, index]) for index, name in enumerate(names)]
        else:
            columns = [(name, column) for name, (_, column) in zip(names, data.items(), strict=True)]
        blocks = [column for _, column in columns]
        return _Table(kind, container, len(data), columns, blocks, named=True, matrix=values)
    if kind == "Series":
        named = data.name is not None
        return _Table(kind, container, len(data), [(str(data.name) if named else "x0", data)], [data], named=named)
    if isinstance(data, np.ndarray) or _is_sparse(data):
        return _array_table(data, container, role)
    if isinstance(data, (list, tuple)) and data and all(isinstance(item, str) for item in data):
        texts = np.asarray(data, dtype=object)  # sklearn's text vectorizers take lists; a list has no buffer to hash
        return _Table("texts", container, len(texts), [("text", texts)], [texts], named=False)
    raise SchemaError(
        f"cannot describe {role} of type {container}: give a pandas DataFrame or Series, "
        "a numpy array, a scipy sparse matrix or a list of texts"
    )


def _single_block(frame: Any) -> np.ndarray | None:
    """The frame's values as one 2-d array without copying them, when pandas holds them in one numeric block.

    Its columns are the frame's columns, byte for byte (so the fingerprint is
    the same as column by column), and taking them is about a hundred times cheaper
    than a Series per column. ``_mgr.is_single_block`` is pandas' own (private)
    test; without it, or when it says no, the columns are taken one by one.
    """
    if not frame.shape[1] or not getattr(getattr(frame, "_mgr", None), "is_single_block", False):
        return None
    dtype = frame.dtypes.iloc[0]
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf":
        return None
    values = frame.to_numpy(copy=False)
    return values if values.shape == frame.shape and values.dtype == dtype else None


def _array_table(data: Any, container: str, role: str) -> _Table:
    sparse = _is_sparse(data)
    if data.ndim == 1:
        return _Table("ndarray", container, data.shape[0], [("x0", data)], [data], named=False)
    if data.ndim != 2:
        raise SchemaError(f"{role} has {data.ndim} dimensions; give a 1-d or 2-d array")
    rows, width = data.shape
    kind = "sparse" if sparse else "ndarray"
    if sparse or width > MAX_NAMED_COLUMNS:
        return _Table(kind, container, rows, [("features", data)], [data], named=False, wide=True)
    matrix = data if data.dtype.kind in "biuf" else None
    return _Table(
        kind, container, rows, [(f"x{i}", data[:, i]) for i in range(width)], [data], named=False, matrix=matrix
    )


def _pandas_kind(data: Any) -> str | None:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return "DataFrame"
    if pandas is not None and isinstance(data, pandas.Series):
        return "Series"
    return None


def _is_sparse(data: Any) -> bool:
    return type(data).__module__.startswith("scipy.sparse") and hasattr(data, "nnz")


def _is_numeric(column: Any) -> bool:
    dtype = getattr(column, "dtype", None)
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


def _type_hint(column: Any) -> TypeHint:
    dtype = getattr(column, "dtype", None)
    if not isinstance(dtype, np.dtype):  # pandas extension types: nullable integers, strings, categories
        name = str(dtype).lower()
        if name.startswith(("int", "uint")):
            return TypeHint.LONG
        if name.startswith("float"):
            return TypeHint.DOUBLE
        if name == "boolean":
            return TypeHint.BOOLEAN
        return (
            TypeHint.STRING if name in ("str", "string", "category") or name.startswith("string") else TypeHint.UNKNOWN
        )
    if dtype.kind == "b":
        return TypeHint.BOOLEAN
    if dtype.kind in "iu":
        return TypeHint.INT if dtype.itemsize <= 4 else TypeHint.LONG
    if dtype.kind == "f":
        return TypeHint.FLOAT if dtype.itemsize <= 4 else TypeHint.DOUBLE
    return TypeHint.STRING if dtype.kind in "OUS" else TypeHint.UNKNOWN


# ---------------------------------------------------------------- fingerprint


def _hash_block(digest: Any, block: Any) -> None:
    if _is_sparse(block):
        matrix = block.tocsr()  # a no-op for CSR data
        for part in (matrix.indptr, matrix.indices, matrix.data):
            _hash_array(digest, part)
        return
    values = block if isinstance(block, np.ndarray) else None
    if values is None and isinstance(block.dtype, np.dtype) and block.dtype.kind in "biufcmM":
        values = block.to_numpy()
    if values is not None and values.dtype.kind != "O":
        _hash_array(digest, values)
        return
    import pandas as pd  # Python objects, strings, categories, nullable and arrow-backed columns

    series = block if values is None else pd.Series(values, copy=False)
    _hash_array(digest, pd.util.hash_pandas_object(series, index=False).to_numpy())


def _hash_array(digest: Any, array: np.ndarray) -> None:
    """Feed the array's bytes to ``digest``: zero-copy when contiguous, else in bounded blocks of rows."""
    if array.flags.c_contiguous:
        digest.update(memoryview(array).cast("B"))
        return
    row_bytes = max(1, array.itemsize * int(np.prod(array.shape[1:])))
    rows_per_block = max(1, _CHUNK_BYTES // row_bytes)
    for start in range(0, array.shape[0], rows_per_block):
        digest.update(memoryview(np.ascontiguousarray(array[start : start + rows_per_block])).cast("B"))


# ---------------------------------------------------------------- statistics


def _values(column: Any) -> np.ndarray:
    return column if isinstance(column, np.ndarray) else column.to_numpy()


def _matrix(columns: list[Any], rows: slice, count: int, leading: int = 0) -> np.ndarray:
    """The ``count`` sampled ``rows`` of ``columns`` as floats, after ``leading`` columns left to fill (a copy)."""
    matrix = np.empty((count, leading + len(columns)), dtype=np.float64)
    for index, column in enumerate(columns, start=leading):
        matrix[:, index] = _values(column)[rows]
    return matrix


def _landmark_block(block: Any, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of a wide or sparse block as a dense float copy of at most 100 of its columns.

    Sparse: the columns most often non-zero in those rows; dense: evenly spaced columns (NaN where not numeric).
    """
    width = block.shape[1]
    if _is_sparse(block):
        part = (block if getattr(block, "format", "") in ("csr", "csc") else block.tocsr())[rows].tocsr()
        columns = np.sort(
            np.argsort(-np.bincount(part.indices, minlength=width), kind="stable")[:MAX_LANDMARK_FEATURES]
        )
        return np.asarray(part[:, columns].toarray(), dtype=np.float64)
    if block.dtype.kind not in "biuf":
        return np.full((len(rows), 0), np.nan)
    columns = np.arange(min(width, MAX_LANDMARK_FEATURES)) * width // max(1, min(width, MAX_LANDMARK_FEATURES))
    return block[np.ix_(rows, columns)].astype(np.float64)


def _floats(series: Any) -> np.ndarray:
    """A numeric Series (nullable types too) as floats, NaN where missing."""
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _codes(series: Any) -> np.ndarray:
    """Integer codes of a Series' distinct values (in order of appearance), -1 where missing."""
    import pandas as pd

    return np.asarray(pd.factorize(series)[0], dtype=np.int64)


def _series(column: Any, rows: slice) -> Any:
    """A copy of the sampled rows of a column as a Series (a copy: the user may change the data afterwards)."""
    import pandas as pd

    return pd.Series(column[rows].copy()) if isinstance(column, np.ndarray) else column.iloc[rows].copy()


def _numeric_statistics(names: list[str], sample: np.ndarray) -> list[DataStatistic]:
    finite = np.isfinite(sample)
    count = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, sample, 0.0).sum(axis=0) / count
        std = np.sqrt((np.where(finite, sample - mean, 0.0) ** 2).sum(axis=0) / count)
    values = {
        "mean": mean,
        "std": std,
        "min": np.where(finite, sample, np.inf).min(axis=0),
        "max": np.where(finite, sample, -np.inf).max(axis=0),
    }
    return [
        DataStatistic(name=name, value=[_number(v) for v in items], columns=names) for name, items in values.items()
    ]


def _numeric_histograms(names: list[str], sample: np.ndarray) -> list[Histogram]:
    """Equal-width histograms of every column at once (one bincount over the sample)."""
    finite = np.isfinite(sample)
    low = np.where(finite, sample, np.inf).min(axis=0)
    high = np.where(finite, sample, -np.inf).max(axis=0)
    width = np.where(high > low, (high - low) / HISTOGRAM_BUCKETS, 1.0)
    with np.errstate(invalid="ignore"):
        bucket = np.clip(np.floor((sample - low) / width), 0, HISTOGRAM_BUCKETS - 1)
    offsets = np.arange(sample.shape[1]) * HISTOGRAM_BUCKETS
    flat = (bucket + offsets)[finite].astype(np.int64)
    counts = np.bincount(flat, minlength=sample.shape[1] * HISTOGRAM_BUCKETS).reshape(-1, HISTOGRAM_BUCKETS)
    found = []
    for index, name in enumerate(names):
        if not finite[:, index].any():
            continue
        edges = low[index] + width[index] * np.arange(HISTOGRAM_BUCKETS + 1)
        found.append(
            Histogram(
                column=name, bucket_values=counts[index].tolist(), bucket_labels=[f"{edge:.6g}" for edge in edges]
            )
        )
    return found


def _block_statistics(block: Any) -> list[DataStatistic]:
    """A wide or sparse block of features: its width, and for sparse data the share of stored values."""
    found = [DataStatistic(name="columns", value=int(block.shape[1]), columns=("features",))]
    if _is_sparse(block):
        cells = block.shape[0] * block.shape[1]
        found.append(DataStatistic(name="density", value=block.nnz / cells if cells else 0.0, columns=("features",)))
    return found


def _top_values(name: str, series: Any) -> Histogram | None:
    counts = series.value_counts(dropna=True).head(TOP_VALUES)
    if counts.empty:
        return None
    return Histogram(
        column=name,
        bucket_values=[int(count) for count in counts.to_numpy()],
        bucket_labels=[str(label) for label in counts.index],
        name="most frequent values",
    )


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
