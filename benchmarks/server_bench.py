"""Speed figures of the metadata service. Prints them; asserts nothing (the machine is shared and noisy).

For a server (``python -m mltrack_core.server``, one process, on loopback)
over a SQLite store and over a PostgreSQL store:

1. entity writes per second, and the p50/p99 latency of one write, with 1, 8
   and 32 concurrent clients (threads of this process, each with its own
   tracker and keep-alive session, recording datasets with ``track_dataset``);
   the same single-client writes into the embedded SQLite store, for the ratio;
2. metric points per second through batched appends: a training run logging
   points with ``run.log`` until every point is durable on the server.

The PostgreSQL store is the URI given with ``--postgresql`` or in
``MLTRACK_TEST_POSTGRESQL_URI`` (e.g. from ``.ci/postgresql.sh start --durable``);
its tables go into a fresh schema that is dropped afterwards (needs
``mltrack-core[postgresql]``). Without one, the table says so.

Run: ``nox -s benchmarks`` or ``python benchmarks/server_bench.py [--writes N] [--points N] [--postgresql URI]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import requests

import mltrack_core as mt

CLIENTS = (1, 8, 32)
_LISTENING = re.compile(r"mltrack server listening on (http://[\d.]+:\d+)")


@contextlib.contextmanager
def running_server(store_uri: str, log: Path) -> Iterator[str]:
    """A server process over ``store_uri``; yields its URL, stops it afterwards."""
    command = [sys.executable, "-m", "mltrack_core.server", "--store", store_uri, "--port", "0"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = _LISTENING.search(log.read_text(errors="replace"))
            if process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{log.read_text(errors='replace')}")
            if found:
                with contextlib.suppress(requests.ConnectionError):
                    if requests.get(f"{found.group(1)}/v1/health", timeout=5).ok:
                        yield found.group(1)
                        return
            time.sleep(0.05)
        raise RuntimeError("the server did not start within 60 s")
    finally:
        process.terminate()
        process.wait(30)


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
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, p99 * 1000


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


def measure_store(label: str, store_uri: str, folder: Path, writes: int, points: int) -> list[tuple]:
    """(store, what, rate per second, p50 ms, p99 ms) rows for a server over ``store_uri``."""
    rows = []
    with running_server(store_uri, folder / f"{label}.log") as url:
        for clients in CLIENTS:
            rows.append((label, f"entity writes, {clients} client(s)", *entity_writes(url, clients, writes)))
        rows.append((label, "metric points, batched appends", point_appends(url, points), None, None))
    return rows


def print_table(rows: list[tuple]) -> None:
    header = ("store behind the server", "what", "per second", "p50 ms", "p99 ms")
    cells = [header] + [
        (store, what, f"{rate:,.0f}", "" if p50 is None else f"{p50:.2f}", "" if p99 is None else f"{p99:.2f}")
        for store, what, rate, p50, p99 in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        print("  ".join(cell.rjust(width) if column >= 2 else cell.ljust(width)
                        for column, (cell, width) in enumerate(zip(row, widths, strict=True))))  # fmt: skip
        if index == 0:
            print("  ".join("-" * width for width in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000, help="entity writes per client count")
    parser.add_argument("--points", type=int, default=200_000, help="metric points logged")
    parser.add_argument("--postgresql", default=os.environ.get("MLTRACK_TEST_POSTGRESQL_URI"), metavar="URI")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        os.environ["MLTRACK_HOME"] = str(folder / "home")  # the clients' spool, if any
        embedded = ("embedded SQLite (no server)", "entity writes, 1 client(s)",
                    *entity_writes(f"sqlite:///{folder}/embedded.db", 1, options.writes))  # fmt: skip
        rows = [
            embedded,
            *measure_store("SQLite", f"sqlite:///{folder}/served.db", folder, options.writes, options.points),
        ]
        if options.postgresql:
            with postgresql_schema(options.postgresql) as store_uri:
                rows += measure_store("PostgreSQL", store_uri, folder, options.writes, options.points)
    print_table(rows)
    if not options.postgresql:
        print("PostgreSQL: not measured; give --postgresql URI or set MLTRACK_TEST_POSTGRESQL_URI")
    by_label = {(row[0], row[1]): row[2] for row in rows}
    one, many = by_label[("SQLite", "entity writes, 1 client(s)")], by_label[("SQLite", "entity writes, 32 client(s)")]
    print(f"\nserver over SQLite, 1 client: {one / embedded[2]:.2f}x the writes per second of the embedded store; "
          f"32 clients: {many / one:.1f}x one client")  # fmt: skip
    if options.postgresql:
        postgresql = by_label[("PostgreSQL", "entity writes, 32 client(s)")]
        print(f"32 clients: the server over PostgreSQL writes {postgresql / many:.2f}x as fast as over SQLite")


if __name__ == "__main__":
    main()
