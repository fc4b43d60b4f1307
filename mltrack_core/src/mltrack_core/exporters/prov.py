"""Export the lineage to W3C PROV: ``mltrack export --format prov``.

The stored entities become one PROV document, written through the ``prov``
library (``pip install 'mltrack-core[prov]'``) as PROV-JSON, PROV-N, PROV-XML
or PROV-O (RDF: Turtle, TriG, N-Triples or RDF/XML). :func:`prov_document`
builds the document; :func:`export_prov` writes it to a file or to standard
output (``-``).

Mapping (the README has the same table):

=========================  ==========================================================================
mltrack                    PROV
=========================  ==========================================================================
Dataset, Model,            ``entity``, ``prov:type`` ``mltrack:Dataset`` (``Model``, ``Transform``,
Transform, Prediction,     ``Prediction``, ``Evaluation``); ``prov:label`` the name, ``mltrack:id``,
Evaluation                 ``mltrack:creationTime``, ``mltrack:experiment``; datasets, models and
                           predictions ``prov:location``; datasets ``mltrack:fingerprint``,
                           ``mltrack:version``, ``mltrack:rowCount``; models ``mltrack:learningAlgorithm``,
                           ``mltrack:framework``; transforms ``mltrack:operator``; evaluations
                           ``mltrack:procedure`` and one ``mltrack:score-<metric>`` per score
TrainingRun                ``activity`` ``mlid:<id>`` of type ``mltrack:Training``: its start and end
                           times, ``prov:label``, ``mltrack:state`` (a failed run too), ``mltrack:id``,
                           ``mltrack:creationTime``, ``mltrack:experiment``; ``used`` its ``trained_on``
                           dataset and its ``transforms``
Model (links)              ``wasGeneratedBy`` each run whose ``for_model`` it is, or, with no run stored,
                           by an ``activity`` ``mlact:training-<model>`` of type ``mltrack:Training``
                           (no times: they are not known); that training ``used`` the model's
                           ``trained_on`` and ``transforms``; the model ``wasDerivedFrom`` its
                           ``trained_on`` dataset
Prediction                 ``wasGeneratedBy`` ``mlact:predicting-<prediction>`` (``mltrack:Predicting``),
                           which ``used`` the model (``computed_by``) and the dataset (``on_dataset``)
Evaluation                 ``wasGeneratedBy`` ``mlact:evaluating-<evaluation>`` (``mltrack:Evaluating``),
                           which ``used`` the model, the dataset and the prediction (``for_prediction``);
                           ``wasDerivedFrom`` that prediction
Dataset.derived_from       ``wasDerivedFrom`` (the dataset from each source)
Transform.input_transforms ``wasDerivedFrom`` (the transform from each input transform)
creator / creator_team     ``agent`` ``mlagent:person-<name>`` (``prov:Person``) /
                           ``mlagent:team-<name>`` (``prov:Organization``), ``prov:label`` the name;
                           ``wasAttributedTo`` (entities) or ``wasAssociatedWith`` (runs)
=========================  ==========================================================================

Identifiers: entities and runs are ``mlid:<id>`` (namespace ``urn:mltrack:id:``),
the activities made for an entity ``mlact:...`` (``urn:mltrack:activity:``), agents
``mlagent:...`` (``urn:mltrack:agent:``), types and attributes ``mltrack:...``
(``urn:mltrack:terms#``). mltrack ids may hold ``: @ + = ~`` and non-ASCII
letters, and names are any text, which neither an XML QName, a Turtle local
name nor a PROV-N name can always take; so a local name keeps the ASCII letters,
digits, ``-``, ``.`` and ``_`` of the id or name and writes every other
character (and a first character that is not a letter or ``_``) as ``_xHHHH_``,
its code point in hex (the XML name-escaping convention, which the ``prov``
library also uses for attribute names); an ``_`` that would read as such an
escape is written ``_x005F_``. Different texts give different local names, and
each is an XML NCName, a PROV-N name and an IRI path segment. The exact id is in
``mltrack:id``; names are text values (``prov:label``), escaped by each
serializer as its syntax requires. Times are UTC ``xsd:dateTime`` values to the
millisecond.

Left out: hyperparameters, metric histories, schemas, statistics and annotations
(the ``ml-experiments-schema`` export has them); scores that are not numbers are
written as their JSON text; non-finite scores as the ``xsd:double`` values
``NaN``, ``INF`` and ``-INF``.

With ``experiments``, the document holds the entities of those experiments and
everything upstream of them: what they name (datasets, transforms, models,
predictions), the runs that trained a model in it, and what those name in turn.
"""

from __future__ import annotations

import importlib
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.errors import MissingDependencyError, SchemaError
from mltrack_core.exporters._reading import read_entities, stored_entities, stored_ids
from mltrack_core.schema import (
    KINDS,
    Dataset,
    Entity,
    Evaluation,
    Model,
    Prediction,
    TrainingRun,
    Transform,
    canonical_json,
    json_safe,
)

if TYPE_CHECKING:
    from prov.model import ProvDocument, QualifiedName

    from mltrack_core.tracker import Tracker

__all__ = [
    "ACTIVITY_NAMESPACE",
    "AGENT_NAMESPACE",
    "ID_NAMESPACE",
    "SERIALIZATIONS",
    "TERMS_NAMESPACE",
    "ProvExportSummary",
    "export_prov",
    "local_name",
    "prov_document",
    "serialization_for",
]

TERMS_NAMESPACE = ("mltrack", "urn:mltrack:terms#")
ID_NAMESPACE = ("mlid", "urn:mltrack:id:")
ACTIVITY_NAMESPACE = ("mlact", "urn:mltrack:activity:")
AGENT_NAMESPACE = ("mlagent", "urn:mltrack:agent:")

SERIALIZATIONS = ("json", "provn", "xml", "rdf")
"""The values of ``--prov-format``: PROV-JSON, PROV-N, PROV-XML and PROV-O."""
_BY_EXTENSION = {
    ".json": ("json", None),
    ".provn": ("provn", None),
    ".xml": ("xml", None),
    ".provx": ("xml", None),
    ".ttl": ("rdf", "turtle"),
    ".trig": ("rdf", "trig"),
    ".nt": ("rdf", "nt"),
    ".rdf": ("rdf", "xml"),
}
"""File extension -> (serialization, rdflib format for PROV-O)."""
_DEFAULT_RDF_FORMAT = "turtle"

_KIND_TYPES = {
    "dataset": "Dataset",
    "model": "Model",
    "transform": "Transform",
    "prediction": "Prediction",
    "evaluation": "Evaluation",
}
_KEPT = re.compile(r"[A-Za-z0-9._-]")
_ESCAPE_LOOKALIKE = re.compile(r"_x[0-9A-F]{4}(?:[0-9A-F]{4})?_")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class ProvExportSummary:
    """What :func:`export_prov` wrote: the target, the serialization and the records per PROV type."""

    target: str
    serialization: str
    records: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for the command line: what was written where."""
        parts = ", ".join(f"{count} {name}" for name, count in self.records.items() if count)
        where = "standard output" if self.target == "-" else self.target
        return f"wrote W3C PROV ({self.serialization}) to {where}: {parts or 'nothing to export'}"


def local_name(text: str) -> str:
    """``text`` as a local name every PROV serialization accepts (see the module docstring).

    Injective: different texts give different local names.
    """
    kept = []
    for index, character in enumerate(text):
        if character == "_" and _ESCAPE_LOOKALIKE.match(text, index):
            kept.append("_x005F_")
        elif _KEPT.fullmatch(character) and not (index == 0 and not character.isalpha() and character != "_"):
            kept.append(character)
        else:
            code = ord(character)
            kept.append(f"_x{code:04X}_" if code <= 0xFFFF else f"_x{code:08X}_")
    return "".join(kept)


def serialization_for(target: str, serialization: str | None) -> tuple[str, str | None]:
    """The serialization to write ``target`` in, and the rdflib format when it is PROV-O.

    ``serialization`` wins when given (for ``rdf``, a ``.trig``, ``.nt`` or ``.rdf``
    target still picks its RDF syntax, else Turtle); otherwise the target's
    extension decides, and anything else (``-`` included) is PROV-JSON.

    Raises:
        SchemaError: ``serialization`` is not one of :data:`SERIALIZATIONS`.
    """
    by_extension = _BY_EXTENSION.get(Path(target).suffix.lower()) if target != "-" else None
    if serialization is None:
        return by_extension or ("json", None)
    if serialization not in SERIALIZATIONS:
        raise SchemaError(f"PROV serialization {serialization!r} is not one of {', '.join(SERIALIZATIONS)}")
    if serialization == "rdf":
        return "rdf", by_extension[1] if by_extension and by_extension[0] == "rdf" else _DEFAULT_RDF_FORMAT
    return serialization, None


def export_prov(
    tracker: Tracker,
    target: str,
    *,
    serialization: str | None = None,
    experiments: Sequence[str] = (),
    on_entity: Callable[[], None] | None = None,
) -> ProvExportSummary:
    """Write the lineage of the store (or of ``experiments``) to ``target`` as W3C PROV.

    Args:
        tracker: the tracker whose store is exported.
        target: a file path, or ``-`` for standard output.
        serialization: ``json``, ``provn``, ``xml`` or ``rdf``; None: by the extension
            of ``target`` (see :func:`serialization_for`).
        experiments: only these experiments and what is upstream of them (empty: everything).
        on_entity: called once per exported entity of the selected experiments (for progress).

    Returns:
        the target, the serialization and how many PROV records of each type were written.

    Raises:
        MissingDependencyError: the ``prov`` library (or rdflib or lxml for PROV-O or PROV-XML) is not installed.
        SchemaError: ``serialization`` is unknown.
        OSError: ``target`` cannot be written.
    """
    chosen, rdf_format = serialization_for(target, serialization)
    document = prov_document(tracker, experiments=experiments, on_entity=on_entity)
    options = {"rdf_format": rdf_format} if rdf_format else {}
    _check_serializer(chosen)
    text = _text_of(document.serialize(format=chosen, **options))  # before opening: a failure leaves no half file
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(target).write_text(text, encoding="utf-8")
    label = chosen if rdf_format is None else f"{chosen}, {rdf_format}"
    return ProvExportSummary(target, label, _record_counts(document))


def _text_of(serialized: str | bytes) -> str:
    return serialized.decode("utf-8") if isinstance(serialized, bytes) else serialized


def _check_serializer(serialization: str) -> None:
    """Raise a MissingDependencyError when the library behind ``serialization`` is missing."""
    needed = {"rdf": "rdflib", "xml": "lxml"}.get(serialization)
    if needed is None:
        return
    try:
        importlib.import_module(needed)
    except ImportError as exc:
        raise MissingDependencyError(
            f"writing PROV as {serialization} needs {needed}: pip install 'mltrack-core[prov]'"
        ) from exc


def _record_counts(document: ProvDocument) -> dict[str, int]:
    """How many records of each PROV-N type (``entity``, ``used``, ...) the document holds."""
    from prov.constants import PROV_N_MAP

    counts: dict[str, int] = {}
    for record in document.get_records():
        name = PROV_N_MAP.get(record.get_type(), record.get_type().localpart)
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def prov_document(
    tracker: Tracker, *, experiments: Sequence[str] = (), on_entity: Callable[[], None] | None = None
) -> ProvDocument:
    """The PROV document of the store's lineage, or of ``experiments`` and what is upstream of them.

    Args:
        tracker: the tracker whose store is read.
        experiments: experiment names (empty: every stored entity).
        on_entity: called once per exported entity of the selected experiments.

    Returns:
        a :class:`prov.model.ProvDocument` following the mapping of the module docstring.

    Raises:
        MissingDependencyError: the ``prov`` library is not installed.
    """
    try:
        from prov.model import ProvDocument
    except ImportError as exc:
        raise MissingDependencyError(
            "mltrack export --format prov needs the prov library: pip install 'mltrack-core[prov]'"
        ) from exc
    entities = _selected_entities(tracker, tuple(experiments))
    builder = _Builder(ProvDocument(), _runs_by_model(entities.values()))
    for entity in entities.values():
        builder.add(entity)
        if on_entity is not None and (not experiments or entity.experiment in experiments):
            on_entity()
    return builder.document


# ---------------------------------------------------------------- which entities


def _selected_entities(tracker: Tracker, experiments: tuple[str, ...]) -> dict[str, Entity]:
    """Every stored entity, or those of ``experiments`` plus their upstream, by id in a stable order."""
    if not experiments:
        return {entity.id: entity for entity in stored_entities(tracker, KINDS)}
    selected: dict[str, Entity] = {}
    pending = [id_ for name in experiments for ids in stored_ids(tracker, experiment=name) for id_ in ids]
    while pending:
        fresh = [id_ for id_ in dict.fromkeys(pending) if id_ not in selected]
        pending = []
        for entity in read_entities(tracker, fresh):
            selected[entity.id] = entity
            pending += [target for _, target, _ in entity.references()]
            if isinstance(entity, Model):
                pending += [id_ for ids in stored_ids(tracker, "run", for_model=entity.id) for id_ in ids]
    return {id_: selected[id_] for id_ in sorted(selected, key=lambda id_: (_KIND_ORDER[selected[id_].KIND], id_))}


_KIND_ORDER = {kind: index for index, kind in enumerate(KINDS)}


# ---------------------------------------------------------------- entity -> records


class _Builder:
    """Adds the records of one entity at a time to a PROV document."""

    def __init__(self, document: ProvDocument, runs_of_model: dict[str, list[str]]) -> None:
        self.document = document
        self.runs_of_model = runs_of_model
        self.terms = document.add_namespace(*TERMS_NAMESPACE)
        self.ids = document.add_namespace(*ID_NAMESPACE)
        self.activities = document.add_namespace(*ACTIVITY_NAMESPACE)
        self.agents = document.add_namespace(*AGENT_NAMESPACE)
        self._agents_added: set[QualifiedName] = set()
        self._relations_added: set[tuple[str, QualifiedName, QualifiedName]] = set()

    def add(self, entity: Entity) -> None:
        if isinstance(entity, TrainingRun):
            self._add_run(entity)
        else:
            self._add_entity(entity)

    def _relate(self, relation: str, subject: QualifiedName, thing: QualifiedName) -> None:
        """Add ``relation(subject, thing)`` once (a run and its model both name the training data)."""
        if (relation, subject, thing) not in self._relations_added:
            self._relations_added.add((relation, subject, thing))
            getattr(self.document, relation)(subject, thing)

    def _id(self, entity_id: str) -> QualifiedName:
        return self.ids[local_name(entity_id)]

    def _common(self, entity: Entity) -> dict[Any, Any]:
        attributes: dict[Any, Any] = {
            self.terms["id"]: entity.id,
            self.terms["creationTime"]: _time(entity.creation_time),
        }
        if entity.name is not None:
            attributes["prov:label"] = entity.name
        if entity.experiment is not None:
            attributes[self.terms["experiment"]] = entity.experiment
        return attributes

    def _add_entity(self, entity: Entity) -> None:
        attributes = self._common(entity)
        attributes["prov:type"] = self.terms[_KIND_TYPES[entity.KIND]]
        attributes.update(self._details(entity))
        identifier = self._id(entity.id)
        self.document.entity(identifier, _present(attributes))
        for agent in self._agents_of(entity):
            self._relate("wasAttributedTo", identifier, agent)
        if isinstance(entity, Dataset):
            for source in entity.derived_from:
                self._relate("wasDerivedFrom", identifier, self._id(source))
        elif isinstance(entity, Transform):
            for source in entity.input_transforms:
                self._relate("wasDerivedFrom", identifier, self._id(source))
        elif isinstance(entity, Model):
            self._add_model_links(entity)
        elif isinstance(entity, Prediction):
            self._add_generation(entity, "predicting", "Predicting", [entity.computed_by, entity.on_dataset])
        elif isinstance(entity, Evaluation):
            used = [entity.computed_by, entity.on_dataset]
            if entity.for_prediction is not None:
                used.append(entity.for_prediction)
                self._relate("wasDerivedFrom", identifier, self._id(entity.for_prediction))
            self._add_generation(entity, "evaluating", "Evaluating", used)

    def _details(self, entity: Entity) -> dict[Any, Any]:
        terms = self.terms
        if isinstance(entity, Dataset):
            row_count = None if entity.row_count is None else _long(entity.row_count)
            return {
                "prov:location": entity.location,
                terms["fingerprint"]: entity.fingerprint,
                terms["version"]: entity.version,
                terms["rowCount"]: row_count,
            }
        if isinstance(entity, Model):
            return {
                "prov:location": entity.location,
                terms["learningAlgorithm"]: entity.learning_algorithm,
                terms["framework"]: entity.framework,
                terms["version"]: entity.version,
            }
        if isinstance(entity, Transform):
            return {terms["operator"]: entity.operator, terms["framework"]: entity.framework}
        if isinstance(entity, Prediction):
            return {"prov:location": entity.location}
        if isinstance(entity, Evaluation):
            scores = {terms[f"score-{local_name(score.metric)}"]: _score_value(score.value) for score in entity.scores}
            return {terms["procedure"]: entity.procedure, **scores}
        return {}

    def _add_model_links(self, model: Model) -> None:
        identifier = self._id(model.id)
        runs = self.runs_of_model.get(model.id)
        if runs:
            activities = [self._id(run) for run in runs]
        else:
            activity = self.activities[f"training-{local_name(model.id)}"]
            self.document.activity(activity, other_attributes={"prov:type": self.terms["Training"]})
            activities = [activity]
        for activity in activities:
            for used in (model.trained_on, *model.transforms):
                self._relate("used", activity, self._id(used))
            self._relate("wasGeneratedBy", identifier, activity)
        self._relate("wasDerivedFrom", identifier, self._id(model.trained_on))

    def _add_generation(self, entity: Entity, role: str, activity_type: str, used: Iterable[str]) -> None:
        activity = self.activities[f"{role}-{local_name(entity.id)}"]
        self.document.activity(activity, other_attributes={"prov:type": self.terms[activity_type]})
        for used_id in used:
            self._relate("used", activity, self._id(used_id))
        self._relate("wasGeneratedBy", self._id(entity.id), activity)

    def _add_run(self, run: TrainingRun) -> None:
        attributes = self._common(run)
        attributes["prov:type"] = self.terms["Training"]
        attributes[self.terms["state"]] = run.state.value
        identifier = self._id(run.id)
        start = None if run.start_time is None else _time(run.start_time)
        end = None if run.end_time is None else _time(run.end_time)
        self.document.activity(identifier, start, end, _present(attributes))
        for agent in self._agents_of(run):
            self._relate("wasAssociatedWith", identifier, agent)
        for used in (*((run.trained_on,) if run.trained_on else ()), *run.transforms):
            self._relate("used", identifier, self._id(used))
        # the model's generation by this run is added with the model (it needs the model in the document)

    def _agents_of(self, entity: Entity) -> list[QualifiedName]:
        from prov.constants import PROV

        agents = []
        for text, role, agent_type in (
            (entity.creator, "person", PROV["Person"]),
            (entity.creator_team, "team", PROV["Organization"]),
        ):
            if text is None:
                continue
            agent = self.agents[f"{role}-{local_name(text)}"]
            if agent not in self._agents_added:
                self.document.agent(agent, {"prov:type": agent_type, "prov:label": text})
                self._agents_added.add(agent)
            agents.append(agent)
        return agents


def _runs_by_model(entities: Iterable[Entity]) -> dict[str, list[str]]:
    """The ids of the training runs among ``entities`` that trained each model."""
    runs: dict[str, list[str]] = {}
    for entity in entities:
        if isinstance(entity, TrainingRun) and entity.for_model is not None:
            runs.setdefault(entity.for_model, []).append(entity.id)
    return runs


def _present(attributes: dict[Any, Any]) -> dict[Any, Any]:
    return {key: value for key, value in attributes.items() if value is not None}


def _time(milliseconds: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=milliseconds)


def _long(value: int) -> Any:
    from prov.constants import XSD_LONG
    from prov.model import Literal

    return Literal(str(value), XSD_LONG)


def _score_value(value: Any) -> Any:
    """A score as a PROV attribute value: a float, a non-finite ``xsd:double``, or its JSON text."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= sys.float_info.max:
        value = float(value)
    if not isinstance(value, float):
        return canonical_json(json_safe(value))
    if math.isfinite(value):
        return value
    from prov.constants import XSD_DOUBLE
    from prov.model import Literal

    return Literal("NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF"), XSD_DOUBLE)
