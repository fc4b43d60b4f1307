"""Import an MLflow tracking store: runs with their full metric history, datasets, logged models, evaluations.

``import_mlflow(tracker, tracking_uri, experiments)`` reads an MLflow tracking
store through MLflow's own client (``pip install 'mltrack-core[mlflow]'``,
MLflow 2.16 or later): a local ``mlruns/`` folder (``file:`` URI or path), an
MLflow SQLite or PostgreSQL database (``sqlite:///mlflow.db``,
``postgresql://...``) or an MLflow server (``http://host:5000``). Without a
URI it reads the store MLflow itself would use (``MLFLOW_TRACKING_URI``, else
MLflow's default). Without experiment names it reads every active experiment.
Deleted runs and experiments are not imported.

The mapping:

* experiment -> the ``experiment`` field of every entity made from its runs
  (the MLflow experiment name);
* run -> a :class:`TrainingRun` ``mlflow-run-<run id>`` with every point of
  every metric (value, step, timestamp), its state (FINISHED -> FINISHED,
  FAILED and KILLED -> FAILED, the MLflow status kept as the
  ``mlflow.status`` annotation), start and end times, the ``mlflow.user`` tag
  as creator, the run name as name and the run description
  (``mlflow.note.content``) as comments. Runs still RUNNING or SCHEDULED are
  skipped with a note: a training run is stored once, so import again once
  they ended. A negative step (MLflow allows them, mltrack does not) is stored
  without a step, and the note names the metric;
* params -> typed hyperparameters. MLflow stores the text ``str(value)`` of
  what was logged; a text becomes an int, a float, a bool or None when Python
  spells that value exactly so (``"3"`` -> 3, ``"0.1"`` -> 0.1, ``"1e-05"`` ->
  1e-05, ``"True"`` -> True, ``"None"`` -> None, ``"nan"`` -> NaN). Any other
  text stays a ``STRING``; texts that look like numbers or flags but are not
  spelled the Python way (``"1e3"``, ``"007"``, ``"1.50"``, ``"true"``) are
  named by the ``mlflow.params_kept_as_text`` annotation and a note;
* dataset inputs -> a :class:`Dataset` per experiment, name and digest
  (``mlflow-dataset-<digest>-<hash>``): the digest as fingerprint
  ``mlflow:<digest>``, the source's URI, URL or path as location, typed
  columns from MLflow's schema (a column spec, or one ``VECTOR``/array column
  per tensor of a tensor spec), the row count from the profile (``num_rows``,
  or the first dimension of ``features_shape``); source type, source, schema
  and profile as ``mlflow.dataset.*`` annotations. A run is trained on its
  input of context ``train`` (or ``training``), or on its only input;
* logged models (MLflow 3's logged models, MLflow 2's
  ``mlflow.log-model.history`` run tag) -> a :class:`Model`
  ``mlflow-model-<model id>`` trained on the run's training input, with the
  model URI (``models:/<model id>``, ``runs:/<run id>/<path>``) as location,
  the estimator class autolog records (``estimator_name``/``estimator_class``
  tags: ``LogisticRegression``, framework ``sklearn``) as learning
  algorithm, else the model type, else the flavor (MLflow 2's history names
  the flavors and their versions; MLflow 3 keeps them in the model's
  artifacts, which the import does not read), and the model's params (else
  the run's) as hyperparameters. Only READY models are imported. The run's
  ``for_model`` is its last logged model (all of them are named by the
  ``mlflow.logged_models`` annotation when there are several). A model whose
  run logged no training input is trained on a placeholder ``Dataset``
  ``mlflow-run-<run id>-training-data`` annotated ``mlflow.created_from``;
* metrics logged against an evaluation input -> an :class:`Evaluation` of
  the model on that input's dataset, with each metric's final value (largest
  step, then latest time) as score and the procedure ``holdout`` (MLflow does
  not say how the data was split; the input's context is the
  ``mlflow.dataset.context`` annotation). A metric is logged against an input
  when MLflow links it to the input's name and digest (MLflow 3:
  ``log_metric(dataset=...)``, ``mlflow.evaluate``). A run whose single
  input of context ``eval``, ``evaluation``, ``test``, ``validation``,
  ``val`` or ``holdout`` has no linked metric (MLflow 2) is evaluated with
  its metrics that are linked to no dataset and are not named
  ``training_*`` (scikit-learn autolog's scores on the training data). The
  model is the one the metric names, else the run's; a run without a logged
  model gets no evaluation (its metrics stay in its history; a note says so);
* tags and the rest -> annotations: MLflow's own tags (``mlflow.*``) under
  their name, the user's tags as ``mlflow.tags.<name>``, and the MLflow ids
  (``mlflow.run_id``, ``mlflow.experiment_id``, ``mlflow.model_id``), the
  artifact URI and the status. Every entity is tagged ``source=mlflow``.

Ids derive from MLflow's ids and creation times from MLflow's times, so
importing a store again creates nothing new; a run changed in MLflow after it
was imported (metrics logged after it ended) is refused with a
:class:`~mltrack_core.errors.ConflictError` naming it. Runs are written in
batches of a few hundred, each batch in one transaction: an import cut short
keeps the batches written and, run again, completes them.

Metric histories are read per batch of runs with one query per metric name
from database stores (the bulk query of MLflow's store, which its UI uses:
MLflow's per-run query makes SQLite scan every point of that metric name, an
hour for 10,000 runs), and with one request per metric of each run, four at a
time, from file stores and servers. MLflow 3.17 refuses to open a file store
unless ``MLFLOW_ALLOW_FILE_STORE`` is set; the importer sets it while it
reads one (it only reads). Artifacts are not read.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from mltrack_core.errors import ConflictError, MissingDependencyError, MltrackError, NotFoundError
from mltrack_core.importers._writing import ImportSummary, write_entities
from mltrack_core.schema import (
    MAX_COUNT,
    MAX_TIME,
    Dataset,
    Entity,
    Evaluation,
    Model,
    Parameter,
    Score,
    ScoreAtTime,
    TrainingRun,
    TrainingState,
    TypedColumn,
    TypeHint,
    is_valid_id,
)

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["MlflowSource", "MlflowStoreError", "import_mlflow", "import_source", "open_mlflow", "typed_param"]

BATCH_RUNS = 250
"""Runs written per transaction: large enough to be fast, small enough that one batch's points fit in memory."""
_READERS = 4
"""Threads reading metric histories: MLflow's client asks for one metric of one run at a time."""
_TAGS = {"source": "mlflow"}
_CREATED_FROM = "mlflow.created_from"
_TRAIN_CONTEXTS = frozenset({"train", "training"})
_EVALUATION_CONTEXTS = frozenset({"eval", "evaluation", "test", "testing", "validation", "val", "valid", "holdout"})
_STATES = {"FINISHED": TrainingState.FINISHED, "FAILED": TrainingState.FAILED, "KILLED": TrainingState.FAILED}
_TRAINING_METRIC_PREFIX = "training_"  # scikit-learn autolog's scores on the training data
_EVALUATION_PROCEDURE = "holdout"
_FILE_STORE_SWITCH = "MLFLOW_ALLOW_FILE_STORE"
_COLUMN_TYPES = {
    "double": TypeHint.DOUBLE,
    "float": TypeHint.FLOAT,
    "long": TypeHint.LONG,
    "integer": TypeHint.INT,
    "boolean": TypeHint.BOOLEAN,
    "string": TypeHint.STRING,
}
_FLAG_TEXTS = frozenset({"true", "false", "none", "null"})


# ---------------------------------------------------------------- public API


class MlflowStoreError(MltrackError):
    """MLflow cannot read the tracking store (the message has MLflow's reason)."""


@dataclass
class MlflowSource:
    """What an import reads: the MLflow client, the chosen experiments, their finished and unfinished runs."""

    tracking_uri: str
    client: Any
    experiments: list[Any]
    runs: list[Any]
    models_by_run: dict[str, list[Any]] = field(default_factory=dict)


def open_mlflow(tracking_uri: str | None = None, experiments: Iterable[str] = ()) -> MlflowSource:
    """Open an MLflow tracking store and list the runs of ``experiments`` (every active one when empty).

    Args:
        tracking_uri: the store's URI (``file:``, a path, ``sqlite:///``, ``postgresql://``, ``http(s)://``);
            None for the one MLflow would use (``MLFLOW_TRACKING_URI``, else its default).
        experiments: names of the experiments to read.

    Raises:
        MissingDependencyError: MLflow is not installed.
        NotFoundError: the local store does not exist, an experiment name is unknown, or the store holds no runs.
        MlflowStoreError: MLflow cannot read the store (not a tracking store, a server that does not answer).
    """
    mlflow, client_class = _mlflow()
    uri = tracking_uri or mlflow.get_tracking_uri()
    local = _local_store_path(uri)
    if local is not None and not local.exists():
        # MLflow would create an empty store there: say that nothing is there instead
        raise NotFoundError(f"no MLflow tracking store at {uri}: {local} does not exist")
    if local is not None and uri.startswith("sqlite:") and not _is_mlflow_database(local):
        # MLflow would add its tables to any SQLite file (an mltrack store, say): the import only reads
        raise NotFoundError(f"{local} is not an MLflow tracking database (it has no MLflow experiments table)")
    if local is not None and not uri.startswith("sqlite:") and not _is_mlflow_folder(local):
        # MLflow would make any folder a store (a .trash folder, a Default experiment): the import only reads
        raise NotFoundError(f"{local} is not an MLflow tracking folder (no experiment folder with a meta.yaml)")
    from mlflow.exceptions import MlflowException

    try:
        with _file_store_allowed(uri):
            client = client_class(tracking_uri=uri)
            chosen = _experiments(client, uri, list(experiments))
            runs = [run for experiment in chosen for run in _all_runs(client, experiment.experiment_id)]
            models = _logged_models(client, [experiment.experiment_id for experiment in chosen])
    except (MlflowException, OSError) as exc:
        raise MlflowStoreError(f"cannot read the MLflow tracking store {uri}: {type(exc).__name__}: {exc}") from None
    if not runs:
        names = ", ".join(repr(experiment.name) for experiment in chosen) or "none"
        raise NotFoundError(f"the MLflow tracking store {uri} holds no runs (experiments read: {names})")
    return MlflowSource(uri, client, chosen, runs, models)


def import_mlflow(
    tracker: Tracker,
    tracking_uri: str | None = None,
    experiments: Iterable[str] = (),
    *,
    on_run: Callable[[Any], None] | None = None,
    batch_size: int = BATCH_RUNS,
) -> ImportSummary:
    """Import the runs of an MLflow tracking store (every active experiment, or those named).

    Args:
        tracker: the tracker to write with.
        tracking_uri: the MLflow store's URI; None for the one MLflow would use.
        experiments: names of the experiments to import.
        on_run: called once per MLflow run read (for progress display).
        batch_size: runs written per transaction.

    Raises:
        MissingDependencyError: MLflow is not installed.
        NotFoundError: the store does not exist, an experiment name is unknown, or there are no runs.
        MlflowStoreError: MLflow cannot read the store.
        ConflictError: an MLflow run or model changed since it was imported (that batch is not written).
    """
    return import_source(tracker, open_mlflow(tracking_uri, experiments), on_run=on_run, batch_size=batch_size)


def import_source(
    tracker: Tracker,
    source: MlflowSource,
    *,
    on_run: Callable[[Any], None] | None = None,
    batch_size: int = BATCH_RUNS,
) -> ImportSummary:
    """Import the runs :func:`open_mlflow` listed, ``batch_size`` runs per transaction.

    Args:
        tracker: the tracker to write with.
        source: what :func:`open_mlflow` returned.
        on_run: called once per MLflow run read (for progress display).
        batch_size: runs written per transaction.

    Raises:
        ConflictError: an MLflow run or model changed since it was imported (that batch is not written).
    """
    summary = ImportSummary(f"MLflow {source.tracking_uri}")
    builder = _Builder(source)
    with _file_store_allowed(source.tracking_uri):
        for batch in _batches(source.runs, batch_size):
            histories = _histories(source.client, [run for run in batch if run.info.status in _STATES])
            entities: list[Entity] = []
            for run in batch:
                entities.extend(builder.run_entities(run, histories))
                if on_run is not None:
                    on_run(run)
            write_entities(tracker, entities, summary, check=_explain_conflict)
    summary.notes.extend(builder.notes)
    return summary


def typed_param(text: str) -> tuple[Any, bool]:
    """The Python value an MLflow param was logged from, and whether the text was recognised as one.

    MLflow stores ``str(value)``: a text is turned back into an int, float, bool
    or None only when ``str`` of that value spells it exactly, so nothing is
    guessed (``"1e3"``, ``"007"`` and ``"true"`` stay text, as they were not
    logged from a Python number or bool). Returns ``(text, False)`` otherwise.
    """
    if text == "None":
        return None, True
    if text in ("True", "False"):
        return text == "True", True
    try:
        number: int | float = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return text, False
    if str(number) == text:
        return number, True
    if isinstance(number, int):
        as_float = float(text)
        if str(as_float) == text:
            return as_float, True
    return text, False


# ---------------------------------------------------------------- reading MLflow


def _mlflow() -> tuple[Any, Any]:
    try:
        import mlflow
        from mlflow import MlflowClient
    except ImportError:
        raise MissingDependencyError(
            "importing from MLflow needs the mlflow package: pip install 'mltrack-core[mlflow]'"
        ) from None
    return mlflow, MlflowClient


def _local_store_path(uri: str) -> Path | None:
    """The file or folder of a local store (``sqlite:///``, ``file:``, a path); None for servers and databases."""
    if uri.startswith("sqlite:///"):
        path = unquote(uri[len("sqlite:///") :])
        return None if path in ("", ":memory:") else Path(path)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path, a Windows drive letter
        return Path(uri)
    return None


def _is_mlflow_folder(path: Path) -> bool:
    return path.is_dir() and any((child / "meta.yaml").is_file() for child in path.iterdir())


def _is_mlflow_database(path: Path) -> bool:
    try:
        # immutable: reading the table names leaves no -wal or -shm file beside a database in WAL mode
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as database:
            tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return False
    return {"experiments", "runs", "alembic_version"} <= tables


@contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3.17 opens a file store only when told to: the import only reads it."""
    needed = _local_store_path(uri) is not None and not uri.startswith("sqlite:")
    before = os.environ.get(_FILE_STORE_SWITCH)
    if needed:
        os.environ[_FILE_STORE_SWITCH] = "true"
    try:
        yield
    finally:
        if needed:
            if before is None:
                os.environ.pop(_FILE_STORE_SWITCH, None)
            else:
                os.environ[_FILE_STORE_SWITCH] = before


def _experiments(client: Any, uri: str, names: list[str]) -> list[Any]:
    everything = _paged(lambda token: client.search_experiments(max_results=1000, page_token=token))
    if not names:
        return everything
    by_name = {experiment.name: experiment for experiment in everything}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        known = ", ".join(repr(name) for name in sorted(by_name)) or "none"
        raise NotFoundError(
            f"the MLflow tracking store {uri} has no active experiment named "
            f"{', '.join(repr(name) for name in unknown)}; its experiments: {known}"
        )
    return [by_name[name] for name in dict.fromkeys(names)]


def _all_runs(client: Any, experiment_id: str) -> list[Any]:
    return _paged(
        lambda token: client.search_runs(
            [experiment_id], max_results=1000, order_by=["attributes.start_time ASC"], page_token=token
        )
    )


def _logged_models(client: Any, experiment_ids: list[str]) -> dict[str, list[Any]]:
    """MLflow 3's logged models by the id of the run that logged them (MLflow 2 has none)."""
    if not hasattr(client, "search_logged_models") or not experiment_ids:
        return {}
    by_run: dict[str, list[Any]] = {}
    models = _paged(
        lambda token: client.search_logged_models(experiment_ids=experiment_ids, max_results=100, page_token=token)
    )
    for model in sorted(models, key=lambda model: (model.creation_timestamp or 0, model.model_id)):
        if model.source_run_id:
            by_run.setdefault(model.source_run_id, []).append(model)
    return by_run


def _paged(search: Callable[[str | None], Any]) -> list[Any]:
    items: list[Any] = []
    token = None
    while True:
        page = search(token)
        items.extend(page)
        token = page.token
        if not token:
            return items


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


def _histories(client: Any, runs: Sequence[Any]) -> dict[str, dict[str, list[Any]]]:
    """Every point of every metric of ``runs``, as MLflow reports them, by run id and metric name."""
    store = _bulk_store(client)
    if store is not None:
        return _histories_in_bulk(store, runs)
    requests = [(run.info.run_id, key) for run in runs for key in sorted(run.data.metrics)]
    # one request per metric of each run, mostly waiting for the store (a server): read by a few threads
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        answers = pool.map(lambda request: client.get_metric_history(*request), requests)
        histories: dict[str, dict[str, list[Any]]] = {}
        for (run_id, key), points in zip(requests, answers, strict=True):
            histories.setdefault(run_id, {})[key] = points
    return histories


def _bulk_store(client: Any) -> Any:
    """The database store behind ``client`` when it reads many runs' histories in one query, else None.

    MLflow's per-run query (``get_metric_history``) makes SQLite scan every
    point of that metric name in the store: 70 ms a call at a million points,
    so an import of 10,000 runs would take an hour. The store's bulk query (the
    one MLflow's UI uses) scans them once per batch of runs.
    """
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    return store if callable(getattr(store, "get_metric_history_bulk", None)) else None


def _histories_in_bulk(store: Any, runs: Sequence[Any]) -> dict[str, dict[str, list[Any]]]:
    histories: dict[str, dict[str, list[Any]]] = {run.info.run_id: {} for run in runs}
    keys = sorted({key for run in runs for key in run.data.metrics})
    for key in keys:
        run_ids = [run.info.run_id for run in runs if key in run.data.metrics]
        for item in store.get_metric_history_bulk(run_ids, key, max_results=None):
            histories[item.run_id].setdefault(key, []).append(item)  # a Metric with its run id
    return histories


def _explain_conflict(new: Entity, stored: Entity) -> None:
    what = new.annotations.get("mlflow.run_id") or new.annotations.get("mlflow.model_id") or new.id
    raise ConflictError(
        f"{new.KIND} {new.id!r} was imported from MLflow ({what}) with other content than the MLflow store "
        "holds now (was something logged to the run after it ended?). Stored entities are write-once: "
        "this batch of runs was not written; import into another store, or leave out its experiment with --experiment"
    )


# ---------------------------------------------------------------- MLflow -> entities


@dataclass
class _Input:
    """A run's dataset input: the entity and the input's context."""

    dataset: Dataset
    name: str
    digest: str
    context: str | None


class _Builder:
    """Turns MLflow runs into entities; datasets shared by runs are built once."""

    def __init__(self, source: MlflowSource) -> None:
        self.source = source
        self.client = source.client
        self.experiment_names = {experiment.experiment_id: experiment.name for experiment in source.experiments}
        self.datasets: dict[str, Dataset] = {}
        self.emitted: set[str] = set()
        self.notes: list[str] = []

    def run_entities(self, run: Any, histories: Mapping[str, dict[str, list[Any]]]) -> list[Entity]:
        info = run.info
        if info.status not in _STATES:
            self.notes.append(
                f"run {info.run_id} ({info.run_name or 'no name'}) is {info.status}: skipped, "
                "import again once it ended"
            )
            return []
        experiment = self.experiment_names[info.experiment_id]
        tags = dict(run.data.tags)
        creator = tags.get("mlflow.user") or info.user_id or None
        run_id = f"mlflow-run-{_id_part(info.run_id)}"
        inputs = [self.dataset_input(item, experiment, info.start_time) for item in run.inputs.dataset_inputs]
        training = _training_input(inputs)
        parameters, as_text = _parameters(run.data.params)
        if as_text:
            self.notes.append(
                f"run {info.run_id}: param(s) {', '.join(as_text)} kept as text (not spelled as Python spells a value)"
            )
        history = histories.get(info.run_id, {})
        points, negative_steps = _points(history)
        if negative_steps:
            self.notes.append(
                f"run {info.run_id}: metric(s) {', '.join(negative_steps)} have negative steps, stored without a step"
            )
        entities: list[Entity] = [item.dataset for item in inputs]
        models = self.models(run, experiment, training, parameters, creator, entities)
        annotations = {
            **_tag_annotations(tags),
            "mlflow.run_id": info.run_id,
            "mlflow.experiment_id": info.experiment_id,
            "mlflow.status": info.status,
            "mlflow.artifact_uri": info.artifact_uri,
            "mlflow.params_kept_as_text": ", ".join(as_text),
            "mlflow.negative_steps": ", ".join(negative_steps),
            "mlflow.logged_models": ", ".join(model.id for model in models) if len(models) > 1 else "",
        }
        start = _time_or_none(info.start_time)
        end = _time_or_none(info.end_time) or max((point.timestamp for point in points), default=start)
        entities.append(
            TrainingRun(
                id=run_id,
                name=info.run_name or None,
                experiment=experiment,
                creator=creator,
                comments=tags.get("mlflow.note.content") or None,
                state=_STATES[info.status],
                start_time=start,
                end_time=end,
                trained_on=training.dataset.id if training is not None else None,
                for_model=models[-1].id if models else None,
                hyperparameters=parameters,
                scores_over_time=points,
                annotations={key: value for key, value in annotations.items() if value},
                tags=_TAGS,
                creation_time=start or 0,
            )
        )
        entities.extend(self.evaluations(run, experiment, inputs, models, history, creator))
        return self.fresh(entities)

    def fresh(self, entities: list[Entity]) -> list[Entity]:
        """Entities not given to an earlier batch of this import (datasets are shared by runs)."""
        new = [entity for entity in entities if entity.id not in self.emitted]
        self.emitted.update(entity.id for entity in new)
        return new

    # ------------------------------------------------------------ datasets

    def dataset_input(self, item: Any, experiment: str, first_seen: int | None) -> _Input:
        mlflow_dataset = item.dataset
        context = next((tag.value for tag in item.tags if tag.key == "mlflow.data.context"), None)
        name, digest = mlflow_dataset.name, mlflow_dataset.digest
        id_ = f"mlflow-dataset-{_id_part(digest)}-{_short_hash(experiment, name, digest)}"
        if id_ not in self.datasets:
            self.datasets[id_] = _dataset_entity(id_, mlflow_dataset, experiment, _time_or_none(first_seen) or 0)
        return _Input(self.datasets[id_], name, digest, context)

    def placeholder_training_data(self, run: Any, experiment: str) -> Dataset:
        info = run.info
        return Dataset(
            id=f"mlflow-run-{_id_part(info.run_id)}-training-data",
            name=f"training data of MLflow run {info.run_name or info.run_id}",
            experiment=experiment,
            annotations={
                "mlflow.run_id": info.run_id,
                _CREATED_FROM: f"MLflow run {info.run_id}, which logged a model but no training dataset input",
            },
            tags=_TAGS,
            creation_time=_time_or_none(info.start_time) or 0,
        )

    # ------------------------------------------------------------ models

    def models(
        self,
        run: Any,
        experiment: str,
        training: _Input | None,
        run_parameters: tuple[Parameter, ...],
        creator: str | None,
        entities: list[Entity],
    ) -> list[Model]:
        """The run's logged models (appended to ``entities`` with what they need), oldest first."""
        logged = [model for model in self.source.models_by_run.get(run.info.run_id, ()) if _ready(model)]
        history = [] if logged else _model_history(run.data.tags.get("mlflow.log-model.history"))
        if not logged and not history:
            return []
        if training is not None:
            trained_on = training.dataset
        else:
            trained_on = self.placeholder_training_data(run, experiment)
            self.notes.append(f"run {run.info.run_id}: its model(s) are trained on {trained_on.id} (no training input)")
        entities.append(trained_on)
        models = [self.logged_model(model, run, experiment, trained_on.id, creator) for model in logged]
        models += [
            self.history_model(entry, run, experiment, trained_on.id, run_parameters, creator) for entry in history
        ]
        entities.extend(models)
        return models

    def logged_model(self, model: Any, run: Any, experiment: str, trained_on: str, creator: str | None) -> Model:
        parameters, _ = _parameters(model.params or run.data.params)
        # MLflow 3 keeps a model's flavors in its artifacts, which the import does not read
        algorithm, framework, version = _algorithm(run.data.tags, {}, model.model_type)
        tags = dict(model.tags or {})
        return Model(
            id=f"mlflow-model-{_id_part(model.model_id)}",
            name=model.name or model.model_id,
            learning_algorithm=algorithm,
            framework=framework,
            framework_version=version,
            trained_on=trained_on,
            location=model.model_uri,
            hyperparameters=parameters,
            experiment=experiment,
            creator=creator,
            annotations=_present(
                {
                    **_tag_annotations(tags),
                    "mlflow.model_id": model.model_id,
                    "mlflow.run_id": run.info.run_id,
                    "mlflow.artifact_location": model.artifact_location,
                    "mlflow.model_type": model.model_type,
                }
            ),
            tags=_TAGS,
            creation_time=_time_or_none(model.creation_timestamp) or 0,
        )

    def history_model(
        self,
        entry: Mapping[str, Any],
        run: Any,
        experiment: str,
        trained_on: str,
        parameters: tuple[Parameter, ...],
        creator: str | None,
    ) -> Model:
        """A model of MLflow 2's ``mlflow.log-model.history`` run tag."""
        path = str(entry.get("artifact_path") or "model")
        flavors = entry.get("flavors") if isinstance(entry.get("flavors"), Mapping) else {}
        algorithm, framework, version = _algorithm(run.data.tags, flavors, None)
        uuid = str(entry.get("model_uuid") or _short_hash(run.info.run_id, path))
        return Model(
            id=f"mlflow-model-{_id_part(uuid)}",
            name=path,
            learning_algorithm=algorithm,
            framework=framework,
            framework_version=version,
            trained_on=trained_on,
            location=f"runs:/{run.info.run_id}/{path}",
            hyperparameters=parameters,
            experiment=experiment,
            creator=creator,
            annotations=_present(
                {
                    "mlflow.model_uuid": str(entry.get("model_uuid") or ""),
                    "mlflow.run_id": run.info.run_id,
                    "mlflow.flavors": ", ".join(sorted(flavors)),
                    "mlflow.mlflow_version": str(entry.get("mlflow_version") or ""),
                }
            ),
            tags=_TAGS,
            creation_time=_utc_ms(entry.get("utc_time_created")) or _time_or_none(run.info.start_time) or 0,
        )

    # ------------------------------------------------------------ evaluations

    def evaluations(
        self,
        run: Any,
        experiment: str,
        inputs: list[_Input],
        models: list[Model],
        history: Mapping[str, list[Any]],
        creator: str | None,
    ) -> list[Entity]:
        """An evaluation per (model, evaluation input) with metrics logged against that input."""
        info = run.info
        candidates = [item for item in inputs if not _is_training(item, inputs)]
        if not candidates:
            return []
        if not models:
            if history:
                self.notes.append(
                    f"run {info.run_id}: logged inputs besides its training data but no model, so no evaluation "
                    "is made (an evaluation is of a model); its metrics are in its history"
                )
            return []
        linked = _linked_points(history, self.source.models_by_run.get(info.run_id, ()))
        model_ids = {model.annotations.get("mlflow.model_id"): model.id for model in models}
        run_model = models[-1].id
        scores: dict[tuple[str, str], dict[str, Any]] = {}  # (model, dataset) -> metric -> final point
        evaluated: dict[str, _Input] = {}
        for item in candidates:
            for (metric, name, digest, mlflow_model), point in linked.items():
                if (name, digest) == (item.name, item.digest):
                    model = model_ids.get(mlflow_model, run_model)
                    scores.setdefault((model, item.dataset.id), {})[metric] = point
                    evaluated[item.dataset.id] = item
        by_context = [item for item in candidates if (item.context or "").lower() in _EVALUATION_CONTEXTS]
        if len(by_context) == 1 and by_context[0].dataset.id not in evaluated:
            linked_metrics = {metric for metric, *_ in linked}
            unlinked = {
                metric: _final(points)
                for metric, points in history.items()
                if points and metric not in linked_metrics and not metric.startswith(_TRAINING_METRIC_PREFIX)
            }
            if unlinked:
                scores[(run_model, by_context[0].dataset.id)] = unlinked
                evaluated[by_context[0].dataset.id] = by_context[0]
        entities: list[Entity] = []
        for (model, dataset), points in scores.items():
            item = evaluated[dataset]
            entities.append(item.dataset)
            entities.append(
                Evaluation(
                    id=f"mlflow-run-{_id_part(info.run_id)}-evaluation-{_short_hash(model, dataset)}",
                    name=f"{item.name} ({item.context or 'no context'}) of MLflow run {info.run_name or info.run_id}",
                    computed_by=model,
                    on_dataset=dataset,
                    scores=[Score(metric=metric, value=float(point.value)) for metric, point in sorted(points.items())],
                    procedure=_EVALUATION_PROCEDURE,
                    experiment=experiment,
                    creator=creator,
                    annotations=_present({"mlflow.run_id": info.run_id, "mlflow.dataset.context": item.context}),
                    tags=_TAGS,
                    creation_time=max((_time_or_none(point.timestamp) or 0 for point in points.values()), default=0),
                )
            )
        return entities


# ---------------------------------------------------------------- helpers


def _training_input(inputs: list[_Input]) -> _Input | None:
    for item in inputs:
        if (item.context or "").lower() in _TRAIN_CONTEXTS:
            return item
    return inputs[0] if len(inputs) == 1 else None


def _is_training(item: _Input, inputs: list[_Input]) -> bool:
    training = _training_input(inputs)
    return training is not None and training.dataset.id == item.dataset.id


def _linked_points(history: Mapping[str, list[Any]], models: Iterable[Any]) -> dict[tuple[str, str, str, Any], Any]:
    """The final point of each metric MLflow links to a dataset, by (metric, dataset name, digest, model id)."""
    linked: dict[tuple[str, str, str, Any], list[Any]] = {}
    for metric, points in history.items():  # file stores keep the links in the run's history
        for point in points:
            if getattr(point, "dataset_name", None) and getattr(point, "dataset_digest", None):
                key = (metric, point.dataset_name, point.dataset_digest, getattr(point, "model_id", None))
                linked.setdefault(key, []).append(point)
    for model in models:  # database stores keep them with the logged model
        for point in getattr(model, "metrics", None) or ():
            if point.dataset_name and point.dataset_digest:
                key = (point.key, point.dataset_name, point.dataset_digest, model.model_id)
                linked.setdefault(key, []).append(point)
    return {key: _final(points) for key, points in linked.items()}


def _final(points: Sequence[Any]) -> Any:
    """The value MLflow reports as a metric's latest: largest step, then latest time."""
    return max(points, key=lambda point: (point.step, point.timestamp))


def _points(history: Mapping[str, list[Any]]) -> tuple[tuple[ScoreAtTime, ...], list[str]]:
    points: list[ScoreAtTime] = []
    negative: list[str] = []
    for metric, items in history.items():
        for item in items:
            step = item.step
            if not 0 <= step <= MAX_COUNT:
                step = None
                if metric not in negative:
                    negative.append(metric)
            # MLflow's own typed values: built without re-validating each of what may be millions of points
            points.append(ScoreAtTime.from_stored(metric, float(item.value), _clamped_time(item.timestamp), None, step))
    return tuple(points), negative


def _parameters(params: Mapping[str, str]) -> tuple[tuple[Parameter, ...], list[str]]:
    """Typed hyperparameters, and the names of those kept as text although they look like a number or flag."""
    parameters, as_text = [], []
    for name in sorted(params):
        text = params[name]
        value, typed = typed_param(text)
        parameters.append(Parameter(name=name, value=value))
        if not typed and _looks_typed(text):
            as_text.append(name)
    return tuple(parameters), as_text


def _looks_typed(text: str) -> bool:
    if text.strip().lower() in _FLAG_TEXTS:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tag_annotations(tags: Mapping[str, str]) -> dict[str, str]:
    """MLflow's own tags under their name, the user's as ``mlflow.tags.<name>``."""
    return {
        (key if key.startswith("mlflow.") else f"mlflow.tags.{key}"): value
        for key, value in tags.items()
        if key and value
    }


def _present(values: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def _dataset_entity(id_: str, mlflow_dataset: Any, experiment: str, created: int) -> Dataset:
    source = _json_object(mlflow_dataset.source)
    profile = _json_object(mlflow_dataset.profile)
    return Dataset(
        id=id_,
        name=mlflow_dataset.name,
        fingerprint=f"mlflow:{mlflow_dataset.digest}",
        location=_location(source),
        schema=_columns(_json_object(mlflow_dataset.schema)),
        row_count=_row_count(profile),
        experiment=experiment,
        annotations=_present(
            {
                "mlflow.dataset.digest": mlflow_dataset.digest,
                "mlflow.dataset.source_type": mlflow_dataset.source_type,
                "mlflow.dataset.source": mlflow_dataset.source,
                "mlflow.dataset.schema": mlflow_dataset.schema,
                "mlflow.dataset.profile": mlflow_dataset.profile,
            }
        ),
        tags=_TAGS,
        creation_time=created,
    )


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _location(source: Mapping[str, Any]) -> str | None:
    """Where the data lives, for the sources that say (``uri``, ``url``, ``path``); code sources do not."""
    for key in ("uri", "url", "path"):
        value = source.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _columns(schema: Mapping[str, Any]) -> list[TypedColumn]:
    """Typed columns of MLflow's column spec, or one column per tensor of its tensor spec."""
    columns = schema.get("mlflow_colspec")
    if isinstance(columns, list):
        return [
            TypedColumn(
                name=str(column.get("name") or index),
                typing=_COLUMN_TYPES.get(column.get("type"), TypeHint.UNKNOWN),
            )
            for index, column in enumerate(columns)
            if isinstance(column, Mapping)
        ]
    tensors = schema.get("mlflow_tensorspec")
    if not isinstance(tensors, Mapping):
        return []
    result = []
    for role in ("features", "targets"):
        specs = tensors.get(role)
        specs = json.loads(specs) if isinstance(specs, str) else specs
        for index, spec in enumerate(specs if isinstance(specs, list) else []):
            if not isinstance(spec, Mapping):
                continue
            dtype = str((spec.get("tensor-spec") or {}).get("dtype", ""))
            name = spec.get("name") or (role if len(specs) == 1 else f"{role}.{index}")
            result.append(TypedColumn(name=str(name), typing=_tensor_type(dtype)))
    return result


def _tensor_type(dtype: str) -> TypeHint:
    if dtype.startswith("float"):
        return TypeHint.VECTOR
    if dtype.startswith(("int", "uint")):
        return TypeHint.INT_ARRAY
    if dtype in ("str", "object"):
        return TypeHint.STRING_ARRAY
    return TypeHint.UNKNOWN


def _row_count(profile: Mapping[str, Any]) -> int | None:
    rows = profile.get("num_rows")
    if rows is None and isinstance(profile.get("features_shape"), list) and profile["features_shape"]:
        rows = profile["features_shape"][0]
    return rows if isinstance(rows, int) and not isinstance(rows, bool) and 0 <= rows <= MAX_COUNT else None


def _ready(model: Any) -> bool:
    status = getattr(model, "status", None)
    return str(getattr(status, "value", status) or "READY").upper() in ("READY", "2")


def _model_history(text: str | None) -> list[Mapping[str, Any]]:
    try:
        entries = json.loads(text) if text else []
    except ValueError:
        return []
    return [entry for entry in entries if isinstance(entry, Mapping)] if isinstance(entries, list) else []


def _algorithm(
    tags: Mapping[str, str], flavors: Mapping[str, Any], model_type: str | None
) -> tuple[str, str | None, str | None]:
    """(learning algorithm, framework, framework version) from autolog's tags, the flavors, the model type."""
    estimator_class = tags.get("estimator_class") or ""
    framework = next((name for name in flavors if name != "python_function"), None)
    details = flavors.get(framework) if framework else None
    version = None
    if isinstance(details, Mapping):
        version = next((str(value) for key, value in details.items() if key.endswith("_version") and value), None)
    framework = framework or estimator_class.partition(".")[0] or None
    estimator = tags.get("estimator_name") or estimator_class.rpartition(".")[2]
    return estimator or model_type or (f"{framework} model" if framework else "unknown"), framework, version


def _utc_ms(text: Any) -> int | None:
    """Milliseconds of MLflow 2's ``utc_time_created`` ("2024-01-02 03:04:05.678901")."""
    try:
        moment = datetime.fromisoformat(str(text)).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return _time_or_none(int(moment.timestamp() * 1000))


def _time_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TIME else None


def _clamped_time(value: Any) -> int:
    return min(max(int(value), 0), MAX_TIME) if isinstance(value, (int, float)) and math.isfinite(value) else 0


def _short_hash(*parts: Any) -> str:
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()[:12]


def _id_part(text: str) -> str:
    """``text`` when it may be part of an id (MLflow's hex ids and digests), else a short hash of it."""
    return text if text and len(text) <= 64 and is_valid_id(f"x{text}") and "." not in text else _short_hash(text)
