"""Speed of ``mltrack import mlflow``: an MLflow SQLite store of R runs with P metric points each.

Prints figures; asserts nothing about time (the machine is shared and noisy), only that the import is complete.

1. Builds the MLflow store with MLflow's client (``create_run``, ``log_batch``, ``set_terminated``): P points per
   run spread over M metrics, a few params and tags. Its time is printed, not measured against anything.
2. Reads every run and metric history through MLflow's client alone (``search_runs``, ``get_metric_history``,
   from the importer's reading threads): the floor any import through the client stands on.
3. Imports the store into a fresh mltrack SQLite store with ``import_mlflow``: runs/s and points/s.
4. Imports it again: nothing new is written (idempotence), and how long finding that out takes.

Run: ``python benchmarks/mlflow_import_bench.py [--runs R] [--points P] [--metrics M]`` from the repository root
(the issue's figure: ``--runs 10000 --points 100``, the defaults). Needs ``mltrack-core[mlflow]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import mltrack_core as mt
from mltrack_core.importers import import_mlflow
from mltrack_core.importers.mlflow import _histories as read_histories
from mltrack_core.importers.mlflow import open_mlflow


def build_mlflow_store(uri: str, runs: int, points: int, metrics: int) -> float:
    """Seconds MLflow's client takes to log ``runs`` finished runs of ``points`` points each."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(uri)
    experiment = client.create_experiment("bench")
    started = time.perf_counter()
    base = 1_767_225_600_000  # 2026-01-01
    per_metric = max(1, points // metrics)
    for index in range(runs):
        start = base + index * 60_000
        run = client.create_run(experiment, start_time=start, run_name=f"run-{index}", tags={"team": "bench"})
        batch = [
            Metric(f"metric_{metric}", 1.0 / (step + 1 + metric), start + step * 100 + metric, step)
            for metric in range(metrics)
            for step in range(per_metric)
        ]
        parameters = [Param("lr", str(0.1 / (index + 1))), Param("epochs", str(per_metric)), Param("opt", "adam")]
        client.log_batch(run.info.run_id, metrics=batch, params=parameters, tags=[RunTag("index", str(index))])
        client.set_terminated(run.info.run_id, end_time=start + per_metric * 100 + 1_000)
    return time.perf_counter() - started


def read_through_client(uri: str) -> tuple[float, int]:
    """Seconds to list every run and read every metric history with MLflow's client alone, and the points read."""
    started = time.perf_counter()
    source = open_mlflow(uri)
    histories = read_histories(source.client, source.runs)  # the import's own reading: the same threads
    points = sum(len(history) for by_metric in histories.values() for history in by_metric.values())
    return time.perf_counter() - started, points


def timed_import(target: str, uri: str) -> tuple[float, object]:
    with mt.connect(target) as tracker:
        started = time.perf_counter()
        summary = import_mlflow(tracker, uri)
        return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000, help="MLflow runs to import")
    parser.add_argument("--points", type=int, default=100, help="metric points per run")
    parser.add_argument("--metrics", type=int, default=4, help="metrics per run (the points are spread over them)")
    arguments = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # MLflow announces its table creation at INFO
    points = arguments.metrics * max(1, arguments.points // arguments.metrics)
    # MLflow's store on tmpfs when there is one: building it is not what is measured; mltrack's store is on disk
    mlflow_root = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=mlflow_root) as mlflow_folder, tempfile.TemporaryDirectory() as folder:
        os.environ["MLTRACK_HOME"] = str(Path(folder) / "home")
        uri = f"sqlite:///{mlflow_folder}/mlflow.db"
        built = build_mlflow_store(uri, arguments.runs, arguments.points, arguments.metrics)
        total_points = arguments.runs * points
        print(
            f"MLflow store of {arguments.runs} runs x {points} points ({arguments.metrics} metrics) built in "
            f"{built:.0f} s with MLflow's client ({arguments.runs / built:.0f} runs/s; not the figure measured)"
        )
        read, read_points = read_through_client(uri)
        assert read_points == total_points, (read_points, total_points)
        print(f"reading it through MLflow alone (search_runs, metric histories as the import reads them): {read:.1f} s")
        target = f"sqlite:///{folder}/mltrack.db"
        first, summary = timed_import(target, uri)
        assert summary.written["run"] == arguments.runs, summary.describe()
        with mt.connect(target) as tracker:
            stored_points = sum(len(tracker.points(run_id)) for run_id in tracker.find_ids("run")[:100])
        assert stored_points == min(100, arguments.runs) * points, stored_points
        print(
            f"import_mlflow into a fresh mltrack SQLite store: {first:.1f} s, {arguments.runs / first:.0f} runs/s, "
            f"{total_points / first:,.0f} points/s (x{first / read:.2f} the client's reading alone)"
        )
        second, again = timed_import(target, uri)
        assert again.total == 0 and again.unchanged == summary.total, again.describe()
        print(
            f"importing again: {second:.1f} s, 0 new, {again.unchanged} already stored unchanged "
            f"(x{second / first:.2f} the first import)"
        )


if __name__ == "__main__":
    main()
