"""The live OpenLineage observer: the events a lineage server receives while the core demo trains.

A real HTTP server (a thread of this test) records every POSTed event; the
observer is the plugin mltrack-core's entry point ``openlineage`` loads into every tracker,
configured the OpenLineage client's own way (``OPENLINEAGE_URL``). What it
sends is compared with what ``mltrack export --format openlineage`` sends for
the same store afterwards.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mltrack_core as mt
from mltrack_core.demo import run_core_demo
from mltrack_core.errors import TrackingWarning
from mltrack_core.exporters import openlineage_observer
from mltrack_core.exporters.openlineage import run_events
from mltrack_core.testing.openlineage import validate_openlineage_event


@pytest.fixture(autouse=True)
def openlineage_environment() -> Iterator[None]:
    """The OpenLineage client writes aliases of ``OPENLINEAGE_URL`` into the environment: undo them after each test."""
    before = {name: value for name, value in os.environ.items() if name.startswith("OPENLINEAGE")}
    yield
    for name in [name for name in os.environ if name.startswith("OPENLINEAGE")]:
        del os.environ[name]
    os.environ.update(before)


@pytest.fixture
def observed(tmp_path: Path) -> Iterator[mt.Tracker]:
    with mt.connect("memory://", artifacts=tmp_path / "artifacts") as tracker:
        assert tracker.plugins.get_plugin("openlineage") is openlineage_observer  # loaded from its entry point
        yield tracker


def _key(event: dict[str, Any]) -> tuple[str, str, str]:
    return event["run"]["runId"], event["eventType"], event["job"]["name"]


def test_a_configured_observer_sends_what_the_export_sends(lineage_server, observed, tmp_path, monkeypatch):
    url, handler = lineage_server
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "live-key")
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "live")
    run_core_demo(observed, tmp_path, lambda line: None)
    observed.flush()
    received = [event for _, _, event in handler.received]
    assert {(path, auth) for path, auth, _ in handler.received} == {("/api/v1/lineage", "Bearer live-key")}
    for event in received:
        validate_openlineage_event(event)
    exported = list(run_events(observed, namespace="live"))
    assert sorted(map(_key, received)) == sorted((str(e.run.runId), e.eventType.value, e.job.name) for e in exported)
    ends = {event["run"]["runId"]: event for event in received if event["eventType"] == "COMPLETE"}
    for event in exported:
        if event.eventType.value == "COMPLETE":  # the end events carry the same datasets
            sent = ends[event.run.runId]
            assert _names(sent["inputs"]) == [(dataset.namespace, dataset.name) for dataset in event.inputs]
            assert _names(sent["outputs"]) == [(dataset.namespace, dataset.name) for dataset in event.outputs]


def _names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(dataset["namespace"], dataset["name"]) for dataset in datasets]


def test_without_configuration_nothing_is_sent(lineage_server, observed, tmp_path, monkeypatch):
    _, handler = lineage_server
    for variable in [name for name in os.environ if name.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)  # no openlineage.yml here
    monkeypatch.setenv("HOME", str(tmp_path))  # nor in ~/.openlineage
    assert not openlineage_observer.openlineage_configured()
    run_core_demo(observed, tmp_path, lambda line: None)
    assert handler.received == []


def test_a_refusing_server_is_reported_once_and_training_goes_on(lineage_server, observed, tmp_path, monkeypatch):
    url, handler = lineage_server
    handler.status = 400
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    with pytest.warns(TrackingWarning, match="openlineage") as warned:
        run_core_demo(observed, tmp_path, lambda line: None)
    assert len([warning for warning in warned if "openlineage" in str(warning.message)]) == 1
    assert len(handler.received) == 1  # set aside after the first refusal
    assert observed.count("evaluation") > 0  # the demo went on to the end


def test_the_observer_is_an_entry_point_of_mltrack_core():
    (entry_point,) = importlib.metadata.entry_points(group="mltrack", name="openlineage")
    assert entry_point.value == openlineage_observer.__name__
