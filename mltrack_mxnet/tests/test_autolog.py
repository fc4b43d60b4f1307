"""autolog: Module.fit and Gluon training loops recorded with no added line, correctly, and nothing else changed."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from conftest import mlp
from mxnet import autograd, gluon

import mltrack_core as mt
import mltrack_mxnet

autolog_module = importlib.import_module("mltrack_mxnet.autolog")


@pytest.fixture
def autologged(tracker):
    """Automatic tracking into the test's tracker, always turned off afterwards."""
    mltrack_mxnet.autolog(tracker=tracker)
    yield tracker
    mltrack_mxnet.autolog(disable=True)


def settings(entity):
    return {parameter.name: parameter.value for parameter in entity.hyperparameters}


def layout(tracker, model):
    """Each transform of the model's layout: name, operator, parameters (shapes included)."""
    transforms = [tracker.get(transform, "transform") for transform in model.transforms]
    return [(t.name, t.operator, {p.name: p.value for p in t.parameters}) for t in transforms]


def point_values(tracker, run):
    return {(p.metric, p.epoch, p.step): p.value for p in tracker.points(run.id)}


# ---------------------------------------------------------------- Module.fit


def fit_like_common_fit(module, digits, *, batch_end_callback, **extra):
    """What MXNet's image-classification/common/fit.py does: kvstore, scheduler, initializer, callbacks, then fit."""
    kv = mx.kvstore.create("device")
    scheduler = mx.lr_scheduler.MultiFactorScheduler(step=[35], factor=0.1)
    module.fit(
        digits.iterator("train"),
        begin_epoch=0,
        num_epoch=2,
        eval_data=digits.iterator("validation"),
        eval_metric=["accuracy"],
        kvstore=kv,
        optimizer="sgd",
        optimizer_params={"learning_rate": 0.1, "wd": 1e-4, "lr_scheduler": scheduler, "momentum": 0.9},
        initializer=mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),
        batch_end_callback=batch_end_callback,
        allow_missing=True,
        **extra,
    )


def test_module_fit_is_recorded_as_the_one_line_form_records_it(tracker, digits):
    batches = []

    def count(param):
        batches.append(param.nbatch)

    mx.random.seed(7)
    explicit = mx.mod.Module(mlp(), context=mx.cpu())
    train = digits.track(tracker, "train")
    run = tracker.track_training(explicit, trained_on=train)
    fit_like_common_fit(
        explicit,
        digits,
        batch_end_callback=[count, run.batch_callback()],
        epoch_end_callback=run.epoch_callback(),
        eval_end_callback=run.eval_callback(),
    )
    one_line_model = tracker.track_model(explicit, trained_on=train)
    one_line_points = point_values(tracker, run)

    explicit_batches, batches[:] = list(batches), []
    mx.random.seed(7)
    automatic = mx.mod.Module(mlp(), context=mx.cpu())
    with mt.connect("memory://") as other:
        mltrack_mxnet.autolog(tracker=other)
        try:
            fit_like_common_fit(automatic, digits, batch_end_callback=count)  # the program's own callback
        finally:
            mltrack_mxnet.autolog(disable=True)
        (auto_run,) = other.find("run")
        (model,) = other.find("model")
        dataset = other.get(model.trained_on)
        auto_points = point_values(other, auto_run)
        auto_layout = layout(other, model)

    assert batches == explicit_batches  # the program's callback saw every batch, as without tracking
    assert auto_run.state is mt.TrainingState.FINISHED and auto_run.for_model == model.id
    assert auto_run.trained_on == model.trained_on == dataset.id
    assert dataset.row_count == 1397  # the NDArrayIter described as a dataset
    assert auto_points.keys() == one_line_points.keys()
    for key, value in one_line_points.items():
        assert auto_points[key] == pytest.approx(value, rel=1e-6)
    assert settings(model) == settings(one_line_model)
    assert auto_layout == layout(tracker, one_line_model)  # the same layout, with the same shapes
    assert settings(auto_run) == settings(tracker.get(run.id))
    assert settings(model)["kvstore"] == "device"
    assert settings(model)["lr_scheduler"] == "MultiFactorScheduler"


def test_kvstore_is_the_store_type_not_its_class(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    module.fit(
        digits.iterator("train"),
        num_epoch=1,
        kvstore=mx.kvstore.create("local"),
        batch_end_callback=run.batch_callback(),
    )
    model = tracker.track_model(module, trained_on=train_set)
    assert settings(model)["kvstore"] == "local"  # was "KVStore", the class name


def test_a_failing_module_fit_is_failed_and_its_exception_reaches_the_caller(autologged, digits):
    stop = ValueError("the program's callback stops the fit")

    def fail_at_third_batch(param):
        if param.nbatch == 2:
            raise stop

    module = mx.mod.Module(mlp(), context=mx.cpu())
    with pytest.raises(ValueError, match="the program's callback stops the fit") as raised:
        module.fit(digits.iterator("train"), num_epoch=2, batch_end_callback=fail_at_third_batch)
    assert raised.value is stop
    autologged.flush()
    (run,) = autologged.find("run")
    assert run.state is mt.TrainingState.FAILED
    assert run.annotations["mltrack.failure"] == f"ValueError: {stop}"
    assert autologged.count("model") == 0


# ---------------------------------------------------------------- Gluon training loops


def loaders(digits, batch_size=100):
    def loader(part, shuffle):
        rows = digits.rows[part]
        dataset = gluon.data.ArrayDataset(mx.nd.array(digits.features[rows]), mx.nd.array(digits.labels[rows]))
        return gluon.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, last_batch="discard")

    return loader("train", True), loader("validation", False)


def gluon_mnist(digits, *, hybrid, epochs=2):
    """The upstream Gluon MNIST example's loop; returns what it printed and the mean loss of each epoch."""
    mx.random.seed(42)
    np.random.seed(0)  # the DataLoader shuffles with numpy
    train_data, val_data = loaders(digits)
    net = gluon.nn.HybridSequential() if hybrid else gluon.nn.Sequential()
    net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier(magnitude=2.24))
    if hybrid:
        net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    metric = mx.metric.Accuracy()
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    printed, losses = [], []
    for epoch in range(epochs):
        metric.reset()
        epoch_losses = []
        for i, (data, label) in enumerate(train_data):
            with autograd.record():
                output = net(data)
                L = loss(output, label)
                L.backward()
            trainer.step(data.shape[0])
            metric.update([label], [output])
            epoch_losses.append(L.asnumpy())
            if i % 5 == 0 and i > 0:
                printed.append((epoch, i, "train", *metric.get()))
        printed.append((epoch, None, "train", *metric.get()))
        val_metric = mx.metric.Accuracy()
        for data, label in val_data:
            val_metric.update([label], [net(data)])
        printed.append((epoch, None, "validation", *val_metric.get()))
        losses.append(float(np.concatenate(epoch_losses).mean()))
    parameters = [parameter.data().asnumpy() for parameter in net.collect_params().values()]
    return printed, losses, parameters


@pytest.mark.parametrize("hybrid", [True, False], ids=["HybridSequential", "Sequential"])
def test_a_gluon_loop_is_recorded_with_no_added_line(tracker, digits, hybrid):
    untracked = gluon_mnist(digits, hybrid=hybrid)
    mltrack_mxnet.autolog(tracker=tracker)
    try:
        printed, losses, parameters = gluon_mnist(digits, hybrid=hybrid)
        (live,) = autolog_module.open_gluon_runs()  # started at the first step, open until the loop ends
    finally:
        mltrack_mxnet.autolog(disable=True)  # ends the loop, as the process's exit does
    tracker.flush()

    assert printed == untracked[0] and losses == untracked[1]  # nothing the program computes changed
    assert all(np.array_equal(a, b) for a, b in zip(parameters, untracked[2], strict=True))
    (run,) = tracker.find("run")
    assert run.id == live.id and run.state is mt.TrainingState.FINISHED
    (model,) = tracker.find("model")
    assert run.for_model == model.id and run.trained_on == model.trained_on
    assert tracker.get(model.trained_on).row_count == 1397  # the training DataLoader's data

    points = point_values(tracker, run)
    for epoch, batch, stage, name, value in printed:
        step = None if batch is None else epoch * 13 + batch  # 13 steps per epoch (1397 rows, batches of 100)
        assert points[(f"{stage}-{name}", epoch, step)] == value
    for epoch, value in enumerate(losses):
        assert points[("train-loss", epoch, None)] == pytest.approx(value, rel=1e-6)
        assert points[("learning-rate", epoch, None)] == 0.1
    assert len([key for key in points if key[0] == "train-loss" and key[2] is not None]) == 2 * 13  # each step

    values = settings(run)
    assert values == {name: value for name, value in settings(model).items() if not name.startswith("network.")}
    assert values["optimizer.rescale_grad"] == 0.01  # what trainer.step(100) set
    assert (values["optimizer.learning_rate"], values["optimizer.momentum"]) == (0.1, 0.9)
    assert (values["initializer"], values["initializer.magnitude"]) == ("xavier", 2.24)
    assert (values["epochs"], values["batch_size"], values["input_shape.data"]) == (2, 100, (100, 64))
    assert (values["kvstore"], values["loss"], values["eval_metric"]) == (
        "device",
        "SoftmaxCrossEntropyLoss",
        ("accuracy",),
    )
    transforms = layout(tracker, model)
    assert len(transforms) >= 2 and all(parameters.get("output_shape") for _, _, parameters in transforms)
    assert transforms[-1][2]["output_shape"] == (100, 10)


def test_rescale_grad_is_what_trainer_step_set(tracker, train_set, digits):
    train_data, _ = loaders(digits)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(10))
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for data, label in train_data:
        with autograd.record():
            L = loss(net(data), label)
        L.backward()
        trainer.step(100)
    assert trainer.optimizer.rescale_grad == 0.01
    mltrack_mxnet.set_training_facts(net, trainer=trainer, input_shapes=(100, 64))
    model = tracker.track_model(net, trained_on=train_set)
    assert settings(model)["optimizer.rescale_grad"] == 0.01  # was 1.0, the trainer's scale


def test_a_run_started_for_a_block_ends_with_its_training_settings(tracker, train_set, digits):
    train_data, _ = loaders(digits)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(10))
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    run = tracker.track_training(net, trained_on=train_set)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for data, label in train_data:
        with autograd.record():
            L = loss(net(data), label)
        L.backward()
        trainer.step(data.shape[0])
    mltrack_mxnet.set_training_facts(
        net, trainer=trainer, initializer=mx.init.Xavier(), epochs=1, input_shapes=(100, 64)
    )
    tracker.track_model(net, trained_on=train_set)  # finishes the run

    ended = tracker.get(run.id)
    assert ended.state is mt.TrainingState.FINISHED
    values = settings(ended)
    assert values  # were empty
    assert (values["optimizer"], values["optimizer.learning_rate"], values["epochs"]) == ("adam", 0.01, 1)
    assert (values["initializer"], values["batch_size"]) == ("xavier", 100)


def small_net():
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(10))
    net.initialize()
    return net, gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})


def train_steps(net, trainer, batches, metric=None):
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for data, label in batches:
        with autograd.record():
            output = net(data)
            L = loss(output, label)
        L.backward()
        trainer.step(data.shape[0])
        if metric is not None:
            metric.update([label], [output])


def test_loops_without_a_data_loader_and_loops_of_two_trainers(autologged, digits):
    rows = digits.rows["train"]
    batches = [
        (mx.nd.array(digits.features[rows[start : start + 50]]), mx.nd.array(digits.labels[rows[start : start + 50]]))
        for start in range(0, 300, 50)
    ]
    first, first_trainer = small_net()
    metric = mx.metric.Accuracy()
    train_steps(first, first_trainer, batches[:3], metric)
    train_accuracy = metric.get()[1]  # after a recorded forward pass: a training value
    held_out = mx.metric.Accuracy()
    held_out.update([batches[5][1]], [first(batches[5][0])])
    validation_accuracy = held_out.get()[1]  # after a forward pass outside autograd.record: validation
    (first_run,) = autolog_module.open_gluon_runs()

    second, second_trainer = small_net()
    train_steps(second, second_trainer, batches[:2])  # a new experiment: the first loop is over
    assert autologged.get(first_run.id).state is mt.TrainingState.FINISHED
    assert autologged.get(first_run.id).for_model is not None

    generator, generator_trainer = small_net()
    discriminator, discriminator_trainer = small_net()
    for batch in batches:  # two trainers stepping in turn: both loops go on
        train_steps(generator, generator_trainer, [batch])
        train_steps(discriminator, discriminator_trainer, [batch])
    still_open = sorted(run.id for run in autolog_module.open_gluon_runs())
    assert len(still_open) == 2  # the second loop ended when they began
    assert sorted(autolog_module.end_gluon_loops()) == still_open  # as the process's exit would
    assert autolog_module.open_gluon_runs() == []
    autologged.flush()

    runs = autologged.find("run")
    assert len(runs) == 4 and all(run.state is mt.TrainingState.FINISHED and run.for_model for run in runs)
    assert len({run.for_model for run in runs}) == 4
    points = point_values(autologged, first_run)
    assert points[("train-accuracy", None, 2)] == train_accuracy
    assert points[("validation-accuracy", None, 2)] == validation_accuracy
    assert sorted(key for key in points if key[0] == "train-loss") == [("train-loss", None, step) for step in range(3)]
    first_settings = settings(autologged.get(first_run.id))
    assert (first_settings["batch_size"], first_settings["steps"]) == (50, 3)
    assert "epochs" not in first_settings


def test_explicitly_tracked_training_is_left_to_its_run(autologged, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = autologged.track_training(module, trained_on=train_set)
    module.fit(digits.iterator("train"), num_epoch=1, batch_end_callback=run.batch_callback())
    autologged.track_model(module, trained_on=train_set)

    net, trainer = small_net()
    block_run = autologged.track_training(net, trained_on=train_set)
    train_data, _ = loaders(digits)
    train_steps(net, trainer, train_data)
    assert autolog_module.open_gluon_runs() == []
    block_run.finish()
    assert {run.id for run in autologged.find("run")} == {run.id, block_run.id}


def test_turning_on_twice_patches_once_and_turning_off_restores_mxnet(tracker):
    patched = [
        (mx.module.BaseModule, "fit"),
        (gluon.Trainer, "step"),
        (gluon.Trainer, "update"),
        (gluon.Block, "__call__"),
        (gluon.ParameterDict, "initialize"),
        (gluon.data.DataLoader, "__iter__"),
        (mx.nd.NDArray, "backward"),
        (mx.autograd, "backward"),
        (mx.autograd, "set_recording"),
        (mx.metric.EvalMetric, "get"),
        (mx.metric.CompositeEvalMetric, "get"),
    ]
    originals = [vars(owner)[name] for owner, name in patched]
    mltrack_mxnet.autolog(tracker=tracker)
    mltrack_mxnet.autolog(tracker=tracker)
    try:
        for (owner, name), original in zip(patched, originals, strict=True):
            replacement = vars(owner)[name]
            assert replacement is not original and replacement.__wrapped__ is original, name
    finally:
        mltrack_mxnet.autolog(disable=True)
    assert [vars(owner)[name] for owner, name in patched] == originals


def _python(code, folder, *launcher):
    environment = {**os.environ, "MLTRACK_HOME": str(folder / "home"), "MXNET_SUBGRAPH_VERBOSE": "0"}
    if "PYTHONPATH" in environment:  # sources of a development checkout: the program runs in another folder
        folders = environment["PYTHONPATH"].split(os.pathsep)
        environment["PYTHONPATH"] = os.pathsep.join(str(Path(entry).resolve()) for entry in folders)
    command = [sys.executable, *launcher, *((sys.executable,) if launcher else ()), "-W", "ignore", "-c", code]
    return subprocess.run(command, capture_output=True, text=True, cwd=folder, env=environment, timeout=300)


def test_the_hook_turns_mxnet_on_without_importing_it(tmp_path):
    code = "import sys, mltrack_core; print(mltrack_core.autolog()); print('mxnet' in sys.modules)"
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    frameworks, imported = done.stdout.splitlines()
    assert "'mxnet'" in frameworks and imported == "False"


def test_a_program_that_dies_after_training_leaves_a_failed_run(tmp_path: Path):
    program = textwrap.dedent(
        """
        import mxnet as mx
        from mxnet import autograd, gluon

        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(10))
        net.initialize(mx.init.Xavier())
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
        loss = gluon.loss.SoftmaxCrossEntropyLoss()
        for step in range(3):
            data, label = mx.nd.ones((8, 4)), mx.nd.zeros((8,))
            with autograd.record():
                L = loss(net(data), label)
            L.backward()
            trainer.step(8)
        raise RuntimeError("the program dies after training")
        """
    )
    uri = f"sqlite:///{tmp_path / 'runs.db'}"
    done = _python(program, tmp_path, "-m", "mltrack_core.run", "--uri", uri)
    assert done.returncode == 1 and "RuntimeError: the program dies after training" in done.stderr
    assert "TrackingWarning" not in done.stderr, done.stderr
    with mt.connect(uri, read_only=True) as tracker:
        (run,) = tracker.find("run")
        assert run.state is mt.TrainingState.FAILED
        assert run.annotations["mltrack.failure"] == "RuntimeError: the program dies after training"
        assert settings(run)["optimizer.rescale_grad"] == 1 / 8 and settings(run)["batch_size"] == 8
        assert tracker.count("model") == 0
