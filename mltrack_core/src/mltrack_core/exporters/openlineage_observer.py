"""The live OpenLineage observer: sends OpenLineage run events as entities are stored.

Registered through the ``mltrack`` entry-point group (name ``openlineage``;
keep it from loading with ``MLTRACK_DISABLE_PLUGINS=openlineage``). It does
nothing unless openlineage-python is installed (``pip install
'mltrack-core[openlineage]'``) and OpenLineage is configured the client's own
way: ``OPENLINEAGE_URL`` (with ``OPENLINEAGE_API_KEY``), ``OPENLINEAGE_CONFIG``,
``OPENLINEAGE__TRANSPORT__...`` variables, or an ``openlineage.yml`` in the
working folder or ``~/.openlineage``. The events are those of
:mod:`mltrack_core.exporters.openlineage` (same jobs, run ids and facets, jobs
in the namespace ``OPENLINEAGE_NAMESPACE``, default ``mltrack``), so a later
``mltrack export --format openlineage`` sends the same runs again:

- a training run's START when it starts, its COMPLETE or FAIL (with the
  model and its column lineage) when it ends; an ended run stored as such (an
  import) sends both;
- a prediction, an evaluation, a derived dataset: their run's two events;
- a model stored while none of the tracker's training runs is open: the
  training run made from its ``trained_on``, as the export makes for a model
  without a run. A model stored while a run is open is left to that run's end
  (a model that the run does not end with then gets no run of its own, unlike
  in the export).

Events are sent in the writing thread, one request each, after the write
committed. Following the observer failure policy, an event that cannot be sent
(server down, refused) makes this observer report one
:class:`~mltrack_core.errors.TrackingWarning` and stop for the rest of the
tracker's life; the user's training goes on.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from mltrack_core.schema import Entity, TrainingRun
    from mltrack_core.tracker import Tracker

__all__ = ["openlineage_configured"]

NAMESPACE_VARIABLE = "OPENLINEAGE_NAMESPACE"
DEFAULT_NAMESPACE = "mltrack"
_clients: weakref.WeakKeyDictionary[Tracker, Any] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def openlineage_configured() -> bool:
    """Whether the user configured OpenLineage, where the OpenLineage client looks for its configuration."""
    if os.environ.get("OPENLINEAGE_URL") or os.environ.get("OPENLINEAGE_CONFIG"):
        return True
    if any(name.startswith("OPENLINEAGE__TRANSPORT") for name in os.environ):
        return True
    files = (Path.cwd() / "openlineage.yml", Path("~/.openlineage/openlineage.yml").expanduser())
    return any(path.is_file() for path in files)


@hookimpl
def mltrack_entities_stored(tracker: Tracker, entities: Sequence[Entity]) -> None:
    from mltrack_core.schema import Dataset, Evaluation, Model, Prediction, TrainingRun

    client = _client_of(tracker)
    if client is None:
        return
    builder = _builder(tracker)
    for entity in entities:
        if isinstance(entity, TrainingRun):
            events = builder.training(entity)
        elif isinstance(entity, Dataset) and entity.derived_from:
            events = builder.derivation(entity)
        elif isinstance(entity, Prediction):
            events = builder.prediction(entity)
        elif isinstance(entity, Evaluation):
            events = builder.evaluation(entity)
        elif isinstance(entity, Model) and not tracker.open_runs() and not tracker.count("run", for_model=entity.id):
            events = builder.training_of_model(entity)
        else:
            continue
        for event in events:
            client.emit(event)


@hookimpl
def mltrack_run_ended(tracker: Tracker, run: TrainingRun) -> None:
    client = _client_of(tracker)
    if client is None:
        return
    _start, *ended = _builder(tracker).training(run)  # its START was sent when it started
    for event in ended:
        client.emit(event)


def _builder(tracker: Tracker) -> Any:
    from mltrack_core.exporters.openlineage import RunEventBuilder

    return RunEventBuilder(tracker, os.environ.get(NAMESPACE_VARIABLE) or DEFAULT_NAMESPACE)


def _client_of(tracker: Tracker) -> Any:
    """The tracker's OpenLineage client, made the first time; None when OpenLineage is not installed or configured."""
    with _lock:
        if tracker in _clients:
            return _clients[tracker]
        client = None
        if openlineage_configured():
            try:
                from openlineage.client import OpenLineageClient
            except ImportError:
                pass
            else:
                client = OpenLineageClient()  # the user's configuration, as the client reads it
        _clients[tracker] = client
        return client
