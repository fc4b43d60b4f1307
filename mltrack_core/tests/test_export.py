"""Export to the paper's published schema: every document validates, nothing is lost."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

import mltrack_core as mt
from mltrack_core.exporters.ml_experiments_schema import DEFINITIONS, FOLDERS, export, load_schema, to_spec_document
from mltrack_core.schema import entity_from_json
from mltrack_core.testing import sample_experiment


def validator_for(kind: str) -> jsonschema.Draft7Validator:
    schema = load_schema()
    # In draft 7 a "$ref" replaces its siblings, so the definitions serve as the referenced document.
    return jsonschema.Draft7Validator({**schema, "$ref": f"#/{DEFINITIONS[kind]}"})


@pytest.fixture
def exported(tracker, tmp_path):
    recorded = sample_experiment(tracker)
    unfinished = tracker.track_training(name="still running", trained_on=recorded["train"])
    unfinished.log("loss", 0.1)
    unfinished.flush()
    tracker.track_dataset(name="no location, empty string parameter", annotations={"empty": ""})
    tracker.track_model(
        name="edge cases",
        learning_algorithm="lr",
        trained_on=recorded["train"],
        hyperparameters=[mt.Parameter(name="empty", value=""), mt.Parameter(name="none", value=None)],
    )
    summary = export(tracker, tmp_path / "out")
    return tracker, recorded, summary, unfinished


def test_every_exported_document_validates_against_the_published_schema(exported):
    tracker, _, summary, _ = exported
    checked = 0
    for kind, folder in FOLDERS.items():
        validator = validator_for(kind)
        for path in (summary.directory / folder).glob("*.json"):
            errors = sorted(validator.iter_errors(json.loads(path.read_text())), key=str)
            assert not errors, f"{path.name}: {errors[0].message}"
            checked += 1
    assert checked == tracker.count() - 1  # the unfinished run has no valid TrainingRun form


def test_runs_without_a_model_go_to_a_folder_of_their_own(exported):
    _, _, summary, unfinished = exported
    document = json.loads((summary.directory / "mltrack-only" / f"{unfinished.id}.json").read_text())
    run = entity_from_json(document)
    assert run.state is mt.TrainingState.TRAINING and run.scores_over_time[0].value == 0.1


def test_each_document_carries_the_complete_entity(exported):
    tracker, recorded, summary, _ = exported
    for entity in recorded.values():
        path = summary.directory / FOLDERS[entity.KIND] / f"{entity.id}.json"
        assert entity_from_json(json.loads(path.read_text())["mltrack"]) == tracker.get(entity.id)


def test_spec_fields_are_filled_from_the_entity(exported):
    _, recorded, summary, _ = exported
    model = json.loads((summary.directory / "models" / f"{recorded['model'].id}.json").read_text())
    assert model["trainedOnDatasetId"] == recorded["train"].id
    assert [t["name"] for t in model["transforms"]] == ["scaler", "classifier"]
    assert model["hyperparameters"] == [
        {"name": "C", "typing": "DOUBLE", "value": "0.5", "nonDefault": True, "trackedByUser": False}
    ]
    evaluation = json.loads((summary.directory / "evaluations" / f"{recorded['evaluation'].id}.json").read_text())
    # the published matrix is column-major: [[5, 1], [0, 4]] -> 5, 0, 1, 4
    assert evaluation["confusionMatrix"] == {"numberOfClasses": 2, "classLabels": ["a", "b"], "values": [5, 0, 1, 4]}
    run = json.loads((summary.directory / "training_runs" / f"{recorded['run'].id}.json").read_text())
    assert run["forModelId"] == recorded["model"].id and len(run["scoresOverTime"]) == 3
    dataset = json.loads((summary.directory / "datasets" / f"{recorded['train'].id}.json").read_text())
    assert dataset["derivedFromDatasetId"] == recorded["full"].id
    assert dataset["location"] == f"urn:mltrack:dataset:{recorded['train'].id}"


def test_values_the_schema_cannot_take_are_encoded_as_non_empty_text():
    dataset = mt.Dataset(name="d")
    model = mt.Model(
        name="m",
        learning_algorithm="lr",
        trained_on=dataset,
        hyperparameters=[mt.Parameter(name="empty", value=""), mt.Parameter(name="list", value=[1, 2])],
    )
    values = [parameter["value"] for parameter in to_spec_document(model)["hyperparameters"]]
    assert values == ['""', "[1, 2]"]
    assert not list(validator_for("model").iter_errors(to_spec_document(model)))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"not standard JSON: {name}")


def strict_json(text: str):
    return json.loads(text, parse_constant=_refuse_constant)


def test_ids_that_are_not_plain_file_names_get_a_file_of_their_own_inside_the_folder(tracker, tmp_path):
    ids = ["Upper", "upper", "a:b", "con", "x" * 512, "é🙂", "a@b+c=d~e"]
    for id_ in ids:
        tracker.track_dataset(name="d", id=id_)
    summary = export(tracker, tmp_path / "out" / "export")
    files = sorted((tmp_path / "out").rglob("*"))
    assert all(path.is_relative_to(summary.directory / "datasets") for path in files if path.is_file())
    documents = [strict_json(path.read_text()) for path in (summary.directory / "datasets").iterdir()]
    assert sorted(document["id"] for document in documents) == sorted(ids)
    assert len({path.name.lower() for path in (summary.directory / "datasets").iterdir()}) == len(ids)


def test_a_folder_that_is_a_link_leading_out_is_refused(tracker, tmp_path):
    tracker.track_dataset(name="d")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "datasets").symlink_to(outside, target_is_directory=True)
    with pytest.raises(mt.MltrackError, match="outside"):
        export(tracker, tmp_path / "out")
    assert not any(outside.iterdir())


def test_non_finite_numbers_are_written_as_standard_json(tracker, tmp_path):
    recorded = sample_experiment(tracker)
    diverged = tracker.track_evaluation(
        {"accuracy": float("nan"), "loss": float("inf")}, computed_by=recorded["model"], on_dataset=recorded["test"]
    )
    run = tracker.track_training(name="diverged", trained_on=recorded["train"])
    run.log("loss", float("-inf"))
    run.finish()
    summary = export(tracker, tmp_path / "out")
    texts = [path.read_text() for path in summary.directory.rglob("*.json")]
    assert len(texts) == tracker.count()
    documents = {document["id"]: document for document in map(strict_json, texts)}
    evaluation = documents[diverged.id]
    assert {score["metric"]: score["value"] for score in evaluation["mltrack"]["scores"]} == {
        "accuracy": "NaN",
        "loss": "Infinity",
    }
    restored = entity_from_json(evaluation["mltrack"])
    assert math.isnan(restored.scores[0].value) and restored.scores[1].value == math.inf
    assert documents[run.id]["scores_over_time"][0]["value"] == "-Infinity"  # in mltrack-only/
