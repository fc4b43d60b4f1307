"""Speed figures of the metadata service, side by side with MLflow's tracking server. Prints them; asserts nothing.

One run measures, each over fresh stores (SQLite files in a temporary folder, and fresh schemas of the
PostgreSQL server given with ``--postgresql`` or ``MLTRACK_TEST_POSTGRESQL_URI``):

1. **A tracked run over REST**: requests per run, client CPU per run (this process, its writer thread
   included) and server CPU per run (the server's processes, from ``/proc``), for mltrack's
   ``track_training`` + 10 points + ``track_model`` + ``finish`` + ``track_evaluation`` and for MLflow's
   ``create_run`` + ``log_batch`` (the same 10 points, 2 parameters, the score) + ``set_terminated``
   against ``mlflow server`` over SQLite (when MLflow is installed).
2. **Entity writes** per second with 1, 8 and 32 client threads (p50 and p99 of one write), and the
   embedded SQLite store for the ratio.
3. **Ingest**: metric points per second of a 20,000- and a 200,000-point run (``run.log`` in a loop
   until every point is durable: the tracker's writer thread batches them).
4. **Queries** (client-observed, median of 20 calls after a warm-up), embedded and over REST: the
   leaderboard (top 10) of a dataset with 1,000-2,000 evaluations, lineage of an evaluation, 50 models
   trained on a dataset, a count; in a store of 2,000 evaluations and in one of 1,000,000 (``--evaluations``;
   generated in bulk through the store's ``put``: 500 datasets of 1,000 and one crowded dataset with the
   other half, whose leaderboard is measured too, top 10 and ranks 1,001-1,010).
5. **Several servers over one PostgreSQL store**: runs and points per second of 32 writer processes
   against ``mltrack server --workers N`` for N = 1, 2, 4, with errors and the p99 of one run.

Run: ``nox -s benchmarks``, or ``python benchmarks/server_bench.py [--quick] [--evaluations N]
[--postgresql URI]``. ``--quick`` uses 100,000 evaluations, fewer runs and smaller ingests.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests
import requests.adapters

import mltrack_core as mt
from mltrack_core.schema import Dataset, Evaluation, Model, Parameter, Score
from mltrack_core.store import record_of

CLIENTS = (1, 8, 32)
SERVER_PROCESSES = (1, 2, 4)
CURVE_WRITERS = 32
POINTS_PER_RUN = 10
_LISTENING = re.compile(r"mltrack server listening on (http://[\d.]+:\d+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def say(message: str) -> None:
    print(f"server_bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes and their CPU


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and of its live descendants (a server and its workers)."""
    total = 0.0
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    return total


@dataclass
class Server:
    """A server's address, and the process whose CPU (with its descendants') answers its requests."""

    url: str
    pid: int


def descendant_running(pid: int, module: str) -> int | None:
    """The first descendant of ``pid`` whose command line names ``module`` (MLflow's uvicorn, not its job runner)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            if module.encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
            found = descendant_running(child, module)
            if found is not None:
                return found
    return None


def _wait_until_up(process: subprocess.Popen, log: Path, url_of: Callable[[str], str | None], health: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text(errors='replace')[-3000:]}")
        url = url_of(log.read_text(errors="replace"))
        if url:
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(f"{url}{health}", timeout=5).ok:
                    return url
        time.sleep(0.1)
    raise RuntimeError("the server did not start within 120 s")


@contextlib.contextmanager
def running_server(store_uri: str, log: Path, workers: int = 1) -> Iterator[Server]:
    """``mltrack server`` over ``store_uri`` on a free loopback port; stopped afterwards."""
    command = [sys.executable, "-m", "mltrack_core.server", "--store", store_uri, "--port", "0"]
    command += ["--workers", str(workers)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:

        def url_of(text: str) -> str | None:
            found = _LISTENING.search(text)
            return found.group(1) if found else None

        yield Server(_wait_until_up(process, log, url_of, "/v1/health"), process.pid)
    finally:
        process.terminate()
        process.wait(60)


@contextlib.contextmanager
def running_mlflow(folder: Path) -> Iterator[Server | None]:
    """``mlflow server`` over a fresh SQLite store, or None when MLflow is not installed."""
    executable = Path(sys.executable).with_name("mlflow")
    if not executable.exists():
        yield None
        return
    port = _free_port()
    log = folder / "mlflow.log"
    command = [str(executable), "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
               "--default-artifact-root", str(folder / "mlflow-artifacts"), "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = _wait_until_up(process, log, lambda _: f"http://127.0.0.1:{port}", "/health")
        yield Server(url, descendant_running(process.pid, "uvicorn") or process.pid)
    finally:
        process.terminate()
        process.wait(60)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def postgresql_schema(server_uri: str) -> Iterator[str]:
    """A store URI on ``server_uri`` whose tables go into a fresh schema, dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_uri, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        try:
            separator = "&" if "?" in server_uri else "?"
            yield f"{server_uri}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
        finally:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def counted_requests() -> Iterator[list[int]]:
    """Counts the HTTP requests this process sends through requests (both clients use it) into ``[n]``."""
    count = [0]
    send = requests.adapters.HTTPAdapter.send

    def counting(self: requests.adapters.HTTPAdapter, *arguments: object, **options: object) -> requests.Response:
        count[0] += 1
        return send(self, *arguments, **options)

    requests.adapters.HTTPAdapter.send = counting  # type: ignore[method-assign]
    try:
        yield count
    finally:
        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]


# ---------------------------------------------------------------- 1. a tracked run


def mltrack_run(tracker: mt.Tracker, dataset: Dataset, index: int) -> None:
    """One tracked run, as a training script records it: the run, its points, the model, the end, the score."""
    run = tracker.track_training(name=f"fit {index}", trained_on=dataset)
    for step in range(POINTS_PER_RUN):
        run.log("loss", 1.0 / (step + 1), step=step)
    model = tracker.track_model(
        name=f"model {index}",
        trained_on=dataset,
        learning_algorithm="LogisticRegression",
        hyperparameters=[Parameter(name="C", value=index / 10), Parameter(name="max_iter", value=100)],
    )
    run.finish(model=model)
    tracker.track_evaluation({"accuracy": index / 1e4}, computed_by=model, on_dataset=dataset, procedure="holdout")


def mlflow_run(client: object, experiment_id: str, index: int) -> None:
    """The same run as MLflow records it with its client: create, one batch (params, points, score), terminate."""
    from mlflow.entities import Metric, Param

    run = client.create_run(experiment_id, run_name=f"fit {index}")  # type: ignore[attr-defined]
    moment = int(time.time() * 1000)
    metrics = [Metric("loss", 1.0 / (step + 1), moment, step) for step in range(POINTS_PER_RUN)]
    metrics.append(Metric("accuracy", index / 1e4, moment, 0))
    params = [Param("C", str(index / 10)), Param("max_iter", "100")]
    client.log_batch(run.info.run_id, metrics=metrics, params=params)  # type: ignore[attr-defined]
    client.set_terminated(run.info.run_id)  # type: ignore[attr-defined]


def per_run_costs(label: str, server: Server, runs: int, record: Callable[[int], None]) -> tuple:
    """(label, requests per run, client CPU ms per run, server CPU ms per run, wall ms per run)."""
    for index in range(5):  # warm up: connections, caches
        record(-index - 1)
    server_before, client_before, began = tree_cpu_seconds(server.pid), time.process_time(), time.perf_counter()
    with counted_requests() as sent:
        for index in range(runs):
            record(index)
    wall, client = time.perf_counter() - began, time.process_time() - client_before
    server_cpu = tree_cpu_seconds(server.pid) - server_before
    return (label, sent[0] / runs, 1000 * client / runs, 1000 * server_cpu / runs, 1000 * wall / runs)


def measure_tracked_runs(url: str, server: Server, label: str, runs: int) -> tuple:
    with mt.connect(url) as tracker:
        dataset = tracker.track_dataset(name="iris", location="s3://data/iris.csv", target="species")
        row = per_run_costs(label, server, runs, lambda index: mltrack_run(tracker, dataset, index))
        tracker.flush()
    return row


def measure_mlflow_runs(server: Server, runs: int) -> tuple:
    from mlflow.tracking import MlflowClient

    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    client = MlflowClient(tracking_uri=server.url)
    experiment_id = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
    return per_run_costs("MLflow server, SQLite", server, runs, lambda index: mlflow_run(client, experiment_id, index))


# ---------------------------------------------------------------- 2. entity writes


def entity_writes(uri: str, clients: int, writes: int) -> tuple[float, float, float]:
    """(writes per second, p50 ms, p99 ms) of ``writes`` dataset writes shared by ``clients`` threads."""
    trackers = [mt.connect(uri) for _ in range(clients)]
    for tracker in trackers:  # warm up: connections, plugin managers
        tracker.track_dataset(name="warm-up")
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(tracker: mt.Tracker, count: int) -> None:
        mine = []
        start.wait()
        for index in range(count):
            began = time.perf_counter()
            tracker.track_dataset(name=f"d{index}", location=f"s3://bucket/{uuid.uuid4().hex}", target="y")
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    per_client = max(1, writes // clients)
    threads = [threading.Thread(target=client, args=(tracker, per_client)) for tracker in trackers]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for tracker in trackers:
        tracker.close()
    return len(latencies) / elapsed, *_p50_p99(latencies)


def _p50_p99(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


# ---------------------------------------------------------------- 3. ingest


def point_appends(uri: str, points: int) -> float:
    """Metric points per second from ``run.log`` until all are durable (the background writer batches them)."""
    with mt.connect(uri) as tracker:
        run = tracker.track_training(name="benchmark")
        began = time.perf_counter()
        for step in range(points):
            run.log("loss", 1.0 / (step + 1), step // 1000, step)
        run.flush(timeout=None)
        elapsed = time.perf_counter() - began
        stored = len(tracker.points(run.id))
        run.finish()
    if stored != points:
        raise RuntimeError(f"{stored} of {points} points were stored")
    return points / elapsed


# ---------------------------------------------------------------- 4. queries


@dataclass(frozen=True)
class Filled:
    """What :func:`fill_evaluations` stored: the datasets (the first the crowded one), an evaluation to ask about."""

    datasets: list[str]
    evaluation: str
    evaluations: int
    seconds: float
    crowded: int = 0
    """How many evaluations the first dataset has, when it is the crowded one (else 0)."""


def fill_evaluations(store_uri: str, datasets: int, per_dataset: int, crowded: int = 0, batch: int = 4000) -> Filled:
    """``datasets`` × ``per_dataset`` evaluations, and ``crowded`` more on the first dataset, through ``put``.

    Each evaluation scores a model of its own.
    """
    generator = random.Random(7)
    algorithms = ("LogisticRegression", "SVC", "RandomForestClassifier", "KNeighborsClassifier", "GaussianNB")
    began = time.perf_counter()
    dataset_ids, evaluation_id = [], ""
    with mt.connect(store_uri) as tracker:
        store, records, written = tracker.store, [], 0
        for number in range(datasets):
            dataset = Dataset(name=f"dataset {number}", target="y", fingerprint=f"sha256:{number:064x}")
            records.append(record_of(dataset))
            dataset_ids.append(dataset.id)
            for index in range(per_dataset + (crowded if number == 0 else 0)):
                model = Model(
                    name=f"model {index}",
                    trained_on=dataset.id,
                    learning_algorithm=algorithms[index % len(algorithms)],
                    hyperparameters=(Parameter(name="C", value=index / 10), Parameter(name="seed", value=index)),
                )
                evaluation = Evaluation(
                    computed_by=model.id,
                    on_dataset=dataset.id,
                    procedure="5-fold",
                    scores=(Score(metric="accuracy", value=generator.random()),),
                )
                records += (record_of(model), record_of(evaluation))
                evaluation_id = evaluation_id or evaluation.id
                if len(records) >= batch:
                    store.put(records)
                    written, records = written + len(records), []
                    if written % (batch * 50) < batch:
                        say(f"  {written:,} entities written")
        store.put(records)
    evaluations = datasets * per_dataset + crowded
    crowd = per_dataset + crowded if crowded else 0
    return Filled(dataset_ids, evaluation_id, evaluations, time.perf_counter() - began, crowd)


def median_ms(call: Callable[[], object], repeat: int = 20) -> float:
    call()  # warm up
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def query_latencies(uri: str, filled: Filled) -> dict[str, float]:
    """The median ms of each query; the leaderboards of a typical dataset and, if any, of the crowded one."""
    dataset = filled.datasets[-1]
    with mt.connect(uri) as tracker:
        found = {
            "leaderboard, top 10": median_ms(lambda: tracker.leaderboard(dataset, "accuracy", limit=10)),
            "lineage of an evaluation": median_ms(lambda: tracker.lineage(filled.evaluation)),
            "find 50 models trained on a dataset": median_ms(
                lambda: tracker.find("model", trained_on=dataset, limit=50)
            ),
            "count evaluations": median_ms(lambda: tracker.count("evaluation")),
        }
        if filled.crowded:
            crowded = filled.datasets[0]
            found[f"leaderboard, top 10, of a dataset with {filled.crowded:,} evaluations"] = median_ms(
                lambda: tracker.leaderboard(crowded, "accuracy", limit=10)
            )
            found["  the same, ranks 1,001-1,010"] = median_ms(
                lambda: tracker.leaderboard(crowded, "accuracy", limit=10, offset=1000)
            )
    return found


# ---------------------------------------------------------------- 5. several servers


def _curve_writer(url: str, runs: int, seed: int) -> tuple[int, int, list[float], list[str]]:
    """One writer process: ``runs`` tracked runs; (runs, points, seconds per run, errors)."""
    import warnings

    errors, durations = [], []
    warnings.simplefilter("error")  # a write spooled because the server did not answer counts as an error
    try:
        with mt.connect(url) as tracker:
            dataset = tracker.track_dataset(name="shared", location="s3://data/shared.csv", target="y")
            for index in range(runs):
                began = time.perf_counter()
                mltrack_run(tracker, dataset, seed * 1000 + index)
                durations.append(time.perf_counter() - began)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        errors.append(f"{type(exc).__name__}: {exc}")
    return len(durations), len(durations) * POINTS_PER_RUN, durations, errors


def server_curve(postgresql: str, folder: Path, runs_per_writer: int) -> list[tuple]:
    """(server processes, runs/s, points/s, p99 ms of a run, errors, lost) over one PostgreSQL store."""
    rows = []
    context = multiprocessing.get_context("spawn")
    with context.Pool(CURVE_WRITERS) as pool:
        pool.starmap(time.sleep, [(0,)] * CURVE_WRITERS)  # the writers are up before the clock starts
        for workers in SERVER_PROCESSES:
            say(f"curve: {workers} server process(es), {CURVE_WRITERS} writer processes")
            with (
                postgresql_schema(postgresql) as store_uri,
                running_server(store_uri, folder / f"curve-{workers}.log", workers) as server,
            ):
                began = time.perf_counter()
                results = pool.starmap(
                    _curve_writer, [(server.url, runs_per_writer, seed) for seed in range(CURVE_WRITERS)]
                )
                elapsed = time.perf_counter() - began
                with mt.connect(store_uri) as tracker:
                    stored = tracker.count("evaluation")
            done = sum(result[0] for result in results)
            durations = [duration for result in results for duration in result[2]]
            errors = sum(len(result[3]) for result in results)
            _, p99 = _p50_p99(durations) if durations else (0.0, 0.0)
            rows.append((workers, done / elapsed, sum(r[1] for r in results) / elapsed, p99, errors, done - stored))
    return rows


# ---------------------------------------------------------------- printing


def print_table(title: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    cells = [header] + [tuple(_cell(value) for value in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                        for column, (cell, width) in enumerate(zip(row, widths, strict=True))))  # fmt: skip
        if index == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
    return "" if value is None else str(value)


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k evaluations, fewer runs, smaller ingests")
    parser.add_argument("--runs", type=int, help="tracked runs per client for the per-run costs (default 300)")
    parser.add_argument("--writes", type=int, help="entity writes per client count (default 1000)")
    parser.add_argument("--evaluations", type=int, help="evaluations in the large store (default 1,000,000)")
    parser.add_argument("--postgresql", default=os.environ.get("MLTRACK_TEST_POSTGRESQL_URI"), metavar="URI")
    parser.add_argument(
        "--only",
        choices=("writes", "queries", "curve"),
        help="only tracked runs, entity writes and ingest (1-3), or queries (4), or the curve (5)",
    )
    options = parser.parse_args()
    runs = options.runs or (100 if options.quick else 300)
    writes = options.writes or (300 if options.quick else 1000)
    large = options.evaluations or (100_000 if options.quick else 1_000_000)
    ingests = (20_000, 50_000) if options.quick else (20_000, 200_000)
    curve_runs = 5 if options.quick else 15
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        os.environ["MLTRACK_HOME"] = str(folder / "home")  # the clients' spool, if any
        stores = [("SQLite", lambda: contextlib.nullcontext(f"sqlite:///{folder}/{uuid.uuid4().hex}.db"))]
        if options.postgresql:
            stores.append(("PostgreSQL", lambda: postgresql_schema(options.postgresql)))

        if options.only in (None, "writes"):
            measure_writes(stores, folder, runs, writes, ingests)
        if options.only in (None, "queries"):
            measure_queries(stores, folder, large)
        if options.only in (None, "curve"):
            if options.postgresql:
                curve = server_curve(options.postgresql, folder, curve_runs)
                print_table(
                    f"Several servers over one PostgreSQL store: {CURVE_WRITERS} writer processes, "
                    f"{curve_runs} tracked runs each, {os.cpu_count()} cores for everything",
                    ("server processes", "runs/s", "points/s", "p99 ms of a run", "errors", "lost"),
                    curve,
                )
            else:
                print("\nPostgreSQL: not measured; give --postgresql URI or set MLTRACK_TEST_POSTGRESQL_URI")


def measure_writes(stores: list, folder: Path, runs: int, writes: int, ingests: tuple[int, ...]) -> None:
    """Sections 1-3: a tracked run side by side with MLflow's, entity writes, ingest."""
    per_run, writes_rows, ingest_rows = [], [], []
    say("embedded SQLite writes")
    writes_rows.append(("embedded SQLite", 1, *entity_writes(f"sqlite:///{folder}/embedded.db", 1, writes)))
    for label, new_store in stores:
        with new_store() as store_uri, running_server(store_uri, folder / f"{label}.log") as server:
            say(f"{label}: tracked runs")
            per_run.append(measure_tracked_runs(server.url, server, f"mltrack server, {label}", runs))
            for clients in CLIENTS:
                say(f"{label}: entity writes, {clients} client(s)")
                writes_rows.append((f"mltrack server, {label}", clients, *entity_writes(server.url, clients, writes)))
            for points in ingests:
                say(f"{label}: ingest of a {points:,}-point run")
                ingest_rows.append((f"mltrack server, {label}", f"{points:,}", point_appends(server.url, points)))
    with running_mlflow(folder) as mlflow:
        if mlflow is None:
            print("MLflow is not installed: its rows are left out (pip install mlflow)")
        else:
            say("MLflow: tracked runs")
            per_run.append(measure_mlflow_runs(mlflow, runs))
    print_table(
        f"A tracked run over REST ({POINTS_PER_RUN} points, a model and its score; {runs} runs)",
        ("server", "requests/run", "client CPU ms/run", "server CPU ms/run", "wall ms/run"),
        per_run,
    )
    mlflow_row = next((row for row in per_run if row[0].startswith("MLflow")), None)
    if mlflow_row:
        for row in per_run[:-1]:
            client, server = row[2] / mlflow_row[2], row[3] / mlflow_row[3]
            print(f"  {row[0]}: client CPU {client:.2f}x MLflow's, server CPU {server:.2f}x, "
                  f"requests {row[1]:.1f} vs {mlflow_row[1]:.1f}")  # fmt: skip
        print("  (MLflow's server CPU: its uvicorn process; its job runner's processes are left out)")
    print_table("Entity writes", ("store", "clients", "writes/s", "p50 ms", "p99 ms"), writes_rows)
    print_table("Ingest: one run's points until durable", ("server", "points", "points/s"), ingest_rows)


def measure_queries(stores: list, folder: Path, large: int) -> None:
    """Section 4: queries in a store of 2,000 evaluations and in a large one with a crowded dataset."""
    query_rows = []
    for label, new_store in stores:
        crowded = large // 2
        for datasets, per_dataset, crowd in ((1, 2000, 0), (max(1, crowded // 1000), 1000, large - crowded)):
            with new_store() as store_uri:
                say(f"{label}: filling a store of {datasets * per_dataset + crowd:,} evaluations")
                filled = fill_evaluations(store_uri, datasets, per_dataset, crowd)
                say(f"  {2 * filled.evaluations + datasets:,} entities in {filled.seconds:.0f} s")
                embedded = query_latencies(store_uri, filled)
                with running_server(store_uri, folder / "queries.log") as server:
                    served = query_latencies(server.url, filled)
            size = f"{filled.evaluations:,} evaluations"
            query_rows += [(label, size, what, ms, served[what]) for what, ms in embedded.items()]
    print_table(
        "Queries, median ms (leaderboards of a dataset with 1,000-2,000 evaluations, and of a crowded one)",
        ("store", "store size", "query", "embedded", "over REST"),
        query_rows,
    )


if __name__ == "__main__":
    main()
