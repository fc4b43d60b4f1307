"""Automatic tracking of MXNet: ``Module.fit`` and Gluon training loops, with no added line.

:func:`autolog` (``mltrack run``, ``mltrack_core.autolog()``) patches MXNet
once the program imports it (at once if it is already imported); MXNet is
never imported for the program.

``Module.fit`` (``mx.mod.BaseModule.fit`` called on an ``mx.mod.Module``) is
recorded exactly as the one-line form records it: the training data described
as a dataset, a live run whose callbacks (:class:`~mltrack_mxnet.callbacks.ModuleCallbacks`)
are added after the program's own ``batch_end_callback``, ``epoch_end_callback``
and ``eval_end_callback``, then the fitted module as the model (layout with
shapes, optimizer, initializer, epochs, batch size, kvstore type, environment),
which finishes the run; an exception of ``fit`` marks the run FAILED and
reaches the caller unchanged.

A Gluon training loop (``for data, label in loader: with autograd.record(): ...;
loss.backward(); trainer.step(batch_size); metric.update(...)``) becomes a run
at the first ``Trainer.step`` (or ``update``) of each trainer:

* its network is the Block called at top level (not from another Block) whose
  parameters include the trainer's; its input shapes are those of the call
  just before the first step, its initializer the one its parameters were
  initialized with, its loss the ``gluon.loss.Loss`` called at top level;
* ``train-loss`` points, per step and per epoch, are the mean of the arrays
  passed to ``backward`` (``loss.backward()``, ``autograd.backward``). Reading
  an array waits for MXNet's queue of computations to drain, so the arrays
  are kept and read every 16 steps, all but the newest (computed by then), and
  when the epoch ends;
* an ``EvalMetric.get()`` of the program logs what it returned:
  ``train-<metric>`` when the data came from the training loader (or, with no
  ``DataLoader``, when the last forward pass was recorded by autograd),
  ``validation-<metric>`` otherwise; within an epoch with the step, after it as
  the epoch's value;
* epochs are the passes over the training ``gluon.data.DataLoader`` (the one
  being iterated at the first step) in which the trainer stepped; with no
  ``DataLoader``, points carry steps only. ``learning-rate`` is logged per epoch;
* the loop ends when the process exits, when another trainer's loop has run
  two steps without this one stepping in between (a new experiment; two
  trainers stepping in turn, as in a GAN, are two runs), or when automatic
  tracking is turned off (or :func:`end_gluon_loops` is called: in a notebook,
  whose process lives on). Then the network is recorded as the model trained on
  the loader's data, and the run ends with the hyperparameters: the optimizer
  as it trained (``rescale_grad`` = the trainer's scale / batch size), the
  initializer, epochs, batch size, loss, kvstore type. The run is FAILED when
  an uncaught exception ends the program.

Recording never changes what MXNet computes and never breaks the program: a
failure to record is one :class:`~mltrack_core.TrackingWarning`. A loop that is
tracked explicitly (a live run open for its module, network or trainer) is
left to that run. Costs, per step of a Gluon loop: about 5 µs, and on average
35 µs more for the loss reads (on a shared 2-core machine; the loop's ratio:
``benchmarks/mxnet_bench.py --only gluon``); per Block call, well under a microsecond. Blocks called from two threads at
once may hide each other's top-level calls.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import logging
import math
import os
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from mltrack_core.plugin import (
    AutologSettings,
    Dataset,
    LiveRun,
    MissingPluginError,
    Parameter,
    Patches,
    TopLevelCalls,
    Tracker,
    TrackingWarning,
    when_imported,
)

__all__ = ["autolog", "current_tracker", "end_gluon_loops", "open_gluon_runs"]

_log = logging.getLogger("mltrack.mxnet")

MAX_KEPT_LOSSES = 64
"""Most loss arrays kept between two steps (gradient accumulation); older ones are dropped."""
READ_LOSSES_EVERY = 16
"""Steps between two reads of the loss arrays kept since the last read (each read waits for MXNet's queue)."""

# ---------------------------------------------------------------- the guard

_enabled = False  # the patches are on
_skip = True  # not _enabled or a recorded Module.fit running: what every patched call reads first


def _refresh_skip() -> None:
    global _skip
    _skip = _calls.running or not _enabled


_calls = TopLevelCalls(on_change=_refresh_skip)

# ---------------------------------------------------------------- turning on and off

_settings = AutologSettings("MXNet")
_patches = Patches()
_warned: set[str] = set()


def autolog(*, tracker: Tracker | None = None, disable: bool = False) -> None:
    """Record every top-level ``Module.fit`` and every Gluon training loop, with no other line.

    Patches MXNet once the program imports it (at once when it is already
    imported), see the module documentation. Calling it again while on only
    changes the tracker; ``autolog(disable=True)`` records the Gluon loops still
    open and restores every patched attribute.

    Args:
        tracker: where to record; default :func:`mltrack_core.get_tracker` at the time of each record.
        disable: turn automatic tracking off, restoring MXNet as it was.

    Raises:
        SchemaError: ``tracker`` is not a :class:`mltrack_core.Tracker`.
    """
    if disable:
        with _settings.lock:
            _remove_patches()  # first: loops still open end into the tracker they recorded into
            _settings.turn_off()
        return
    _settings.turn_on(tracker)
    when_imported("mxnet", _patch_mxnet)


current_tracker = _settings.current_tracker


def open_gluon_runs() -> list[LiveRun]:
    """The live runs of the Gluon training loops being recorded now."""
    return [loop.run for loop in list(_gluon.loops) if loop.run is not None]


def end_gluon_loops() -> list[str]:
    """End the Gluon training loops being recorded now, as the process's exit would; return their runs' ids.

    Each network is recorded as its model and each run ends FINISHED with its
    hyperparameters. For a notebook, whose process lives on after training:
    otherwise a loop ends when another trainer's loop starts, or at exit.
    """
    ended = []
    for loop in list(_gluon.loops):
        if loop.run is not None:
            ended.append(loop.run.id)
        loop.end(None)
    return ended


def _patch_mxnet(module: ModuleType) -> None:
    """Install the patches (called once MXNet is imported); the version check first."""
    global _enabled
    from mltrack_mxnet.framework import require_mxnet

    mx = require_mxnet()  # MXNet is imported: only its version is checked
    del module
    with _settings.lock:
        if not _settings.wanted or _enabled:
            return
        gluon = mx.gluon
        _install(mx.module.BaseModule, "fit", _module_fit_wrapper)
        for name in ("step", "update"):
            _install(gluon.Trainer, name, _trainer_step_wrapper)
        _install(gluon.Block, "__call__", _block_call_wrapper)
        _install(gluon.ParameterDict, "initialize", _initialize_wrapper)
        _install(gluon.data.DataLoader, "__iter__", _loader_iter_wrapper)
        _install(mx.nd.NDArray, "backward", _array_backward_wrapper)
        _install(mx.autograd, "backward", _autograd_backward_wrapper)
        _install(mx.autograd, "set_recording", _set_recording_wrapper)
        for metric_class in _classes_defining(mx.metric.EvalMetric, "get"):
            _install(metric_class, "get", _metric_get_wrapper)
        _gluon.recording = bool(mx.autograd.is_recording())
        with _calls.lock:
            _enabled = True
            _refresh_skip()


def _install(owner: Any, name: str, make_wrapper: Callable[[Any], Any]) -> None:
    _patches.install(owner, name, make_wrapper(vars(owner)[name]))


def _classes_defining(root: type, name: str) -> list[type]:
    found, stack, seen = [], [root], {root}
    while stack:
        cls = stack.pop()
        if name in vars(cls):
            found.append(cls)
        for child in type.__subclasses__(cls):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return found


def _remove_patches() -> None:
    global _enabled
    with _calls.lock:
        _enabled = False
        _refresh_skip()
    forked = any(loop.pid != os.getpid() for loop in _gluon.loops)
    for loop in list(_gluon.loops):
        if forked:  # a forked child turns tracking off: the parent records its loops, the child must not write
            loop.forget()
        else:
            loop.end(None)
    _patches.restore()
    _gluon.reset()


def _warn_once(key: str, message: str) -> None:
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(f"mltrack: {message}", TrackingWarning, stacklevel=3)


def _warn(what: str, exc: BaseException) -> None:
    """A failure of a recording step: one warning per kind (the program goes on, untracked where it failed)."""
    _warn_once(f"{what}:{type(exc).__name__}", f"{what} was not recorded: {type(exc).__name__}: {exc}")


def _tracked_explicitly(tracker: Tracker, *subjects: Any) -> bool:
    """Whether a live run the program started itself is open for one of ``subjects``."""
    ours = {id(loop.run) for loop in _gluon.loops}
    wanted = [subject for subject in subjects if subject is not None]
    for run in tracker.open_runs():
        subject = run.subject
        if id(run) in ours or subject is None:
            continue
        # an estimator's run covers its network and trainer
        related = (subject, getattr(subject, "net", None), getattr(subject, "trainer", None))
        if any(candidate is other for candidate in related for other in wanted if candidate is not None):
            return True
    return False


def _describe_data(tracker: Tracker, data: Any, fallback_name: str) -> Dataset:
    """The training data as a dataset: what the MXNet plugin describes, else a dataset named after it."""
    if data is not None:
        try:
            return tracker.track_dataset(data)
        except MissingPluginError as exc:
            _log.debug("the training data is recorded by its name only: %s", exc)
        except Exception as exc:  # noqa: BLE001 - the data cannot be described: the run and model still are
            _warn(f"the description of the training data ({type(data).__name__})", exc)
        fallback_name = f"{type(data).__name__} data"
    return tracker.track_dataset(name=fallback_name)


# ---------------------------------------------------------------- Module.fit

_CALLBACK_MAKERS = {
    "batch_end_callback": "batch_callback",
    "epoch_end_callback": "epoch_callback",
    "eval_end_callback": "eval_callback",
}


def _module_fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _skip:
            return original(self, *args, **kwargs)
        with _calls.enter() as top:
            if not top:
                return original(self, *args, **kwargs)
            recording = _ModuleFit.begin(self, signature, args, kwargs)
            if recording is None:
                return original(self, *args, **kwargs)
            try:
                result = original(*recording.arguments.args, **recording.arguments.kwargs)
            except BaseException as exc:
                recording.failed(exc)
                raise
            recording.finished()
            return result

    return fit


class _ModuleFit:
    """One recorded ``Module.fit``: the dataset and the run before, the model after. Never raises."""

    def __init__(self, tracker: Tracker, module: Any, dataset: Dataset, run: LiveRun, arguments: Any) -> None:
        self.tracker = tracker
        self.module = module
        self.dataset = dataset
        self.run = run
        self.arguments = arguments

    @classmethod
    def begin(cls, module: Any, signature: inspect.Signature, args: tuple, kwargs: dict) -> _ModuleFit | None:
        import mxnet as mx

        if not isinstance(module, mx.mod.Module):
            kind = type(module).__name__
            _warn_once(f"module:{kind}", f"{kind}.fit is not recorded automatically (mx.mod.Module.fit is)")
            return None
        tracker = current_tracker()
        if tracker is None or _tracked_explicitly(tracker, module):
            return None
        try:
            arguments = signature.bind(module, *args, **kwargs)
        except TypeError:
            return None  # fit raises the same error itself
        dataset = run = None
        with tracker.defer_writes():
            with tracker.implicit("the training data of Module.fit"):
                train_data = arguments.arguments.get("train_data")
                dataset = _describe_data(tracker, train_data, "Module.fit training data")
            if dataset is not None:
                with tracker.implicit("the training run of Module.fit"):
                    run = tracker.track_training(module, trained_on=dataset)
        if dataset is None or run is None:
            return None
        for argument, maker in _CALLBACK_MAKERS.items():
            ours = getattr(run, maker)()
            theirs = arguments.arguments.get(argument)
            if theirs is None:
                arguments.arguments[argument] = ours
            elif isinstance(theirs, list):
                arguments.arguments[argument] = [*theirs, ours]
            elif callable(theirs):
                arguments.arguments[argument] = [theirs, ours]
            # anything else is passed on as it is: fit treats it as the program's code says
        return cls(tracker, module, dataset, run, arguments)

    def failed(self, exc: BaseException) -> None:
        with self.tracker.defer_writes(), self.tracker.implicit(f"the failure of training run {self.run.id}"):
            self.run.fail(exc)

    def finished(self) -> None:
        tracker = self.tracker
        with tracker.defer_writes():
            with tracker.implicit("the model of Module.fit"):
                tracker.track_model(self.module, trained_on=self.dataset)  # finishes the run
            if not self.run.ended:
                with tracker.implicit(f"the end of training run {self.run.id}"):
                    self.run.finish()


# ---------------------------------------------------------------- Gluon: what the patches observe


class _GluonState:
    """What the patched Gluon calls noted, process-wide (one training loop at a time steps, in one thread)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.depth = 0  # 1 while a top-level Block call (or mltrack's own recording) runs
        self.recording = False  # autograd's recording state, as set through autograd.set_recording
        self.last_forward_recorded = False  # whether the last top-level Block call was recorded by autograd
        self.losses: list[Any] = []  # arrays passed to backward since the last step
        self.latest_pass: _Pass | None = None  # the DataLoader pass started last
        self.clock = 0  # steps of every trainer
        self.loops: list[_Loop] = []  # open loops, oldest first
        self.top_blocks: list[weakref.ref] = []  # Blocks called at top level, in order of their first call
        self.in_get = False


_gluon = _GluonState()

_SEEN = "_mltrack_autolog_seen"  # on a Block: called at top level before (_CANDIDATE or _SETTLED)
_LAST_ARGS = "_mltrack_autolog_last_args"  # on a candidate Block: the arguments of its last training forward pass
_LOOP = "_mltrack_autolog_loop"  # on a Trainer: its loop
_INITIALIZER = "_mltrack_autolog_initializer"  # on a Parameter: what ParameterDict.initialize was given
_CANDIDATE = 1  # may become a loop's network: its arguments are kept
_SETTLED = 2  # a loop's network, or a block without parameters (a loss): nothing more to keep


def _block_call_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def __call__(self: Any, *args: Any) -> Any:
        state = _gluon
        if _skip or state.depth:
            return original(self, *args)
        state.depth = 1
        try:
            output = original(self, *args)
        finally:
            state.depth = 0
        state.last_forward_recorded = state.recording
        seen = self.__dict__.get(_SEEN)
        if seen is None:
            _first_top_level_call(self)
            seen = _CANDIDATE
        if seen == _CANDIDATE and state.recording:
            self.__dict__[_LAST_ARGS] = args  # a training batch: its shapes are read if the block becomes a network
        return output

    return __call__


def _first_top_level_call(block: Any) -> None:
    block.__dict__[_SEEN] = _CANDIDATE
    blocks = _gluon.top_blocks
    blocks[:] = [reference for reference in blocks if reference() is not None]
    blocks.append(weakref.ref(block))


def _initialize_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def initialize(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if not _skip:
            try:
                init = inspect.signature(original).bind(self, *args, **kwargs)
                init.apply_defaults()
                chosen = init.arguments["init"]
                for parameter in self.values():
                    parameter.__dict__[_INITIALIZER] = chosen
            except Exception as exc:  # noqa: BLE001 - the failure policy: never break the program
                _warn("the initializer", exc)
        return result

    return initialize


def _set_recording_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def set_recording(is_recording: Any) -> Any:
        previous = original(is_recording)
        _gluon.recording = bool(is_recording)
        return previous

    return set_recording


def _array_backward_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def backward(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if not _skip:
            _keep_loss(self)
        return result

    return backward


def _autograd_backward_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def backward(heads: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(heads, *args, **kwargs)
        if not _skip:
            for head in heads if isinstance(heads, (list, tuple)) else (heads,):
                _keep_loss(head)
        return result

    return backward


def _keep_loss(array: Any) -> None:
    losses = _gluon.losses
    losses.append(array)
    if len(losses) > MAX_KEPT_LOSSES:
        del losses[0]


class _Pass:
    """One pass over a ``gluon.data.DataLoader``."""

    __slots__ = ("active", "loader", "loop")

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.active = True
        self.loop: _Loop | None = None  # the loop that stepped during this pass: it is an epoch of that loop


def _loader_iter_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def __iter__(self: Any) -> Any:
        iterator = original(self)
        if _skip:
            return iterator
        return _watched_pass(self, iterator)

    return __iter__


def _watched_pass(loader: Any, iterator: Iterator[Any]) -> Iterator[Any]:
    current = _Pass(loader)
    _gluon.latest_pass = current
    try:
        yield from iterator
    finally:
        current.active = False
        if current.loop is not None:
            current.loop.epoch_ended()


def _metric_get_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get(self: Any) -> Any:
        state = _gluon
        if _skip or not state.loops or state.in_get:
            return original(self)
        state.in_get = True  # a composite metric's get calls its children's
        try:
            result = original(self)
        finally:
            state.in_get = False
        _metric_read(self, result)
        return result

    return get


def _trainer_step_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def step(self: Any, batch_size: Any, *args: Any, **kwargs: Any) -> Any:
        if _skip:
            return original(self, batch_size, *args, **kwargs)
        loop = self.__dict__.get(_LOOP)
        if loop is None or loop.ended:
            loop = _Loop.start(self)
        if loop.off:
            return original(self, batch_size, *args, **kwargs)
        result = original(self, batch_size, *args, **kwargs)
        loop.stepped(batch_size)
        return result

    return step


# ---------------------------------------------------------------- Gluon: one training loop


class _Loop:
    """The training loop of one trainer: its run, epochs, loss and metric points, and its end."""

    def __init__(self, trainer: Any, *, off: bool = False) -> None:
        self.trainer = trainer
        self.off = off  # not recorded (no store, or tracked explicitly): steps pass straight through
        self.ended = off
        self.pid = os.getpid()
        self.tracker: Tracker | None = None
        self.run: LiveRun | None = None
        self.network: Any = None
        self.dataset: Dataset | None = None
        self.loader: Any = None  # the DataLoader of the training data, when there is one
        self.facts: Any = None
        self.steps = 0
        self.first_clock = 0
        self.last_clock = 0
        self.first_batch_size: int | None = None
        self.epoch: int | None = None  # the epoch of the current (or last) training pass
        self.epochs = 0  # training passes with steps so far
        self.pending: list[tuple[list[Any], int, int | None]] = []  # (loss arrays, step, epoch) not read yet
        self.epoch_loss: dict[int | None, list[float]] = {}  # epoch -> [sum, count] of the loss values read
        self.last_logged: dict[str, tuple[int | None, int | None, float]] = {}  # metric -> (epoch, step, value)
        self.train_metrics: list[str] = []
        self.failures: list[str] = []

    # ------------------------------------------------------------ start

    @classmethod
    def start(cls, trainer: Any) -> _Loop:
        """The loop of ``trainer``, at its first step; an ``off`` loop when it is not to be recorded."""
        tracker = current_tracker()
        if tracker is None:
            return cls._attach(cls(trainer, off=True))
        loop = cls(trainer)
        _gluon.depth = 1  # mltrack's own Block calls (building a symbol) are not the program's
        try:
            loop._begin(tracker)
        except Exception as exc:  # noqa: BLE001 - the failure policy: never break the training loop
            _warn("a Gluon training loop", exc)
            loop.off = loop.ended = True
        finally:
            _gluon.depth = 0
        return cls._attach(loop)

    @staticmethod
    def _attach(loop: _Loop) -> _Loop:
        loop.trainer.__dict__[_LOOP] = loop
        return loop

    def _begin(self, tracker: Tracker) -> None:
        from mltrack_mxnet.parameters import facts_of

        trainer = self.trainer
        network = _network_of(trainer)
        if _tracked_explicitly(tracker, trainer, network):
            self.off = self.ended = True
            return
        current = _gluon.latest_pass
        self.loader = current.loader if current is not None and current.active else None
        self.network = network
        self.facts = facts_of(network) if network is not None else _standalone_facts()
        _note_facts(self.facts, trainer, network)
        self.tracker = tracker
        kind = type(network).__name__ if network is not None else type(trainer.optimizer).__name__
        with tracker.defer_writes():
            with tracker.implicit(f"the training data of a {kind} training loop"):
                self.dataset = _describe_data(tracker, self.loader, f"{kind} training data")
            with tracker.implicit(f"the training run of a {kind} training loop"):
                self.run = tracker.track_training(
                    trainer,
                    name=f"{kind} training",
                    trained_on=self.dataset,
                    hyperparameters=(),  # known when the loop ends (the optimizer's state, the epochs)
                    annotations={"mxnet.kind": kind, "mltrack.recorded_by": "autolog"},
                )
        if self.run is None:
            self.off = self.ended = True
            return
        _gluon.loops.append(self)
        # After the tracker's own exit handler was registered (its first live run): ours runs first.
        atexit.unregister(_end_loops_at_exit)
        atexit.register(_end_loops_at_exit)

    # ------------------------------------------------------------ while training (cheap: one per step)

    def stepped(self, batch_size: Any) -> None:
        """The trainer made a step: count it, place it in its epoch, keep the loss, read the losses kept."""
        try:
            state = _gluon
            state.clock += 1
            self.last_clock = state.clock
            self.steps += 1
            if self.steps == 1:
                self.first_clock = state.clock
                self.first_batch_size = batch_size if isinstance(batch_size, int) else None
            current = state.latest_pass
            if current is not None and current.active and current.loop is None and current.loader is self.loader:
                current.loop = self  # this pass is an epoch of this loop
                self.epoch = self.epochs
                self.epochs += 1
            losses = state.losses
            if losses:
                state.losses = []
                self.pending.append((losses, self.steps - 1, self.epoch))
                if len(self.pending) > READ_LOSSES_EVERY:
                    self._read_losses(keep_last=True)
            if len(state.loops) > 1 and self.steps == 2:
                for other in list(state.loops):
                    if other is not self and other.last_clock < self.first_clock:
                        other.end(None)  # idle since this loop started: a finished experiment
        except Exception as exc:  # noqa: BLE001 - the failure policy: never break the training loop
            _warn("a training step", exc)

    def _read_losses(self, keep_last: bool) -> None:
        pending = self.pending
        self.pending = pending[-1:] if keep_last else []
        for arrays, step, epoch in pending[:-1] if keep_last else pending:
            try:
                total = count = 0.0
                for array in arrays:
                    values = array.asnumpy()
                    total += float(values.sum())
                    count += values.size
                if count:
                    self._log("train-loss", total / count, epoch, step)
                    sums = self.epoch_loss.setdefault(epoch, [0.0, 0.0])
                    sums[0] += total
                    sums[1] += count
            except Exception as exc:  # noqa: BLE001 - as above
                _warn("the training loss", exc)

    def _log(self, metric: str, value: float, epoch: int | None, step: int | None) -> None:
        point = (epoch, step, value)
        if self.run is None or math.isnan(value) or self.last_logged.get(metric) == point:
            return  # no run, no value (a metric without updates), or the program read the same value again
        self.last_logged[metric] = point
        self.run.log(metric, value, epoch, step)

    def epoch_ended(self) -> None:
        """The training loader's pass with steps of this loop ended: the epoch's loss and learning rate."""
        if self.ended:
            return
        try:
            self._read_losses(keep_last=False)
            sums = self.epoch_loss.pop(self.epoch, None)
            if sums is not None and sums[1]:
                self._log("train-loss", sums[0] / sums[1], self.epoch, None)
            self._log("learning-rate", float(self.trainer.learning_rate), self.epoch, None)
        except Exception as exc:  # noqa: BLE001 - as above
            _warn("the epoch's training loss", exc)

    def metric_read(self, metric: Any, result: Any) -> None:
        """The program read ``metric``: log what it got, as a training or a validation value."""
        current = _gluon.latest_pass
        if current is not None and self.loader is not None:
            train = current.loader is self.loader
            step = self.steps - 1 if train and current.active and current.loop is self else None
        else:  # no DataLoader: the data was training data when the last forward pass was recorded by autograd
            train = _gluon.last_forward_recorded
            step = self.steps - 1
        for name, value in _name_values(result):
            stage = _STAGE_PREFIXES.get(str(name).partition(" ")[0], "train" if train else "validation")
            metric_name = f"{stage}-{_base_name(str(name)).replace(' ', '-')}"
            if stage == "train" and metric_name not in self.train_metrics:
                self.train_metrics.append(metric_name)
            with_step = stage == "train" or self.loader is None  # with no epochs, steps place every point
            self._log(metric_name, float(value), self.epoch, step if with_step else None)

    # ------------------------------------------------------------ end

    def end(self, failure: BaseException | None) -> None:
        """Record the network as the model and end the run (FAILED with ``failure``); never raises."""
        if self.ended:
            return
        self.ended = True
        with contextlib.suppress(ValueError):
            _gluon.loops.remove(self)
        tracker, run = self.tracker, self.run
        if tracker is None or run is None:
            return
        previous_depth, _gluon.depth = _gluon.depth, 1
        try:
            self._read_losses(keep_last=False)  # the steps' points; an epoch cut short has no epoch value
            self._record(tracker, run, failure)
        except Exception as exc:  # noqa: BLE001 - as above
            _warn("the end of a Gluon training loop", exc)
        finally:
            _gluon.depth = previous_depth
            self._forget_objects()

    def _record(self, tracker: Tracker, run: LiveRun, failure: BaseException | None) -> None:
        facts = self.facts
        if self.loader is not None and self.epochs:
            facts.epochs = self.epochs
        if self.train_metrics:
            facts.eval_metrics = tuple(name.removeprefix("train-") for name in self.train_metrics)
        with tracker.defer_writes():
            model = None
            if failure is None and self.network is not None and self.dataset is not None:
                with tracker.implicit(f"the model of the {type(self.network).__name__} training loop"):
                    model = tracker.track_model(self.network, trained_on=self.dataset)
            fields: dict[str, Any] = {}
            with tracker.implicit(f"the hyperparameters of training run {run.id}"):
                fields["hyperparameters"] = self._hyperparameters()
            with tracker.implicit(f"the end of training run {run.id}"):
                if run.ended:  # ended by the program itself
                    return
                if failure is not None:
                    run.fail(failure, **fields)
                else:
                    run.finish(model, **fields)

    def _hyperparameters(self) -> list[Parameter]:
        from mltrack_mxnet.extract import Network, network_of, training_parameters

        network = None
        if self.network is not None:
            try:
                network = network_of(self.network)
            except Exception as exc:  # noqa: BLE001 - a network the model extraction cannot read: its settings still
                _log.debug("the run's settings are read without the network: %s", exc)
        if network is None:
            optimizer = self.trainer.optimizer
            network = Network(
                kind=type(self.network).__name__,
                default_name=type(self.network).__name__,
                symbol=None,
                data_names=(),
                input_names=(),
                input_shapes=self.facts.input_shapes,
                input_types={},
                known_shapes={},
                optimizer=optimizer,
                trainer=self.trainer,
                context=None,
                facts=self.facts,
                trained=self.network,
                is_module=False,
            )
        parameters = training_parameters(network, self.failures)
        if self.first_batch_size is not None and not any(p.name == "batch_size" for p in parameters):
            parameters.append(Parameter.of("batch_size", self.first_batch_size))
        if self.facts.epochs is None:  # no DataLoader passes to count: the steps say how long it trained
            parameters.append(Parameter.of("steps", self.steps))
        return parameters

    def forget(self) -> None:
        """Drop the loop without recording anything (a forked child)."""
        self.ended = True
        with contextlib.suppress(ValueError):
            _gluon.loops.remove(self)
        self._forget_objects()

    def _forget_objects(self) -> None:
        self.pending = []
        self.loader = self.network = self.dataset = None  # the trainer refers to this loop: keep nothing else alive


def _metric_read(metric: Any, result: Any) -> None:
    loops = _gluon.loops
    if not loops:
        return
    loop = max(loops, key=lambda open_loop: open_loop.last_clock)
    try:
        loop.metric_read(metric, result)
    except Exception as exc:  # noqa: BLE001 - the failure policy
        _warn("a metric value", exc)


def _end_loops_at_exit() -> None:
    uncaught = getattr(sys, "last_value", None)
    for loop in list(_gluon.loops):
        if loop.pid == os.getpid():
            loop.end(uncaught)


# ---------------------------------------------------------------- Gluon: the network, its facts


def _network_of(trainer: Any) -> Any:
    """The Block called at top level that holds every parameter of ``trainer`` (the one with most parameters)."""
    trained = {id(parameter) for parameter in trainer._params}  # MXNet offers no public accessor
    best, best_size = None, 0
    for reference in list(_gluon.top_blocks):
        block = reference()
        if block is None:
            continue
        owned = {id(parameter) for parameter in block.collect_params().values()}
        if not owned:
            block.__dict__[_SEEN] = _SETTLED  # a loss: nothing to remember
            block.__dict__.pop(_LAST_ARGS, None)
            continue
        if trained <= owned and len(owned) > best_size:
            best, best_size = block, len(owned)
    if best is not None:
        best.__dict__[_SEEN] = _SETTLED
    return best


def _standalone_facts() -> Any:
    from mltrack_mxnet.parameters import FitFacts

    return FitFacts()


def _note_facts(facts: Any, trainer: Any, network: Any) -> None:
    """Note what the loop knows about how the network is trained; facts the program stated itself stay."""
    import mxnet as mx

    facts.trainer = trainer  # this loop's, also when the network was trained before by another trainer
    facts.epochs = facts.epochs_completed = None  # counted by this loop
    kvstore = trainer._kvstore_params.get("kvstore")  # MXNet offers no public accessor
    facts.kvstore = kvstore if isinstance(kvstore, str) or kvstore is None else kvstore.type
    if facts.initializer is None:
        chosen = [parameter.__dict__.get(_INITIALIZER) for parameter in trainer._params]
        first = chosen[0] if chosen else None
        if first is not None and all(initializer is first for initializer in chosen):
            facts.initializer = mx.init.create(first) if isinstance(first, str) else first
    if network is None:
        return
    from mltrack_mxnet.blocks import flat_shapes, input_names, watch_shapes

    arguments = network.__dict__.pop(_LAST_ARGS, None)
    if facts.input_shapes is None and arguments:
        shapes = flat_shapes(_arrays(arguments))  # the forward pass of the first step's batch
        if shapes:
            facts.input_shapes = dict(zip(input_names(len(shapes)), shapes, strict=True))
    watch_shapes(network)  # a plain Block's layer output shapes, from the next forward pass
    if facts.loss is None:
        losses = [reference() for reference in _gluon.top_blocks]
        called = [block for block in losses if isinstance(block, mx.gluon.loss.Loss)]
        if called:
            facts.loss = type(called[-1]).__name__


def _arrays(arguments: Any) -> list[Any]:
    import mxnet as mx

    found = []
    for argument in arguments:
        if isinstance(argument, mx.nd.NDArray):
            found.append(argument)
        elif isinstance(argument, (list, tuple)):
            found += _arrays(argument)
    return found


def _name_values(result: Any) -> list[tuple[Any, Any]]:
    names, values = result
    if isinstance(names, (list, tuple)):
        return list(zip(names, values, strict=False))
    return [(names, values)]


_STAGE_PREFIXES = {"training": "train", "validation": "validation"}  # the Gluon estimator's metric names say it


def _base_name(name: str) -> str:
    for prefix in ("training ", "validation "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
