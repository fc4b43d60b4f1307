"""The mltrack command line, against a real SQLite store."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import mltrack_core as mt
from mltrack_core import cli
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


def test_leaderboard_pages_with_limit_and_offset(store):
    uri, recorded, _ = store
    arguments = ("--uri", uri, "leaderboard", "--dataset", recorded["test"].id, "--metric", "accuracy", "--limit", "1")
    page = json.loads(run(*arguments, "--offset", "1", "--json").output)
    assert [entry["model"] for entry in page["entries"]] == [recorded["model"].id]
    assert (page["entries"][0]["rank"], page["total"], page["offset"]) == (2, 2, 1)
    assert "ranks 2-2 of 2" in run(*arguments, "--offset", "1").output
    assert "ranks none of 2" in run(*arguments, "--offset", "5").output


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


# ---------------------------------------------------------------- hostile input: one line on stderr, never a traceback

HOSTILE_VALUES = [
    "",
    "\x00",
    "../../../etc/passwd",
    "/proc/x",
    "a" * 5000,
    "\udcff",  # an argument that was not valid UTF-8
    "[/x]",
    "\x1b]0;pwned\x07",
    "x\ny",
    "-1",
    "99999999999999999999999",
    "nan",
    "-inf",
    "1e400",
    "🙂",
    "%00",
]
HOSTILE_URIS = [
    "https://[::1",
    "sqlite:///%00.db",
    "sqlite:///",
    "sqlite:////proc/x/y.db",
    f"sqlite:///{'a' * 5000}.db",
    "nosuch://x",
    "postgresql://[::1",
    "\x00",
]


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    uri = f"sqlite:///{folder}/store.db"
    with mt.connect(uri) as tracker:
        recorded = sample_experiment(tracker)
    return uri, {name: entity.id for name, entity in recorded.items()}


COMMAND_TEMPLATES = {
    "ls": lambda v, ids: [
        ["ls", v],
        ["ls", "--name", v],
        ["ls", "--experiment", v],
        ["ls", "--tag", f"{v}={v}"],
        ["ls", "--limit", v],
        ["ls", "--offset", v, "--json"],
    ],
    "show": lambda v, ids: [["show", v], ["show", v, "--json"]],
    "lineage": lambda v, ids: [["lineage", v], ["lineage", ids["evaluation"], "--depth", v]],
    "diff": lambda v, ids: [["diff", v, ids["model"]], ["diff", ids["model"], v, "--json"]],
    "leaderboard": lambda v, ids: [
        ["leaderboard", "--dataset", v, "--metric", "accuracy"],
        ["leaderboard", "--dataset", ids["test"], "--metric", v],
        ["leaderboard", "--dataset", ids["test"], "--metric", "accuracy", "--procedure", v, "--json"],
        ["leaderboard", "--dataset", ids["test"], "--metric", "accuracy", "--limit", v],
    ],
    "export": lambda v, ids: [["export", v], ["export", "--format", v, "out"]],
    "info": lambda v, ids: [["info", v]],
    "import": lambda v, ids: [
        ["import", "openml", v],
        ["import", "ml-experiments-schema", v],
        ["import", "mlflow", "--tracking-uri", v],
    ],
    "regress": lambda v, ids: [
        ["regress", "--metric", v, "--value", "0.5", "--dataset", ids["test"], "--no-record"],
        ["regress", "--metric", "accuracy", "--value", v, "--dataset", ids["test"], "--no-record"],
        ["regress", "--metric", "accuracy", "--value", "0.5", "--dataset", v, "--no-record"],
        ["regress", "--metric", "accuracy", "--value", "0.5", "--dataset", ids["test"], "--model", v],
        ["regress", "--metric", "accuracy", "--value", "0.5", "--dataset", ids["test"], "--baseline", v, "--json"],
    ],
    "notify": lambda v, ids: [["notify", "--since", v, "--dry-run"], ["notify", "--to", v, "--dry-run"]],
    "sync": lambda v, ids: [["sync", "--uri", v, "--status"]],
}


def _misbehaviour(arguments: list[str], result) -> str | None:
    """What is wrong with how a command ended, or None when it ended as the README promises."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"{arguments!r:.200}: raised {type(result.exception).__name__}: {result.exception}"
    if result.exit_code not in (0, 1, 2) or "Traceback" in result.output:
        return f"{arguments!r:.200}: exit status {result.exit_code}, output {result.output[-300:]!r}"
    if result.exit_code == 1 and len(result.stderr.strip().splitlines()) > 1:
        return f"{arguments!r:.200}: exit status 1 with stderr {result.stderr[-300:]!r}"
    return None


@pytest.mark.parametrize("command", sorted(COMMAND_TEMPLATES))
def test_every_command_ends_cleanly_on_hostile_arguments(hostile_store, command, tmp_path, monkeypatch):
    uri, ids = hostile_store
    monkeypatch.chdir(tmp_path)  # export writes relative folders here
    runner = CliRunner()
    failures = []
    for value in HOSTILE_VALUES:
        for arguments in COMMAND_TEMPLATES[command](value, ids):
            result = runner.invoke(main, ["--uri", uri, *arguments])
            failures.append(_misbehaviour(arguments, result))
    assert [failure for failure in failures if failure] == []


@pytest.mark.parametrize("arguments", [["ls"], ["show", "x"], ["info", "--json"], ["export", "out"]])
def test_hostile_store_uris_are_one_line_and_exit_status_1(arguments, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failures = []
    for uri in HOSTILE_URIS:
        result = CliRunner().invoke(main, ["--uri", uri, *arguments])
        failures.append(_misbehaviour([uri, *arguments], result))
        if result.exit_code != 1 or len(result.stderr.strip().splitlines()) != 1:
            failures.append(f"{uri!r:.100} {arguments}: exit status {result.exit_code}, stderr {result.stderr!r:.300}")
    assert [failure for failure in failures if failure] == []


def test_export_to_a_folder_that_cannot_be_made_is_one_line(store):
    uri, _, _ = store
    result = CliRunner().invoke(main, ["--uri", uri, "export", "/proc/x"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == ["Error: /proc/x: No such file or directory"]


def test_an_offset_beyond_64_bits_is_wrong_usage(store):
    uri, _, _ = store
    result = CliRunner().invoke(main, ["--uri", uri, "ls", "--offset", "99999999999999999999999"])
    assert result.exit_code == 2 and "--offset" in result.stderr


# ---------------------------------------------------------------- read commands never write


READ_COMMANDS = [["ls"], ["ls", "--json"], ["show", "x"], ["lineage", "x"], ["info"], ["diff", "a", "b"]]


@pytest.mark.parametrize("arguments", READ_COMMANDS)
def test_reading_a_mistyped_path_creates_nothing_and_says_there_is_no_store(tmp_path, arguments):
    mistyped = tmp_path / "no-such-folder" / "store.db"
    result = CliRunner().invoke(main, ["--uri", f"sqlite:///{mistyped}", *arguments])
    assert result.exit_code == 1 and "no mltrack store" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arguments", [*READ_COMMANDS, ["export", "out"]])
def test_reading_a_foreign_sqlite_file_leaves_it_byte_identical(tmp_path, arguments, monkeypatch):
    monkeypatch.chdir(tmp_path)
    foreign = tmp_path / "foreign.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO customers (name) VALUES ('Ada')")
    connection.commit()
    connection.close()
    before = foreign.read_bytes()
    result = CliRunner().invoke(main, ["--uri", f"sqlite:///{foreign}", *arguments])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert foreign.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["foreign.db"]


# ---------------------------------------------------------------- what the commands print


def _refuse_constant(name: str) -> None:
    raise ValueError(f"not standard JSON: {name}")


def test_json_output_is_standard_json(store):
    uri, recorded, _ = store
    with mt.connect(uri) as tracker:
        evaluation = tracker.track_evaluation(
            {"accuracy": float("nan"), "loss": float("inf")}, computed_by=recorded["model"], on_dataset=recorded["test"]
        )
        diverged = tracker.track_training(name="diverged", trained_on=recorded["train"])
        diverged.log("loss", float("-inf"))
        diverged.finish()
    shown = json.loads(run("--uri", uri, "show", evaluation.id, "--json").output, parse_constant=_refuse_constant)
    assert [score["value"] for score in shown["scores"]] == ["NaN", "Infinity"]
    assert mt.schema.entity_from_json(shown).scores[1].value == math.inf
    run_document = json.loads(run("--uri", uri, "show", diverged.id, "--json").output, parse_constant=_refuse_constant)
    assert run_document["scores_over_time"][0]["value"] == "-Infinity"
    listed = run("--uri", uri, "ls", "--json", "--limit", "100").output
    assert len(json.loads(listed, parse_constant=_refuse_constant)["entities"]) == 13


def test_a_huge_value_is_shown_cut_with_its_size(store):
    uri, recorded, _ = store
    with mt.connect(uri) as tracker:
        model = tracker.track_model(
            name="huge",
            learning_algorithm="lr",
            trained_on=recorded["train"],
            hyperparameters=[mt.Parameter(name="vocabulary", value="w" * 10_000_000)],
            comments="c" * 1000,
        )
    started = time.perf_counter()
    shown = run("--uri", uri, "show", model.id).output
    assert time.perf_counter() - started < 20
    text = "".join(character for character in shown if character not in " \n│")
    assert len(shown) < 20_000 and "w" * 200 + "…(10.0MB)" in text and "c" * 200 + "…(1.0kB)" in text
    whole = json.loads(run("--uri", uri, "show", model.id, "--json").output)
    assert whole["hyperparameters"][0]["value"] == "w" * 10_000_000


def test_stored_text_cannot_drive_the_terminal_or_the_table_markup(store):
    uri, _, _ = store
    with mt.connect(uri) as tracker:
        tracker.track_dataset(name="[/x] [bold]loud\x1b]0;pwned\x07\x1b[2J", id="markup")
    listed = run("--uri", uri, "ls", "datasets").output
    assert "[/x] [bold]loud\\x1b]0;pwned\\x07\\x1b[2J" in listed and "\x1b" not in listed
    shown = run("--uri", uri, "show", "markup").output
    assert "[/x] [bold]loud" in shown and "\x1b" not in shown
    lineage_lines = run("--uri", uri, "lineage", "markup").output
    assert "\x1b" not in lineage_lines and len(lineage_lines.strip().splitlines()) == 1


def test_times_beyond_the_calendar_are_shown_as_numbers():
    assert cli._when(2**62) == f"{2**62} ms since 1970 (beyond the calendar)"
    assert cli._when(253402300799999) == "9999-12-31 23:59:59"


def test_a_leaderboard_of_a_metric_never_recorded_there_is_an_error_naming_the_recorded_ones(store):
    uri, recorded, _ = store
    for as_json in ([], ["--json"]):
        result = CliRunner().invoke(
            main, ["--uri", uri, "leaderboard", "--dataset", recorded["test"].id, "--metric", "acuracy", *as_json]
        )
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"Error: no evaluation of metric 'acuracy' on dataset '{recorded['test'].id}' "
            "(metrics recorded there: 'accuracy', 'log_loss')"
        )


def test_a_leaderboard_lists_what_it_left_out(store):
    uri, recorded, _ = store
    with mt.connect(uri) as tracker:
        odd = tracker.track_evaluation(
            {"accuracy": float("nan")}, computed_by=recorded["model"], on_dataset=recorded["test"], procedure="holdout"
        )
    arguments = ["--uri", uri, "leaderboard", "--dataset", recorded["test"].id, "--metric", "accuracy"]
    table = run(*arguments).output
    assert "left out: 1 evaluation(s)" in table and f"{odd.id}: its accuracy score is NaN" in table
    board = json.loads(run(*arguments, "--json").output, parse_constant=_refuse_constant)
    assert board["excluded"] == [{"evaluation": odd.id, "reason": "its accuracy score is NaN, not a finite number"}]


def test_diff_of_a_model_and_a_dataset_says_which_is_which(store):
    uri, recorded, _ = store
    result = CliRunner().invoke(main, ["--uri", uri, "diff", recorded["model"].id, recorded["test"].id])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: '{recorded['test'].id}' is a dataset, not a model"
