"""Module.fit streamed into a live run; the model's learning settings; lineage; checkpoints."""

from __future__ import annotations

import hashlib

import mxnet as mx
import numpy as np
import pytest
from conftest import cnn, mlp

import mltrack_core as mt
import mltrack_mxnet


def fit_with_callbacks(module, run, digits, *, image=False, epochs=3, frequent=1, before=(), **fit_arguments):
    fit_arguments.setdefault("optimizer_params", {"learning_rate": 0.1, "momentum": 0.9})
    fit_arguments.setdefault("initializer", mx.init.Xavier())
    module.fit(
        digits.iterator("train", image=image, shuffle=True),
        eval_data=digits.iterator("validation", image=image),
        num_epoch=epochs,
        batch_end_callback=[*before, run.batch_callback(frequent)],
        epoch_end_callback=run.epoch_callback(),
        eval_end_callback=run.eval_callback(),
        **fit_arguments,
    )


def epoch_points(run):
    return {(point.metric, point.epoch): point.value for point in run.scores_over_time if point.step is None}


def test_per_epoch_metrics_are_what_fit_reported(tracker, train_set, digits, fit_log):
    module = mx.mod.Module(mlp(), context=mx.cpu(), logger=fit_log.logger)
    run = tracker.track_training(module, trained_on=train_set)

    # Speedometer resets the metrics' local values every 5 batches: the epoch's value is the global one
    speedometer = mx.callback.Speedometer(40, frequent=5, auto_reset=True)
    fit_with_callbacks(module, run, digits, eval_metric=["acc", "ce"], before=[speedometer])
    run.flush()

    reported = fit_log.epoch_values()
    assert len(reported) == 3 * 4  # 3 epochs x (train, validation) x (accuracy, cross-entropy)
    recorded = epoch_points(tracker.get(run.id))
    for epoch, stage, metric, value in reported:
        name = f"{'train' if stage == 'Train' else 'validation'}-{metric}"
        assert recorded[(name, epoch)] == pytest.approx(value, abs=5e-7)  # fit logs 6 decimals
    assert {metric for metric, _ in recorded} == {
        "train-accuracy",
        "train-cross-entropy",
        "validation-accuracy",
        "validation-cross-entropy",
        "learning-rate",
    }


def test_batch_points_follow_the_epoch_and_end_at_its_value(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)

    fit_with_callbacks(module, run, digits, epochs=2)
    run.flush()

    batches = -(-len(digits.rows["train"]) // 40)
    points = [p for p in tracker.get(run.id).scores_over_time if p.metric == "train-accuracy" and p.step is not None]
    assert [p.step for p in points] == list(range(2 * batches))
    assert [p.epoch for p in points] == [0] * batches + [1] * batches
    recorded = epoch_points(tracker.get(run.id))
    for epoch in (0, 1):
        last_of_epoch = [p for p in points if p.epoch == epoch][-1]
        assert last_of_epoch.value == recorded[("train-accuracy", epoch)]


def test_frequent_logs_every_nth_batch(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)

    fit_with_callbacks(module, run, digits, epochs=1, frequent=10)
    run.flush()

    steps = [p.step for p in tracker.get(run.id).scores_over_time if p.step is not None]
    assert steps == [0, 10, 20, 30]
    with pytest.raises(mt.SchemaError, match="frequent must be a positive int"):
        run.batch_callback(0)


def test_the_model_records_optimizer_scheduler_initializer_epochs_and_batch_size(tracker, train_set, digits):
    module = mx.mod.Module(cnn(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    scheduler = mx.lr_scheduler.FactorScheduler(step=20, factor=0.9, stop_factor_lr=1e-5)

    fit_with_callbacks(
        module,
        run,
        digits,
        image=True,
        epochs=2,
        optimizer="sgd",
        optimizer_params={
            "learning_rate": 0.05,
            "momentum": 0.9,
            "wd": 5e-4,
            "clip_gradient": 5.0,
            "lr_scheduler": scheduler,
        },
        initializer=mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2),
    )
    model = tracker.track_model(module, name="digits-cnn", trained_on=train_set)

    settings = {p.name: p for p in model.hyperparameters}
    values = {name: parameter.value for name, parameter in settings.items()}
    assert model.learning_algorithm == "SGD"
    assert values["optimizer"] == "sgd"
    assert values["optimizer.learning_rate"] == 0.05  # the initial rate, not where the scheduler left it
    assert module._optimizer.learning_rate < 0.05
    assert values["optimizer.momentum"] == 0.9
    assert values["optimizer.wd"] == 5e-4
    assert values["optimizer.clip_gradient"] == 5.0
    assert values["optimizer.rescale_grad"] == 1 / 40  # fit sets it to 1 / batch size
    assert (values["lr_scheduler"], values["lr_scheduler.step"], values["lr_scheduler.factor"]) == (
        "FactorScheduler",
        20,
        0.9,
    )
    assert values["lr_scheduler.stop_factor_lr"] == 1e-5
    assert (values["initializer"], values["initializer.rnd_type"], values["initializer.factor_type"]) == (
        "xavier",
        "gaussian",
        "in",
    )
    assert values["initializer.magnitude"] == 2
    assert (values["epochs"], values["batch_size"], values["input_shape.data"]) == (2, 40, (40, 1, 8, 8))
    assert (values["eval_metric"], values["kvstore"], values["context"]) == (("accuracy",), "local", "cpu(0)")
    assert settings["optimizer.momentum"].non_default
    assert settings["optimizer.momentum"].default == 0.0
    assert settings["optimizer.learning_rate"].default == 0.01
    run_settings = {p.name: p.value for p in tracker.get(run.id).hyperparameters}  # the run ended with the model
    for name in ("optimizer.learning_rate", "epochs", "batch_size", "initializer"):
        assert run_settings[name] == values[name]
    assert "network.parameter_count" not in run_settings
    assert settings["initializer"].default == "uniform"
    assert not settings["optimizer.lazy_update"].non_default
    learning_rates = [p for p in tracker.get(run.id).scores_over_time if p.metric == "learning-rate"]
    assert [p.epoch for p in learning_rates] == [0, 1]
    assert learning_rates[-1].value == pytest.approx(module._optimizer.learning_rate)


def test_an_optimizer_object_is_described_by_its_class(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    adam = mx.optimizer.Adam(learning_rate=0.01, beta1=0.8, rescale_grad=1 / 40)

    fit_with_callbacks(module, run, digits, epochs=1, optimizer=adam, optimizer_params=None)
    model = tracker.track_model(module, trained_on=train_set)

    values = {p.name: p.value for p in model.hyperparameters}
    assert model.learning_algorithm == "Adam"
    assert (values["optimizer"], values["optimizer.beta1"], values["optimizer.beta2"]) == ("adam", 0.8, 0.999)


def test_tracking_the_model_finishes_its_run_and_links_them(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    fit_with_callbacks(module, run, digits, epochs=1)

    model = tracker.track_model(module, name="digits-mlp", trained_on=train_set)

    stored = tracker.get(run.id)
    assert stored.state is mt.TrainingState.FINISHED
    assert stored.for_model == model.id
    assert stored.trained_on == train_set.id
    assert stored.annotations["mxnet.kind"] == "Module"
    assert len(stored.scores_over_time) > 0
    assert run.ended


def test_a_model_is_found_again_from_its_evaluation(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    fit_with_callbacks(module, run, digits, epochs=2)
    model = tracker.track_model(module, name="digits-mlp", trained_on=train_set)
    test_set = digits.track(tracker, "test")

    evaluation = tracker.track_evaluation(
        module.score(digits.iterator("test"), "acc"), computed_by=model, on_dataset=test_set, procedure="holdout"
    )

    lineage = tracker.lineage(evaluation.id)
    assert [entity.id for entity in lineage.of_kind("model")] == [model.id]
    assert {entity.id for entity in lineage.of_kind("dataset")} == {train_set.id, test_set.id}
    found = lineage.nodes[model.id]
    assert [tracker.get(id_).name for id_ in found.transforms] == ["fc1", "relu1", "fc2", "softmax"]
    assert evaluation.score("accuracy").value > 0.5
    downstream = tracker.lineage(model.id, "downstream")
    assert {entity.id for entity in downstream.of_kind("run")} == {run.id}
    assert {entity.id for entity in downstream.of_kind("evaluation")} == {evaluation.id}


def test_a_serialized_model_loads_back_with_its_parameters(tracker, train_set, digits):
    module = mx.mod.Module(cnn(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    fit_with_callbacks(module, run, digits, image=True, epochs=1)

    model = tracker.track_model(module, name="digits cnn/1", trained_on=train_set, serialize=True)

    assert model.location.startswith("file://")
    assert model.location.endswith(f"/digits_cnn_1~{hashlib.sha256(b'digits cnn/1').hexdigest()[:32]}.mxnet.zip")
    symbol, arg_params, aux_params = mltrack_mxnet.load_model(model)
    trained_args, trained_aux = module.get_params()
    assert symbol.tojson() == module.symbol.tojson()
    assert sorted(arg_params) == sorted(trained_args)
    assert sorted(aux_params) == sorted(trained_aux) == ["bn1_moving_mean", "bn1_moving_var"]
    for loaded, trained in ((arg_params, trained_args), (aux_params, trained_aux)):
        for name, array in trained.items():
            np.testing.assert_array_equal(loaded[name].asnumpy(), array.asnumpy())
    again = tracker.track_model(module, name="digits cnn/1", trained_on=train_set, serialize=True)
    assert again.location == model.location  # same weights, same artifact


def test_serializing_a_module_without_parameters_is_refused(tracker, train_set):
    module = mx.mod.Module(mlp(), context=mx.cpu())

    with pytest.raises(mt.SchemaError, match=r"'softmax'.*not initialized; fit it first"):
        tracker.track_model(module, trained_on=train_set, serialize=True)


def test_models_and_runs_record_the_mxnet_build(tracker, train_set, digits):
    module = mx.mod.Module(mlp(), context=mx.cpu())
    run = tracker.track_training(module, trained_on=train_set)
    fit_with_callbacks(module, run, digits, epochs=1)
    model = tracker.track_model(module, trained_on=train_set)

    features = mx.runtime.Features()
    enabled = [name for name, feature in features.items() if feature.enabled]
    for environment in (model.environment, tracker.get(run.id).environment):
        assert environment["mxnet.version"] == mx.__version__
        assert environment["mxnet.features"].split(", ") == enabled
        assert environment["mxnet.gpus"] == str(mx.context.num_gpus())
        assert environment["package.mxnet"] == mx.__version__
    assert tracker.environment()["mxnet.version"] == mx.__version__  # the plugin's environment hook
