"""The network layout: a symbol's operators as a DAG of transforms, with inferred shapes.

Every operator node of the symbol's graph (``tojson()``) becomes a
:class:`~mltrack_core.plugin.Transform`: its op, its name, its attributes (as MXNet
writes them, e.g. ``kernel="(3, 3)"``) and the transforms whose outputs it
consumes. ``infer_shape_partial`` over the symbol's internals, given the input
shapes, adds each operator's output shape(s), the shape of each of its
parameters (weights, biases, auxiliary states such as BatchNorm's moving mean)
and its parameter count. The first dimension of every shape is the batch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from mltrack_core.plugin import Parameter, SchemaError, Transform, TypedColumn

__all__ = ["Layout", "network_layout"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Layout:
    """The transforms of a network, in topological order, and what the whole network holds.

    ``parameter_count`` counts the learned arguments (weights, biases),
    ``auxiliary_state_count`` the auxiliary states; both are None when a shape
    is unknown.
    """

    transforms: tuple[Transform, ...]
    outputs: tuple[str, ...]
    parameter_count: int | None
    auxiliary_state_count: int | None
    shapes_known: bool
    annotations: Mapping[str, str] = field(default_factory=dict)
    """Notes for the model (a plain Block's data flow that is not known)."""


def network_layout(
    symbol: Any,
    input_names: Collection[str],
    input_shapes: Mapping[str, Shape] | None,
    *,
    known_shapes: Mapping[str, Shape] | None = None,
    framework_version: str | None = None,
) -> Layout:
    """Describe ``symbol``'s operators as transforms with the shapes MXNet infers.

    Args:
        symbol: an MXNet ``Symbol`` (a module's symbol, or a Gluon block called on symbol variables).
        input_names: the variables that are data or labels, not parameters.
        input_shapes: shapes of the inputs (batch first), or None when unknown.
        known_shapes: shapes known otherwise (a Gluon block's initialized parameters).
        framework_version: the MXNet version, recorded on every transform.

    Raises:
        SchemaError: the input shapes do not fit the network (MXNet's message says where).
    """
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    internals = symbol.get_internals()
    try:
        outputs_of, output_shape, parameter_shapes = _infer_shapes(
            internals, {**(known_shapes or {}), **(input_shapes or {})}
        )
    except Exception as exc:  # noqa: BLE001  (MXNetError: shapes that contradict the network)
        message = str(exc).strip()
        first_line = message.splitlines()[0] if message else type(exc).__name__
        raise SchemaError(f"the input shapes {dict(input_shapes or {})} do not fit the network: {first_line}") from None
    auxiliary = set(symbol.list_auxiliary_states())
    inputs = set(input_names)

    transform_ids: dict[int, str] = {}
    transforms = []
    for index, node in enumerate(nodes):
        if node["op"] == "null":
            continue
        consumed: list[str] = []
        upstream: list[str] = []
        parameters = [Parameter(name=key, value=value) for key, value in sorted((node.get("attrs") or {}).items())]
        weights: list[str] = []
        for source, output_index, _version in node["inputs"]:
            source_node = nodes[source]
            if source_node["op"] != "null":
                upstream.append(transform_ids[source])
                consumed.append(_output_name(outputs_of, source_node["name"], output_index))
            elif source_node["name"] in inputs:
                consumed.append(source_node["name"])
            elif source_node["name"] not in weights:
                weights.append(source_node["name"])
        own_outputs = outputs_of.get(node["name"], [])
        parameters += _shape_parameters(own_outputs, output_shape, weights, auxiliary, parameter_shapes)
        transform = Transform(
            name=node["name"],
            operator=node["op"],
            framework="mxnet",
            framework_version=framework_version,
            parameters=parameters,
            input=[TypedColumn(name=name) for name in dict.fromkeys(consumed)],
            output=[TypedColumn(name=name) for name in own_outputs],
            input_transforms=upstream,
        )
        transform_ids[index] = transform.id
        transforms.append(transform)

    variables = [node["name"] for node in nodes if node["op"] == "null" and node["name"] not in inputs]
    known = all(_known(parameter_shapes.get(name)) for name in variables)
    return Layout(
        transforms=tuple(transforms),
        outputs=tuple(symbol.list_outputs()),
        parameter_count=_count(parameter_shapes, [n for n in variables if n not in auxiliary]) if known else None,
        auxiliary_state_count=_count(parameter_shapes, [n for n in variables if n in auxiliary]) if known else None,
        shapes_known=known and all(_known(output_shape.get(name)) for name in symbol.list_outputs()),
    )


def _infer_shapes(
    internals: Any, given: Mapping[str, Shape]
) -> tuple[dict[str, list[str]], dict[str, Shape], dict[str, Shape]]:
    """Output names per node, shapes per output name, shapes per variable name."""
    arguments = internals.list_arguments()
    accepted = set(arguments) | set(internals.list_auxiliary_states())
    shapes = {name: tuple(shape) for name, shape in given.items() if name in accepted}
    argument_shapes, output_shapes, auxiliary_shapes = internals.infer_shape_partial(**shapes)
    output_names = internals.list_outputs()
    outputs_of: dict[str, list[str]] = {}
    for position, name in enumerate(output_names):
        outputs_of.setdefault(internals[position].name, []).append(name)
    if argument_shapes is None:  # nothing could be inferred
        return outputs_of, {}, {}
    parameter_shapes = dict(zip(arguments, map(tuple, argument_shapes), strict=True))
    parameter_shapes.update(zip(internals.list_auxiliary_states(), map(tuple, auxiliary_shapes), strict=True))
    return outputs_of, dict(zip(output_names, map(tuple, output_shapes), strict=True)), parameter_shapes


def _shape_parameters(
    outputs: list[str],
    output_shape: Mapping[str, Shape],
    weights: list[str],
    auxiliary: Collection[str],
    parameter_shapes: Mapping[str, Shape],
) -> list[Parameter]:
    parameters = []
    shapes = [output_shape.get(name) for name in outputs]
    if shapes and _known(shapes[0]):
        parameters.append(Parameter(name="output_shape", value=shapes[0], doc="shape of the first output, batch first"))
    if len(shapes) > 1 and all(_known(shape) for shape in shapes):
        parameters.append(Parameter(name="output_shapes", value=shapes, doc="shapes of all outputs, in output order"))
    for name in weights:
        shape = parameter_shapes.get(name)
        if _known(shape):
            kind = "auxiliary state" if name in auxiliary else "learned parameter"
            parameters.append(Parameter(name=f"{name}.shape", value=shape, doc=kind))
    if weights and all(_known(parameter_shapes.get(name)) for name in weights):
        learned = [name for name in weights if name not in auxiliary]
        states = [name for name in weights if name in auxiliary]
        parameters.append(Parameter(name="parameter_count", value=_count(parameter_shapes, learned)))
        if states:
            parameters.append(Parameter(name="auxiliary_state_count", value=_count(parameter_shapes, states)))
    return parameters


def _output_name(outputs_of: Mapping[str, list[str]], node: str, index: int) -> str:
    names = outputs_of.get(node, [])
    return names[index] if index < len(names) else f"{node}_output{index}"


def _known(shape: Shape | None) -> bool:
    """MXNet writes an unknown shape as () and an unknown dimension as 0."""
    return bool(shape) and all(dimension > 0 for dimension in shape)  # type: ignore[union-attr]


def _count(shapes: Mapping[str, Shape], names: list[str]) -> int:
    return sum(math.prod(shapes[name]) for name in names)
