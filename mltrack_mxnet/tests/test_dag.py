"""Recorded network layouts and shapes, checked against MXNet's own graph and ``infer_shape``."""

from __future__ import annotations

import json
import math

import mxnet as mx
import pytest
from conftest import cnn, mlp
from mxnet import gluon
from mxnet.gluon.model_zoo import vision

import mltrack_core as mt
import mltrack_mxnet


def check_layout(tracker, model, symbol, input_shapes, input_names):
    """Assert the model's transforms are the symbol's operators with MXNet's inferred shapes."""
    transforms = [tracker.get(id_, "transform") for id_ in model.transforms]
    graph = json.loads(symbol.tojson())
    operators = [node for node in graph["nodes"] if node["op"] != "null"]
    assert [(t.name, t.operator) for t in transforms] == [(node["name"], node["op"]) for node in operators]

    internals = symbol.get_internals()
    argument_shapes, output_shapes, auxiliary_shapes = internals.infer_shape(**input_shapes)  # complete inference
    shape_of_output = dict(zip(internals.list_outputs(), output_shapes, strict=True))
    shape_of_variable = dict(zip(internals.list_arguments(), argument_shapes, strict=True))
    shape_of_variable.update(zip(internals.list_auxiliary_states(), auxiliary_shapes, strict=True))
    auxiliary = set(symbol.list_auxiliary_states())
    id_of = {transform.name: transform.id for transform in transforms}

    for transform, node in zip(transforms, operators, strict=True):
        parameters = {parameter.name: parameter.value for parameter in transform.parameters}
        for key, value in (node.get("attrs") or {}).items():
            assert parameters[key] == value
        outputs = [column.name for column in transform.output]
        assert outputs, transform.name
        assert all(name.startswith(transform.name) for name in outputs)
        assert parameters["output_shape"] == shape_of_output[outputs[0]]
        if len(outputs) > 1:
            assert parameters["output_shapes"] == tuple(shape_of_output[name] for name in outputs)
        sources = [graph["nodes"][source] for source, _, _ in node["inputs"]]
        assert set(transform.input_transforms) == {id_of[s["name"]] for s in sources if s["op"] != "null"}
        weights = {s["name"] for s in sources if s["op"] == "null" and s["name"] not in input_names}
        assert {name[: -len(".shape")] for name in parameters if name.endswith(".shape")} == weights
        for weight in weights:
            assert parameters[f"{weight}.shape"] == shape_of_variable[weight]
        if weights - auxiliary:
            assert parameters["parameter_count"] == sum(math.prod(shape_of_variable[w]) for w in weights - auxiliary)
        if weights & auxiliary:
            assert parameters["auxiliary_state_count"] == sum(
                math.prod(shape_of_variable[w]) for w in weights & auxiliary
            )

    variables = [name for name in symbol.list_arguments() if name not in input_names]
    hyperparameters = {parameter.name: parameter.value for parameter in model.hyperparameters}
    assert hyperparameters["network.layers"] == len(operators)
    assert hyperparameters["network.parameter_count"] == sum(math.prod(shape_of_variable[v]) for v in variables)
    assert hyperparameters["network.auxiliary_state_count"] == sum(math.prod(shape_of_variable[v]) for v in auxiliary)
    return hyperparameters


@pytest.mark.parametrize(("network", "data_shape"), [(mlp, (40, 64)), (cnn, (40, 1, 8, 8))], ids=["mlp", "cnn"])
def test_a_module_layout_has_mxnets_shapes(tracker, train_set, network, data_shape):
    module = mx.mod.Module(network(), context=mx.cpu())
    module.bind(data_shapes=[("data", data_shape)], label_shapes=[("softmax_label", (data_shape[0],))])
    module.init_params(mx.init.Xavier())

    model = tracker.track_model(module, name="net", trained_on=train_set)

    hyperparameters = check_layout(tracker, model, module.symbol, {"data": data_shape}, {"data", "softmax_label"})
    arg_params, aux_params = module.get_params()
    assert hyperparameters["network.parameter_count"] == sum(array.size for array in arg_params.values())
    assert hyperparameters["network.auxiliary_state_count"] == sum(array.size for array in aux_params.values())
    assert hyperparameters["input_shape.data"] == data_shape
    assert hyperparameters["batch_size"] == 40
    assert [(column.name, column.typing) for column in model.input] == [("data", mt.TypeHint.FLOAT)]
    assert model.annotations["mxnet.outputs"] == "softmax_output"


def test_a_layer_records_its_parameters_and_auxiliary_states(tracker, train_set):
    module = mx.mod.Module(cnn(), context=mx.cpu())
    module.bind(data_shapes=[("data", (16, 1, 8, 8))], label_shapes=[("softmax_label", (16,))])

    model = tracker.track_model(module, trained_on=train_set)

    batch_norm = next(t for t in (tracker.get(id_) for id_ in model.transforms) if t.operator == "BatchNorm")
    shapes = {p.name: (p.value, p.doc) for p in batch_norm.parameters if p.name.endswith(".shape")}
    assert shapes == {
        "bn1_gamma.shape": ((8,), "learned parameter"),
        "bn1_beta.shape": ((8,), "learned parameter"),
        "bn1_moving_mean.shape": ((8,), "auxiliary state"),
        "bn1_moving_var.shape": ((8,), "auxiliary state"),
    }
    counts = {p.name: p.value for p in batch_norm.parameters if p.name.endswith("_count")}
    assert counts == {"parameter_count": 16, "auxiliary_state_count": 16}
    assert [column.name for column in batch_norm.input] == ["conv1_output"]


@pytest.mark.parametrize("name", ["resnet50_v1", "squeezenet1.1", "densenet121"])
def test_a_model_zoo_network_layout_has_mxnets_shapes(tracker, train_set, name):
    net = vision.get_model(name, pretrained=False)  # built, not initialized, never run: the symbol suffices
    mltrack_mxnet.set_training_facts(net, input_shapes=(2, 3, 224, 224))

    model = tracker.track_model(net, trained_on=train_set)

    symbol = net(mx.sym.var("data"))
    hyperparameters = check_layout(tracker, model, symbol, {"data": (2, 3, 224, 224)}, {"data"})
    assert model.name == type(net).__name__
    assert hyperparameters["network.parameter_count"] > 1_000_000
    assert model.annotations["mxnet.outputs"] == ", ".join(symbol.list_outputs())


def test_a_hybridized_network_gives_the_layout_of_its_symbol(tracker, train_set):
    net = vision.get_model("mobilenet0.25", pretrained=False, classes=10)
    mltrack_mxnet.set_training_facts(net, input_shapes=(1, 3, 32, 32))
    symbolic = tracker.track_model(net, name="symbolic", trained_on=train_set)

    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.ones((1, 3, 32, 32)))  # builds the cached graph MXNet executes
    hybridized = tracker.track_model(net, name="hybridized", trained_on=train_set)

    def layout(model):
        return [
            (t.name, t.operator, [(p.name, p.value) for p in t.parameters])
            for t in (tracker.get(id_) for id_ in model.transforms)
        ]

    assert layout(hybridized) == layout(symbolic)
    check_layout(tracker, hybridized, net._cached_graph[1], {"data": (1, 3, 32, 32)}, {"data"})
    parameters = net.collect_params().values()
    hyperparameters = {p.name: p.value for p in hybridized.hyperparameters}
    assert hyperparameters["network.parameter_count"] + hyperparameters["network.auxiliary_state_count"] == sum(
        math.prod(parameter.shape) for parameter in parameters
    )


def test_without_input_shapes_the_layout_is_kept_and_the_gap_is_reported(tracker, train_set):
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(10))

    with pytest.warns(mt.TrackingWarning, match=r"input shapes are unknown.*set_training_facts"):
        model = tracker.track_model(net, trained_on=train_set)

    transforms = [tracker.get(id_) for id_ in model.transforms]
    assert [t.operator for t in transforms] == ["FullyConnected", "Activation", "FullyConnected"]
    assert all("output_shape" not in {p.name for p in t.parameters} for t in transforms)
    assert "input shapes are unknown" in model.annotations["mltrack.failures"]
    assert "network.parameter_count" not in {p.name for p in model.hyperparameters}


def test_input_shapes_that_do_not_fit_are_refused(tracker, train_set):
    net = gluon.nn.Dense(10, in_units=64)
    net.initialize()
    mltrack_mxnet.set_training_facts(net, input_shapes=(4, 10))  # the weights expect 64 features

    with pytest.raises(mt.SchemaError, match=r"input shapes \{'data': \(4, 10\)\} do not fit the network"):
        tracker.track_model(net, trained_on=train_set)


def test_a_block_without_parameters_is_refused_with_the_reason(tracker, train_set):
    class Plain(gluon.Block):
        def forward(self, x):
            return x

    with pytest.raises(mt.SchemaError, match=r"Plain 'plain\d+' holds no parameters"):
        tracker.track_model(Plain(), trained_on=train_set)


def test_other_mxnet_objects_are_refused_with_what_is_understood(tracker, train_set, digits):
    with pytest.raises(mt.MissingPluginError, match=r"describes models from an mx\.mod\.Module.*NDArray"):
        tracker.track_model(mx.nd.ones((2, 2)), trained_on=train_set)
    with pytest.raises(mt.MissingPluginError, match=r"describes NDArrayIter, .* not mxnet\.io\.io\.ResizeIter"):
        tracker.track_dataset(mx.io.ResizeIter(digits.iterator("train"), 5), name="digits")
