"""The mltrack command line, against a real SQLite store."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import mltrack_core as mt
from mltrack_core.cli import main
from mltrack_core.testing import sample_experiment


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path}/cli.db"
    with mt.connect(uri) as tracker:
        recorded = sample_experiment(tracker)
        second = tracker.track_model(
            name="iris-lr-strong",
            learning_algorithm="LogisticRegression",
            trained_on=recorded["train"],
            hyperparameters=[mt.Parameter.of("C", 5.0, default=1.0)],
        )
        tracker.track_evaluation(
            {"accuracy": 0.97}, computed_by=second, on_dataset=recorded["test"], procedure="holdout"
        )
    return uri, recorded, second


def run(*arguments: str):
    return CliRunner().invoke(main, list(arguments), catch_exceptions=False)


def test_ls_lists_newest_first_as_a_table_or_json(store):
    uri, recorded, _ = store
    result = run("--uri", uri, "ls", "datasets")
    assert result.exit_code == 0
    assert "3 of 3 dataset" in result.output and "iris-train" in result.output
    listed = json.loads(run("--uri", uri, "ls", "--json", "--limit", "2").output)
    assert listed["total"] == 11 and len(listed["entities"]) == 2
    tagged = json.loads(run("--uri", uri, "ls", "--tag", "source=uci", "--json").output)
    assert [entity["id"] for entity in tagged["entities"]] == [recorded["full"].id]


def test_show_prints_every_field(store):
    uri, recorded, _ = store
    shown = json.loads(run("--uri", uri, "show", recorded["model"].id, "--json").output)
    assert mt.schema.entity_from_json(shown) == recorded["model"]
    table = run("--uri", uri, "show", recorded["run"].id).output
    assert "3 points; last: loss=0.3333 (epoch 2)" in table


def test_lineage_up_and_down(store):
    uri, recorded, _ = store
    upstream = run("--uri", uri, "lineage", recorded["evaluation"].id).output
    assert "computed_by: model iris-lr" in upstream and "derived_from: dataset iris [" in upstream
    downstream = json.loads(run("--uri", uri, "lineage", recorded["full"].id, "--downstream", "--json").output)
    assert recorded["evaluation"].id in {node["id"] for node in downstream["nodes"]}
    shallow = json.loads(run("--uri", uri, "lineage", recorded["evaluation"].id, "--depth", "1", "--json").output)
    assert max(node["depth"] for node in shallow["nodes"]) == 1


def test_diff_shows_only_differences(store):
    uri, recorded, second = store
    result = run("--uri", uri, "diff", recorded["model"].id, second.id, "--json")
    differences = json.loads(result.output)
    assert differences["hyperparameters"] == {"C": {"a": 0.5, "b": 5.0}}
    assert "transforms" in differences and differences["training_data"] == {}
    assert "hyperparameters" in run("--uri", uri, "diff", recorded["model"].id, second.id).output


def test_leaderboard_ranks_best_first(store):
    uri, recorded, second = store
    board = json.loads(
        run("--uri", uri, "leaderboard", "--dataset", recorded["test"].id, "--metric", "accuracy", "--json").output
    )
    assert [entry["model"] for entry in board["entries"]] == [second.id, recorded["model"].id]
    table = run("--uri", uri, "leaderboard", "--dataset", recorded["test"].id, "--metric", "accuracy").output
    assert "higher is better" in table and "iris-lr-strong" in table


def test_export_writes_schema_documents(store, tmp_path):
    uri, _, _ = store
    result = run("--uri", uri, "export", "--format", "ml-experiments-schema", str(tmp_path / "out"))
    assert result.exit_code == 0 and "wrote 11 documents" in result.output
    assert len(list((tmp_path / "out" / "models").glob("*.json"))) == 2


def test_info_names_the_store_and_plugins(store):
    uri, _, _ = store
    info = json.loads(run("--uri", uri, "info", "--json").output)
    assert info["uri"] == uri and info["counts"]["dataset"] == 3 and "sqlite" in info["plugins"]
    assert {"memory", "sqlite", "postgresql", "postgres", "http", "https"} <= set(info["schemes"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["show", "nope"], "no entity with id 'nope'"),
        (["lineage", "nope"], "no entity with id 'nope'"),
        (["leaderboard", "--dataset", "nope", "--metric", "accuracy"], "no dataset with id 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_1(store, arguments, message):
    uri, _, _ = store
    result = CliRunner().invoke(main, ["--uri", uri, *arguments])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {result.output.strip().removeprefix('Error: ')}"]
    assert message in result.output


def test_wrong_usage_exits_with_status_2(store):
    uri, _, _ = store
    assert CliRunner().invoke(main, ["--uri", uri, "ls", "widgets"]).exit_code == 2
    assert CliRunner().invoke(main, ["--uri", uri, "ls", "--tag", "no-equals-sign"]).exit_code == 2


def test_an_unknown_scheme_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["--uri", "nosuch://x", "ls"])
    assert result.exit_code == 1 and "no installed backend handles 'nosuch'" in result.output


def test_demo_records_an_experiment_in_the_default_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    result = subprocess.run(
        [sys.executable, "-m", "mltrack_core.cli", "demo"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "lineage of the best evaluation" in result.stdout and "churn-logreg" in result.stdout
    with mt.connect(f"sqlite:///{tmp_path / 'home' / 'store.db'}") as tracker:
        run_ = tracker.find("run", name="logistic regression (SGD)")[0]
        assert len(tracker.points(run_.id)) == 40
        board = tracker.leaderboard(tracker.find("dataset", name="churn-synthetic-test")[0], "accuracy")
        assert board.entries[0].model.name == "churn-logreg" and board.entries[0].value > 0.75
