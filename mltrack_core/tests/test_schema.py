"""The schema: conversion, validation, immutability and the JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import pytest

import mltrack_core as mt
from mltrack_core.schema import FrozenDict, entity_from_json, infer_type, new_id


def every_kind() -> list[mt.Entity]:
    dataset = mt.Dataset(
        name="iris",
        location="file:///iris.csv",
        version="2",
        fingerprint="sha256:abc",
        schema=[
            {"name": "sepal_length", "typing": "DOUBLE"},
            mt.TypedColumn(name="species", typing=mt.TypeHint.STRING),
        ],
        target="species",
        row_count=150,
        statistics=[mt.DataStatistic(name="mean", value=5.84, columns=["sepal_length"])],
        histograms=[mt.Histogram(column="species", bucket_values=[50, 50, 50], bucket_labels=["a", "b", "c"])],
        annotations={"source": "uci", "rows": 150, "clean": True},
        tags={"stage": "raw"},
        comments="the classic",
        experiment="flowers",
        creator="ana",
        creator_team="ml",
    )
    transform = mt.Transform(
        name="scaler",
        operator="sklearn.preprocessing.StandardScaler",
        parameters=[mt.Parameter.of("with_mean", True, default=True)],
        input=[mt.TypedColumn(name="sepal_length", typing=mt.TypeHint.DOUBLE)],
        output=[mt.TypedColumn(name="scaled", typing=mt.TypeHint.DOUBLE)],
        column_lineage={"scaled": ["sepal_length"]},
    )
    model = mt.Model(
        name="lr",
        learning_algorithm="LogisticRegression",
        trained_on=dataset,
        transforms=[transform],
        hyperparameters=[mt.Parameter.of("C", 0.5, default=1.0), mt.Parameter(name="classes", value=["a", "b"])],
        environment={"python.version": "3.11"},
    )
    run = mt.TrainingRun(
        name="fit",
        for_model=model,
        state="FINISHED",
        start_time=1,
        end_time=2,
        scores_over_time=[mt.ScoreAtTime(metric="loss", value=0.5, timestamp=3, epoch=0, step=7)],
    )
    prediction = mt.Prediction(computed_by=model, on_dataset=dataset, location="file:///p.csv")
    evaluation = mt.Evaluation(
        computed_by=model,
        on_dataset=dataset,
        for_prediction=prediction,
        scores=[mt.Score(metric="accuracy", value=0.9), mt.Score(metric="per_fold", value=[0.8, 0.9])],
        confusion_matrix=mt.ConfusionMatrix(labels=["a", "b"], matrix=[[3, 1], [0, 4]]),
        procedure="holdout",
    )
    return [dataset, transform, model, run, prediction, evaluation]


@pytest.mark.parametrize("entity", every_kind(), ids=lambda entity: entity.KIND)
def test_every_kind_survives_json_and_pickle(entity):
    document = json.loads(json.dumps(entity.to_json()))
    assert document["kind"] == entity.KIND
    assert entity_from_json(document) == entity
    assert pickle.loads(pickle.dumps(entity)) == entity


def test_references_may_be_given_as_entities_and_become_ids():
    dataset, transform, model, *_ = every_kind()
    assert model.trained_on == dataset.id and model.transforms == (transform.id,)
    assert model.references() == [("trained_on", dataset.id, "dataset"), ("transforms", transform.id, "transform")]


def test_entities_and_their_collections_are_immutable():
    dataset = every_kind()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        dataset.annotations["x"] = "y"  # type: ignore[index]
    assert isinstance(dataset.schema, tuple) and isinstance(dataset.annotations, FrozenDict)
    assert dataset.annotations == {"source": "uci", "rows": "150", "clean": "true"}


def test_ids_are_generated_per_kind_and_ordered_by_time():
    first, second = new_id("model"), new_id("model")
    assert first.startswith("model-") and first != second
    assert mt.Dataset(name="d").id.startswith("ds-")
    assert mt.Evaluation(computed_by="m", on_dataset="d").id.startswith("eval-")


def test_content_hash_ignores_creation_time_only():
    dataset = mt.Dataset(name="d")
    assert dataset.content_hash() == dataclasses.replace(dataset, creation_time=5).content_hash()
    assert dataset.content_hash() != dataclasses.replace(dataset, name="e").content_hash()


@pytest.mark.parametrize(
    ("value", "typing"),
    [
        (True, mt.TypeHint.BOOLEAN),
        (3, mt.TypeHint.LONG),
        (0.5, mt.TypeHint.DOUBLE),
        ("l2", mt.TypeHint.STRING),
        (("a", "b"), mt.TypeHint.STRING_ARRAY),
        ((1, 2), mt.TypeHint.INT_ARRAY),
        ((1, 2.5), mt.TypeHint.DOUBLE_ARRAY),
        ((FrozenDict(a=1),), mt.TypeHint.STRUCT_ARRAY),
        (None, mt.TypeHint.UNKNOWN),
    ],
)
def test_types_are_inferred_from_values(value, typing):
    assert infer_type(value) is typing
    assert mt.Parameter(name="p", value=value).typing is typing


def test_parameter_of_flags_non_default_values_and_keeps_objects_as_text():
    assert mt.Parameter.of("C", 0.5, default=1.0).non_default
    assert not mt.Parameter.of("C", 1.0, default=1.0).non_default
    parameter = mt.Parameter.of("estimator", object())
    assert parameter.value.startswith("<object object") and parameter.typing is mt.TypeHint.STRING
    assert mt.Parameter(name="nested", value={"a": [1, 2]}).value == {"a": (1, 2)}


def test_numpy_like_scalars_are_accepted_through_tolist():
    class Scalar:
        def tolist(self):
            return 7

    assert mt.Parameter(name="n", value=Scalar()).value == 7


def test_a_score_is_scalar_only_when_it_is_one_finite_number():
    assert mt.Score(metric="a", value=0.5).is_scalar
    assert not mt.Score(metric="a", value=[0.5]).is_scalar
    assert not mt.Score(metric="a", value=math.nan).is_scalar
    assert not mt.Score(metric="a", value=True).is_scalar


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: mt.Dataset(name=""), "Dataset .*name: expected a non-empty string"),
        (lambda: mt.Dataset(name="d", row_count=-1), "row_count: expected a non-negative 64-bit int"),
        (lambda: mt.Dataset(name="d", annotations={"a": object()}), r"annotations\['a'\]"),
        (lambda: mt.Dataset(name="d", tags={"a": ""}), "tag.* a need a non-empty value"),
        (lambda: mt.Dataset(name="d", id="has space"), "is not a valid id"),
        (lambda: mt.Model(name="m", learning_algorithm="x", trained_on=""), "trained_on"),
        (lambda: mt.TrainingRun(state="RUNNING"), "one of TRAINING, FINISHED, FAILED"),
        (lambda: mt.Parameter(name="p", value=object()), "JSON-compatible"),
        (lambda: mt.ConfusionMatrix(labels=["a", "b"], matrix=[[1]]), "2x2 matrix"),
        (
            lambda: mt.Evaluation(computed_by="m", on_dataset="d", scores=[{"metric": "a", "value": 1}] * 2),
            "more than once",
        ),
        (lambda: mt.Dataset(name="d", schema="not a list"), "list of TypedColumn"),
        (lambda: mt.Dataset(name="d", creation_time=-5), "creation_time"),
        (lambda: mt.Transform(name="t", column_lineage={"out": "in"}), "list of input column names"),
    ],
)
def test_bad_values_raise_schema_errors_naming_the_field(build, message):
    with pytest.raises(mt.SchemaError, match=message):
        build()


def test_unknown_fields_and_kinds_are_refused_when_reading_json():
    with pytest.raises(mt.SchemaError, match="unknown field.*colour"):
        entity_from_json({"kind": "dataset", "name": "d", "colour": "red"})
    with pytest.raises(mt.SchemaError, match="unknown entity kind 'widget'"):
        entity_from_json({"kind": "widget"})
    with pytest.raises(mt.SchemaError, match="missing required field"):
        entity_from_json({"kind": "model", "name": "m", "learning_algorithm": "x"})


def test_defaults_are_left_out_of_the_json():
    document = mt.Dataset(name="d").to_json()
    assert set(document) == {"id", "name", "creation_time", "kind"}


@pytest.mark.parametrize(
    "build",
    [
        lambda: mt.Dataset(name="bad \ud800"),
        lambda: mt.Dataset(name="d", annotations={"note": "\udfff"}),
        lambda: mt.Parameter(name="p", value={"k\ud800": 1}),
        lambda: mt.Parameter(name="p", value=["ok", "\ud800"]),
    ],
)
def test_text_that_utf8_cannot_encode_is_refused(build):
    with pytest.raises(mt.SchemaError, match="UTF-8"):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: mt.ConfusionMatrix(labels=5, matrix=[[1]]),
        lambda: mt.ConfusionMatrix(labels=["a"], matrix=[1]),
        lambda: mt.Histogram(column="c", bucket_values=[1], bucket_labels=7),
        lambda: mt.DataStatistic(name="s", value=1, columns="abc"),
    ],
)
def test_lists_given_as_something_else_are_schema_errors(build):
    with pytest.raises(mt.SchemaError, match="expected a list"):
        build()


def test_values_nested_too_deeply_are_schema_errors():
    value: list = []
    for _ in range(500):
        value = [value]
    with pytest.raises(mt.SchemaError, match="nest more than 100 levels"):
        mt.Parameter(name="deep", value=value)


HOSTILE_IDS = [
    "../../../x",
    "/etc/passwd",
    "team/run-1",
    "a\\b",
    ".",
    "..",
    ".hidden",
    "-rf",
    "a%2Fb",
    "a?b",
    "a#b",
    "a b",
    "a\x00b",
    "a\nb",
    "a\x1b[31mb",
    "a\u202eb",  # right-to-left override
    "a\u00a0b",  # no-break space
    "\ud800",
    "x" * (mt.schema.MAX_ID_LENGTH + 1),
]


@pytest.mark.parametrize("bad_id", HOSTILE_IDS)
def test_ids_that_are_not_safe_in_urls_and_file_names_are_refused_everywhere(bad_id):
    assert not mt.schema.is_valid_id(bad_id)
    with pytest.raises(mt.SchemaError, match="not a valid id|UTF-8"):
        mt.Dataset(name="d", id=bad_id)
    with pytest.raises(mt.SchemaError):
        mt.Dataset(name="d", derived_from=[bad_id])
    with pytest.raises(mt.SchemaError):
        entity_from_json({"kind": "model", "id": "m", "learning_algorithm": "a", "trained_on": bad_id})


@pytest.mark.parametrize("good_id", ["ds-1", "openml-run-12-model", "a.b:c@d+e=f~g_h", "🧪" * 3, "ünïcode", "x" * 512])
def test_ids_may_hold_letters_digits_safe_punctuation_and_printable_unicode(good_id):
    assert mt.Dataset(name="d", id=good_id).id == good_id


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: mt.Dataset(name="d", creation_time=2**62), "creation_time"),
        (lambda: mt.Dataset(name="d", creation_time=2**63), "creation_time"),
        (lambda: mt.TrainingRun(start_time=mt.schema.MAX_TIME + 1), "start_time"),
        (lambda: mt.Dataset(name="d", row_count=2**63), "row_count"),
        (lambda: mt.ScoreAtTime(metric="m", value=10**400, timestamp=1), "value"),
        (lambda: mt.ScoreAtTime(metric="m", value=1.0, timestamp=1, step=2**64), "step"),
    ],
)
def test_numbers_beyond_what_stores_hold_are_schema_errors(build, field):
    with pytest.raises(mt.SchemaError, match=field):
        build()


def test_the_last_millisecond_of_year_9999_is_a_valid_time():
    assert mt.Dataset(name="d", creation_time=mt.schema.MAX_TIME).creation_time == mt.schema.MAX_TIME


def test_json_written_for_others_is_standard_and_reads_back_the_non_finite_floats():
    run = mt.TrainingRun(
        id="run-1",
        hyperparameters=[mt.Parameter(name="alpha", value=math.inf), mt.Parameter(name="grid", value=[1.0, math.nan])],
        scores_over_time=[mt.ScoreAtTime(metric="loss", value=-math.inf, timestamp=1)],
    )
    text = mt.schema.dumps(run.to_json())

    def refuse(constant):
        raise AssertionError(f"bare {constant} in {text}")

    document = json.loads(text, parse_constant=refuse)
    again = entity_from_json(document)
    assert again.hyperparameters[0].value == math.inf
    assert math.isnan(again.hyperparameters[1].value[1])
    assert again.scores_over_time[0].value == -math.inf
    assert mt.Parameter(name="s", value="NaN").value == "NaN"  # a string stays a string
