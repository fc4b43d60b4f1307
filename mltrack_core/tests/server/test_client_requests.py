"""What a tracked run costs the REST client in requests, and the proxy settings it reads from the environment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from lossy_proxy import LossyProxy

import mltrack_core as mt

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


@pytest.fixture
def forwarder(start_server, tmp_path: Path) -> Iterator[LossyProxy]:
    """A server over SQLite behind a forwarder that lists every request line it carries."""
    server = start_server(f"sqlite:///{tmp_path}/store.db")
    forwarder = LossyProxy(server.port)
    yield forwarder
    forwarder.close()


@pytest.fixture
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in PROXY_VARIABLES + NO_PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def _paths(request_lines: list[str]) -> Counter:
    return Counter(line.split()[1].split("?")[0] for line in request_lines)


def test_a_tracked_run_sends_its_writes_and_reads_nothing_the_client_holds(forwarder: LossyProxy) -> None:
    with mt.connect(forwarder.url) as tracker:
        dataset = tracker.track_dataset(name="iris", location="s3://bucket/iris.csv", target="species")
        forwarder.seen.clear()
        for index in range(3):
            run = tracker.track_training(name=f"fit {index}", trained_on=dataset)
            for step in range(10):
                run.log("loss", 1.0 / (step + 1), step=step)
            model = tracker.track_model(name=f"model {index}", trained_on=dataset, learning_algorithm="lr")
            run.finish(model=model)
            tracker.track_evaluation({"accuracy": 0.9}, computed_by=model, on_dataset=dataset, procedure="holdout")
        requests = _paths(forwarder.seen)
        leaderboard = tracker.leaderboard(dataset, "accuracy")
    # per run: the run, the model and the evaluation, the run's end, and its points (in batches the writer
    # thread makes: one here unless it woke during the loop); no lookup of the dataset the client holds
    ends = [path for path in requests if path.endswith("/end")]
    assert requests["/v1/entities"] == 9 and len(ends) == 3 and all(requests[path] == 1 for path in ends)
    assert requests["/v1/points"] >= 3
    assert set(requests) == {"/v1/entities", "/v1/points", *ends}
    assert len(leaderboard.entries) == 3


def test_a_dataset_named_by_id_is_read_once(forwarder: LossyProxy) -> None:
    with mt.connect(forwarder.url) as tracker:
        dataset_id = tracker.track_dataset(name="iris").id
    with mt.connect(forwarder.url) as tracker:  # a new client: it has not seen the dataset
        forwarder.seen.clear()
        for index in range(3):
            tracker.track_model(name=f"model {index}", trained_on=dataset_id, learning_algorithm="lr")
        assert _paths(forwarder.seen) == Counter({"/v1/entities/lookup": 1, "/v1/entities": 3})


def test_the_proxy_of_the_environment_is_read_when_the_client_is_made(
    forwarder: LossyProxy, no_proxy_settings: pytest.MonkeyPatch
) -> None:
    no_proxy_settings.setenv("HTTP_PROXY", forwarder.url)
    server = "http://mltrack.behind-a-proxy.invalid:8686"  # a name that resolves nowhere: only the proxy reaches it
    with mt.connect(server) as tracker:
        no_proxy_settings.delenv("HTTP_PROXY")  # read once, when the client was made
        dataset = tracker.track_dataset(name="through the proxy")
        assert tracker.get(dataset.id).name == "through the proxy"
    assert f"POST {server}/v1/entities HTTP/1.1" in forwarder.seen


def test_no_proxy_sends_straight_to_the_server(forwarder: LossyProxy, no_proxy_settings: pytest.MonkeyPatch) -> None:
    no_proxy_settings.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there: used, it would fail
    no_proxy_settings.setenv("NO_PROXY", "127.0.0.1")
    with mt.connect(forwarder.url) as tracker:
        dataset = tracker.track_dataset(name="direct")
        assert tracker.get(dataset.id).name == "direct"
    assert any(line.startswith("POST /v1/entities ") for line in forwarder.seen)
