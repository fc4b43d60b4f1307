"""Plain Gluon ``Block`` networks: the layout from their children, the shapes from a forward pass.

A ``Block`` that is not a ``HybridBlock`` has no symbolic graph: its
``forward`` is Python code run on NDArrays. Its layout is described from the
blocks it is made of. Each *layer* (a block that holds parameters of its own,
or has no children) becomes one :class:`~mltrack_core.plugin.Transform`: its
class as the operator, its name, its settings (``units``, ``kernel``,
``act_type``, ...), the shape of each parameter, its parameter count and the
shape of its output. An ``Activation`` a Gluon layer holds (``Dense(...,
activation="relu")``) is its ``activation`` setting.

The data flow is known where Gluon defines it: the children of a
``Sequential`` (or ``HybridSequential``) run one after the other, each on the
previous one's output. A block with a ``forward`` of its own may use its
children in any order, any number of times: its layers are listed in the order
they were registered, without links between them, and each says so in its
``mxnet.data_flow`` annotation.

Shapes come from a forward pass. :func:`watch_shapes` (called when a run is
started for the block, ``tracker.track_training(net)``) registers forward hooks
that note the input shapes of the network's next forward call and the output
shape of every layer, then remove themselves: the training loop pays for one
forward call's worth of hook calls, once. When no forward pass was seen, the
network is run once on zeros of the input shape known otherwise (training
facts, or the dataset it was trained on), in prediction mode and without
recording gradients, provided all its parameters are initialized (a forward
pass would otherwise initialize them, and so change the user's random state).
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Parameter, SchemaError, TrackingWarning, Transform, TypedColumn
from mltrack_mxnet.dag import Layout
from mltrack_mxnet.data import BATCH_SHAPE
from mltrack_mxnet.framework import require_mxnet
from mltrack_mxnet.parameters import facts_of

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "auxiliary_names",
    "batch_axis",
    "block_layout",
    "check_describable",
    "flat_shapes",
    "input_names",
    "input_shapes_of",
    "match_inputs",
    "observed_input_shapes",
    "plain_block_network",
    "shapes_of_dataset",
    "watch_shapes",
]

Shape = tuple[int, ...]

_OBSERVED = "_mltrack_observed_shapes"
# Attributes every Gluon block has: bookkeeping, not settings of the layer.
_BLOCK_INTERNALS = frozenset(
    {
        "_empty_prefix",
        "_prefix",
        "_name",
        "_active",
        "_flags",
        "_monitor_all",
        "_backend",
        "_backend_opts",
        "_in_format",
        "_out_format",
        "_cached_graph",
        "_cached_op_args",
        "_callback",
        "_kwargs",
    }
)
# Input sizes a layer infers on its first forward pass when given as 0 (its weights' shapes tell them then).
_INFERRED = frozenset({"_in_units", "_in_channels", "_input_size"})
_UNKNOWN_FLOW = "not known: {owner} ({kind}) has a forward of its own; its layers are listed in registration order"


# ---------------------------------------------------------------- what a forward pass shows


@dataclass
class _Observed:
    """Shapes seen in one forward pass of a network: its inputs, and each layer's outputs by block name."""

    inputs: dict[str, Shape] | None = None
    outputs: dict[str, tuple[Shape, ...]] = field(default_factory=dict)
    hybridized_inputs: dict[str, tuple[Any, list[Shape]]] = field(default_factory=dict)
    """Per hybridized part (its layers run inside one cached operator): the part and its input shapes."""
    handles: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    warned: bool = False


def _observed(block: Any) -> _Observed:
    found = getattr(block, _OBSERVED, None)
    if not isinstance(found, _Observed):
        found = _Observed()
        object.__setattr__(block, _OBSERVED, found)  # plain attribute: Gluon's __setattr__ registers blocks
    return found


def observed_input_shapes(block: Any) -> dict[str, Shape] | None:
    """The input shapes of the forward pass :func:`watch_shapes` saw, named as Gluon exports them, or None."""
    found = getattr(block, _OBSERVED, None)
    return found.inputs if isinstance(found, _Observed) else None


def flat_shapes(value: Any) -> list[Shape]:
    """The shapes of the NDArrays in ``value`` (an NDArray, or nested lists and tuples of them), in order."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and not isinstance(value, (list, tuple)):
        return [tuple(int(size) for size in shape)]
    if isinstance(value, (list, tuple)):
        return [found for item in value for found in flat_shapes(item)]
    return []


def input_names(count: int) -> tuple[str, ...]:
    """Gluon's names for a network's inputs: ``data`` for one, ``data0``, ``data1``, ... for several."""
    return ("data",) if count == 1 else tuple(f"data{index}" for index in range(count))


def watch_shapes(block: Any) -> None:
    """Note the shapes of ``block``'s next forward pass: its inputs, and the output of each layer.

    The hooks remove themselves after that forward call; calling this again
    while they wait does nothing. A hybridized network runs its layers inside
    one cached operator: only its input shapes are noted, the layout infers the rest.
    Nothing here raises into the training loop: a failure is one ``TrackingWarning``.
    """
    observed = _observed(block)
    with observed.lock:
        if observed.handles or observed.inputs is not None:
            return
        facts_of(block).batch_axis = batch_axis(block)
        if not getattr(block, "_active", False):  # not hybridized: its layers run one by one
            observed.handles += _attach(block, _layers(block), observed)
        observed.handles.append(block.register_forward_pre_hook(_input_hook(observed)))
        observed.handles.append(block.register_forward_hook(_done_hook(observed)))


def _attach(block: Any, layers: list[_Layer], observed: _Observed) -> list[Any]:
    """Hooks noting each layer's output shapes, and the input shapes of parts that may run hybridized."""
    handles = [layer.block.register_forward_hook(_output_hook(observed, layer.block.name)) for layer in layers]
    mx = require_mxnet()
    for part in _walk_blocks(block):
        if part is not block and isinstance(part, mx.gluon.HybridBlock) and part._children:
            handles.append(part.register_forward_pre_hook(_hybridized_input_hook(observed)))
    return handles


def _hybridized_input_hook(observed: _Observed) -> Any:
    def note_inputs(part: Any, args: Any) -> None:
        try:
            if part._active and part.name not in observed.hybridized_inputs:
                shapes = flat_shapes(args)
                if shapes:
                    observed.hybridized_inputs[part.name] = (part, shapes)
        except Exception as exc:  # noqa: BLE001  (never break the training loop)
            _warn_once(observed, part, exc)

    return note_inputs


def _input_hook(observed: _Observed) -> Any:
    def note_inputs(block: Any, args: Any) -> None:
        try:
            shapes = flat_shapes(args)
            if shapes and observed.inputs is None:  # NDArrays, not symbols (a symbolic call is no forward pass)
                observed.inputs = dict(zip(input_names(len(shapes)), shapes, strict=True))
        except Exception as exc:  # noqa: BLE001  (never break the training loop)
            _warn_once(observed, block, exc)

    return note_inputs


def _output_hook(observed: _Observed, name: str) -> Any:
    def note_output(block: Any, args: Any, output: Any) -> None:
        try:
            shapes = flat_shapes(output)
            if shapes and name not in observed.outputs:
                observed.outputs[name] = tuple(shapes)
        except Exception as exc:  # noqa: BLE001  (as above)
            _warn_once(observed, block, exc)

    return note_output


def _done_hook(observed: _Observed) -> Any:
    def detach(block: Any, args: Any, output: Any) -> None:
        if observed.inputs is None:
            return  # a symbolic call: wait for a forward pass
        with observed.lock:
            handles, observed.handles = observed.handles, []
        for handle in handles:
            handle.detach()

    return detach


def _warn_once(observed: _Observed, block: Any, exc: BaseException) -> None:
    if observed.warned:
        return
    observed.warned = True
    facts_of(block).failures.append(f"forward shapes: {type(exc).__name__}: {exc}")
    message = f"mltrack: the shapes of {type(block).__name__} were not noted: {type(exc).__name__}: {exc}"
    warnings.warn(message, TrackingWarning, stacklevel=3)


# ---------------------------------------------------------------- input shapes and the batch axis


def input_shapes_of(block: Any, names: tuple[str, ...]) -> dict[str, Shape] | None:
    """The input shapes the training facts state or a forward pass showed, matched to the graph's ``names``.

    The facts name one input ``data``; a hybridized graph may name its inputs
    ``data0``, ``data1``, ... (a recurrent layer adds its begin states): shapes
    that do not match by name are matched by position.
    """
    shapes = facts_of(block).input_shapes or observed_input_shapes(block)
    return match_inputs(shapes, names)


def match_inputs(shapes: Mapping[str, Shape] | None, names: tuple[str, ...]) -> dict[str, Shape] | None:
    """``shapes`` keyed by ``names``: by name where every given name is one of them, else by position."""
    if not shapes:
        return None
    if not names or set(shapes) <= set(names):
        return dict(shapes)
    return dict(zip(names, shapes.values(), strict=False))


def batch_axis(block: Any) -> int:
    """Where the batch is in the network's input: the ``N`` of the first layout a layer declares, else 0.

    Recurrent layers default to ``TNC`` (time first), convolutions to ``NCHW``;
    an ``Embedding`` before an ``LSTM(layout="TNC")`` receives its input in the LSTM's layout.
    """
    for part in _walk_blocks(block):
        layout = getattr(part, "_layout", None) or (getattr(part, "_kwargs", None) or {}).get("layout")
        if isinstance(layout, str) and "N" in layout:
            return layout.index("N")
    return 0


def _walk_blocks(block: Any) -> Iterator[Any]:
    yield block
    for child in block._children.values():
        yield from _walk_blocks(child)


def shapes_of_dataset(dataset: Any, names: tuple[str, ...]) -> dict[str, Shape] | None:
    """The batch shapes a dataset described by mltrack-mxnet records (``batch_shape`` statistics), for ``names``.

    Matched by name where the dataset's columns are the network's inputs (an
    ``NDArrayIter`` for a ``Module``), else its inputs (not its target) by position.
    """
    shapes = {
        statistic.columns[0]: tuple(statistic.value)
        for statistic in getattr(dataset, "statistics", ())
        if statistic.name == BATCH_SHAPE and len(statistic.columns) == 1
    }
    if not shapes:
        return None
    if set(shapes) <= set(names):
        return shapes
    inputs = {name: shape for name, shape in shapes.items() if name != dataset.target}
    return match_inputs(inputs, names)


# ---------------------------------------------------------------- the network


def plain_block_network(block: Any, trainer: Any = None, context: str | None = None) -> Any:
    """A plain Gluon ``Block`` reduced to what model extraction needs.

    Returns:
        a :class:`~mltrack_mxnet.extract.Network` without a symbol.
    """
    from mltrack_mxnet.extract import Network, contexts_text

    _require_parameters(block)
    facts = facts_of(block)
    shapes = facts.input_shapes or observed_input_shapes(block)
    names = tuple(shapes or ("data",))
    trainer = trainer or facts.trainer
    known_shapes = {
        parameter.name: tuple(parameter.shape)
        for parameter in block.collect_params().values()
        if _known(parameter.shape)
    }
    if context is None:
        for parameter in block.collect_params().values():
            try:
                context = contexts_text(parameter.list_ctx())
            except RuntimeError:  # not initialized
                continue
            break
    return Network(
        kind=type(block).__name__,
        default_name=type(block).__name__,
        symbol=None,
        data_names=names,
        input_names=names,
        input_shapes=dict(shapes) if shapes else None,
        input_types={},
        known_shapes=known_shapes,
        optimizer=trainer.optimizer if trainer is not None else None,
        trainer=trainer,
        context=context,
        facts=facts,
        trained=block,
        is_module=False,
        batch_axis=batch_axis(block),
    )


def auxiliary_names(block: Any) -> set[str]:
    """The names of the block's parameters that are auxiliary states (BatchNorm's running mean and variance)."""
    return {parameter.name for parameter in block.collect_params().values() if not _is_learned(parameter)}


# ---------------------------------------------------------------- the layout


@dataclass(frozen=True)
class _Layer:
    """A block described as one transform; ``upstream`` is None when the data flow into it is not known."""

    block: Any
    upstream: tuple[_Layer, ...] | None
    flow_note: str | None


_NETWORK_INPUT: tuple[_Layer, ...] = ()


def _layers(block: Any) -> list[_Layer]:
    found: list[_Layer] = []
    _describe(block, _NETWORK_INPUT, None, found)
    return found


def _describe(
    block: Any, upstream: tuple[_Layer, ...] | None, flow_note: str | None, found: list[_Layer]
) -> tuple[_Layer, ...] | None:
    """Add the layers of ``block`` to ``found``; return the layers whose output is ``block``'s (None: not known)."""
    children = _children(block)
    if block._reg_params or not children:
        described = next((layer for layer in found if layer.block is block), None)
        if described is not None:  # a layer used twice (shared weights): one transform
            return (described,)
        layer = _Layer(block, upstream, flow_note)
        found.append(layer)
        note = _UNKNOWN_FLOW.format(owner=block.name, kind=type(block).__name__)
        for child in children:
            _describe(child, None, note, found)
        return (layer,)
    if _is_sequential(block):
        current = upstream
        for child in children:
            current = _describe(child, current, flow_note, found)
        return current
    note = _UNKNOWN_FLOW.format(owner=block.name, kind=type(block).__name__)
    for child in children:
        _describe(child, None, note, found)
    return None


def _children(block: Any) -> list[Any]:
    """The child blocks, without the ``Activation`` a Gluon layer applies to its own output."""
    mx = require_mxnet()
    children = list(block._children.values())
    activation = block._children.get("act")
    if block._reg_params and _is_gluon(block) and isinstance(activation, mx.gluon.nn.Activation):
        children.remove(activation)
    return children


def _is_sequential(block: Any) -> bool:
    """Gluon's ``Sequential`` or ``HybridSequential`` (or a subclass that keeps its forward)."""
    nn = require_mxnet().gluon.nn
    if isinstance(block, nn.HybridSequential):
        return type(block).hybrid_forward is nn.HybridSequential.hybrid_forward
    return isinstance(block, nn.Sequential) and type(block).forward is nn.Sequential.forward


def _is_gluon(block: Any) -> bool:
    return type(block).__module__.startswith("mxnet.")


def check_describable(block: Any) -> None:
    """Refuse, before training, a plain Block whose layout cannot be described.

    Its layout is described once without shapes, so that what would fail
    after training fails now.

    Raises:
        SchemaError: the block holds no parameters, in itself or in its children: nothing of it is trained.
    """
    _require_parameters(block)
    block_layout(block, None)


def _require_parameters(block: Any) -> None:
    if not list(block.collect_params().keys()):
        raise SchemaError(
            f"{type(block).__name__} {block.name!r} holds no parameters (none of its own, none in its children): "
            "there is no trained network to describe; track the block that holds the layers"
        )


def block_layout(
    block: Any, input_shapes: Mapping[str, Shape] | None, *, framework_version: str | None = None
) -> Layout:
    """The layers of the plain Block ``block`` as transforms, with their shapes.

    Args:
        block: the network (a Gluon ``Block`` that is not a ``HybridBlock``).
        input_shapes: the shapes of its inputs (batch first), when known; used to run it once
            when no forward pass was seen.
        framework_version: the MXNet version, recorded on every transform.
    """
    layers = _layers(block)
    outputs = _output_shapes(block, layers, input_shapes)
    transforms: dict[int, Transform] = {}  # by block identity: names given with prefix= may repeat
    for layer in layers:
        own = layer.block
        upstream = layer.upstream
        if upstream is None:
            consumed: list[str] = []
        elif upstream is _NETWORK_INPUT or not upstream:
            consumed = list(input_shapes or {"data": ()})
        else:
            consumed = [f"{previous.block.name}_output" for previous in upstream]
        shapes = outputs.get(own.name)
        transforms[id(own)] = Transform(
            name=own.name,
            operator=type(own).__name__,
            framework="mxnet",
            framework_version=framework_version,
            parameters=_settings(own) + _shape_parameters(own, shapes),
            input=[TypedColumn(name=name) for name in consumed],
            output=[TypedColumn(name=f"{own.name}_output")],
            input_transforms=[transforms[id(previous.block)].id for previous in upstream or ()],
            annotations={"mxnet.data_flow": layer.flow_note} if layer.flow_note else {},
        )
    parameters = list(block.collect_params().values())
    known = all(_known(parameter.shape) for parameter in parameters)
    learned = [parameter for parameter in parameters if _is_learned(parameter)]
    states = [parameter for parameter in parameters if not _is_learned(parameter)]
    exits = _describe(block, _NETWORK_INPUT, None, [])
    notes = sorted({layer.flow_note for layer in layers if layer.flow_note})
    return Layout(
        transforms=tuple(transforms.values()),
        outputs=tuple(f"{layer.block.name}_output" for layer in exits or ()),
        parameter_count=sum(math.prod(parameter.shape) for parameter in learned) if known else None,
        auxiliary_state_count=sum(math.prod(parameter.shape) for parameter in states) if known else None,
        shapes_known=known and all(layer.block.name in outputs for layer in layers),
        annotations={"mxnet.data_flow": "; ".join(notes)} if notes else {},
    )


def _output_shapes(
    block: Any, layers: list[_Layer], input_shapes: Mapping[str, Shape] | None
) -> dict[str, tuple[Shape, ...]]:
    found = getattr(block, _OBSERVED, None)
    if not (isinstance(found, _Observed) and (found.outputs or found.hybridized_inputs)):
        if not input_shapes or not _initialized(block):
            return {}
        found = _run_once(block, layers, input_shapes)
    outputs = dict(found.outputs)
    for part, shapes in found.hybridized_inputs.values():
        for name, part_outputs in _inferred_outputs(part, shapes, layers).items():
            outputs.setdefault(name, part_outputs)
    return outputs


def _inferred_outputs(part: Any, input_shapes: list[Shape], layers: list[_Layer]) -> dict[str, tuple[Shape, ...]]:
    """The output shapes of the layers inside the hybridized ``part``, inferred on its graph.

    Gluon names a layer's operators after the layer (``dense0_fwd``, ``dense0_relu_fwd``): a
    layer's output is the last operator so named, in the graph's order.
    """
    if not part._cached_graph:
        return {}
    inputs, graph = part._cached_graph
    internals = graph.get_internals()
    given = {variable.name: shape for variable, shape in zip(inputs, input_shapes, strict=False)}
    for parameter in part.collect_params().values():
        if _known(parameter.shape):
            given[parameter.name] = tuple(parameter.shape)
    try:
        _, shapes, _ = internals.infer_shape_partial(**given)
    except Exception:  # noqa: BLE001  (shapes that do not fit: these layers' shapes stay unknown)
        return {}
    if shapes is None:
        return {}
    by_node: dict[str, list[Shape]] = {}
    for position, output in enumerate(internals.list_outputs()):
        if output.endswith("_output"):
            by_node.setdefault(internals[position].name, []).append(tuple(shapes[position]))
    found: dict[str, tuple[Shape, ...]] = {}
    inside = {layer.block.name for layer in layers if _is_within(layer.block, part)}
    for node, node_shapes in by_node.items():  # in the graph's order: the last match wins
        owner = next((name for name in inside if node.startswith(f"{name}_")), None)
        if owner is not None and all(_known(shape) for shape in node_shapes):
            found[owner] = tuple(node_shapes)
    return found


def _is_within(block: Any, ancestor: Any) -> bool:
    return any(descendant is block for descendant in _walk_blocks(ancestor))


def _initialized(block: Any) -> bool:
    for parameter in block.collect_params().values():
        try:
            parameter.list_ctx()
        except RuntimeError:  # not initialized, or initialization deferred until the first forward pass
            return False
        if not _known(parameter.shape):
            return False
    return True


def _run_once(block: Any, layers: list[_Layer], input_shapes: Mapping[str, Shape]) -> _Observed:
    """Run ``block`` once on zeros, in prediction mode without gradients, noting the shapes its parts see."""
    mx = require_mxnet()
    context = next(iter(block.collect_params().values())).list_ctx()[0]
    observed = _Observed()
    handles = _attach(block, layers, observed)
    try:
        with mx.autograd.pause(train_mode=False):
            block(*[mx.nd.zeros(shape, ctx=context) for shape in input_shapes.values()])
    except Exception:  # noqa: BLE001  (inputs the network does not take as zeros: the shapes stay unknown)
        return _Observed()
    finally:
        for handle in handles:
            handle.detach()
    return observed


def _settings(block: Any) -> list[Parameter]:
    """The layer's configuration: its simple attributes and Gluon's operator arguments (``_kwargs``)."""
    found: dict[str, Any] = {}
    for name, value in vars(block).items():
        if name in _BLOCK_INTERNALS or name.startswith(("_mltrack", "__")):
            continue
        if _is_setting(value) and not (name in _INFERRED and value == 0):
            found[name.lstrip("_")] = value
    for name, value in (getattr(block, "_kwargs", None) or {}).items():
        if _is_setting(value):
            found[name] = value
    activation = block._children.get("act")
    if activation is not None and activation not in _children(block):
        found["activation"] = activation._act_type
    return [Parameter.of(name, value) for name, value in sorted(found.items())]


def _is_setting(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return bool(value) and all(isinstance(item, (bool, int, float, str)) for item in value)
    return False


def _shape_parameters(block: Any, outputs: tuple[Shape, ...] | None) -> list[Parameter]:
    parameters: list[Parameter] = []
    if outputs:
        parameters.append(Parameter(name="output_shape", value=outputs[0], doc="shape of the first output"))
        if len(outputs) > 1:
            parameters.append(Parameter(name="output_shapes", value=outputs, doc="shapes of all outputs, in order"))
    own = list(block._reg_params.values())
    for parameter in own:
        if _known(parameter.shape):
            kind = "learned parameter" if _is_learned(parameter) else "auxiliary state"
            parameters.append(Parameter(name=f"{parameter.name}.shape", value=tuple(parameter.shape), doc=kind))
    if own and all(_known(parameter.shape) for parameter in own):
        learned = sum(math.prod(parameter.shape) for parameter in own if _is_learned(parameter))
        states = sum(math.prod(parameter.shape) for parameter in own if not _is_learned(parameter))
        parameters.append(Parameter(name="parameter_count", value=learned))
        if states:
            parameters.append(Parameter(name="auxiliary_state_count", value=states))
    return parameters


def _is_learned(parameter: Any) -> bool:
    """A weight or bias, not an auxiliary state such as BatchNorm's running mean (MXNet: not differentiable)."""
    return bool(getattr(parameter, "_differentiable", True))


def _known(shape: Any) -> bool:
    """Gluon writes an unknown shape as None or () and an unknown dimension as 0 (or -1)."""
    return bool(shape) and all(size > 0 for size in shape)
