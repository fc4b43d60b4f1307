"""Four server processes over one PostgreSQL store: 32 concurrent writers and a reader; nothing lost, reads agree."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from rest_servers import ServerProcess

import mltrack_core as mt
from mltrack_core import TrainingState

pytestmark = pytest.mark.postgresql

WORKERS = 4
WRITERS = 32
RUNS_PER_WRITER = 3
POINTS_PER_RUN = 40


def _workers(pid: int) -> list[int]:
    """The worker processes of the server ``pid`` (not multiprocessing's resource tracker)."""
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [child for child in children if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()]


class _Writes:
    """What the servers acknowledged, shared by the writer threads and the reader."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[str, str, str]] = []  # (run, model, evaluation), in the order acknowledged
        self.errors: list[str] = []

    def add(self, run_id: str, model_id: str, evaluation_id: str) -> None:
        with self.lock:
            self.acknowledged.append((run_id, model_id, evaluation_id))

    def failed(self, who: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{who}: {type(exc).__name__}: {exc}")

    def snapshot(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return list(self.acknowledged)


def _write_runs(url: str, dataset_id: str, writer: int, writes: _Writes) -> None:
    try:
        with mt.connect(url) as tracker:
            for index in range(RUNS_PER_WRITER):
                run = tracker.track_training(name=f"writer {writer} run {index}", trained_on=dataset_id)
                for step in range(POINTS_PER_RUN):
                    run.log("loss", 1.0 / (step + 1), step=step)
                model = tracker.track_model(
                    name=f"writer {writer} model {index}", trained_on=dataset_id, learning_algorithm="lr"
                )
                run.finish(model=model)  # its points are durable before it ends
                evaluation = tracker.track_evaluation(
                    {"accuracy": (writer * RUNS_PER_WRITER + index) / 1000},
                    computed_by=model,
                    on_dataset=dataset_id,
                    procedure="holdout",
                )
                writes.add(run.id, model.id, evaluation.id)
    except Exception as exc:  # noqa: BLE001 - every failure of a writer is reported by the test
        writes.failed(f"writer {writer}", exc)


def _read_while_writing(url: str, dataset_id: str, writes: _Writes, done: threading.Event, reads: list) -> None:
    """Leaderboards and lineage, each checked against what was acknowledged before it was asked."""
    try:
        with mt.connect(url) as tracker:
            while not done.is_set():
                known = writes.snapshot()
                board = tracker.leaderboard(dataset_id, "accuracy")
                ranked = {entry.evaluation.id for entry in board.entries}
                missing = [evaluation for _, _, evaluation in known if evaluation not in ranked]
                if missing:
                    writes.failed("reader", AssertionError(f"leaderboard lacks acknowledged {missing[:3]}"))
                if known:
                    _, model_id, evaluation_id = known[-1]
                    upstream = tracker.lineage(evaluation_id)
                    if not {model_id, dataset_id} <= set(upstream.nodes):
                        writes.failed("reader", AssertionError(f"lineage of {evaluation_id} lacks its model or data"))
                reads.append(len(known))
    except Exception as exc:  # noqa: BLE001
        writes.failed("reader", exc)


def test_four_server_processes_over_one_postgresql_store_lose_nothing(start_server, fresh_stores) -> None:
    server = start_server(fresh_stores.new("postgresql"), "--workers", str(WORKERS), own_process=True)
    workers = _workers(server.process.pid)
    try:
        assert len(workers) == WORKERS
        _write_and_read_concurrently(server)
        assert _workers(server.process.pid) == workers  # no worker died on the way
        serving = set(re.findall(r"\[(\d+)\] mltrack\.server: \S+ \"POST /v1/entities\" 200", server.log_text()))
        assert len(serving) >= 2  # the kernel hands the 33 clients' connections to the workers
    finally:
        assert server.stop() == 0  # SIGTERM: the supervisor stops its workers, then exits
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def _write_and_read_concurrently(server: ServerProcess) -> None:
    with mt.connect(server.url) as tracker:
        dataset_id = tracker.track_dataset(name="iris", target="species", fingerprint="sha256:" + "c" * 64).id
    writes, done, reads = _Writes(), threading.Event(), []
    reader = threading.Thread(target=_read_while_writing, args=(server.url, dataset_id, writes, done, reads))
    writers = [
        threading.Thread(target=_write_runs, args=(server.url, dataset_id, writer, writes)) for writer in range(WRITERS)
    ]
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()

    assert writes.errors == []
    assert len(reads) >= 2 and reads[-1] > reads[0]  # the reader read while the writers wrote
    acknowledged = writes.snapshot()
    assert len(acknowledged) == WRITERS * RUNS_PER_WRITER
    with mt.connect(server.url) as tracker:
        assert tracker.count("run") == tracker.count("model") == tracker.count("evaluation") == len(acknowledged)
        for run_id, model_id, _ in acknowledged:
            run = tracker.get_run(run_id)
            assert run.state is TrainingState.FINISHED and run.for_model == model_id
            assert [point.step for point in tracker.points(run_id)] == list(range(POINTS_PER_RUN))
        board = tracker.leaderboard(dataset_id, "accuracy")
        assert {entry.evaluation.id for entry in board.entries} == {evaluation for _, _, evaluation in acknowledged}
