"""Every hook of mltrack, in one place.

Plugins implement these hooks with ``@mltrack_core.hookimpl`` and are found
through the ``mltrack`` entry-point group (see :mod:`mltrack_core.plugin`, the
guide for plugin authors). Five families:

* storage backends: :func:`mltrack_open_store`;
* framework extractors: :func:`mltrack_extract_model`,
  :func:`mltrack_extract_dataset`, :func:`mltrack_extract_training`,
  :func:`mltrack_environment`;
* automatic tracking: :func:`mltrack_autolog`;
* observers of stored metadata: :func:`mltrack_entities_stored`,
  :func:`mltrack_points_appended`, :func:`mltrack_run_ended`;
* the demo: :func:`mltrack_demo`.

pluggy passes arguments by name, so an implementation may accept only the
arguments it needs.

Failure policy. Explicit calls raise on bad input: when a user calls
``tracker.track_model(obj, trained_on=...)`` an exception from an extractor
reaches the user. Implicit tracking never breaks the user's training: inside a
tracked ``fit``, a training callback or the background writer, an extraction
or storage failure becomes a :class:`~mltrack_core.errors.TrackingWarning`
naming what was not recorded, whatever could be extracted is still stored with
the failure noted in its annotations, and the user's call returns normally.
An observer (or an environment hook) that raises is reported once with a
warning and set aside for the rest of the tracker's life; the other observers
still run, in pluggy's order, and observers never make a write fail (sacred's
observer policy). A store that cannot be opened
makes :func:`mltrack_core.connect` raise; a store failing later is reported
by the tracker as described above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from mltrack_core.demo import DemoResult
    from mltrack_core.extraction import Extraction
    from mltrack_core.schema import Dataset, Entity, TrainingRun
    from mltrack_core.store import Point, Store
    from mltrack_core.tracker import Tracker

PROJECT = "mltrack"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- storage backends


@hookspec(firstresult=True)
def mltrack_open_store(uri: str, read_only: bool) -> Store | None:
    """Open the store that ``uri`` names.

    Called by :func:`mltrack_core.connect` only on the plugin whose entry
    point in the ``mltrack`` group is named after the URI's scheme (one entry
    point per scheme, all naming the same module when a backend opens several).

    With ``read_only`` the caller only reads (``mltrack ls``, ``show``, ...):
    the backend must then leave the store exactly as it found it (create
    nothing, migrate nothing) and raise a
    :class:`~mltrack_core.errors.StoreError` when there is no store at ``uri``.
    An implementation may leave the argument out (pluggy passes only the
    arguments a hook implementation names); such a backend is opened as before
    and should then never create or change anything on opening.

    Args:
        uri: the full store URI, for example ``sqlite:////tmp/store.db``.
        read_only: open the store for reading only; writes then raise
            :class:`~mltrack_core.errors.StoreReadOnlyError`.

    Returns:
        an object implementing :class:`mltrack_core.store.Store`.

    Raises:
        StoreError: the store cannot be opened (the message says why and what to do;
            it never shows a password or token of ``uri``).
    """


# ---------------------------------------------------------------- framework extractors


@hookspec(firstresult=True)
def mltrack_extract_model(
    obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool
) -> Extraction | None:
    """Describe a fitted model object of a framework this plugin knows.

    Called by ``tracker.track_model(obj, trained_on=...)`` for objects that are
    not already :class:`~mltrack_core.schema.Model` entities. The first
    non-None result wins.

    Args:
        obj: the user's fitted model (a scikit-learn estimator, a Spark
            ``PipelineModel``, an MXNet module, ...).
        tracker: the tracker that will store the result (for its artifact store).
        trained_on: the stored dataset the model was trained on; the
            returned model's ``trained_on`` must name it.
        name: the name the user asked for, or None to choose one.
        serialize: write the model to ``tracker.artifacts`` and set the
            model's ``location``.

    Returns:
        an :class:`~mltrack_core.extraction.Extraction` whose ``primary``
            is the :class:`~mltrack_core.schema.Model` and whose ``related`` holds
            the entities it refers to (its transforms, derived datasets, ...), all
            stored in one transaction; or None when ``obj`` is not this plugin's.
    """


@hookspec(firstresult=True)
def mltrack_extract_dataset(data: Any, tracker: Tracker, name: str | None, target: Any) -> Extraction | None:
    """Describe in-memory data (a DataFrame, an array, ...) as a dataset.

    Called by ``tracker.track_dataset(data)`` for objects that are not already
    :class:`~mltrack_core.schema.Dataset` entities. The first non-None result wins.
    Computing statistics must stay bounded in cost; the data must not be copied.

    Args:
        data: the user's data.
        tracker: the tracker that will store the result.
        name: the name the user asked for, or None to choose one.
        target: the target (labels) given with the data, or None.

    Returns:
        an :class:`~mltrack_core.extraction.Extraction` whose ``primary``
            is the :class:`~mltrack_core.schema.Dataset`, or None when ``data`` is
            not this plugin's.
    """


@hookspec(firstresult=True)
def mltrack_extract_training(obj: Any, tracker: Tracker) -> Extraction | None:
    """Describe what is known about a training job before it starts.

    Called by ``tracker.track_training(obj)`` when ``obj`` is given. The first
    non-None result wins.

    Args:
        obj: the object about to be trained (an MXNet module, a Gluon trainer, ...).
        tracker: the tracker that will store the run.

    Returns:
        an :class:`~mltrack_core.extraction.Extraction` whose ``primary``
            is a :class:`~mltrack_core.schema.TrainingRun` template (its
            hyperparameters, transforms, environment; the tracker sets id, state and
            times), with the transforms in ``related``; or None when ``obj`` is not
            this plugin's.
    """


@hookspec
def mltrack_environment() -> dict[str, str] | None:
    """Add facts about the computing environment (framework build, devices, ...).

    Called once per tracker when the environment is first captured; every
    implementation's mapping is merged into the environment recorded on models
    and training runs.

    Returns:
        a mapping of keys such as ``"mxnet.features"`` to text, or None.
    """


# ---------------------------------------------------------------- automatic tracking


@hookspec
def mltrack_autolog(tracker: Tracker | None, disable: bool) -> str | None:
    """Turn automatic tracking of this plugin's framework on (or off, with ``disable``).

    Called by :func:`mltrack_core.autolog` (and so by ``mltrack run``, before
    the user's program starts); every implementation runs. An implementation
    never imports its framework: it registers a patching function with
    :func:`mltrack_core.plugin.when_imported`, which runs it once the user's
    program imports the framework, or at once when it is imported already.
    Turning on twice is a no-op; turning off restores every patched object and
    leaves nothing to patch later (a callback registered earlier still runs on
    the framework's import: it checks that tracking is still on). An
    implementation that raises is reported with one
    :class:`~mltrack_core.errors.TrackingWarning` and skipped.

    Args:
        tracker: the tracker to record into, or None to record into
            :func:`mltrack_core.get_tracker` at the time of each record.
        disable: turn automatic tracking off instead, restoring what was patched.

    Returns:
        the framework's name (``"sklearn"``) when this plugin tracks one, for
            the caller's report; else None.
    """


# ---------------------------------------------------------------- observers


@hookspec
def mltrack_entities_stored(tracker: Tracker, entities: Sequence[Entity]) -> None:
    """React to entities that were just written (not to no-op re-writes).

    Called after the write's transaction committed, in the writing process.
    Observers must be quick; one that raises is reported once and not called again
    by that tracker (see the failure policy above).

    Args:
        tracker: the tracker that wrote them.
        entities: the newly written entities, in write order.
    """


@hookspec
def mltrack_points_appended(tracker: Tracker, points: Sequence[Point]) -> None:
    """React to training metrics that just became durable (a live dashboard, for example).

    Called from the tracker's background writer thread after each batch, and
    by the metadata server after each batch it receives; a retried batch that
    the store had applied already (same batch id) is not announced again.

    Args:
        tracker: the tracker that wrote them.
        points: the appended points, in order: (run id, metric, value,
            epoch, step, timestamp) tuples, possibly of several runs.
    """


@hookspec
def mltrack_run_ended(tracker: Tracker, run: TrainingRun) -> None:
    """React to a training run that just ended (state FINISHED or FAILED).

    Args:
        tracker: the tracker that ended it.
        run: the run as stored, without its scores over time.
    """


# ---------------------------------------------------------------- demo


@hookspec
def mltrack_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """Record this plugin's experiment for ``mltrack demo``.

    Called after the core's own experiment; every implementation runs. A
    plugin whose framework cannot run here (Java missing, say) calls ``say``
    once with the reason and returns None; it must not raise for that.

    Args:
        tracker: the tracker to record into.
        folder: a folder for the demo's data files.
        say: prints one line of progress for the user.

    Returns:
        what to show: the held-out dataset and the metric whose lineage
            and leaderboard the demo prints.
    """
