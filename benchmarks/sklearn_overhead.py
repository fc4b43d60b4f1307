"""What tracking costs a scikit-learn fit: TrackedPipeline.fit versus Pipeline.fit, in one run.

Prints, for an in-memory store and an SQLite file store:
* the median time of ``Pipeline.fit`` and of ``TrackedPipeline.fit`` on the same data
  (runs alternate, so machine noise hits both alike) and their ratio (aim: within 2 %
  for a fit of about 0.2 s), for two fits of about 0.2 s on an idle core: a data-bound
  one (logistic regression on 60,000 x 40 values, where the data's fingerprint weighs
  most) and a compute-bound one (a random forest on 2,000 x 20);
* the absolute time to extract a fitted 20-step pipeline (hyperparameters, DAG, column
  lineage) and to record it with ``tracker.track_model``.

BLAS and OpenMP run one thread (for both kinds of fit): on a shared 2-core machine,
multithreaded BLAS makes the same fit vary by 2-5x between runs, which hides a few
milliseconds of tracking.

Usage: python benchmarks/sklearn_overhead.py [--runs N]
Never asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

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
from mltrack_sklearn import TrackedPipeline
from mltrack_sklearn.extract import extract_model


def data(rows: int, features: int) -> tuple[pd.DataFrame, pd.Series]:
    X, y = make_classification(n_samples=rows, n_features=features, n_informative=12, n_classes=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(features)]), pd.Series(y, name="label")


WORKLOADS = {
    "logistic regression, 60000x40": (
        (60_000, 40),
        lambda: [("scale", StandardScaler()), ("classify", LogisticRegression(C=0.5, max_iter=300, tol=1e-6))],
    ),
    "random forest, 2000x20": (
        (2_000, 20),
        lambda: [("scale", StandardScaler()), ("classify", RandomForestClassifier(n_estimators=60, random_state=0))],
    ),
}


def overhead(tracker: mt.Tracker, steps, X: pd.DataFrame, y: pd.Series, runs: int) -> tuple[float, float]:
    """Median seconds of Pipeline.fit and TrackedPipeline.fit, alternating which goes first."""
    plain, tracked = [], []
    TrackedPipeline(steps(), tracker=tracker).fit(X, y)  # warm up: environment capture, first store writes
    Pipeline(steps()).fit(X, y)
    for run in range(runs):
        order = [("plain", Pipeline), ("tracked", TrackedPipeline)]
        for kind, cls in order if run % 2 == 0 else order[::-1]:
            pipeline = cls(steps(), tracker=tracker) if cls is TrackedPipeline else cls(steps())
            start = time.perf_counter()
            pipeline.fit(X, y)
            (tracked if kind == "tracked" else plain).append(time.perf_counter() - start)
    return statistics.median(plain), statistics.median(tracked)


def twenty_steps() -> Pipeline:
    """A fitted 20-step pipeline: 19 transformers (one a ColumnTransformer) and a classifier."""
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


def extraction(tracker: mt.Tracker, X: pd.DataFrame, y: pd.Series, runs: int) -> tuple[float, float, int]:
    pipeline = twenty_steps().fit(X, y)
    dataset = tracker.track_dataset(X, target=y)
    extract_times, track_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        extracted = extract_model(pipeline, tracker, dataset, None, False)
        extract_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        tracker.track_model(pipeline, trained_on=dataset)
        track_times.append(time.perf_counter() - start)
    return statistics.median(extract_times), statistics.median(track_times), len(extracted.related)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fits of each kind per store and workload (default 15)")
    runs = parser.parse_args().runs
    print(f"median of {runs} alternating runs of each kind; BLAS/OpenMP limited to 1 thread")
    with threadpool_limits(1), tempfile.TemporaryDirectory() as folder:
        stores = {"memory": "memory://", "sqlite": f"sqlite:///{Path(folder) / 'bench.db'}"}
        for workload, ((rows, features), steps) in WORKLOADS.items():
            X, y = data(rows, features)
            for label, uri in stores.items():
                with mt.connect(uri, artifacts=Path(folder) / "artifacts") as tracker:
                    plain, tracked = overhead(tracker, steps, X, y, runs)
                print(
                    f"{workload}, {label} store: Pipeline.fit {plain * 1000:.1f} ms, TrackedPipeline.fit "
                    f"{tracked * 1000:.1f} ms, ratio {tracked / plain:.3f} ({(tracked - plain) * 1000:+.1f} ms)"
                )
        X, y = data(*WORKLOADS["logistic regression, 60000x40"][0])
        with mt.connect(stores["sqlite"]) as tracker:
            extract, track, vertices = extraction(tracker, X, y, runs)
    print(
        f"20-step pipeline ({vertices} DAG vertices): extraction {extract * 1000:.2f} ms, "
        f"track_model into SQLite {track * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
