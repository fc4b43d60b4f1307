"""Speed figures of the consumers: pytest plugin, notification observer, regression check, digest, importers.

Prints them; asserts nothing (the machine is shared and noisy). Ratios within one run are what to compare.

1. What the pytest plugin adds to a pytest start (``pytest --co`` of an empty project, plugin on vs ``-p no:mltrack``),
   and the import of the plugin module alone (the part that does not drown in the noise of a shared machine).
2. What the notification observer adds to each write (``track_dataset`` into SQLite, plugin loaded vs disabled).
3. ``check_regression`` against a history of H comparable evaluations (SQLite), recording included.
4. ``build_digest`` over a day with E evaluations on D datasets, F failed runs.
5. Importers: the OpenML fixtures (documents/s) and an export -> import round trip of N entities (entities/s).

Run: ``python benchmarks/consumers_bench.py [--history H] [--entities N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mltrack_core as mt
from mltrack_core.exporters.ml_experiments_schema import export
from mltrack_core.importers import import_ml_experiments_schema, import_openml
from mltrack_core.notify import build_digest
from mltrack_core.regression import check_regression
from mltrack_core.schema import now_ms

OPENML_FIXTURES = Path(__file__).resolve().parents[1] / "mltrack_core" / "tests" / "fixtures" / "openml"


def pytest_start(folder: Path, runs: int = 15) -> tuple[float, float]:
    """Median seconds of ``pytest --co`` on a one-test project with the plugin and without; runs interleaved."""
    (folder / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    base = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for plugin in (True, False):
            started = time.perf_counter()
            subprocess.run(base if plugin else [*base, "-p", "no:mltrack"], cwd=folder, check=True, capture_output=True)
            times[plugin].append(time.perf_counter() - started)
    return statistics.median(times[True]), statistics.median(times[False])


def plugin_import_ms(runs: int = 9) -> float:
    """Median ms to import the plugin module in a fresh interpreter that has imported pytest already."""
    code = (
        "import time, pytest; t = time.perf_counter(); import mltrack_core.pytest_plugin; "
        "print(time.perf_counter() - t)"
    )
    times = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)]
    return statistics.median(times) * 1000


def write_cost(folder: Path, writes: int, rounds: int = 5) -> tuple[float, float]:
    """Median µs per track_dataset with the notify observer loaded, and with it disabled; rounds interleaved."""
    figures: dict[str, list[float]] = {"": [], "notify": []}
    for round_ in range(rounds):
        for disabled in figures:
            os.environ["MLTRACK_DISABLE_PLUGINS"] = disabled
            with mt.connect(f"sqlite:///{folder}/writes-{disabled or 'on'}-{round_}.db") as tracker:
                assert tracker.plugins.is_blocked("notify") is bool(disabled)
                started = time.perf_counter()
                for index in range(writes):
                    tracker.track_dataset(name=f"d{index}", fingerprint=f"sha256:{index}")
                figures[disabled].append((time.perf_counter() - started) / writes * 1e6)
    os.environ.pop("MLTRACK_DISABLE_PLUGINS")
    return statistics.median(figures[""]), statistics.median(figures["notify"])


def regression_check_cost(folder: Path, history: int) -> tuple[float, float]:
    """Milliseconds per check with ``history`` comparable evaluations, recording on and off."""
    with mt.connect(f"sqlite:///{folder}/checks.db") as tracker:
        holdout = tracker.track_dataset(name="holdout", fingerprint="sha256:holdout", target="y")
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=holdout)
        for index in range(history):
            tracker.track_evaluation(
                {"auc": 0.5 + index / (4 * history)}, computed_by=model, on_dataset=holdout, procedure="holdout"
            )
        timings = {}
        for record in (True, False):
            runs = []
            for _ in range(20):
                started = time.perf_counter()
                check_regression(
                    tracker, "auc", 0.7, model=model, dataset=holdout, tolerance=0.5, record=record, repository=folder
                )
                runs.append(time.perf_counter() - started)
            timings[record] = statistics.median(runs) * 1000
    return timings[True], timings[False]


def digest_cost(folder: Path, evaluations: int, datasets: int, failed: int) -> float:
    with mt.connect(f"sqlite:///{folder}/digest.db") as tracker:
        data = [tracker.track_dataset(name=f"d{i}", fingerprint=f"sha256:d{i}", target="y") for i in range(datasets)]
        models = [
            tracker.track_model(name=f"m{i}", learning_algorithm="lr", trained_on=data[i % datasets])
            for i in range(datasets)
        ]
        for index in range(evaluations):
            tracker.track_evaluation(
                {"accuracy": index / evaluations, "log_loss": 1 - index / evaluations},
                computed_by=models[index % datasets],
                on_dataset=data[index % datasets],
                procedure="holdout",
            )
        for index in range(failed):
            tracker.track_training(name=f"r{index}").fail("diverged")
        started = time.perf_counter()
        digest = build_digest(tracker, now_ms() - 86_400_000)
        elapsed = time.perf_counter() - started
        assert len(digest.leaders) == 2 * datasets and len(digest.failed_runs) == failed
    return elapsed * 1000


def importer_speed(folder: Path, entities: int) -> tuple[float, float, float, int]:
    documents = len(list(OPENML_FIXTURES.rglob("*.xml")))
    runs = []
    for attempt in range(5):
        with mt.connect(f"sqlite:///{folder}/openml-{attempt}.db") as tracker:
            started = time.perf_counter()
            import_openml(tracker, [OPENML_FIXTURES])
            runs.append(time.perf_counter() - started)
    openml_rate = documents / statistics.median(runs)

    with mt.connect(f"sqlite:///{folder}/source.db") as source:
        holdout = source.track_dataset(name="holdout", fingerprint="sha256:h", target="y")
        per_model = 4  # a model, its run with 20 points, a prediction and an evaluation
        for index in range(entities // per_model):
            model = source.track_model(name=f"m{index}", learning_algorithm="lr", trained_on=holdout)
            run = source.track_training(name=f"fit {index}", trained_on=holdout)
            for epoch in range(20):
                run.log("loss", 1 / (epoch + 1), epoch=epoch)
            run.finish(model)
            prediction = source.track_prediction(
                computed_by=model, on_dataset=holdout, location=f"file:///p{index}.csv"
            )
            source.track_evaluation({"auc": 0.8}, computed_by=model, on_dataset=holdout, for_prediction=prediction)
        total = source.count()
        started = time.perf_counter()
        export(source, folder / "export")
        export_rate = total / (time.perf_counter() - started)
    with mt.connect(f"sqlite:///{folder}/copy.db") as copy:
        started = time.perf_counter()
        import_ml_experiments_schema(copy, folder / "export")
        import_rate = total / (time.perf_counter() - started)
    return openml_rate, export_rate, import_rate, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=2_000, help="comparable evaluations behind a regression check")
    parser.add_argument("--entities", type=int, default=4_000, help="entities in the export -> import round trip")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        os.environ["MLTRACK_HOME"] = str(folder / "home")
        with_plugin, without = pytest_start(folder)
        print(
            f"pytest --co of an empty project: {with_plugin * 1000:.0f} ms with the mltrack plugin, "
            f"{without * 1000:.0f} ms without ({(with_plugin - without) * 1000:+.0f} ms, x{with_plugin / without:.2f})"
        )
        print(f"import mltrack_core.pytest_plugin after pytest: {plugin_import_ms():.1f} ms")
        on, off = write_cost(folder, 1_000)
        print(
            f"track_dataset into SQLite: {on:.0f} µs with the notify observer, {off:.0f} µs without (x{on / off:.2f})"
        )
        recorded, compared = regression_check_cost(folder, arguments.history)
        print(
            f"check_regression with {arguments.history} comparable evaluations: {recorded:.1f} ms recording, "
            f"{compared:.1f} ms compare only"
        )
        digest = digest_cost(folder, 2_000, 20, 50)
        print(f"build_digest of a day with 2000 evaluations on 20 datasets and 50 failed runs: {digest:.0f} ms")
        openml_rate, export_rate, import_rate, total = importer_speed(folder, arguments.entities)
        print(f"OpenML import of the fixtures: {openml_rate:.0f} documents/s")
        print(
            f"round trip of {total} entities: export {export_rate:.0f} entities/s, import {import_rate:.0f} entities/s "
            f"(import/export x{import_rate / export_rate:.2f})"
        )


if __name__ == "__main__":
    main()
