"""Shapes and batch sizes as MXNet runs the network: hybridized model-zoo networks, recurrent layers, layouts."""

from __future__ import annotations

import mxnet as mx
from mxnet import autograd, gluon
from mxnet.gluon.model_zoo import vision

import mltrack_mxnet


def values_of(model):
    return {parameter.name: parameter.value for parameter in model.hyperparameters}


def transforms_by_operator(tracker, model):
    found = tracker.get_many(list(model.transforms))
    by_operator = {}
    for transform_id in model.transforms:
        transform = found[transform_id]
        by_operator.setdefault(transform.operator, []).append(transform)
    return by_operator


def shape_of(transform):
    return next(parameter.value for parameter in transform.parameters if parameter.name == "output_shape")


def test_a_hybridized_model_zoo_network_records_the_shapes_it_ran_with(tracker, train_set):
    net = vision.resnet18_v1(classes=10)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01})
    run = tracker.track_training(net, trained_on=train_set)
    images, labels = mx.nd.random.uniform(shape=(2, 3, 32, 32)), mx.nd.array([1, 7])

    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(images), labels)
    loss.backward()
    trainer.step(2)
    model = tracker.track_model(net, trained_on=train_set)  # no set_training_facts

    assert "mltrack.failures" not in model.annotations
    values = values_of(model)
    assert (values["input_shape.data"], values["batch_size"]) == ((2, 3, 32, 32), 2)
    layers = transforms_by_operator(tracker, model)
    assert shape_of(layers["Convolution"][0]) == (2, 64, 16, 16)
    assert shape_of(layers["FullyConnected"][-1]) == (2, 10)
    assert tracker.get(run.id).for_model == model.id


def test_a_hybridized_lstm_gets_its_stated_shape_and_its_batch_from_the_layout(tracker, train_set):
    lstm = gluon.rnn.LSTM(16, layout="TNC")  # time, batch, features
    lstm.initialize()
    lstm.hybridize()
    lstm(mx.nd.ones((5, 4, 3)))  # Gluon's graph inputs: data0 (the sequence), data1 and data2 (h0, c0)
    mltrack_mxnet.set_training_facts(lstm, input_shapes=(5, 4, 3))

    model = tracker.track_model(lstm, trained_on=train_set)

    assert "mltrack.failures" not in model.annotations
    (rnn,) = transforms_by_operator(tracker, model)["RNN"]
    outputs = next(parameter.value for parameter in rnn.parameters if parameter.name == "output_shapes")
    assert outputs == ((5, 4, 16), (1, 4, 16), (1, 4, 16))
    values = values_of(model)
    assert values["batch_size"] == 4  # N of TNC, not T
    assert values["input_shape.data0"] == (5, 4, 3)


def test_a_recurrent_network_run_with_its_states_records_every_input_and_its_batch(tracker, train_set):
    class Tagger(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            with self.name_scope():
                self.embedding = gluon.nn.Embedding(50, 8)
                self.lstm = gluon.rnn.LSTM(6, layout="TNC")
                self.output = gluon.nn.Dense(3, flatten=False)

        def hybrid_forward(self, F, tokens, states):
            sequence, _ = self.lstm(self.embedding(tokens), states)
            return self.output(sequence)

    net = Tagger()
    net.initialize()
    net.hybridize()
    tracker.track_training(net, trained_on=train_set)
    tokens = mx.nd.array([[1, 2, 3], [4, 5, 6]])  # (time 2, batch 3)

    net(tokens, net.lstm.begin_state(batch_size=3))
    model = tracker.track_model(net, trained_on=train_set)

    values = values_of(model)
    assert values["batch_size"] == 3
    assert (values["input_shape.data0"], values["input_shape.data1"], values["input_shape.data2"]) == (
        (2, 3),
        (1, 3, 6),
        (1, 3, 6),
    )
    assert shape_of(transforms_by_operator(tracker, model)["FullyConnected"][0]) == (2, 3, 3)
