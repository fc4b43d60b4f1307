"""Every hook of mltrack, in one place.

Plugins implement these hooks with ``@mltrack_core.hookimpl`` and are found
through the ``mltrack`` entry-point group (see :mod:`mltrack_core.plugins`).
Three families:

* storage backends: :func:`mltrack_store_schemes`, :func:`mltrack_open_store`;
* framework extractors: :func:`mltrack_extract_model`,
  :func:`mltrack_extract_dataset`, :func:`mltrack_extract_training`,
  :func:`mltrack_environment`;
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
An observer that raises is reported with a warning and the other observers
still run; observers never make a write fail. A store that cannot be opened
makes :func:`mltrack_core.connect` raise; a store failing later is reported
by the tracker as described above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from collections.abc import Callable
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


@hookspec
def mltrack_store_schemes() -> list[str]:
    """Name the URI schemes this plugin's backend opens (for listings and error messages).

    Called when a URI matches no backend. Every implementation's list is collected.

    :return: URI schemes such as ``["sqlite"]``.
    """


@hookspec(firstresult=True)
def mltrack_open_store(uri: str) -> Store | None:
    """Open the store that ``uri`` names, if this plugin handles its scheme.

    Called by :func:`mltrack_core.connect`. The first non-None result wins.

    :param uri: the full store URI, for example ``sqlite:////tmp/store.db``.
    :return: an object implementing :class:`mltrack_core.store.Store`, or None
        when the scheme is not this plugin's.
    :raises mltrack_core.errors.StoreError: the scheme is this plugin's but the
        store cannot be opened (the message says why and what to do).
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

    :param obj: the user's fitted model (a scikit-learn estimator, a Spark
        ``PipelineModel``, an MXNet module, ...).
    :param tracker: the tracker that will store the result (for its artifact store).
    :param trained_on: the stored dataset the model was trained on; the
        returned model's ``trained_on`` must name it.
    :param name: the name the user asked for, or None to choose one.
    :param serialize: write the model to ``tracker.artifacts`` and set the
        model's ``location``.
    :return: an :class:`~mltrack_core.extraction.Extraction` whose ``primary``
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

    :param data: the user's data.
    :param tracker: the tracker that will store the result.
    :param name: the name the user asked for, or None to choose one.
    :param target: the target (labels) given with the data, or None.
    :return: an :class:`~mltrack_core.extraction.Extraction` whose ``primary``
        is the :class:`~mltrack_core.schema.Dataset`, or None when ``data`` is
        not this plugin's.
    """


@hookspec(firstresult=True)
def mltrack_extract_training(obj: Any, tracker: Tracker) -> Extraction | None:
    """Describe what is known about a training job before it starts.

    Called by ``tracker.track_training(obj)`` when ``obj`` is given. The first
    non-None result wins.

    :param obj: the object about to be trained (an MXNet module, a Gluon trainer, ...).
    :return: an :class:`~mltrack_core.extraction.Extraction` whose ``primary``
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

    :return: a mapping of keys such as ``"mxnet.features"`` to text, or None.
    """


# ---------------------------------------------------------------- observers


@hookspec
def mltrack_entities_stored(tracker: Tracker, entities: Sequence[Entity]) -> None:
    """React to entities that were just written (not to no-op re-writes).

    Called after the write's transaction committed, in the writing process.
    Observers must be quick; an exception is reported and swallowed.

    :param tracker: the tracker that wrote them.
    :param entities: the newly written entities, in write order.
    """


@hookspec
def mltrack_points_appended(tracker: Tracker, points: Sequence[Point]) -> None:
    """React to training metrics that just became durable (a live dashboard, for example).

    Called from the tracker's background writer thread after each batch.

    :param tracker: the tracker that wrote them.
    :param points: the appended points, in order: (run id, metric, value,
        epoch, step, timestamp) tuples, possibly of several runs.
    """


@hookspec
def mltrack_run_ended(tracker: Tracker, run: TrainingRun) -> None:
    """React to a training run that just ended (state FINISHED or FAILED).

    :param tracker: the tracker that ended it.
    :param run: the run as stored, without its scores over time.
    """


# ---------------------------------------------------------------- demo


@hookspec
def mltrack_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """Record this plugin's experiment for ``mltrack demo``.

    Called after the core's own experiment; every implementation runs. A
    plugin whose framework cannot run here (Java missing, say) calls ``say``
    once with the reason and returns None; it must not raise for that.

    :param tracker: the tracker to record into.
    :param folder: a folder for the demo's data files.
    :param say: prints one line of progress for the user.
    :return: what to show: the held-out dataset and the metric whose lineage
        and leaderboard the demo prints.
    """
