"""Import experiments from OpenML (https://www.openml.org), as the paper does.

``import_openml(tracker, sources)`` reads OpenML API documents (XML files
saved from the REST API, folders of them, or ``KIND/ID`` references fetched
from the live API with the ``openml`` package: ``pip install
'mltrack-core[openml]'``) and stores what they describe:

* a dataset (``description.xml``, with ``features.xml`` and ``qualities.xml``
  from the same folder) -> a :class:`Dataset` with typed columns, nominal
  values and missing-value counts as column statistics, the qualities as
  dataset statistics, the OpenML file URL as location and its MD5 checksum as
  fingerprint;
* a flow -> a DAG of :class:`Transform` entities, one per flow and nested
  component (a flow consumes its components), with the parameter defaults;
* a setup -> a :class:`Transform` holding the configured parameter values,
  their defaults and which of them are not the default;
* a task -> a dataset derived from the task's source dataset (the task's data
  splits), with the target column, and the estimation procedure and evaluation
  measures kept as annotations;
* a run -> a :class:`Model` trained on the task's dataset (hyperparameters
  from the run's setup, or from its parameter settings with the flow's
  defaults, non-default values marked), a :class:`Prediction` for its
  predictions file and an :class:`Evaluation` on the task's dataset whose
  procedure is the task's estimation procedure; scores are the run's measures,
  with per-class arrays as ``<measure>.per_class`` and per-fold values as
  ``<measure>.per_fold``;
* an evaluation listing -> the model and evaluation of each listed run whose
  own description is not imported.

Ids derive from OpenML ids (``openml-dataset-2``, ``openml-flow-4024``,
``openml-task-1``, ``openml-setup-100``, ``openml-run-100-model``, ...) and
creation times from OpenML upload dates (0 when a document has none), so
importing the same documents twice creates nothing new.

When a document refers to an object whose description is not imported (run
100 names dataset 28, which no file describes) and the store does not hold it
either, a minimal entity is made from what the reference says (name, OpenML
id, file URL) and annotated ``openml.created_from``. Stored entities are
write-once: import descriptions before, or together with, the runs and tasks
that refer to them; importing a description after such a placeholder was
stored is refused with a :class:`~mltrack_core.errors.ConflictError` that
says so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.errors import ConflictError, MissingDependencyError, MltrackError, NotFoundError, SchemaError
from mltrack_core.importers import _openml_xml as oml
from mltrack_core.importers._writing import ImportSummary, write_entities
from mltrack_core.schema import (
    Dataset,
    DataStatistic,
    Entity,
    Evaluation,
    Model,
    Parameter,
    Prediction,
    Score,
    Transform,
    TypedColumn,
    TypeHint,
)

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["OpenMLUnavailableError", "import_openml", "plan_sources"]

_REFERENCE = re.compile(r"^(run|dataset|data|flow|task|setup)[/:](\d+)$")
_CREATED_FROM = "openml.created_from"
_TAGS = {"source": "openml"}
_SITE = "https://www.openml.org"
_COLUMN_TYPES = {
    "numeric": TypeHint.DOUBLE,
    "nominal": TypeHint.STRING,
    "string": TypeHint.STRING,
    "date": TypeHint.STRING,
}
_ENVIRONMENT_MEASURES = {"os_information", "scimark_benchmark"}  # facts about the machine, not the model
_LOWER_IS_BETTER_MEASURES = {"average_cost", "total_cost"}  # names the generic direction rule misreads


class OpenMLUnavailableError(MltrackError, ConnectionError):
    """The OpenML server cannot be reached to fetch a document by id."""


# ---------------------------------------------------------------- public API


def plan_sources(sources: Iterable[str | Path]) -> list[str | Path]:
    """The documents to read: files as they are, folders as their ``*.xml`` files, ``KIND/ID`` references.

    Raises:
        SchemaError: an argument is neither an existing file or folder nor a reference such as ``run/100``.
    """
    planned: list[str | Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files = sorted(path.rglob("*.xml"))
            if not files:
                raise SchemaError(f"{path} holds no OpenML *.xml documents")
            planned.extend(files)
        elif path.is_file():
            planned.append(path)
        elif isinstance(source, str) and _REFERENCE.match(source.strip()):
            kind, number = _REFERENCE.match(source.strip()).groups()  # type: ignore[union-attr]
            planned.append(f"{'dataset' if kind == 'data' else kind}/{number}")
        else:
            raise SchemaError(
                f"{source!s} is neither a file nor a folder; to fetch from OpenML by id write KIND/ID, "
                "for example run/100, dataset/2, flow/4024, task/1 or setup/100"
            )
    return planned


def import_openml(
    tracker: Tracker, sources: Iterable[str | Path], *, on_source: Callable[[str | Path], None] | None = None
) -> ImportSummary:
    """Read OpenML documents (files, folders, ``KIND/ID`` references) and store what they describe.

    Args:
        tracker: the tracker to write with.
        sources: files, folders of ``*.xml`` files, or ``KIND/ID`` references such as ``run/100``.
        on_source: called after each planned source was read (for progress display).

    Raises:
        SchemaError: a file is not an OpenML document it can read (the message names it).
        OpenMLUnavailableError: a reference must be fetched and the server cannot be reached.
        MissingDependencyError: a reference must be fetched and the ``openml`` package is missing.
        ConflictError: an id is stored with other content (nothing is written).
    """
    sources = list(sources)
    planned = plan_sources(sources)
    bundle = oml.Bundle()
    for source in planned:
        if isinstance(source, Path):
            bundle.add(source, oml.parse_file(source))
        else:
            for name, root in _fetch(source):
                bundle.add(Path(name), root)
        if on_source is not None:
            on_source(source)
    bundle.check_pairs()
    summary = ImportSummary(", ".join(str(source) for source in sources) or "nothing")
    builder = _Builder(tracker, bundle)
    entities = builder.build()
    summary.notes.extend(builder.notes)
    write_entities(tracker, entities, summary, check=_explain_conflict)
    return summary


def _explain_conflict(new: Entity, stored: Entity) -> None:
    origin = stored.annotations.get(_CREATED_FROM)
    if origin and _CREATED_FROM not in new.annotations:
        raise ConflictError(
            f"{stored.KIND} {stored.id!r} is stored as a placeholder made from {origin}, before its own OpenML "
            "description was imported. Stored entities are write-once, so the description cannot replace it: "
            "import descriptions before (or together with) the runs, tasks and listings that refer to them. "
            "Nothing was written."
        )


# ---------------------------------------------------------------- fetching by id


def _fetch(reference: str) -> list[tuple[str, ElementTree.Element]]:
    """The XML documents the live OpenML API returns for ``reference`` (``run/100``, ``dataset/2``, ...)."""
    try:
        import openml
        import requests
    except ImportError:
        raise MissingDependencyError(
            f"fetching {reference} from OpenML needs the openml package: pip install 'mltrack-core[openml]' "
            "(or import saved XML files instead)"
        ) from None
    kind, _, number = reference.partition("/")
    endpoints = {
        "dataset": [f"data/{number}", f"data/features/{number}", f"data/qualities/{number}"],
        "run": [f"run/{number}"],
        "flow": [f"flow/{number}"],
        "task": [f"task/{number}"],
        "setup": [f"setup/{number}"],
    }[kind]
    server = openml.config.server
    documents = []
    for part, endpoint in enumerate(endpoints):
        try:
            # the same XML the offline files hold, so both paths share one reader
            text = openml._api_calls._perform_api_call(endpoint, "get")
        except openml.exceptions.OpenMLServerException as exc:
            raise NotFoundError(f"OpenML ({server}) has no {kind} {number}: {exc}") from None
        except (requests.exceptions.RequestException, openml.exceptions.OpenMLServerError, OSError) as exc:
            raise OpenMLUnavailableError(
                f"cannot fetch {reference} from the OpenML server {server}: {type(exc).__name__}: {exc}. "
                "Importing by id needs network access to it (the server and retries are set in the openml "
                "configuration file); without it, save the XML documents elsewhere and import the files: "
                "mltrack import openml FILE_OR_FOLDER"
            ) from None
        # the parts of one dataset share a folder-like name, as description.xml, features.xml and qualities.xml do
        documents.append((f"{server}/{reference}/{part}", oml.parse_text(text, f"{server}/{endpoint}")))
    return documents


# ---------------------------------------------------------------- documents -> entities


def _framework(external_version: str | None, flow_name: str) -> tuple[str | None, str | None]:
    """(framework, version) from a flow's external version: ``Weka_3.7.12`` or ``openml==0.15,sklearn==1.5``."""
    if not external_version:
        return None, None
    if "==" in external_version:
        versions = dict(part.strip().split("==", 1) for part in external_version.split(",") if "==" in part)
        package = flow_name.partition(".")[0]
        if package in versions:
            return package, versions[package]
        return None, None
    name, separator, version = external_version.partition("_")
    return (name, version) if separator else (external_version, None)


def _annotations(**values: Any) -> dict[str, str]:
    return {f"openml.{key}": str(value) for key, value in values.items() if value not in (None, "", [])}


class _Builder:
    """Turns one bundle of documents into entities, resolving references against the bundle, then the store."""

    def __init__(self, tracker: Tracker, bundle: oml.Bundle) -> None:
        self.tracker = tracker
        self.bundle = bundle
        self.entities: dict[str, Entity] = {}
        self.notes: list[str] = []
        self._stored: dict[str, Entity | None] = {}

    def build(self) -> list[Entity]:
        for number in sorted(self.bundle.datasets):
            self.dataset(number, referrer="")
        for number in sorted(self.bundle.flows):
            self.flow(number, "", referrer="")
        for number in sorted(self.bundle.setups):
            self.setup(number)
        for number in sorted(self.bundle.tasks):
            self.task(number, None, referrer="")
        for number in sorted(self.bundle.runs):
            self.run(self.bundle.runs[number])
        for number in sorted(self.bundle.listed):
            self.listed_run(number, self.bundle.listed[number])
        return list(self.entities.values())

    def stored(self, id_: str) -> Entity | None:
        if id_ not in self._stored:
            self._stored[id_] = self.tracker.get_many([id_], with_scores=False).get(id_)
        return self._stored[id_]

    def known(self, id_: str) -> Entity | None:
        return self.entities.get(id_) or self.stored(id_)

    def add(self, entity: Entity) -> Entity:
        self.entities.setdefault(entity.id, entity)
        return self.entities[entity.id]

    def placeholder(self, entity: Entity, what: str) -> None:
        self.add(entity)
        self.notes.append(f"{entity.id}: made from {entity.annotations[_CREATED_FROM]} ({what} was not imported)")

    # ------------------------------------------------------------ datasets

    def dataset(self, number: int, *, referrer: str, name: str | None = None, url: str | None = None) -> str:
        id_ = f"openml-dataset-{number}"
        document = self.bundle.datasets.get(number)
        if document is not None:
            if id_ not in self.entities:
                self.add(_dataset_entity(document))
        elif self.known(id_) is None:
            self.placeholder(
                Dataset(
                    id=id_,
                    name=name or f"OpenML dataset {number}",
                    location=url,
                    annotations={**_annotations(dataset_id=number, url=f"{_SITE}/d/{number}"), _CREATED_FROM: referrer},
                    tags=_TAGS,
                    creation_time=0,
                ),
                f"the description of dataset {number}",
            )
        return id_

    def task(self, number: int, source_dataset: tuple[int, str | None, str | None] | None, *, referrer: str) -> Dataset:
        id_ = f"openml-task-{number}"
        element = self.bundle.tasks.get(number)
        if element is not None:
            if id_ not in self.entities:
                self.add(self._task_entity(number, element))
            return self.entities[id_]  # type: ignore[return-value]
        known = self.known(id_)
        if known is not None:
            return known  # type: ignore[return-value]
        derived_from, derivation = [], f"the data splits of OpenML task {number}"
        if source_dataset is not None:
            dataset_number, dataset_name, url = source_dataset
            derived_from = [self.dataset(dataset_number, referrer=referrer, name=dataset_name, url=url)]
            derivation += f" on dataset {dataset_number}"
        entity = Dataset(
            id=id_,
            name=f"OpenML task {number}",
            derived_from=derived_from,
            derivation=derivation,
            annotations={**_annotations(task_id=number, url=f"{_SITE}/t/{number}"), _CREATED_FROM: referrer},
            tags=_TAGS,
            creation_time=0,
        )
        self.placeholder(entity, f"the description of task {number}")
        return entity

    def _task_entity(self, number: int, element: ElementTree.Element) -> Dataset:
        where = f"task {number}"
        inputs = {item.get("name"): item for item in element.findall("oml:input", oml.NS)}
        source = inputs.get("source_data")
        data_set = source.find("oml:data_set", oml.NS) if source is not None else None
        if data_set is None:
            raise SchemaError(f"{where}: the task names no source dataset")
        dataset_number = oml.integer(oml.text(data_set, "data_set_id"), where)
        target = oml.text(data_set, "target_feature")
        task_type = oml.text(element, "task_type")
        listed = self.bundle.listed_dataset_name(dataset_number)
        source_id = self.dataset(dataset_number, referrer=f"task {number}", name=listed)
        procedure, procedure_annotations = _estimation_procedure(inputs.get("estimation_procedure"))
        measures_input = inputs.get("evaluation_measures")
        measures = (
            oml.texts(measures_input.find("oml:evaluation_measures", oml.NS), "evaluation_measure")
            if (measures_input is not None and measures_input.find("oml:evaluation_measures", oml.NS) is not None)
            else []
        )
        description = ", ".join(part for part in (task_type, f"target {target}" if target else None, procedure) if part)
        return Dataset(
            id=f"openml-task-{number}",
            name=f"OpenML task {number}" + (f" ({task_type})" if task_type else ""),
            derived_from=[source_id],
            derivation=f"the data splits of OpenML task {number}: {description}",
            target=target,
            location=procedure_annotations.pop("openml.data_splits_url", None),
            annotations={
                **_annotations(
                    task_id=number,
                    task_type=task_type,
                    target=target,
                    estimation_procedure=procedure,
                    evaluation_measures=", ".join(measures),
                    tags=", ".join(oml.texts(element, "tag")),
                    url=f"{_SITE}/t/{number}",
                ),
                **procedure_annotations,
            },
            tags=_TAGS,
            creation_time=0,
        )

    # ------------------------------------------------------------ flows and setups

    def flow(self, number: int, flow_name: str, *, referrer: str) -> list[str]:
        """The ids of the flow's transform DAG (root first, then by depth and id)."""
        id_ = f"openml-flow-{number}"
        if number in self.bundle.flows:
            self._add_flow(number)
        elif self.known(id_) is None:
            name, version = oml.split_full_name(flow_name)
            self.placeholder(
                Transform(
                    id=id_,
                    name=flow_name or f"OpenML flow {number}",
                    operator=name or None,
                    version=version,
                    annotations={**_annotations(flow_id=number, url=f"{_SITE}/f/{number}"), _CREATED_FROM: referrer},
                    tags=_TAGS,
                    creation_time=0,
                ),
                f"the description of flow {number}",
            )
        return self._dag(id_)

    def _add_flow(self, number: int) -> None:
        if f"openml-flow-{number}" in self.entities:
            return
        document = self.bundle.flows[number]
        for _, component in document.components:
            self._add_flow(component)
        self.add(_flow_entity(document))

    def _dag(self, root: str) -> list[str]:
        depth = {root: 0}
        frontier = [root]
        while frontier:
            following = []
            for id_ in frontier:
                transform = self.known(id_)
                for child in transform.input_transforms if isinstance(transform, Transform) else ():
                    if child not in depth:
                        depth[child] = depth[id_] + 1
                        following.append(child)
            frontier = following
        return sorted(depth, key=lambda id_: (depth[id_], id_))

    def flow_defaults(self, number: int) -> dict[str, Any] | None:
        transform = self.known(f"openml-flow-{number}")
        if not isinstance(transform, Transform) or _CREATED_FROM in transform.annotations:
            return None
        return {parameter.name: parameter.default for parameter in transform.parameters}

    def setup(self, number: int) -> Transform | None:
        id_ = f"openml-setup-{number}"
        if number not in self.bundle.setups or id_ in self.entities:
            return self.known(id_)  # type: ignore[return-value]
        flow_number = self.bundle.setup_flows[number]
        parameters = self.bundle.setups[number]
        root_names = {parameter.flow_name for parameter in parameters if parameter.flow_id == flow_number}
        operator = oml.split_full_name(sorted(root_names)[0])[0] if root_names else f"OpenML flow {flow_number}"
        return self.add(  # type: ignore[return-value]
            Transform(
                id=id_,
                name=f"{operator} setup {number}",
                operator=operator,
                parameters=[
                    Parameter.of(_parameter_name(parameter, flow_number), parameter.value, default=parameter.default)
                    for parameter in parameters
                ],
                annotations=_annotations(setup_id=number, flow_id=flow_number),
                tags=_TAGS,
                creation_time=0,
            )
        )

    # ------------------------------------------------------------ runs

    def run(self, run: oml.RunDocument) -> None:
        element = run.element
        where = f"run {run.id}"
        task_number = oml.integer(oml.text(element, "task_id"), where)
        flow_number = oml.integer(oml.text(element, "flow_id"), where)
        flow_name = oml.text(element, "flow_name") or f"OpenML flow {flow_number}"
        setup_number = oml.optional_integer(oml.text(element, "setup_id"))
        input_dataset = element.find("oml:input_data/oml:dataset", oml.NS)
        source = (
            (
                oml.integer(oml.text(input_dataset, "did"), where),
                oml.text(input_dataset, "name"),
                oml.text(input_dataset, "url"),
            )
            if input_dataset is not None
            else None
        )
        task = self.task(task_number, source, referrer=f"run {run.id}")
        transforms = self.flow(flow_number, flow_name, referrer=f"run {run.id}")
        settings = [
            (
                oml.required(setting, "name", where),
                oml.value(oml.text(setting, "value")),
                oml.optional_integer(oml.text(setting, "component")),
            )
            for setting in element.findall("oml:parameter_setting", oml.NS)
        ]
        hyperparameters, unknown_defaults = self.hyperparameters(setup_number, flow_number, settings)
        measures = [measure for measure in run.measures if measure.name in _ENVIRONMENT_MEASURES]
        environment = {
            f"openml.{measure.name}": " ".join(part for part in (measure.value, measure.array) if part)
            for measure in measures
            if measure.fold is None
        }
        created = oml.ms(oml.text(element, "upload_time"))
        algorithm, _ = oml.split_full_name(flow_name)
        annotations = _annotations(
            run_id=run.id,
            task_id=task_number,
            flow_id=flow_number,
            setup_id=setup_number,
            setup_string=oml.text(element, "setup_string"),
            error=oml.text(element, "error"),
            url=f"{_SITE}/r/{run.id}",
            tags=", ".join(oml.texts(element, "tag")),
        )
        if unknown_defaults:
            annotations["openml.parameter_defaults"] = (
                f"unknown for {', '.join(unknown_defaults)}: "
                f"neither setup {setup_number} nor flow {flow_number} was imported"
            )
        flow = self.known(f"openml-flow-{flow_number}")
        model = self.add(
            Model(
                id=f"openml-run-{run.id}-model",
                name=f"OpenML run {run.id}: {algorithm}",
                learning_algorithm=algorithm,
                trained_on=task.id,
                framework=flow.framework if isinstance(flow, Transform) else None,
                framework_version=flow.framework_version if isinstance(flow, Transform) else None,
                version=flow.version if isinstance(flow, Transform) else None,
                hyperparameters=hyperparameters,
                transforms=transforms,
                environment=environment,
                creator=oml.text(element, "uploader_name"),
                annotations=annotations,
                tags=_TAGS,
                creation_time=created,
            )
        )
        files = {
            oml.text(item, "name"): oml.text(item, "url")
            for item in element.findall("oml:output_data/oml:file", oml.NS)
        }
        prediction = None
        if files.get("predictions"):
            prediction = self.add(
                Prediction(
                    id=f"openml-run-{run.id}-predictions",
                    name=f"predictions of OpenML run {run.id}",
                    computed_by=model.id,
                    on_dataset=task.id,
                    location=files["predictions"],
                    annotations=_annotations(run_id=run.id),
                    tags=_TAGS,
                    creation_time=created,
                )
            )
        scores = _scores([measure for measure in run.measures if measure.name not in _ENVIRONMENT_MEASURES])
        if scores:
            self.add(
                Evaluation(
                    id=f"openml-run-{run.id}-evaluation",
                    name=f"evaluation of OpenML run {run.id}",
                    computed_by=model.id,
                    on_dataset=task.id,
                    for_prediction=prediction.id if prediction is not None else None,
                    scores=scores,
                    procedure=_procedure_of(task),
                    annotations=_annotations(run_id=run.id, task_id=task_number),
                    tags=_TAGS,
                    creation_time=created,
                )
            )

    def hyperparameters(
        self, setup_number: int | None, flow_number: int, settings: Sequence[tuple[str, Any, int | None]]
    ) -> tuple[list[Parameter], list[str]]:
        """The model's hyperparameters, and the names whose defaults are unknown."""
        setup = self.setup(setup_number) if setup_number is not None else None
        if setup is not None:
            return list(setup.parameters), []
        defaults = self.flow_defaults(flow_number)
        parameters, unknown = [], []
        for name, value, component in settings:
            full_name = name if component in (None, flow_number) else f"flow {component}.{name}"
            found = _default_for(defaults if component in (None, flow_number) else self.flow_defaults(component), name)
            if found is _UNKNOWN:
                unknown.append(full_name)
                parameters.append(Parameter.of(full_name, value))
            else:
                parameters.append(Parameter.of(full_name, value, default=found))
        return parameters, unknown

    def listed_run(self, number: int, rows: list[dict[str, str | None]]) -> None:
        model_id = f"openml-run-{number}-model"
        stored = self.stored(model_id)
        if number in self.bundle.runs or (stored is not None and _CREATED_FROM not in stored.annotations):
            self.notes.append(
                f"run {number}: its evaluation listing was skipped, the run's own description is imported"
            )
            return
        first = rows[0]
        where = f"evaluation listing of run {number}"
        referrer = f"the OpenML evaluation listing of run {number}"
        task_number = oml.integer(first.get("task_id"), where)
        flow_number = oml.integer(first.get("flow_id"), where)
        flow_name = first.get("flow_name") or f"OpenML flow {flow_number}"
        source = (oml.integer(first.get("data_id"), where), first.get("data_name"), None)
        task = self.task(task_number, source, referrer=referrer)
        transforms = self.flow(flow_number, flow_name, referrer=referrer)
        flow = self.known(f"openml-flow-{flow_number}")
        if isinstance(flow, Transform) and flow.operator and flow.operator != oml.split_full_name(flow_name)[0]:
            self.notes.append(
                f"run {number}: the evaluation listing names flow {flow_number} {flow_name!r}, "
                f"but flow {flow_number} is {flow.operator!r}"
            )
        setup_number = oml.optional_integer(first.get("setup_id"))
        setup = self.setup(setup_number) if setup_number is not None else None
        created = oml.ms(first.get("upload_time"))
        algorithm = oml.split_full_name(flow_name)[0]
        model = self.add(
            Model(
                id=model_id,
                name=f"OpenML run {number}: {algorithm}",
                learning_algorithm=algorithm,
                trained_on=task.id,
                hyperparameters=setup.parameters if setup is not None else (),
                transforms=transforms,
                annotations={
                    **_annotations(run_id=number, task_id=task_number, flow_id=flow_number, setup_id=setup_number),
                    **_annotations(url=f"{_SITE}/r/{number}", uploader=first.get("uploader")),
                    _CREATED_FROM: referrer,
                },
                tags=_TAGS,
                creation_time=created,
            )
        )
        measures = [
            oml.Measure(row.get("function") or "", row.get("value"), row.get("array_data"), None, None, None)
            for row in rows
            if row.get("function")
        ]
        self.add(
            Evaluation(
                id=f"openml-run-{number}-evaluation",
                name=f"evaluation of OpenML run {number}",
                computed_by=model.id,
                on_dataset=task.id,
                scores=_scores(measures),
                procedure=_procedure_of(task),
                annotations={**_annotations(run_id=number, task_id=task_number), _CREATED_FROM: referrer},
                tags=_TAGS,
                creation_time=created,
            )
        )


_UNKNOWN = object()


def _default_for(defaults: dict[str, Any] | None, name: str) -> Any:
    if defaults is None:
        return _UNKNOWN
    for candidate in (name, f"-{name}", name.lstrip("-")):
        if candidate in defaults:
            return defaults[candidate]
    return _UNKNOWN


def _parameter_name(parameter: oml.SetupParameter, root_flow: int) -> str:
    if parameter.flow_id == root_flow:
        return parameter.name
    return f"{oml.split_full_name(parameter.flow_name)[0] or f'flow {parameter.flow_id}'}.{parameter.name}"


def _procedure_of(task: Dataset) -> str:
    return (
        task.annotations.get("openml.estimation_procedure")
        or f"the estimation procedure of OpenML task {task.annotations.get('openml.task_id')}"
    )


def _estimation_procedure(element: ElementTree.Element | None) -> tuple[str | None, dict[str, str]]:
    """A readable procedure ("10-fold crossvalidation, stratified") and its details as annotations."""
    procedure = element.find("oml:estimation_procedure", oml.NS) if element is not None else None
    if procedure is None:
        return None, {}
    kind = oml.text(procedure, "type") or "unknown procedure"
    parameters = {
        item.get("name"): item.text.strip()
        for item in procedure.findall("oml:parameter", oml.NS)
        if item.text and item.text.strip()
    }
    folds, repeats = parameters.get("number_folds"), parameters.get("number_repeats")
    if kind == "crossvalidation" and folds:
        text = f"{folds}-fold crossvalidation"
    elif kind == "holdout" and parameters.get("percentage"):
        text = f"holdout {parameters['percentage']}%"
    elif kind == "leaveoneout":
        text = "leave-one-out"
    else:
        text = kind
    if repeats and repeats != "1":
        text += f", {repeats} repeats"
    if parameters.get("stratified_sampling") == "true":
        text += ", stratified"
    annotations = _annotations(
        estimation_procedure_id=oml.text(procedure, "id"), data_splits_url=oml.text(procedure, "data_splits_url")
    )
    annotations.update({f"openml.estimation_procedure.{key}": value for key, value in sorted(parameters.items())})
    return text, annotations


def _scores(measures: Sequence[oml.Measure]) -> list[Score]:
    """Aggregated values, per-class arrays (``.per_class``) and per-fold values (``.per_fold``)."""
    scores: list[Score] = []
    folds: dict[tuple[str, int | None, int | None], dict[int, oml.Measure]] = defaultdict(dict)
    for measure in measures:
        if measure.fold is not None:
            folds[(measure.name, measure.repeat, measure.sample)][measure.fold] = measure
            continue
        direction = False if measure.name in _LOWER_IS_BETTER_MEASURES else None
        if measure.value is not None:
            scores.append(Score(metric=measure.name, value=oml.value(measure.value), greater_is_better=direction))
        if measure.array is not None:
            scores.append(Score(metric=f"{measure.name}.per_class", value=oml.array(measure.array)))
    groups_of: dict[str, list[tuple[int | None, int | None]]] = defaultdict(list)
    for name, repeat, sample in folds:
        groups_of[name].append((repeat, sample))
    for (name, repeat, sample), by_fold in sorted(
        folds.items(), key=lambda item: (item[0][0], item[0][1] or 0, item[0][2] or 0)
    ):
        suffix = ".per_fold"
        if len(groups_of[name]) > 1 or repeat not in (None, 0) or sample is not None:
            suffix += f".repeat_{repeat or 0}" + (f".sample_{sample}" if sample is not None else "")
        ordered = [by_fold[fold] for fold in sorted(by_fold)]
        if all(measure.value is not None for measure in ordered):
            scores.append(Score(metric=f"{name}{suffix}", value=[oml.value(measure.value) for measure in ordered]))
        if all(measure.array is not None for measure in ordered):
            scores.append(
                Score(metric=f"{name}.per_class{suffix}", value=[oml.array(measure.array) for measure in ordered])
            )  # type: ignore[arg-type]
    return scores


def _dataset_entity(document: oml.DatasetDocument) -> Dataset:
    element = document.element
    number = document.id
    where = f"dataset {number} ({document.path})"
    columns, statistics, targets, ignored, row_ids = [], [], [], [], []
    for feature in document.features or ():
        columns.append(TypedColumn(name=feature.name, typing=_COLUMN_TYPES.get(feature.data_type, TypeHint.UNKNOWN)))
        if feature.nominal_values:
            statistics.append(
                DataStatistic(name="nominal_values", value=feature.nominal_values, columns=[feature.name])
            )
        if feature.missing is not None:
            statistics.append(DataStatistic(name="missing_values", value=feature.missing, columns=[feature.name]))
        if feature.is_target:
            targets.append(feature.name)
        if feature.is_ignore:
            ignored.append(feature.name)
        if feature.is_row_identifier:
            row_ids.append(feature.name)
    qualities = document.qualities or {}
    statistics.extend(DataStatistic(name=name, value=value) for name, value in sorted(qualities.items()))
    rows = qualities.get("NumberOfInstances")
    md5 = oml.text(element, "md5_checksum")
    return Dataset(
        id=f"openml-dataset-{number}",
        name=oml.required(element, "name", where),
        version=oml.text(element, "version"),
        location=oml.text(element, "url"),
        fingerprint=f"md5:{md5}" if md5 else None,
        schema=columns,
        target=oml.text(element, "default_target_attribute") or (", ".join(targets) if targets else None),
        row_count=int(rows) if isinstance(rows, (int, float)) and not isinstance(rows, bool) and rows >= 0 else None,
        statistics=statistics,
        creator=", ".join(oml.texts(element, "creator")) or None,
        comments=oml.text(element, "description"),
        creation_time=oml.ms(oml.text(element, "upload_date")),
        annotations=_annotations(
            dataset_id=number,
            url=f"{_SITE}/d/{number}",
            format=oml.text(element, "format"),
            licence=oml.text(element, "licence"),
            status=oml.text(element, "status"),
            visibility=oml.text(element, "visibility"),
            file_id=oml.text(element, "file_id"),
            version_label=oml.text(element, "version_label"),
            citation=oml.text(element, "citation"),
            original_data_url=oml.text(element, "original_data_url"),
            row_id_attribute=oml.text(element, "row_id_attribute") or ", ".join(row_ids),
            ignore_attribute=", ".join(oml.texts(element, "ignore_attribute")) or ", ".join(ignored),
            tags=", ".join(oml.texts(element, "tag")),
        ),
        tags=_TAGS,
    )


def _flow_entity(document: oml.FlowDocument) -> Transform:
    element = document.element
    name = oml.required(element, "name", f"flow {document.id}")
    version = oml.text(element, "version")
    framework, framework_version = _framework(oml.text(element, "external_version"), name)
    parameters = []
    for parameter in element.findall("oml:parameter", oml.NS):
        default = oml.value(oml.text(parameter, "default_value"))
        parameters.append(
            Parameter(
                name=oml.required(parameter, "name", f"flow {document.id}"),
                value=default,
                default=default,
                doc=oml.text(parameter, "description"),
            )
        )
    components = ", ".join(f"{identifier}=openml-flow-{number}" for identifier, number in document.components)
    return Transform(
        id=f"openml-flow-{document.id}",
        name=f"{name}({version})" if version else name,
        operator=name,
        framework=framework,
        framework_version=framework_version,
        version=version,
        parameters=parameters,
        input_transforms=[f"openml-flow-{number}" for _, number in document.components],
        annotations=_annotations(
            flow_id=document.id,
            url=f"{_SITE}/f/{document.id}",
            description=oml.text(element, "description"),
            external_version=oml.text(element, "external_version"),
            dependencies=oml.text(element, "dependencies"),
            uploader=oml.text(element, "uploader"),
            components=components,
            tags=", ".join(oml.texts(element, "tag")),
        ),
        tags=_TAGS,
        creation_time=oml.ms(oml.text(element, "upload_date")),
    )
