r"""Everything a plugin author needs, in one module: ``from mltrack_core.plugin import ...``.

mltrack finds plugins through entry points in the ``mltrack`` group. A
plugin is a module of functions decorated with :data:`hookimpl`, named after
the hooks of :mod:`mltrack_core.hookspecs` (each hook's docstring says when
it fires, what it gets and what it returns). Three kinds of plugin use them:

* **framework extractors** describe a framework's objects as schema entities
  (``mltrack_extract_model``, ``mltrack_extract_dataset``,
  ``mltrack_extract_training``, ``mltrack_environment``), and may track the
  framework with no line of the user's (``mltrack_autolog``);
* **storage backends** open a store for a URI scheme (``mltrack_open_store``);
* **observers** react to what was stored (``mltrack_entities_stored``,
  ``mltrack_points_appended``, ``mltrack_run_ended``).

A plugin never writes to a store itself: extractors return an
:class:`Extraction` and the tracker applies the rules (lineage, write-once)
and stores it, for every backend alike.

Writing an extractor
--------------------

Say a package ``mltrack-forest`` records the models of a library ``forest``.
Its ``pyproject.toml`` names the plugin module, and the supported ``forest``
versions in the ``instruments`` extra (the one place they are written)::

    [project]
    name = "mltrack-forest"
    dependencies = ["mltrack-core"]

    [project.optional-dependencies]
    instruments = ["forest>=2.0,<3"]

    [project.entry-points.mltrack]
    forest = "mltrack_forest.plugin"

and ``mltrack_forest/plugin.py`` holds the hooks::

    import sys

    from mltrack_core.plugin import Extraction, Model, Parameter, hookimpl, require_framework


    @hookimpl
    def mltrack_extract_model(obj, tracker, trained_on, name, serialize):
        if "forest" not in sys.modules:  # never import the framework for the user
            return None
        import forest

        if not isinstance(obj, forest.Forest):
            return None  # not ours: another plugin may know it
        require_framework("mltrack-forest", "forest")  # refuses an old forest, warns once for a new one
        model = Model(
            name=name or f"forest-{obj.n_trees}",
            learning_algorithm="forest.Forest",
            trained_on=trained_on.id,
            hyperparameters=[Parameter.of("n_trees", obj.n_trees, default=100)],
        )
        return Extraction(model)


    @hookimpl
    def mltrack_environment():
        if "forest" not in sys.modules:
            return None
        import forest

        return {"forest.version": forest.__version__}

``tracker.track_model(fitted_forest, trained_on=train)`` now records the
forest. Return ``None`` for objects that are not yours; raise only for your
own objects that cannot be described (an explicit call reports it to the
user). ``Extraction.related`` carries the entities the model names (its
transforms, datasets it derived) so that everything is stored in one
transaction; ``Extraction.failures`` names what could not be read, and the
tracker stores the rest with a warning. Inside implicit tracking (a tracked
``fit``, a training callback) wrap your work in ``tracker.implicit(what)``:
a failure there becomes a :class:`TrackingWarning`, never an exception in the
user's training.

The three framework packages share one anatomy, one module per role; a new
one should follow it (see the table in the repository's README).

Automatic tracking
------------------

``mltrack run python train.py`` and :func:`mltrack_core.autolog` call every
plugin's ``mltrack_autolog(tracker, disable)`` before (or while) the user's
program runs. The plugin must not import its framework then: it hands a
patching function to :func:`when_imported`, which calls it with the module
right after the program imports it (before ``from forest import Forest``
binds the name), or at once when it is imported already. Added to
``mltrack_forest/plugin.py``, this records every top-level ``Forest.fit``::

    import mltrack_core
    from mltrack_core.plugin import Patches, TopLevelCalls, hookimpl, when_imported

    _patches = Patches()  # what was replaced, restored exactly when turned off
    _calls = TopLevelCalls()  # a fit calling fits (a forest of forests) records once, at the top
    _wanted = {"on": False, "tracker": None}


    @hookimpl
    def mltrack_autolog(tracker, disable):
        _wanted.update(on=not disable, tracker=tracker)
        if disable:
            _patches.restore()
        else:
            when_imported("forest", _patch)
        return "forest"


    def _patch(forest):
        with _patches.lock:
            if not _wanted["on"] or _patches.active:
                return  # turned off meanwhile, or patched already: turning on twice is a no-op
            fit = forest.Forest.fit

            def tracked_fit(self, data):
                with _calls.enter() as top:
                    result = fit(self, data)
                if top and _patches.active:
                    tracker = _wanted["tracker"] or mltrack_core.get_tracker()
                    with tracker.implicit("a forest's training"):  # never break the user's fit
                        tracker.track_model(self, trained_on=tracker.track_dataset(name="forest-data"))
                return result

            _patches.install(forest.Forest, "fit", tracked_fit)

Turning on twice is a no-op and turning off restores everything; records go
to ``tracker``, or to :func:`mltrack_core.get_tracker` when it is None.
:class:`Patches` restores an inherited method by deleting the override, and
:class:`TopLevelCalls` is process-wide: fits nested in a fit, in any thread
(a framework's thread pool), are part of the top-level one. Around recording
code of your own that may fail, ``with never_raising("a forest's training"):``
turns a failure into one ``TrackingWarning`` (``tracker.implicit`` does that
for the tracker's own calls).

Writing a storage backend
-------------------------

A backend's entry point is named after the URI scheme it opens (one entry
point per scheme); its ``mltrack_open_store(uri)`` hook is only called for
URIs of that scheme and returns a :class:`Store`. It may also take
``read_only``: True when the caller only reads (``mltrack ls``, ...); the
backend then creates and changes nothing, and refuses writes::

    [project.entry-points.mltrack]
    jsonlog = "mltrack_jsonlog.plugin"

The rules every store keeps (write-once ids by content hash, references
checked in the same transaction, a training run that changes only while it
trains, a batch of points applied once) are written once, in
:class:`BaseStore`. A store of its own (a database, a service) subclasses it
and supplies seven primitives (one write transaction; inserting absent
records; the kinds of stored ids; the states of runs; replacing a run;
inserting points; claiming a batch id) and the reads of :class:`Store`;
``mltrack_core/backends/sqlite.py`` is the model. A store that keeps its state
in memory builds on :class:`MemoryStore`. This complete backend keeps the
memory store and appends every write to a JSON-lines file, which it replays
when opened again (``mltrack_jsonlog/plugin.py``)::

    import json
    import threading
    from pathlib import Path

    from mltrack_core.plugin import MemoryStore, StoreError, entity_from_json, hookimpl, record_of


    @hookimpl
    def mltrack_open_store(uri):
        path = Path(uri.partition("://")[2])  # jsonlog:///absolute/path.jsonl
        if not path.is_absolute():
            raise StoreError(f"write jsonlog:///absolute/path.jsonl, not {uri!r}")
        return JsonLogStore(uri, path)


    class JsonLogStore(MemoryStore):
        def __init__(self, uri, path):
            super().__init__(uri)
            self.path = path
            self.writing = threading.Lock()  # the file gets the writes in the order the store made them
            for line in path.read_text().splitlines() if path.exists() else ():
                operation, payload, extra = json.loads(line)
                if operation == "points":
                    super().append_points([tuple(point) for point in payload], batch_id=extra)
                else:
                    records = [record_of(entity_from_json(json.loads(document))) for document in payload]
                    if operation == "put":
                        super().put(records, [tuple(point) for point in extra])
                    else:
                        super().update_run(records[0])

        def put(self, records, points=()):
            with self.writing:
                written = super().put(records, points)
                documents = [record.document for record in records if record.id in written]
                self.log("put", documents, [list(point) for point in points if point[0] in written])
                return written

        def update_run(self, record):
            with self.writing:
                super().update_run(record)
                self.log("update_run", [record.document], None)

        def append_points(self, points, batch_id=None):
            with self.writing:
                applied = super().append_points(points, batch_id)
                if applied:  # logged with its batch id: a retry after reopening is still a no-op
                    self.log("points", [list(point) for point in points], batch_id)
                return applied

        def log(self, operation, payload, extra):
            if payload:
                with self.path.open("a") as log:
                    log.write(json.dumps([operation, payload, extra]) + "\n")

Prove it with the contract suite, which checks a backend against every rule
through the public API: in the backend's tests, subclass
:class:`mltrack_core.testing.StoreContract` with a ``store_uri`` fixture
naming a fresh, empty store (``f"jsonlog://{tmp_path}/store.jsonl"``).

Observers
---------

An observer implements any of the observer hooks. It runs after the write
committed, in the writing process; it must be quick (hand slow work to a
thread, as the ``notify`` plugin does). An observer that raises is reported
once with a :class:`TrackingWarning` and set aside for the rest of the
tracker's life; it never makes a write fail. ``tryfirst``, ``trylast`` and
wrappers work as in pluggy.
"""

from mltrack_core.artifacts import ArtifactStore, location_of, mltrack_home, safe_file_name
from mltrack_core.autolog import AutologSettings, Patches, TopLevelCalls, WeakLinks, never_raising, when_imported
from mltrack_core.backends.memory import MemoryStore
from mltrack_core.demo import DemoResult
from mltrack_core.errors import (
    ConflictError,
    DanglingReferenceError,
    MissingDependencyError,
    MissingPluginError,
    MltrackError,
    NotFoundError,
    RunStateError,
    SchemaError,
    StoreCorruptError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
    StoreVersionError,
    TrackingWarning,
)
from mltrack_core.extraction import Extraction
from mltrack_core.hookspecs import hookimpl
from mltrack_core.live import LiveRun
from mltrack_core.plugin.frameworks import require_framework, supported_versions
from mltrack_core.schema import (
    ALL_INPUTS,
    ConfusionMatrix,
    Dataset,
    DataStatistic,
    Entity,
    Evaluation,
    FrozenDict,
    Histogram,
    Model,
    Parameter,
    Prediction,
    Score,
    ScoreAtTime,
    TrainingRun,
    TrainingState,
    Transform,
    TypedColumn,
    TypeHint,
    entity_from_json,
    infer_type,
)
from mltrack_core.store import BaseStore, Link, Point, Query, Record, Store, StoredDocument, record_of
from mltrack_core.tracker import Tracker, get_tracker

__all__ = [
    "ALL_INPUTS",
    "ArtifactStore",
    "AutologSettings",
    "BaseStore",
    "ConflictError",
    "ConfusionMatrix",
    "DanglingReferenceError",
    "DataStatistic",
    "Dataset",
    "DemoResult",
    "Entity",
    "Evaluation",
    "Extraction",
    "FrozenDict",
    "Histogram",
    "Link",
    "LiveRun",
    "MemoryStore",
    "MissingDependencyError",
    "MissingPluginError",
    "MltrackError",
    "Model",
    "NotFoundError",
    "Parameter",
    "Patches",
    "Point",
    "Prediction",
    "Query",
    "Record",
    "RunStateError",
    "SchemaError",
    "Score",
    "ScoreAtTime",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreReadOnlyError",
    "StoreUnavailableError",
    "StoreVersionError",
    "StoredDocument",
    "TopLevelCalls",
    "Tracker",
    "TrackingWarning",
    "TrainingRun",
    "TrainingState",
    "Transform",
    "TypeHint",
    "TypedColumn",
    "WeakLinks",
    "entity_from_json",
    "get_tracker",
    "hookimpl",
    "infer_type",
    "location_of",
    "mltrack_home",
    "never_raising",
    "record_of",
    "require_framework",
    "safe_file_name",
    "supported_versions",
    "when_imported",
]
