"""Plain Gluon Blocks tracked by explicit calls: accepted or refused at the start, never failing after training."""

from __future__ import annotations

import mxnet as mx
import pytest
from mxnet import autograd, gluon
from mxnet.gluon import nn

import mltrack_core as mt
import mltrack_mxnet


def mnist_example_net():
    """The network of MXNet's Gluon MNIST example (example/gluon/mnist/mnist.py), in its plain form."""
    net = nn.Sequential()
    with net.name_scope():
        net.add(nn.Dense(128, activation="relu"))
        net.add(nn.Dense(64, activation="relu"))
        net.add(nn.Dense(10))
    return net


def train_one_epoch(net, digits, batch_size=100):
    rows = digits.rows["train"]
    dataset = gluon.data.ArrayDataset(mx.nd.array(digits.features[rows]), mx.nd.array(digits.labels[rows]))
    loader = gluon.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    loss_function = gluon.loss.SoftmaxCrossEntropyLoss()
    for data, label in loader:
        with autograd.record():
            loss = loss_function(net(data), label)
        loss.backward()
        trainer.step(data.shape[0])
    return trainer


def transforms_of(tracker, model):
    found = tracker.get_many(list(model.transforms))
    return [found[transform_id] for transform_id in model.transforms]


def parameters_of(entity):
    return {parameter.name: parameter.value for parameter in entity.parameters}


def test_the_gluon_mnist_example_is_recorded_with_its_layout_and_shapes(tracker, train_set, digits):
    net = mnist_example_net()
    net.initialize(mx.init.Xavier(magnitude=2.24))
    run = tracker.track_training(net, trained_on=train_set)  # accepted at the start ...

    trainer = train_one_epoch(net, digits)
    mltrack_mxnet.set_training_facts(net, trainer=trainer, epochs=1)
    model = tracker.track_model(net, trained_on=train_set, serialize=True)  # ... and recorded at the end

    assert tracker.get(run.id).for_model == model.id
    assert model.annotations["mxnet.kind"] == "Sequential"
    assert "mltrack.failures" not in model.annotations
    dense0, dense1, dense2 = transforms_of(tracker, model)
    assert [t.operator for t in (dense0, dense1, dense2)] == ["Dense", "Dense", "Dense"]
    assert [t.name for t in (dense0, dense1, dense2)] == [block.name for block in net._children.values()]
    assert dense0.input_transforms == () and [c.name for c in dense0.input] == ["data"]
    assert dense1.input_transforms == (dense0.id,) and dense2.input_transforms == (dense1.id,)
    first = parameters_of(dense0)
    assert (first["units"], first["activation"], first["output_shape"]) == (128, "relu", (100, 128))
    assert first[f"{dense0.name}_weight.shape"] == (128, 64)
    assert first["parameter_count"] == 128 * 64 + 128
    assert parameters_of(dense2)["output_shape"] == (100, 10)
    assert "activation" not in parameters_of(dense2)
    values = {p.name: p.value for p in model.hyperparameters}
    assert values["network.parameter_count"] == sum(p.data().size for p in net.collect_params().values())
    assert (values["batch_size"], values["input_shape.data"]) == (100, (100, 64))
    assert (values["optimizer"], values["optimizer.momentum"], values["epochs"]) == ("sgd", 0.9, 1)
    symbol, arg_params, aux_params = mltrack_mxnet.load_model(model)
    assert symbol is None and aux_params == {}
    assert sorted(arg_params) == sorted(net.collect_params().keys())


def test_a_block_with_its_own_forward_lists_its_layers_and_says_the_flow_is_not_known(tracker, train_set):
    class TwoTowers(gluon.Block):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.left = nn.Dense(4)
                self.normalize = nn.BatchNorm()
                self.right = nn.Dense(3)

        def forward(self, x):
            return self.right(self.normalize(self.left(x)))

    net = TwoTowers()
    net.initialize()
    tracker.track_training(net)
    net(mx.nd.ones((2, 5)))
    model = tracker.track_model(net, trained_on=train_set)

    left, normalize, right = transforms_of(tracker, model)
    assert [t.operator for t in (left, normalize, right)] == ["Dense", "BatchNorm", "Dense"]  # registration order
    assert all(t.input_transforms == () for t in (left, normalize, right))
    assert "TwoTowers" in left.annotations["mxnet.data_flow"]
    assert "not known" in model.annotations["mxnet.data_flow"]
    assert [parameters_of(t)["output_shape"] for t in (left, normalize, right)] == [(2, 4), (2, 4), (2, 3)]
    assert parameters_of(normalize)["auxiliary_state_count"] == 8  # running mean and variance of 4 channels
    values = {p.name: p.value for p in model.hyperparameters}
    assert (values["network.parameter_count"], values["network.auxiliary_state_count"]) == (5 * 4 + 4 + 8 + 12 + 3, 8)


def test_a_plain_block_trained_without_a_run_is_measured_with_the_stated_input_shape(tracker, train_set, digits):
    net = mnist_example_net()
    net.initialize()
    train_one_epoch(net, digits, batch_size=200)
    mltrack_mxnet.set_training_facts(net, input_shapes=(200, 64))

    model = tracker.track_model(net, trained_on=train_set)

    assert [parameters_of(t)["output_shape"] for t in transforms_of(tracker, model)] == [
        (200, 128),
        (200, 64),
        (200, 10),
    ]
    assert "mltrack.failures" not in model.annotations


def test_a_block_that_cannot_be_described_is_refused_before_training(tracker, train_set):
    with pytest.raises(mt.SchemaError, match=r"Sequential 'sequential\d+' holds no parameters"):
        tracker.track_training(nn.Sequential(), trained_on=train_set)


def test_the_layers_of_a_hybridized_part_get_their_shapes_from_its_graph(tracker, train_set):
    class FeaturesAndHead(gluon.Block):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.features = nn.HybridSequential()
                self.features.add(nn.Conv2D(4, 3), nn.Activation("relu"), nn.Flatten())
                self.head = nn.Dense(10)

        def forward(self, x):
            return self.head(self.features(x))

    net = FeaturesAndHead()
    net.initialize()
    net.features.hybridize()  # its layers run inside one cached operator: no hook of theirs is called
    tracker.track_training(net)
    net(mx.nd.ones((2, 1, 8, 8)))

    model = tracker.track_model(net, trained_on=train_set)

    conv, relu, flatten, head = transforms_of(tracker, model)
    assert [parameters_of(t)["output_shape"] for t in (conv, relu, flatten, head)] == [
        (2, 4, 6, 6),
        (2, 4, 6, 6),
        (2, 144),
        (2, 10),
    ]
    assert relu.input_transforms == (conv.id,) and flatten.input_transforms == (relu.id,)  # a HybridSequential
    assert "mltrack.failures" not in model.annotations


def test_a_layer_used_twice_is_one_transform(tracker, train_set):
    shared = nn.Dense(4)
    net = nn.Sequential()
    net.add(shared, nn.Activation("tanh"), shared)  # the same weights applied twice
    net.initialize()
    tracker.track_training(net)
    net(mx.nd.ones((3, 4)))

    model = tracker.track_model(net, trained_on=train_set)

    dense, tanh = transforms_of(tracker, model)
    assert (dense.operator, tanh.operator) == ("Dense", "Activation")
    assert tanh.input_transforms == (dense.id,)
    values = {p.name: p.value for p in model.hyperparameters}
    assert values["network.parameter_count"] == 4 * 4 + 4
