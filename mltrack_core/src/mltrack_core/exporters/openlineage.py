"""Export to OpenLineage: the stored lineage as run events a lineage server (Marquez, DataHub, ...) understands.

``mltrack export --format openlineage TARGET`` builds OpenLineage run events
with the OpenLineage Python client (``pip install 'mltrack-core[openlineage]'``)
and sends them to TARGET: a file (one JSON event per line, rewritten), ``-``
(standard output), or the ``http(s)`` URL of a lineage server, which receives
them at OpenLineage's standard endpoint ``api/v1/lineage`` (a URL that already
ends with it is used as it is); ``OPENLINEAGE_API_KEY``, when set, is sent as a
bearer token. ``--namespace`` (default ``mltrack``) is the namespace of every
job; ``--experiment NAME`` (repeatable) exports only those experiments and the
derivations of the datasets they use.

Mapping (every run gets a START event and a COMPLETE event, or FAIL for a
failed training run; a run still training gets its START only):

==========================  ==========================================================================
mltrack                     OpenLineage
==========================  ==========================================================================
TrainingRun                 a run of job ``<experiment or run name>.train``: inputs the training
                            dataset, outputs the model; START at ``start_time``, COMPLETE/FAIL at
                            ``end_time``
Model without a run         a run of job ``<experiment or model name>.train`` made from the model's
                            ``trained_on`` (both events at the model's ``creation_time``)
Prediction                  a run of job ``<experiment or model name>.predict``: inputs the model and
                            the dataset, outputs the prediction
Evaluation                  a run of job ``<experiment or model name>.evaluate``: inputs the model, the
                            dataset (and the prediction), outputs the evaluation; the scores in the
                            run facet ``mltrack``
Dataset.derived_from        a run of job ``<experiment or dataset name>.derive``: inputs the parent
                            datasets, outputs the dataset
Dataset                     a dataset named by its location (below) with facets ``schema`` (typed
                            columns), ``datasource`` (location), ``version`` (fingerprint, else
                            version) and ``documentation`` (name and comments)
Model                       a dataset (``datasetType`` MODEL) with ``schema`` (its feature or output
                            columns) and ``columnLineage``: each column traced through the stored
                            transform DAG back to the training dataset's columns
Transform                   no event of its own: the model's ``columnLineage`` facet
==========================  ==========================================================================

Run ids are ``uuid5`` of the mltrack id (a constant namespace), so exporting
again sends the same runs, which a lineage server updates rather than
duplicates. Event times are the stored times (ms since 1970, written in UTC).

Dataset names follow OpenLineage's naming conventions where a location is
known: ``file:///data/x.csv`` is namespace ``file``, name ``/data/x.csv``;
``s3://bucket/key`` is ``s3://bucket``, ``key``'s path; any ``scheme://host``
likewise. A dataset (or model, prediction) without such a location, or with the
location of a dataset it derives from (a split of a file), is named by its
mltrack id in the ``--namespace`` namespace. Every dataset also carries the
custom facet ``mltrack`` with its mltrack id and kind, so a consumer can map it
back.

Column lineage of a model: its columns are the input columns of each transform
without output columns (a scikit-learn estimator: the features it is fitted
on) and the output columns of the final transforms (a Spark model's
``prediction``, ``probability``, ...). Each is followed back through the
transforms' ``column_lineage`` (``"*"``: every input column of the transform)
and ``input_transforms``, as the dashboard's column DAG draws it (a
composition such as a ColumnTransformer passes its branches' columns on), to
the columns of the training dataset. A column of the data itself (a learner
fitted on raw columns) is ``DIRECT``/``IDENTITY``; one computed by operators is
``DIRECT``/``TRANSFORMATION``, the operators on the way named in the
description (``StandardScaler, PCA, ColumnTransformer``). A column that a
transform lists no lineage for has no input fields.

Custom facets (the spec allows them; their ``_schemaURL`` names an mltrack
schema, :data:`MLTRACK_FACET_SCHEMA`, that validators cannot fetch): the run
facet ``mltrack`` (mltrack id, kind, hyperparameters, scores, procedure,
derivation) and the dataset facet ``mltrack`` (id, kind). Only the core and
the standard facets can be validated against OpenLineage's schemas
(:func:`mltrack_core.testing.openlineage.validate_openlineage_event`).

Stored names and ids are text written by others: they only ever become JSON
strings (job and dataset names, descriptions), never paths or markup.
"""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from mltrack_core import __version__
from mltrack_core.columns import ColumnSource, model_column_lineage, model_columns, model_transforms
from mltrack_core.errors import MissingDependencyError, MltrackError
from mltrack_core.exporters._reading import stored_entities
from mltrack_core.schema import (
    Dataset,
    Entity,
    Evaluation,
    Model,
    Parameter,
    Prediction,
    TrainingRun,
    TrainingState,
    TypedColumn,
    TypeHint,
    json_safe,
)

if TYPE_CHECKING:
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent

    from mltrack_core.tracker import Tracker

__all__ = [
    "MLTRACK_FACET_SCHEMA",
    "PRODUCER",
    "RUN_ID_NAMESPACE",
    "OpenLineageExportSummary",
    "RunEventBuilder",
    "dataset_identity",
    "export_openlineage",
    "run_events",
    "run_id_of",
]

PRODUCER = f"https://pypi.org/project/mltrack-core/{__version__}/"
"""The ``producer`` of every event and facet: this package, at this version."""
MLTRACK_FACET_SCHEMA = "https://pypi.org/project/mltrack-core/openlineage/1-0-0/MltrackFacets.json"
"""The base of the custom facets' ``_schemaURL`` (``#/$defs/MltrackRunFacet``, ``#/$defs/MltrackDatasetFacet``)."""
RUN_ID_NAMESPACE = uuid.UUID("6f1e4c52-1f3c-5b8e-9a67-0d6b1c9a2e41")
"""The uuid5 namespace of run ids: run id = uuid5(this, "<job kind>:<mltrack id>")."""
LINEAGE_ENDPOINT = "api/v1/lineage"
INTEGRATION = "MLTRACK"
_KINDS_IN_ORDER = ("dataset", "transform", "run", "model", "prediction", "evaluation")
"""Runs before models: a model whose training run was exported gets no synthetic run."""


@dataclass
class OpenLineageExportSummary:
    """What :func:`export_openlineage` sent: events and runs per job kind."""

    target: str
    events: int = 0
    runs: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """One line: how many events of how many runs went where."""
        runs = ", ".join(f"{count} {kind}" for kind, count in sorted(self.runs.items())) or "no runs"
        return f"sent {self.events} OpenLineage events ({runs}) to {self.target}"


def run_id_of(job_kind: str, mltrack_id: str) -> str:
    """The deterministic OpenLineage run id of the ``job_kind`` run ("train", "evaluate", ...) of ``mltrack_id``."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{job_kind}:{mltrack_id}"))


def dataset_identity(location: str | None, mltrack_id: str, namespace: str) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of data at ``location``; else (``namespace``, ``mltrack_id``).

    ``file:///p`` and absolute paths are (``file``, ``/p``); ``scheme://host/p`` is
    (``scheme://host``, ``/p``); anything else (no location, ``runs:/...``) is named by the id.
    """
    if location:
        if location.startswith("/"):
            return "file", location
        try:
            parts = urlsplit(location)
        except ValueError:  # an unparsable URL (a bad IPv6 host): it is still a name, just not a location
            return namespace, mltrack_id
        path = unquote(parts.path)
        if parts.scheme == "file" and path:
            host = parts.netloc if parts.netloc not in ("", "localhost") else ""
            return ("file://" + host if host else "file"), path
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}", path or "/"
    return namespace, mltrack_id


# ---------------------------------------------------------------- events


def _client_classes() -> tuple[Any, Any]:
    try:
        from openlineage.client import event_v2, facet_v2
    except ImportError:
        raise MissingDependencyError(
            "the OpenLineage export needs openlineage-python: pip install 'mltrack-core[openlineage]'"
        ) from None
    return event_v2, facet_v2


@functools.cache
def _custom_facets() -> tuple[type, type]:
    """The classes of the custom facets ``mltrack`` (run and dataset), built on the client's base facets."""
    import attr
    from openlineage.client.generated.base import DatasetFacet, RunFacet

    @attr.define
    class MltrackRunFacet(RunFacet):
        """What OpenLineage has no facet for: the mltrack entity behind the run and its numbers."""

        id: str
        kind: str
        name: str | None = attr.field(default=None)
        experiment: str | None = attr.field(default=None)
        parameters: dict[str, Any] | None = attr.field(default=None)
        scores: dict[str, Any] | None = attr.field(default=None)
        procedure: str | None = attr.field(default=None)
        derivation: str | None = attr.field(default=None)

        @staticmethod
        def _get_schema() -> str:
            return f"{MLTRACK_FACET_SCHEMA}#/$defs/MltrackRunFacet"

    @attr.define
    class MltrackDatasetFacet(DatasetFacet):
        """The mltrack entity a dataset of the events is."""

        id: str
        kind: str

        @staticmethod
        def _get_schema() -> str:
            return f"{MLTRACK_FACET_SCHEMA}#/$defs/MltrackDatasetFacet"

    return MltrackRunFacet, MltrackDatasetFacet


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def _parameters(parameters: Iterable[Parameter]) -> dict[str, Any] | None:
    values = {parameter.name: json_safe(parameter.value) for parameter in parameters}
    return values or None


class RunEventBuilder:
    """Builds the run events of one entity at a time, reading what it names through the tracker's read cache.

    Used by :func:`run_events` and by the live observer
    (:mod:`mltrack_core.exporters.openlineage_observer`), so both send the same events.
    """

    def __init__(self, tracker: Tracker, namespace: str) -> None:
        self.tracker = tracker
        self.namespace = namespace
        self.event_v2, self.facet_v2 = _client_classes()
        self.run_facet, self.dataset_facet = _custom_facets()
        self._identities: dict[str, tuple[str, str]] = {}

    # ------------------------------------------------------------ naming

    def _get(self, id_: str | None) -> Entity | None:
        return None if id_ is None else self.tracker.get_many([id_], with_scores=False).get(id_)

    def identity(self, entity: Entity) -> tuple[str, str]:
        """The (namespace, name) of a dataset, model or prediction as an OpenLineage dataset."""
        if entity.id not in self._identities:
            location = getattr(entity, "location", None)
            if isinstance(entity, Dataset) and location and self._shares_parent_location(entity):
                location = None
            self._identities[entity.id] = dataset_identity(location, entity.id, self.namespace)
        return self._identities[entity.id]

    def _shares_parent_location(self, dataset: Dataset) -> bool:
        """Whether a dataset it derives from lives at the same place (a split of a file): then both cannot be it."""
        parents = self.tracker.get_many(list(dataset.derived_from), with_scores=False)
        return any(getattr(parent, "location", None) == dataset.location for parent in parents.values())

    def job(self, kind: str, base: str) -> Any:
        job_type = self.facet_v2.job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration=INTEGRATION, jobType=kind.upper(), producer=PRODUCER
        )
        return self.event_v2.Job(namespace=self.namespace, name=f"{base}.{kind}", facets={"jobType": job_type})

    # ------------------------------------------------------------ datasets

    def dataset_facets(self, entity: Entity) -> dict[str, Any]:
        """The facets every dataset of the events has: documentation, datasource, version, mltrack."""
        facets = self.facet_v2
        found: dict[str, Any] = {"mltrack": self.dataset_facet(id=entity.id, kind=entity.KIND, producer=PRODUCER)}
        description = "\n\n".join(text for text in (entity.name, entity.comments) if text)
        if description:
            found["documentation"] = facets.documentation_dataset.DocumentationDatasetFacet(
                description=description, producer=PRODUCER
            )
        location = getattr(entity, "location", None)
        if location:
            found["dataSource"] = facets.datasource_dataset.DatasourceDatasetFacet(
                name=self.identity(entity)[0], uri=location, producer=PRODUCER
            )
        version = getattr(entity, "fingerprint", None) or getattr(entity, "version", None)
        if version:
            found["version"] = facets.dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=version, producer=PRODUCER
            )
        schema = getattr(entity, "schema", ())
        if schema:
            found["schema"] = self.schema_facet(schema)
        if isinstance(entity, Model):
            found["datasetType"] = facets.dataset_type_dataset.DatasetTypeDatasetFacet(
                datasetType="MODEL", subType=entity.learning_algorithm, producer=PRODUCER
            )
        return found

    def schema_facet(self, columns: Iterable[TypedColumn]) -> Any:
        schema = self.facet_v2.schema_dataset
        fields = [
            schema.SchemaDatasetFacetFields(
                name=column.name, type=None if column.typing is TypeHint.UNKNOWN else column.typing.value
            )
            for column in columns
        ]
        return schema.SchemaDatasetFacet(fields=fields, producer=PRODUCER)

    def input(self, entity: Entity | None) -> list[InputDataset]:
        if entity is None:
            return []
        namespace, name = self.identity(entity)
        return [self.event_v2.InputDataset(namespace=namespace, name=name, facets=self.dataset_facets(entity))]

    def output(self, entity: Entity, extra: dict[str, Any] | None = None) -> list[OutputDataset]:
        namespace, name = self.identity(entity)
        facets = {**self.dataset_facets(entity), **(extra or {})}
        return [self.event_v2.OutputDataset(namespace=namespace, name=name, facets=facets)]

    def model_output(self, model: Model) -> list[OutputDataset]:
        """The model as the output of its training: its columns and their lineage from the training data."""
        transforms = model_transforms(self.tracker, model)
        columns = model_columns(transforms)
        extra: dict[str, Any] = {}
        if columns:
            extra["schema"] = self.schema_facet(columns)
        elif model.input:
            extra["schema"] = self.schema_facet(model.input)
        training_data = self._get(model.trained_on)
        lineage = model_column_lineage(transforms) if training_data is not None else {}
        if any(lineage.values()):
            extra["columnLineage"] = self.column_lineage_facet(lineage, training_data)  # type: ignore[arg-type]
        return self.output(model, extra)

    def column_lineage_facet(self, lineage: dict[str, dict[str, ColumnSource]], training_data: Entity) -> Any:
        column_lineage = self.facet_v2.column_lineage_dataset
        namespace, name = self.identity(training_data)
        fields = {}
        for column, sources in lineage.items():
            if not sources:
                continue
            input_fields = []
            for source in sources.values():
                subtype = "TRANSFORMATION" if source.operators else "IDENTITY"
                transformation = column_lineage.Transformation(
                    type="DIRECT", subtype=subtype, description=", ".join(source.operators) or None
                )
                input_fields.append(
                    column_lineage.InputField(
                        namespace=namespace, name=name, field=source.column, transformations=[transformation]
                    )
                )
            fields[column] = column_lineage.Fields(inputFields=input_fields)
        return column_lineage.ColumnLineageDatasetFacet(fields=fields, producer=PRODUCER)

    # ------------------------------------------------------------ runs

    def events(
        self,
        kind: str,
        entity: Entity,
        base: str,
        times: tuple[int, int | None],
        inputs: list[InputDataset],
        outputs: list[OutputDataset],
        end: str = "COMPLETE",
        **facet_fields: Any,
    ) -> Iterator[RunEvent]:
        """The START event, then (when ``times`` has an end) the ``end`` event, of one run."""
        event_v2 = self.event_v2
        facet = self.run_facet(
            id=entity.id,
            kind=entity.KIND,
            name=entity.name,
            experiment=entity.experiment,
            producer=PRODUCER,
            **facet_fields,
        )
        run = event_v2.Run(runId=run_id_of(kind, entity.id), facets={"mltrack": facet})
        job = self.job(kind, base)
        started, ended = times
        yield event_v2.RunEvent(
            eventType=event_v2.RunState.START,
            eventTime=_time(started),
            run=run,
            job=job,
            inputs=inputs,
            outputs=[],
            producer=PRODUCER,
        )
        if ended is not None:
            yield event_v2.RunEvent(
                eventType=getattr(event_v2.RunState, end),
                eventTime=_time(ended),
                run=run,
                job=job,
                inputs=inputs,
                outputs=outputs,
                producer=PRODUCER,
            )

    def training(self, run: TrainingRun) -> Iterator[RunEvent]:
        model = self._get(run.for_model)
        data = self._get(run.trained_on or getattr(model, "trained_on", None))
        base = run.experiment or run.name or "training"  # known at its start (the model is not), so stable
        started = run.start_time if run.start_time is not None else run.creation_time
        ended = None
        if run.state is not TrainingState.TRAINING:
            ended = run.end_time if run.end_time is not None else started
        outputs = self.model_output(model) if isinstance(model, Model) else []
        end = "FAIL" if run.state is TrainingState.FAILED else "COMPLETE"
        yield from self.events(
            "train",
            run,
            base,
            (started, ended),
            self.input(data),
            outputs,
            end,
            parameters=_parameters(run.hyperparameters or getattr(model, "hyperparameters", ())),
        )

    def training_of_model(self, model: Model) -> Iterator[RunEvent]:
        """A model with no exported training run: a run made from what the model says it was trained on."""
        yield from self.events(
            "train",
            model,
            model.experiment or model.name,
            (model.creation_time, model.creation_time),
            self.input(self._get(model.trained_on)),
            self.model_output(model),
            parameters=_parameters(model.hyperparameters),
        )

    def prediction(self, prediction: Prediction) -> Iterator[RunEvent]:
        model = self._get(prediction.computed_by)
        base = prediction.experiment or getattr(model, "name", None) or "prediction"
        yield from self.events(
            "predict",
            prediction,
            base,
            (prediction.creation_time, prediction.creation_time),
            [*self.input(model), *self.input(self._get(prediction.on_dataset))],
            self.output(prediction),
        )

    def evaluation(self, evaluation: Evaluation) -> Iterator[RunEvent]:
        model = self._get(evaluation.computed_by)
        base = evaluation.experiment or getattr(model, "name", None) or "evaluation"
        inputs = [
            *self.input(model),
            *self.input(self._get(evaluation.on_dataset)),
            *self.input(self._get(evaluation.for_prediction)),
        ]
        scores = {score.metric: json_safe(score.value) for score in evaluation.scores}
        yield from self.events(
            "evaluate",
            evaluation,
            base,
            (evaluation.creation_time, evaluation.creation_time),
            inputs,
            self.output(evaluation),
            scores=scores or None,
            procedure=evaluation.procedure,
        )

    def derivation(self, dataset: Dataset) -> Iterator[RunEvent]:
        parents = self.tracker.get_many(list(dataset.derived_from), with_scores=False)
        inputs = [item for id_ in dataset.derived_from for item in self.input(parents.get(id_))]
        yield from self.events(
            "derive",
            dataset,
            dataset.experiment or dataset.name,
            (dataset.creation_time, dataset.creation_time),
            inputs,
            self.output(dataset),
            derivation=dataset.derivation,
        )


def run_events(
    tracker: Tracker,
    *,
    namespace: str = "mltrack",
    experiments: Sequence[str] = (),
    on_entity: Callable[[], None] | None = None,
) -> Iterator[RunEvent]:
    """The OpenLineage run events of the stored entities (see the module's mapping), oldest first per kind.

    Args:
        tracker: The tracker whose store is exported.
        namespace: The namespace of every job (and of datasets named by their mltrack id).
        experiments: Only these experiments, plus the derivations of the datasets they use (empty: everything).
        on_entity: Called once per stored entity of the selection visited (for progress display).

    Yields:
        ``openlineage.client.event_v2.RunEvent`` objects, START before the end event of each run.

    Raises:
        MissingDependencyError: openlineage-python is not installed.
    """
    builder = RunEventBuilder(tracker, namespace)
    trained_models: set[str] = set()
    derived: set[str] = set()
    used: list[str] = []
    for entity in _selected_entities(tracker, experiments):
        if isinstance(entity, Dataset) and entity.derived_from:
            derived.add(entity.id)
            used.extend(entity.derived_from)
            yield from builder.derivation(entity)
        elif isinstance(entity, TrainingRun):
            if entity.for_model is not None:
                trained_models.add(entity.for_model)
            used.extend(id_ for id_ in (entity.trained_on,) if id_)
            yield from builder.training(entity)
        elif isinstance(entity, Model):
            used.append(entity.trained_on)
            if entity.id not in trained_models:
                yield from builder.training_of_model(entity)
        elif isinstance(entity, Prediction):
            used.append(entity.on_dataset)
            yield from builder.prediction(entity)
        elif isinstance(entity, Evaluation):
            used.append(entity.on_dataset)
            yield from builder.evaluation(entity)
        if on_entity is not None:
            on_entity()
    if experiments:  # the data the selection used came from somewhere: its derivations too
        yield from _derivations_upstream(tracker, builder, used, derived)


def _derivations_upstream(
    tracker: Tracker, builder: RunEventBuilder, pending: list[str], done: set[str]
) -> Iterator[RunEvent]:
    while pending:
        ids = [id_ for id_ in dict.fromkeys(pending) if id_ not in done]
        done.update(ids)
        pending = []
        for dataset in tracker.get_many(ids, with_scores=False).values():
            if isinstance(dataset, Dataset) and dataset.derived_from:
                pending.extend(dataset.derived_from)
                yield from builder.derivation(dataset)


def _selected_entities(tracker: Tracker, experiments: Sequence[str]) -> Iterator[Entity]:
    """Every stored entity (or those of ``experiments``), kind by kind in :data:`_KINDS_IN_ORDER`, oldest first."""
    selections: list[dict[str, Any]] = [{"experiment": name} for name in dict.fromkeys(experiments)] or [{}]
    for kind in _KINDS_IN_ORDER:
        for selection in selections:
            yield from stored_entities(tracker, (kind,), **selection)


# ---------------------------------------------------------------- sending


def export_openlineage(
    tracker: Tracker,
    target: str,
    *,
    namespace: str = "mltrack",
    experiments: Sequence[str] = (),
    on_entity: Callable[[], None] | None = None,
) -> OpenLineageExportSummary:
    """Send the stored lineage as OpenLineage run events to ``target`` (see the module's mapping).

    Args:
        tracker: The tracker whose store is exported.
        target: A file (rewritten, one JSON event per line), ``-`` (standard output) or the http(s) URL
            of a lineage server (events are POSTed to ``<url>/api/v1/lineage``; ``OPENLINEAGE_API_KEY``
            is sent as a bearer token when set).
        namespace: The namespace of the jobs.
        experiments: Only these experiments (and the derivations of the data they use); empty: everything.
        on_entity: Called once per stored entity of the selection visited (for progress display).

    Returns:
        How many events of how many runs were sent.

    Raises:
        MissingDependencyError: openlineage-python is not installed.
        MltrackError: the server refused an event or could not be reached, or the file cannot be written.
    """
    events = run_events(tracker, namespace=namespace, experiments=experiments, on_entity=on_entity)
    summary = OpenLineageExportSummary(target)
    if target == "-":
        from openlineage.client.serde import Serde

        for event in events:
            sys.stdout.write(Serde.to_json(event) + "\n")
            _count(summary, event)
        return summary
    client = _client_for(target)
    try:
        for event in events:
            _emit(client, event, target)
            _count(summary, event)
    finally:
        client.close()
    return summary


def _count(summary: OpenLineageExportSummary, event: RunEvent) -> None:
    summary.events += 1
    if event.eventType.value == "START":
        kind = event.job.name.rpartition(".")[2]
        summary.runs[kind] = summary.runs.get(kind, 0) + 1


def _is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


def _client_for(target: str) -> Any:
    """An OpenLineageClient with the transport for ``target``: HTTP for a URL, else a file rewritten now."""
    _client_classes()
    if _is_url(target):
        from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider

        if urlsplit(target).path.rstrip("/").endswith("/" + LINEAGE_ENDPOINT):
            url, endpoint = target, ""  # the endpoint's own URL
        else:
            url, endpoint = target.rstrip("/") + "/", LINEAGE_ENDPOINT  # the slash keeps a path prefix (urljoin)
        api_key = os.environ.get("OPENLINEAGE_API_KEY")
        auth = ApiKeyTokenProvider({"api_key": api_key}) if api_key else TokenProvider({})
        return _client(HttpTransport(HttpConfig(url=url, endpoint=endpoint, auth=auth)))
    from openlineage.client.transport.file import FileConfig, FileTransport

    client = _client(FileTransport(FileConfig(log_file_path=target, append=True)))
    try:
        with open(target, "w", encoding="utf-8"):  # emptied: the file transport appends the events, one a line
            pass
    except OSError as error:
        raise MltrackError(f"cannot write the OpenLineage events to {target}: {error.strerror or error}") from error
    return client


def _client(transport: Any) -> Any:
    from openlineage.client import OpenLineageClient

    client = OpenLineageClient(transport=transport)
    if client.transport.kind == "noop":
        raise MltrackError(
            "OPENLINEAGE_DISABLED is true, so the OpenLineage client would send nothing: unset it to export"
        )
    return client


def _emit(client: Any, event: RunEvent, target: str) -> None:
    try:
        client.emit(event)
    except Exception as error:  # requests' and the file transport's errors alike: one actionable message
        where = "the lineage server at " + target if _is_url(target) else target
        raise MltrackError(
            f"sending the {event.eventType.value} event of job {event.job.name!r:.200} to {where} failed "
            f"({type(error).__name__}: {str(error)[:300]}); events before it were sent, and exporting again "
            "sends the same runs"
        ) from error
