"""Do ``tracker.recommend`` picks beat simple rules? Leave-one-dataset-out regret, then the cost in a 1M store.

1. History, recorded by mltrack itself: classification datasets (the ones that
   ship with scikit-learn, the OpenML datasets whose data ships in
   scikit-learn's wheel, and generated ones of varied shape, balance, noise and
   column types; at most 800 rows each) x a fixed grid of 16 configurations of
   7 algorithm families (each family's library defaults among them), each
   evaluated with ``mltrack_sklearn.cross_validate`` (stratified 5-fold,
   accuracy) into an SQLite store. The mean CV accuracies scikit-learn returns
   form the scores matrix (dataset x configuration) that regrets are read from.
2. Leave-one-dataset-out: for each dataset, ``tracker.recommend(dataset,
   "accuracy", k=3)`` over the store holding every dataset's history (the
   recommender never uses the held-out dataset's own evaluations). Regret = the
   best mean CV accuracy the grid reaches on that dataset minus the best of the
   3 picks, in accuracy points (pp). Baselines from the same matrix, each
   computed without the held-out dataset: "defaults" (the 3 library-default
   configurations best on average), "best on average" (the 3 configurations of
   best mean normalised score, and of best mean rank) and "random" (3 at random:
   the exact expectation over every triple).
3. Cost: a store of N evaluations (1,000 per dataset: 200 configurations of a
   grid of 10 algorithms x 5 folds, each with its model and fold datasets; the
   datasets carry the ``meta.*`` statistics of the real datasets above,
   jittered), written with ``tracker.write`` in batches of about 50,000
   entities; then ``recommend`` on 10 of its datasets, median and max, cold
   (a fresh tracker per call, as a CLI call) and warm (one tracker).

Run: ``nox -s benchmarks`` (``--quick``) or
``python benchmarks/recommend_bench.py [--quick] [--evaluations N] [--history DIR] [--store PATH] [--verbose]``.
``--quick``: 12 datasets and a 100,000-evaluation store. A history recorded
once in ``--history`` and a cost store built once in ``--store`` are reused by
later runs. ``--verbose`` prints each dataset's picks. ``--tuning`` runs the
leave-one-out alone on the collection the recommender's settings were chosen
on (30 other generated datasets: ``generated_datasets(30, seed=61,
first_seed=5000)``), never on the reported one. Never asserts a time.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_circles,
    make_classification,
    make_gaussian_quantiles,
    make_hastie_10_2,
    make_moons,
)
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

import mltrack_core as mt
import mltrack_sklearn

MAX_ROWS = 800
K = 3
PROCEDURE = "5-fold cross-validation"
TIE = 1e-9  # mean CV accuracies closer than this are equal

# ---------------------------------------------------------------- datasets


@dataclass(frozen=True)
class Data:
    """One classification dataset: features (numbers and pandas categories) and integer labels."""

    name: str
    X: pd.DataFrame
    y: pd.Series


def _finish(name: str, X: pd.DataFrame, y: Any) -> Data:
    """Integer labels, string column names, at most MAX_ROWS rows (a stratified subsample)."""
    codes, _ = pd.factorize(pd.Series(y).astype(str), sort=True)
    y = pd.Series(codes, name="target")
    X = X.reset_index(drop=True)
    X.columns = [str(column) for column in X.columns]
    if len(X) > MAX_ROWS:
        X, _, y, _ = train_test_split(X, y, train_size=MAX_ROWS, stratify=y, random_state=0)
        X, y = X.reset_index(drop=True), y.reset_index(drop=True)
    return Data(name, X, y)


def sklearn_datasets() -> list[Data]:
    """The classification datasets that ship with scikit-learn."""
    loaders = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
    found = []
    for name, load in loaders.items():
        X, y = load(return_X_y=True, as_frame=True)
        found.append(_finish(name, X, y))
    return found


# The OpenML datasets whose whole data ships in scikit-learn's wheel (its test data), by OpenML id. Not used:
# anneal (ids 1 and 2, the shared fixture's dataset: 11 and 15 of its 898 rows ship), adult (1119, 1590: 10 rows),
# miceprotein (40966: 7 rows), emotions (40589: multi-label, 13 rows), iris (61: the same data as load_iris, whose
# twin in the history would hand the recommender the held-out answer), cpu (561) and wine_reviews (42074): regression.
OPENML = {3: (), 62: (), 292: (), 40675: (), 40945: ("body",), 42585: ()}  # id -> columns to drop besides ids/text
# Titanic's "body" (the body number of a victim who was found) gives the label away.


def openml_datasets() -> list[Data]:
    """OpenML datasets read from the ARFF files in scikit-learn's wheel with liac-arff; categoricals as categories."""
    import arff  # liac-arff

    root = Path(sklearn.__file__).parent / "datasets" / "tests" / "data" / "openml"
    found = []
    for openml_id, leaks in OPENML.items():
        folder = root / f"id_{openml_id}"
        with gzip.open(next(folder.glob(f"api-v1-jd-{openml_id}.json.gz")), "rt") as handle:
            description = json.load(handle)["data_set_description"]
        with gzip.open(next(folder.glob("data-v1-dl-*.arff.gz")), "rt") as handle:
            content = arff.load(handle)
        names = [name for name, _ in content["attributes"]]
        frame = pd.DataFrame(content["data"], columns=names)
        ignored = description.get("ignore_attribute") or []
        ignored = [ignored] if isinstance(ignored, str) else ignored
        dropped = {description.get("row_id_attribute"), *ignored, *leaks}
        target = description["default_target_attribute"]
        columns = {}
        for name, kind in content["attributes"]:
            if name in dropped or name == target or kind == "STRING":  # ids, leaks and free text
                continue
            if isinstance(kind, list):  # nominal: its declared values are the categories
                declared = [value for value in kind if value is not None]
                columns[name] = pd.Categorical(frame[name], categories=declared)
            else:
                columns[name] = pd.to_numeric(frame[name], errors="coerce")
        found.append(_finish(description["name"], pd.DataFrame(columns), frame[target]))
    return found


def _binned(X: np.ndarray, columns: int, rng: np.random.Generator) -> pd.DataFrame:
    """A frame of ``X`` whose first ``columns`` columns are binned into 3-8 unordered categories."""
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    for i in range(columns):
        bins = int(rng.integers(3, 9))
        labels = [f"c{j}" for j in rng.permutation(bins)]  # shuffled labels: the order is lost, as in nominal data
        frame[f"x{i}"] = pd.cut(frame[f"x{i}"], bins=bins, labels=labels).astype("category")
    return frame


def generated_datasets(count: int, seed: int = 16, first_seed: int = 100) -> list[Data]:
    """``count`` datasets: scikit-learn's generators with seeded, varied shape, balance, noise and column types.

    ``seed`` draws the shapes; the generators are seeded ``first_seed``, ``first_seed + 1``, ...
    """
    rng = np.random.default_rng(seed)
    found = []
    shaped = [
        ("moons", lambda s: make_moons(400, noise=0.1, random_state=s)),
        ("moons-noisy", lambda s: make_moons(600, noise=0.35, random_state=s)),
        ("circles", lambda s: make_circles(400, noise=0.05, factor=0.5, random_state=s)),
        ("circles-noisy", lambda s: make_circles(600, noise=0.2, factor=0.6, random_state=s)),
        ("quantiles-2d", lambda s: make_gaussian_quantiles(n_samples=500, n_features=2, n_classes=3, random_state=s)),
        ("quantiles-6d", lambda s: make_gaussian_quantiles(n_samples=700, n_features=6, n_classes=2, random_state=s)),
        ("hastie", lambda s: make_hastie_10_2(n_samples=800, random_state=s)),
    ]
    for index in range(count):
        seed = first_seed + index
        if index % 4 == 3 and shaped:  # every 4th: a non-linear shape
            name, make = shaped.pop(0)
            X, y = make(seed)
            found.append(_finish(name, pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), y))
            continue
        features = int(rng.choice([4, 8, 15, 30, 60]))
        classes = int(rng.choice([2, 2, 3, 5]))
        informative = max(2, min(features, int(features * rng.uniform(0.2, 1.0))))
        while classes * 2 > 2**informative:  # make_classification: n_classes * n_clusters_per_class <= 2**informative
            informative += 1
        features = max(features, informative)
        balance = None
        if rng.random() < 0.4:  # imbalanced: class shares drawn at random, none below 6%
            shares = np.maximum(rng.dirichlet(np.full(classes, 1.5)), 0.06)
            balance = list(shares[:-1] / shares.sum())
        X, y = make_classification(
            n_samples=int(rng.choice([150, 300, 500, 800])),
            n_features=features,
            n_informative=informative,
            n_redundant=min(features - informative, int(rng.integers(0, 4))),
            n_classes=classes,
            weights=balance,
            flip_y=float(rng.choice([0.0, 0.03, 0.1, 0.25])),
            class_sep=float(rng.uniform(0.5, 2.0)),
            random_state=seed,
        )
        categorical = int(min(features, rng.integers(2, 6))) if index % 5 == 1 else 0
        name = f"classification-{index}" + (f"-{categorical}cat" if categorical else "")
        frame = _binned(X, categorical, rng)
        if index % 6 == 2:  # 10% of the values missing, at random
            frame = frame.mask(rng.random(frame.shape) < 0.1)
            name += "-missing"
        found.append(_finish(name, frame, y))
    return found


# ---------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Config:
    """One configuration of the grid: a label, its family, the estimator, whether it is the library default."""

    label: str
    family: str
    estimator: Callable[[], Any]
    default: bool


CONFIGS = [
    Config("logreg C=0.01", "LogisticRegression", lambda: LogisticRegression(C=0.01), False),
    Config("logreg (defaults)", "LogisticRegression", lambda: LogisticRegression(), True),
    Config("logreg C=100", "LogisticRegression", lambda: LogisticRegression(C=100), False),
    Config("knn k=1", "KNeighbors", lambda: KNeighborsClassifier(1), False),
    Config("knn (defaults, k=5)", "KNeighbors", lambda: KNeighborsClassifier(), True),
    Config("knn k=25", "KNeighbors", lambda: KNeighborsClassifier(25), False),
    Config("tree depth 3", "DecisionTree", lambda: DecisionTreeClassifier(max_depth=3, random_state=0), False),
    Config("tree depth 10", "DecisionTree", lambda: DecisionTreeClassifier(max_depth=10, random_state=0), False),
    Config("tree (defaults)", "DecisionTree", lambda: DecisionTreeClassifier(random_state=0), True),
    Config("forest (defaults)", "RandomForest", lambda: RandomForestClassifier(random_state=0), True),
    Config(
        "forest all features", "RandomForest", lambda: RandomForestClassifier(max_features=1.0, random_state=0), False
    ),
    Config("hgb (defaults)", "HistGradientBoosting", lambda: HistGradientBoostingClassifier(random_state=0), True),
    Config(
        "hgb rate 0.3",
        "HistGradientBoosting",
        lambda: HistGradientBoostingClassifier(learning_rate=0.3, random_state=0),
        False,
    ),
    Config("gaussian nb (defaults)", "GaussianNB", lambda: GaussianNB(), True),
    Config("svc rbf (defaults, C=1)", "SVC", lambda: SVC(), True),
    Config("svc rbf C=100", "SVC", lambda: SVC(C=100), False),
]


def pipeline(config: Config) -> Pipeline:
    """The same preparation for every dataset (so equal configurations record equal hyperparameters)."""
    prepare = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), make_column_selector(dtype_include="number")),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", sparse_output=False)
                ),
                make_column_selector(dtype_exclude="number"),
            ),
        ],
        sparse_threshold=0,
    )
    return Pipeline([("prepare", prepare), ("model", config.estimator())])


def pairs(hyperparameters: Sequence[mt.Parameter]) -> frozenset[tuple[str, str]]:
    """Each hyperparameter as (name, its value in JSON)."""
    return frozenset((p.name, json.dumps(p.value, sort_keys=True, default=str)) for p in hyperparameters)


# ---------------------------------------------------------------- history and leave-one-out


def record_history(tracker: mt.Tracker, datasets: list[Data], say: Callable[[str], None]) -> tuple[np.ndarray, list]:
    """Cross-validate every configuration on every dataset through mltrack; the scores matrix and the dataset ids."""
    scores = np.zeros((len(datasets), len(CONFIGS)))
    ids = []
    splitter = StratifiedKFold(5, shuffle=True, random_state=0)
    for i, data in enumerate(datasets):
        started = time.perf_counter()
        ids.append(tracker.track_dataset(data.X, name=data.name, target=data.y).id)
        for j, config in enumerate(CONFIGS):
            results = mltrack_sklearn.cross_validate(
                pipeline(config), data.X, data.y, cv=splitter, scoring="accuracy", tracker=tracker, name=config.label
            )
            scores[i, j] = float(np.mean(results["test_score"]))
        shape = f"{data.X.shape[0]} x {data.X.shape[1]}, {data.y.nunique()} classes"
        say(f"  {i + 1:2}/{len(datasets)} {data.name} ({shape}): {time.perf_counter() - started:.1f} s")
    tracker.flush(timeout=None)
    return scores, ids


def grid_columns(tracker: mt.Tracker) -> Callable[[Any], int | None]:
    """A function from a recommendation to its column in the scores matrix (None: not one of the grid's).

    The recommender may leave out settings that do not change what is learnt
    (``random_state``, ``n_jobs``...), so a recommendation matches the one
    configuration whose recorded models hold all of its hyperparameters.
    """
    recorded = []
    for config in CONFIGS:
        model = tracker.find("model", name=f"{config.label} split 1/5", limit=1)[0]
        recorded.append((model.learning_algorithm, pairs(model.hyperparameters)))

    def column(item: Any) -> int | None:
        wanted = pairs(item.hyperparameters)
        found = [
            j for j, (algorithm, held) in enumerate(recorded) if algorithm == item.learning_algorithm and wanted <= held
        ]
        return found[0] if len(found) == 1 else None

    return column


def normalised(scores: np.ndarray) -> np.ndarray:
    """Each row scaled to [0, 1]: (score - worst) / (best - worst); a row of equal scores is all 1."""
    low, high = scores.min(axis=1, keepdims=True), scores.max(axis=1, keepdims=True)
    spread = np.where(high - low > 0, high - low, 1.0)
    return np.where(high - low > 0, (scores - low) / spread, 1.0)


def mean_ranks(scores: np.ndarray) -> np.ndarray:
    """Mean rank of each column over the rows (1 = best; ties share their mean rank)."""
    from scipy.stats import rankdata

    return rankdata(-scores, axis=1).mean(axis=0)


def top(values: np.ndarray, among: Sequence[int], largest: bool) -> list[int]:
    """The K columns of ``among`` with the largest (else smallest) values; ties go to the earlier column."""
    order = sorted(among, key=lambda j: (-values[j] if largest else values[j], j))
    return order[:K]


def regret(row: np.ndarray, picks: Sequence[int]) -> float:
    """Best score of the row minus the best pick, in accuracy points (no pick: the row's worst)."""
    reached = max((row[j] for j in picks), default=row.min())
    return float(row.max() - reached) * 100


def baselines(scores: np.ndarray, held_out: int) -> dict[str, tuple[float, float]]:
    """Regret and whether it is 0, for each baseline, computed without row ``held_out``."""
    others = np.delete(scores, held_out, axis=0)
    row = scores[held_out]
    everything = range(len(CONFIGS))
    defaults = [j for j, config in enumerate(CONFIGS) if config.default]
    picks = {
        "defaults": top(normalised(others).mean(axis=0), defaults, largest=True),
        "best on average (score)": top(normalised(others).mean(axis=0), everything, largest=True),
        "best on average (rank)": top(mean_ranks(others), everything, largest=False),
    }
    found = {name: (regret(row, chosen), float(regret(row, chosen) < TIE)) for name, chosen in picks.items()}
    triples = [regret(row, triple) for triple in itertools.combinations(everything, K)]
    found["random (expected)"] = (statistics.fmean(triples), statistics.fmean(r < TIE for r in triples))
    return found


def leave_one_out(
    tracker: mt.Tracker, datasets: list[Data], ids: list[str], scores: np.ndarray, say: Callable[[str], None]
) -> tuple[dict[str, list[tuple[float, float]]], list[float], list[str]]:
    """Per method, (regret, zero-regret share) per dataset; recommend's call times; problems seen."""
    results: dict[str, list[tuple[float, float]]] = {}
    times, problems = [], []
    column = grid_columns(tracker)
    for i, data in enumerate(datasets):
        started = time.perf_counter()
        recommendations = tracker.recommend(ids[i], "accuracy", k=K)
        times.append(time.perf_counter() - started)
        picks = []
        for item in recommendations.items:
            j = column(item)
            if j is None:
                problems.append(f"{data.name}: recommended {item.configuration!r} is not one of the grid")
            else:
                picks.append(j)
        if not picks:
            problems.append(f"{data.name}: no recommendation (counted as the grid's worst)")
        value = regret(scores[i], picks)
        results.setdefault("recommend", []).append((value, float(value < TIE)))
        chosen = ", ".join(CONFIGS[j].label for j in picks)
        say(f"  {data.name}: recommend -> {chosen or 'nothing'}; regret {value:.2f} pp")
        for name, outcome in baselines(scores, i).items():
            results.setdefault(name, []).append(outcome)
    return results, times, problems


def print_table(results: dict[str, list[tuple[float, float]]]) -> None:
    print(f"\n  {'method':26} {'mean regret':>12} {'median':>8} {'std':>8} {'regret 0':>9}")
    for name, outcomes in results.items():
        regrets = [value for value, _ in outcomes]
        zero = statistics.fmean(share for _, share in outcomes)
        print(
            f"  {name:26} {statistics.fmean(regrets):9.2f} pp {statistics.median(regrets):5.2f} pp"
            f" {statistics.pstdev(regrets):5.2f} pp {zero:8.0%}"
        )


def print_verdict(results: dict[str, list[tuple[float, float]]]) -> None:
    from scipy.stats import binomtest

    ours = [value for value, _ in results["recommend"]]
    averages = [name for name in results if name.startswith("best on average")]
    print("\nrecommend vs best on average, dataset by dataset (p: two-sided sign test over the untied datasets):")
    for name in averages:
        theirs = [value for value, _ in results[name]]
        wins = sum(a < b - TIE for a, b in zip(ours, theirs, strict=True))
        losses = sum(a > b + TIE for a, b in zip(ours, theirs, strict=True))
        p = binomtest(wins, wins + losses).pvalue if wins + losses else 1.0
        print(f"  vs {name}: better on {wins}, tied on {len(ours) - wins - losses}, worse on {losses}; p = {p:.2f}")
    strongest = min(averages, key=lambda name: statistics.fmean(value for value, _ in results[name]))
    mean_ours, mean_theirs = statistics.fmean(ours), statistics.fmean(value for value, _ in results[strongest])
    verdict = "HOLDS" if mean_ours < mean_theirs else "DOES NOT HOLD"
    print(
        f"claim (mean regret of recommend < mean regret of best on average): {verdict}"
        f" ({mean_ours:.2f} pp vs {mean_theirs:.2f} pp for {strongest}, the stronger of the two)"
    )


# ---------------------------------------------------------------- cost in a large store


BULK_GRID = {  # algorithm -> hyperparameters and their values: 10 algorithms, 271 configurations
    "LogisticRegression": {
        "C": [0.001, 0.01, 0.1, 1, 10, 100, 1000],
        "penalty": ["l2", "l1", "elasticnet"],
        "class_weight": [None, "balanced"],
    },
    "KNeighborsClassifier": {
        "n_neighbors": [1, 3, 5, 7, 11, 15, 25, 51],
        "weights": ["uniform", "distance"],
        "p": [1, 2],
    },
    "DecisionTreeClassifier": {"max_depth": [2, 3, 5, 8, 12, None], "min_samples_leaf": [1, 2, 5, 10, 20]},
    "RandomForestClassifier": {"n_estimators": [50, 100, 200, 500], "max_features": ["sqrt", "log2", 0.5, 1.0]},
    "ExtraTreesClassifier": {"n_estimators": [50, 100, 200, 500], "max_features": ["sqrt", "log2", 0.5, 1.0]},
    "HistGradientBoostingClassifier": {"learning_rate": [0.01, 0.03, 0.1, 0.3, 1.0], "max_leaf_nodes": [7, 15, 31, 63]},
    "GradientBoostingClassifier": {"learning_rate": [0.01, 0.05, 0.1, 0.3], "max_depth": [2, 3, 5, 8]},
    "SVC": {
        "C": [0.01, 0.1, 1, 10, 100, 1000],
        "gamma": ["scale", "auto", 0.001, 0.01, 0.1, 1],
        "kernel": ["rbf", "poly"],
    },
    "MLPClassifier": {"alpha": [1e-5, 1e-4, 1e-3, 1e-2, 0.1], "hidden_layer_sizes": [[50], [100], [100, 100]]},
    "GaussianNB": {"var_smoothing": [1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0]},
}


def bulk_configurations() -> list[tuple[str, tuple[mt.Parameter, ...]]]:
    """Every (algorithm, hyperparameters) of BULK_GRID, parameters built once and shared by the models."""
    found = []
    for algorithm, grid in BULK_GRID.items():
        names = list(grid)
        for values in itertools.product(*grid.values()):
            found.append((algorithm, tuple(mt.Parameter(name=n, value=v) for n, v in zip(names, values, strict=True))))
    return found


def meta_statistics(tracker: mt.Tracker, ids: list[str]) -> list[list[mt.DataStatistic]]:
    """The ``meta.*`` statistics recorded for the real datasets (empty lists when none are recorded)."""
    found = []
    for dataset in tracker.get_many(ids).values():
        found.append([s for s in dataset.statistics if s.name.startswith("meta.")])
    return found


def jittered(statistics_: list[mt.DataStatistic], rng: random.Random) -> list[mt.DataStatistic]:
    """The statistics with each finite number scaled by a random factor (shares stay within [0, 1])."""
    found = []
    for statistic in statistics_:
        value = statistic.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            scaled = value * rng.lognormvariate(0, 0.3)
            value = min(scaled, 1.0) if 0 <= value <= 1 else scaled
        found.append(mt.DataStatistic(name=statistic.name, value=value, columns=statistic.columns))
    return found


def bulk_dataset(
    index: int, per_dataset: int, configurations: list, metas: list, rng: random.Random
) -> tuple[list[mt.Entity], str]:
    """One dataset's history: the dataset, 5 training and 5 validation folds, a model and an evaluation per fold."""
    root = mt.Dataset(
        name=f"bulk-{index}",
        fingerprint=f"sha256:bulk-{index}",
        target="y",
        row_count=rng.randint(100, 100_000),
        statistics=jittered(rng.choice(metas), rng) if metas else (),
    )
    folds = []
    for k in range(5):
        for part in ("training", "validation"):
            folds.append(
                mt.Dataset(
                    name=f"bulk-{index} split {k + 1}/5 {part}",
                    fingerprint=f"sha256:bulk-{index}-{k}-{part}",
                    derived_from=[root.id],
                    derivation=f"{part} part of split {k + 1} of 5",
                )
            )
    entities: list[mt.Entity] = [root, *folds]
    level = rng.uniform(0.55, 0.95)
    for algorithm, hyperparameters in rng.sample(configurations, per_dataset // 5):
        quality = level + rng.gauss(0, 0.04)
        for k in range(5):
            model = mt.Model(
                name=f"{algorithm} split {k + 1}/5",
                learning_algorithm=algorithm,
                trained_on=folds[2 * k].id,
                hyperparameters=hyperparameters,
            )
            accuracy = min(1.0, max(0.0, quality + rng.gauss(0, 0.02)))
            evaluation = mt.Evaluation(
                computed_by=model.id,
                on_dataset=folds[2 * k + 1].id,
                scores=[mt.Score(metric="accuracy", value=accuracy)],
                procedure=PROCEDURE,
            )
            entities += [model, evaluation]
    return entities, root.id


def build_bulk_store(uri: str, evaluations: int, metas: list, say: Callable[[str], None]) -> None:
    """Write ``evaluations`` evaluations (1,000 per dataset) with tracker.write, about 50,000 entities a batch."""
    rng = random.Random(16)
    configurations = bulk_configurations()
    per_dataset = min(1000, evaluations)
    count = max(1, evaluations // per_dataset)
    with mt.connect(uri) as tracker:
        batch: list[mt.Entity] = []
        for index in range(count):
            entities, _ = bulk_dataset(index, per_dataset, configurations, metas, rng)
            batch += entities
            if len(batch) >= 50_000 or index == count - 1:
                tracker.write(batch)
                batch = []
                say(f"  {index + 1:,} of {count:,} datasets written")


def time_recommend(uri: str, calls: int = 10) -> tuple[list[float], list[float], list[float], int, int]:
    """Seconds of recommend calls on ``calls`` different datasets: cold, its connect, and warm.

    Cold: each call on a freshly connected tracker (what a CLI call pays; the
    connect is timed apart). Warm: one tracker, after a first call on another
    dataset. Also returns the evaluations in the store and the items of the last answer.
    """
    rng = random.Random(7)
    with mt.connect(uri, read_only=True) as tracker:
        roots = [d.id for d in tracker.find("dataset", limit=200_000) if not d.derived_from]
        stored = tracker.count("evaluation")
    chosen = rng.sample(roots, min(2 * calls + 1, len(roots)))
    cold, connects, warm, items = [], [], [], 0
    for id_ in chosen[:calls]:
        started = time.perf_counter()
        with mt.connect(uri, read_only=True) as tracker:
            connected = time.perf_counter()
            tracker.recommend(id_, "accuracy", k=K)
            cold.append(time.perf_counter() - connected)
            connects.append(connected - started)
    with mt.connect(uri, read_only=True) as tracker:
        tracker.recommend(chosen[-1], "accuracy", k=K)  # warms the tracker's caches
        for id_ in chosen[calls : 2 * calls]:
            started = time.perf_counter()
            items = len(tracker.recommend(id_, "accuracy", k=K).items)
            warm.append(time.perf_counter() - started)
    return cold, connects, warm, stored, items


# ---------------------------------------------------------------- main


def history(
    folder: Path, collection: str, datasets: list[Data], say: Callable[[str], None]
) -> tuple[np.ndarray, list[str]]:
    """The scores matrix and dataset ids of the history in ``folder``: recorded there unless it was before."""
    saved = folder / "scores.json"
    names = [data.name for data in datasets]
    if saved.exists() and (folder / "history.db").exists():
        content = json.loads(saved.read_text())
        same = content.get("collection", collection) == collection and content["datasets"] == names
        if same and content["configurations"] == [config.label for config in CONFIGS]:
            print(f"  reusing the history recorded in {folder}")
            return np.array(content["scores"]), content["ids"]
        raise SystemExit(f"{folder} holds the history of other datasets or configurations: name another folder")
    with mt.connect(f"sqlite:///{folder}/history.db") as tracker:
        started = time.perf_counter()
        scores, ids = record_history(tracker, datasets, say)
        print(f"  recorded in {time.perf_counter() - started:.0f} s: {tracker.count('evaluation'):,} evaluations,")
        print(f"  {tracker.count('model'):,} models, {tracker.count('dataset'):,} datasets (with the folds)")
    content = {
        "collection": collection,
        "datasets": names,
        "configurations": [config.label for config in CONFIGS],
        "ids": ids,
        "scores": scores.tolist(),
    }
    saved.write_text(json.dumps(content))
    return scores, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="12 datasets and a 100,000-evaluation store")
    parser.add_argument("--evaluations", type=int, help="evaluations in the cost store (default 1,000,000)")
    parser.add_argument("--store", type=Path, help="SQLite file for the cost store (reused when it exists)")
    parser.add_argument("--history", type=Path, help="folder for the history store (reused when it holds one)")
    parser.add_argument("--verbose", action="store_true", help="print each dataset's recommendations")
    parser.add_argument(
        "--tuning",
        action="store_true",
        help="the leave-one-out on the collection the recommender's settings were chosen on (30 other generated "
        "datasets), without the cost part",
    )
    arguments = parser.parse_args()
    evaluations = arguments.evaluations or (100_000 if arguments.quick else 1_000_000)
    say = print

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # logreg C=100 at max_iter=100: a real outcome
    warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)  # zoo's rare class
    print(f"mltrack-core {mt.__version__}, scikit-learn {sklearn.__version__}; BLAS and OpenMP on one thread")
    wall = time.perf_counter()
    if arguments.tuning:
        collection = "tuning: 30 generated datasets, seed 61, generators seeded from 5000"
        datasets = generated_datasets(30, seed=61, first_seed=5000)
    else:
        collection = "reported: scikit-learn's, OpenML's from scikit-learn's wheel, generated (seed 16)"
        datasets = sklearn_datasets() + openml_datasets() + generated_datasets(2 if arguments.quick else 33)
        datasets = datasets[:12] if arguments.quick else datasets
    with tempfile.TemporaryDirectory() as temporary, threadpool_limits(1):
        folder = arguments.history or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"collection {collection}")
        print(f"history: {len(datasets)} datasets x {len(CONFIGS)} configurations, stratified 5-fold CV each")
        scores, ids = history(folder, collection, datasets, say)
        with mt.connect(f"sqlite:///{folder}/history.db", read_only=True) as tracker:
            metas = meta_statistics(tracker, ids)
            print(f"  meta.* statistics recorded per dataset: {len({s.name for found in metas for s in found})}")
            print(f"leave-one-dataset-out on the {collection.split(':')[0]} collection ({len(datasets)} datasets),")
            print("k=3, regret in accuracy points (pp):")
            results, times, problems = leave_one_out(
                tracker, datasets, ids, scores, say if arguments.verbose else lambda _: None
            )
        print_table(results)
        for problem in problems:
            print(f"  ! {problem}")
        print_verdict(results)
        print(f"recommend in the history store: median {statistics.median(times) * 1000:.1f} ms per call")
        print(f"history and leave-one-out took {time.perf_counter() - wall:.0f} s")
        if arguments.tuning:
            print(f"cost part: not run with --tuning; wall time: {time.perf_counter() - wall:.0f} s")
            return

        path = arguments.store or Path(temporary) / "cost.db"
        uri = f"sqlite:///{path.resolve()}"
        if not path.exists():
            print(f"cost store: {evaluations:,} evaluations (1,000 per dataset) with tracker.write in batches...")
            started = time.perf_counter()
            build_bulk_store(uri, evaluations, [found for found in metas if found], say)
            print(f"  built in {time.perf_counter() - started:.0f} s ({path.stat().st_size / 1e9:.2f} GB)")
        cold, connects, warm, stored, items = time_recommend(uri)
        print(f"recommend(k=3) in a store of {stored:,} evaluations, {len(cold)} calls each on different datasets:")
        for name, times in (("cold (a fresh tracker per call)", cold), ("warm (one tracker)", warm)):
            print(f"  {name:32} median {statistics.median(times) * 1000:5.0f} ms, max {max(times) * 1000:5.0f} ms")
        print(f"  (connecting a fresh tracker: median {statistics.median(connects) * 1000:.0f} ms; {items} items)")
        print_meta_feature_cost()
    print(f"wall time: {time.perf_counter() - wall:.0f} s")


def print_meta_feature_cost(rows: int = 1_000, features: int = 100, repeats: int = 15) -> None:
    """What the meta-features of one new dataset cost: a sample as large as the landmarkers take, 2/10/100 classes."""
    from mltrack_core.metafeatures import meta_feature_statistics

    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(rows, features))
    categorical = np.empty((rows, 0), dtype=np.int64)
    print(f"meta-features of a {rows:,} x {features} sample (median of {repeats}, BLAS on one thread):")
    for classes in (2, 10, 100):
        target = rng.integers(0, classes, rows).astype(np.float64)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            meta_feature_statistics(rows=rows, numeric=numeric, categorical=categorical, target=target)
            times.append(time.perf_counter() - started)
        print(f"  {classes:3} classes: {statistics.median(times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
