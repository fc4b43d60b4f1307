"""The tracker: the rules of the schema, enforced once for every backend.

Write-once entities, required lineage, the one mutable training run, defaults
(creator, team, experiment, environment), extraction through framework
plugins, and queries. Obtain one with :func:`connect`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from mltrack_core.deferred import FLUSH_TIMEOUT_SECONDS, DeferredWriter
from mltrack_core.errors import (
    DanglingReferenceError,
    MissingPluginError,
    NotFoundError,
    RunStateError,
    SchemaError,
    TrackingWarning,
)
from mltrack_core.extraction import Extraction
from mltrack_core.live import LiveRun, PointWriter
from mltrack_core.rules import (
    FIXED_AT_START,
    SET_WHEN_ENDING,
    check_predictions_match,
    check_run_end,
    check_run_ended,
)
from mltrack_core.schema import (
    KINDS,
    LINK_FIELDS,
    MAX_COUNT,
    ConfusionMatrix,
    Dataset,
    Entity,
    Evaluation,
    Model,
    Prediction,
    Score,
    ScoreAtTime,
    TrainingRun,
    TrainingState,
    Transform,
    build,
    entity_from_json,
    is_valid_id,
    now_ms,
    replace,
    with_context,
)
from mltrack_core.series import (
    MAX_SUMMARY_RUNS,
    LruCache,
    MetricSummary,
    Series,
    check_series_arguments,
    series_of_points,
    summaries_of_points,
)
from mltrack_core.store import Point, Query, Store, ended_run_error, record_of

if TYPE_CHECKING:
    from mltrack_core.artifacts import ArtifactStore
    from mltrack_core.lineage import Comparability, Leaderboard, Lineage, ModelDiff
    from mltrack_core.plugin.manager import PluginManager
    from mltrack_core.recommend import FactCache, Recommendations

__all__ = ["Tracker", "connect", "default_uri", "get_tracker", "resolve_uri", "set_tracker"]

URI_VARIABLE = "MLTRACK_URI"
_FRAMEWORK_PLUGINS = {
    "sklearn": "mltrack-sklearn",
    "pyspark": "mltrack-spark",
    "mxnet": "mltrack-mxnet",
}  # top-level module of a framework -> the distribution whose plugin (named without "mltrack-") handles it
_COLUMN_FILTERS = {"name", "experiment", "fingerprint", "state"}
_FAILURES_ANNOTATION = "mltrack.failures"
_READ_CACHE_SIZE = 2048  # stored entities (training runs aside) kept for repeated reads
_SERIES_CACHE_POINTS = 200_000  # points of the series of ended runs kept (about 15 MB)
_SUMMARY_CACHE_SIZE = 20_000  # metric summaries of ended runs kept
_DEFERRING: contextvars.ContextVar[tuple[Tracker, ...]] = contextvars.ContextVar("mltrack_deferring", default=())
"""The trackers whose writes are deferred in this context (see :meth:`Tracker.defer_writes`)."""


def default_uri() -> str:
    """The embedded default store: ``store.db`` in ``$MLTRACK_HOME`` (else ``~/.mltrack``)."""
    from mltrack_core.artifacts import mltrack_home

    return f"sqlite:///{(mltrack_home() / 'store.db').resolve()}"


def resolve_uri(uri: str | None = None) -> str:
    """``uri`` if given, else ``$MLTRACK_URI``, else :func:`default_uri`."""
    return uri or os.environ.get(URI_VARIABLE) or default_uri()


def connect(
    uri: str | None = None,
    *,
    experiment: str | None = None,
    creator: str | None = None,
    team: str | None = None,
    artifacts: str | os.PathLike[str] | None = None,
    read_only: bool = False,
) -> Tracker:
    """Open the store that ``uri`` names and return a tracker for it.

    Args:
        uri: ``memory://``, ``sqlite:///path.db`` or any scheme an installed
            backend plugin handles; default ``$MLTRACK_URI``, else the embedded
            store (see :func:`default_uri`).
        experiment: group everything this tracker records under this name
            (default ``$MLTRACK_EXPERIMENT``).
        creator: who records (default ``$MLTRACK_CREATOR``, else the login name).
        team: the creator's team (default ``$MLTRACK_TEAM``).
        artifacts: folder or fsspec URL for serialized artifacts.
        read_only: only read: the store is left exactly as it is (a missing
            store is an error instead of being created; an SQLite file is not
            migrated or converted) and writes raise ``StoreReadOnlyError``.

    Raises:
        UnknownSchemeError: no installed backend handles the scheme.
        StoreError: the backend cannot open the store.
    """
    from mltrack_core.plugin.manager import build_plugin_manager

    plugins = build_plugin_manager()
    store = plugins.open_store(resolve_uri(uri), read_only=read_only)
    return Tracker(
        store,
        plugins=plugins,
        experiment=experiment or os.environ.get("MLTRACK_EXPERIMENT"),
        creator=creator or os.environ.get("MLTRACK_CREATOR") or _login_name(),
        team=team or os.environ.get("MLTRACK_TEAM"),
        artifacts=artifacts,
    )


_default_tracker: Tracker | None = None
_default_lock = threading.Lock()


def get_tracker() -> Tracker:
    """The process-wide default tracker, connected on first use with :func:`connect`.

    Its store is ``$MLTRACK_URI`` (else the embedded store) and its experiment
    ``$MLTRACK_EXPERIMENT``; ``mltrack run --uri --experiment`` sets both.
    """
    global _default_tracker
    with _default_lock:
        if _default_tracker is None:
            _default_tracker = connect()
        return _default_tracker


def set_tracker(tracker: Tracker | None) -> Tracker | None:
    """Replace the process-wide default tracker; returns the previous one (None forgets it)."""
    global _default_tracker
    with _default_lock:
        previous, _default_tracker = _default_tracker, tracker
        return previous


def _login_name() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return None


class Tracker:
    """Records and queries experiment metadata in one store.

    Use :func:`connect` rather than building one by hand. Every ``track_*``
    method stores immutable entities (re-tracking identical content is a
    no-op) and checks that every id they name is stored.
    """

    def __init__(
        self,
        store: Store,
        *,
        plugins: PluginManager | None = None,
        experiment: str | None = None,
        creator: str | None = None,
        team: str | None = None,
        artifacts: str | os.PathLike[str] | ArtifactStore | None = None,
    ) -> None:
        if plugins is None:
            from mltrack_core.plugin.manager import build_plugin_manager

            plugins = build_plugin_manager()
        self.store = store
        self.uri = store.uri
        self.plugins = plugins
        self.experiment_name = experiment
        self.creator = creator
        self.team = team
        self._artifacts_setting = artifacts
        self._artifacts: ArtifactStore | None = None
        self._environment: dict[str, str] | None = None
        self._package_versions: dict[str, str | None] = {}
        self._read_cache = LruCache(_READ_CACHE_SIZE)  # stored entities are write-once: a copy never goes stale
        self._series_cache = LruCache(_SERIES_CACHE_POINTS)  # ended runs only: they cannot change
        self._summary_cache = LruCache(_SUMMARY_CACHE_SIZE)  # ended runs only
        self._recommend_cache: FactCache | None = None  # what recommend read of write-once entities
        self._writer: PointWriter | None = None
        self._deferred: DeferredWriter | None = None
        self._lock = threading.Lock()
        self._set_aside: set[str] = set()  # plugins whose observer or environment hook failed

    def __repr__(self) -> str:
        return f"<Tracker {self.uri}>"

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Write deferred records and pending training metrics, then close the store."""
        if self._deferred is not None:
            self._deferred.settle(FLUSH_TIMEOUT_SECONDS)
        if self._writer is not None:
            self._writer.stop()
        self.store.close()

    # ------------------------------------------------------------ grouping and implicit tracking

    @contextlib.contextmanager
    def experiment(self, name: str) -> Iterator[Tracker]:
        """Group everything tracked inside the ``with`` block under experiment ``name``."""
        previous, self.experiment_name = self.experiment_name, name
        try:
            yield self
        finally:
            self.experiment_name = previous

    @contextlib.contextmanager
    def implicit(self, what: str) -> Iterator[None]:
        """For framework plugins: report a failure inside the block as a warning instead of raising.

        Implicit tracking (inside a tracked ``fit`` or a training callback) must
        never break the user's code; ``what`` names what was not recorded.
        """
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - the failure policy: warn, never break the user's training
            warnings.warn(
                f"mltrack: {what} was not recorded: {type(exc).__name__}: {exc}", TrackingWarning, stacklevel=3
            )

    # ------------------------------------------------------------ off the caller's path

    def defer(self, what: str, work: Callable[[], object]) -> None:
        """For framework plugins: run ``work`` on this tracker's background thread, after the work deferred before.

        ``work`` must only read what cannot change once this call returns (copies,
        schema objects), never the user's live objects. Its failure is reported
        like :meth:`implicit`'s, as a warning naming ``what``, at the caller's
        next call to this tracker. Reads and writes through this tracker wait
        for the deferred work first; :meth:`flush` waits for it explicitly. See
        :mod:`mltrack_core.deferred`.
        """
        writer = self._deferred
        if writer is None:
            with self._lock:
                if self._deferred is None:
                    self._deferred = DeferredWriter()
                writer = self._deferred
        writer.submit(what, work)

    @contextlib.contextmanager
    def defer_writes(self) -> Iterator[Tracker]:
        """For framework plugins: store what the ``with`` block records off the caller's path.

        Inside the block, ``track_*`` calls extract and complete their entities on
        the caller's thread and return them as they will be stored (ids final);
        training runs end the same way. Writing them (JSON, the store's
        transaction, observers) is deferred (see :meth:`defer`); a store error is
        then a warning, not an exception.
        """
        token = _DEFERRING.set((*_DEFERRING.get(), self))
        try:
            yield self
        finally:
            _DEFERRING.reset(token)

    def flush(self, timeout: float | None = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Wait until everything recorded so far is stored (deferred records, metric points); False on timeout."""
        done = self._deferred.settle(timeout) if self._deferred is not None else True
        if self._writer is not None:
            done = self._writer.flush(timeout) and done
        return done

    def open_runs(self) -> list[LiveRun]:
        """The live training runs this tracker started that have not ended, oldest first.

        Each one's ``subject`` is the object passed to :meth:`track_training`;
        automatic tracking uses it to leave a training the program tracks itself alone.
        """
        return [] if self._writer is None else list(self._writer.open_runs.values())

    def _deferring(self) -> bool:
        return self in _DEFERRING.get()

    def _settle(self) -> None:
        """Read your writes: wait for the work deferred so far (at once when there is none, or on its own thread)."""
        if self._deferred is not None:
            self._deferred.settle()

    @property
    def artifacts(self) -> ArtifactStore:
        """Where serialized models, data files and predictions are copied (see :mod:`mltrack_core.artifacts`)."""
        if self._artifacts is None:
            from mltrack_core.artifacts import ArtifactStore

            setting = self._artifacts_setting
            self._artifacts = setting if isinstance(setting, ArtifactStore) else ArtifactStore(setting)
        return self._artifacts

    def environment(self) -> dict[str, str]:
        """The computing environment recorded on models and training runs."""
        from mltrack_core.environment import base_environment, package_versions

        if self._environment is None:
            facts = base_environment()
            for contributed in self._call_guarded("mltrack_environment", {}):
                facts.update(contributed)
            self._environment = facts
        return {**self._environment, **package_versions(self._package_versions)}

    # ------------------------------------------------------------ tracking

    def track_dataset(
        self, data: Any = None, /, *, name: str | None = None, target: Any = None, **fields: Any
    ) -> Dataset:
        """Record a dataset.

        ``data`` is a :class:`Dataset`, or in-memory data a framework plugin
        describes (a pandas DataFrame, an array, a Spark DataFrame, ...), or
        omitted to build the dataset from ``name`` and the keyword fields
        (``location``, ``version``, ``schema``, ``fingerprint``, ``derived_from``...).
        """
        if isinstance(data, Dataset):
            _no_extra_fields(fields | ({"name": name} if name else {}), "a Dataset object")
            return self._write(Extraction(data))
        if data is None:
            return self._write(Extraction(build(Dataset, name=name, **_with_target(fields, target))))
        extraction = self._extract_with(
            self.plugins.hook.mltrack_extract_dataset,
            data,
            "a dataset",
            data=data,
            tracker=self,
            name=name,
            target=target,
        )
        return self._write(_amend(extraction, fields))

    def track_model(
        self,
        model: Any = None,
        /,
        *,
        trained_on: Dataset | str | Any = None,
        name: str | None = None,
        serialize: bool = False,
        **fields: Any,
    ) -> Model:
        """Record a trained model and its lineage to the dataset it was ``trained_on``.

        ``model`` is a :class:`Model`, or a fitted model object of a framework
        whose mltrack plugin is installed (its hyperparameters and transforms
        are extracted), or omitted to build the model from the keyword fields
        (``learning_algorithm`` is then required). ``trained_on`` is a tracked
        dataset, its id, or in-memory data to track first. An open live run
        started for the same object is finished and linked to the model.
        """
        if isinstance(model, Model):
            _no_extra_fields(fields, "a Model object")
            if trained_on is not None and _id_of(trained_on) != model.trained_on:
                given = _id_of(trained_on)
                raise SchemaError(f"model {model.id!r} says trained_on={model.trained_on!r} but {given!r} was given")
            stored = self._write(Extraction(model))
        else:
            if trained_on is None:
                raise SchemaError(
                    "track_model needs trained_on=: the dataset (or its id) the model was trained on; "
                    "lineage is required"
                )
            dataset = self._dataset(trained_on, "trained_on")
            if model is None:
                stored = self._write(Extraction(build(Model, name=name, trained_on=dataset.id, **fields)))
            else:
                extraction = self._extract_with(
                    self.plugins.hook.mltrack_extract_model,
                    model,
                    "a model",
                    obj=model,
                    tracker=self,
                    trained_on=dataset,
                    name=name,
                    serialize=serialize,
                )
                stored = self._write(_amend(extraction, fields))
        self._finish_runs_of(model, stored)
        return stored

    def track_training(
        self, subject: Any = None, /, *, name: str | None = None, trained_on: Dataset | str | Any = None, **fields: Any
    ) -> LiveRun:
        """Start a training run and return it live, for logging metrics while training.

        ``subject`` is the object being trained (an MXNet module, ...) when a
        framework plugin can describe it; keyword fields (``hyperparameters``,
        ``transforms``, ``environment``, ...) add to or replace what it extracts.
        """
        related: tuple[Entity, ...] = ()
        template = TrainingRun()
        helpers = None
        if subject is not None:
            extraction = self._extract_with(
                self.plugins.hook.mltrack_extract_training, subject, "a training run", obj=subject, tracker=self
            )
            if not isinstance(extraction.primary, TrainingRun):
                raise SchemaError(f"the plugin describing {type(subject).__name__} did not return a TrainingRun")
            template, related = _annotate_failures(extraction.primary, extraction.failures), extraction.related
            helpers = extraction.run_helpers
        if trained_on is not None:
            fields["trained_on"] = self._dataset(trained_on, "trained_on").id
        if name is not None:
            fields["name"] = name
        run = replace(
            template,
            id=fields.pop("id", None) or template.id,
            state=TrainingState.TRAINING,
            start_time=now_ms(),
            end_time=None,
            for_model=None,
            **fields,
        )
        stored = self._write(Extraction(run, related))
        return LiveRun(self, stored, subject=subject, helpers=helpers)

    def track_transform(self, transform: Transform | None = None, /, **fields: Any) -> Transform:
        """Record a feature transformation (a vertex of a model's DAG) for models to name in ``transforms``.

        Framework plugins record transforms with the models they extract;
        this is for transformations described by hand.
        """
        if isinstance(transform, Transform):
            _no_extra_fields(fields, "a Transform object")
            return self._write(Extraction(transform))
        if transform is not None:
            raise SchemaError(f"track_transform takes a Transform or keyword fields, not {type(transform).__name__}")
        return self._write(Extraction(build(Transform, **fields)))

    def write(self, entities: Sequence[Entity]) -> list[Entity]:
        """Store entities exactly as given, in one transaction; return those newly written.

        The rules of every ``track_*`` call hold (write-once, lineage, an
        evaluation for a prediction names its model and dataset), but nothing is
        added: no creator, experiment or environment. This is what the metadata
        server does with the entities it receives.
        """
        return self._put(entities, announce=True)

    def end_run(self, ended: TrainingRun, *, started: TrainingRun | None = None) -> tuple[TrainingRun, bool]:
        """Store that a training run ended (state, end time, model, fields it started without), once.

        ``started`` is the run as stored when it started (read from the store
        when not given). Only fields the run started without may be filled in
        and annotations may only be added (:func:`mltrack_core.rules.check_run_end`).
        Ending a run again with the same content changes nothing, so retries are safe.

        Returns:
            the run as stored, and whether it ended now (False: it had ended with this content already).

        Raises:
            NotFoundError: no training run has that id.
            RunStateError: the run is not ended, has ended differently, or changes what it may not.
        """
        self._settle()
        check_run_ended(ended)
        started = started or self.get_run(ended.id)
        if ended.creation_time != started.creation_time:  # creation time aside, as in put
            ended = dataclasses.replace(ended, creation_time=started.creation_time)
        if started.state is not TrainingState.TRAINING:
            return self._ended_already(started, ended), False
        check_run_end(started, ended)
        try:
            self.store.update_run(record_of(ended))
        except RunStateError:  # it ended meanwhile (another process, or a retry whose answer was lost)
            return self._ended_already(self.get_run(ended.id), ended), False
        self.notify_observers("mltrack_run_ended", tracker=self, run=ended)
        return ended, True

    def restore(self, entities: Sequence[Entity]) -> list[Entity]:
        """Write entities exactly as they are, for importers; return those newly written.

        Unlike the ``track_*`` methods, nothing is added (creator, team,
        experiment, environment stay as given) and training runs keep their
        times, state and scores over time. The rules still hold: ids are
        write-once (identical content is a no-op) and references must exist,
        in the store or among ``entities``. Everything is written in one
        transaction, training runs as they are (ended ones too) with their
        points: a crash leaves all of it or nothing, and restoring again after
        one completes the write.
        """
        self._settle()
        entities = list({entity.id: entity for entity in entities}.values())
        check_predictions_match(entities, self.get_many)
        points = [
            Point(run.id, point.metric, point.value, point.epoch, point.step, point.timestamp)
            for run in entities
            if isinstance(run, TrainingRun)
            for point in run.scores_over_time
        ]
        written = set(self.store.put([record_of(entity) for entity in entities], points))
        new = [entity for entity in entities if entity.id in written]
        for entity in new:
            if not isinstance(entity, TrainingRun):
                self._read_cache.put(entity.id, entity)
        if new:
            self.notify_observers("mltrack_entities_stored", tracker=self, entities=new)
        return new

    def track_prediction(
        self,
        prediction: Prediction | None = None,
        /,
        *,
        computed_by: Model | str | None = None,
        on_dataset: Dataset | str | None = None,
        **fields: Any,
    ) -> Prediction:
        """Record predictions a model ``computed_by`` made ``on_dataset`` (stored at ``location``)."""
        if isinstance(prediction, Prediction):
            _no_extra_fields(fields, "a Prediction object")
            return self._write(Extraction(prediction))
        if prediction is not None:
            raise SchemaError(
                f"track_prediction takes a Prediction or keyword fields, not {type(prediction).__name__}; "
                "store the predicted values somewhere and pass location="
            )
        return self._write(Extraction(build(Prediction, computed_by=computed_by, on_dataset=on_dataset, **fields)))

    def track_evaluation(
        self,
        scores: Evaluation | Mapping[str, Any] | Iterable[Any] | Score,
        /,
        *,
        computed_by: Model | str | None = None,
        on_dataset: Dataset | str | None = None,
        for_prediction: Prediction | str | None = None,
        confusion_matrix: ConfusionMatrix | Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Evaluation:
        """Record the scores of a model ``computed_by`` on a dataset ``on_dataset``.

        ``scores`` is an :class:`Evaluation`, a mapping of metric to value, a
        list of :class:`Score` objects or of (metric, value) pairs (what
        MXNet's ``Module.score`` returns), one (metric, value) pair, or a list of
        metric names with a list of their values (what MXNet's ``EvalMetric.get()``
        returns). When ``for_prediction`` is given it must be a prediction of the
        same model on the same dataset.
        """
        if isinstance(scores, Evaluation):
            _no_extra_fields(fields, "an Evaluation object")
            evaluation = scores
        else:
            evaluation = build(
                Evaluation,
                computed_by=computed_by,
                on_dataset=on_dataset,
                for_prediction=for_prediction,
                scores=_scores(scores),
                confusion_matrix=confusion_matrix,
                **fields,
            )
        return self._write(Extraction(evaluation))

    # ------------------------------------------------------------ reading

    def get(self, id: str, kind: str | None = None) -> Entity:
        """The entity with ``id`` (a training run with its scores over time).

        Raises:
            NotFoundError: no such id (or not of ``kind`` when given).
        """
        found = self.get_many([id]).get(id) if is_valid_id(id) else None
        if found is None:
            raise NotFoundError(f"no {kind or 'entity'} with id {id!r:.600}; list ids with: mltrack ls")
        if kind is not None and kind != found.KIND:
            raise NotFoundError(f"{id!r} is a {found.KIND}, not a {kind}")
        return found

    def get_run(self, run_id: str) -> TrainingRun:
        """The stored training run ``run_id``, without its scores over time (see :meth:`points`).

        Raises:
            NotFoundError: no entity has that id, or it is not a training run.
        """
        found = self.get_many([run_id], with_scores=False).get(run_id) if is_valid_id(run_id) else None
        if found is None:
            raise NotFoundError(f"no training run with id {run_id!r:.600}")
        if not isinstance(found, TrainingRun):
            raise NotFoundError(f"{run_id!r} is a {found.KIND}, not a training run")
        return found

    def get_many(self, ids: Sequence[str], *, with_scores: bool = True) -> dict[str, Entity]:
        """The stored entities among ``ids`` (unknown ids are left out).

        ``with_scores=False`` leaves training runs' scores over time out (cheaper for listings).
        """
        entities = {}
        missing = []
        for id_ in ids:
            if not is_valid_id(id_):  # no entity can have it: do not ask the store
                continue
            cached = self._read_cache.get(id_)  # only stored entities are cached: no need to wait for those
            if cached is None:
                missing.append(id_)
            else:
                entities[id_] = cached
        if missing:
            self._settle()
        for id_, stored in self.store.get(missing).items():
            entity = entity_from_json(json.loads(stored.document))
            if isinstance(entity, TrainingRun):
                if with_scores:
                    entity = dataclasses.replace(entity, scores_over_time=_scores_over_time(self.store.points(id_)))
            else:
                self._read_cache.put(id_, entity)
            entities[id_] = entity
        return entities

    def points(self, run_id: str) -> list[Point]:
        """The metric points of a training run as plain tuples (cheaper than ``get`` for long runs)."""
        self._settle()
        return self.store.points(run_id)

    # ------------------------------------------------------------ metric histories (charts and tables)

    def points_since(self, run_id: str, count: int) -> list[Point]:
        """The run's points after the first ``count``, in append order (what a live chart has not drawn yet).

        An unknown run has no points.

        Raises:
            SchemaError: ``count`` is not an int from 0 to 2**63 - 1.
        """
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            raise SchemaError(f"count: expected an int from 0 to {MAX_COUNT}, got {count!r:.60}")
        self._settle()
        reader = getattr(self.store, "points_since", None)
        if reader is not None:
            return reader(run_id, count)
        return self.store.points(run_id)[count:]

    def series(
        self,
        run_id: str,
        metric: str,
        *,
        axis: str = "step",
        start: int | None = None,
        end: int | None = None,
        max_points: int = 1000,
    ) -> Series:
        """One metric of a training run along ``axis``, downsampled to at most ``max_points`` points.

        ``axis`` is ``"step"`` (a point without a step is placed at its 0-based
        position among the metric's points), ``"epoch"`` (points without an epoch
        are left out) or ``"time"`` (ms since 1970); ``start`` and ``end`` bound
        x (inclusive: the zoom). Longer ranges keep the smallest and largest
        value of each bucket, so spikes stay visible; NaN and infinities are
        gaps (None). See :mod:`mltrack_core.series`. The series of an ended run
        cannot change: it is cached.

        Raises:
            NotFoundError: no training run has that id (an unknown metric gives an empty series).
            SchemaError: an unknown axis, bounds that are not counts or ``start > end``, or
                ``max_points`` outside 2 to 10,000.
        """
        check_series_arguments(axis, start, end, max_points)
        if not isinstance(metric, str):
            raise SchemaError(f"metric: expected a string, got {type(metric).__name__}")
        run = self.get_run(run_id)
        ended = run.state is not TrainingState.TRAINING
        key = (run_id, metric, axis, start, end, max_points)
        if ended and (cached := self._series_cache.get(key)) is not None:
            return cached
        reader = getattr(self.store, "metric_series", None)
        if reader is not None:
            data = reader(run_id, metric, axis, start, end, max_points)
        else:  # a store without the optional method: from every point of the run
            data = series_of_points(self.store.points(run_id), metric, axis, start, end, max_points)
        found = Series(run_id, metric, axis, start, end, data.total, data.x, data.y, data.downsampled, ended)
        if ended:
            self._series_cache.put(key, found, size=len(found.x))
        return found

    def metric_summaries(
        self, run_ids: Sequence[str], metrics: Sequence[str] | None = None
    ) -> dict[str, dict[str, MetricSummary]]:
        """Per training run, the summary of each metric (count, first, last, min, max, best, last step...).

        ``metrics`` limits the summaries to those metrics (None: every metric of
        each run). Ids that are not training runs are left out; a run without
        points has an empty dict. One store query answers all the runs; the
        summaries of ended runs are cached.

        Raises:
            SchemaError: more than 1,000 runs, or ids or metrics that are not strings.
        """
        run_ids = _strings(run_ids, "run_ids")
        if len(run_ids) > MAX_SUMMARY_RUNS:
            raise SchemaError(f"run_ids: at most {MAX_SUMMARY_RUNS} runs per call, got {len(run_ids)}")
        wanted = None if metrics is None else tuple(dict.fromkeys(_strings(metrics, "metrics")))
        runs = {
            id_: entity
            for id_, entity in self.get_many(list(dict.fromkeys(run_ids)), with_scores=False).items()
            if isinstance(entity, TrainingRun)
        }
        found: dict[str, dict[str, MetricSummary]] = {}
        missing = []
        for run_id, run in runs.items():
            cached = self._summary_cache.get((run_id, wanted)) if run.state is not TrainingState.TRAINING else None
            if cached is not None:
                found[run_id] = cached
            else:
                missing.append(run_id)
        if missing:
            reader = getattr(self.store, "metric_summaries", None)
            if reader is not None:
                read = reader(missing, wanted)
            else:  # a store without the optional method: from every point of each run
                read = {run_id: summaries_of_points(self.store.points(run_id), wanted) for run_id in missing}
            for run_id in missing:
                summaries = dict(sorted(read.get(run_id, {}).items()))
                found[run_id] = summaries
                if runs[run_id].state is not TrainingState.TRAINING:
                    self._summary_cache.put((run_id, wanted), summaries, size=max(1, len(summaries)))
        return {run_id: found[run_id] for run_id in dict.fromkeys(run_ids) if run_id in found}

    def run_metrics(self, run_id: str) -> dict[str, MetricSummary]:
        """The summary of every metric of one training run, by metric name.

        Raises:
            NotFoundError: no training run has that id.
        """
        self.get_run(run_id)
        return self.metric_summaries([run_id]).get(run_id, {})

    def find(self, kind: str | None = None, **filters: Any) -> list[Entity]:
        """Stored entities matching every filter, newest first unless ``order`` says otherwise.

        Filters: ``name``, ``experiment``, ``fingerprint``, ``state``; links
        such as ``trained_on``, ``computed_by``, ``on_dataset``,
        ``for_prediction``, ``for_model``, ``derived_from``, ``transforms``
        (an entity or id); ``tags`` and ``annotations`` (mappings that must
        all match); ``created_after`` / ``created_before`` (datetime or ms);
        ``limit`` and ``offset`` for paging; ``order``: ``"-created"`` (the
        default), ``"created"`` (oldest first), ``"name"`` or ``"-name"``
        (unnamed entities last, ties newest first). Training runs come without
        their scores over time (use :meth:`get` or :meth:`points` for those).
        """
        ids = self.find_ids(kind, **filters)
        found = self.get_many(ids, with_scores=False)
        return [found[id_] for id_ in ids if id_ in found]

    def find_ids(self, kind: str | None = None, **filters: Any) -> list[str]:
        """The ids :meth:`find` would return, in its order, without reading the entities (a page of a long list)."""
        self._settle()
        return self.store.find(self._query(kind, filters))

    def count(self, kind: str | None = None, **filters: Any) -> int:
        """How many stored entities match the filters of :meth:`find` (``order`` is accepted and ignored)."""
        self._settle()
        return self.store.count(self._query(kind, filters))

    def lineage(
        self, id: str | Entity, direction: Literal["upstream", "downstream"] = "upstream", depth: int | None = None
    ) -> Lineage:
        """What ``id`` was derived from (upstream) or what was derived from it (downstream)."""
        from mltrack_core.lineage import Lineage, check_trace_arguments, trace

        self._settle()
        served = getattr(self.store, "lineage", None)
        if served is not None:  # the store walks the graph where it is (a server): one request, not one per level
            check_trace_arguments(direction, depth)
            return Lineage.from_json(served(_id_of(id), direction, depth), self.get_many)
        return trace(self, _id_of(id), direction, depth)

    def comparable(self, a: Evaluation | str, b: Evaluation | str, metric: str | None = None) -> Comparability:
        """Whether two evaluations can be compared (same data, metric and procedure), with the reasons if not."""
        from mltrack_core.lineage import Comparability, compare_evaluations

        self._settle()
        served = getattr(self.store, "comparable", None)
        if served is not None:
            return Comparability.from_json(served(_id_of(a), _id_of(b), metric))
        return compare_evaluations(self, _id_of(a), _id_of(b), metric)

    def leaderboard(
        self,
        dataset: Dataset | str,
        metric: str,
        *,
        procedure: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Leaderboard:
        """Evaluations on ``dataset`` (or the same data) by ``metric``, best first, mutually comparable.

        ``limit`` and ``offset`` page through the ranking (``total`` on the answer counts all of it).
        """
        from mltrack_core.lineage import Leaderboard, check_leaderboard_arguments, rank

        self._settle()
        served = getattr(self.store, "leaderboard", None)
        if served is not None:  # ranked where the evaluations are (a server): only the entries travel
            check_leaderboard_arguments(_id_of(dataset), metric, procedure, limit, offset)
            answer = served(_id_of(dataset), metric, procedure, limit, offset)
            return Leaderboard.from_json(answer, self.get_many)
        return rank(self, _id_of(dataset), metric, procedure=procedure, limit=limit, offset=offset)

    def recommend(
        self,
        dataset: Dataset | str,
        metric: str,
        k: int = 5,
        *,
        procedure: str | None = None,
        neighbours: int | None = None,
    ) -> Recommendations:
        """The ``k`` configurations most likely to do well on ``dataset``, learnt from similar datasets' evaluations.

        ``dataset`` may be stored (an id or entity) or not (a :class:`Dataset`
        described from data, with its meta-features). Only evaluations of
        ``metric`` with one procedure count (``procedure``, else the dataset's
        task's, else the one most evaluations of the ``neighbours`` (default
        5) most similar datasets used). Each recommendation names its evidence and a
        confidence; with nothing to learn from, the answer has no items and a
        note that says why. See :mod:`mltrack_core.recommend`.

        Raises:
            SchemaError: an argument has the wrong type or value.
            NotFoundError: ``dataset`` is an id no stored dataset has.
        """
        from mltrack_core.recommend import DEFAULT_NEIGHBOURS, FactCache, recommend

        self._settle()
        if not isinstance(dataset, Dataset):
            if not isinstance(dataset, str):
                raise SchemaError(f"recommend: dataset must be a Dataset or its id, not {dataset!r:.60}")
            dataset = self.get(dataset, "dataset")  # type: ignore[assignment]
        if self._recommend_cache is None:
            self._recommend_cache = FactCache()
        return recommend(
            self,
            dataset,
            metric,
            k=k,
            procedure=procedure,
            neighbours=DEFAULT_NEIGHBOURS if neighbours is None else neighbours,  # type: ignore[arg-type]
            cache=self._recommend_cache,
        )

    def diff(self, a: Model | str, b: Model | str) -> ModelDiff:
        """What differs between two models: hyperparameters, transforms, training data, environment."""
        from mltrack_core.lineage import ModelDiff, diff_models

        self._settle()
        served = getattr(self.store, "diff", None)
        if served is not None:
            return ModelDiff.from_json(served(_id_of(a), _id_of(b)), self.get_many)
        return diff_models(self, _id_of(a), _id_of(b))

    # ------------------------------------------------------------ internals

    def _write(self, extraction: Extraction) -> Any:
        primary = _annotate_failures(extraction.primary, extraction.failures)
        if extraction.failures:
            warnings.warn(
                f"mltrack: {primary.KIND} {primary.id} was recorded without: {'; '.join(extraction.failures)}",
                TrackingWarning,
                stacklevel=3,
            )
        entities = [self._complete(entity) for entity in (*extraction.related, primary)]
        if self._deferring():
            self.defer(f"{primary.KIND} {primary.id}", lambda: self._put(entities, announce=True))
            return entities[-1]
        written = self._put(entities, announce=True)
        if written and written[-1] is entities[-1]:
            return entities[-1]
        return self.get(entities[-1].id)  # an identical entity was stored before: return it as stored

    def _put(self, entities: Sequence[Entity], *, announce: bool) -> list[Entity]:
        self._settle()
        check_predictions_match(entities, self.get_many)
        written = set(self.store.put([record_of(entity) for entity in entities]))
        new = [entity for entity in entities if entity.id in written]
        for entity in new:
            if not isinstance(entity, TrainingRun):
                self._read_cache.put(entity.id, entity)
        if new and announce:
            self.notify_observers("mltrack_entities_stored", tracker=self, entities=new)
        return new

    def _complete(self, entity: Entity) -> Entity:
        changes: dict[str, Any] = {}
        for field_name, default in (
            ("creator", self.creator),
            ("creator_team", self.team),
            ("experiment", self.experiment_name),
        ):
            if getattr(entity, field_name) is None and default is not None:
                changes[field_name] = default
        if isinstance(entity, (Model, TrainingRun)) and not entity.environment:
            changes["environment"] = self.environment()
        return with_context(entity, **changes) if changes else entity

    def _extract_with(self, hook: Any, subject: Any, what: str, **arguments: Any) -> Extraction:
        extraction = hook(**arguments)
        if extraction is None:
            raise MissingPluginError(_missing_plugin_message(subject, what, self.plugins))
        if not isinstance(extraction, Extraction):
            returned = type(extraction).__name__
            raise SchemaError(f"the plugin describing {type(subject).__name__} returned {returned}, not an Extraction")
        return extraction

    def _dataset(self, reference: Any, field_name: str) -> Dataset:
        if isinstance(reference, Dataset):
            if self._deferring():  # stored, or stored off the caller's path, before what names it
                self.defer(f"dataset {reference.id}", lambda: self._dataset(reference, field_name))
                return reference
            if self._read_cache.get(reference.id) is not None:  # stored (write-once): no need to ask the store
                return reference
            self._settle()
            if not self.store.get([reference.id]):
                return self.track_dataset(reference)
            return reference
        if isinstance(reference, str):
            found = self.get_many([reference]).get(reference)
            if not isinstance(found, Dataset):
                kind = found.KIND if found else None
                problem = f"that id is a {kind}" if kind else "the store holds no dataset with that id"
                raise DanglingReferenceError(
                    f"{field_name}={reference!r} names no dataset: {problem}; track the dataset first"
                )
            return found
        return self.track_dataset(reference)

    def _query(self, kind: str | None, filters: dict[str, Any]) -> Query:
        if kind is not None and kind not in KINDS:
            raise SchemaError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        filters = dict(filters)
        columns = {key: filters.pop(key) for key in list(filters) if key in _COLUMN_FILTERS}
        if isinstance(columns.get("state"), TrainingState):
            columns["state"] = columns["state"].value
        links = tuple((key, _id_of(filters.pop(key))) for key in list(filters) if key in LINK_FIELDS)
        labels = tuple(
            (scope, key, str(value))
            for scope, option in (("tag", "tags"), ("annotation", "annotations"))
            for key, value in (filters.pop(option, None) or {}).items()
        )
        limit, offset = filters.pop("limit", None), filters.pop("offset", 0)
        after, before = filters.pop("created_after", None), filters.pop("created_before", None)
        order = filters.pop("order", "-created")
        if filters:
            allowed = sorted(
                _COLUMN_FILTERS
                | LINK_FIELDS
                | {"tags", "annotations", "created_after", "created_before", "limit", "offset", "order"}
            )
            raise SchemaError(f"unknown filter(s) {', '.join(sorted(filters))}; use {', '.join(allowed)}")
        return Query(
            kind=kind,
            links=links,
            labels=labels,
            created_after=_as_ms(after),
            created_before=_as_ms(before),
            limit=limit,
            offset=offset,
            order=order,
            **columns,
        )

    def _end_run(
        self, started: TrainingRun, state: TrainingState, model: Model | str | None, fields: dict[str, Any]
    ) -> TrainingRun:
        fields = dict(fields)
        managed = sorted(name for name in fields if name in (*FIXED_AT_START, *SET_WHEN_ENDING))
        if managed:
            raise RunStateError(f"training run {started.id!r}: {managed[0]} cannot be set when the run ends")
        added_annotations = fields.pop("annotations", {}) or {}
        if "trained_on" in fields:
            fields["trained_on"] = self._dataset(fields["trained_on"], "trained_on").id
        ended = replace(
            started,
            state=state,
            end_time=now_ms(),
            for_model=_id_of(model) if model is not None else None,
            annotations={**started.annotations, **added_annotations},
            scores_over_time=(),
            **fields,
        )
        if self._deferring():
            check_run_ended(ended)
            check_run_end(started, ended)
            self.defer(f"the end of training run {started.id}", lambda: self.end_run(ended, started=started))
            return ended
        stored, _ = self.end_run(ended, started=started)  # started as written: no read-back
        return stored

    @staticmethod
    def _ended_already(stored: TrainingRun, ended: TrainingRun) -> TrainingRun:
        if stored.content_hash() != ended.content_hash():
            raise ended_run_error(stored.id, stored.state.value)
        return stored

    def _finish_runs_of(self, subject: Any, model: Model) -> None:
        if subject is None:
            return
        for run in self.open_runs():
            if run.subject is subject:
                run.finish(model)

    def _point_writer(self) -> PointWriter:
        with self._lock:
            if self._writer is None:
                self._writer = PointWriter(self)
            return self._writer

    def notify_observers(self, hook_name: str, **arguments: Any) -> None:
        """Call every observer of ``hook_name`` (an observer hook of :mod:`mltrack_core.hookspecs`).

        Observers run in pluggy's order (``tryfirst`` first, wrappers around the
        call). One that raises is reported once with a warning and set aside for
        the rest of this tracker's life; it never makes a write fail.
        """
        self._call_guarded(hook_name, arguments, role="observer")

    def _call_guarded(self, hook_name: str, arguments: dict[str, Any], role: str = "plugin") -> list[Any]:
        from mltrack_core.plugin.manager import call_guarded

        return call_guarded(self.plugins, hook_name, arguments, self._set_aside, role)


# ---------------------------------------------------------------- helpers


def _id_of(reference: Any) -> str:
    if isinstance(reference, Entity):
        return reference.id
    if isinstance(reference, str) and reference:
        return reference
    raise SchemaError(f"expected an entity or its id, got {type(reference).__name__} {reference!r:.60}")


def _strings(values: Any, name: str) -> list[str]:
    """``values`` as a list of strings (one string alone is refused: it would be read as its characters)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise SchemaError(f"{name}: expected a list of strings, got {type(values).__name__}")
    values = list(values)
    for value in values:
        if not isinstance(value, str):
            raise SchemaError(f"{name}: expected strings, got {type(value).__name__} {value!r:.60}")
    return values


def _no_extra_fields(fields: Mapping[str, Any], what: str) -> None:
    if fields:
        raise SchemaError(
            f"keyword field(s) {', '.join(sorted(fields))} cannot be combined with {what}; "
            "use dataclasses.replace on the object instead"
        )


def _with_target(fields: dict[str, Any], target: Any) -> dict[str, Any]:
    if target is not None:
        if not isinstance(target, str):
            raise SchemaError("without data, target= must be the name of the target column")
        fields = {**fields, "target": target}
    return fields


def _amend(extraction: Extraction, fields: Mapping[str, Any]) -> Extraction:
    if not fields:
        return extraction
    return dataclasses.replace(extraction, primary=replace(extraction.primary, **fields))


def _annotate_failures(entity: Entity, failures: Sequence[str]) -> Any:
    if not failures:
        return entity
    return dataclasses.replace(entity, annotations={**entity.annotations, _FAILURES_ANNOTATION: "; ".join(failures)})


def _scores(scores: Any) -> tuple[Score, ...]:
    if isinstance(scores, Score):
        return (scores,)
    if isinstance(scores, Mapping):
        return tuple(Score(metric=metric, value=value) for metric, value in scores.items())
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Iterable):
        expected = "a mapping of metric to value, a list of (metric, value) pairs, or (metrics, values) lists"
        raise SchemaError(f"scores must be {expected}, got {type(scores).__name__}")
    if _is_score_pair(scores):  # one (metric, value) pair: MXNet's EvalMetric.get() -> ("accuracy", 0.9)
        return (Score(metric=scores[0], value=scores[1]),)
    if _are_parallel_lists(scores):  # (metrics, values): MXNet's CompositeEvalMetric.get() -> (["acc", "f1"], [...])
        return tuple(Score(metric=metric, value=value) for metric, value in zip(*scores, strict=True))
    converted = []
    for item in scores:
        if isinstance(item, Score):
            converted.append(item)
        elif isinstance(item, Sequence) and len(item) == 2 and isinstance(item[0], str):
            converted.append(Score(metric=item[0], value=item[1]))
        else:
            raise SchemaError(f"cannot read a score from {item!r:.60}: give a Score or a (metric, value) pair")
    return tuple(converted)


def _is_score_pair(value: Any) -> bool:
    """A (metric name, value) pair whose value is a number or an array of numbers, not a name."""
    return (
        isinstance(value, Sequence)
        and len(value) == 2
        and isinstance(value[0], str)
        and not isinstance(value[1], (str, bytes, Score))
        and not (isinstance(value[1], Sequence) and any(isinstance(item, (str, Sequence)) for item in value[1]))
    )


def _are_parallel_lists(value: Any) -> bool:
    """Two lists of the same length: metric names, then their values."""
    if not (isinstance(value, Sequence) and len(value) == 2):
        return False
    names, values = value
    return (
        all(isinstance(part, Sequence) and not isinstance(part, (str, bytes)) for part in (names, values))
        and len(names) == len(values)
        and all(isinstance(name, str) for name in names)
        and not any(isinstance(item, str) for item in values)
    )


def _scores_over_time(points: Sequence[Point]) -> tuple[ScoreAtTime, ...]:
    build = ScoreAtTime.from_stored
    return tuple(build(point[1], point[2], point[5], point[3], point[4]) for point in points)


def _as_ms(moment: datetime | int | None) -> int | None:
    if moment is None or isinstance(moment, int):
        return moment
    if isinstance(moment, datetime):
        return int(moment.timestamp() * 1000)
    raise SchemaError(f"expected a datetime or milliseconds since 1970-01-01, got {moment!r}")


def _missing_plugin_message(subject: Any, what: str, plugins: PluginManager) -> str:
    kind = type(subject)
    qualified = f"{kind.__module__}.{kind.__qualname__}"
    framework = kind.__module__.partition(".")[0]
    package = _FRAMEWORK_PLUGINS.get(framework)
    if package and plugins.get_plugin(package.removeprefix("mltrack-")) is not None:
        return f"the {package} plugin is installed but cannot describe {qualified} as {what}"
    if package:
        return f"cannot describe {qualified} as {what}: install the {package} plugin (pip install {package})"
    return (
        f"no installed mltrack plugin describes {qualified} as {what}; "
        "describe it with keyword fields instead (see help(Tracker.track_model))"
    )
