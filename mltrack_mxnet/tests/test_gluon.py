"""Gluon: the estimator's event handler, trainers, and training loops of one's own."""

from __future__ import annotations

import logging
import re

import mxnet as mx
import pytest
from mxnet import autograd, gluon
from mxnet.gluon.contrib.estimator import Estimator
from mxnet.gluon.contrib.estimator.event_handler import EpochEnd
from test_dag import check_layout

import mltrack_core as mt
import mltrack_mxnet

ESTIMATOR_EPOCH_LINE = re.compile(r"\[Epoch \d+\] Finished in [\d.]+s, (training|validation) (\w+): ([\d.]+)")


def small_cnn():
    net = gluon.nn.HybridSequential()
    net.add(
        gluon.nn.Conv2D(8, 3, padding=1),
        gluon.nn.BatchNorm(),
        gluon.nn.Activation("relu"),
        gluon.nn.MaxPool2D(),
        gluon.nn.Flatten(),
        gluon.nn.Dense(10),
    )
    net.initialize(mx.init.Xavier())
    net.hybridize()
    return net


def loaders(digits, batch_size=40):
    def loader(part, shuffle):
        rows = digits.rows[part]
        dataset = gluon.data.ArrayDataset(
            mx.nd.array(digits.features[rows].reshape((-1, 1, 8, 8))), mx.nd.array(digits.labels[rows])
        )
        return gluon.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)

    return loader("train", True), loader("validation", False)


class EstimatorLog(logging.Handler):
    def __init__(self, estimator):
        super().__init__(logging.INFO)
        self.lines = []
        estimator.logger.handlers.clear()  # the estimator prints to stdout; keep its lines here instead
        estimator.logger.addHandler(self)

    def emit(self, record):
        self.lines.append(record.getMessage())

    def per_epoch(self, stage):
        found = (ESTIMATOR_EPOCH_LINE.fullmatch(line.strip()) for line in self.lines)
        return [(m[2], float(m[3])) for m in found if m and m[1] == stage]


def test_the_estimator_streams_what_it_reports_and_becomes_the_model(tracker, train_set, digits):
    net = small_cnn()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    estimator = Estimator(
        net,
        loss=gluon.loss.SoftmaxCrossEntropyLoss(),
        train_metrics=mx.metric.Accuracy(),
        trainer=trainer,
        context=mx.cpu(),
    )
    log = EstimatorLog(estimator)
    run = tracker.track_training(estimator, trained_on=train_set)
    train_loader, validation_loader = loaders(digits)

    estimator.fit(train_loader, val_data=validation_loader, epochs=2, event_handlers=[run.event_handler()])
    model = tracker.track_model(estimator, name="digits-gluon", trained_on=train_set, serialize=True)

    stored = tracker.get(run.id)
    recorded = {(p.metric, p.epoch): p.value for p in stored.scores_over_time if p.step is None}
    # The estimator logs 4 decimals, and every validation line as "[Epoch 0]": take them in order.
    for stage, name in (("training", "train"), ("validation", "validation")):
        reported = log.per_epoch(stage)
        assert [metric for metric, _ in reported] == ["accuracy", "accuracy"]
        for epoch, (metric, value) in enumerate(reported):
            assert recorded[(f"{name}-{metric}", epoch)] == pytest.approx(value, abs=5e-5)
    assert recorded[("learning-rate", 1)] == 0.1
    assert stored.state is mt.TrainingState.FINISHED
    assert stored.for_model == model.id

    values = {p.name: p.value for p in model.hyperparameters}
    assert model.learning_algorithm == "SGD"
    assert (values["optimizer.learning_rate"], values["optimizer.momentum"]) == (0.1, 0.9)
    assert values["optimizer.rescale_grad"] == 1 / 40  # what step(40) sets: the trainer's scale / batch size
    assert (values["epochs"], values["batch_size"], values["loss"]) == (2, 40, "SoftmaxCrossEntropyLoss")
    check_layout(tracker, model, net._cached_graph[1], {"data": (40, 1, 8, 8)}, {"data"})
    symbol, arg_params, aux_params = mltrack_mxnet.load_model(model)
    assert sorted([*arg_params, *aux_params]) == sorted(net.collect_params().keys())
    assert sorted(aux_params) == ["batchnorm0_running_mean", "batchnorm0_running_var"]
    assert symbol.list_outputs() == net._cached_graph[1].list_outputs()


def test_an_estimator_stopped_early_records_the_epochs_it_completed(tracker, train_set, digits):
    class StopAfterFirstEpoch(EpochEnd):
        def epoch_end(self, estimator, *args, **kwargs):
            return True  # asks the estimator to stop

    net = small_cnn()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    estimator = Estimator(net, loss=gluon.loss.SoftmaxCrossEntropyLoss(), trainer=trainer, context=mx.cpu())
    EstimatorLog(estimator)
    run = tracker.track_training(estimator, trained_on=train_set)

    estimator.fit(loaders(digits)[0], epochs=5, event_handlers=[run.event_handler(), StopAfterFirstEpoch()])
    model = tracker.track_model(estimator, trained_on=train_set)

    values = {p.name: p.value for p in model.hyperparameters}
    assert (values["epochs"], values["epochs_completed"]) == (5, 1)
    epochs = {p.epoch for p in tracker.get(run.id).scores_over_time}
    assert epochs == {0}


def test_a_trainer_run_starts_with_the_optimizer_settings(tracker, train_set):
    net = small_cnn()
    scheduler = mx.lr_scheduler.MultiFactorScheduler(step=[10, 20], factor=0.5)
    trainer = gluon.Trainer(
        net.collect_params(), "nag", {"learning_rate": 0.2, "momentum": 0.8, "wd": 1e-4, "lr_scheduler": scheduler}
    )

    run = tracker.track_training(trainer, name="nag", trained_on=train_set)

    values = {p.name: p.value for p in tracker.get(run.id).hyperparameters}
    assert (values["optimizer"], values["optimizer.learning_rate"], values["optimizer.momentum"]) == ("nag", 0.2, 0.8)
    assert (values["lr_scheduler"], values["lr_scheduler.step"], values["lr_scheduler.factor"]) == (
        "MultiFactorScheduler",
        (10, 20),
        0.5,
    )
    run.finish()


def test_a_loop_of_ones_own_records_the_facts_it_is_told(tracker, train_set, digits):
    net = small_cnn()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss_function = gluon.loss.SoftmaxCrossEntropyLoss()
    run = tracker.track_training(net, trained_on=train_set)
    train_loader, _ = loaders(digits, batch_size=100)

    for epoch in range(2):
        total = 0.0
        for data, label in train_loader:
            with autograd.record():
                loss = loss_function(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
            total += loss.sum().asscalar()
        run.log("train-loss", total / len(digits.rows["train"]), epoch=epoch)
    mltrack_mxnet.set_training_facts(net, input_shapes=(100, 1, 8, 8), trainer=trainer, epochs=2)
    model = tracker.track_model(net, trained_on=train_set)

    values = {p.name: p.value for p in model.hyperparameters}
    assert model.learning_algorithm == "Adam"
    assert (values["optimizer"], values["optimizer.learning_rate"], values["epochs"]) == ("adam", 0.01, 2)
    assert values["batch_size"] == 100
    assert tracker.get(run.id).for_model == model.id
    assert [p.epoch for p in tracker.get(run.id).scores_over_time] == [0, 1]


def test_serializing_an_uninitialized_network_is_refused(tracker, train_set):
    net = gluon.nn.Dense(10)
    mltrack_mxnet.set_training_facts(net, input_shapes=(4, 64))

    with pytest.raises(mt.SchemaError, match=r"'Dense'.*'dense\d+_weight' is not initialized"):
        tracker.track_model(net, trained_on=train_set, serialize=True)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"input_shapes": (32, 0, 8)}, "must hold positive ints"),
        ({"input_shapes": "32x8"}, "must be a shape such as"),
        ({"input_shapes": {"data": ()}}, r"input_shapes\['data'\] must be a shape"),
        ({"epochs": 0}, "epochs must be a positive int"),
    ],
)
def test_training_facts_are_checked(arguments, message):
    with pytest.raises(mt.SchemaError, match=message):
        mltrack_mxnet.set_training_facts(small_cnn(), **arguments)


def test_several_inputs_are_named_as_gluon_exports_them(tracker, train_set):
    class TwoInputs(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.left = gluon.nn.Dense(4)
            self.right = gluon.nn.Dense(4)

        def hybrid_forward(self, F, a, b):
            return self.left(a) + self.right(b)

    net = TwoInputs()
    mltrack_mxnet.set_training_facts(net, input_shapes=[(2, 3), (2, 5)])

    model = tracker.track_model(net, trained_on=train_set)

    symbol = net(mx.sym.var("data0"), mx.sym.var("data1"))
    check_layout(tracker, model, symbol, {"data0": (2, 3), "data1": (2, 5)}, {"data0", "data1"})
    assert [column.name for column in model.input] == ["data0", "data1"]
