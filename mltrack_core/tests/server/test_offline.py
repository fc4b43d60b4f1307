"""The REST client when the server is down or answers get lost: nothing is lost, nothing is stored twice."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lossy_proxy import LossyProxy

import mltrack_core as mt
from mltrack_core import Dataset, StoreUnavailableError, TrackingWarning, TrainingState
from mltrack_core.backends.spool import Spool
from mltrack_core.store import Point


def _sync(*arguments: str) -> subprocess.CompletedProcess:
    """``mltrack sync`` in a process of its own, as a user runs it."""
    command = [sys.executable, "-c", "from mltrack_core.server.cli import sync; sync()", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def proxy(start_server, tmp_path: Path) -> Iterator[LossyProxy]:
    server = start_server(f"sqlite:///{tmp_path}/store.db")
    proxy = LossyProxy(server.port)
    proxy.server_url = server.url  # type: ignore[attr-defined]
    yield proxy
    proxy.close()


def test_a_lost_answer_to_a_metric_batch_does_not_store_it_twice(proxy: LossyProxy) -> None:
    with mt.connect(proxy.url) as tracker:
        run = tracker.track_training(name="fit", trained_on=tracker.track_dataset(name="d"))
        proxy.lose("POST /v1/points")
        for step in range(100):
            run.log("loss", 1.0 / (step + 1), step=step)
        assert run.flush()
        run.finish()
    with mt.connect(proxy.server_url) as direct:  # type: ignore[attr-defined]
        assert [point.step for point in direct.points(run.id)] == list(range(100))
    assert proxy.seen.count("POST /v1/points HTTP/1.1") == 2  # sent again with its batch id: a no-op the second time
    assert not any("?tail=" in request for request in proxy.seen)  # nothing is guessed from the run's last points


def test_an_answer_cut_after_its_headers_is_retried_like_a_lost_one(proxy: LossyProxy) -> None:
    with mt.connect(proxy.url) as tracker:  # what a client sees when the server is killed while it answers
        proxy.cut("POST /v1/entities")
        dataset = tracker.track_dataset(name="once")
        run = tracker.track_training(name="fit", trained_on=dataset)
        sent = [Point(run.id, "loss", 1.0, None, 0, 1_000)]
        proxy.cut("POST /v1/points")
        assert tracker.store.append_points(sent, batch_id="batch-1")  # sent again at once, not raised
        assert tracker.points(run.id) == sent and tracker.count("dataset") == 1
    assert proxy.seen.count("POST /v1/entities HTTP/1.1") == 3  # the dataset twice, the run once
    assert proxy.seen.count("POST /v1/points HTTP/1.1") == 2


def test_a_batch_that_never_arrived_is_sent_again_although_the_run_ends_with_the_same_points(
    proxy: LossyProxy,
) -> None:
    with mt.connect(proxy.url) as tracker:
        run = tracker.track_training(name="fit")
        point = Point(run.id, "lr", 0.1, None, None, 1_000)  # the same value logged twice in one millisecond
        assert tracker.store.append_points([point], batch_id="first")
        proxy.drop("POST /v1/points")  # the connection breaks: the client cannot know the server never saw it
        assert tracker.store.append_points([point], batch_id="second")
        assert tracker.points(run.id) == [point, point]
    assert proxy.seen.count("POST /v1/points HTTP/1.1") == 3


def test_a_batch_sent_again_after_its_answer_was_lost_is_stored_once_whatever_it_holds(proxy: LossyProxy) -> None:
    with mt.connect(proxy.url) as tracker:
        run = tracker.track_training(name="fit")
        sent = [Point(run.id, "loss", 1.0, None, 0, 1_000)]
        proxy.lose("POST /v1/points")
        assert tracker.store.append_points(sent, batch_id="batch-1")  # sent again at once: a no-op
        assert not tracker.store.append_points([Point(run.id, "loss", 2.0, None, 1, 1_001)], batch_id="batch-1")
        assert tracker.points(run.id) == sent


def test_an_import_cut_short_on_the_server_leaves_nothing_and_runs_again(start_server, tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    server = start_server(f"sqlite:///{store}")
    with sqlite3.connect(store) as connection:  # a real fault, inside the server's transaction
        connection.execute("CREATE TRIGGER fault BEFORE INSERT ON points BEGIN SELECT RAISE(ABORT, 'disk gone'); END")
    dataset = Dataset(name="imported")
    run = mt.TrainingRun(
        name="imported fit",
        trained_on=dataset.id,
        state=TrainingState.FINISHED,
        start_time=1_000,
        end_time=5_000,
        scores_over_time=(mt.ScoreAtTime(metric="loss", value=0.5, timestamp=2_000, step=0),),
    )
    with mt.connect(server.url) as tracker:
        with pytest.raises(mt.StoreError):
            tracker.restore([dataset, run])
        assert tracker.count() == 0  # no run left TRAINING to block the next import
    with sqlite3.connect(store) as connection:
        connection.execute("DROP TRIGGER fault")
    with mt.connect(server.url) as tracker:
        assert [entity.id for entity in tracker.restore([dataset, run])] == [dataset.id, run.id]
        assert tracker.get(run.id).state is TrainingState.FINISHED
        assert [point.value for point in tracker.points(run.id)] == [0.5]


# ---------------------------------------------------------------- the spool keeps batch ids


def test_spooled_batches_keep_their_id_and_only_batches_never_sent_are_merged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite", "http://server")
    spool.add("points", "/v1/points", '[["run-1","loss",1.0,null,0,1]]', points=1, batch="a")
    spool.add("points", "/v1/points", '[["run-1","loss",2.0,null,1,2]]', points=1, batch="b")  # merged into "a"
    spool.add("points", "/v1/points", '[["run-1","loss",3.0,null,2,3]]', points=1, batch="c", maybe_sent=True)
    spool.add("points", "/v1/points", '[["run-1","loss",4.0,null,3,4]]', points=1, batch="d")  # "c" may be stored
    writes = []
    while (write := spool.claim_first()) is not None:
        writes.append((write.batch, [row[2] for row in json.loads(write.body)]))
        spool.remove(write)
    assert writes == [("a", [1.0, 2.0]), ("c", [3.0]), ("d", [4.0])]
    spool.close()


def test_a_spool_from_before_batch_ids_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:  # the writes table as it was before batch ids
        connection.execute(
            "CREATE TABLE writes (seq INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT NOT NULL, path TEXT NOT NULL, "
            "body TEXT NOT NULL, points INTEGER NOT NULL DEFAULT 0, maybe_sent INTEGER NOT NULL DEFAULT 0, "
            "spooled_at INTEGER NOT NULL)"
        )
        connection.execute("INSERT INTO writes VALUES (1, 'points', '/v1/points', '[]', 0, 1, 0)")
    spool = Spool(path, "http://server")
    old = spool.claim_first()
    assert old is not None and old.batch is None and old.maybe_sent
    spool.add("points", "/v1/points", "[]", batch="new")
    spool.remove(old)
    assert spool.claim_first().batch == "new"
    spool.close()


def test_a_lost_answer_to_an_entity_write_is_retried_safely(proxy: LossyProxy) -> None:
    with mt.connect(proxy.url) as tracker:
        proxy.lose("POST /v1/entities")
        dataset = tracker.track_dataset(name="once")
        assert tracker.get(dataset.id) == dataset and tracker.count("dataset") == 1
    assert proxy.seen.count("POST /v1/entities HTTP/1.1") == 2  # the retry was a no-op on the server


def _train_through_an_outage(start_server, store: str, total: int) -> tuple[str, mt.TrainingRun]:
    """A training run whose server is killed (SIGKILL) a third of the way in and is back at two thirds."""
    server = start_server(store)
    tracker = mt.connect(server.url)
    run = tracker.track_training(name="fit", trained_on=tracker.track_dataset(name="train"))
    for step in range(total):
        run.log("loss", 1.0 / (step + 1), epoch=step // 100, step=step)
        down = total // 3 < step <= 2 * total // 3
        if step % 20 == 19:  # a training loop: the background writer sends a batch every 0.25 s
            time.sleep(0.06 if down else 0.01)  # down for 3 s, longer than the client's retries
        if step == total // 3:
            server.kill()  # possibly while a batch is in flight
        if step == 2 * total // 3:
            start_server(store, port=server.port)  # back, on the same store and port
    ended = run.finish()  # never raises although the server was away
    tracker.close()
    return server.url, ended


def test_killing_the_server_mid_run_loses_no_metric(start_server, tmp_path: Path) -> None:
    store, total = f"sqlite:///{tmp_path}/store.db", 3000
    with pytest.warns(TrackingWarning, match="unreachable"):
        url, ended = _train_through_an_outage(start_server, store, total)
    assert ended.state is TrainingState.FINISHED
    done = _sync("--uri", url)
    assert done.returncode == 0, done.stdout + done.stderr
    with mt.connect(store) as stored:
        points = stored.points(ended.id)
        assert [point.step for point in points] == list(range(total))  # every point, once, in order
        assert [point.value for point in points] == [1.0 / (step + 1) for step in range(total)]
        assert stored.get(ended.id).state is TrainingState.FINISHED


def _record_offline(url: str) -> dict[str, object]:
    """A whole experiment recorded while nothing answers at ``url``; reads that can be answered locally are."""
    with mt.connect(url) as tracker:
        dataset = tracker.track_dataset(name="offline", fingerprint="sha256:0ff1")
        run = tracker.track_training(name="fit", trained_on=dataset)
        for step in range(500):
            run.log("loss", 1.0 / (step + 1), step=step)
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        ended = run.finish(model)
        evaluation = tracker.track_evaluation({"accuracy": 0.9}, computed_by=model, on_dataset=dataset)
        assert tracker.get(dataset.id) == dataset  # answered from what this client wrote
        with pytest.raises(StoreUnavailableError, match="mltrack sync"):
            tracker.find("dataset")  # a query needs the server
    return {"dataset": dataset, "model": model, "run": ended, "evaluation": evaluation}


def test_a_job_runs_through_with_the_server_down_and_sync_delivers_later(start_server, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there yet
    with pytest.warns(TrackingWarning, match="unreachable"):
        recorded = _record_offline(url)
    status = _sync("--uri", url, "--status")
    assert status.returncode == 1 and "wait in" in status.stdout
    start_server(f"sqlite:///{tmp_path}/store.db", port=int(url.rpartition(":")[2]))
    done = _sync("--uri", url)
    assert done.returncode == 0 and "0 still wait" in done.stdout, done.stdout + done.stderr
    with mt.connect(url) as tracker:
        for role in ("dataset", "model", "evaluation"):
            assert tracker.get(recorded[role].id) == recorded[role]
        ended = recorded["run"]
        stored = tracker.get(ended.id)
        assert stored.state is TrainingState.FINISHED and stored.for_model == recorded["model"].id
        assert stored.end_time == ended.end_time
        assert [point.step for point in tracker.points(ended.id)] == list(range(500))
    assert _sync("--all").returncode == 0


def _record_datasets(url: str, *datasets: Dataset) -> None:
    with mt.connect(url) as tracker:
        for dataset in datasets:
            tracker.track_dataset(dataset)


def test_writes_the_server_refuses_later_are_kept_and_reported(start_server, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.warns(TrackingWarning, match="unreachable"):
        _record_datasets(url, Dataset(id="ds-contested", name="mine"), Dataset(id="ds-fine", name="fine"))
    server = start_server(f"sqlite:///{tmp_path}/store.db", port=int(url.rpartition(":")[2]))
    theirs = {"entities": [{"kind": "dataset", "id": "ds-contested", "name": "theirs"}]}
    assert requests.post(f"{server.url}/v1/entities", json=theirs, timeout=10).status_code == 200  # another client
    done = _sync("--uri", url, "--json")
    assert done.returncode == 1
    (report,) = json.loads(done.stdout)
    assert report["sent"] == 1 and report["pending"] == 0 and report["rejected"] == 1
    assert "ConflictError" in report["refused"][0]["error"] and "ds-contested" in report["refused"][0]["error"]
    status = _sync("--uri", url, "--status")
    assert "refused: put /v1/entities: ConflictError" in status.stdout
    with mt.connect(url) as tracker:
        assert tracker.get("ds-contested").name == "theirs" and tracker.get("ds-fine").name == "fine"


def test_writes_wait_in_the_spool_while_the_server_refuses_the_token(
    start_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.warns(TrackingWarning, match="unreachable"):
        _record_datasets(url, Dataset(id="ds-waiting", name="waiting"))
    token = "a-token-of-the-trainers-0123456789"
    start_server(
        f"sqlite:///{tmp_path}/store.db",
        port=int(url.rpartition(":")[2]),
        env={"MLTRACK_SERVER_TOKENS": f"write:{token}"},
    )
    refused = _sync("--uri", url)
    assert refused.returncode == 1 and "MLTRACK_TOKEN" in refused.stderr
    assert "1 write(s) wait" in _sync("--uri", url, "--status").stdout  # kept, not rejected
    monkeypatch.setenv("MLTRACK_TOKEN", token)
    done = _sync("--uri", url)
    assert done.returncode == 0 and "sent 1 write(s)" in done.stdout
    with mt.connect(url) as tracker:
        assert tracker.get("ds-waiting").name == "waiting"


def test_a_read_sends_the_waiting_writes_first(start_server, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.warns(TrackingWarning, match="unreachable"):
        _record_datasets(url, Dataset(id="ds-early", name="early"))
    start_server(f"sqlite:///{tmp_path}/store.db", port=int(url.rpartition(":")[2]))
    with mt.connect(url) as tracker:  # another tracker of this machine: same spool
        assert [dataset.id for dataset in tracker.find("dataset")] == ["ds-early"]  # it reads what was spooled
    assert "0 write(s) wait" in _sync("--uri", url, "--status").stdout
