"""Live training runs: non-blocking logging, durability, outages and interpreter exit."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

import mltrack_core as mt
from mltrack_core.backends.memory import MemoryStore
from mltrack_core.errors import StoreUnavailableError
from mltrack_core.extraction import Extraction
from mltrack_core.hookspecs import hookimpl


class OutageStore(MemoryStore):
    """An in-memory store whose point writes fail while ``down`` is set, like a server during an outage."""

    def __init__(self) -> None:
        super().__init__("memory://outage")
        self.down = threading.Event()

    def append_points(self, points, batch_id=None):
        if self.down.is_set():
            raise StoreUnavailableError("the store is down for maintenance")
        super().append_points(points, batch_id=batch_id)


def test_values_must_be_numbers(tracker):
    class Number:
        def __float__(self):
            return 2.5

    with tracker.track_training(name="r") as run:
        run.log("ok", Number(), epoch=1)
        run.log("int", 3)
        with pytest.raises(mt.SchemaError, match="metric 'loss' needs a number, got str"):
            run.log("loss", "low")
        run.log_many({"a": 1.0, "b": 2.0}, step=4)
    assert [(p.metric, p.value, p.epoch, p.step) for p in tracker.points(run.id)] == [
        ("ok", 2.5, 1, None),
        ("int", 3.0, None, None),
        ("a", 1.0, None, 4),
        ("b", 2.0, None, 4),
    ]


def test_flushed_points_are_durable_for_other_readers(tmp_path):
    path = tmp_path / "s.db"
    with mt.connect(f"sqlite:///{path}") as tracker:
        run = tracker.track_training(name="r")
        for step in range(1_000):
            run.log("loss", step, step=step)
        assert run.flush()
        other = sqlite3.connect(path)
        assert other.execute("SELECT COUNT(*) FROM points WHERE run_id = ?", (run.id,)).fetchone()[0] == 1_000
        run.finish()


def test_an_outage_is_reported_and_nothing_is_lost_once_the_store_returns(tmp_path):
    store = OutageStore()
    tracker = mt.Tracker(store, artifacts=tmp_path)
    run = tracker.track_training(name="r")
    store.down.set()

    def train_during_the_outage():
        for step in range(100):
            run.log("loss", step, step=step)
        return run.flush(timeout=1.0)

    # the writer may try at once or at its next wake-up: the warning is awaited inside the block either way
    with pytest.warns(mt.TrackingWarning, match="not yet stored.*down for maintenance.*retrying"):
        flushed = train_during_the_outage()
    assert not flushed
    store.down.clear()
    assert run.flush(timeout=60)
    assert [point.step for point in tracker.points(run.id)] == list(range(100))
    run.finish()
    tracker.close()


def test_helpers_from_the_plugin_that_described_the_subject_become_run_attributes(tracker):
    class Trainer:
        pass

    class Helpers:
        def __init__(self, run):
            self.run = run

        def epoch_callback(self):
            return lambda epoch, loss: self.run.log("loss", loss, epoch=epoch)

    class TrainerPlugin:
        @hookimpl
        def mltrack_extract_training(self, obj):
            if not isinstance(obj, Trainer):
                return None
            return Extraction(mt.TrainingRun(hyperparameters=[mt.Parameter.of("epochs", 2)]), run_helpers=Helpers)

    tracker.plugins.register(TrainerPlugin(), name="trainer-plugin")
    trainer = Trainer()
    run = tracker.track_training(trainer)
    callback = run.epoch_callback()
    callback(0, 0.5)
    callback(1, 0.25)
    with pytest.raises(AttributeError, match="no framework helper 'batch_callback' for Trainer"):
        run.batch_callback()
    dataset = tracker.track_dataset(name="d")
    model = tracker.track_model(name="m", learning_algorithm="x", trained_on=dataset)
    run.finish(model)
    stored = tracker.get(run.id)
    assert stored.hyperparameters[0].value == 2
    assert [point.value for point in stored.scores_over_time] == [0.5, 0.25]


def test_training_an_object_no_plugin_knows_is_an_error(tracker):
    with pytest.raises(mt.MissingPluginError, match="as a training run"):
        tracker.track_training(object())


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import mltrack_core as mt

    tracker = mt.connect(sys.argv[1])
    run = tracker.track_training(name="left open")
    for step in range(5_000):
        run.log("loss", 1.0 / (step + 1), step=step)
    print(run.id, flush=True)
    if sys.argv[2] == "crash":
        raise RuntimeError("out of memory, pretend")
    """
)


@pytest.mark.parametrize(
    ("ending", "state"), [("normal", mt.TrainingState.FINISHED), ("crash", mt.TrainingState.FAILED)]
)
def test_runs_left_open_are_flushed_and_ended_at_interpreter_exit(tmp_path, ending, state):
    store = f"sqlite:///{tmp_path}/s.db"
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, store, ending], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == (0 if ending == "normal" else 1), result.stderr
    run_id = result.stdout.strip()
    with mt.connect(store) as tracker:
        run = tracker.get(run_id)
        assert run.state is state
        assert run.annotations["mltrack.ended_by"] == "interpreter exit"
        assert len(run.scores_over_time) == 5_000
        if ending == "crash":
            assert "RuntimeError: out of memory, pretend" in run.annotations["mltrack.failure"]


def test_closing_the_tracker_writes_what_is_queued(tmp_path):
    store = f"sqlite:///{tmp_path}/s.db"
    tracker = mt.connect(store)
    run = tracker.track_training(name="r")
    for step in range(10_000):
        run.log("loss", step)
    run_id = run.id
    run.finish()
    tracker.close()
    with mt.connect(store) as reader:
        assert len(reader.points(run_id)) == 10_000


@pytest.mark.parametrize(("epoch", "step"), [(-1, None), (2**63, None), (None, 1.5), (None, "3")])
def test_epochs_and_steps_must_be_64_bit_counts(tracker, epoch, step):
    run = tracker.track_training(name="r")
    with pytest.raises(mt.SchemaError, match="non-negative 64-bit int"):
        run.log("loss", 1.0, epoch=epoch, step=step)
    run.finish()


def test_numpy_like_integers_are_accepted_as_epochs(tracker):
    class Index:
        def __index__(self):
            return 4

    with tracker.track_training(name="r") as run:
        run.log("loss", 1.0, epoch=Index(), step=Index())
    assert tracker.points(run.id)[0][3:5] == (4, 4)


@pytest.mark.parametrize(
    ("metric", "value", "message"),
    [
        (None, 1.0, "metric name"),
        ("", 1.0, "metric name"),
        ("\ud800", 1.0, "UTF-8"),
        ("loss", None, "needs a number"),
        ("loss", "high", "needs a number"),
        ("loss", 10**400, "needs a number"),
    ],
)
def test_a_bad_metric_name_or_value_is_refused_when_logged(tracker, metric, value, message):
    with tracker.track_training(name="r") as run:
        with pytest.raises(mt.SchemaError, match=message):
            run.log(metric, value)
        run.log("loss", 1.0)
    assert [point.metric for point in tracker.get(run.id).scores_over_time] == ["loss"]


def test_a_point_refused_by_the_store_never_holds_back_the_points_of_other_runs(tmp_path):
    """The issue's repro: one bad point used to stop every run's points from becoming durable."""
    tracker = mt.connect(f"sqlite:///{tmp_path / 'store.db'}")
    good, bad = tracker.track_training(name="good"), tracker.track_training(name="bad")
    good.log("loss", 1.0, step=0)
    bad.log("loss", 2.0, step=0)
    bad._queue.append((bad.id, None, 1.0, None, None, 1))  # what log() refuses, as a plugin could still queue it
    good.log("loss", 0.5, step=1)
    with pytest.warns(mt.TrackingWarning, match=f"point of run {bad.id}.*refused by the store and dropped"):
        assert good.flush(timeout=10)
    good.finish()
    bad.finish()
    assert [point.value for point in tracker.get(good.id).scores_over_time] == [1.0, 0.5]
    assert [point.value for point in tracker.get(bad.id).scores_over_time] == [2.0]


class PickyStore(MemoryStore):
    """A real in-memory store that refuses one metric with an error of its own, as a stricter backend could."""

    def append_points(self, points, batch_id=None):
        if any(point[1] == "refused" for point in points):
            raise ValueError("this backend cannot hold the metric 'refused'")
        super().append_points(points, batch_id=batch_id)


def test_the_writer_isolates_the_points_a_store_refuses_and_writes_all_others():
    tracker = mt.Tracker(PickyStore("memory://picky"))
    with tracker.track_training(name="r") as run:
        for step in range(100):
            run.log("loss", float(step), step=step)
            if step in (10, 70):
                run.log("refused", 1.0, step=step)
        with pytest.warns(mt.TrackingWarning, match="refused by the store and dropped"):
            assert run.flush(timeout=10)
    points = tracker.get(run.id).scores_over_time
    assert [point.step for point in points] == list(range(100))


class CountingOutageStore(OutageStore):
    """Records the batch id of every append it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_ids: list[str | None] = []

    def append_points(self, points, batch_id=None):
        self.batch_ids.append(batch_id)
        super().append_points(points, batch_id=batch_id)


def test_a_batch_is_retried_with_its_idempotency_key_after_an_outage():
    store = CountingOutageStore()
    tracker = mt.Tracker(store)
    with tracker.track_training(name="r") as run:
        store.down.set()

        def log_during_the_outage():
            run.log("loss", 1.0)
            return run.flush(timeout=0.6)

        with pytest.warns(mt.TrackingWarning, match="not yet stored"):  # the writer may try before the flush
            assert not log_during_the_outage()
        store.down.clear()
        assert run.flush(timeout=30)
    assert len(store.batch_ids) >= 2 and len(set(store.batch_ids)) == 1 and store.batch_ids[0]
    assert [point.value for point in tracker.get(run.id).scores_over_time] == [1.0]


class StoreWithoutBatchIds(MemoryStore):
    """A store written against the contract before batch ids (its append takes the points alone)."""

    def append_points(self, points):
        return super().append_points(points)


def test_stores_written_before_batch_ids_still_get_every_point():
    tracker = mt.Tracker(StoreWithoutBatchIds("memory://old"))
    with tracker.track_training(name="r") as run:
        run.log("loss", 1.0)
    assert [point.value for point in tracker.get(run.id).scores_over_time] == [1.0]


def test_a_flush_after_the_writer_stopped_answers_at_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    tracker = mt.connect(uri)
    run = tracker.track_training(name="r")
    run.log("loss", 1.0)
    tracker.close()  # ends the writer thread (as at interpreter exit), after writing what was queued
    assert tracker.flush(timeout=1.0)  # nothing is left to write: no wait for a thread that is gone
    with mt.connect(uri, read_only=True) as reader:
        assert [point.value for point in reader.points(run.id)] == [1.0]


def test_open_runs_are_the_live_runs_not_yet_ended_with_their_subjects(tracker):
    assert tracker.open_runs() == []
    data = tracker.track_dataset(name="d")
    first = tracker.track_training(name="first", trained_on=data)
    second = tracker.track_training(name="second", trained_on=data)
    assert tracker.open_runs() == [first, second]
    first.finish()
    second.fail(RuntimeError("boom"))
    assert tracker.open_runs() == []
