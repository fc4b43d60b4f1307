"""Queries over REST are answered by the server, in one request each, and equal the embedded store's answers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from lossy_proxy import LossyProxy

import mltrack_core as mt
from mltrack_core import NotFoundError, SchemaError
from mltrack_core.schema import Parameter

FINGERPRINT = "sha256:" + "ab" * 32


def _history(tracker: mt.Tracker) -> dict[str, str]:
    """Two copies of one dataset, models with hyperparameters and transforms, evaluations of mixed procedures."""
    iris = tracker.track_dataset(name="iris", location="s3://data/iris.csv", target="species", fingerprint=FINGERPRINT)
    copy = tracker.track_dataset(
        name="iris copy", location="s3://copy/iris.csv", target="species", fingerprint=FINGERPRINT
    )
    other_target = tracker.track_dataset(name="iris by petal", target="petal_width", fingerprint=FINGERPRINT)
    scaler = tracker.track_transform(
        name="scale", operator="StandardScaler", parameters=[Parameter(name="with_mean", value=True)]
    )
    models, evaluations = [], []
    for index in range(12):
        data = (iris, copy, other_target)[index % 3]
        model = tracker.track_model(
            name=f"model {index}",
            trained_on=data,
            learning_algorithm="LogisticRegression" if index % 2 else "SVC",
            hyperparameters=[
                Parameter(name="C", value=0.1 * (index + 1)),
                Parameter(name="max_iter", value=100 + index),
            ],
            transforms=[scaler.id] if index % 4 == 0 else [],
        )
        procedure = "5-fold" if index % 5 else "holdout"
        value = float("nan") if index == 7 else 0.5 + index / 40
        evaluations.append(
            tracker.track_evaluation(
                {"accuracy": value, "log_loss": 1.0 - index / 20},
                computed_by=model,
                on_dataset=data,
                procedure=procedure,
            )
        )
        models.append(model)
    run = tracker.track_training(name="fit", trained_on=iris)
    run.log("loss", 0.5, step=1)
    run.finish(model=models[0])
    return {
        "dataset": iris.id,
        "evaluation": evaluations[3].id,
        "other_evaluation": evaluations[5].id,
        "far_evaluation": evaluations[4].id,
        "model": models[0].id,
        "other_model": models[5].id,
    }


@pytest.fixture
def served(start_server, tmp_path: Path):
    """(embedded tracker, tracker over REST through a forwarder that lists its requests, the forwarder, the ids)."""
    uri = f"sqlite:///{tmp_path}/store.db"
    with mt.connect(uri) as writer:
        ids = _history(writer)
    server = start_server(uri)
    forwarder = LossyProxy(server.port)
    embedded, remote = mt.connect(uri), mt.connect(forwarder.url)
    yield embedded, remote, forwarder, ids
    remote.close()
    embedded.close()
    forwarder.close()


def _same(a: object, b: object) -> bool:
    """Equal leaderboards (ordered): compared by repr, as an evaluation's NaN score is not equal to itself."""
    return repr(a) == repr(b)


def _requests(forwarder: LossyProxy) -> list[str]:
    return [line.split()[1].split("?")[0] for line in forwarder.seen]


def test_leaderboards_are_ranked_by_the_server_and_equal_the_embedded_ones(served) -> None:
    embedded, remote, forwarder, ids = served
    pages = ({"limit": 3}, {"limit": 2, "offset": 2}, {"offset": 3}, {"limit": 2, "offset": 50})
    for arguments in ({}, {"procedure": "holdout"}, *pages, {"procedure": "none such"}):
        forwarder.seen.clear()
        board = remote.leaderboard(ids["dataset"], "accuracy", **arguments)
        assert _same(board, embedded.leaderboard(ids["dataset"], "accuracy", **arguments))
        assert Counter(path.split("/")[-1] for path in _requests(forwarder)) <= Counter({"leaderboard": 1, "lookup": 1})
    board = remote.leaderboard(ids["dataset"], "log_loss")
    assert not board.greater_is_better and _same(board, embedded.leaderboard(ids["dataset"], "log_loss"))
    assert any("not a finite number" in reason for _, reason in remote.leaderboard(ids["dataset"], "accuracy").excluded)


def test_lineage_comparability_and_diff_come_from_the_server(served) -> None:
    embedded, remote, forwarder, ids = served
    for root, direction, depth in (
        (ids["evaluation"], "upstream", None),
        (ids["dataset"], "downstream", None),
        (ids["dataset"], "downstream", 1),
        (ids["model"], "upstream", 0),
    ):
        forwarder.seen.clear()
        assert remote.lineage(root, direction, depth) == embedded.lineage(root, direction, depth)
        assert len(forwarder.seen) <= 2  # the walk and one read of its nodes, whatever the depth
    for a, b, metric in (
        (ids["evaluation"], ids["other_evaluation"], None),
        (ids["evaluation"], ids["far_evaluation"], "accuracy"),
        (ids["evaluation"], ids["other_evaluation"], "f1"),
    ):
        assert remote.comparable(a, b, metric) == embedded.comparable(a, b, metric)
    forwarder.seen.clear()
    difference = remote.diff(ids["model"], ids["other_model"])
    assert difference == embedded.diff(ids["model"], ids["other_model"])
    assert difference.hyperparameters and difference.transforms and len(forwarder.seen) <= 2


def test_the_server_answers_errors_of_the_same_types(served) -> None:
    embedded, remote, _, ids = served
    for tracker in (embedded, remote):
        with pytest.raises(NotFoundError):
            tracker.leaderboard("no-such-dataset", "accuracy")
        with pytest.raises(NotFoundError):
            tracker.leaderboard(ids["model"], "accuracy")  # a model, not a dataset
        with pytest.raises(NotFoundError):
            tracker.lineage("a/b")
        with pytest.raises(NotFoundError):
            tracker.diff(ids["model"], ids["dataset"])
        with pytest.raises(NotFoundError):
            tracker.comparable(ids["evaluation"], "no-such-evaluation")
        with pytest.raises(SchemaError):
            tracker.lineage(ids["model"], "sideways")  # type: ignore[arg-type]
        with pytest.raises(SchemaError):
            tracker.leaderboard(ids["dataset"], "accuracy", limit=0)
        with pytest.raises(SchemaError):
            tracker.leaderboard(ids["dataset"], "accuracy", offset=-1)
