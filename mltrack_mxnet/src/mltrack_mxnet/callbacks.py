"""Callbacks that stream a training run's metrics while MXNet trains.

A live run started for an ``mx.mod.Module`` offers :class:`ModuleCallbacks`'
methods as its own (``run.batch_callback()``, ...); a run started for a Gluon
estimator, block or trainer offers :class:`GluonCallbacks`' (``run.event_handler()``).

Callbacks only call ``run.log`` (it appends to a queue; the tracker's
background thread writes) and note what only the training loop knows. They
never raise into MXNet's loop: the first failure of each kind becomes one
:class:`~mltrack_core.plugin.TrackingWarning` and is noted on the model tracked later.

Metric names: ``train-<metric>`` and ``validation-<metric>`` with MXNet's
metric names (``train-accuracy``, ``validation-cross-entropy``). A point with
an ``epoch`` and no ``step`` is the value for the whole epoch (what MXNet logs
as ``Epoch[k] Train-accuracy=...``); points with a ``step`` (the number of
batches trained so far in this run) follow the value through the epoch.
``learning-rate`` is logged once per epoch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import SchemaError, TrackingWarning
from mltrack_mxnet.parameters import FitFacts, facts_of

if TYPE_CHECKING:
    from mltrack_core.plugin import LiveRun

__all__ = ["GluonCallbacks", "ModuleCallbacks"]


class _Guard:
    """Turns failures inside callbacks into one warning per kind, noted in the facts."""

    def __init__(self, run: LiveRun, facts: FitFacts | None = None) -> None:
        self._run = run
        self._warned: set[str] = set()
        self.facts = facts

    def failed(self, what: str, exc: BaseException) -> None:
        if what in self._warned:
            return
        self._warned.add(what)
        message = f"{what} was not recorded: {type(exc).__name__}: {exc}"
        if self.facts is not None:
            self.facts.failures.append(message)
        warnings.warn(f"mltrack: training run {self._run.id}: {message}", TrackingWarning, stacklevel=3)


def _check_frequent(frequent: int) -> None:
    if isinstance(frequent, bool) or not isinstance(frequent, int) or frequent < 1:
        raise SchemaError(f"frequent must be a positive int (log every n-th batch), got {frequent!r}")


class ModuleCallbacks:
    """Callbacks for ``Module.fit``, offered by the live run of a module.

    Use all three, as in the paper's Figure 3::

        run = tracker.track_training(mod)
        mod.fit(train_iter, eval_data=val_iter, num_epoch=10,
                batch_end_callback=run.batch_callback(),
                epoch_end_callback=run.epoch_callback(),
                eval_end_callback=run.eval_callback())
        model = tracker.track_model(mod, trained_on=train)   # also finishes the run
    """

    def __init__(self, run: LiveRun, module: Any) -> None:
        self._run = run
        self._module = module
        self._facts = facts_of(module)
        self._guard = _Guard(run, self._facts)
        self._step = 0

    def batch_callback(self, frequent: int = 1) -> Callable[[Any], None]:
        """A ``batch_end_callback``: training metrics every ``frequent`` batches and per epoch.

        On the first batch of each epoch it also notes the fit's settings: the
        initializer, the number of epochs, the data shapes (so the batch size),
        the metric and the kvstore.
        """
        _check_frequent(frequent)
        log = self._run.log
        guard = self._guard

        def batch_end(param: Any) -> None:
            try:
                step = self._step
                self._step = step + 1
                fit_locals = param.locals
                if param.nbatch == 0 and fit_locals is not None:
                    self._note_fit_settings(fit_locals)
                if param.nbatch % frequent == 0:
                    for name, value in param.eval_metric.get_global_name_value():
                        log(f"train-{name}", value, param.epoch, step)
                if fit_locals is not None and fit_locals.get("end_of_batch"):
                    for name, value in fit_locals["eval_name_vals"]:  # exactly what fit logs for the epoch
                        log(f"train-{name}", value, param.epoch)
            except Exception as exc:  # noqa: BLE001  (the failure policy: never break the training loop)
                guard.failed("training metrics", exc)

        return batch_end

    def epoch_callback(self) -> Callable[..., None]:
        """An ``epoch_end_callback``: the learning rate at the end of each epoch, and the epochs done."""
        guard = self._guard

        def epoch_end(epoch: int, symbol: Any = None, arg_params: Any = None, aux_params: Any = None) -> None:
            try:
                self._facts.epochs_completed = epoch + 1
                optimizer = getattr(self._module, "_optimizer", None)
                if optimizer is not None:
                    self._run.log("learning-rate", optimizer.learning_rate, epoch)
            except Exception as exc:  # noqa: BLE001  (as above)
                guard.failed("the learning rate", exc)

        return epoch_end

    def eval_callback(self) -> Callable[[Any], None]:
        """An ``eval_end_callback``: the validation metrics of each epoch."""
        log = self._run.log
        guard = self._guard

        def eval_end(param: Any) -> None:
            try:
                for name, value in param.eval_metric.get_name_value():
                    log(f"validation-{name}", value, param.epoch)
            except Exception as exc:  # noqa: BLE001  (as above)
                guard.failed("validation metrics", exc)

        return eval_end

    def fields_at_end(self) -> dict[str, Any]:
        """The fit's settings as the run's hyperparameters; the live run calls this when it ends."""
        try:
            from mltrack_mxnet.extract import network_of, training_parameters

            parameters = training_parameters(network_of(self._module), [])
        except Exception as exc:  # noqa: BLE001  (as above: the run still ends)
            self._guard.failed("the fit settings", exc)
            return {}
        return {"hyperparameters": parameters} if parameters else {}

    def _note_fit_settings(self, fit_locals: dict[str, Any]) -> None:
        if "train_data" not in fit_locals or "num_epoch" not in fit_locals:
            return  # called by score() or a loop of the user's own: no fit settings to note
        facts = self._facts
        facts.initializer = fit_locals.get("initializer")
        facts.epochs = fit_locals["num_epoch"]
        facts.begin_epoch = fit_locals.get("begin_epoch") or 0
        provided = fit_locals["train_data"].provide_data
        facts.input_shapes = {desc.name: tuple(desc.shape) for desc in provided}
        layout = getattr(provided[0], "layout", None) if provided else None
        facts.batch_axis = layout.index("N") if isinstance(layout, str) and "N" in layout else 0
        metric = fit_locals.get("eval_metric")
        if metric is not None:
            facts.eval_metrics = tuple(name for name, _ in metric.get_name_value())
        kvstore = fit_locals.get("kvstore")
        facts.kvstore = kvstore if isinstance(kvstore, str) or kvstore is None else kvstore.type  # "device", "local"


class GluonCallbacks:
    """Helpers for Gluon training, offered by the live run of an estimator, block or trainer.

    With the Gluon estimator::

        run = tracker.track_training(estimator)
        estimator.fit(train_loader, val_data=val_loader, epochs=10, event_handlers=[run.event_handler()])
        model = tracker.track_model(estimator, trained_on=train)   # also finishes the run
    """

    def __init__(self, run: LiveRun, network: Any = None, *, settings_at_end: bool = False) -> None:
        self._run = run
        self._guard = _Guard(run, facts_of(network) if network is not None else None)
        self._network = network if settings_at_end else None
        self._step = 0
        self._epoch = 0
        self._batch = 0

    def fields_at_end(self) -> dict[str, Any]:
        """A network's training settings as the run's hyperparameters, for a run started without them.

        The live run calls this when it ends (a run started for a block: its
        optimizer, initializer, epochs, batch size as the training facts know them).
        """
        if self._network is None:
            return {}
        try:
            from mltrack_mxnet.extract import network_of, training_parameters

            parameters = training_parameters(network_of(self._network), [])
        except Exception as exc:  # noqa: BLE001  (as above: the run still ends)
            self._guard.failed("the training settings", exc)
            return {}
        return {"hyperparameters": parameters} if parameters else {}

    def event_handler(self, frequent: int = 1) -> Any:
        """An event handler for ``Estimator.fit(event_handlers=[...])``.

        It logs the training metrics every ``frequent`` batches and per epoch,
        the validation metrics and the learning rate per epoch, and notes the
        trainer, the input shapes (from the first batch) and the number of epochs.
        """
        _check_frequent(frequent)
        from mltrack_mxnet.estimator import make_event_handler

        return make_event_handler(self, frequent)

    # ------------------------------------------------------------ called by the event handler (private: the
    # live run offers this object's public attributes as its own)

    def _train_begin(self, estimator: Any) -> None:
        try:
            facts = facts_of(estimator.net)
            self._guard.facts = facts
            facts.trainer = estimator.trainer
            facts.epochs = estimator.max_epoch
            facts.loss = type(estimator.loss).__name__
            facts.eval_metrics = tuple(_base_name(name) for name, _ in _name_values(estimator.train_metrics))
            self._epoch = 0
        except Exception as exc:  # noqa: BLE001  (as above)
            self._guard.failed("the training settings", exc)

    def _epoch_begin(self, estimator: Any) -> None:
        self._batch = 0

    def _batch_end(self, estimator: Any, batch: Any, frequent: int) -> None:
        try:
            step = self._step
            self._step = step + 1
            facts = self._guard.facts
            if facts is not None and facts.input_shapes is None and batch is not None:
                facts.input_shapes = {"data": tuple(batch[0].shape)}
            if self._batch % frequent == 0:
                for name, value in _name_values(estimator.train_metrics):
                    self._run.log(_metric_name(name, "train"), value, self._epoch, step)
            self._batch += 1
        except Exception as exc:  # noqa: BLE001  (as above)
            self._guard.failed("training metrics", exc)

    def _epoch_end(self, estimator: Any) -> None:
        try:
            epoch = self._epoch
            self._epoch = epoch + 1
            if self._guard.facts is not None:
                self._guard.facts.epochs_completed = self._epoch
            for name, value in _name_values(estimator.train_metrics):
                self._run.log(_metric_name(name, "train"), value, epoch)
            for name, value in _name_values(estimator.val_metrics):
                if not math.isnan(value):  # NaN: no validation data this epoch
                    self._run.log(_metric_name(name, "validation"), value, epoch)
            self._run.log("learning-rate", estimator.trainer.learning_rate, epoch)
        except Exception as exc:  # noqa: BLE001  (as above)
            self._guard.failed("epoch metrics", exc)


def _name_values(metrics: Any) -> list[tuple[str, float]]:
    return [pair for metric in metrics for pair in metric.get_name_value()]


def _metric_name(name: str, stage: str) -> str:
    """The estimator names metrics "training accuracy" / "validation accuracy"; use Module's scheme."""
    return f"{stage}-{_base_name(name).replace(' ', '-')}"


def _base_name(name: str) -> str:
    for prefix in ("training ", "validation "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
