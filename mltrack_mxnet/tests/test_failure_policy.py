"""Implicit tracking never breaks training: failing stores, ended runs, foreign callers, odd initializers."""

from __future__ import annotations

import re
import sqlite3
import threading

import mxnet as mx
import pytest
from conftest import mlp, tracking_warnings

import mltrack_core as mt
from mltrack_core.backends.memory import MemoryStore


class OutageStore(MemoryStore):
    """The in-memory store, with an outage switch: while it is on, storing metric points fails."""

    def __init__(self) -> None:
        super().__init__("memory://outage")
        self.outage = threading.Event()

    def append_points(self, points):
        if self.outage.is_set():
            raise mt.StoreUnavailableError(f"{self.uri} is down (outage)")
        super().append_points(points)


class FanInNormal(mx.init.Initializer):
    """A user's initializer whose argument is a function, which MXNet's dumps() cannot write as JSON."""

    def __init__(self, scale):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, name, array):
        array[:] = mx.nd.random.normal(0, self.scale(array.shape[1]), shape=array.shape)


def fit(module, run, digits, epochs=2):
    module.fit(
        digits.iterator("train", shuffle=True),
        eval_data=digits.iterator("validation"),
        num_epoch=epochs,
        optimizer_params={"learning_rate": 0.1},
        batch_end_callback=run.batch_callback(),
        epoch_end_callback=run.epoch_callback(),
        eval_end_callback=run.eval_callback(),
    )


def test_a_store_outage_during_fit_delays_the_metrics_and_loses_none(tmp_path, digits, fit_log):
    store = OutageStore()
    with mt.Tracker(store, artifacts=tmp_path / "artifacts") as tracker:
        train_set = digits.track(tracker, "train")
        module = mx.mod.Module(mlp(), context=mx.cpu(), logger=fit_log.logger)
        run = tracker.track_training(module, trained_on=train_set)
        store.outage.set()

        with tracking_warnings() as caught:  # the writer may try during fit or when flushed: watch both
            fit(module, run, digits)
            assert not run.flush(timeout=1.0)  # the writer tried, failed, and keeps the points
        assert any(re.search(r"not yet stored \(StoreUnavailableError.*outage", str(w.message)) for w in caught)

        store.outage.clear()
        assert run.flush(timeout=30)
        points = tracker.get(run.id).scores_over_time
        recorded = {(p.metric, p.epoch): p.value for p in points if p.step is None}
        for epoch, stage, metric, value in fit_log.epoch_values():
            name = f"{'train' if stage == 'Train' else 'validation'}-{metric}"
            assert recorded[(name, epoch)] == pytest.approx(value, abs=5e-7)
        batches = -(-len(digits.rows["train"]) // 40)
        assert sum(1 for p in points if p.step is not None) == 2 * batches
        tracker.track_model(module, trained_on=train_set)


def test_fit_does_not_wait_for_a_locked_store(tmp_path, digits):
    path = tmp_path / "store.db"
    with mt.connect(f"sqlite:///{path}", artifacts=tmp_path / "artifacts") as tracker:
        train_set = digits.track(tracker, "train")
        module = mx.mod.Module(mlp(), context=mx.cpu())
        run = tracker.track_training(module, trained_on=train_set)
        other_process = sqlite3.connect(path, isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")  # another writer holds the database

        try:
            fit(module, run, digits)  # returns although nothing can be written
            assert not run.flush(timeout=0.5)
            assert tracker.points(run.id) == []
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()

        assert run.flush(timeout=30)
        assert len(tracker.points(run.id)) > 0
        tracker.track_model(module, trained_on=train_set)
        assert tracker.get(run.id).state is mt.TrainingState.FINISHED


def test_callbacks_of_an_ended_run_warn_once_and_let_fit_finish(tracker, train_set, digits, fit_log):
    module = mx.mod.Module(mlp(), context=mx.cpu(), logger=fit_log.logger)
    run = tracker.track_training(module, trained_on=train_set)
    run.finish()

    with tracking_warnings() as caught:
        fit(module, run, digits)

    messages = [str(warning.message) for warning in caught]
    assert all(warning.category is mt.TrackingWarning for warning in caught)
    assert len(messages) == 3  # one per kind, not one per batch
    assert any("training metrics was not recorded: RunStateError" in message for message in messages)
    assert any("validation metrics was not recorded" in message for message in messages)
    assert any("the learning rate was not recorded" in message for message in messages)
    assert len(fit_log.epoch_values()) == 4  # MXNet trained and reported as usual
    with pytest.warns(mt.TrackingWarning, match="recorded without: training metrics was not recorded"):
        model = tracker.track_model(module, trained_on=train_set)
    assert "RunStateError" in model.annotations["mltrack.failures"]


def test_callbacks_called_by_a_loop_of_ones_own_log_without_fit_settings(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    module.bind(data_shapes=[("data", (40, 64))], label_shapes=[("softmax_label", (40,))])
    module.init_params()
    module.init_optimizer()
    run = tracker.track_training(module, trained_on=train_set)
    on_batch, on_eval = run.batch_callback(), run.eval_callback()
    metric = mx.metric.Accuracy()

    with tracking_warnings() as caught:
        for nbatch, batch in enumerate(digits.iterator("train")):
            module.forward_backward(batch)
            module.update()
            module.update_metric(metric, batch.label)
            on_batch(mx.model.BatchEndParam(epoch=0, nbatch=nbatch, eval_metric=metric, locals=None))
        module.score(digits.iterator("validation"), "acc", score_end_callback=on_eval)
    run.flush()
    assert caught == []

    metrics = {(p.metric, p.step is None) for p in tracker.get(run.id).scores_over_time}
    assert metrics == {("train-accuracy", False), ("validation-accuracy", True)}
    model = tracker.track_model(module, trained_on=train_set)
    assert "epochs" not in {p.name for p in model.hyperparameters}


def test_an_initializer_that_cannot_be_described_is_noted_and_the_rest_recorded(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    initializer = FanInNormal(scale=lambda fan_in: fan_in**-0.5)  # a function argument: dumps() fails

    module.fit(
        digits.iterator("train"),
        num_epoch=1,
        initializer=initializer,
        batch_end_callback=run.batch_callback(),
    )
    with pytest.warns(mt.TrackingWarning, match=r"recorded without: initializer: TypeError"):
        model = tracker.track_model(module, trained_on=train_set)

    names = {p.name for p in model.hyperparameters}
    assert {"optimizer.learning_rate", "epochs", "batch_size"} <= names
    assert "initializer" not in names
    assert model.annotations["mltrack.failures"].startswith("initializer: TypeError")
