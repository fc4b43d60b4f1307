"""The leaderboard (/ui/leaderboard/{dataset}) and the diff of two evaluated models (/ui/diff)."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

import mltrack_core as mt
from mltrack_core.schema import Parameter, TypedColumn, TypeHint

HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
IRIS_COLUMNS = [TypedColumn(name=name, typing=TypeHint.DOUBLE) for name in ("sepal_length", "sepal_width")]


def row_ids(page: str, table_id: str) -> list[str]:
    """The data-evaluation-id of each row of the table ``table_id``, in order."""
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert table, f"no table #{table_id}"
    return re.findall(r'<tr data-evaluation-id="([^"]+)"', table.group(1))


def excluded_reasons(page: str) -> dict[str, str]:
    table = re.search(r'<table id="excluded"[^>]*>(.*?)</table>', page, re.S)
    assert table, "no table #excluded"
    rows = re.findall(r'<tr data-evaluation-id="([^"]+)">.*?<td class="reason">(.*?)</td>', table.group(1), re.S)
    return {id_: html.unescape(reason) for id_, reason in rows}


def diff_fields(page: str) -> set[tuple[str, str]]:
    return {
        (html.unescape(section), html.unescape(field))
        for field, section in re.findall(r'<tr data-field="([^"]*)" data-section="([^"]*)">', page)
    }


def model(tracker: mt.Tracker, name: str, algorithm: str, trained_on, **hyperparameters) -> mt.Model:
    return tracker.track_model(
        name=name,
        learning_algorithm=algorithm,
        trained_on=trained_on,
        framework="scikit-learn",
        framework_version="1.5.2",
        hyperparameters=[Parameter.of(key, value) for key, value in hyperparameters.items()],
        environment={"python": "3.11.9", "numpy": "2.1.3"},
    )


@pytest.fixture
def board(tracker: mt.Tracker) -> dict:
    """Four classifiers evaluated on the iris test split (one on a copy), plus evaluations a leaderboard leaves out."""
    train = tracker.track_dataset(
        name="iris-train", fingerprint="sha256:iris-train", target="species", schema=IRIS_COLUMNS
    )
    test = tracker.track_dataset(name="iris-test", fingerprint="sha256:iris-test", target="species", row_count=30)
    copy = tracker.track_dataset(name="iris-test (copy)", fingerprint="sha256:iris-test", target="species")
    relabelled = tracker.track_dataset(name="iris-test by genus", fingerprint="sha256:iris-test", target="genus")
    models = {
        "lr": model(tracker, "iris-lr", "LogisticRegression", train, C=0.5, max_iter=200, random_state=0),
        "rf": model(tracker, "iris-rf", "RandomForestClassifier", train, n_estimators=200, max_depth=6, random_state=0),
        "svc": model(tracker, "iris-svc", "SVC", train, C=1.0, kernel="rbf", random_state=0),
        "knn": model(tracker, "iris-knn", "KNeighborsClassifier", train, n_neighbors=5),
    }
    evaluations = {
        "lr": tracker.track_evaluation(
            {"accuracy": 0.9333, "log_loss": 0.2104}, computed_by=models["lr"], on_dataset=test, procedure="holdout"
        ),
        "rf": tracker.track_evaluation(
            {"accuracy": 0.9667, "log_loss": 0.1187}, computed_by=models["rf"], on_dataset=test, procedure="holdout"
        ),
        "svc": tracker.track_evaluation(
            {"accuracy": 0.9, "log_loss": 0.3512}, computed_by=models["svc"], on_dataset=test, procedure="holdout"
        ),
        "knn": tracker.track_evaluation(
            {"accuracy": 0.9467}, computed_by=models["knn"], on_dataset=copy, procedure="holdout"
        ),
        "lr_cv": tracker.track_evaluation(
            {"accuracy": 0.9533}, computed_by=models["lr"], on_dataset=test, procedure="5-fold cv"
        ),
        "svc_nan": tracker.track_evaluation(
            {"accuracy": float("nan")}, computed_by=models["svc"], on_dataset=test, procedure="holdout"
        ),
        "genus": tracker.track_evaluation(
            {"accuracy": 0.99}, computed_by=models["rf"], on_dataset=relabelled, procedure="holdout"
        ),
    }
    tracker.flush()
    return {"train": train, "test": test, "copy": copy, "models": models, "evaluations": evaluations}


def test_ranks_the_first_metric_best_first_with_the_exclusions_and_their_reasons(
    client: TestClient, board: dict
) -> None:
    evaluations = board["evaluations"]
    page = client.get(f"/ui/leaderboard/{board['test'].id}").text
    assert 'data-metric="accuracy" data-greater-is-better="true"' in page  # the first metric, alphabetically
    assert row_ids(page, "ranked") == [evaluations[key].id for key in ("rf", "knn", "lr", "svc")]
    reasons = excluded_reasons(page)
    assert reasons == {
        evaluations["lr_cv"].id: "procedure '5-fold cv', not 'holdout'",
        evaluations["svc_nan"].id: "its accuracy score is NaN, not a finite number",
        evaluations["genus"].id: "target column 'genus', not 'species'",
    }
    # the copy of the data counts as the same data: its row names the copy
    knn_row = re.search(rf'<tr data-evaluation-id="{evaluations["knn"].id}">(.*?)</tr>', page, re.S).group(1)
    assert f'href="/ui/datasets/{board["copy"].id}"' in knn_row and "iris-test (copy)" in knn_row
    assert f'href="/ui/models/{board["models"]["knn"].id}"' in knn_row and "KNeighborsClassifier" in knn_row
    # the pickers offer the other metric and both procedures
    assert '<option value="log_loss">log_loss</option>' in page
    assert '<option value="5-fold cv">5-fold cv</option>' in page


def test_a_lower_is_better_metric_ranks_ascending(client: TestClient, board: dict) -> None:
    evaluations = board["evaluations"]
    page = client.get(f"/ui/leaderboard/{board['test'].id}", params={"metric": "log_loss"}).text
    assert "log_loss: lower is better" in page
    assert row_ids(page, "ranked") == [evaluations[key].id for key in ("rf", "lr", "svc")]
    values = re.findall(r'<td class="num value" title="([^"]+)"', page)
    assert values == ["0.1187", "0.2104", "0.3512"]


def test_another_procedure_ranks_its_evaluations_and_excludes_the_others(client: TestClient, board: dict) -> None:
    evaluations = board["evaluations"]
    page = client.get(
        f"/ui/leaderboard/{board['test'].id}", params={"metric": "accuracy", "procedure": "5-fold cv"}
    ).text
    assert row_ids(page, "ranked") == [evaluations["lr_cv"].id]
    reasons = excluded_reasons(page)
    assert reasons[evaluations["rf"].id] == "procedure 'holdout', not '5-fold cv'"


def test_selected_rows_stay_checked_and_the_form_opens_the_diff(client: TestClient, board: dict) -> None:
    lr, rf = board["evaluations"]["lr"].id, board["evaluations"]["rf"].id
    page = client.get(f"/ui/leaderboard/{board['test'].id}", params=[("select", lr), ("select", rf)]).text
    assert page.count(" checked>") == 2
    assert '<form id="compare-form" method="get" action="/ui/diff">' in page
    assert '<script src="/ui/static/js/leaderboard.js"></script>' in page
    answer = client.get("/ui/diff", params=[("pick", lr), ("pick", rf)], follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/ui/diff?a={lr}&b={rf}"
    one = client.get("/ui/diff", params=[("pick", lr)])
    assert one.status_code == 422 and "choose exactly two rows to compare, not 1" in one.text


def test_a_dataset_without_evaluations_and_an_unknown_dataset(client: TestClient, board: dict) -> None:
    page = client.get(f"/ui/leaderboard/{board['train'].id}")
    assert page.status_code == 200 and "No evaluation with a numeric score" in page.text
    assert client.get("/ui/leaderboard/ds-0000000000000000000000000000").status_code == 404
    not_a_dataset = client.get(f"/ui/leaderboard/{board['models']['lr'].id}")
    assert not_a_dataset.status_code == 404 and "not a dataset" in not_a_dataset.text


def test_diff_shows_only_what_differs_with_scores_and_verdict(
    client: TestClient, tracker: mt.Tracker, board: dict
) -> None:
    lr, rf = board["evaluations"]["lr"], board["evaluations"]["rf"]
    page = client.get("/ui/diff", params={"a": lr.id, "b": rf.id}).text
    expected = tracker.diff(lr.computed_by, rf.computed_by)
    shown = diff_fields(page)
    assert shown == {(section, key) for section, rows in expected.sections().items() for key in rows}
    assert ("hyperparameters", "C") in shown and ("hyperparameters", "n_estimators") in shown
    assert ("model", "learning_algorithm") in shown
    # the same value on both sides is not a difference: random_state, the training data, the environment
    assert ("hyperparameters", "random_state") not in shown
    assert not {section for section, _ in shown} & {"training data", "environment", "transforms"}
    c_row = re.search(r'<tr data-field="C" data-section="hyperparameters">(.*?)</tr>', page, re.S).group(1)
    assert ">0.5<" in c_row and 'title="absent"' in c_row
    assert "These evaluations are comparable" in page
    scores = re.findall(r'<tr data-metric="([^"]+)"><td>[^<]*</td><td class="num"><span title="([^"]+)">', page)
    assert scores == [("accuracy", "0.9333"), ("log_loss", "0.2104")]


def test_diff_of_incomparable_evaluations_gives_the_reasons(client: TestClient, board: dict) -> None:
    evaluations = board["evaluations"]
    page = client.get("/ui/diff", params={"a": evaluations["lr"].id, "b": evaluations["lr_cv"].id}).text
    assert "These evaluations are not comparable" in page
    assert "different evaluation procedures: &#39;holdout&#39; vs &#39;5-fold cv&#39;" in page
    assert "Both sides are the same model." in page and 'data-field="' not in page
    wrong = client.get("/ui/diff", params={"a": board["test"].id, "b": evaluations["lr"].id})
    assert wrong.status_code == 422 and "the diff compares evaluations or models" in wrong.text


def test_diff_overlays_the_curves_both_training_runs_logged(
    client: TestClient, tracker: mt.Tracker, board: dict
) -> None:
    models, evaluations = board["models"], board["evaluations"]
    for key, rate in (("lr", 0.5), ("rf", 0.3)):
        run = tracker.track_training(name=f"{key} fit", trained_on=board["train"])
        for epoch in range(5):
            run.log("loss", 1.0 / (1 + rate * epoch), epoch=epoch, step=epoch)
            run.log(f"{key}_only", float(epoch), step=epoch)
        run.finish(models[key])
    tracker.flush()
    page = client.get("/ui/diff", params={"a": evaluations["lr"].id, "b": evaluations["rf"].id}).text
    data = json.loads(
        re.search(r'<script type="application/json" id="overlay-data">(.*?)</script>', page, re.S).group(1)
    )
    assert data["metrics"] == ["loss"]
    assert [run["label"] for run in data["runs"]] == ["a: lr fit", "b: rf fit"]
    assert '<div class="overlay" data-metric="loss"></div>' in page
    assert '<script src="/ui/static/js/chart.js"></script>' in page
    # one side without a run: no curves
    page = client.get("/ui/diff", params={"a": evaluations["lr"].id, "b": evaluations["svc"].id}).text
    assert "overlay-data" not in page and "chart.js" not in page


@pytest.mark.parametrize("hostile", HOSTILE)
def test_recorded_text_is_escaped(client: TestClient, tracker: mt.Tracker, hostile: str) -> None:
    data = tracker.track_dataset(name=hostile, fingerprint="sha256:hostile", target=hostile)
    first = model(tracker, hostile, hostile, data, **{hostile: hostile})
    second = model(tracker, hostile + "2", hostile, data, **{hostile: 1})
    one = tracker.track_evaluation({hostile: 0.5}, computed_by=first, on_dataset=data, procedure=hostile, name=hostile)
    two = tracker.track_evaluation({hostile: 0.7}, computed_by=second, on_dataset=data, procedure=hostile, name=hostile)
    tracker.track_evaluation({hostile: 0.1}, computed_by=second, on_dataset=data, procedure="other", name=hostile)
    tracker.flush()
    pages = [
        client.get(f"/ui/leaderboard/{data.id}").text,
        client.get(f"/ui/leaderboard/{data.id}", params={"metric": hostile, "procedure": hostile}).text,
        client.get("/ui/diff", params={"a": one.id, "b": two.id}).text,
    ]
    for page in pages:
        assert hostile not in page and "<img" not in page and "<script>alert" not in page
        assert str(escape(hostile)) in page
    assert row_ids(pages[1], "ranked") == [two.id, one.id]
