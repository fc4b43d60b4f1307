"""The runs and models table (/ui/): filters, paging and sorts answered by the store, metric columns, bounds."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

import mltrack_core as mt
from mltrack_core.schema import Dataset, Evaluation, Model, Parameter, Score, ScoreAtTime, TrainingRun, TrainingState
from mltrack_core.ui.pages import runs as runs_page
from mltrack_core.ui.templating import number

HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
START = 1_780_000_000_000  # ms: 2026-05-28
MINUTE = 60_000


def row_ids(page: str) -> list[str]:
    table = re.search(r'<table id="entities"[^>]*>(.*?)</table>', page, re.S)
    assert table, "no table #entities"
    return re.findall(r'<tr data-id="([^"]+)"', table.group(1))


def metric_cells(page: str, row_id: str) -> dict[str, str]:
    row = re.search(rf'<tr data-id="{row_id}">(.*?)</tr>', page, re.S).group(1)
    return {key: html.unescape(value) for key, value in re.findall(r'data-column="([^"]+)">([^<]*)</td>', row)}


def total(page: str) -> int:
    return int(re.search(r'<span class="muted" id="total">([\d,]+) match', page).group(1).replace(",", ""))


def curve(rate: float, epochs: int, start: int) -> tuple[ScoreAtTime, ...]:
    """A loss falling and an accuracy rising over ``epochs``, as a convolutional network's would."""
    points = []
    for epoch in range(epochs):
        moment = start + (epoch + 1) * MINUTE
        points.append(
            ScoreAtTime(metric="loss", value=2.3 / (1 + rate * epoch), timestamp=moment, epoch=epoch, step=epoch)
        )
        accuracy = 0.99 - 0.6 / (1 + rate * epoch)
        points.append(ScoreAtTime(metric="accuracy", value=accuracy, timestamp=moment, epoch=epoch, step=epoch))
    if epochs > 2:  # a spike: the last loss is not the minimum
        points.append(ScoreAtTime(metric="loss", value=1.9, timestamp=start + (epochs + 1) * MINUTE, step=epochs))
    return tuple(points)


@pytest.fixture
def recorded(tracker: mt.Tracker) -> dict:
    """Two experiments of training runs (MNIST CNNs and iris baselines) with models and evaluations."""
    mnist = Dataset(name="mnist-train", fingerprint="sha256:mnist-train", row_count=60_000, creation_time=START)
    iris = Dataset(name="iris-train", fingerprint="sha256:iris-train", row_count=120, creation_time=START)
    holdout = Dataset(name="mnist-test", fingerprint="sha256:mnist-test", row_count=10_000, creation_time=START)
    entities: list = [mnist, iris, holdout]
    runs, models, evaluations = [], [], []
    for index in range(12):
        on_mnist = index < 8
        created = START + (index + 1) * 10 * MINUTE
        state = TrainingState.FINISHED
        if index in (3, 9):
            state = TrainingState.FAILED
        if index == 11:
            state = TrainingState.TRAINING
        model = None
        if state is TrainingState.FINISHED and index % 2 == 0:
            algorithm = "ConvNet (mxnet.gluon)" if on_mnist else "RandomForestClassifier"
            model = Model(
                name=f"model {index:02d}",
                learning_algorithm=algorithm,
                trained_on=(mnist if on_mnist else iris).id,
                framework="mxnet" if on_mnist else "scikit-learn",
                creation_time=created + 9 * MINUTE,
            )
            models.append(model)
            for late, accuracy in ((0, 0.90 + index / 100), (MINUTE, 0.88 + index / 100)):  # the newest is not the best
                evaluations.append(
                    Evaluation(
                        computed_by=model.id,
                        on_dataset=holdout.id,
                        scores=(Score(metric="accuracy", value=accuracy), Score(metric="log_loss", value=1 - accuracy)),
                        procedure="holdout",
                        creation_time=created + 10 * MINUTE + late,
                    )
                )
        runs.append(
            TrainingRun(
                name=f"{'cnn' if on_mnist else 'forest'} lr={0.1 * (1 + index % 3):.1f} seed={index}",
                experiment="mnist-cnn" if on_mnist else "iris-baselines",
                tags={"team": "vision" if on_mnist else "tabular", **({"stage": "prod"} if index % 4 == 0 else {})},
                state=state,
                start_time=created,
                end_time=None if state is TrainingState.TRAINING else created + (index + 2) * MINUTE,
                trained_on=(mnist if on_mnist else iris).id,
                for_model=model.id if model else None,
                hyperparameters=(Parameter.of("learning_rate", 0.1 * (1 + index % 3)),),
                scores_over_time=curve(0.3 + index / 10, 3 + index % 4, created) if index != 5 else (),
                creation_time=created,
            )
        )
    tracker.restore([*entities, *models, *runs, *evaluations])
    tracker.flush()
    return {"datasets": (mnist, iris, holdout), "runs": runs, "models": models, "evaluations": evaluations}


@pytest.mark.parametrize(
    ("query", "filters"),
    [
        ({}, {}),
        ({"experiment": "mnist-cnn"}, {"experiment": "mnist-cnn"}),
        ({"name": "cnn lr=0.2 seed=4"}, {"name": "cnn lr=0.2 seed=4"}),
        ({"tag": "stage=prod"}, {"tags": {"stage": "prod"}}),
        ({"tag": ["team=vision", "stage=prod"]}, {"tags": {"team": "vision", "stage": "prod"}}),
        ({"state": "FAILED"}, {"state": "FAILED"}),
        ({"state": "training"}, {"state": "TRAINING"}),
        ({"experiment": "iris-baselines", "state": "FINISHED"}, {"experiment": "iris-baselines", "state": "FINISHED"}),
    ],
)
def test_each_filter_narrows_the_runs_as_the_store_does(
    client: TestClient, tracker: mt.Tracker, recorded: dict, query: dict, filters: dict
) -> None:
    page = client.get("/ui/", params=query).text
    expected = [run.id for run in tracker.find("run", **filters)]
    assert row_ids(page) == expected
    assert total(page) == tracker.count("run", **filters)
    if filters:
        assert len(expected) < len(recorded["runs"])


def test_the_dataset_filter_follows_the_kind_s_link(client: TestClient, tracker: mt.Tracker, recorded: dict) -> None:
    mnist, iris, holdout = recorded["datasets"]
    runs_on_iris = client.get("/ui/", params={"dataset": iris.id}).text
    assert row_ids(runs_on_iris) == [run.id for run in tracker.find("run", trained_on=iris.id)]
    assert len(row_ids(runs_on_iris)) == 4
    models = client.get("/ui/", params={"kind": "model", "dataset": mnist.id}).text
    assert row_ids(models) == [model.id for model in tracker.find("model", trained_on=mnist.id)]
    evaluations = client.get("/ui/", params={"kind": "evaluation", "dataset": holdout.id}).text
    assert total(evaluations) == tracker.count("evaluation", on_dataset=holdout.id) == len(recorded["evaluations"])
    assert total(client.get("/ui/", params={"kind": "evaluation", "dataset": iris.id}).text) == 0


def test_paging_reads_one_page_from_the_store(client: TestClient, tracker: mt.Tracker, recorded: dict) -> None:
    page = client.get("/ui/", params={"size": 5, "page": 2}).text
    assert row_ids(page) == [run.id for run in tracker.find("run", limit=5, offset=5)]
    assert "Page 2 of 3" in page
    assert 'href="/ui/?size=5"' in page and 'href="/ui/?page=3&amp;size=5"' in page
    last = client.get("/ui/", params={"size": 5, "page": 3}).text
    assert len(row_ids(last)) == 2 and "Next" not in last
    beyond = client.get("/ui/", params={"size": 5, "page": 9}).text
    assert row_ids(beyond) == [] and "Nothing matches this view." in beyond


@pytest.mark.parametrize("order", ["name", "-name", "created", "-created"])
def test_sorts_by_name_and_creation_time(client: TestClient, tracker: mt.Tracker, recorded: dict, order: str) -> None:
    page = client.get("/ui/", params={"sort": order, "size": 200}).text
    assert row_ids(page) == [run.id for run in tracker.find("run", order=order)]
    names = [run.name for run in tracker.find("run", order=order)]
    if order.endswith("name"):
        assert names == sorted(names, reverse=order.startswith("-"))


def test_metric_columns_show_the_summaries_of_the_page_s_runs(
    client: TestClient, tracker: mt.Tracker, recorded: dict
) -> None:
    columns = ["last:loss", "min:loss", "best:accuracy", "max:accuracy"]
    page = client.get("/ui/", params={"metric": columns, "experiment": "mnist-cnn"}).text
    ids = row_ids(page)
    summaries = tracker.metric_summaries(ids, ["loss", "accuracy"])
    fields = {"last": "last", "min": "minimum", "max": "maximum", "best": "best"}
    checked = 0
    for run_id in ids:
        shown = metric_cells(page, run_id)
        assert list(shown) == columns
        for column in columns:
            aggregate, metric = column.split(":")
            summary = summaries.get(run_id, {}).get(metric)
            expected = number(getattr(summary, fields[aggregate])) if summary else ""
            assert shown[column] == expected
            checked += bool(expected)
    assert checked >= 20
    no_points = next(run for run in recorded["runs"] if not run.scores_over_time)
    assert set(metric_cells(page, no_points.id).values()) == {""}
    # the picker offers the metrics of the runs on the page
    assert '<optgroup label="accuracy">' in page and '<optgroup label="loss">' in page
    assert '<option value="best:loss">best loss</option>' in page


@pytest.mark.parametrize("order", ["metric:min:loss", "-metric:min:loss", "-metric:last:accuracy"])
def test_sort_by_a_metric_column(client: TestClient, tracker: mt.Tracker, recorded: dict, order: str) -> None:
    aggregate, metric = order.split(":")[1:]
    page = client.get("/ui/", params={"sort": order, "metric": f"{aggregate}:{metric}", "size": 5}).text
    every_id = [run.id for run in tracker.find("run")]
    summaries = tracker.metric_summaries(every_id, [metric])
    field = {"min": "minimum", "last": "last"}[aggregate]
    with_value = [run_id for run_id in every_id if metric in summaries.get(run_id, {})]
    with_value.sort(key=lambda run_id: getattr(summaries[run_id][metric], field), reverse=order.startswith("-"))
    assert row_ids(page) == with_value[:5]
    last_page = client.get("/ui/", params={"sort": order, "metric": f"{aggregate}:{metric}", "size": 5, "page": 3}).text
    assert row_ids(last_page)[-1] == next(run.id for run in recorded["runs"] if not run.scores_over_time)
    assert "needs a narrower filter" not in page


def test_sort_by_a_metric_beyond_the_bound_asks_for_a_narrower_filter(
    client: TestClient, tracker: mt.Tracker, recorded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_page, "METRIC_SORT_LIMIT", 10)  # 12 runs match; the real bound is 5,000
    page = client.get("/ui/", params={"sort": "metric:min:loss", "metric": "min:loss"}).text
    assert "Sorting by min:loss needs a narrower filter" in page and "at most 10, and 12 match" in page
    assert row_ids(page) == [run.id for run in tracker.find("run")]  # newest first instead
    narrower = client.get("/ui/", params={"sort": "metric:min:loss", "metric": "min:loss", "experiment": "mnist-cnn"})
    assert "needs a narrower filter" not in narrower.text


def test_models_with_metric_columns_from_their_evaluations(client: TestClient, recorded: dict) -> None:
    columns = ["last:accuracy", "best:accuracy", "min:log_loss", "best:log_loss"]
    page = client.get("/ui/", params={"kind": "model", "metric": columns, "sort": "-metric:best:accuracy"}).text
    by_model: dict[str, list[Evaluation]] = {}
    for evaluation in recorded["evaluations"]:
        by_model.setdefault(evaluation.computed_by, []).append(evaluation)
    expected_order = sorted(by_model, key=lambda id_: max(e.scores[0].value for e in by_model[id_]), reverse=True)
    assert row_ids(page) == expected_order
    for model_id, evaluations in by_model.items():
        newest = max(evaluations, key=lambda evaluation: evaluation.creation_time)
        accuracies = [evaluation.scores[0].value for evaluation in evaluations]
        losses = [evaluation.scores[1].value for evaluation in evaluations]
        assert metric_cells(page, model_id) == {
            "last:accuracy": number(newest.scores[0].value),
            "best:accuracy": number(max(accuracies)),
            "min:log_loss": number(min(losses)),
            "best:log_loss": number(min(losses)),  # lower is better
        }
        assert newest.scores[0].value != max(accuracies)


def test_models_by_algorithm_and_the_scan_bound(
    client: TestClient, tracker: mt.Tracker, recorded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = client.get("/ui/", params={"kind": "model", "algorithm": "forest"}).text
    forests = [model.id for model in tracker.find("model") if "Forest" in model.learning_algorithm]
    assert row_ids(page) == forests and total(page) == len(forests) == 2
    assert len(row_ids(client.get("/ui/", params={"kind": "model", "algorithm": "CONVNET"}).text)) == 4
    monkeypatch.setattr(runs_page, "ALGORITHM_SCAN_LIMIT", 5)  # 6 models match no other filter
    broad = client.get("/ui/", params={"kind": "model", "algorithm": "forest"}).text
    assert "The algorithm filter reads the models matching the other filters, and 6 do" in broad
    assert 'id="entities"' not in broad
    mnist = recorded["datasets"][0]
    narrow = client.get("/ui/", params={"kind": "model", "algorithm": "convnet", "dataset": mnist.id}).text
    assert total(narrow) == 4


def test_kind_columns_link_to_related_pages(client: TestClient, recorded: dict) -> None:
    run = next(run for run in recorded["runs"] if run.for_model)
    page = client.get("/ui/", params={"name": run.name}).text
    row = re.search(rf'<tr data-id="{run.id}">(.*?)</tr>', page, re.S).group(1)
    assert f'href="/ui/runs/{run.id}"' in row and f'href="/ui/models/{run.for_model}"' in row
    assert f'href="/ui/datasets/{run.trained_on}"' in row and '<span class="badge FINISHED">' in row
    evaluation = recorded["evaluations"][0]
    page = client.get("/ui/", params={"kind": "evaluation"}).text
    row = re.search(rf'<tr data-id="{evaluation.id}">(.*?)</tr>', page, re.S).group(1)
    assert f'href="/ui/leaderboard/{evaluation.on_dataset}?metric=accuracy&amp;procedure=holdout"' in row
    assert f'href="/ui/entities/{evaluation.id}"' in row
    datasets = client.get("/ui/", params={"kind": "dataset", "sort": "name"}).text
    mnist = recorded["datasets"][0]
    row = re.search(rf'<tr data-id="{mnist.id}">(.*?)</tr>', datasets, re.S).group(1)
    assert '<td class="num">60000</td>' in row and 'title="sha256:mnist-train">sha256:mnist-train</td>' in row


def test_htmx_requests_get_the_view_alone_and_bad_parameters_a_message(client: TestClient, recorded: dict) -> None:
    form = {
        "kind": "run",
        "experiment": "mnist-cnn",
        "name": "",
        "tag": ["team=vision", ""],
        "state": "",
        "sort": "-created",
    }
    swapped = client.get("/ui/", params=form, headers={"HX-Request": "true"})
    fragment = swapped.text
    assert "<html" not in fragment and 'id="entities"' in fragment and 'hx-push-url="true"' in fragment
    assert swapped.headers["HX-Push-Url"] == "/ui/?experiment=mnist-cnn&tag=team%3Dvision"
    # the same form without htmx: redirected to the view's short URL
    redirected = client.get("/ui/", params=form, follow_redirects=False)
    assert (
        redirected.status_code == 303
        and redirected.headers["location"] == "/ui/?experiment=mnist-cnn&tag=team%3Dvision"
    )
    full = client.get("/ui/").text
    assert '<div id="runs-view">' in full and "vendor/htmx/htmx.min.js" in full
    for query, message in (
        ({"kind": "experiment"}, "kind &#39;experiment&#39;: expected one of run, model"),
        ({"sort": "accuracy"}, "expected created, name, metric:AGG:NAME"),
        ({"metric": "mean:loss"}, "expected AGG:NAME with AGG one of last, best, min, max"),
        ({"tag": "team"}, "tag &#39;team&#39;: expected KEY=VALUE"),
        ({"page": "two"}, "page &#39;two&#39;: expected a whole number"),
    ):
        answer = client.get("/ui/", params=query)
        assert answer.status_code == 422 and message in answer.text


@pytest.mark.parametrize("hostile", HOSTILE)
def test_recorded_text_is_escaped(client: TestClient, tracker: mt.Tracker, hostile: str) -> None:
    data = tracker.track_dataset(name=hostile, fingerprint=hostile, tags={hostile: hostile})
    model = tracker.track_model(name=hostile, learning_algorithm=hostile, trained_on=data, framework=hostile)
    run = tracker.track_training(name=hostile, trained_on=data, experiment=hostile, tags={"k": hostile})
    run.log(hostile, 0.5, step=0)
    run.finish(model)
    tracker.track_evaluation({hostile: 0.5}, computed_by=model, on_dataset=data, procedure=hostile, name=hostile)
    tracker.track_prediction(computed_by=model, on_dataset=data, location=hostile, name=hostile)
    tracker.track_transform(name=hostile, operator=hostile, framework=hostile)
    tracker.flush()
    for kind in runs_page.KINDS:
        query = {
            "kind": kind,
            "name": hostile,
            "metric": f"last:{hostile}",
            "tag": f"k={hostile}",
            "algorithm": hostile,
        }
        for params in ({"kind": kind}, query):
            page = client.get("/ui/", params=params).text
            assert hostile not in page and "<img" not in page and "<script>alert" not in page
            assert str(escape(hostile)) in page


def test_the_algorithm_filter_finds_text_json_escapes(client: TestClient, tracker: mt.Tracker) -> None:
    data = tracker.track_dataset(name="cifar-10", fingerprint="sha256:cifar")
    wanted = tracker.track_model(name="réseau", learning_algorithm='Réseau "résiduel" 18', trained_on=data)
    tracker.track_model(name="forest", learning_algorithm="RandomForestClassifier", trained_on=data)
    tracker.flush()
    for text in ("réseau", '"RÉSIDUEL"', 'au "r'):
        assert row_ids(client.get("/ui/", params={"kind": "model", "algorithm": text}).text) == [wanted.id]
