"""Speed figures of mltrack-core. Prints them; asserts nothing (the machine is shared and noisy).

1. ``import mltrack_core`` in a fresh interpreter (median of several runs).
2. One training loop logging N metric points into SQLite: the caller's cost per
   point (and, for scale, a bare ``deque.append`` of the same tuple in the same
   run) and the time until every point is durable.
3. A SQLite store holding M entities (datasets, transforms, models, predictions,
   evaluations): the lineage of an evaluation and a leaderboard, in milliseconds.

Run: ``nox -s benchmarks`` or ``python benchmarks/core_bench.py [--points N] [--entities M] [--store PATH]``.
A store built once is reused when ``--store`` names an existing file.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mltrack_core as mt
from mltrack_core.store import record_of


def import_time(modules: str, runs: int = 9) -> float:
    """Median seconds to import ``modules`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {modules}; print(time.perf_counter() - t)"
    times = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)]
    return statistics.median(times)


def logging_cost(points: int, folder: Path) -> tuple[float, float, float]:
    """Caller µs per point, bare deque.append µs per point, seconds until durable."""
    reference = collections.deque()
    started = time.perf_counter()
    for step in range(points):
        reference.append(("run-x", "loss", 0.5, step // 1000, step, time.time_ns() // 1_000_000))
    bare = (time.perf_counter() - started) / points * 1e6
    del reference
    with mt.connect(f"sqlite:///{folder}/points.db") as tracker:
        run = tracker.track_training(name="benchmark")
        log = run.log
        started = time.perf_counter()
        for step in range(points):
            log("loss", 0.5, step // 1000, step)
        logged = time.perf_counter() - started
        run.flush(timeout=None)
        durable = time.perf_counter() - started
        assert len(tracker.points(run.id)) == points
        run.finish()
    return logged / points * 1e6, bare, durable


def build_store(uri: str, entities: int, say) -> None:
    """A store shaped like a busy team's: per family of data, full/train/test sets and many evaluated models."""
    families = max(1, entities // 1000)
    rng = random.Random(42)
    with mt.connect(uri) as tracker:
        store = tracker.store
        transforms = [mt.Transform(name=f"step-{i}", operator=f"Op{i % 20}") for i in range(max(10, entities // 20))]
        store.put([record_of(t) for t in transforms])
        written = len(transforms)
        batch: list = []
        for family in range(families):
            full = mt.Dataset(name=f"data-{family}", fingerprint=f"sha256:full-{family}", target="y")
            train = mt.Dataset(
                name=f"data-{family}-train", derived_from=[full], fingerprint=f"sha256:train-{family}", target="y"
            )
            test = mt.Dataset(
                name=f"data-{family}-test", derived_from=[full], fingerprint=f"sha256:test-{family}", target="y"
            )
            batch += [full, train, test]
            per_family = (entities - written) // (families - family) - 3
            models = max(1, per_family // 4)
            for index in range(models):
                model = mt.Model(
                    name=f"model-{family}-{index}",
                    learning_algorithm="GradientBoosting",
                    trained_on=train,
                    transforms=rng.sample(transforms, 3),
                    hyperparameters=[mt.Parameter.of("depth", rng.randint(2, 9), default=3)],
                )
                prediction = mt.Prediction(computed_by=model, on_dataset=test, location=f"s3://p/{model.id}")
                accuracy = rng.random()
                held_out = {"accuracy": accuracy, "log_loss": 1 - accuracy}
                evaluations = [
                    mt.Evaluation(
                        computed_by=model,
                        on_dataset=test,
                        for_prediction=prediction,
                        procedure="holdout",
                        scores=[mt.Score(metric=name, value=value) for name, value in held_out.items()],
                    ),
                    mt.Evaluation(
                        computed_by=model,
                        on_dataset=train,
                        procedure="holdout",
                        scores=[mt.Score(metric="accuracy", value=min(1.0, accuracy + 0.05))],
                    ),
                ]
                batch += [model, prediction, *evaluations]
            written += 3 + models * 4
            if len(batch) >= 20_000 or family == families - 1:
                store.put([record_of(entity) for entity in batch])
                batch = []
                say(f"  built {written:,} entities")


def query_times(uri: str, samples: int = 30) -> dict[str, float]:
    rng = random.Random(7)
    with mt.connect(uri) as tracker:
        total = tracker.count()
        datasets = tracker.find("dataset", limit=3000)
        tests = [d for d in datasets if d.name.endswith("-test")]
        evaluations = tracker.find("evaluation", limit=5000)
        timings: dict[str, list[float]] = {"lineage": [], "leaderboard": [], "find": []}
        for _ in range(samples):
            evaluation = rng.choice(evaluations)
            started = time.perf_counter()
            lineage = tracker.lineage(evaluation.id)
            timings["lineage"].append(time.perf_counter() - started)
            assert lineage.of_kind("dataset")
            dataset = rng.choice(tests)
            started = time.perf_counter()
            board = tracker.leaderboard(dataset, "accuracy", limit=10)
            timings["leaderboard"].append(time.perf_counter() - started)
            assert board.entries
            started = time.perf_counter()
            tracker.find("model", trained_on=lineage.of_kind("model")[0].trained_on, limit=50)
            timings["find"].append(time.perf_counter() - started)
        result = {name: statistics.median(values) * 1000 for name, values in timings.items()}
        result["entities"] = total
        result["evaluations per leaderboard"] = len(tracker.store.scores([tests[0].id], "accuracy"))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000, help="metric points to log (default 1,000,000)")
    parser.add_argument(
        "--entities", type=int, default=1_000_000, help="entities in the query store (default 1,000,000)"
    )
    parser.add_argument("--store", type=Path, help="SQLite file for the query store (reused when it exists)")
    arguments = parser.parse_args()

    print(f"mltrack-core {mt.__version__}, Python {sys.version.split()[0]}")
    ours, baseline = import_time("mltrack_core"), import_time("json, dataclasses, enum, threading, typing")
    print(f"import mltrack_core: {ours * 1000:.1f} ms, median of 9 fresh interpreters (aim: well under 100 ms);")
    print(f"  for scale, importing json, dataclasses, enum, threading and typing: {baseline * 1000:.1f} ms")

    with tempfile.TemporaryDirectory() as folder:
        per_point, bare, durable = logging_cost(arguments.points, Path(folder))
    print(f"logging {arguments.points:,} points from one loop into SQLite:")
    print(f"  caller cost {per_point:.2f} µs/point (aim < 2 µs); a bare deque.append of the tuple: {bare:.2f} µs")
    print(f"  all durable after {durable:.2f} s (aim < 5 s)")

    path = arguments.store or Path(tempfile.gettempdir()) / f"mltrack-bench-{arguments.entities}.db"
    uri = f"sqlite:///{path.resolve()}"
    if not path.exists():
        print(f"building a store of {arguments.entities:,} entities at {path} (once)...")
        started = time.perf_counter()
        build_store(uri, arguments.entities, print)
        print(f"  built in {time.perf_counter() - started:.0f} s")
    times = query_times(uri)
    print(f"queries in a store of {times['entities']:,} entities (median of 30):")
    print(f"  lineage of an evaluation (upstream, all levels): {times['lineage']:.2f} ms")
    count = times["evaluations per leaderboard"]
    print(f"  leaderboard, top 10 of {count} evaluations: {times['leaderboard']:.2f} ms")
    print(f"  find 50 models trained on a dataset: {times['find']:.2f} ms")


if __name__ == "__main__":
    main()
