"""The training run page (Figure 4): facts, hyperparameters, environment, metric summaries, the charts' page data,
the view state in the query, the live flag, escaping, and errors.

The runs are real: a logistic regression trained by stochastic gradient descent on the demo's churn data, with
its loss logged every step (hundreds of points) and its accuracy every epoch, written through the tracker API.
"""

from __future__ import annotations

import html
import json
import math
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mltrack_core as mt
from mltrack_core.demo import FEATURES, _write_dataset
from mltrack_core.schema import Parameter
from mltrack_core.ui.pages.run import MAX_CHARTS

HOSTILE = "<script>alert(1)</script>"
EPOCHS = 3
BATCH = 4


def train(rows: list[tuple[float, ...]], run: mt.LiveRun, learning_rate: float) -> list[float]:
    """Mini-batch SGD of a logistic regression on ``rows``: loss per step, accuracy per epoch, logged into ``run``."""
    weights = [0.0] * (len(FEATURES) + 1)
    generator = random.Random(7)
    order = list(range(len(rows)))
    step = 0
    for epoch in range(EPOCHS):
        generator.shuffle(order)
        for start in range(0, len(order), BATCH):
            batch = [rows[index] for index in order[start : start + BATCH]]
            loss = 0.0
            for row in batch:
                logit = weights[-1] + sum(w * x for w, x in zip(weights, row[:-1], strict=False))
                probability = 1 / (1 + math.exp(-max(min(logit, 30), -30)))
                loss -= math.log(max(probability if row[-1] else 1 - probability, 1e-12))
                for feature in range(len(FEATURES)):
                    weights[feature] -= learning_rate * (probability - row[-1]) * row[feature] / len(batch)
                weights[-1] -= learning_rate * (probability - row[-1]) / len(batch)
            run.log("loss", loss / len(batch), epoch=epoch, step=step)
            step += 1
        correct = sum(
            (weights[-1] + sum(w * x for w, x in zip(weights, row[:-1], strict=False)) > 0) == bool(row[-1])
            for row in rows
        )
        run.log("accuracy", correct / len(rows), epoch=epoch, step=step)
    return weights


@pytest.fixture
def rows(tmp_path: Path) -> list[tuple[float, ...]]:
    """The demo's churn data (the first 300 rows)."""
    return _write_dataset(tmp_path / "churn.csv")[:300]


@pytest.fixture
def finished(tracker: mt.Tracker, rows: list[tuple[float, ...]]) -> dict:
    """A finished run with its dataset, model, hyperparameters (one left at its default) and environment."""
    dataset = tracker.track_dataset(name="churn-train", fingerprint="sha256:" + "cd" * 32, row_count=len(rows))
    scaler = tracker.track_transform(name="scale features", operator="StandardScaler")
    with tracker.track_training(
        name="logreg (SGD)",
        trained_on=dataset,
        transforms=[scaler.id],
        experiment="churn study",
        hyperparameters=[
            Parameter.of("learning_rate", 0.05, default=0.01, doc="step size"),
            Parameter.of("batch_size", BATCH, default=1),
            Parameter.of("penalty", "l2", default="l2"),
            Parameter.of("hidden_layer_sizes", (100, 50), default=(100,)),
            Parameter.of("class_weight", None, default=None),
        ],
        environment={"python": "3.11.9", "cpu.cores": "2"},
        annotations={"purpose": "dashboard test"},
        tags={"team": "churn"},
        comments="SGD on the demo's churn data",
    ) as live:
        train(rows, live, 0.05)
        model = tracker.track_model(name="churn-logreg", learning_algorithm="LogisticRegression", trained_on=dataset)
        live.finish(model)
    tracker.flush()
    return {
        "run": tracker.get_run(live.id),
        "dataset": dataset,
        "model": model,
        "scaler": scaler,
        "points": tracker.points(live.id),
    }


@pytest.fixture
def training(tracker: mt.Tracker, rows: list[tuple[float, ...]]) -> Iterator[mt.LiveRun]:
    """A run still training: 50 steps of its loss so far, the last one NaN (it diverged)."""
    dataset = tracker.track_dataset(name="churn-live")
    live = tracker.track_training(name="live run", trained_on=dataset)
    for step in range(50):
        live.log("loss", 1 / (step + 1) if step < 49 else math.nan, step=step)
    live.flush()
    tracker.flush()
    yield live
    live.finish()


def get_page(client: TestClient, run_id: str, query: str = "") -> str:
    answer = client.get(f"/ui/runs/{run_id}{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def page_data(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="run-data">(.*?)</script>', text, re.S)
    assert found
    return json.loads(found.group(1))


def card(text: str, card_id: str) -> str:
    found = re.search(rf'<section class="card[^"]*" id="{card_id}">(.*?)</section>', text, re.S)
    assert found, f"no card {card_id}"
    return found.group(1)


def test_figure_4(client: TestClient, finished: dict) -> None:
    run, model, dataset = finished["run"], finished["model"], finished["dataset"]
    text = get_page(client, run.id)
    assert "<h1>logreg (SGD)</h1>" in text
    assert 'class="badge FINISHED"' in text and "live-dot" not in text
    assert mt.schema.TrainingState.FINISHED.value in text
    assert f'href="/ui/models/{model.id}" title="{model.id}">churn-logreg</a>' in text
    assert f'href="/ui/datasets/{dataset.id}" title="{dataset.id}">churn-train</a>' in text
    assert f'href="/ui/lineage/{run.id}"' in text
    assert f'href="/ui/entities/{finished["scaler"].id}"' in text and "StandardScaler" in text
    assert 'href="/ui/?experiment=churn+study">churn study</a>' in text
    assert re.search(r"<dt>Started</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</dd>", text)
    assert re.search(
        r'<dt id="run-duration-label">Duration</dt><dd id="run-duration">(\d+ s|less than a second)</dd>', text
    )

    parameters = card(text, "hyperparameters")
    assert re.search(
        r'data-parameter="learning_rate" class="changed">\s*<td title="step size">learning_rate</td>\s*'
        r'<td class="mono value non-default" title="0.05">0.05</td>\s*<td class="mono default muted">0.01</td>',
        parameters,
    )
    assert re.search(r'data-parameter="batch_size" class="changed">.*?non-default" title="4">4</td>', parameters, re.S)
    assert re.search(r'data-parameter="penalty">\s*<td>penalty</td>\s*<td class="mono value" title="l2">', parameters)
    assert re.search(
        r'data-parameter="hidden_layer_sizes" class="changed">.*?<td class="mono value non-default" '
        r'title="\[100, 50\]">\[100, 50\]</td>\s*<td class="mono default muted">\[100\]</td>',
        parameters,
        re.S,
    )
    assert re.search(r'data-parameter="class_weight">.*?title="None">None</td>', parameters, re.S)
    assert parameters.count("non-default") == 3 + 1  # three changed values, and the legend

    environment = card(text, "environment")
    assert '<th scope="row">python</th><td class="mono">3.11.9</td>' in environment
    assert '<th scope="row">cpu.cores</th><td class="mono">2</td>' in environment
    assert "dashboard test" in text and "team=churn" in text and "SGD on the demo&#39;s churn data" in text


def test_metric_summaries(client: TestClient, finished: dict) -> None:
    points = finished["points"]
    losses = [point[2] for point in points if point[1] == "loss"]
    accuracies = [point[2] for point in points if point[1] == "accuracy"]
    assert len(losses) == EPOCHS * 75  # 300 rows in batches of 4, three times
    summaries = card(get_page(client, finished["run"].id), "summaries")
    loss_row = re.search(r'<tr data-metric="loss">(.*?)</tr>', summaries, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', loss_row)
    low, high = f"{min(losses):.4g}", f"{max(losses):.4g}"
    assert cells == [str(len(losses)), f"{losses[-1]:.4g}", low, low, high]  # count, last, best, min, max
    accuracy_row = re.search(r'<tr data-metric="accuracy">(.*?)</tr>', summaries, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', accuracy_row)
    assert cells[0] == str(EPOCHS) and cells[2] == f"{max(accuracies):.4g}"  # higher accuracy is better


def test_page_data_for_the_charts(client: TestClient, finished: dict) -> None:
    run = finished["run"]
    text = get_page(client, run.id)
    data = page_data(text)
    assert data["run"] == run.id
    assert data["state"] == "FINISHED" and data["live"] is False
    assert data["metrics"] == ["accuracy", "loss"] == data["shown"]
    assert data["axis"] == "step" and data["log"] is False
    assert data["from"] is None and data["to"] is None
    assert data["after"] == len(finished["points"])  # the live stream would start after these
    assert re.findall(r'<div class="chart" data-metric="([^"]*)">', text) == ["accuracy", "loss"]
    assert 'id="run-page" data-run-id="' + run.id + '" data-live="false"' in text
    # only the dashboard's own scripts, in order; the page data is JSON, never run (CSP: script-src 'self')
    scripts = re.findall(r"<script([^>]*)>", text)
    assert scripts == [
        ' type="application/json" id="run-data"',
        ' src="/ui/static/js/state.js"',
        ' src="/ui/static/vendor/uplot/uPlot.iife.min.js"',
        ' src="/ui/static/js/chart.js"',
        ' src="/ui/static/js/run.js"',
    ]
    for script in ("js/chart.js", "js/run.js", "vendor/uplot/uPlot.min.css"):
        assert client.get(f"/ui/static/{script}").status_code == 200


def test_the_series_the_charts_ask_for(client: TestClient, finished: dict) -> None:
    """What chart.js asks for (whole units, max_points = the chart's width) answers a downsampled series."""
    run = finished["run"]
    query = "metric=loss&axis=step&max_points=60"
    answer = client.get(f"/v1/runs/{run.id}/series?{query}").json()
    assert answer["total"] == EPOCHS * 75 and answer["downsampled"] is True
    assert 2 <= len(answer["x"]) <= 60
    zoomed = client.get(f"/v1/runs/{run.id}/series?{query}&start=10&end=40").json()
    assert zoomed["x"] == list(range(10, 41))  # a zoomed range at full resolution


def test_view_state_round_trip(client: TestClient, finished: dict) -> None:
    run = finished["run"]
    text = get_page(client, run.id, "?metric=loss&axis=epoch&log=1&from=0.5&to=2")
    data = page_data(text)
    assert data["shown"] == ["loss"] and data["metrics"] == ["accuracy", "loss"]
    assert data["axis"] == "epoch" and data["log"] is True
    assert data["from"] == 0.5 and data["to"] == 2
    assert data["chooseAll"] is False
    assert re.findall(r'<div class="chart" data-metric="([^"]*)">', text) == ["loss"]
    assert '<option value="epoch" selected>' in text and '<option value="step">' in text
    assert '<input type="checkbox" name="log" value="1" checked>' in text
    assert '<input type="checkbox" name="metric" value="loss" checked>' in text
    assert '<input type="checkbox" name="metric" value="accuracy">' in text
    assert '<button type="button" class="secondary" id="reset-zoom">' in text  # zoomed: the reset is shown

    text = get_page(client, run.id, "?axis=time&from=9&to=3")  # an empty range is no zoom
    data = page_data(text)
    assert data["axis"] == "time" and data["from"] is None and data["to"] is None and data["log"] is False
    assert 'id="reset-zoom" hidden>' in text


def test_at_most_six_charts_and_default_axis(client: TestClient, tracker: mt.Tracker) -> None:
    dataset = tracker.track_dataset(name="wide")
    with tracker.track_training(name="many metrics", trained_on=dataset) as live:
        for epoch in range(5):
            for index in range(8):
                live.log(f"metric-{index}", epoch * index, epoch=epoch)
    tracker.flush()
    data = page_data(get_page(client, live.id))
    assert len(data["metrics"]) == 8
    assert data["shown"] == [f"metric-{index}" for index in range(MAX_CHARTS)]
    assert data["axis"] == "epoch"  # logged without steps


def test_live_flag_only_while_training(client: TestClient, training: mt.LiveRun, finished: dict) -> None:
    text = get_page(client, training.id)
    assert 'data-live="true"' in text
    assert '<span id="run-state" class="badge TRAINING"><span class="live-dot"' in text
    data = page_data(text)
    assert data["live"] is True and data["state"] == "TRAINING" and data["chooseAll"] is True
    assert data["after"] == 50  # the event stream starts after the points the page was rendered with
    # the live table starts from these; NaN is not JSON: the last value is null
    assert data["summaries"] == {
        "loss": {
            "count": 50,
            "last": None,
            "best": 1 / 49,
            "minimum": 1 / 49,
            "maximum": 1.0,
            "greater_is_better": False,
        }
    }
    assert "NaN" not in re.search(r'id="run-data">(.*?)</script>', text, re.S).group(1)
    assert "still training" in text and "not yet: the run is training" in text

    text = get_page(client, finished["run"].id)
    assert 'data-live="false"' in text and "live-dot" not in text and page_data(text)["live"] is False


def test_hostile_text_is_escaped(client: TestClient, tracker: mt.Tracker) -> None:
    dataset = tracker.track_dataset(name=HOSTILE)
    with tracker.track_training(
        name=HOSTILE,
        trained_on=dataset,
        hyperparameters=[Parameter.of(HOSTILE, HOSTILE, default="'\"><img src=x>", doc=HOSTILE)],
        environment={HOSTILE: HOSTILE},
        annotations={HOSTILE: HOSTILE},
        tags={HOSTILE: HOSTILE},
        comments=HOSTILE,
        experiment=HOSTILE,
    ) as live:
        for step in range(3):
            live.log(HOSTILE, step, step=step)
    tracker.flush()
    text = get_page(client, live.id, "?metric=" + HOSTILE.replace("<", "%3C").replace(">", "%3E"))
    assert HOSTILE not in text
    assert "<img" not in text
    assert text.count(html.escape(HOSTILE, quote=False)) >= 10
    raw_json = re.search(r'id="run-data">(.*?)</script>', text, re.S).group(1)
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in raw_json
    assert page_data(text)["shown"] == [HOSTILE] == page_data(text)["metrics"]
    assert "experiment=%3Cscript%3Ealert%281%29%3C%2Fscript%3E" in text


def test_unknown_run_is_a_404_page(client: TestClient, finished: dict) -> None:
    answer = client.get("/ui/runs/run-nothing-here")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "run-nothing-here" in answer.text

    answer = client.get(f"/ui/runs/{finished['dataset'].id}", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == f"/ui/datasets/{finished['dataset'].id}"

    answer = client.get(f"/ui/runs/{finished['run'].id}?axis=sideways")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html") and "axis" in answer.text
