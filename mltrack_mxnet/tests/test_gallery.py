"""MXNet's own example programs, unmodified, under ``mltrack run``: each training recorded once, right.

Each program in ``gallery/`` has the shape of an MXNet example and no line of
mltrack: ``Module.fit`` through a helper like ``common/fit.py``, and the Gluon
MNIST loop with a plain ``Block`` and with a hybridized ``HybridBlock``. It runs
twice in a subprocess, plainly and under ``python -m mltrack_core.run``: its
output must be the same, and the store must hold its run (points per epoch,
FINISHED), its model (layout with shapes, hyperparameters) and its data.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.testing.gallery import Gallery

GALLERY = Path(__file__).parent / "gallery"
FIT_EPOCH_LINE = re.compile(r"Epoch\[(\d+)\] (Train|Validation)-accuracy=(\S+)$", re.MULTILINE)
GLUON_LINE = re.compile(r"^\[Epoch (\d+)(?: Batch (\d+))?\] (Training|Validation): accuracy=(\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """Runs each gallery program once, plainly and tracked; returns {name: (tracker, plain, tracked)}."""
    environment = {"MXNET_SUBGRAPH_VERBOSE": "0"}
    folder = tmp_path_factory.mktemp("gallery")
    with Gallery(GALLERY, folder, environment=environment, python_options=("-W", "ignore")) as gallery:
        yield gallery.run


def _check_common(tracker, plain, tracked):
    """Same output, nothing broken, everything written by exit; the one run FINISHED with its model and data."""
    assert tracked.stdout == plain.stdout
    assert "Traceback" not in tracked.stderr and "TrackingWarning" not in tracked.stderr, tracked.stderr
    (summary,) = re.findall(r"^mltrack: recorded (.*) in sqlite", tracked.stderr, re.MULTILINE)
    said = {kind: int(count) for count, kind in re.findall(r"(\d+) (model|dataset|training run)s?\b", summary)}
    assert said == {"model": 1, "training run": 1, "dataset": tracker.count("dataset")}
    (run,) = tracker.find("run")
    (model,) = tracker.find("model")
    assert run.state is mt.TrainingState.FINISHED and run.for_model == model.id
    assert run.trained_on == model.trained_on
    return run, model, tracker.get(model.trained_on)


def _epoch_points(tracker, run):
    return {(p.metric, p.epoch): p.value for p in tracker.points(run.id) if p.step is None}


def _settings(entity):
    return {parameter.name: parameter.value for parameter in entity.hyperparameters}


def _layout(tracker, model):
    transforms = [tracker.get(transform, "transform") for transform in model.transforms]
    return [(t.operator, {p.name: p.value for p in t.parameters}) for t in transforms]


def test_module_fit_through_a_common_fit_helper(programs):
    tracker, plain, tracked = programs("module_fit")
    run, model, dataset = _check_common(tracker, plain, tracked)

    points = _epoch_points(tracker, run)
    logged = FIT_EPOCH_LINE.findall(tracked.stderr)  # what fit logged, epoch by epoch
    assert len(logged) == 3 * 2
    for epoch, stage, value in logged:
        name = "train-accuracy" if stage == "Train" else "validation-accuracy"
        assert points[(name, int(epoch))] == pytest.approx(float(value), abs=5e-7)
    # the scheduler divides the rate by 10 after 43 updates, in the second epoch (22 batches per epoch)
    assert [points[("learning-rate", epoch)] for epoch in range(3)] == pytest.approx([0.1, 0.01, 0.01])

    values = _settings(model)
    assert _settings(run) == {name: value for name, value in values.items() if not name.startswith("network.")}
    assert (values["optimizer"], values["optimizer.learning_rate"], values["optimizer.momentum"]) == ("sgd", 0.1, 0.9)
    assert (values["optimizer.wd"], values["optimizer.multi_precision"]) == (1e-4, True)
    assert values["optimizer.rescale_grad"] == 1 / 64
    assert (values["lr_scheduler"], values["lr_scheduler.step"], values["lr_scheduler.factor"]) == (
        "MultiFactorScheduler",
        (43,),
        0.1,
    )
    assert (values["initializer"], values["initializer.rnd_type"], values["initializer.magnitude"]) == (
        "xavier",
        "gaussian",
        2,
    )
    assert (values["epochs"], values["batch_size"], values["input_shape.data"]) == (3, 64, (64, 1, 8, 8))
    assert (values["kvstore"], values["eval_metric"]) == ("device", ("accuracy",))  # the store's type, not KVStore
    operators = [operator for operator, _ in _layout(tracker, model)]
    assert operators == ["Flatten", "FullyConnected", "Activation"] * 1 + [
        "FullyConnected",
        "Activation",
        "FullyConnected",
        "SoftmaxOutput",
    ]
    assert _layout(tracker, model)[-2][1]["output_shape"] == (64, 10)
    assert (dataset.row_count, dataset.target) == (1400, "softmax_label")
    assert tracker.count("dataset") == 1


@pytest.mark.parametrize("name", ["gluon_block", "gluon_hybrid"])
def test_the_gluon_mnist_loop(programs, name):
    tracker, plain, tracked = programs(name)
    run, model, dataset = _check_common(tracker, plain, tracked)

    points = {(p.metric, p.epoch, p.step): p.value for p in tracker.points(run.id)}
    printed = GLUON_LINE.findall(tracked.stdout)
    assert len(printed) == 3 * (2 + 2)  # per epoch: batches 5 and 10, the epoch, the validation
    for epoch, batch, stage, value in printed:
        step = int(epoch) * 14 + int(batch) if batch else None  # 14 steps per epoch (1400 rows, batches of 100)
        metric = "train-accuracy" if stage == "Training" else "validation-accuracy"
        assert points[(metric, int(epoch), step)] == pytest.approx(float(value), abs=5e-7)
    for epoch in range(3):
        assert points[("train-loss", epoch, None)] > 0
        assert points[("learning-rate", epoch, None)] == 0.1
    losses = [points[("train-loss", epoch, None)] for epoch in range(3)]
    assert losses == sorted(losses, reverse=True)  # it learns

    values = _settings(model)
    assert _settings(run) == {key: value for key, value in values.items() if not key.startswith("network.")}
    assert (values["optimizer"], values["optimizer.learning_rate"], values["optimizer.momentum"]) == ("sgd", 0.1, 0.9)
    assert values["optimizer.rescale_grad"] == 0.01  # what trainer.step(100) set, not the trainer's scale 1.0
    assert (values["initializer"], values["initializer.magnitude"]) == ("xavier", 2.24)
    assert (values["epochs"], values["batch_size"], values["input_shape.data"]) == (3, 100, (100, 64))
    assert (values["kvstore"], values["loss"]) == ("device", "SoftmaxCrossEntropyLoss")
    layout = _layout(tracker, model)
    assert all(parameters.get("output_shape") for _, parameters in layout)
    assert layout[-1][1]["output_shape"] == (100, 10)
    assert dataset.row_count == 1400  # the DataLoader's transformed dataset, derived from the arrays
    (source,) = dataset.derived_from
    assert tracker.get(source).row_count == 1400
