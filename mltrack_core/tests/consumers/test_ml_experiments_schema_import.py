"""Import of ml-experiments-schema documents: mltrack's own exports losslessly, other tools' documents mapped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

import mltrack_core as mt
from mltrack_core.exporters.ml_experiments_schema import DEFINITIONS, FOLDERS, export, load_schema, to_spec_document
from mltrack_core.importers import import_ml_experiments_schema
from mltrack_core.importers.ml_experiments_schema import parse_typed_value
from mltrack_core.testing import sample_experiment

OTHER_TOOL = Path(__file__).resolve().parents[1] / "fixtures" / "ml-experiments-schema"


def every_kind(tracker: mt.Tracker) -> None:
    """A store with every entity kind and every state a training run can be in."""
    recorded = sample_experiment(tracker)
    failed = tracker.track_training(name="diverged", trained_on=recorded["train"])
    failed.log("loss", 3.5, epoch=0, step=0)
    failed.fail("loss became NaN")
    running = tracker.track_training(name="still running")
    running.log("accuracy", 0.25, step=7)
    running.flush()


def all_entities(tracker: mt.Tracker) -> dict[str, mt.Entity]:
    ids = [entity.id for entity in tracker.find()]
    return tracker.get_many(ids)


def test_an_export_imports_losslessly_into_an_empty_store(tmp_path: Path) -> None:
    with mt.connect("memory://", creator="alice", team="vision") as source:
        every_kind(source)
        export(source, tmp_path / "export")
        original = all_entities(source)
    assert {entity.KIND for entity in original.values()} == {
        "dataset",
        "model",
        "transform",
        "run",
        "prediction",
        "evaluation",
    }

    with mt.connect(f"sqlite:///{tmp_path / 'copy.db'}", creator="bob", team="other") as copy:
        summary = import_ml_experiments_schema(copy, tmp_path / "export")
        imported = all_entities(copy)
        assert summary.total == len(original) == 11 and summary.unchanged == 0
        assert imported == original  # every field, creator and creation time included
        runs = {run.name: run for run in imported.values() if isinstance(run, mt.TrainingRun)}
        assert [point.value for point in runs["iris-lr fit"].scores_over_time] == [1.0, 0.5, 1.0 / 3]
        assert (
            runs["diverged"].state is mt.TrainingState.FAILED
            and runs["still running"].state is mt.TrainingState.TRAINING
        )
        assert copy.points(runs["still running"].id)[0].step == 7
        evaluation = next(entity for entity in imported.values() if isinstance(entity, mt.Evaluation))
        assert copy.lineage(evaluation.id).of_kind("dataset")  # lineage queries work on the imported graph

        again = import_ml_experiments_schema(copy, tmp_path / "export")
        assert again.total == 0 and again.unchanged == len(original)
        assert copy.count() == len(original)


def test_an_import_that_conflicts_writes_nothing(tmp_path: Path, sqlite_tracker: mt.Tracker) -> None:
    with mt.connect("memory://") as source:
        recorded = sample_experiment(source)
        export(source, tmp_path / "export")
    sqlite_tracker.track_dataset(mt.Dataset(id=recorded["test"].id, name="something else"))
    with pytest.raises(mt.ConflictError, match=recorded["test"].id):
        import_ml_experiments_schema(sqlite_tracker, tmp_path / "export")
    assert sqlite_tracker.count() == 1


def test_documents_without_the_mltrack_property_map_every_published_field(tmp_path: Path) -> None:
    with mt.connect("memory://") as source:
        sample_experiment(source)
        export(source, tmp_path / "export")
        original = all_entities(source)
    plain = tmp_path / "plain"
    shutil.copytree(tmp_path / "export", plain, ignore=shutil.ignore_patterns("mltrack-only"))
    for path in plain.rglob("*.json"):
        document = json.loads(path.read_text())
        del document["mltrack"]
        path.write_text(json.dumps(document))

    with mt.connect("memory://") as copy:
        import_ml_experiments_schema(copy, plain)
        imported = all_entities(copy)
    assert set(imported) == set(original)
    for id_, entity in imported.items():
        assert spec_fields(imported, entity) == spec_fields(original, original[id_]), id_


def spec_fields(entities: dict[str, mt.Entity], entity: mt.Entity) -> dict:
    """The published-schema part of the entity's export (what a plain document can carry)."""
    document = to_spec_document(entity, [entities[id_] for id_ in getattr(entity, "transforms", ())])
    del document["mltrack"]
    return document


def test_documents_of_another_tool_validate_against_the_published_schema() -> None:
    schema = load_schema()
    validated = 0
    for kind, folder in FOLDERS.items():
        for path in (OTHER_TOOL / folder).glob("*.json"):
            jsonschema.Draft7Validator({**schema, "$ref": f"#/{DEFINITIONS[kind]}"}).validate(
                json.loads(path.read_text())
            )
            validated += 1
    assert validated == 6


def test_documents_of_another_tool_are_imported_with_typed_values(sqlite_tracker: mt.Tracker) -> None:
    summary = import_ml_experiments_schema(sqlite_tracker, OTHER_TOOL)
    assert dict(summary.written) == {
        "dataset": 2,
        "transform": 1,
        "model": 1,
        "run": 1,
        "prediction": 1,
        "evaluation": 1,
    }

    wine = sqlite_tracker.get("wine-full")
    assert (wine.version, wine.creator, wine.creator_team, wine.creation_time) == (
        "2",
        "ana",
        "ml-platform",
        1500000000000,
    )
    assert [(column.name, column.typing) for column in wine.schema][1] == ("magnesium", mt.TypeHint.LONG)
    statistics = {statistic.name: statistic for statistic in wine.statistics}
    assert statistics["row_count"].value == 178 and statistics["mean"].value == 13.0006
    assert statistics["classes"].value == ("class_0", "class_1", "class_2") and statistics["classes"].columns == (
        "cultivar",
    )
    assert wine.histograms[0].bucket_values == (59, 71, 48)
    assert sqlite_tracker.get("wine-test").derived_from == ("wine-full",)

    model = sqlite_tracker.get("wine-forest")
    values = {parameter.name: parameter.value for parameter in model.hyperparameters}
    assert values == {
        "n_estimators": 200,
        "max_features": 0.5,
        "bootstrap": True,
        "criterion": "gini",
        "class_weight_order": (2, 0, 1),
    }
    assert [parameter.non_default for parameter in model.hyperparameters][:3] == [True, True, False]
    assert model.transforms == ("wine-scaler",)
    assert sqlite_tracker.get("wine-scaler").parameters[0].value is False

    run = sqlite_tracker.get("wine-forest-fit")
    assert run.state is mt.TrainingState.FINISHED and run.for_model == "wine-forest"
    assert [(point.epoch, point.value) for point in run.scores_over_time] == [(0, 0.12), (1, 0.07)]
    assert run.environment["host"] == "worker-7"

    [evaluation] = sqlite_tracker.find("evaluation")
    assert evaluation.id.startswith("evaluation-")  # derived from the document: the schema does not require an id
    assert evaluation.score("accuracy").value == 0.9574
    assert evaluation.score("f1_per_class").value == (1.0, 0.9, 0.95)
    assert evaluation.confusion_matrix.matrix == ((14, 0, 0), (1, 19, 1), (0, 0, 12))
    assert evaluation.tags == {"stage": "nightly"}
    assert evaluation.for_prediction == "wine-forest-test-predictions"

    again = import_ml_experiments_schema(sqlite_tracker, OTHER_TOOL)
    assert again.total == 0 and sqlite_tracker.count() == 7


@pytest.mark.parametrize(
    ("text", "typing", "expected"),
    [
        ("true", "BOOLEAN", True),
        ("FALSE", "BOOLEAN", False),
        ("42", "INT", 42),
        ("-7", "LONG", -7),
        ("0.25", "FLOAT", 0.25),
        ("1e-3", "DOUBLE", 0.001),
        ("1", "STRING", "1"),
        ('["a", "b"]', "STRING_ARRAY", ["a", "b"]),
        ("[0.5, 1]", "VECTOR", [0.5, 1]),
        ('[{"k": 1}]', "STRUCT_ARRAY", [{"k": 1}]),
        ("null", "UNKNOWN", None),
        ("free text", "UNKNOWN", "free text"),
    ],
)
def test_typed_values_are_parsed_by_their_type_hint(text: str, typing: str, expected: object) -> None:
    assert parse_typed_value(text, typing, "value") == expected


@pytest.mark.parametrize(
    ("text", "typing", "message"),
    [
        ("yes", "BOOLEAN", "cannot read 'yes' as BOOLEAN"),
        ("1.5", "LONG", "cannot read '1.5' as LONG"),
        ("[1, 2", "INT_ARRAY", "cannot read '\\[1, 2' as INT_ARRAY"),
        ('{"a": 1}', "DOUBLE_ARRAY", "expected a JSON array"),
        ("1", "DECIMAL", "unknown typing 'DECIMAL'"),
    ],
)
def test_unreadable_values_name_the_field(text: str, typing: str, message: str) -> None:
    with pytest.raises(mt.SchemaError, match=message):
        parse_typed_value(text, typing, "hyperparameters[0].value")


def test_bad_documents_are_refused_naming_the_file(tmp_path: Path, sqlite_tracker: mt.Tracker) -> None:
    shutil.copytree(OTHER_TOOL, tmp_path / "docs")
    model = tmp_path / "docs" / "models" / "wine-forest.json"
    document = json.loads(model.read_text())
    document["hyperparameters"][0]["value"] = "two hundred"
    model.write_text(json.dumps(document))
    with pytest.raises(
        mt.SchemaError, match=r"wine-forest\.json: hyperparameters\[0\]\.value: cannot read 'two hundred' as LONG"
    ):
        import_ml_experiments_schema(sqlite_tracker, tmp_path / "docs")
    assert sqlite_tracker.count() == 0

    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "thing.json").write_text(json.dumps({"name": "x", "location": "file:///x"}))
    with pytest.raises(mt.SchemaError, match="thing.json: cannot tell which kind of entity it is"):
        import_ml_experiments_schema(sqlite_tracker, tmp_path / "loose")

    (tmp_path / "broken" / "datasets").mkdir(parents=True)
    (tmp_path / "broken" / "datasets" / "d.json").write_text("{not json")
    with pytest.raises(mt.SchemaError, match="d.json is not a JSON document"):
        import_ml_experiments_schema(sqlite_tracker, tmp_path / "broken")

    (tmp_path / "empty").mkdir()
    with pytest.raises(mt.SchemaError, match="holds no"):
        import_ml_experiments_schema(sqlite_tracker, tmp_path / "empty")


def test_a_document_naming_a_missing_entity_is_refused(tmp_path: Path, sqlite_tracker: mt.Tracker) -> None:
    shutil.copytree(OTHER_TOOL, tmp_path / "docs")
    (tmp_path / "docs" / "datasets" / "wine.json").unlink()
    with pytest.raises(mt.DanglingReferenceError, match="wine-full"):
        import_ml_experiments_schema(sqlite_tracker, tmp_path / "docs")
    assert sqlite_tracker.count() == 0


def test_the_command_imports_an_export(tmp_path: Path, mltrack) -> None:
    with mt.connect("memory://") as source:
        sample_experiment(source)
        export(source, tmp_path / "export")
    result = mltrack("import", "ml-experiments-schema", str(tmp_path / "export"))
    assert result.exit_code == 0, result.output
    assert "imported 9 new entities" in result.stdout and "3 dataset" in result.stdout
    again = mltrack("import", "ml-experiments-schema", str(tmp_path / "export"), "--json")
    assert json.loads(again.stdout)["unchanged"] == 9
    missing = mltrack("import", "ml-experiments-schema", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
