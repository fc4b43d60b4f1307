"""Exported transform documents say what each transform is (its class or operator), not only its place in the DAG."""

from __future__ import annotations

import json

import jsonschema

from mltrack_core.exporters.ml_experiments_schema import DEFINITIONS, export, load_schema


def validator_for(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator({**load_schema(), "$ref": f"#/{DEFINITIONS[kind]}"})


def test_every_transform_document_names_its_operator(tracker, tmp_path):
    train = tracker.track_dataset(name="train", target="y")
    scale = tracker.track_transform(name="preprocess__num__scale", operator="StandardScaler")
    unnamed = tracker.track_transform(name="custom", input_transforms=[scale])  # an operator nobody recorded
    learn = tracker.track_transform(name="classify", operator="LogisticRegression", input_transforms=[unnamed])
    model = tracker.track_model(
        name="m", learning_algorithm="LogisticRegression", trained_on=train, transforms=[scale, unnamed, learn]
    )
    run = tracker.track_training(name="fit", trained_on=train, transforms=[scale, unnamed, learn])
    run.finish(model)

    directory = export(tracker, tmp_path / "out").directory

    expected = {"preprocess__num__scale": "StandardScaler", "custom": None, "classify": "LogisticRegression"}
    standalone = [json.loads(path.read_text()) for path in (directory / "transforms").glob("*.json")]
    assert {document["name"]: document.get("operator") for document in standalone} == expected
    assert all(not list(validator_for("transform").iter_errors(document)) for document in standalone)
    for folder, kind, entity in (("models", "model", model), ("training_runs", "run", run)):
        document = json.loads((directory / folder / f"{entity.id}.json").read_text())
        embedded = {transform["name"]: transform.get("operator") for transform in document["transforms"]}
        assert embedded == expected, folder
        assert not list(validator_for(kind).iter_errors(document)), folder
