"""The entity page (/ui/entities/{id}): redirects by kind, the generic page of evaluations, predictions, transforms."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

import mltrack_core as mt
from mltrack_core.schema import Parameter, TypedColumn, TypeHint
from mltrack_core.testing import sample_experiment

HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


def cells(page: str, table_id: str) -> list[list[str]]:
    """The text of each body row's cells (th and td) of the table with ``table_id``."""
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert table, f"no table #{table_id}"
    body = table.group(1).split("<tbody>", 1)[1]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


@pytest.fixture
def recorded(tracker: mt.Tracker) -> dict:
    """One entity of every kind (iris, a logistic regression, its run, predictions and evaluation), labelled."""
    entities = sample_experiment(tracker)
    entities["labelled"] = tracker.track_evaluation(
        {"accuracy": 0.9, "per_class_recall": [1.0, 0.8, 0.9]},
        computed_by=entities["model"],
        on_dataset=entities["test"],
        procedure="holdout",
        experiment="iris-baselines",
        creator="ana",
        creator_team="vision",
        comments="second look at the test split",
        tags={"stage": "review"},
        annotations={"ticket": "ML-42"},
    )
    tracker.flush()
    return entities


def test_datasets_models_and_runs_redirect_to_their_pages(client: TestClient, recorded: dict) -> None:
    for role, page in (("train", "datasets"), ("model", "models"), ("run", "runs")):
        answer = client.get(f"/ui/entities/{recorded[role].id}", follow_redirects=False)
        assert answer.status_code == 307
        assert answer.headers["location"] == f"/ui/{page}/{recorded[role].id}"


def test_an_unknown_id_is_a_404_page(client: TestClient) -> None:
    answer = client.get("/ui/entities/ds-0000000000000000000000000000")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "ds-0000000000000000000000000000" in answer.text


def test_evaluation_page_shows_scores_matrix_links_and_labels(client: TestClient, recorded: dict) -> None:
    evaluation, model, test = recorded["evaluation"], recorded["model"], recorded["test"]
    page = client.get(f"/ui/entities/{evaluation.id}").text
    assert cells(page, "scores") == [
        ["accuracy", "0.93", "higher", "leaderboard of accuracy"],
        ["log_loss", "0.2", "lower", "leaderboard of log_loss"],
    ]
    assert f'href="/ui/leaderboard/{test.id}?metric=accuracy&amp;procedure=holdout"' in page
    assert cells(page, "confusion-matrix") == [["a", "5", "1"], ["b", "0", "4"]]
    assert f'href="/ui/models/{model.id}"' in page and f'href="/ui/datasets/{test.id}"' in page
    assert f'href="/ui/entities/{recorded["prediction"].id}"' in page
    assert "<dt>Procedure</dt><dd>holdout</dd>" in page
    assert "<h1>iris-lr on iris-test</h1>" in page  # an unnamed evaluation is named by what it evaluates


def test_labels_comments_creator_and_experiment_are_shown(client: TestClient, recorded: dict) -> None:
    page = client.get(f"/ui/entities/{recorded['labelled'].id}").text
    assert "<dt>stage</dt><dd>review</dd>" in page and "<dt>ticket</dt><dd>ML-42</dd>" in page
    assert "second look at the test split" in page and "ana (vision)" in page
    assert 'href="/ui/?kind=evaluation&amp;experiment=iris-baselines"' in page
    # an array score is shown, but has no leaderboard (only scalar scores are ranked)
    assert cells(page, "scores")[1] == ["per_class_recall", "[1.0, 0.8, 0.9]", "", ""]
    assert "Lineage graph" in page


def test_prediction_page_shows_model_data_location_and_schema(client: TestClient, tracker: mt.Tracker) -> None:
    recorded = sample_experiment(tracker)
    prediction = tracker.track_prediction(
        computed_by=recorded["model"],
        on_dataset=recorded["test"],
        location="s3://bucket/iris/predictions.parquet",
        schema=[TypedColumn(name="species_predicted", typing=TypeHint.STRING)],
    )
    tracker.flush()
    page = client.get(f"/ui/entities/{prediction.id}").text
    assert "s3://bucket/iris/predictions.parquet" in page
    assert cells(page, "schema") == [["species_predicted", "STRING"]]
    assert f'href="/ui/models/{recorded["model"].id}"' in page


def test_transform_page_shows_operator_parameters_columns_and_lineage(client: TestClient, tracker: mt.Tracker) -> None:
    imputer = tracker.track_transform(
        name="imputer",
        operator="SimpleImputer",
        framework="scikit-learn",
        input=[TypedColumn(name="sepal_length", typing=TypeHint.DOUBLE)],
        output=[TypedColumn(name="sepal_length", typing=TypeHint.DOUBLE)],
        column_lineage={"sepal_length": ["sepal_length"]},
    )
    scaler = tracker.track_transform(
        name="scaler",
        operator="StandardScaler",
        framework="scikit-learn",
        framework_version="1.5.2",
        parameters=[Parameter.of("with_mean", False, default=True), Parameter.of("copy", True, default=True)],
        input=[
            TypedColumn(name="sepal_length", typing=TypeHint.DOUBLE),
            TypedColumn(name="petal_width", typing=TypeHint.DOUBLE),
        ],
        output=[TypedColumn(name="x0", typing=TypeHint.DOUBLE), TypedColumn(name="x1", typing=TypeHint.DOUBLE)],
        column_lineage={"x0": ["sepal_length"], "x1": "*"},
        input_transforms=[imputer],
    )
    tracker.flush()
    page = client.get(f"/ui/entities/{scaler.id}").text
    assert "StandardScaler" in page and "scikit-learn 1.5.2" in page
    assert cells(page, "parameters") == [["with_mean", "False", "True"], ["copy", "True", "True"]]
    assert 'class="mono non-default">with_mean' in page
    assert cells(page, "input-columns") == [["sepal_length", "DOUBLE"], ["petal_width", "DOUBLE"]]
    assert cells(page, "output-columns") == [["x0", "DOUBLE"], ["x1", "DOUBLE"]]
    assert cells(page, "column-lineage") == [["x0", "sepal_length"], ["x1", "every input: sepal_length, petal_width"]]
    assert f'<a href="/ui/entities/{imputer.id}" title="{imputer.id}">imputer</a>' in page


@pytest.mark.parametrize("hostile", HOSTILE)
def test_recorded_text_is_escaped(client: TestClient, tracker: mt.Tracker, hostile: str) -> None:
    recorded = sample_experiment(tracker)
    transform = tracker.track_transform(
        name=hostile,
        operator=hostile,
        parameters=[Parameter.of(hostile, hostile)],
        output=[TypedColumn(name=hostile)],
        tags={hostile: hostile},
    )
    evaluation = tracker.track_evaluation(
        {hostile: 0.5},
        computed_by=recorded["model"],
        on_dataset=recorded["test"],
        name=hostile,
        procedure=hostile,
        comments=hostile,
        annotations={hostile: hostile},
        experiment=hostile,
    )
    prediction = tracker.track_prediction(
        computed_by=recorded["model"], on_dataset=recorded["test"], name=hostile, location=hostile
    )
    tracker.flush()
    for entity in (transform, evaluation, prediction):
        page = client.get(f"/ui/entities/{entity.id}").text
        assert hostile not in page and "<img" not in page and "<script>alert" not in page
        assert str(escape(hostile)) in page
