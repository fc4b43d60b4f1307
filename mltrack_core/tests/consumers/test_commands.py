"""``mltrack regress`` for CI systems other than pytest, and the wiring of the consumer commands."""

from __future__ import annotations

import json
from pathlib import Path

import mltrack_core as mt
from mltrack_core import cli


def test_the_commands_are_wired_into_mltrack() -> None:
    assert cli.LAZY_COMMANDS.get("import") == "mltrack_core.consumers_cli:import_command"
    assert cli.LAZY_COMMANDS.get("regress") == "mltrack_core.consumers_cli:regress"
    assert cli.LAZY_COMMANDS.get("notify") == "mltrack_core.consumers_cli:notify"


def stored_holdout(uri: str) -> tuple[str, str]:
    with mt.connect(uri) as tracker:
        holdout = tracker.track_dataset(name="holdout", fingerprint="sha256:holdout", target="y")
        model = tracker.track_model(name="gbm", learning_algorithm="GradientBoosting", trained_on=holdout)
        return holdout.id, model.id


def test_regress_exits_1_on_a_regression_with_the_report(mltrack, repository: Path, git) -> None:
    dataset, model = stored_holdout(mltrack.uri)
    check = ["regress", "--metric", "roc_auc", "--dataset", dataset, "--model", model, "--repository", str(repository)]

    first = mltrack(*check, "--value", "0.91")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("roc_auc passed: 0.91 is the first comparable result")

    better = mltrack(*check, "--value", "0.93", "--tolerance", "0.01")
    assert better.exit_code == 0 and "better by 0.02" in better.stdout

    head = git(repository, "rev-parse", "HEAD")
    worse = mltrack(*check, "--value", "0.90", "--tolerance", "0.01")
    assert worse.exit_code == 1
    assert worse.stdout.splitlines()[0] == (
        "roc_auc regressed: 0.9 is worse than the baseline 0.93 by 0.03, "
        "more than the tolerance 0.01 (higher is better)"
    )
    assert f"commit {head[:12]}, recorded 20" in worse.stdout

    as_json = mltrack(*check, "--value", "0.90", "--json", "--no-record", "--baseline", "last-passing")
    result = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and result["regressed"] is True and result["evaluation"] is None
    assert result["baseline"]["value"] == 0.93 and result["baseline"]["policy"] == "last-passing"
    assert result["baseline"]["commit"] == head
    with mt.connect(mltrack.uri) as tracker:
        assert tracker.count("evaluation") == 3


def test_regress_knows_the_direction_and_reports_bad_input(mltrack) -> None:
    dataset, model = stored_holdout(mltrack.uri)
    check = ["regress", "--dataset", dataset, "--model", model]
    assert mltrack(*check, "--metric", "mae", "--value", "4.0").exit_code == 0
    assert mltrack(*check, "--metric", "mae", "--value", "3.5").exit_code == 0
    assert mltrack(*check, "--metric", "mae", "--value", "4.5").exit_code == 1
    assert mltrack(*check, "--metric", "cost", "--value", "9", "--lower-is-better").exit_code == 0
    assert mltrack(*check, "--metric", "cost", "--value", "10").exit_code == 1  # the stored direction is used

    unknown = mltrack("regress", "--metric", "mae", "--value", "1", "--dataset", "ds-nope", "--model", model)
    assert unknown.exit_code == 1 and "no dataset with id 'ds-nope'" in unknown.stderr
    unrecordable = mltrack("regress", "--metric", "mae", "--value", "1", "--dataset", dataset)
    assert unrecordable.exit_code == 1 and "recording a check needs model=" in unrecordable.stderr
    not_a_number = mltrack(*check, "--metric", "mae", "--value", "high")
    assert not_a_number.exit_code == 2 and "'high' is not a valid float" in not_a_number.stderr
