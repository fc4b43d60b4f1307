"""What tracking costs a scikit-learn fit, side by side in one run: plain, TrackedPipeline, autolog and MLflow.

For each workload and store, fits of every mode alternate (the order rotates at
each repetition, so machine noise hits every mode alike) and the medians are
printed with their ratio to the plain fit:

* caller CPU: ``time.thread_time()`` of the thread that calls ``fit``, what
  tracking takes from the program. Work mltrack moves to its background
  thread (writing to the store, statistics of a new dataset) is not in it;
* wall: ``time.perf_counter()`` around ``fit``;
* all CPU: ``time.process_time()`` around ``fit`` and the wait until the
  records are stored (``tracker.flush()``): every thread's CPU, so the work
  moved off the caller's path is counted here.

Modes: ``Pipeline.fit`` (plain); ``TrackedPipeline.fit``; ``Pipeline.fit``
under ``mltrack_sklearn.autolog()`` (what ``mltrack run`` turns on; "not
available" when the installed mltrack-sklearn has no autolog); and, when MLflow
is installed, under ``mlflow.sklearn.autolog()`` with its defaults (model
logged, training metrics) and with ``log_models=False``, into an SQLite
tracking store (MLflow has no in-memory store; its rows are in the SQLite
table only). The autologs are turned on just before their fit and off after it.

Workloads: the issue's pipeline (StandardScaler, PCA, LogisticRegression on
20,000 x 40, a fit of about 50 ms); a compute-bound random forest (2,000 x 20,
about 0.2 s); a projection of many columns (PCA(200) of 1,000 columns: caller
CPU of TrackedPipeline and the bytes its column lineage takes in the store);
and extracting a fitted 20-step pipeline.

BLAS and OpenMP run one thread: on a shared machine, multithreaded BLAS makes
the same fit vary by 2-5x between runs, which hides milliseconds of tracking.

Usage: python benchmarks/sklearn_overhead.py [--runs N] [--skip-mlflow]
Never asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, PowerTransformer, RobustScaler, StandardScaler
from threadpoolctl import threadpool_limits

import mltrack_core as mt
from mltrack_core.store import record_of
from mltrack_sklearn import TrackedPipeline
from mltrack_sklearn.extract import extract_model

try:
    from mltrack_sklearn import autolog as mltrack_autolog
except ImportError:  # an mltrack-sklearn without autolog
    mltrack_autolog = None

NOT_AVAILABLE = "not available"


def data(rows: int, features: int) -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(n_samples=rows, n_features=features, n_informative=12, n_classes=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(features)]), pd.Series(y, name="label")


WORKLOADS = {
    "StandardScaler + PCA(10) + LogisticRegression, 20,000 x 40": (
        (20_000, 40),
        lambda: [("scale", StandardScaler()), ("pca", PCA(n_components=10)), ("classify", LogisticRegression())],
    ),
    "StandardScaler + RandomForest(60 trees), 2,000 x 20": (
        (2_000, 20),
        lambda: [("scale", StandardScaler()), ("classify", RandomForestClassifier(n_estimators=60, random_state=0))],
    ),
}


# ---------------------------------------------------------------- modes


@dataclass
class Mode:
    """One way of fitting: ``fit(steps, X, y)``; ``flush()`` waits until its records are stored.

    ``enter`` and ``leave`` run before and after each fit, outside the timing (turning an autolog on and off).
    """

    name: str
    fit: Callable[[Callable[[], list], pd.DataFrame, pd.Series], object] | None
    flush: Callable[[], object] = lambda: None
    enter: Callable[[], object] = lambda: None
    leave: Callable[[], object] = lambda: None
    caller: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self, steps: Callable[[], list], X: pd.DataFrame, y: pd.Series) -> None:
        assert self.fit is not None
        self.enter()
        try:
            cpu, wall, caller = time.process_time(), time.perf_counter(), time.thread_time()
            self.fit(steps, X, y)
            caller, wall = time.thread_time() - caller, time.perf_counter() - wall
            self.flush()
            cpu = time.process_time() - cpu
        finally:
            self.leave()
        self.cpu.append(cpu)
        self.caller.append(caller)
        self.wall.append(wall)


def flush_of(tracker: mt.Tracker) -> Callable[[], object]:
    return getattr(tracker, "flush", lambda: None)  # trackers before the background writer store at once


def mltrack_modes(tracker: mt.Tracker) -> list[Mode]:
    flush = flush_of(tracker)
    modes = [
        Mode("plain Pipeline.fit", lambda steps, X, y: Pipeline(steps()).fit(X, y)),
        Mode("TrackedPipeline.fit", lambda steps, X, y: TrackedPipeline(steps(), tracker=tracker).fit(X, y), flush),
    ]
    if mltrack_autolog is None:
        modes.append(Mode("mltrack_sklearn.autolog()", None))
    else:
        modes.append(
            Mode(
                "mltrack_sklearn.autolog()",
                lambda steps, X, y: Pipeline(steps()).fit(X, y),
                flush,
                enter=lambda: mltrack_autolog(tracker=tracker),
                leave=lambda: mltrack_autolog(disable=True),
            )
        )
    return modes


def mlflow_modes(folder: Path) -> list[Mode]:
    """``mlflow.sklearn.autolog()`` with its defaults and without logging models, into an SQLite store."""
    try:
        import mlflow
        import mlflow.sklearn
    except ImportError:
        return []
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    artifacts = (folder / "mlflow-artifacts").as_uri()  # not ./mlruns in the working folder
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("sklearn-overhead", artifact_location=artifacts))

    def autologged(name: str, **options: Any) -> Mode:
        return Mode(
            name,
            lambda steps, X, y: Pipeline(steps()).fit(X, y),
            enter=lambda: mlflow.sklearn.autolog(silent=True, **options),
            leave=lambda: mlflow.sklearn.autolog(disable=True, silent=True),
        )

    return [
        autologged("mlflow.sklearn.autolog()"),
        autologged("mlflow.sklearn.autolog(log_models=False)", log_models=False),
    ]


def alternate(modes: list[Mode], steps: Callable[[], list], X: pd.DataFrame, y: pd.Series, runs: int) -> None:
    """Fit once per mode to warm up (environment capture, first writes), then ``runs`` rotating rounds."""
    available = [mode for mode in modes if mode.fit is not None]
    for mode in available:
        mode.run(steps, X, y)
        mode.caller.clear(), mode.wall.clear(), mode.cpu.clear()
    for round_ in range(runs):
        shift = round_ % len(available)
        for mode in available[shift:] + available[:shift]:
            mode.run(steps, X, y)


def table(title: str, modes: list[Mode]) -> None:
    plain = modes[0]
    base = {key: statistics.median(getattr(plain, key)) for key in ("caller", "wall", "cpu")}
    print(f"\n{title}")
    print(f"  {'mode':42} {'caller CPU':>11} {'ratio':>6} {'wall':>10} {'ratio':>6} {'all CPU':>10} {'ratio':>6}")
    for mode in modes:
        if mode.fit is None:
            print(f"  {mode.name:42} {NOT_AVAILABLE}")
            continue
        cells = []
        for key in ("caller", "wall", "cpu"):
            value = statistics.median(getattr(mode, key))
            cells.append(f"{value * 1000:8.1f} ms {value / base[key]:6.3f}")
        print(f"  {mode.name:42} {' '.join(cells)}")
    added = {mode.name: statistics.median(mode.caller) - base["caller"] for mode in modes[1:] if mode.fit is not None}
    print("  caller CPU added per fit: " + ", ".join(f"{name} {ms * 1000:+.1f} ms" for name, ms in added.items()))


# ---------------------------------------------------------------- the wide projection


def projection(folder: Path, runs: int) -> None:
    """PCA(200) of 1,000 columns: caller CPU of a tracked fit, and what its column lineage takes in the store."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(3_000, 1_000)), columns=[f"c{i:04d}" for i in range(1_000)])
    y = pd.Series((X.iloc[:, :5].sum(axis=1) > 0).astype(int), name="label")

    def steps() -> list:
        return [("scale", StandardScaler()), ("pca", PCA(200, random_state=0)), ("classify", LogisticRegression())]

    with mt.connect(f"sqlite:///{folder / 'wide.db'}") as tracker:
        modes = mltrack_modes(tracker)[:2]
        alternate(modes, steps, X, y, runs)
        table("PCA(200) of 1,000 columns, 3,000 rows (StandardScaler + PCA + LogisticRegression), SQLite", modes)
        model = TrackedPipeline(steps(), tracker=tracker).fit(X, y).tracked_model_
        flush_of(tracker)()
        transforms = list(tracker.get_many(list(model.transforms)).values())
    pca = next(transform for transform in transforms if transform.name == "pca")
    entries = sum(1 if isinstance(inputs, str) else len(inputs) for inputs in pca.column_lineage.values())
    print(
        f"  the PCA vertex: {len(pca.column_lineage)} outputs, {entries:,} column-lineage entries stored, "
        f"document {len(record_of(pca).document.encode()):,} bytes; "
        f"all transforms of one model {sum(len(record_of(t).document.encode()) for t in transforms):,} bytes"
    )


# ---------------------------------------------------------------- extraction of a long pipeline


def twenty_steps() -> Pipeline:
    """A 20-step pipeline: 19 transformers (one a ColumnTransformer) and a classifier."""
    scalers = [StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler]
    layers: list = [("impute", SimpleImputer())]
    layers.append(
        (
            "split",
            ColumnTransformer(
                [("a", PowerTransformer(), [0, 1, 2]), ("b", StandardScaler(), [3, 4])], remainder="passthrough"
            ),
        )
    )
    layers += [(f"scale{i}", scalers[i % len(scalers)]()) for i in range(14)]
    layers += [("variance", VarianceThreshold()), ("select", SelectKBest(k=30)), ("project", PCA(n_components=12))]
    layers.append(("classify", LogisticRegression(max_iter=300)))
    assert len(layers) == 20
    return Pipeline(layers)


def extraction(folder: Path, runs: int) -> None:
    X, y = data(20_000, 40)
    with mt.connect(f"sqlite:///{folder / 'extract.db'}") as tracker:
        pipeline = twenty_steps().fit(X, y)
        dataset = tracker.track_dataset(X, target=y)
        extract_times, track_times = [], []
        for _ in range(runs):
            start = time.thread_time()
            extracted = extract_model(pipeline, tracker, dataset, None, False)
            extract_times.append(time.thread_time() - start)
            start = time.thread_time()
            tracker.track_model(pipeline, trained_on=dataset)
            track_times.append(time.thread_time() - start)
    print(
        f"\n20-step pipeline ({len(extracted.related)} DAG vertices), caller CPU: extraction "
        f"{statistics.median(extract_times) * 1000:.2f} ms, tracker.track_model into SQLite "
        f"{statistics.median(track_times) * 1000:.2f} ms"
    )


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep the estimators' own warnings (convergence, MLflow's notices) out of the figures."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fits of each mode per workload and store (default 15)")
    parser.add_argument("--skip-mlflow", action="store_true", help="leave MLflow out even when it is installed")
    options = parser.parse_args()
    runs = options.runs
    print(f"median of {runs} rotating rounds of every mode; BLAS/OpenMP limited to 1 thread")
    with threadpool_limits(1), quiet(), tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        mlflow = [] if options.skip_mlflow else mlflow_modes(folder)
        print("MLflow: " + (f"{__import__('mlflow').__version__}" if mlflow else NOT_AVAILABLE))
        for workload, ((rows, features), steps) in WORKLOADS.items():
            X, y = data(rows, features)
            for label, uri in (("in-memory", "memory://"), ("SQLite", f"sqlite:///{folder / 'bench.db'}")):
                with mt.connect(uri, artifacts=folder / "artifacts") as tracker:
                    modes = mltrack_modes(tracker) + (mlflow if label == "SQLite" else [])
                    alternate(modes, steps, X, y, runs)
                    table(f"{workload}, {label} store", modes)
                for mode in mlflow:
                    mode.caller.clear(), mode.wall.clear(), mode.cpu.clear()
        projection(folder, max(3, runs // 3))
        extraction(folder, runs)


if __name__ == "__main__":
    main()
