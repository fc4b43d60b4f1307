"""The server as a service: where it listens, what it logs, how it stops, several processes over one store."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import requests

import mltrack_core as mt


def test_it_listens_on_loopback_logs_requests_and_stops_cleanly(start_server, tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path}/store.db", own_process=True)
    assert server.url.startswith("http://127.0.0.1:")
    with mt.connect(server.url) as tracker:
        dataset = tracker.track_dataset(name="kept")
    assert requests.get(f"{server.url}/v1/entities/nope", timeout=10).status_code == 404
    assert server.stop() == 0  # SIGTERM: finish requests in flight, close the store, exit 0
    log = server.log_text()
    assert '"POST /v1/entities" 200' in log and '"GET /v1/entities/nope" 404' in log
    assert "closed the store" in log and "mltrack server stopped" in log and "Traceback" not in log
    with mt.connect(f"sqlite:///{tmp_path}/store.db") as tracker:  # what it wrote is durable
        assert tracker.get(dataset.id) == dataset


def test_several_server_processes_share_one_store(start_server, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/shared.db"
    first, second = start_server(store), start_server(store)
    with mt.connect(first.url) as writer_a, mt.connect(second.url) as writer_b:
        dataset = writer_a.track_dataset(name="shared")
        failures: list[BaseException] = []

        def write(tracker: mt.Tracker, prefix: str) -> None:
            try:
                for index in range(20):
                    tracker.track_model(name=f"{prefix}{index}", learning_algorithm="lr", trained_on=dataset.id)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)

        threads = [
            threading.Thread(target=write, args=(tracker, name)) for tracker, name in ((writer_a, "a"), (writer_b, "b"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert writer_a.count("model") == writer_b.count("model") == 40
        run = writer_a.track_training(name="fit", trained_on=dataset)
        run.log("loss", 0.5)
        run.flush()
        assert writer_b.points(run.id)[0].value == 0.5  # what one process wrote, the other serves
        run.finish()


def test_the_server_refuses_to_serve_another_server(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mltrack_core.server", "--store", "http://127.0.0.1:9/"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not another server" in done.stderr


def test_sync_with_nothing_spooled_says_so(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from mltrack_core.server.cli import sync; sync()", "--all"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 0 and "nothing is spooled" in done.stdout
