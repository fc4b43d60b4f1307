"""The regression check shared by the pytest fixture and ``mltrack regress``."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.regression import IncomparableBaselineError, check_regression


def holdout(
    tracker: mt.Tracker, *, fingerprint: str = "sha256:holdout-v1", name: str = "holdout", target: str = "churned"
) -> mt.Dataset:
    return tracker.track_dataset(name=name, fingerprint=fingerprint, target=target, location=f"file:///data/{name}.csv")


def model(tracker: mt.Tracker, dataset: mt.Dataset, name: str = "churn-lr") -> mt.Model:
    return tracker.track_model(name=name, learning_algorithm="LogisticRegression", trained_on=dataset)


def next_millisecond() -> None:
    """Checks in a test follow each other within a millisecond; real ones do not."""
    start = mt.schema.now_ms()
    while mt.schema.now_ms() == start:
        time.sleep(0.0005)


def commit(git, repository: Path, message: str) -> str:
    (repository / "model.txt").write_text(message)
    git(repository, "commit", "-q", "-am", message)
    return git(repository, "rev-parse", "HEAD")


def test_the_first_check_passes_and_becomes_the_baseline(sqlite_tracker: mt.Tracker, repository: Path, git) -> None:
    data = holdout(sqlite_tracker)
    result = check_regression(
        sqlite_tracker, "roc_auc", 0.81, model=model(sqlite_tracker, data), dataset=data, repository=repository
    )
    assert not result.regressed and result.baseline is None and result.history == 0
    head = git(repository, "rev-parse", "HEAD")
    evaluation = sqlite_tracker.get(result.evaluation.id)
    assert evaluation.tags == {"mltrack.check": "passed", "git.commit": head, "git.branch": "main"}
    assert evaluation.procedure == "holdout" and evaluation.score("roc_auc").value == 0.81
    assert evaluation.annotations["mltrack.check.metric"] == "roc_auc"
    assert "roc_auc passed: 0.81 is the first comparable result" in result.report()
    assert f"commit {head[:12]}" in result.report()


def test_an_improvement_passes_and_a_regression_fails_with_the_report(
    sqlite_tracker: mt.Tracker, repository: Path, git
) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    check_regression(sqlite_tracker, "roc_auc", 0.80, model=lr, dataset=data, repository=repository)
    improved_commit = commit(git, repository, "better features")
    next_millisecond()
    improved = check_regression(
        sqlite_tracker, "roc_auc", 0.85, model=lr, dataset=data, tolerance=0.01, repository=repository
    )
    assert not improved.regressed and improved.baseline.value == 0.80 and improved.improvement == pytest.approx(0.05)
    assert "roc_auc passed: 0.85 vs baseline 0.8 (better by 0.05, higher is better)" in improved.report()

    current_commit = commit(git, repository, "a bug")
    next_millisecond()
    worse = check_regression(
        sqlite_tracker, "roc_auc", 0.82, model=lr, dataset=data, tolerance=0.01, repository=repository
    )
    assert worse.regressed
    report = worse.report()
    recorded = datetime.fromtimestamp(improved.evaluation.creation_time / 1000, tz=timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    assert report.splitlines()[0] == (
        "roc_auc regressed: 0.82 is worse than the baseline 0.85 by 0.03, "
        "more than the tolerance 0.01 (higher is better)"
    )
    assert f"evaluation {improved.evaluation.id} of model churn-lr [{lr.id}]" in report
    assert f"commit {improved_commit[:12]}, recorded {recorded}" in report
    assert f"commit {current_commit[:12]}, recorded as evaluation {worse.evaluation.id}" in report
    assert sqlite_tracker.get(worse.evaluation.id).tags["mltrack.check"] == "failed"
    assert worse.to_json()["baseline"]["commit"] == improved_commit


def test_a_value_within_the_tolerance_passes(sqlite_tracker: mt.Tracker) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    check_regression(sqlite_tracker, "accuracy", 0.85, model=lr, dataset=data)
    result = check_regression(sqlite_tracker, "accuracy", 0.845, model=lr, dataset=data, tolerance=0.01)
    assert not result.regressed
    assert "(worse by 0.005, within the tolerance 0.01, higher is better)" in result.report()
    assert check_regression(sqlite_tracker, "accuracy", 0.845, model=lr, dataset=data).regressed  # no tolerance


def test_lower_is_better_for_losses_and_errors(sqlite_tracker: mt.Tracker) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    check_regression(sqlite_tracker, "log_loss", 0.30, model=lr, dataset=data)
    assert not check_regression(sqlite_tracker, "log_loss", 0.25, model=lr, dataset=data).regressed
    worse = check_regression(sqlite_tracker, "log_loss", 0.35, model=lr, dataset=data)
    assert worse.regressed and worse.baseline.value == 0.25
    assert "(lower is better)" in worse.report()
    assert check_regression(sqlite_tracker, "rmse", 3.0, model=lr, dataset=data).greater_is_better is False


def test_a_stated_direction_wins_over_the_name(sqlite_tracker: mt.Tracker) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    check_regression(sqlite_tracker, "latency_budget_used", 0.5, model=lr, dataset=data, greater_is_better=False)
    assert sqlite_tracker.find("evaluation")[0].score("latency_budget_used").greater_is_better is False
    # the stored direction now decides for checks that do not state one
    assert check_regression(sqlite_tracker, "latency_budget_used", 0.6, model=lr, dataset=data).regressed


def test_only_comparable_history_counts(sqlite_tracker: mt.Tracker) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    other_data = holdout(sqlite_tracker, fingerprint="sha256:holdout-v2", name="holdout-v2")
    other_target = holdout(sqlite_tracker, name="holdout-other-target", target="tenure")
    sqlite_tracker.track_evaluation({"roc_auc": 0.99}, computed_by=lr, on_dataset=other_data, procedure="holdout")
    sqlite_tracker.track_evaluation(
        {"roc_auc": 0.98}, computed_by=lr, on_dataset=data, procedure="5-fold cross-validation"
    )
    sqlite_tracker.track_evaluation({"roc_auc": 0.97}, computed_by=lr, on_dataset=other_target, procedure="holdout")
    sqlite_tracker.track_evaluation({"f1": 0.96}, computed_by=lr, on_dataset=data, procedure="holdout")
    assert check_regression(sqlite_tracker, "roc_auc", 0.70, model=lr, dataset=data).baseline is None

    copy = holdout(sqlite_tracker, name="holdout copy")  # same content fingerprint and target: the same data
    sqlite_tracker.track_evaluation({"roc_auc": 0.90}, computed_by=lr, on_dataset=copy, procedure="holdout")
    result = check_regression(sqlite_tracker, "roc_auc", 0.70, model=lr, dataset=data)
    assert result.regressed and result.baseline.value == 0.90 and result.history == 2


def test_baseline_policies_best_last_passing_and_pinned(sqlite_tracker: mt.Tracker) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    first = check_regression(sqlite_tracker, "accuracy", 0.90, model=lr, dataset=data)
    next_millisecond()
    within = check_regression(sqlite_tracker, "accuracy", 0.88, model=lr, dataset=data, tolerance=0.05)
    next_millisecond()
    sqlite_tracker.track_evaluation(
        {"accuracy": 0.95}, computed_by=lr, on_dataset=data, procedure="holdout"
    )  # not a check
    assert not within.regressed

    best = check_regression(sqlite_tracker, "accuracy", 0.86, model=lr, dataset=data, tolerance=0.03, record=False)
    assert best.regressed and best.baseline.value == 0.95 and best.baseline.policy == "best"
    last = check_regression(
        sqlite_tracker, "accuracy", 0.86, model=lr, dataset=data, tolerance=0.03, baseline="last-passing"
    )
    assert not last.regressed and last.baseline.evaluation.id == within.evaluation.id
    assert "the last passing of 3 comparable evaluation(s)" in last.report()
    pinned = check_regression(
        sqlite_tracker,
        "accuracy",
        0.86,
        model=lr,
        dataset=data,
        tolerance=0.03,
        baseline=first.evaluation.id,
        record=False,
    )
    assert pinned.regressed and pinned.baseline.policy == "pinned" and pinned.baseline.value == 0.90


def test_a_pinned_baseline_must_exist_and_be_comparable(sqlite_tracker: mt.Tracker) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    other = sqlite_tracker.track_evaluation({"accuracy": 0.9}, computed_by=lr, on_dataset=data, procedure="10-fold")
    with pytest.raises(
        IncomparableBaselineError, match=rf"pinned baseline {other.id} .*procedure '10-fold', not 'holdout'"
    ):
        check_regression(sqlite_tracker, "accuracy", 0.8, model=lr, dataset=data, baseline=other.id)
    elsewhere = holdout(sqlite_tracker, fingerprint="sha256:other", name="other")
    on_other_data = sqlite_tracker.track_evaluation(
        {"accuracy": 0.9}, computed_by=lr, on_dataset=elsewhere, procedure="holdout"
    )
    with pytest.raises(
        IncomparableBaselineError, match=f"computed on dataset {elsewhere.id}, which does not hold the same data"
    ):
        check_regression(sqlite_tracker, "accuracy", 0.8, model=lr, dataset=data, baseline=on_other_data.id)
    with pytest.raises(IncomparableBaselineError, match="has no numeric 'f1' score"):
        check_regression(sqlite_tracker, "f1", 0.8, model=lr, dataset=data, baseline=on_other_data.id)
    with pytest.raises(
        mt.NotFoundError, match=re.escape("baseline 'lastpassing' is neither a policy (best, last-passing)")
    ):
        check_regression(sqlite_tracker, "accuracy", 0.8, model=lr, dataset=data, baseline="lastpassing")
    unstored = mt.Model(name="not yet stored", learning_algorithm="lr", trained_on=data.id)
    with pytest.raises(IncomparableBaselineError):
        check_regression(sqlite_tracker, "accuracy", 0.8, model=unstored, dataset=data, baseline=other.id)
    assert (
        sqlite_tracker.count("evaluation") == 2 and sqlite_tracker.count("model") == 1
    )  # a check that cannot run writes nothing


def test_without_recording_nothing_is_written(sqlite_tracker: mt.Tracker) -> None:
    data = holdout(sqlite_tracker)
    lr = model(sqlite_tracker, data)
    check_regression(sqlite_tracker, "accuracy", 0.9, model=lr, dataset=data)
    count = sqlite_tracker.count()
    unstored_copy = mt.Dataset(name="holdout as loaded today", fingerprint=data.fingerprint, target=data.target)
    result = check_regression(sqlite_tracker, "accuracy", 0.8, model=None, dataset=unstored_copy, record=False)
    assert result.regressed and result.evaluation is None and "not recorded" in result.report()
    assert sqlite_tracker.count() == count


def test_model_and_dataset_objects_are_tracked_when_recording(sqlite_tracker: mt.Tracker) -> None:
    data = mt.Dataset(name="fresh holdout", fingerprint="sha256:fresh", target="y")
    lr = mt.Model(name="fresh model", learning_algorithm="Ridge", trained_on=data.id)
    result = check_regression(sqlite_tracker, "r2", 0.7, model=lr, dataset=data)
    assert sqlite_tracker.get(result.evaluation.id).computed_by == lr.id
    assert sqlite_tracker.get(lr.id).trained_on == data.id


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"value": float("nan")}, "must be a finite number, got nan"),
        ({"value": "high"}, "must be a number, got str 'high'"),
        ({"value": True}, "must be a number, got bool"),
        ({"tolerance": -0.1}, "tolerance must not be negative"),
        ({"procedure": ""}, "procedure must be a non-empty name"),
        ({"model": None}, "recording a check needs model="),
        ({"metric": ""}, "metric must be a non-empty name"),
    ],
)
def test_bad_input_is_refused_clearly(sqlite_tracker: mt.Tracker, arguments: dict, message: str) -> None:
    data = holdout(sqlite_tracker)
    call = {"metric": "accuracy", "value": 0.9, "model": model(sqlite_tracker, data), "dataset": data} | arguments
    metric, value = call.pop("metric"), call.pop("value")
    with pytest.raises(mt.SchemaError, match=re.escape(message)):
        check_regression(sqlite_tracker, metric, value, **call)
    with pytest.raises(mt.NotFoundError, match="no dataset with id 'ds-unknown'"):
        check_regression(sqlite_tracker, "accuracy", 0.9, model=None, dataset="ds-unknown", record=False)
