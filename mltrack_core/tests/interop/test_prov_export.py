"""``mltrack export --format prov``: the PROV document is the store's lineage, and every serialization round-trips.

The store is filled through the tracker API (the core demo, plus entities for
every kind and link: derived datasets, chained transforms, a model without a
run, a failed run, a prediction with an evaluation computed from it, hostile
names and ids with every allowed punctuation and non-ASCII letters). The
expected PROV relations are recomputed from the stored entities' links, never
written out by hand.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prov.constants import PROV_LABEL, PROV_N_MAP, PROV_TYPE
from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvDocument,
    ProvEntity,
    ProvRecord,
    ProvRelation,
    QualifiedName,
)

import mltrack_core as mt
from mltrack_core.cli import main
from mltrack_core.demo import run_core_demo
from mltrack_core.errors import MissingDependencyError
from mltrack_core.exporters.prov import export_prov, local_name, prov_document, serialization_for
from mltrack_core.schema import (
    Dataset,
    Entity,
    Evaluation,
    Model,
    Prediction,
    Score,
    TrainingRun,
    TrainingState,
    Transform,
)

HOSTILE_NAME = '<script>alert("x")</script> & \'quoted\' \\ """ ]) %% \n\t newline'
HOSTILE_CREATOR = 'Dr. Ünïcødé <b>"; DROP TABLE --'
HOSTILE_TEAM = "ML & Co. <team> \\x41 _x0041_"
ODD_IDS = {
    "punctuation": "openml:61@v2+a=b~c.",
    "unicode": "Données→été✓",
    "digit": "1st_dataset",
    "lookalike": "ds_x0041_y",
    "astral": "ds-𝔘𝔫𝔦",
}
RDF_EXTENSIONS = {".ttl": "turtle", ".trig": "trig", ".nt": "nt", ".rdf": "xml"}


# ---------------------------------------------------------------- the store


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store holding the core demo and one entity of every kind and link, hostile texts included."""
    folder = tmp_path_factory.mktemp("prov-store")
    uri = f"sqlite:///{folder / 'store.db'}"
    with mt.connect(uri) as tracker:
        run_core_demo(tracker, folder, lambda line: None)
        _add_every_kind(tracker)
    return uri


@pytest.fixture(scope="module")
def store(store_uri: str) -> mt.Tracker:
    with mt.connect(store_uri) as tracker:
        yield tracker


@pytest.fixture(scope="module")
def document(store: mt.Tracker) -> ProvDocument:
    return prov_document(store)


def _add_every_kind(tracker: mt.Tracker) -> None:
    common = {"creator": HOSTILE_CREATOR, "creator_team": HOSTILE_TEAM}
    raw = Dataset(id=ODD_IDS["punctuation"], name=HOSTILE_NAME, fingerprint="sha256:00", row_count=2**62, **common)
    other = Dataset(id=ODD_IDS["unicode"], name="other source", experiment="exp-b")
    joined = Dataset(
        id=ODD_IDS["digit"], name="joined", derived_from=(raw.id, other.id), derivation="join", experiment="exp-a"
    )
    first = Transform(id=ODD_IDS["lookalike"], name="scale", operator="StandardScaler", experiment="exp-a")
    second = Transform(name="select", operator="SelectKBest", input_transforms=(first.id,), experiment="exp-a")
    model = Model(
        id=ODD_IDS["astral"],
        name=HOSTILE_NAME,
        learning_algorithm="Ridge",
        trained_on=joined.id,
        transforms=(first.id, second.id),
        location="file:///models/ridge.pkl",
        experiment="exp-a",
        **common,
    )
    finished = TrainingRun(
        name="ridge run",
        state=TrainingState.FINISHED,
        start_time=1_700_000_000_000,
        end_time=1_700_000_060_123,
        for_model=model.id,
        transforms=(first.id,),
        experiment="exp-a",
        **common,
    )
    failed = TrainingRun(
        name="crashed", state=TrainingState.FAILED, start_time=1, end_time=2, trained_on=other.id, experiment="exp-b"
    )
    orphan = Model(name="no run", learning_algorithm="Lasso", trained_on=other.id, experiment="exp-b")
    prediction = Prediction(computed_by=model.id, on_dataset=raw.id, location="s3://bucket/p.csv", experiment="exp-a")
    scores = (
        Score(metric="r2", value=0.5),
        Score(metric="mse (test) ü", value=float("nan")),
        Score(metric="max_error", value=float("inf")),
        Score(metric="n", value=3),
        Score(metric="per class", value=[0.25, "x"]),
    )
    evaluation = Evaluation(
        computed_by=model.id, on_dataset=raw.id, for_prediction=prediction.id, scores=scores, experiment="exp-a"
    )
    direct = Evaluation(computed_by=orphan.id, on_dataset=other.id, scores=(Score(metric="r2", value=0.1),))
    tracker.write([raw, other, joined, first, second, model, orphan, finished, failed, prediction, evaluation, direct])


def _stored(tracker: mt.Tracker) -> list[Entity]:
    return tracker.find(limit=10_000)


# ---------------------------------------------------------------- reading the PROV graph


def _relations(document: ProvDocument) -> set[tuple[str, str, str]]:
    """Every relation as (PROV type, first argument, second argument), by their URIs."""
    found = set()
    for record in document.get_records(ProvRelation):
        first, second = (value for _, value in record.formal_attributes[:2])
        found.add((PROV_N_MAP[record.get_type()], first.uri, second.uri))
    return found


def _elements(document: ProvDocument, kind: type) -> dict[str, object]:
    return {record.identifier.uri: record for record in document.get_records(kind)}


def _attribute(record: ProvRecord, name: QualifiedName | str) -> Any:
    """The one value of attribute ``name`` (a QualifiedName, or the local name of an ``mltrack:`` term)."""
    values = [value for key, value in record.attributes if key == name or key.uri == f"urn:mltrack:terms#{name}"]
    assert len(values) == 1, (name, values)
    return values[0]


# ---------------------------------------------------------------- what the mapping says, from the store


def _uri(entity_id: str) -> str:
    return f"urn:mltrack:id:{local_name(entity_id)}"


def _activity_uri(role: str, entity_id: str) -> str:
    return f"urn:mltrack:activity:{role}-{local_name(entity_id)}"


def _agent_uris(entity: Entity) -> list[str]:
    people = [f"urn:mltrack:agent:person-{local_name(entity.creator)}"] if entity.creator else []
    return people + ([f"urn:mltrack:agent:team-{local_name(entity.creator_team)}"] if entity.creator_team else [])


def _expected_relations(entities: list[Entity]) -> set[tuple[str, str, str]]:
    """The PROV relations the mapping gives for these entities' links."""
    runs_of = {}
    for run in entities:
        if isinstance(run, TrainingRun) and run.for_model:
            runs_of.setdefault(run.for_model, []).append(run.id)
    expected = set()
    for entity in entities:
        me = _uri(entity.id)
        attribution = "wasAssociatedWith" if isinstance(entity, TrainingRun) else "wasAttributedTo"
        expected |= {(attribution, me, agent) for agent in _agent_uris(entity)}
        if isinstance(entity, (Dataset, Transform)):
            sources = entity.derived_from if isinstance(entity, Dataset) else entity.input_transforms
            expected |= {("wasDerivedFrom", me, _uri(source)) for source in sources}
        elif isinstance(entity, TrainingRun):
            used = ([entity.trained_on] if entity.trained_on else []) + list(entity.transforms)
            expected |= {("used", me, _uri(id_)) for id_ in used}
        elif isinstance(entity, Model):
            trainings = [_uri(run) for run in runs_of.get(entity.id, [])] or [_activity_uri("training", entity.id)]
            for training in trainings:
                expected.add(("wasGeneratedBy", me, training))
                expected |= {("used", training, _uri(id_)) for id_ in (entity.trained_on, *entity.transforms)}
            expected.add(("wasDerivedFrom", me, _uri(entity.trained_on)))
        else:
            role = "predicting" if isinstance(entity, Prediction) else "evaluating"
            activity = _activity_uri(role, entity.id)
            expected.add(("wasGeneratedBy", me, activity))
            expected |= {("used", activity, _uri(target)) for _, target, _ in entity.references()}
            if isinstance(entity, Evaluation) and entity.for_prediction:
                expected.add(("wasDerivedFrom", me, _uri(entity.for_prediction)))
    return expected


# ---------------------------------------------------------------- the graph is the lineage


def test_every_link_of_every_entity_is_its_prov_relation(store: mt.Tracker, document: ProvDocument) -> None:
    entities = _stored(store)
    assert {entity.KIND for entity in entities} == {"dataset", "model", "transform", "run", "prediction", "evaluation"}
    assert _relations(document) == _expected_relations(entities)


def test_entities_and_runs_become_prov_entities_and_activities(store: mt.Tracker, document: ProvDocument) -> None:
    prov_entities, activities = _elements(document, ProvEntity), _elements(document, ProvActivity)
    for entity in _stored(store):
        record = (activities if isinstance(entity, TrainingRun) else prov_entities)[_uri(entity.id)]
        assert _attribute(record, "id") == entity.id
        expected_type = "Training" if isinstance(entity, TrainingRun) else type(entity).__name__
        assert _attribute(record, PROV_TYPE).uri == f"urn:mltrack:terms#{expected_type}"
        if entity.name is not None:
            assert _attribute(record, PROV_LABEL) == entity.name
        if isinstance(entity, TrainingRun):
            assert _attribute(record, "state") == entity.state.value
            assert record.get_startTime().timestamp() * 1000 == pytest.approx(entity.start_time)
            assert record.get_endTime().timestamp() * 1000 == pytest.approx(entity.end_time)
        if isinstance(entity, Evaluation):
            scores = {key.localpart: value for key, value in record.attributes if "score-" in key.localpart}
            assert len(scores) == len(entity.scores)
    activity_types = {str(_attribute(record, PROV_TYPE).localpart) for record in activities.values()}
    assert activity_types == {"Training", "Predicting", "Evaluating"}


def test_creators_are_agents_with_their_names_as_labels_only(store: mt.Tracker, document: ProvDocument) -> None:
    agents = _elements(document, ProvAgent)
    creators = {entity.creator for entity in _stored(store) if entity.creator}
    teams = {entity.creator_team for entity in _stored(store) if entity.creator_team}
    assert {_attribute(agent, PROV_LABEL) for agent in agents.values()} == creators | teams
    kinds = {_attribute(agent, PROV_LABEL): _attribute(agent, PROV_TYPE).localpart for agent in agents.values()}
    assert {kinds[team] for team in teams} == {"Organization"}
    assert {kinds[creator] for creator in creators} == {"Person"}


def test_local_names_are_distinct_and_valid_everywhere() -> None:
    texts = [*ODD_IDS.values(), "dsAy", "_1st_dataset", "ds_x005F_x0041_y", "a b", "a_x0020_b"]
    names = [local_name(text) for text in texts]
    assert len(set(names)) == len(texts)
    # an XML NCName, a Turtle PN_LOCAL (or a full IRI when it ends in '.') and a PROV-N name: ASCII only
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name) for name in names), names


# ---------------------------------------------------------------- serializations


# prov's RDF serializer still calls rdflib's deprecated Dataset.contexts/default_context (prov 3.2.3, rdflib 7.6),
# and rdflib's N-Triples writer warns that it ignores the encoding prov passes: the libraries' warnings, not ours.
RDFLIB_WARNINGS = (
    pytest.mark.filterwarnings("ignore:Dataset.contexts is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:NTSerializer always uses UTF-8 encoding:UserWarning"),
)


def _with_rdflib_warnings_ignored(test: Any) -> Any:
    for mark in RDFLIB_WARNINGS:
        test = mark(test)
    return test


def _canonical(document: ProvDocument) -> Counter:
    """The records of ``document`` as a multiset, NaN made equal to itself (the only value ``==`` cannot match)."""

    def value_key(value: Any) -> Any:
        return "NaN" if isinstance(value, float) and value != value else value

    return Counter(
        (record.get_type(), record.identifier, frozenset((key, value_key(value)) for key, value in record.attributes))
        for record in document.get_records()
    )


def _assert_same(read: ProvDocument, document: ProvDocument, *, rdf: bool = False) -> None:
    """``read`` equals ``document``: by the library's ``==`` but for the NaN score, which is never equal to itself.

    Through RDF the prefixes are not kept (rdflib binds its own, N-Triples has none): only the records are compared.
    """
    if not rdf:
        assert read.namespaces == document.namespaces
    assert _canonical(read) == _canonical(document)
    assert any(value != value for record in document.get_records() for _, value in record.attributes)


@_with_rdflib_warnings_ignored
@pytest.mark.parametrize("serialization", ["json", "xml", "provn", "rdf"])
def test_serialization_round_trips_through_the_prov_library(document: ProvDocument, serialization: str) -> None:
    text = document.serialize(format=serialization)
    _assert_same(ProvDocument.deserialize(content=text, format=serialization), document, rdf=serialization == "rdf")


@_with_rdflib_warnings_ignored
@pytest.mark.parametrize("rdf_format", ["trig", "nt", "xml"])
def test_other_rdf_syntaxes_round_trip(document: ProvDocument, rdf_format: str) -> None:
    text = document.serialize(format="rdf", rdf_format=rdf_format)
    _assert_same(ProvDocument.deserialize(content=text, format="rdf", rdf_format=rdf_format), document, rdf=True)


@_with_rdflib_warnings_ignored
@pytest.mark.parametrize("serialization", ["json", "xml", "provn", "rdf"])
def test_documents_without_nan_are_equal_after_the_round_trip(store: mt.Tracker, serialization: str) -> None:
    selected = prov_document(store, experiments=["exp-b"])  # no NaN score in it
    text = selected.serialize(format=serialization)
    assert ProvDocument.deserialize(content=text, format=serialization) == selected


def test_provn_names_every_entity_and_escapes_hostile_text(store: mt.Tracker, document: ProvDocument) -> None:
    text = document.serialize(format="provn")
    assert text.startswith("document") and text.rstrip().endswith("endDocument")
    for entity in _stored(store):
        keyword = "activity" if isinstance(entity, TrainingRun) else "entity"
        name = local_name(entity.id)
        written = name[:-1] + "\\." if name.endswith(".") else name  # PROV-N escapes a final '.'
        assert f"{keyword}(mlid:{written}," in text
    # the quotes in the hostile name are escaped, so they cannot end PROV-N's string
    assert 'alert(\\"x\\")' in text and '\\"\\"\\"' in text


def test_prov_xml_is_valid_against_the_prov_xml_schema(document: ProvDocument) -> None:
    from lxml import etree  # prov's xml extra

    schema_file = resources.files("prov") / "tests" / "schemas" / "prov.xsd"
    schema = etree.XMLSchema(etree.parse(str(schema_file)))
    xml = etree.fromstring(document.serialize(format="xml").encode())
    assert schema.validate(xml), schema.error_log


def test_prov_json_is_valid_against_the_prov_json_schema(document: ProvDocument) -> None:
    import jsonschema

    schema_file = resources.files("prov") / "tests" / "schemas" / "prov-json.schema.json"
    jsonschema.validate(json.loads(document.serialize(format="json")), json.loads(schema_file.read_text()))


@_with_rdflib_warnings_ignored
def test_prov_o_is_plain_rdf_with_one_prov_entity_per_stored_entity(store: mt.Tracker, document: ProvDocument) -> None:
    import rdflib  # prov's rdf extra

    graph = rdflib.Graph().parse(data=document.serialize(format="rdf", rdf_format="turtle"), format="turtle")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    kinds = {entity.id: entity.KIND for entity in _stored(store)}
    subjects = {str(subject) for subject in graph.subjects(rdflib.RDF.type, prov.Entity)}
    assert subjects == {_uri(id_) for id_, kind in kinds.items() if kind != "run"}


# ---------------------------------------------------------------- experiments


def test_experiment_selection_holds_the_experiment_and_its_upstream(store: mt.Tracker) -> None:
    selected = prov_document(store, experiments=["exp-a"])
    expected_ids = _upstream_closure(store, store.find_ids(experiment="exp-a", limit=10_000))
    records = [*selected.get_records(ProvEntity), *selected.get_records(ProvActivity)]
    ids = {_attribute(record, "id") for record in records if record.identifier.namespace.prefix == "mlid"}
    assert ids == expected_ids
    left_out = set(store.find_ids(experiment="exp-b", limit=10_000)) - expected_ids
    assert left_out and left_out.isdisjoint(ids)  # the failed run and the model without a run of exp-b
    entities = list(store.get_many(sorted(expected_ids), with_scores=False).values())
    assert _relations(selected) == _expected_relations(entities)


def _upstream_closure(store: mt.Tracker, seeds: list[str]) -> set[str]:
    """The seeds, their upstream lineage and the runs that trained any model in it, to a fixed point."""
    found: set[str] = set()
    pending = list(seeds)
    while pending:
        id_ = pending.pop()
        if id_ in found:
            continue
        found.add(id_)
        pending += list(store.lineage(id_, "upstream").nodes)
        if store.get(id_).KIND == "model":
            pending += store.find_ids("run", for_model=id_)
    return found


# ---------------------------------------------------------------- export_prov and the command line


def test_serialization_follows_the_extension_unless_given() -> None:
    assert serialization_for("out.json", None) == ("json", None)
    assert serialization_for("out.PROVN", None) == ("provn", None)
    assert serialization_for("out.xml", None) == ("xml", None)
    assert serialization_for("-", None) == ("json", None)
    assert serialization_for("out.txt", None) == ("json", None)
    assert serialization_for("out.json", "xml") == ("xml", None)
    assert serialization_for("out.json", "rdf") == ("rdf", "turtle")
    for extension, rdf_format in RDF_EXTENSIONS.items():
        assert serialization_for(f"out{extension}", None) == ("rdf", rdf_format)
        assert serialization_for(f"out{extension}", "rdf") == ("rdf", rdf_format)


@pytest.mark.parametrize(
    ("file_name", "options", "serialization", "rdf_format"),
    [
        ("out.json", [], "json", None),
        ("out.xml", [], "xml", None),
        ("out.provn", [], "provn", None),
        ("out.ttl", [], "rdf", "turtle"),
        ("out.trig", [], "rdf", "trig"),
        ("out.txt", [], "json", None),
        ("out.data", ["--prov-format", "xml"], "xml", None),
    ],
)
@_with_rdflib_warnings_ignored
def test_cli_writes_the_file_in_the_format_of_its_extension(
    store_uri: str,
    document: ProvDocument,
    tmp_path: Path,
    file_name: str,
    options: list[str],
    serialization: str,
    rdf_format: str | None,
) -> None:
    target = tmp_path / file_name
    result = CliRunner().invoke(main, ["--uri", store_uri, "export", "--format", "prov", *options, str(target)])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output and "entity" in result.output
    extra = {"rdf_format": rdf_format} if rdf_format else {}
    if serialization == "provn":
        text = target.read_text(encoding="utf-8")
        assert text.startswith("document") and text.rstrip().endswith("endDocument")
    read = ProvDocument.deserialize(source=str(target), format=serialization, **extra)
    _assert_same(read, document, rdf=serialization == "rdf")


def test_cli_writes_prov_json_to_standard_output(store_uri: str, document: ProvDocument) -> None:
    result = CliRunner().invoke(
        main, ["--uri", store_uri, "export", "--format", "prov", "--experiment", "exp-b", "-"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    read = ProvDocument.deserialize(content=result.stdout, format="json")
    with mt.connect(store_uri) as tracker:
        assert read == prov_document(tracker, experiments=["exp-b"])
    assert read != document


def test_export_prov_counts_the_entities_of_the_experiments(store: mt.Tracker, tmp_path: Path) -> None:
    calls = []
    summary = export_prov(store, str(tmp_path / "a.json"), experiments=["exp-a"], on_entity=lambda: calls.append(1))
    assert len(calls) == store.count(experiment="exp-a")
    assert summary.records["entity"] > 0 and "a.json" in summary.describe()


def test_missing_prov_library_names_the_extra(store_uri: str) -> None:
    code = (
        "import sys; sys.modules['prov'] = None\n"
        "import mltrack_core as mt\n"
        "from mltrack_core.exporters.prov import export_prov\n"
        f"export_prov(mt.connect({store_uri!r}, read_only=True), '-')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "MissingDependencyError" in result.stderr and "pip install 'mltrack-core[prov]'" in result.stderr


def test_missing_prov_library_raises_in_process(store: mt.Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prov.model", None)
    with pytest.raises(MissingDependencyError, match=r"mltrack-core\[prov\]"):
        prov_document(store)
