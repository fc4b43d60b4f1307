"""A backend installed as its own distribution is found through its entry point and passes the contract suite."""

from __future__ import annotations

from importlib.metadata import distribution, entry_points

import pytest

import mltrack_core as mt
from mltrack_core.store import Point
from mltrack_core.testing import StoreContract, sample_experiment


def test_the_test_backend_is_an_installed_distribution_with_an_entry_point():
    assert distribution("mltrack-test-backend").version == "0.1.0"
    (found,) = [ep for ep in entry_points(group="mltrack") if ep.name == "jsonlog"]
    assert found.value == "mltrack_test_backend.plugin"


def test_its_scheme_is_offered_and_its_store_persists(tmp_path):
    uri = f"jsonlog://{tmp_path}/store.jsonl"
    with mt.connect(uri) as tracker:
        recorded = sample_experiment(tracker)
    with mt.connect(uri) as reopened:
        assert reopened.get(recorded["evaluation"].id) == recorded["evaluation"]
        assert len(reopened.points(recorded["run"].id)) == 3
        assert reopened.get(recorded["run"].id).state is mt.TrainingState.FINISHED


def test_its_store_remembers_applied_batches_across_reopening(tmp_path):
    uri = f"jsonlog://{tmp_path}/store.jsonl"
    with mt.connect(uri) as tracker:
        run = tracker.track_training(name="fit")
        point = Point(run.id, "loss", 1.0, None, 0, 1_000)
        assert tracker.store.append_points([point], batch_id="batch-1")
    with mt.connect(uri) as reopened:
        assert not reopened.store.append_points([point], batch_id="batch-1")  # a retry after a restart
        assert reopened.points(run.id) == [point]


def test_disabling_it_by_name_removes_its_scheme(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTRACK_DISABLE_PLUGINS", "jsonlog")
    with pytest.raises(mt.UnknownSchemeError, match="installed: ") as refused:
        mt.connect(f"jsonlog://{tmp_path}/store.jsonl")
    installed = str(refused.value).partition("installed: ")[2].partition(".")[0].split(", ")
    assert "jsonlog" not in installed and {"memory", "sqlite", "http"} <= set(installed)


def test_its_own_errors_reach_the_user():
    with pytest.raises(mt.StoreError, match="absolute path"):
        mt.connect("jsonlog://relative.jsonl")


class TestJsonLogBackend(StoreContract):
    @pytest.fixture
    def store_uri(self, tmp_path):
        return f"jsonlog://{tmp_path}/contract.jsonl"
