"""Dataset meta-features: what makes two datasets alike, for recommending algorithms from similar datasets' history.

A dataset records them as dataset-level statistics (``columns=()``) named
``meta.*`` (:data:`META_FEATURES`), every value a float; a meta-feature that
cannot be computed is left out (no target: no class features nor landmarkers; a
continuous target: a regression, no class features):

* ``meta.rows``: rows of the whole data; ``meta.features``: its columns without the target;
  ``meta.numeric_share`` and ``meta.categorical_share``: the share of numeric and of categorical
  (non-numeric: strings, booleans, categories) features among those described;
  ``meta.missing_ratio``: missing cells / feature cells of the described sample;
* ``meta.classes``: distinct target values, for a categorical target or one of integral values with at most
  :data:`MAX_CLASSES` of them; ``meta.class_entropy``: the entropy of their frequencies in bits;
  ``meta.minority_share``: the frequency of the rarest one / rows;
* landmarkers, the accuracy of trivially cheap learners on at most :data:`LANDMARK_ROWS` evenly spaced rows
  and :data:`MAX_LANDMARK_FEATURES` features (numeric columns with missing values replaced by the column's
  mean, categorical columns as integer codes, all standardized), never measured on the rows learnt from:
  ``meta.landmark.stump`` (the best of :data:`STUMP_THRESHOLDS` quantile thresholds on one feature, 2-fold),
  ``meta.landmark.naive_bayes``
  (Gaussian naive Bayes, 2-fold), ``meta.landmark.one_nn`` (1-nearest neighbour, leave-one-out);
  ``meta.landmark_rows`` is the number of rows they used. The folds come from a fixed seed: the same sample
  gives the same values.

:func:`meta_features` reads them back as a plain dict, and derives them from the qualities OpenML computed
for a dataset imported from OpenML (see :func:`openml_meta_features`). Reading needs no numpy; computing
(:func:`meta_feature_statistics`, :func:`landmark_statistics`) imports it when called.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mltrack_core.schema import Dataset, DataStatistic

__all__ = [
    "LANDMARK_ROWS",
    "MAX_CLASSES",
    "MAX_LANDMARK_FEATURES",
    "META_FEATURES",
    "class_codes",
    "class_statistics",
    "landmark_statistics",
    "meta_feature_statistics",
    "meta_features",
    "meta_features_of_document",
    "openml_meta_features",
    "sample_landmark_statistics",
    "table_statistics",
]

META_FEATURES: tuple[str, ...] = (
    "meta.rows",
    "meta.features",
    "meta.numeric_share",
    "meta.categorical_share",
    "meta.missing_ratio",
    "meta.classes",
    "meta.class_entropy",
    "meta.minority_share",
    "meta.landmark.stump",
    "meta.landmark.naive_bayes",
    "meta.landmark.one_nn",
    "meta.landmark_rows",
)
LANDMARK_ROWS = 1_000
MAX_LANDMARK_FEATURES = 100
MAX_CLASSES = 100
"""A target with more distinct values than this is taken for a regression target: no class features."""
MIN_LANDMARK_ROWS = 10
SEED = 0

STUMP_THRESHOLDS = 63
"""Thresholds the stump landmarker tries per feature (quantiles of the feature in the rows it learns from)."""


# ---------------------------------------------------------------- reading


def meta_features(dataset: Dataset) -> dict[str, float]:
    """The dataset's meta-features by name, in the order of :data:`META_FEATURES`.

    Its ``meta.*`` statistics; for a dataset imported from OpenML without them, derived from its OpenML
    qualities (``NumberOfInstances``, ...); ``{}`` when it has neither. Pure Python (no numpy).
    """
    statistics = [(statistic.name, statistic.value) for statistic in dataset.statistics if not statistic.columns]
    return _meta_features(statistics, has_target=dataset.target is not None)


def meta_features_of_document(document: Mapping[str, Any]) -> dict[str, float]:
    """:func:`meta_features` of a dataset's stored JSON document, without building the :class:`Dataset`.

    Values that are not finite numbers (``"NaN"``, ``"Infinity"`` as standard JSON spells them) count as absent.
    """
    statistics = [
        (statistic.get("name"), statistic.get("value"))
        for statistic in document.get("statistics") or ()
        if isinstance(statistic, Mapping) and not statistic.get("columns")
    ]
    return _meta_features(statistics, has_target=document.get("target") is not None)


def _meta_features(statistics: Sequence[tuple[Any, Any]], *, has_target: bool) -> dict[str, float]:
    """The ``meta.*`` values among the dataset-level (name, value) ``statistics``, else those of OpenML qualities."""
    recorded = {name: value for name, value in statistics if isinstance(name, str) and name.startswith("meta.")}
    found = {name: float(recorded[name]) for name in META_FEATURES if _is_number(recorded.get(name))}
    if found:
        return found
    return openml_meta_features(dict(statistics), has_target=has_target)


def openml_meta_features(qualities: Mapping[str, Any], *, has_target: bool = True) -> dict[str, float]:
    """The meta-features of a dataset from the qualities OpenML computed for it (``{}`` without any).

    OpenML's ``NumberOfFeatures`` counts every column, the target included, and so do
    ``NumberOfNumericFeatures`` + ``NumberOfSymbolicFeatures`` on today's OpenML (the target of a
    classification task is symbolic), but not on documents from before 2015 (anneal's fixture: 6 + 32 of 39):
    the target is taken out of the counts only when they add up to every column. Missing cells and the
    minority class come from the counts (``NumberOfMissingValues``, ``MinorityClassSize``), else from the
    percentages; a class entropy OpenML did not compute (-1) and an empty minority class are left out.
    ``NumberOfClasses`` counts the declared classes, empty ones too (anneal: 6, one without rows).

    Args:
        qualities: quality name -> value, as OpenML names them (non-numeric values are ignored).
        has_target: whether the dataset has a target column (counted in ``NumberOfFeatures``).
    """
    quality = {name: float(value) for name, value in qualities.items() if isinstance(name, str) and _is_number(value)}
    found: dict[str, float] = {}
    rows = quality.get("NumberOfInstances")
    if rows is not None:
        found["meta.rows"] = rows
    columns = quality.get("NumberOfFeatures")
    classes = quality.get("NumberOfClasses")
    classification = classes is not None and classes > 0
    features = None
    if columns is not None:
        features = max(0.0, columns - 1) if has_target else columns
        found["meta.features"] = features
    numeric, symbolic = quality.get("NumberOfNumericFeatures"), quality.get("NumberOfSymbolicFeatures")
    if features and numeric is not None and symbolic is not None:
        if has_target and numeric + symbolic == columns:
            symbolic, numeric = (symbolic - 1, numeric) if classification else (symbolic, numeric - 1)
        found["meta.numeric_share"] = _share(numeric, features)
        found["meta.categorical_share"] = _share(symbolic, features)
    missing = quality.get("NumberOfMissingValues")
    if missing is not None and rows and features:
        found["meta.missing_ratio"] = _share(missing, rows * features)
    elif "PercentageOfMissingValues" in quality:
        found["meta.missing_ratio"] = _share(quality["PercentageOfMissingValues"], 100.0)
    if classification:
        found["meta.classes"] = classes  # type: ignore[assignment]
        entropy = quality.get("ClassEntropy")
        if entropy is not None and entropy >= 0:
            found["meta.class_entropy"] = entropy
        minority = quality.get("MinorityClassSize")
        if minority is not None and rows:
            if minority > 0:
                found["meta.minority_share"] = _share(minority, rows)
        elif quality.get("MinorityClassPercentage", 0.0) > 0:
            found["meta.minority_share"] = _share(quality["MinorityClassPercentage"], 100.0)
        for name, errors in (
            ("meta.landmark.stump", ("DecisionStumpErrRate",)),
            ("meta.landmark.naive_bayes", ("NaiveBayesErrRate",)),
            ("meta.landmark.one_nn", ("kNN1NErrRate", "kNN_1NErrRate")),
        ):
            error = next((quality[key] for key in errors if key in quality), None)
            if error is not None and 0.0 <= error <= 1.0:
                found[name] = 1.0 - error
    return {name: found[name] for name in META_FEATURES if name in found}


# ---------------------------------------------------------------- computing


def table_statistics(
    *, rows: int, features: int, numeric: int, categorical: int, described: int, missing: int, cells: int
) -> list[DataStatistic]:
    """``meta.rows``, ``meta.features``, the shares and the missing ratio, from counts (pure Python).

    Args:
        rows: rows of the whole data.
        features: columns of the whole data, without the target.
        numeric: numeric features among the ``described`` ones.
        categorical: categorical (string, boolean) features among the ``described`` ones.
        described: the features the shares are of (the described columns without the target).
        missing: missing cells of the described features in the described rows.
        cells: the described features' cells in the described rows.
    """
    found = {"meta.rows": float(rows), "meta.features": float(features)}
    if described:
        found["meta.numeric_share"] = numeric / described
        found["meta.categorical_share"] = categorical / described
    if cells:
        found["meta.missing_ratio"] = missing / cells
    return _statistics(found)


def class_statistics(counts: Sequence[int]) -> list[DataStatistic]:
    """``meta.classes``, ``meta.class_entropy`` and ``meta.minority_share`` from the classes' counts (pure Python).

    ``[]`` for more than :data:`MAX_CLASSES` classes (a regression target) or no labelled row.
    """
    counts = [int(count) for count in counts if count > 0]
    total = sum(counts)
    if not counts or len(counts) > MAX_CLASSES:
        return []
    entropy = -sum(count / total * math.log2(count / total) for count in counts)
    return _statistics(
        {
            "meta.classes": float(len(counts)),
            "meta.class_entropy": entropy + 0.0,
            "meta.minority_share": min(counts) / total,
        }
    )


def class_codes(target: Any, *, categorical: bool) -> Any:
    """The target's class codes (0, 1, ...; -1 where missing), or None when it is a regression target.

    Args:
        target: 1-d float array, NaN where missing: the target's values, or the codes of a categorical target.
        categorical: whether the values are codes of a categorical (string, boolean) target.
    """
    import numpy as np

    values = np.asarray(target, dtype=np.float64)
    known = np.isfinite(values)
    if not categorical and not np.array_equal(values[known], np.round(values[known])):
        return None
    classes, codes = np.unique(values[known], return_inverse=True)
    if len(classes) > MAX_CLASSES:
        return None
    found = np.full(len(values), -1, dtype=np.int64)
    found[known] = codes.reshape(-1)
    return found


def meta_feature_statistics(
    *,
    rows: int,
    numeric: Any,
    categorical: Any,
    target: Any = None,
    categorical_target: bool = False,
    features: int | None = None,
) -> list[DataStatistic]:
    """Every meta-feature of a bounded sample of a dataset (numpy, imported here).

    Args:
        rows: rows of the whole data.
        numeric: the sample's numeric features, a 2-d float array (sample rows x features), NaN where missing.
        categorical: the sample's categorical features as integer codes (sample rows x features), -1 where missing.
        target: the sample's target, a 1-d float array (NaN where missing), or None without a target.
        categorical_target: whether ``target`` holds the codes of a categorical target (else its values).
        features: the features of the whole data, when the sample describes fewer (default: the sample's).
    """
    import numpy as np

    numeric = np.asarray(numeric, dtype=np.float64)
    categorical = np.asarray(categorical, dtype=np.int64)
    described = numeric.shape[1] + categorical.shape[1]
    sample_rows = numeric.shape[0]
    missing = int(np.isnan(numeric).sum()) + int((categorical < 0).sum())
    found = table_statistics(
        rows=rows,
        features=described if features is None else features,
        numeric=numeric.shape[1],
        categorical=categorical.shape[1],
        described=described,
        missing=missing,
        cells=sample_rows * described,
    )
    if target is None:
        return found
    codes = class_codes(target, categorical=categorical_target)
    if codes is None:
        return found
    found += class_statistics(np.bincount(codes[codes >= 0]).tolist() if (codes >= 0).any() else [])
    return found + landmark_statistics(_landmark_features(numeric, categorical), codes)


def sample_landmark_statistics(
    *, numeric: Any, categorical: Any, target: Any, categorical_target: bool = False
) -> list[DataStatistic]:
    """The landmarkers alone, of a sample given as to :func:`meta_feature_statistics` (``[]`` for a regression).

    For a caller that counted rows, missing values and classes otherwise (Spark, on the whole data).
    """
    import numpy as np

    codes = class_codes(target, categorical=categorical_target)
    if codes is None:
        return []
    numeric = np.asarray(numeric, dtype=np.float64)
    return landmark_statistics(_landmark_features(numeric, np.asarray(categorical, dtype=np.int64)), codes)


def landmark_statistics(features: Any, codes: Any) -> list[DataStatistic]:
    """The landmarkers' accuracies on at most :data:`LANDMARK_ROWS` evenly spaced labelled rows (numpy).

    ``[]`` with fewer than :data:`MIN_LANDMARK_ROWS` labelled rows, one class or no feature.

    Args:
        features: 2-d float array without missing values (rows x features); at most
            :data:`MAX_LANDMARK_FEATURES` are used, standardized here.
        codes: the rows' class codes (0, 1, ...), -1 where the target is missing.
    """
    import numpy as np

    codes = np.asarray(codes, dtype=np.int64)
    labelled = np.flatnonzero(codes >= 0)
    if len(labelled) > LANDMARK_ROWS:
        labelled = labelled[np.arange(LANDMARK_ROWS) * len(labelled) // LANDMARK_ROWS]
    x = np.asarray(features, dtype=np.float64)[labelled, :MAX_LANDMARK_FEATURES]
    _, y = np.unique(codes[labelled], return_inverse=True)
    y = y.reshape(-1)
    if len(y) < MIN_LANDMARK_ROWS or x.shape[1] == 0 or y.max() == 0:
        return []
    std = x.std(axis=0)
    keep = std > 0
    x = (x[:, keep] - x[:, keep].mean(axis=0)) / std[keep]
    if x.shape[1] == 0:
        return []
    classes = int(y.max()) + 1
    first = np.zeros(len(y), dtype=bool)
    first[np.random.default_rng(SEED).permutation(len(y))[: len(y) // 2]] = True
    return _statistics(
        {
            "meta.landmark.stump": _two_fold(_stump, x, y, first, classes),
            "meta.landmark.naive_bayes": _two_fold(_naive_bayes, x, y, first, classes),
            "meta.landmark.one_nn": _one_nn(x, y),
            "meta.landmark_rows": float(len(y)),
        }
    )


def _landmark_features(numeric: Any, categorical: Any) -> Any:
    """Numeric columns with missing values replaced by the column's mean (0 when all are missing), then codes."""
    import numpy as np

    numeric = numeric[:, :MAX_LANDMARK_FEATURES]
    categorical = categorical[:, : MAX_LANDMARK_FEATURES - numeric.shape[1]].astype(np.float64)
    finite = np.isfinite(numeric)
    count = finite.sum(axis=0)
    means = np.where(finite, numeric, 0.0).sum(axis=0) / np.maximum(count, 1)
    return np.hstack([np.where(finite, numeric, means), categorical])


def _two_fold(learner: Any, x: Any, y: Any, first: Any, classes: int) -> float:
    """Accuracy over every row of ``learner`` trained on the other fold (``learner(train x, train y, test x)``)."""
    correct = 0
    for train in (first, ~first):
        correct += int((learner(x[train], y[train], x[~train], classes) == y[~train]).sum())
    return correct / len(y)


def _stump(x: Any, y: Any, test: Any, classes: int) -> Any:
    """Predictions of the best single-feature threshold split of (``x``, ``y``), majority class on each side.

    The thresholds tried are :data:`STUMP_THRESHOLDS` order statistics of each feature (every value when there
    are fewer rows), so the cost is one count of (feature, bucket, class) rows after one sort.
    """
    import numpy as np

    rows, width = x.shape
    order = np.argsort(x, axis=0, kind="stable")
    values = np.take_along_axis(x, order, axis=0)  # each feature sorted
    positions = np.unique(np.linspace(0, rows - 1, STUMP_THRESHOLDS + 2).astype(np.int64)[1:-1])
    cuts = values[positions]  # thresholds x features: order statistics of each feature
    # rows below a threshold: those before its position, counting equal values from the first of them
    first = np.where(np.diff(values, axis=0, prepend=np.nan) != 0, np.arange(rows)[:, None], 0)
    bucket = np.searchsorted(positions, np.maximum.accumulate(first, axis=0))  # thresholds below each value
    keys = (np.arange(width) * (len(positions) + 1) + bucket) * classes + y[order]
    counts = np.bincount(keys.ravel(), minlength=width * (len(positions) + 1) * classes)
    counts = counts.reshape(width, len(positions) + 1, classes)
    below = counts.cumsum(axis=1)[:, :-1]  # features x thresholds x classes: the rows at or below each threshold
    total = np.bincount(y, minlength=classes)
    score = below.max(axis=2) + (total - below).max(axis=2)
    feature, cut = np.unravel_index(int(score.argmax()), score.shape)
    if score[feature, cut] <= total.max():  # no split beats predicting the majority class
        return np.full(len(test), int(total.argmax()))
    left = below[feature, cut]
    return np.where(test[:, feature] <= cuts[cut, feature], int(left.argmax()), int((total - left).argmax()))


def _naive_bayes(x: Any, y: Any, test: Any, classes: int) -> Any:
    """Predictions of Gaussian naive Bayes fitted on (``x``, ``y``), variances smoothed as scikit-learn does."""
    import numpy as np

    counts = np.bincount(y, minlength=classes).astype(np.float64)
    present = counts > 0
    onehot = np.zeros((len(y), classes))
    onehot[np.arange(len(y)), y] = 1.0
    size = np.maximum(counts, 1.0)[:, None]
    mean = onehot.T @ x / size
    variance = np.maximum(onehot.T @ (x * x) / size - mean * mean, 0.0) + 1e-9 * max(float(x.var(axis=0).max()), 1e-12)
    inverse = 1.0 / variance
    likelihood = (
        -0.5 * np.log(2 * np.pi * variance).sum(axis=1)
        - 0.5 * ((test * test) @ inverse.T - 2 * test @ (mean * inverse).T + (mean * mean * inverse).sum(axis=1))
        + np.log(np.maximum(counts, 1.0) / len(y))
    )
    likelihood[:, ~present] = -np.inf
    return likelihood.argmax(axis=1)


def _one_nn(x: Any, y: Any) -> float:
    """Leave-one-out accuracy of the 1-nearest neighbour (Euclidean; ties to the first row).

    In single precision, about twice as fast; standardized features lose no neighbour to rounding that matters.
    """
    import numpy as np

    x = x.astype(np.float32)
    norms = (x * x).sum(axis=1)
    distances = norms[:, None] + norms[None, :] - 2 * (x @ x.T)
    np.fill_diagonal(distances, np.inf)
    return float((y[distances.argmin(axis=1)] == y).mean())


# ---------------------------------------------------------------- helpers


def _statistics(found: Mapping[str, float]) -> list[DataStatistic]:
    return [DataStatistic(name=name, value=float(found[name])) for name in META_FEATURES if name in found]


def _share(part: float, whole: float) -> float:
    return min(1.0, max(0.0, part / whole)) if whole else 0.0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
