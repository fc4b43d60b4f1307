"""The metric-history endpoints: series, metric summaries, live points as server-sent events, entity orders."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import mltrack_core as mt
from mltrack_core.server import ServerSettings, create_app
from mltrack_core.store import Point


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def tracker(store_uri: str) -> Iterator[mt.Tracker]:
    with mt.connect(store_uri) as opened:
        yield opened


@pytest.fixture
def client(store_uri: str, tracker: mt.Tracker) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(store_uri))) as opened:
        yield opened


def ended_run(tracker: mt.Tracker, points: list[tuple], name: str = "fit") -> str:
    """A finished run holding ``points`` ((metric, value, epoch, step), timestamps 1000, 1001, ...)."""
    run = tracker.track_training(name=name)
    tracker.store.append_points(
        [Point(run.id, metric, value, epoch, step, 1_000 + i) for i, (metric, value, epoch, step) in enumerate(points)]
    )
    run.finish()
    return run.id


def events_of(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(name, data) of each server-sent event; comment lines are skipped."""
    name, data = None, None
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and name is not None:
            yield name, data
            name, data = None, None


# ---------------------------------------------------------------- series


def test_a_long_series_is_downsampled_on_the_server_keeping_spikes_and_gaps(
    client: TestClient, tracker: mt.Tracker
) -> None:
    values = [1.0 / (step + 1) for step in range(3_000)]
    values[1_234], values[2_000] = 25.0, math.nan
    run_id = ended_run(tracker, [("loss", value, step // 100, step) for step, value in enumerate(values)])
    answer = client.get(f"/v1/runs/{run_id}/series", params={"metric": "loss", "max_points": 100})
    assert answer.status_code == 200
    series = answer.json()
    assert series["run"] == run_id and series["axis"] == "step" and series["ended"] is True
    assert series["total"] == 3_000 and series["downsampled"] is True and len(series["x"]) <= 100
    assert series["x"] == sorted(series["x"]) and len(series["y"]) == len(series["x"])
    pairs = dict(zip(series["x"], series["y"], strict=True))
    assert pairs[1_234] == 25.0 and pairs[2_000] is None  # the spike stays, NaN is a gap (null)
    zoomed = client.get(f"/v1/runs/{run_id}/series", params={"metric": "loss", "start": 1_230, "end": 1_239}).json()
    assert zoomed["x"] == list(range(1_230, 1_240)) and zoomed["y"][4] == 25.0 and not zoomed["downsampled"]
    by_epoch = client.get(f"/v1/runs/{run_id}/series", params={"metric": "loss", "axis": "epoch", "end": 1}).json()
    assert by_epoch["total"] == 200 and set(by_epoch["x"]) == {0, 1}
    unknown = client.get(f"/v1/runs/{run_id}/series", params={"metric": "nothing"}).json()
    assert (unknown["total"], unknown["x"], unknown["y"]) == (0, [], [])


@pytest.mark.parametrize(
    "parameters",
    [
        {"metric": "loss", "axis": "wall"},
        {"metric": "loss", "max_points": 1},
        {"metric": "loss", "max_points": 10_001},
        {"metric": "loss", "start": -1},
        {"metric": "loss", "start": 9, "end": 3},
        {},
    ],
)
def test_bad_series_parameters_are_422(client: TestClient, tracker: mt.Tracker, parameters: dict) -> None:
    run_id = ended_run(tracker, [("loss", 1.0, None, 0)])
    answer = client.get(f"/v1/runs/{run_id}/series", params=parameters)
    assert answer.status_code == 422
    assert answer.json()["error"] == "SchemaError" and answer.json()["status"] == 422


@pytest.mark.parametrize("path", ["series?metric=loss", "metrics", "events", "points?after=3"])
def test_unknown_runs_are_404_with_the_json_error(client: TestClient, tracker: mt.Tracker, path: str) -> None:
    dataset = tracker.track_dataset(name="not a run")
    for run_id in ("run-unknown", dataset.id):
        answer = client.get(f"/v1/runs/{run_id}/{path}")
        assert answer.status_code == 404
        assert answer.json()["error"] == "NotFoundError" and run_id in answer.json()["message"]


# ---------------------------------------------------------------- summaries


def test_metrics_of_a_run_with_its_state(client: TestClient, tracker: mt.Tracker) -> None:
    run_id = ended_run(tracker, [("loss", math.nan, 0, 0), ("loss", 0.5, 0, 1), ("accuracy", 0.8, 1, 1)])
    answer = client.get(f"/v1/runs/{run_id}/metrics")
    assert answer.status_code == 200
    body = answer.json()
    assert body["run"] == run_id and body["state"] == "FINISHED" and sorted(body["metrics"]) == ["accuracy", "loss"]
    loss = body["metrics"]["loss"]
    assert loss["first"] == "NaN" and loss["last"] == 0.5 and loss["minimum"] == loss["best"] == 0.5
    assert loss["count"] == 2 and loss["greater_is_better"] is False and loss["last_step"] == 1
    assert body["metrics"]["accuracy"]["greater_is_better"] is True


def test_summaries_of_many_runs(client: TestClient, tracker: mt.Tracker) -> None:
    first = ended_run(tracker, [("loss", 2.0, 0, 0), ("loss", 1.0, 1, 1), ("accuracy", 0.5, 1, 1)])
    second = ended_run(tracker, [("loss", 3.0, 0, 0)])
    answer = client.post("/v1/runs/summaries", json={"runs": [second, first, "run-unknown"], "metrics": ["loss"]})
    assert answer.status_code == 200
    runs = answer.json()["runs"]
    assert list(runs) == [second, first] and list(runs[first]) == ["loss"]
    assert runs[first]["loss"]["best"] == 1.0 and runs[second]["loss"]["last"] == 3.0
    everything = client.post("/v1/runs/summaries", json={"runs": [first]}).json()["runs"]
    assert sorted(everything[first]) == ["accuracy", "loss"]
    too_many = client.post("/v1/runs/summaries", json={"runs": [f"run-{i}" for i in range(1_001)]})
    assert too_many.status_code == 422 and too_many.json()["error"] == "SchemaError"


def test_the_rest_client_reads_series_and_summaries_through_the_server(server) -> None:
    from mltrack_core.series import series_of_points

    with mt.connect(server.url) as remote:  # what `mltrack ui --uri http://...` reads through
        run_id = ended_run(remote, [("loss", float(step % 9), None, step) for step in range(500)])
        store = remote.store
        expected = series_of_points(remote.points(run_id), "loss", "step", 100, None, 50)
        assert store.metric_series(run_id, "loss", "step", 100, None, 50) == expected  # the server downsampled
        summaries = store.metric_summaries([run_id, "run-unknown"], None)
        assert list(summaries) == [run_id] and summaries[run_id]["loss"].maximum == 8.0
        assert store.points_since(run_id, 497) == remote.points(run_id)[497:]
        assert store.metric_series("run-unknown", "loss", "step", None, None, 50).total == 0


# ---------------------------------------------------------------- orders


def test_entities_can_be_listed_by_name(client: TestClient, tracker: mt.Tracker) -> None:
    for name in ("beta", "alpha", "gamma"):
        tracker.track_dataset(name=name)
    names = [
        d["name"] for d in client.get("/v1/entities", params={"kind": "dataset", "order": "name"}).json()["entities"]
    ]
    assert names == ["alpha", "beta", "gamma"]
    newest = client.get("/v1/entities", params={"kind": "dataset"}).json()["entities"]
    assert [d["name"] for d in newest] == ["gamma", "alpha", "beta"]
    bad = client.get("/v1/entities", params={"order": "size"})
    assert bad.status_code == 422 and "-created" in bad.json()["message"]
    ids = client.post("/v1/query/ids", json={"kind": "dataset", "order": "-name"}).json()["ids"]
    assert [tracker.get(id_).name for id_ in ids] == ["gamma", "beta", "alpha"]


# ---------------------------------------------------------------- live points


def test_the_points_after_n(client: TestClient, tracker: mt.Tracker) -> None:
    run_id = ended_run(tracker, [("loss", float(i), None, i) for i in range(6)])
    answer = client.get(f"/v1/runs/{run_id}/points", params={"after": 4}).json()
    assert answer["total"] == 6 and [point[4] for point in answer["points"]] == [4, 5]


def test_the_stream_of_an_ended_run_sends_its_points_then_ends(client: TestClient, tracker: mt.Tracker) -> None:
    run_id = ended_run(tracker, [("loss", 0.5, 0, 0), ("loss", math.inf, 0, 1), ("acc", 0.9, 1, 2)])
    with client.stream("GET", f"/v1/runs/{run_id}/events", params={"after": 1}) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        events = list(events_of(answer.iter_lines()))
    assert events == [
        ("points", {"total": 3, "points": [["loss", None, 0, 1, 1_001], ["acc", 0.9, 1, 2, 1_002]]}),
        ("end", {"state": "FINISHED"}),
    ]


def test_the_stream_of_a_live_run_grows_until_the_run_ends(client: TestClient, tracker: mt.Tracker) -> None:
    run = tracker.track_training(name="live")
    run.log("loss", 1.0, step=0)
    run.flush()
    first_seen = threading.Event()

    def train() -> None:
        first_seen.wait(30)
        for step in range(1, 4):
            run.log("loss", 1.0 / (step + 1), step=step)
            run.flush()
        run.fail("stopped by the test")

    trainer = threading.Thread(target=train)
    trainer.start()
    received: list[tuple[str, dict]] = []
    try:
        with client.stream("GET", f"/v1/runs/{run.id}/events") as answer:
            for event in events_of(answer.iter_lines()):
                received.append(event)
                first_seen.set()
    finally:
        first_seen.set()
        trainer.join()
    assert received[0] == ("points", {"total": 1, "points": [["loss", 1.0, None, 0, received[0][1]["points"][0][4]]]})
    assert received[-1] == ("end", {"state": "FAILED"})
    steps = [point[3] for name, data in received if name == "points" for point in data["points"]]
    assert steps == [0, 1, 2, 3]
    totals = [data["total"] for name, data in received if name == "points"]
    assert totals == sorted(totals) and totals[-1] == 4


def test_a_client_may_leave_a_live_stream(client: TestClient, tracker: mt.Tracker) -> None:
    run = tracker.track_training(name="still training")
    run.log("loss", 1.0, step=0)
    run.flush()
    with client.stream("GET", f"/v1/runs/{run.id}/events") as answer:
        name, data = next(events_of(answer.iter_lines()))
    assert name == "points" and data["total"] == 1
    # the client left while the run trains: closing returned (the stream was cancelled, not waited for)
    run.finish()


def test_the_openapi_document_describes_the_new_endpoints(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in ("/v1/runs/{run_id}/series", "/v1/runs/{run_id}/metrics", "/v1/runs/summaries"):
        assert path in paths
    assert "text/event-stream" in paths["/v1/runs/{run_id}/events"]["get"]["responses"]["200"]["content"]
    schemas = document["components"]["schemas"]
    assert {"SeriesOut", "MetricSummaryOut", "RunMetricsOut", "SummariesIn", "SummariesOut"} <= set(schemas)
    order = next(p for p in paths["/v1/entities"]["get"]["parameters"] if p["name"] == "order")
    assert order["schema"]["enum"] == ["-created", "created", "name", "-name"]
