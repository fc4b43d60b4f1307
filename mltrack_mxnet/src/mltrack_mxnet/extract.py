"""Models and training runs described from MXNet objects.

Four kinds of objects are understood: ``mx.mod.Module``, Gluon
``HybridBlock`` networks (including the model zoo's), ``gluon.Trainer`` (for
training runs) and the Gluon ``Estimator``. Each is first reduced to a
:class:`Network`: the symbol, its inputs and their shapes, the optimizer and
the facts the training loop noted.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import (
    Extraction,
    MissingPluginError,
    Model,
    Parameter,
    SchemaError,
    TrainingRun,
    TypedColumn,
    TypeHint,
)
from mltrack_mxnet.blocks import (
    auxiliary_names,
    batch_axis,
    block_layout,
    check_describable,
    input_shapes_of,
    observed_input_shapes,
    plain_block_network,
    shapes_of_dataset,
    watch_shapes,
)
from mltrack_mxnet.callbacks import GluonCallbacks, ModuleCallbacks
from mltrack_mxnet.dag import Layout, network_layout
from mltrack_mxnet.framework import mxnet_environment, require_mxnet
from mltrack_mxnet.parameters import (
    FitFacts,
    facts_of,
    initializer_parameters,
    optimizer_parameters,
    trainer_parameters,
)
from mltrack_mxnet.serialize import save_model

if TYPE_CHECKING:
    from mltrack_core.plugin import Dataset, Tracker

__all__ = ["Network", "extract_model", "extract_training", "network_of", "training_parameters"]

_UNDERSTOOD = "an mx.mod.Module, a Gluon HybridBlock, a gluon.Trainer or a Gluon Estimator"
_DTYPE_HINTS = {
    "float16": TypeHint.FLOAT,
    "float32": TypeHint.FLOAT,
    "float64": TypeHint.DOUBLE,
    "int8": TypeHint.INT,
    "uint8": TypeHint.INT,
    "int32": TypeHint.INT,
    "int64": TypeHint.LONG,
    "bool": TypeHint.BOOLEAN,
}


@dataclass(frozen=True)
class Network:
    """What model extraction needs from a module or a Gluon network."""

    kind: str
    default_name: str
    symbol: Any
    data_names: tuple[str, ...]
    input_names: tuple[str, ...]
    input_shapes: dict[str, tuple[int, ...]] | None
    input_types: dict[str, TypeHint]
    known_shapes: dict[str, tuple[int, ...]]
    optimizer: Any
    trainer: Any
    context: str | None
    facts: FitFacts
    trained: Any
    is_module: bool
    batch_axis: int = 0
    """Where the batch is in the first input's shape (1 for a recurrent network in ``TNC`` layout)."""


# ---------------------------------------------------------------- models


def extract_model(obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool) -> Extraction:
    """The model (network layout with shapes, optimizer, initializer, epochs, batch size) of ``obj``."""
    mx = require_mxnet()
    network = network_of(obj)
    if not network.input_shapes:
        network = replace(network, input_shapes=shapes_of_dataset(trained_on, network.input_names))
    if network.symbol is None:  # a plain Gluon Block
        layout = block_layout(network.trained, network.input_shapes, framework_version=mx.__version__)
    else:
        layout = network_layout(
            network.symbol,
            network.input_names,
            network.input_shapes,
            known_shapes=network.known_shapes,
            framework_version=mx.__version__,
        )
    failures = [*network.facts.failures]
    if not layout.shapes_known:
        failures.append(
            "output shapes: the input shapes are unknown; train with the run's callbacks or event handler, "
            "or call mltrack_mxnet.set_training_facts(network, input_shapes=(batch, ...)) first"
        )
    hyperparameters = _model_parameters(network, layout, failures)
    model_name = name or network.default_name
    location = _serialize(tracker, network, model_name) if serialize else None
    model = Model(
        name=model_name,
        learning_algorithm=_learning_algorithm(network.optimizer),
        trained_on=trained_on.id,
        framework="mxnet",
        framework_version=mx.__version__,
        location=location,
        hyperparameters=hyperparameters,
        transforms=[transform.id for transform in layout.transforms],
        input=[
            TypedColumn(name=data_name, typing=network.input_types.get(data_name, TypeHint.UNKNOWN))
            for data_name in network.data_names
        ],
        environment={**tracker.environment(), **mxnet_environment()},
        annotations={"mxnet.kind": network.kind, "mxnet.outputs": ", ".join(layout.outputs), **layout.annotations},
    )
    return Extraction(primary=model, related=layout.transforms, failures=tuple(failures))


def _learning_algorithm(optimizer: Any) -> str:
    return type(optimizer).__name__ if optimizer is not None else "unknown (no optimizer)"


def _model_parameters(network: Network, layout: Layout, failures: list[str]) -> list[Parameter]:
    parameters = training_parameters(network, failures)
    parameters.append(Parameter.of("network.layers", len(layout.transforms)))
    if layout.parameter_count is not None:
        parameters.append(Parameter.of("network.parameter_count", layout.parameter_count))
        parameters.append(Parameter.of("network.auxiliary_state_count", layout.auxiliary_state_count))
    return parameters


def training_parameters(network: Network, failures: list[str]) -> list[Parameter]:
    """How the network was trained: optimizer, initializer, epochs, batch size, inputs, metric, context."""
    facts = network.facts
    parameters: list[Parameter] = []
    if network.optimizer is not None:
        try:
            if network.trainer is not None:
                parameters += trainer_parameters(network.trainer, batch_size=_batch_size(network))
            else:
                parameters += optimizer_parameters(network.optimizer, framework_default="sgd")
        except Exception as exc:  # noqa: BLE001  (a user's optimizer we cannot read: keep the rest)
            failures.append(f"optimizer settings: {type(exc).__name__}: {exc}")
    if facts.initializer is not None:
        try:
            default = "uniform" if network.is_module else None  # Module.fit's default initializer
            parameters += initializer_parameters(facts.initializer, framework_default=default)
        except Exception as exc:  # noqa: BLE001  (an initializer we cannot describe: keep the rest)
            failures.append(f"initializer: {type(exc).__name__}: {exc}")
    if facts.epochs is not None:
        parameters.append(Parameter.of("epochs", facts.epochs))
    if facts.begin_epoch:
        parameters.append(Parameter.of("begin_epoch", facts.begin_epoch, default=0))
    if facts.epochs_completed is not None and facts.epochs_completed != facts.epochs:  # stopped early
        parameters.append(Parameter.of("epochs_completed", facts.epochs_completed))
    batch_size = _batch_size(network)
    if batch_size is not None:
        parameters.append(Parameter.of("batch_size", batch_size))
    for input_name, shape in (network.input_shapes or {}).items():
        parameters.append(Parameter.of(f"input_shape.{input_name}", shape))
    if facts.eval_metrics:
        parameters.append(Parameter.of("eval_metric", list(facts.eval_metrics)))
    if facts.kvstore is not None:
        default_store = "local" if network.is_module else "device"  # Module.fit's default, gluon.Trainer's
        parameters.append(Parameter.of("kvstore", facts.kvstore, default=default_store))
    if facts.loss is not None:
        parameters.append(Parameter.of("loss", facts.loss))
    if network.context is not None:
        parameters.append(Parameter.of("context", network.context))
    return parameters


def _batch_size(network: Network) -> int | None:
    if not network.input_shapes:
        return None
    shape = next(iter(network.input_shapes.values()))
    return shape[network.batch_axis] if len(shape) > network.batch_axis else None


def _serialize(tracker: Tracker, network: Network, name: str) -> str:
    if network.is_module:
        module = network.trained
        if not module.params_initialized:
            raise SchemaError(f"cannot serialize module {name!r}: its parameters are not initialized; fit it first")
        arg_params, aux_params = module.get_params()
    else:
        symbol = network.symbol
        auxiliary = auxiliary_names(network.trained) if symbol is None else symbol.list_auxiliary_states()
        arg_params, aux_params = {}, {}
        for parameter in network.trained.collect_params().values():
            try:
                data = parameter.data(parameter.list_ctx()[0])
            except RuntimeError:  # deferred or missing initialization
                raise SchemaError(
                    f"cannot serialize network {name!r}: parameter {parameter.name!r} is not initialized; "
                    "initialize the network and run it once first"
                ) from None
            (aux_params if parameter.name in auxiliary else arg_params)[parameter.name] = data
    return save_model(tracker.artifacts, name, network.symbol, arg_params, aux_params)


# ---------------------------------------------------------------- networks


def network_of(obj: Any) -> Network:
    """Reduce a module, Gluon network or estimator to what model extraction needs.

    Raises:
        MissingPluginError: ``obj`` is an MXNet object of another kind.
    """
    mx = require_mxnet()
    from mxnet.gluon.contrib.estimator import Estimator

    if isinstance(obj, mx.mod.Module):
        return _module_network(obj)
    if isinstance(obj, Estimator):
        if not isinstance(obj.net, mx.gluon.HybridBlock):
            return plain_block_network(obj.net, trainer=obj.trainer, context=_contexts(obj.context))
        return _block_network(obj.net, trainer=obj.trainer, context=_contexts(obj.context))
    if isinstance(obj, mx.gluon.HybridBlock):
        return _block_network(obj)
    if isinstance(obj, mx.gluon.Block):
        return plain_block_network(obj)
    raise MissingPluginError(f"mltrack-mxnet describes models from {_UNDERSTOOD}, not {_qualified_name(obj)}")


def _module_network(module: Any) -> Network:
    facts = facts_of(module)
    input_shapes = facts.input_shapes
    input_types: dict[str, TypeHint] = {}
    axis = facts.batch_axis
    if module.binded:
        descriptions = list(module.data_shapes) + list(module.label_shapes or [])
        input_shapes = {description.name: tuple(description.shape) for description in descriptions}
        input_types = {description.name: _type_hint(description.dtype) for description in descriptions}
        layout = getattr(descriptions[0], "layout", None) if descriptions else None
        axis = layout.index("N") if isinstance(layout, str) and "N" in layout else 0
    symbol = module.symbol
    return Network(
        kind="Module",
        default_name=symbol.name or "module",
        symbol=symbol,
        data_names=tuple(module.data_names),
        input_names=tuple(module.data_names) + tuple(module.label_names or ()),
        input_shapes=input_shapes,
        input_types=input_types,
        known_shapes={},
        optimizer=module._optimizer if module.optimizer_initialized else None,  # MXNet offers no public accessor
        trainer=None,
        context=_contexts(module._context),
        facts=facts,
        trained=module,
        is_module=True,
        batch_axis=axis,
    )


def _block_network(block: Any, trainer: Any = None, context: str | None = None) -> Network:
    mx = require_mxnet()
    facts = facts_of(block)
    trainer = trainer or facts.trainer
    if block._cached_graph:  # hybridized and run: the graph MXNet executes
        inputs, symbol = block._cached_graph
        input_names = tuple(variable.name for variable in inputs)
    else:
        input_names = tuple(facts.input_shapes or observed_input_shapes(block) or ("data",))
        symbol = block(*[mx.sym.var(input_name) for input_name in input_names])
        if isinstance(symbol, (list, tuple)):
            symbol = mx.sym.Group(list(symbol))
    known_shapes = {}
    contexts: list[Any] = []
    for parameter in block.collect_params().values():
        if parameter.shape and all(size > 0 for size in parameter.shape):
            known_shapes[parameter.name] = tuple(parameter.shape)
        if not contexts:
            with contextlib.suppress(RuntimeError):  # not initialized
                contexts = parameter.list_ctx()
    return Network(
        kind=type(block).__name__,
        default_name=type(block).__name__,
        symbol=symbol,
        data_names=input_names,
        input_names=input_names,
        input_shapes=input_shapes_of(block, input_names),
        input_types={},
        known_shapes=known_shapes,
        optimizer=trainer.optimizer if trainer is not None else None,
        trainer=trainer,
        context=context or (_contexts(contexts) if contexts else None),
        facts=facts,
        trained=block,
        is_module=False,
        batch_axis=batch_axis(block),
    )


# ---------------------------------------------------------------- training runs


def extract_training(obj: Any, tracker: Tracker) -> Extraction:
    """A training-run template for ``obj``, with the helpers its live run offers.

    A module's run offers :class:`ModuleCallbacks`; an estimator's, a block's
    or a trainer's offers :class:`GluonCallbacks`. Hyperparameters known
    before training (a trainer's optimizer) are recorded on the run.
    """
    mx = require_mxnet()
    from mxnet.gluon.contrib.estimator import Estimator

    environment = {**tracker.environment(), **mxnet_environment()}
    if isinstance(obj, mx.mod.Module):
        name = obj.symbol.name or "module"
        run = TrainingRun(
            name=f"{name} fit",
            environment=environment,
            annotations={"mxnet.kind": "Module", "mxnet.context": _contexts(obj._context)},
        )
        return Extraction(primary=run, run_helpers=lambda live: ModuleCallbacks(live, obj))
    if isinstance(obj, Estimator):
        hyperparameters = trainer_parameters(obj.trainer)
        hyperparameters.append(Parameter.of("loss", type(obj.loss).__name__))
        run = TrainingRun(
            name=f"{type(obj.net).__name__} fit",
            hyperparameters=hyperparameters,
            environment=environment,
            annotations={"mxnet.kind": "Estimator", "mxnet.context": _contexts(obj.context)},
        )
        return Extraction(primary=run, run_helpers=lambda live: GluonCallbacks(live, obj.net))
    if isinstance(obj, mx.gluon.Trainer):
        run = TrainingRun(
            name=f"{type(obj.optimizer).__name__} training",
            hyperparameters=trainer_parameters(obj),
            environment=environment,
            annotations={"mxnet.kind": "Trainer"},
        )
        return Extraction(primary=run, run_helpers=lambda live: GluonCallbacks(live))
    if isinstance(obj, mx.gluon.Block):
        if not isinstance(obj, mx.gluon.HybridBlock):
            check_describable(obj)  # refused now, not when the model is tracked after training
        watch_shapes(obj)  # the input shapes (and a plain Block's layer shapes) of its next forward pass
        kind = type(obj).__name__
        run = TrainingRun(name=f"{kind} training", environment=environment, annotations={"mxnet.kind": kind})
        return Extraction(primary=run, run_helpers=lambda live: GluonCallbacks(live, obj, settings_at_end=True))
    raise MissingPluginError(f"mltrack-mxnet describes training of {_UNDERSTOOD}, not {_qualified_name(obj)}")


# ---------------------------------------------------------------- helpers


def contexts_text(contexts: Any) -> str:
    """MXNet contexts as text: ``cpu(0)``, or ``gpu(0), gpu(1)`` for several."""
    return _contexts(contexts)


def _contexts(contexts: Any) -> str:
    if not isinstance(contexts, (list, tuple)):
        contexts = [contexts]
    return ", ".join(str(context) for context in contexts)


def _type_hint(dtype: Any) -> TypeHint:
    import numpy

    try:
        return _DTYPE_HINTS.get(numpy.dtype(dtype).name, TypeHint.UNKNOWN)
    except TypeError:
        return TypeHint.UNKNOWN


def _qualified_name(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"
