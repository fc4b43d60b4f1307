"""Hyperparameters: optimizer, learning-rate scheduler and initializer settings, and the training facts.

The settings are read from MXNet's objects, each with MXNet's default where
there is one. What only the training loop knows is kept on the trained object
until its model is tracked: MXNet does not keep the initializer, the number of
epochs or (for Gluon) the input shapes and the trainer on the network. The
callbacks and event handlers of a live run record them in a :class:`FitFacts`
attached to the module or block; :func:`set_training_facts` lets users state
them for training loops mltrack does not see. Model extraction reads them back.
"""

from __future__ import annotations

import inspect
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mltrack_core.plugin import Parameter, SchemaError

__all__ = [
    "FitFacts",
    "facts_of",
    "initializer_parameters",
    "optimizer_parameters",
    "set_training_facts",
    "trainer_parameters",
]

_ATTRIBUTE = "_mltrack_fit_facts"

# Optimizer attributes that are bookkeeping, not settings (or are recorded on their own).
_OPTIMIZER_STATE = {
    "lr",
    "lr_scheduler",
    "num_update",
    "begin_num_update",
    "idx2name",
    "param_dict",
    "sym_info",
    "lr_mult",
    "wd_mult",
    "aggregate_num",
    "allow_np_array",
}
# Scheduler attributes that change while training (base_lr follows the current rate).
_SCHEDULER_STATE = {"base_lr", "base_lr_orig", "count", "cur_step_ind", "max_steps"}
_SCHEDULER_ARGUMENT_OF = {"power": "pwr"}


@dataclass
class FitFacts:
    """Facts about how a network was trained, filled in while it trains."""

    input_shapes: dict[str, tuple[int, ...]] | None = None
    trainer: Any = None
    initializer: Any = None
    epochs: int | None = None
    begin_epoch: int = 0
    epochs_completed: int | None = None
    """The number of the last epoch finished, counted from 1 (so equal to ``epochs`` after a full fit)."""
    eval_metrics: tuple[str, ...] = ()
    kvstore: str | None = None
    loss: str | None = None
    failures: list[str] = field(default_factory=list)
    batch_axis: int = 0
    """Where the batch is in the first input's shape: the ``N`` of its layout (1 for ``TNC``)."""

    @property
    def batch_size(self) -> int | None:
        """The size of the batch axis of the first input."""
        if not self.input_shapes:
            return None
        first = next(iter(self.input_shapes.values()))
        return first[self.batch_axis] if len(first) > self.batch_axis else None


def facts_of(obj: Any) -> FitFacts:
    """The facts attached to ``obj`` (a module or block), attaching empty ones first if needed."""
    facts = getattr(obj, _ATTRIBUTE, None)
    if not isinstance(facts, FitFacts):
        facts = FitFacts()
        object.__setattr__(obj, _ATTRIBUTE, facts)  # plain attribute: Gluon's __setattr__ registers blocks
    return facts


def set_training_facts(
    network: Any,
    *,
    input_shapes: Sequence[int] | Sequence[Sequence[int]] | Mapping[str, Sequence[int]] | None = None,
    trainer: Any = None,
    initializer: Any = None,
    epochs: int | None = None,
) -> None:
    """Tell mltrack how ``network`` was trained when no tracked callback saw it.

    For Gluon training loops of your own (the Estimator's event handler and the
    Module callbacks record all of this themselves). What is given here is
    recorded by the next ``tracker.track_model(network, ...)``.

    Args:
        network: the ``mx.mod.Module`` or Gluon ``HybridBlock``.
        input_shapes: the shape of the input, batch first (``(32, 3, 224, 224)``); for several
            inputs a list of shapes in call order or a mapping of input name to shape.
        trainer: the ``gluon.Trainer`` that updated the network (its optimizer is recorded).
        initializer: the ``mx.init.Initializer`` the parameters were initialized with.
        epochs: the number of epochs trained.

    Raises:
        SchemaError: a shape is not a sequence of positive ints, or epochs is not a positive int.
    """
    facts = facts_of(network)
    if input_shapes is not None:
        facts.input_shapes = _input_shapes(input_shapes)
    if trainer is not None:
        facts.trainer = trainer
    if initializer is not None:
        facts.initializer = initializer
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise SchemaError(f"set_training_facts: epochs must be a positive int, got {epochs!r}")
        facts.epochs = epochs


def _input_shapes(value: Any) -> dict[str, tuple[int, ...]]:
    if isinstance(value, Mapping):
        return {str(name): _shape(shape, f"input_shapes[{name!r}]") for name, shape in value.items()}
    if value and all(isinstance(item, numbers.Integral) for item in value):
        return {"data": _shape(value, "input_shapes")}
    shapes = [_shape(shape, f"input_shapes[{index}]") for index, shape in enumerate(value)]
    if len(shapes) == 1:
        return {"data": shapes[0]}
    return {f"data{index}": shape for index, shape in enumerate(shapes)}  # Gluon's export names


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise SchemaError(f"set_training_facts: {where} must be a shape such as (32, 3, 224, 224), got {value!r}")
    if not all(isinstance(size, numbers.Integral) and not isinstance(size, bool) and size > 0 for size in value):
        raise SchemaError(f"set_training_facts: {where} must hold positive ints, got {value!r}")
    return tuple(int(size) for size in value)


# ---------------------------------------------------------------- settings as parameters


def optimizer_parameters(optimizer: Any, *, framework_default: str | None = "sgd") -> list[Parameter]:
    """The optimizer's class and settings, and its learning-rate scheduler's, with MXNet's defaults.

    ``optimizer.learning_rate`` is the initial rate (MXNet's ``lr``); the
    defaults come from an optimizer of the same class built without arguments.
    """
    defaults = _default_instance(type(optimizer))
    parameters = [
        Parameter.of("optimizer", type(optimizer).__name__.lower(), **_default(framework_default)),
        Parameter.of("optimizer.learning_rate", optimizer.lr, **_default_attribute(defaults, "lr")),
    ]
    for name, value in sorted(vars(optimizer).items()):
        if name.startswith("_") or name in _OPTIMIZER_STATE or not _is_setting(value):
            continue
        parameters.append(Parameter.of(f"optimizer.{name}", value, **_default_attribute(defaults, name)))
    scheduler = getattr(optimizer, "lr_scheduler", None)
    if scheduler is not None:
        parameters += _scheduler_parameters(scheduler)
    return parameters


def trainer_parameters(trainer: Any, batch_size: int | None = None) -> list[Parameter]:
    """A ``gluon.Trainer``'s optimizer settings, as the optimizer trains with them.

    ``trainer.step(batch_size)`` sets the optimizer's ``rescale_grad`` to the
    trainer's scale / ``batch_size``: given the batch size trained with, that is
    the value recorded (the optimizer itself holds scale / the last batch's
    size, smaller at the end of an epoch); without it, the optimizer's own value.
    """
    parameters = optimizer_parameters(trainer.optimizer, framework_default=None)
    scale = getattr(trainer, "_scale", None)  # MXNet offers no public accessor
    if scale is None or not batch_size:
        return parameters
    rescale = Parameter.of("optimizer.rescale_grad", scale / batch_size, default=1.0)
    return [rescale if parameter.name == rescale.name else parameter for parameter in parameters]


def _scheduler_parameters(scheduler: Any) -> list[Parameter]:
    signature_defaults = _signature_defaults(type(scheduler))
    parameters = [Parameter.of("lr_scheduler", type(scheduler).__name__)]
    for name, value in sorted(vars(scheduler).items()):
        if name.startswith("_") or name in _SCHEDULER_STATE or not _is_setting(value):
            continue
        argument = _SCHEDULER_ARGUMENT_OF.get(name, name)
        default = {"default": signature_defaults[argument]} if argument in signature_defaults else {}
        parameters.append(Parameter.of(f"lr_scheduler.{name}", value, **default))
    return parameters


def initializer_parameters(initializer: Any, *, framework_default: str | None = None) -> list[Parameter]:
    """The initializer's name (as MXNet registers it) and its arguments.

    Raises:
        TypeError, ValueError: the initializer cannot be described (its
            arguments are not JSON, for example); callers record that as a failure.
    """
    if hasattr(initializer, "dumps"):
        name, arguments = json.loads(initializer.dumps())
    else:  # Mixed and user classes without dumps()
        name, arguments = type(initializer).__name__.lower(), {}
    signature_defaults = _signature_defaults(type(initializer))
    parameters = [Parameter.of("initializer", name, **_default(framework_default))]
    for argument, value in sorted(arguments.items()):
        default = {"default": signature_defaults[argument]} if argument in signature_defaults else {}
        parameters.append(Parameter.of(f"initializer.{argument}", value, **default))
    return parameters


def _is_setting(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, (bool, int, float, str))
        or (isinstance(value, (list, tuple)) and all(isinstance(item, (bool, int, float, str)) for item in value))
    )


def _default(value: Any) -> dict[str, Any]:
    return {} if value is None else {"default": value}


def _default_instance(cls: type) -> Any:
    try:
        return cls()
    except Exception:  # noqa: BLE001  (a class that needs arguments: no defaults to compare with)
        return None


def _default_attribute(instance: Any, name: str) -> dict[str, Any]:
    if instance is None or not hasattr(instance, name):
        return {}
    value = getattr(instance, name)
    return {"default": value} if _is_setting(value) else {}


def _signature_defaults(cls: type) -> dict[str, Any]:
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if parameter.default is not inspect.Parameter.empty and _is_setting(parameter.default)
    }
