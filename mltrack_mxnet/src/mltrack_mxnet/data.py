"""Datasets described from MXNet's data objects: iterators, Gluon datasets and data loaders.

``tracker.track_dataset(x)`` understands:

* ``mx.io.NDArrayIter``: its arrays are in memory. The sample count, the
  shape of one sample and of one batch of each array (``sample_shape`` and
  ``batch_shape`` statistics, per column), the element types, the label's name
  as the target, a content fingerprint of the arrays, and the batch size,
  shuffling and last-batch handling (annotations).
* Gluon datasets (``ArrayDataset``, ``SimpleDataset``, the vision datasets
  once loaded, ``ImageRecordDataset`` with its ``.rec`` file as location) and
  a ``DataLoader`` over one: the sample count and the shape of one sample; a
  fingerprint when the samples are arrays held in memory (or the file is
  small); the loader's batch size and, with Gluon's default batching, the batch shape. A
  transformed dataset (``dataset.transform(fn)``, ``transform_first(fn)``) is
  computed sample by sample when read: it records the shapes of its first
  sample and is ``derived_from`` the dataset it transforms (also recorded),
  without a fingerprint of its own. A ``Dataset`` class of one's own records
  its sample count and the shapes of its first sample, without a fingerprint
  (its samples may be read from files, decoded, augmented: not read them all).
* File iterators (``mx.io.ImageRecordIter`` and MXNet's other C++ iterators):
  the source file as the location (``path_imgrec``, or ``data_csv``, ...), the
  batch shapes, and for a ``.rec`` file with its ``.idx`` index the sample count
  (one line per record). The file's content is hashed only while it is small
  (:data:`MAX_HASHED_FILE_BYTES`). MXNet does not keep an iterator's arguments:
  mltrack-mxnet notes them when the iterator is created after mltrack was loaded.

The fingerprint is a SHA-256 of each array's type, shape and bytes in order
(the digest of :func:`array_fingerprint`), so an iterator over the same arrays
as a dataset recorded by hand gets the same fingerprint. Arrays are read in
blocks of at most :data:`BLOCK_BYTES`; data larger than
:data:`MAX_HASHED_BYTES` is not hashed (an annotation says so): the cost of
describing data stays bounded. An iterator that shuffles has reordered its
arrays already (MXNet shuffles a copy, at every reset): its fingerprint is
computed over the rows as a set (``rowset-sha256:``), the same whatever the order.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mltrack_core.plugin import (
    Dataset,
    DataStatistic,
    Extraction,
    MissingPluginError,
    SchemaError,
    TypedColumn,
    TypeHint,
)

__all__ = [
    "BATCH_SHAPE",
    "SAMPLE_SHAPE",
    "array_fingerprint",
    "extract_dataset",
    "is_mxnet_data",
    "remember_iterator_arguments",
]

BATCH_SHAPE = "batch_shape"
"""The statistic holding the shape of one batch of a column, as the network receives it."""
SAMPLE_SHAPE = "sample_shape"
"""The statistic holding the shape of one sample of a column."""
BLOCK_BYTES = 64 * 1024 * 1024
MAX_HASHED_BYTES = 1024**3
MAX_HASHED_FILE_BYTES = 256 * 1024 * 1024
MAX_HASHED_SAMPLES = 200_000
"""Datasets read sample by sample (a list of arrays) are hashed up to this many samples."""

_ARGUMENTS = "_mltrack_arguments"
_FILE_ITERATORS = (
    "ImageRecordIter",
    "ImageRecordUInt8Iter",
    "ImageRecordInt8Iter",
    "ImageDetRecordIter",
    "CSVIter",
    "LibSVMIter",
    "MNISTIter",
)
_SOURCE_ARGUMENTS = ("path_imgrec", "data_csv", "data_libsvm", "image")
_PYTHON_HINTS = {int: TypeHint.LONG, bool: TypeHint.BOOLEAN, float: TypeHint.DOUBLE, str: TypeHint.STRING}
_DTYPE_HINTS = {"f2": TypeHint.FLOAT, "f4": TypeHint.FLOAT, "f8": TypeHint.DOUBLE, "b1": TypeHint.BOOLEAN}


def is_mxnet_data(data: Any) -> bool:
    """Whether ``data`` is an MXNet data iterator, a Gluon dataset or a Gluon data loader."""
    import mxnet as mx

    return isinstance(data, (mx.io.DataIter, mx.gluon.data.Dataset, mx.gluon.data.DataLoader))


def extract_dataset(data: Any, name: str | None, target: Any) -> Extraction:
    """The dataset ``data`` holds or reads.

    Raises:
        MissingPluginError: ``data`` is an MXNet data iterator of a kind not described (one of one's own).
        SchemaError: ``target`` is not the name of a column.
    """
    import mxnet as mx

    if target is not None and not isinstance(target, str):
        raise SchemaError(
            f"{type(data).__name__} holds its labels: give target= as the name of the label column, "
            f"not a {type(target).__name__}"
        )
    if isinstance(data, mx.io.NDArrayIter):
        return Extraction(_ndarray_iterator(data, name, target))
    if isinstance(data, mx.io.MXDataIter):
        return Extraction(_file_iterator(data, name, target))
    if isinstance(data, mx.gluon.data.DataLoader):
        return _loader(data, name, target)
    if isinstance(data, mx.gluon.data.Dataset):
        return _gluon_dataset(data, name, target)
    raise MissingPluginError(
        f"mltrack-mxnet describes NDArrayIter, file iterators (ImageRecordIter, ...), Gluon datasets and "
        f"DataLoaders, not {type(data).__module__}.{type(data).__qualname__}; track the data it reads with "
        "keyword fields: tracker.track_dataset(name=..., fingerprint=..., row_count=..., target=...)"
    )


# ---------------------------------------------------------------- NDArrayIter


def _ndarray_iterator(iterator: Any, name: str | None, target: str | None) -> Dataset:
    columns = [*iterator.data, *iterator.label]
    descriptions = [*iterator.provide_data, *iterator.provide_label]
    arrays = [array for _, array in columns]
    label_names = [label_name for label_name, _ in iterator.label]
    annotations = {
        "mxnet.kind": "NDArrayIter",
        "mxnet.batch_size": str(iterator.batch_size),
        "mxnet.shuffle": str(bool(iterator.shuffle)).lower(),
        "mxnet.last_batch_handle": iterator.last_batch_handle,
        "mxnet.layout": iterator.layout,
    }
    fingerprint, why_not = _fingerprint(arrays, as_set=bool(iterator.shuffle))
    if why_not:
        annotations["mxnet.fingerprint"] = why_not
    statistics = [
        DataStatistic(name=SAMPLE_SHAPE, value=tuple(array.shape[1:]), columns=[key]) for key, array in columns
    ]
    statistics += [
        DataStatistic(name=BATCH_SHAPE, value=tuple(description.shape), columns=[description.name])
        for description in descriptions
    ]
    return Dataset(
        name=name or f"NDArrayIter({', '.join(key for key, _ in columns)})",
        fingerprint=fingerprint,
        row_count=int(iterator.num_data),
        schema=[TypedColumn(name=key, typing=_type_hint(array.dtype)) for key, array in columns],
        target=target or (label_names[0] if label_names else None),
        statistics=statistics,
        annotations=annotations,
    )


# ---------------------------------------------------------------- file iterators


def remember_iterator_arguments(io_module: Any) -> None:
    """Make MXNet's C++ iterators (``mx.io.ImageRecordIter``, ...) keep the arguments they were created with.

    MXNet passes them to C++ and forgets them; the source file is among them.
    Called with ``mxnet.io`` once it is imported; the iterators are the same objects, with one attribute more.
    """
    for iterator_name in _FILE_ITERATORS:
        create = getattr(io_module, iterator_name, None)
        if create is None or getattr(create, "__wrapped__", None) is not None:
            continue
        remembering = _remembering(create)
        for module in (io_module, getattr(io_module, "io", None)):
            if module is not None and getattr(module, iterator_name, None) is create:
                setattr(module, iterator_name, remembering)


def _remembering(create: Any) -> Any:
    @functools.wraps(create)
    def created(*args: Any, **kwargs: Any) -> Any:
        iterator = create(*args, **kwargs)
        with contextlib.suppress(Exception):  # an iterator that takes no attributes: described without its file
            object.__setattr__(iterator, _ARGUMENTS, {"iterator": create.__name__, **kwargs})
        return iterator

    return created


def _file_iterator(iterator: Any, name: str | None, target: str | None) -> Dataset:
    arguments = getattr(iterator, _ARGUMENTS, None) or {}
    descriptions = [*iterator.provide_data, *(iterator.provide_label or [])]
    annotations = {"mxnet.kind": arguments.get("iterator", type(iterator).__name__)}
    annotations["mxnet.batch_size"] = str(iterator.batch_size)
    source = next((arguments[key] for key in _SOURCE_ARGUMENTS if arguments.get(key)), None)
    location = fingerprint = None
    row_count = None
    if source is None:
        annotations["mxnet.location"] = (
            "not known: the iterator was created before mltrack-mxnet was loaded (MXNet does not keep "
            "its arguments); create it after mltrack_core.connect() or give location="
        )
    else:
        path = Path(source).resolve()
        location = path.as_uri()
        index = arguments.get("path_imgidx")
        if index:
            annotations["mxnet.index"] = Path(index).resolve().as_uri()
            row_count = _line_count(Path(index))
        fingerprint, why_not = _file_fingerprint(path)
        if why_not:
            annotations["mxnet.fingerprint"] = why_not
    for key in ("data_shape", "label_width", "shuffle", "rand_crop", "rand_mirror", "mean_r", "scale"):
        if key in arguments:
            annotations[f"mxnet.{key}"] = str(arguments[key])
    statistics = [
        DataStatistic(name=BATCH_SHAPE, value=tuple(description.shape), columns=[description.name])
        for description in descriptions
    ]
    statistics += [
        DataStatistic(name=SAMPLE_SHAPE, value=tuple(description.shape[1:]), columns=[description.name])
        for description in descriptions
    ]
    label_names = [description.name for description in iterator.provide_label or []]
    return Dataset(
        name=name or (Path(source).name if source else annotations["mxnet.kind"]),
        location=location,
        fingerprint=fingerprint,
        row_count=row_count,
        schema=[TypedColumn(name=d.name, typing=_type_hint(d.dtype)) for d in descriptions],
        target=target or (label_names[0] if label_names else None),
        statistics=statistics,
        annotations=annotations,
    )


def _line_count(path: Path) -> int | None:
    try:
        with path.open("rb") as lines:
            return sum(1 for line in lines if line.strip())
    except OSError:
        return None


def _file_fingerprint(path: Path) -> tuple[str | None, str | None]:
    try:
        size = path.stat().st_size
        if size > MAX_HASHED_FILE_BYTES:
            return None, f"not computed: the file holds {size} bytes (more than {MAX_HASHED_FILE_BYTES} to read)"
        digest = hashlib.sha256()
        with path.open("rb") as content:
            for block in iter(lambda: content.read(1024 * 1024), b""):
                digest.update(block)
    except OSError as exc:
        return None, f"not computed: {exc}"
    return f"sha256:{digest.hexdigest()}", None


# ---------------------------------------------------------------- Gluon datasets and loaders


def _loader(loader: Any, name: str | None, target: str | None) -> Extraction:
    import mxnet as mx

    described = _gluon_dataset(loader._dataset, name, target)
    dataset = described.primary
    assert isinstance(dataset, Dataset)
    annotations = {**dataset.annotations, "mxnet.loader": "DataLoader"}
    statistics = list(dataset.statistics)
    sampler = loader._batch_sampler
    if isinstance(sampler, mx.gluon.data.BatchSampler):
        batch_size = sampler._batch_size
        annotations["mxnet.batch_size"] = str(batch_size)
        annotations["mxnet.last_batch"] = str(sampler._last_batch)
        annotations["mxnet.shuffle"] = str(isinstance(sampler._sampler, mx.gluon.data.RandomSampler)).lower()
        batchify = loader._batchify_fn
        default = mx.gluon.data.dataloader
        if batchify in (default.default_batchify_fn, default.default_mp_batchify_fn):  # stacks samples on axis 0
            statistics += [
                DataStatistic(name=BATCH_SHAPE, value=(batch_size, *statistic.value), columns=statistic.columns)
                for statistic in dataset.statistics
                if statistic.name == SAMPLE_SHAPE
            ]
    return Extraction(replace(dataset, statistics=statistics, annotations=annotations), related=described.related)


def _gluon_dataset(dataset: Any, name: str | None, target: str | None) -> Extraction:
    import mxnet as mx

    data = mx.gluon.data
    kind = type(dataset).__name__
    if isinstance(dataset, data.dataset._LazyTransformDataset):
        return _transformed(dataset, name, target)
    if isinstance(dataset, data.RecordFileDataset):
        return Extraction(_record_file_dataset(dataset, name, target))
    if isinstance(dataset, data.ArrayDataset):
        arrays = list(dataset._data)
    elif hasattr(dataset, "_data") and hasattr(dataset, "_label"):  # the vision datasets, once loaded
        arrays = [dataset._data, dataset._label]
    else:
        arrays = None
    count = len(dataset)
    first = dataset[0] if count else ()
    sample = list(first) if isinstance(first, tuple) else [first]
    names = _column_names(len(sample))
    annotations = {"mxnet.kind": kind}
    if arrays is not None and all(_is_array(array) for array in arrays):
        fingerprint, why_not = _fingerprint(arrays, as_set=False)
    elif isinstance(dataset, data.SimpleDataset):  # samples held in a list
        fingerprint, why_not = _samples_fingerprint(dataset, count)
    else:  # a dataset of one's own: reading every sample may read files, decode, augment
        fingerprint, why_not = None, f"not computed: {kind} computes its samples when read"
    if why_not:
        annotations["mxnet.fingerprint"] = why_not
    root = getattr(dataset, "_root", None)
    location = Path(root).resolve().as_uri() if isinstance(root, str) else None
    primary = Dataset(
        name=name or kind,
        location=location,
        fingerprint=fingerprint,
        row_count=count,
        schema=_schema(names, sample),
        target=target or ("label" if "label" in names else None),
        statistics=_sample_shapes(names, sample),
        annotations=annotations,
    )
    return Extraction(primary)


def _record_file_dataset(dataset: Any, name: str | None, target: str | None) -> Dataset:
    """A ``RecordFileDataset`` (``ImageRecordDataset``): its ``.rec`` file, its record count, one sample's shapes."""
    path = Path(dataset.filename).resolve()
    count = len(dataset)
    first = dataset[0] if count else ()
    sample = list(first) if isinstance(first, tuple) else [first]
    names = _column_names(len(sample))
    annotations = {"mxnet.kind": type(dataset).__name__, "mxnet.index": Path(dataset.idx_file).resolve().as_uri()}
    fingerprint, why_not = _file_fingerprint(path)
    if why_not:
        annotations["mxnet.fingerprint"] = why_not
    return Dataset(
        name=name or path.name,
        location=path.as_uri(),
        fingerprint=fingerprint,
        row_count=count,
        schema=_schema(names, sample),
        target=target or ("label" if "label" in names else None),
        statistics=_sample_shapes(names, sample),
        annotations=annotations,
    )


def _transformed(dataset: Any, name: str | None, target: str | None) -> Extraction:
    source = _gluon_dataset(dataset._data, None, None)
    base = source.primary
    function = dataset._fn
    inner = getattr(function, "_fn", function)  # transform_first wraps the function
    described = getattr(inner, "__qualname__", type(inner).__name__)
    how = f"transform_first({described})" if inner is not function else f"transform({described})"
    count = len(dataset)
    first = dataset[0] if count else ()
    sample = list(first) if isinstance(first, tuple) else [first]
    names = _column_names(len(sample))
    primary = Dataset(
        name=name or f"{base.name} {how}",
        row_count=count,
        schema=_schema(names, sample),
        target=target or ("label" if "label" in names else None),
        statistics=_sample_shapes(names, sample),
        derived_from=[base.id],
        derivation=how,
        annotations={
            "mxnet.kind": "transformed dataset",
            "mxnet.fingerprint": "not computed: the samples are computed by a function when read",
        },
    )
    return Extraction(primary, related=(base, *source.related))


def _schema(names: list[str], sample: list[Any]) -> list[TypedColumn]:
    return [
        TypedColumn(name=column, typing=_type_hint(_dtype(item))) for column, item in zip(names, sample, strict=True)
    ]


def _sample_shapes(names: list[str], sample: list[Any]) -> list[DataStatistic]:
    return [
        DataStatistic(name=SAMPLE_SHAPE, value=_shape(item), columns=[column])
        for column, item in zip(names, sample, strict=True)
    ]


def _column_names(count: int) -> list[str]:
    if count == 2:
        return ["data", "label"]
    return ["data"] if count == 1 else [f"data{index}" for index in range(count)]


# ---------------------------------------------------------------- fingerprints and shapes


def array_fingerprint(*arrays: Any) -> str:
    """A SHA-256 digest of the arrays' types, shapes and bytes (C order), NDArrays read in bounded blocks."""
    digest = hashlib.sha256()
    for array in arrays:
        _hash_array(digest, array)
    return f"sha256:{digest.hexdigest()}"


def _fingerprint(arrays: list[Any], *, as_set: bool) -> tuple[str | None, str | None]:
    size = sum(_nbytes(array) for array in arrays)
    if size > MAX_HASHED_BYTES:
        return None, f"not computed: the arrays hold {size} bytes (more than {MAX_HASHED_BYTES} to hash)"
    if as_set:
        return _rowset_fingerprint(arrays), None
    return array_fingerprint(*arrays), None


def _hash_array(digest: Any, array: Any) -> None:
    import numpy as np

    dtype = np.dtype(array.dtype)
    shape = tuple(array.shape)
    digest.update(f"{dtype.str}{shape}".encode())
    for block in _blocks(array):
        digest.update(memoryview(block).cast("B"))


def _blocks(array: Any) -> Any:
    """The array's rows as contiguous numpy blocks of at most :data:`BLOCK_BYTES` (NDArrays: copied by block)."""
    import numpy as np

    shape = tuple(array.shape)
    if not shape:
        yield np.ascontiguousarray(_numpy(array))
        return
    row_bytes = max(1, np.dtype(array.dtype).itemsize * math.prod(shape[1:]))
    rows = max(1, BLOCK_BYTES // row_bytes)
    for start in range(0, shape[0], rows):
        yield np.ascontiguousarray(_numpy(array[start : start + rows]))


def _rowset_fingerprint(arrays: list[Any]) -> str:
    """A digest of the rows as a multiset: row i of every array hashed together, the row hashes sorted."""
    import numpy as np

    count = int(arrays[0].shape[0])
    row_hashes = np.zeros(count, dtype=np.uint64)
    for position, array in enumerate(arrays):
        start = 0
        for block in _blocks(array):
            rows = block.reshape(len(block), -1) if block.ndim else block.reshape(1, -1)
            row_hashes[start : start + len(rows)] ^= _row_hashes(rows, seed=position)
            start += len(rows)
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(f"{np.dtype(array.dtype).str}{tuple(array.shape)}".encode())
    digest.update(np.sort(row_hashes).tobytes())
    return f"rowset-sha256:{digest.hexdigest()}"


def _row_hashes(rows: Any, seed: int) -> Any:
    """A 64-bit hash of each row's bytes: the words multiplied by odd constants, summed, then mixed."""
    import numpy as np

    raw = np.ascontiguousarray(rows).view(np.uint8).reshape(len(rows), -1)
    padding = (-raw.shape[1]) % 8
    if padding:
        raw = np.pad(raw, ((0, 0), (0, padding)))
    words = raw.view(np.uint64)
    constants = np.random.default_rng(0x6D6C7472 + seed).integers(1, 2**63, size=words.shape[1], dtype=np.uint64)
    constants |= np.uint64(1)
    with np.errstate(over="ignore"):
        mixed = (words * constants).sum(axis=1, dtype=np.uint64)
        mixed ^= mixed >> np.uint64(31)
        mixed *= np.uint64(0x9E3779B97F4A7C15)
        mixed ^= mixed >> np.uint64(29)
    return mixed


def _samples_fingerprint(dataset: Any, count: int) -> tuple[str | None, str | None]:
    """A digest of the samples, read one by one: for datasets of arrays or numbers held in a list."""
    if count > MAX_HASHED_SAMPLES:
        return None, f"not computed: {count} samples to read one by one (more than {MAX_HASHED_SAMPLES})"
    digest = hashlib.sha256()
    for index in range(count):
        item = dataset[index]
        for part in item if isinstance(item, tuple) else (item,):
            if _is_array(part):
                _hash_array(digest, part)
            elif isinstance(part, (int, float, str, bool)):
                digest.update(repr(part).encode())
            else:
                return None, f"not computed: a sample holds a {type(part).__name__}, not arrays or numbers"
    return f"sha256:{digest.hexdigest()}", None


def _is_array(value: Any) -> bool:
    readable = hasattr(value, "asnumpy") or hasattr(value, "tobytes")
    return readable and hasattr(value, "shape") and hasattr(value, "dtype")


def _numpy(array: Any) -> Any:
    import numpy as np

    return array.asnumpy() if hasattr(array, "asnumpy") else np.asarray(array)


def _nbytes(array: Any) -> int:
    import numpy as np

    return int(np.dtype(array.dtype).itemsize * math.prod(array.shape))


def _shape(item: Any) -> tuple[int, ...]:
    shape = getattr(item, "shape", None)
    return tuple(int(size) for size in shape) if shape is not None else ()


def _dtype(item: Any) -> Any:
    dtype = getattr(item, "dtype", None)
    if dtype is not None:
        return dtype
    return type(item)


def _type_hint(dtype: Any) -> TypeHint:
    import numpy as np

    if isinstance(dtype, type) and dtype in _PYTHON_HINTS:  # a number or text sample (numpy dtypes equal them too)
        return _PYTHON_HINTS[dtype]
    try:
        kind = np.dtype(dtype)
    except TypeError:
        return TypeHint.UNKNOWN
    if kind.kind in "iu":
        return TypeHint.INT if kind.itemsize <= 4 else TypeHint.LONG
    return _DTYPE_HINTS.get(f"{kind.kind}{kind.itemsize}", TypeHint.UNKNOWN)


def shapes_by_column(dataset: Dataset, statistic: str = BATCH_SHAPE) -> Mapping[str, tuple[int, ...]]:
    """The shapes a described dataset records per column (``batch_shape`` or ``sample_shape``)."""
    return {s.columns[0]: tuple(s.value) for s in dataset.statistics if s.name == statistic and len(s.columns) == 1}
