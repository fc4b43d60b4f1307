"""Recording off the caller's path: deferred writes, read-your-writes, order, failures, close and exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import mltrack_core as mt
from mltrack_core import deferred
from mltrack_core.backends.memory import MemoryStore
from mltrack_core.errors import StoreUnavailableError
from mltrack_core.schema import replace, with_context


class GatedStore(MemoryStore):
    """An in-memory store whose writes wait until ``gate`` opens, and that remembers which thread wrote."""

    def __init__(self) -> None:
        super().__init__("memory://gated")
        self.gate = threading.Event()
        self.writers: list[str] = []
        self.down = False

    def put(self, records, points=()):
        self.writers.append(threading.current_thread().name)
        if not self.gate.wait(timeout=30):
            raise AssertionError("the test never opened the gate")
        if self.down:
            raise StoreUnavailableError("the store is down for maintenance")
        return super().put(records, points)

    def update_run(self, record):
        self.writers.append(threading.current_thread().name)
        self.gate.wait(timeout=30)
        return super().update_run(record)


@pytest.fixture
def gated(tmp_path):
    store = GatedStore()
    tracker = mt.Tracker(store, artifacts=tmp_path, creator="ada", experiment="e1")
    yield store, tracker
    store.gate.set()
    tracker.close()


def test_deferred_writes_return_at_once_with_the_entity_as_it_will_be_stored(gated):
    store, tracker = gated
    with tracker.defer_writes():
        dataset = tracker.track_dataset(name="iris", fingerprint="xxh3-128:1", row_count=150)
        run = tracker.track_training(name="fit", trained_on=dataset)
        model = tracker.track_model(name="m", learning_algorithm="SVC", trained_on=dataset)
        ended = run.finish(model)
    assert store.writers == [] or store.writers[0].startswith("mltrack-deferred")  # the caller never waited
    assert model.creator == "ada" and model.experiment == "e1" and model.environment  # completed on the caller
    store.gate.set()
    assert tracker.get(model.id) == model  # waits for the deferred work: read your writes
    assert tracker.get(dataset.id) == dataset
    assert tracker.get_run(run.id) == ended
    assert ended.state is mt.TrainingState.FINISHED and ended.for_model == model.id
    assert set(store.writers) == {"mltrack-deferred"}


def test_work_runs_in_order_so_references_exist_when_written(tracker):
    with tracker.defer_writes():
        dataset = tracker.track_dataset(name="d")
        models = [tracker.track_model(name=f"m{i}", learning_algorithm="A", trained_on=dataset) for i in range(20)]
        evaluation = tracker.track_evaluation({"accuracy": 0.9}, computed_by=models[-1], on_dataset=dataset)
    assert tracker.flush()
    assert tracker.count("model", trained_on=dataset) == 20
    assert tracker.get(evaluation.id) == evaluation


def test_a_dataset_not_yet_stored_is_stored_before_what_names_it(tracker):
    dataset = mt.Dataset(name="never tracked")
    with tracker.defer_writes():
        model = tracker.track_model(name="m", learning_algorithm="A", trained_on=dataset)
    assert tracker.get(model.id).trained_on == dataset.id
    assert tracker.get(dataset.id).name == "never tracked"


def test_explicit_mistakes_still_raise_on_the_caller(tracker):
    with tracker.defer_writes():
        with pytest.raises(mt.SchemaError, match="needs trained_on"):
            tracker.track_model(name="m", learning_algorithm="A")
        with pytest.raises(mt.SchemaError, match="name"):
            tracker.track_dataset(name="")
        run = tracker.track_training(name="r")
        with pytest.raises(mt.RunStateError, match="state cannot be set"):
            run.finish(state="FAILED")
    assert tracker.flush()


def test_a_failure_is_one_warning_at_the_next_call_and_later_work_still_runs(gated):
    store, tracker = gated
    store.down = True
    with tracker.defer_writes():
        lost = tracker.track_dataset(name="lost")
    store.gate.set()
    with pytest.warns(mt.TrackingWarning, match=rf"dataset {lost.id} was not recorded: StoreUnavailableError"):
        assert tracker.count("dataset") == 0
    store.down = False
    with tracker.defer_writes():
        kept = tracker.track_dataset(name="kept")
    assert [d.id for d in tracker.find("dataset")] == [kept.id]


def test_defer_runs_any_work_on_the_background_thread_in_order(tracker):
    seen: list[tuple[int, str]] = []
    for index in range(5):
        tracker.defer("a step", lambda index=index: seen.append((index, threading.current_thread().name)))
    assert tracker.flush()
    assert seen == [(index, "mltrack-deferred") for index in range(5)]


def test_work_may_use_the_tracker_from_the_background_thread(tracker):
    tracker.defer("a dataset", lambda: tracker.track_dataset(name="from the thread"))
    assert [d.name for d in tracker.find("dataset")] == ["from the thread"]


def test_the_queue_is_bounded_so_a_fast_producer_waits(gated, monkeypatch):
    store, tracker = gated
    monkeypatch.setattr(deferred, "MAX_PENDING", 3)
    submitted = threading.Event()

    def produce():
        for _ in range(6):
            tracker.defer("work", lambda: store.put([]))
        submitted.set()

    producer = threading.Thread(target=produce)
    producer.start()
    assert not submitted.wait(timeout=0.5)  # three items at most are pending: one running, two queued
    store.gate.set()
    assert submitted.wait(timeout=30)
    producer.join()
    assert tracker.flush()
    assert len(store.writers) == 6


def test_closing_the_tracker_writes_what_was_deferred(tmp_path):
    path = tmp_path / "s.db"
    tracker = mt.connect(f"sqlite:///{path}")
    with tracker.defer_writes():
        dataset = tracker.track_dataset(name="d")
    tracker.close()
    with mt.connect(f"sqlite:///{path}", read_only=True) as reader:
        assert reader.get(dataset.id).name == "d"


def test_the_interpreter_exit_writes_what_was_deferred(tmp_path):
    path = tmp_path / "s.db"
    script = textwrap.dedent(
        f"""
        import mltrack_core as mt
        tracker = mt.connect("sqlite:///{path}")
        with tracker.defer_writes():
            dataset = tracker.track_dataset(name="written at exit")
            run = tracker.track_training(name="r", trained_on=dataset)
            run.finish()
        print(run.id)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    with mt.connect(f"sqlite:///{path}", read_only=True) as reader:
        assert reader.get_run(result.stdout.strip()).state is mt.TrainingState.FINISHED


def test_replace_converts_the_given_fields_and_refuses_unknown_ones(tracker):
    model = mt.Model(name="m", learning_algorithm="A", trained_on="ds-1", hyperparameters=[mt.Parameter(name="C")])
    renamed = replace(model, name="n", tags={"stage": "dev"})
    assert renamed.name == "n" and renamed.tags == {"stage": "dev"} and renamed.hyperparameters == model.hyperparameters
    assert renamed == mt.Model.from_json({**model.to_json(), "name": "n", "tags": {"stage": "dev"}})
    with pytest.raises(mt.SchemaError, match="name: expected a non-empty string"):
        replace(model, name="")
    with pytest.raises(mt.SchemaError, match="unknown field"):
        replace(model, colour="red")
    assert replace(model, id=None).id != model.id
    with pytest.raises(mt.SchemaError, match="not name"):
        with_context(model, name="x")
    assert with_context(model, creator="ada").creator == "ada"


def test_points_of_a_run_started_off_the_callers_path_wait_for_the_run(gated):
    store, tracker = gated
    with tracker.defer_writes():
        run = tracker.track_training(name="live")
    for step in range(50):
        run.log("loss", 1.0 / (step + 1), step=step)
    assert not run.flush(timeout=0.5)  # the run is not stored yet: its points wait instead of being dropped
    store.gate.set()
    assert run.flush(timeout=30)
    run.finish()
    assert len(tracker.points(run.id)) == 50
