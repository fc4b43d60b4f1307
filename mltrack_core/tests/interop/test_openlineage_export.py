"""``mltrack export --format openlineage``: valid events whose lineage is the store's, to a file or a real server.

The store is filled through the tracker API: the core demo, plus entities of
every kind and link (derived datasets, a composition of transforms with a
one-hot branch and a projection, a model without a run, failed and unfinished
runs, a prediction with an evaluation computed from it, hostile names). What
the events should say is recomputed from the stored entities (their links,
``tracker.lineage`` and the transforms' own ``column_lineage``), never written
out by hand. Events are validated against the OpenLineage schemas vendored in
``mltrack_core/testing/openlineage_spec``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mltrack_core as mt
from mltrack_core.cli import main
from mltrack_core.demo import run_core_demo
from mltrack_core.errors import MissingDependencyError, MltrackError
from mltrack_core.exporters.openlineage import (
    dataset_identity,
    export_openlineage,
    run_id_of,
)
from mltrack_core.schema import (
    Dataset,
    Evaluation,
    Model,
    Prediction,
    Score,
    TrainingRun,
    TrainingState,
    Transform,
    TypedColumn,
    TypeHint,
)
from mltrack_core.testing.openlineage import OpenLineageValidationError, validate_openlineage_event

HOSTILE = 'he said "hi" </script><script>alert(1)</script>\n\ttab \\ ünïcødé 𝔘 \u2028'
LINKED_KINDS = {"dataset", "model", "prediction"}
"""The kinds that are OpenLineage datasets among what an entity names (transforms are not)."""


# ---------------------------------------------------------------- the store


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("openlineage-store")
    uri = f"sqlite:///{folder / 'store.db'}"
    with mt.connect(uri) as tracker:
        run_core_demo(tracker, folder, lambda line: None)
        _add_every_kind(tracker)
    return uri


@pytest.fixture(scope="module")
def store(store_uri: str) -> Iterator[mt.Tracker]:
    with mt.connect(store_uri) as tracker:
        yield tracker


def _columns(*names: str) -> tuple[TypedColumn, ...]:
    return tuple(TypedColumn(name=name, typing=TypeHint.DOUBLE) for name in names)


def _add_every_kind(tracker: mt.Tracker) -> None:
    raw = Dataset(
        name=HOSTILE,
        location="s3://bucket/raw/data.parquet",
        fingerprint="sha256:00",
        schema=(*_columns("a", "b"), TypedColumn(name="color", typing=TypeHint.STRING)),
        experiment="exp-a",
    )
    split = Dataset(name="train split", derived_from=(raw.id,), derivation="80%", experiment="exp-a", schema=raw.schema)
    other = Dataset(name="other", experiment="exp-b", location="file:///data/other%20file.csv")
    scale = Transform(name="prep__num__scale", operator="StandardScaler", input=_columns("a", "b"),
                      output=_columns("a", "b"), column_lineage={"a": ["a"], "b": ["b"]})  # fmt: skip
    pca = Transform(name="prep__num__pca", operator="PCA", input=_columns("a", "b"), output=_columns("pca0", "pca1"),
                    column_lineage={"pca0": "*", "pca1": "*"}, input_transforms=(scale.id,))  # fmt: skip
    onehot = Transform(name="prep__cat", operator="OneHotEncoder", input=(TypedColumn(name="color"),),
                       output=_columns("color_red", "color_blue"),
                       column_lineage={"color_red": ["color"], "color_blue": ["color"]})  # fmt: skip
    composition_lineage = {"num__pca0": ["a", "b"], "num__pca1": ["a", "b"], "cat__color_red": ["color"],
                           "cat__color_blue": ["color"]}  # fmt: skip
    prep = Transform(name="prep", operator="ColumnTransformer", input=(*_columns("a", "b"), TypedColumn(name="color")),
                     output=_columns(*composition_lineage), column_lineage=composition_lineage,
                     input_transforms=(pca.id, onehot.id))  # fmt: skip
    learner = Transform(name="learn", operator="Ridge", input=_columns(*composition_lineage),
                        input_transforms=(prep.id,))  # fmt: skip
    model = Model(
        name=HOSTILE,
        learning_algorithm="Ridge",
        trained_on=split.id,
        transforms=(scale.id, pca.id, onehot.id, prep.id, learner.id),
        location="file:///models/ridge.pkl",
        experiment="exp-a",
    )
    finished = TrainingRun(name="ridge run", state=TrainingState.FINISHED, start_time=1_700_000_000_000,
                           end_time=1_700_000_060_123, for_model=model.id, experiment="exp-a")  # fmt: skip
    failed = TrainingRun(name="crashed", state=TrainingState.FAILED, start_time=1, end_time=2, trained_on=other.id,
                         experiment="exp-b")  # fmt: skip
    running = TrainingRun(name="still going", start_time=5, trained_on=other.id, experiment=HOSTILE)
    orphan = Model(name="no run", learning_algorithm="Lasso", trained_on=other.id, experiment="exp-b")
    prediction = Prediction(computed_by=model.id, on_dataset=raw.id, location="s3://bucket/p.csv", experiment="exp-a")
    scores = (Score(metric="r2", value=0.5), Score(metric="mse", value=float("nan")), Score(metric="v", value=[1, "x"]))
    evaluation = Evaluation(computed_by=model.id, on_dataset=raw.id, for_prediction=prediction.id, scores=scores,
                            experiment="exp-a", procedure="holdout")  # fmt: skip
    direct = Evaluation(computed_by=orphan.id, on_dataset=other.id, scores=(Score(metric="r2", value=0.1),))
    tracker.write([raw, split, other, scale, pca, onehot, prep, learner, model, finished, failed, running, orphan,
                   prediction, evaluation, direct])  # fmt: skip


@pytest.fixture(scope="module")
def exported(store: mt.Tracker, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every event of the store, exported to a file and read back."""
    target = tmp_path_factory.mktemp("exported") / "events.jsonl"
    export_openlineage(store, str(target))
    return _read(target)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _runs(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        runs.setdefault(event["run"]["runId"], []).append(event)
    return runs


def _mltrack_ids(datasets: list[dict[str, Any]]) -> set[str]:
    return {dataset["facets"]["mltrack"]["id"] for dataset in datasets}


# ---------------------------------------------------------------- validity and lineage


def test_every_event_validates_against_the_openlineage_schemas(exported):
    assert exported
    for event in exported:
        validate_openlineage_event(event)
    facet_names = {name for event in exported for dataset in event["outputs"] for name in dataset["facets"]}
    assert {"schema", "columnLineage", "dataSource", "version", "documentation", "datasetType"} <= facet_names


def test_each_run_has_a_start_and_an_end_event_as_its_state_says(store, exported):
    for run_id, events in _runs(exported).items():
        subject = store.get(events[0]["run"]["facets"]["mltrack"]["id"])
        types = [event["eventType"] for event in events]
        if isinstance(subject, TrainingRun) and subject.state is TrainingState.TRAINING:
            assert types == ["START"]
        elif isinstance(subject, TrainingRun) and subject.state is TrainingState.FAILED:
            assert types == ["START", "FAIL"]
        else:
            assert types == ["START", "COMPLETE"], run_id
    finished = next(run for run in store.find("run", name="ridge run"))
    start, end = _runs(exported)[run_id_of("train", finished.id)]
    assert (start["eventTime"], end["eventTime"]) == ("2023-11-14T22:13:20.000+00:00", "2023-11-14T22:14:20.123+00:00")


def test_the_events_lineage_is_the_trackers(store, exported):
    """Each run's inputs and outputs are the subject's links as ``tracker.lineage`` follows them, one step up."""
    runs = _runs(exported)
    subjects = [entity for entity in store.find(limit=10_000) if entity.KIND != "transform"]
    covered = set()
    for subject in subjects:
        edges = store.lineage(subject.id, "upstream", depth=1).edges
        linked = {edge.relation: edge.target for edge in edges if store.get(edge.target).KIND in LINKED_KINDS}
        if isinstance(subject, TrainingRun):
            model = store.get(subject.for_model) if subject.for_model else None
            expected_inputs = {subject.trained_on or model.trained_on}
            expected_outputs = {model.id} if model else set()
            job_kind = "train"
        elif isinstance(subject, Model):
            if store.count("run", for_model=subject.id):
                continue  # its training run carries it
            expected_inputs, expected_outputs, job_kind = {linked["trained_on"]}, {subject.id}, "train"
        elif isinstance(subject, Dataset):
            if not subject.derived_from:
                continue
            parents = {edge.target for edge in edges if edge.relation == "derived_from"}
            expected_inputs, expected_outputs, job_kind = parents, {subject.id}, "derive"
        else:
            expected_inputs = set(linked.values())
            expected_outputs = {subject.id}
            job_kind = "evaluate" if isinstance(subject, Evaluation) else "predict"
        events = runs[run_id_of(job_kind, subject.id)]
        covered.add(run_id_of(job_kind, subject.id))
        assert _mltrack_ids(events[0]["inputs"]) == expected_inputs, subject
        if events[-1]["eventType"] != "START":
            assert _mltrack_ids(events[-1]["outputs"]) == expected_outputs, subject
    assert covered == set(runs)  # no run without a stored subject


def test_the_model_column_lineage_follows_the_transforms_to_the_training_columns(store, exported):
    model = next(model for model in store.find("model") if model.name == HOSTILE)
    training = store.get(model.trained_on)
    composition = next(transform for transform in store.find("transform") if transform.name == "prep")
    learner = next(transform for transform in store.find("transform") if transform.name == "learn")
    complete = _runs(exported)[run_id_of("train", store.find("run", for_model=model.id)[0].id)][-1]
    (output,) = complete["outputs"]
    facet = output["facets"]["columnLineage"]
    # recomputed from the composition's own lineage (the branches are followed by the export)
    expected = {column.name: set(composition.inputs_of(column.name)) for column in learner.input}
    assert {column: {item["field"] for item in value["inputFields"]} for column, value in facet["fields"].items()} == (
        expected
    )
    data_namespace, data_name = dataset_identity(training.location, training.id, "mltrack")
    for value in facet["fields"].values():
        for item in value["inputFields"]:
            assert (item["namespace"], item["name"]) == (data_namespace, data_name)
            assert item["transformations"][0]["type"] == "DIRECT"
            assert item["transformations"][0]["subtype"] == "TRANSFORMATION"
    pca_path = facet["fields"]["num__pca0"]["inputFields"][0]["transformations"][0]["description"]
    assert pca_path == "StandardScaler, PCA, ColumnTransformer"
    assert [field["name"] for field in output["facets"]["schema"]["fields"]] == [c.name for c in learner.input]


def test_datasets_are_named_by_location_and_carry_their_facets(store, exported):
    datasets = {
        dataset["facets"]["mltrack"]["id"]: dataset
        for event in exported
        for dataset in [*event["inputs"], *event["outputs"]]
    }
    raw = next(dataset for dataset in store.find("dataset") if dataset.name == HOSTILE)
    other = next(dataset for dataset in store.find("dataset") if dataset.name == "other")
    split = next(dataset for dataset in store.find("dataset") if dataset.name == "train split")
    assert (datasets[raw.id]["namespace"], datasets[raw.id]["name"]) == ("s3://bucket", "/raw/data.parquet")
    assert (datasets[other.id]["namespace"], datasets[other.id]["name"]) == ("file", "/data/other file.csv")
    assert (datasets[split.id]["namespace"], datasets[split.id]["name"]) == ("mltrack", split.id)
    facets = datasets[raw.id]["facets"]
    assert facets["version"]["datasetVersion"] == raw.fingerprint
    assert facets["dataSource"]["uri"] == raw.location
    typed = [(field["name"], field["type"]) for field in facets["schema"]["fields"]]
    assert typed == [(column.name, column.typing.value) for column in raw.schema]


def test_hostile_names_survive_as_strings(store, exported):
    raw = next(dataset for dataset in store.find("dataset") if dataset.name == HOSTILE)
    descriptions = {
        dataset["facets"]["documentation"]["description"]
        for event in exported
        for dataset in event["inputs"]
        if dataset["facets"]["mltrack"]["id"] == raw.id
    }
    assert descriptions == {HOSTILE}
    jobs = {event["job"]["name"] for event in exported}
    assert f"{HOSTILE}.train" in jobs  # the run of the experiment with the hostile name
    assert {event["job"]["namespace"] for event in exported} == {"mltrack"}


def test_scores_are_standard_json_in_the_mltrack_run_facet(store, exported):
    evaluation = next(evaluation for evaluation in store.find("evaluation") if evaluation.procedure == "holdout")
    (start, _) = _runs(exported)[run_id_of("evaluate", evaluation.id)]
    facet = start["run"]["facets"]["mltrack"]
    assert facet["scores"] == {"r2": 0.5, "mse": "NaN", "v": [1, "x"]}
    assert facet["_schemaURL"].endswith("#/$defs/MltrackRunFacet")


# ---------------------------------------------------------------- targets and selection


def test_exporting_twice_writes_the_same_events(store, tmp_path, exported):
    target = tmp_path / "again.jsonl"
    target.write_text("old content\n")
    export_openlineage(store, str(target))
    assert _read(target) == exported  # rewritten (not appended to), same run ids, same events


def test_a_lineage_server_receives_every_event_with_the_api_key(store, exported, lineage_server, monkeypatch):
    url, handler = lineage_server
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "secret-key")
    summary = export_openlineage(store, url + "/prefix")
    assert {(path, auth) for path, auth, _ in handler.received} == {("/prefix/api/v1/lineage", "Bearer secret-key")}
    assert [event for _, _, event in handler.received] == exported
    assert summary.events == len(exported) and str(len(exported)) in summary.describe()


def test_a_full_endpoint_url_is_used_as_it_is_and_no_key_sends_no_header(store, lineage_server, monkeypatch):
    url, handler = lineage_server
    monkeypatch.delenv("OPENLINEAGE_API_KEY", raising=False)
    export_openlineage(store, url + "/api/v1/lineage", experiments=["exp-b"])
    assert {(path, auth) for path, auth, _ in handler.received} == {("/api/v1/lineage", None)}


def test_a_refused_event_is_an_error_naming_the_server(store, lineage_server):
    url, handler = lineage_server
    handler.status = 400
    with pytest.raises(MltrackError, match=r"the lineage server at http://127\.0\.0\.1:\d+ failed"):
        export_openlineage(store, url)
    assert len(handler.received) == 1  # nothing after the first refusal


def test_experiment_selection_exports_those_experiments_and_the_derivations_they_use(store, tmp_path):
    target = tmp_path / "exp-a.jsonl"
    export_openlineage(store, str(target), experiments=["exp-a"])
    events = _read(target)
    for event in events:
        validate_openlineage_event(event)
    subjects = {event["run"]["facets"]["mltrack"]["id"] for event in events}
    seen = subjects | {id_ for event in events for id_ in _mltrack_ids([*event["inputs"], *event["outputs"]])}
    in_experiment = {entity.id for entity in store.find(experiment="exp-a") if entity.KIND != "transform"}
    assert in_experiment <= seen
    assert {entity.id for entity in store.find(experiment="exp-a") if entity.KIND in ("run", "evaluation")} <= subjects
    for subject in subjects - in_experiment:  # outside the experiment: only derivations of data it uses
        assert store.get(subject).KIND == "dataset" and store.get(subject).derived_from


def test_the_cli_exports_with_a_namespace_and_counts_its_progress(store_uri, tmp_path, exported):
    target = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(
        main, ["--uri", store_uri, "export", "--format", "openlineage", "--namespace", "team/ns", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith(f"sent {len(exported)} OpenLineage events")
    events = _read(target)
    assert len(events) == len(exported)
    assert {event["job"]["namespace"] for event in events} == {"team/ns"}
    for event in events:
        validate_openlineage_event(event)


# ---------------------------------------------------------------- the validator itself


def _first_lineage_field(event: dict[str, Any]) -> dict[str, Any]:
    fields = event["outputs"][0]["facets"]["columnLineage"]["fields"]
    return next(iter(fields.values()))["inputFields"][0]


def _a_valid_event(exported: list[dict[str, Any]]) -> dict[str, Any]:
    event = next(event for event in exported if event["outputs"] and "columnLineage" in event["outputs"][0]["facets"])
    return json.loads(json.dumps(event))


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda event: event["run"].pop("runId"), r"^run: 'runId' is a required property"),
        (lambda event: event["run"].update(runId="not-a-uuid"), r"^run\.runId: 'not-a-uuid' is not a 'uuid'"),
        (lambda event: event.update(eventType="DONE"), r"^eventType: 'DONE' is not one of"),
        (
            lambda event: event["outputs"][0]["facets"]["schema"].update(fields="a, b"),
            r"^outputs\[0\]\.facets\.schema\.fields: 'a, b' is not of type 'array'",
        ),
        (
            lambda event: _first_lineage_field(event).pop("field"),
            r"^outputs\[0\]\.facets\.columnLineage\.fields\..*inputFields\[0\]: 'field' is a required property",
        ),
        (
            lambda event: event["outputs"][0]["facets"]["schema"].update(
                _schemaURL="https://openlineage.io/spec/facets/9-9-9/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
            ),
            r"^outputs\[0\]\.facets\.schema\._schemaURL: .* not vendored",
        ),
        (
            lambda event: event["run"]["facets"]["mltrack"].pop("_producer"),
            r"^run\.facets\.mltrack: '_producer' is a required property",
        ),
    ],
)
def test_the_validator_rejects_a_broken_event(exported, break_it, message):
    event = _a_valid_event(exported)
    validate_openlineage_event(event)
    break_it(event)
    with pytest.raises(OpenLineageValidationError, match=message):
        validate_openlineage_event(event)


def test_standard_output_gets_one_event_a_line(store_uri, exported):
    result = CliRunner().invoke(main, ["--uri", store_uri, "export", "--format", "openlineage", "-"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert [json.loads(line)["run"]["runId"] for line in lines] == [event["run"]["runId"] for event in exported]


def test_without_openlineage_python_the_error_names_the_extra(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openlineage.client", None)  # what a missing package looks like to import
    with pytest.raises(MissingDependencyError, match=r"pip install 'mltrack-core\[openlineage\]'"):
        export_openlineage(store, str(tmp_path / "events.jsonl"))


def test_a_disabled_client_is_an_error_not_a_silent_export(store, tmp_path, monkeypatch):
    target = tmp_path / "kept.jsonl"
    target.write_text("earlier events\n")
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    with pytest.raises(MltrackError, match="OPENLINEAGE_DISABLED is true"):
        export_openlineage(store, str(target))
    assert target.read_text() == "earlier events\n"


@pytest.mark.parametrize("export_format", ["openlineage", "prov"])
def test_an_experiment_that_holds_nothing_is_an_error_and_writes_nothing(store_uri, tmp_path, export_format):
    target = tmp_path / "out.json"
    command = ["--uri", store_uri, "export", "--format", export_format, "--experiment", "exp-a"]
    result = CliRunner().invoke(main, [*command, "--experiment", "no such experiment", str(target)])
    assert result.exit_code == 1
    assert "no stored entity belongs to experiment 'no such experiment'" in result.output
    assert not target.exists()
