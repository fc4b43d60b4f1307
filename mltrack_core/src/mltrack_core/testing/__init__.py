"""The contract test suite every storage backend must pass.

A backend's tests subclass :class:`StoreContract` and provide a function-scoped
``store_uri`` fixture naming a fresh, empty store::

    from mltrack_core.testing import StoreContract

    class TestMyBackend(StoreContract):
        @pytest.fixture
        def store_uri(self, tmp_path):
            return f"mystore://{tmp_path}/store"

The suite goes through the public tracker API, so it checks the tracker's
rules and the backend together: write-once entities, atomic writes, enforced
lineage, queries, leaderboards, and the training run's life cycle.
Requires pytest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from mltrack_core import (
    ConflictError,
    DanglingReferenceError,
    Dataset,
    Model,
    Parameter,
    RunStateError,
    SchemaError,
    Score,
    ScoreAtTime,
    TrainingRun,
    TrainingState,
    Transform,
    TypedColumn,
    TypeHint,
    connect,
    hookimpl,
)
from mltrack_core.errors import NotFoundError
from mltrack_core.store import BaseStore, Point, Query, record_of
from mltrack_core.tracker import Tracker

__all__ = ["StoreContract", "sample_experiment"]


def sample_experiment(tracker: Tracker) -> dict[str, object]:
    """Record one entity of every kind with its lineage; return them by role."""
    full = tracker.track_dataset(
        name="iris", location="file:///data/iris.csv", fingerprint="sha256:iris-full", tags={"source": "uci"}
    )
    train = tracker.track_dataset(
        name="iris-train", derived_from=[full], fingerprint="sha256:iris-train", target="species"
    )
    test = tracker.track_dataset(
        name="iris-test", derived_from=[full], fingerprint="sha256:iris-test", target="species"
    )
    scaler = tracker.track_transform(
        name="scaler", operator="StandardScaler", output=[TypedColumn(name="x0", typing=TypeHint.DOUBLE)]
    )
    classifier = tracker.track_transform(name="classifier", operator="LogisticRegression", input_transforms=[scaler])
    model = tracker.track_model(
        name="iris-lr",
        learning_algorithm="LogisticRegression",
        trained_on=train,
        transforms=[scaler, classifier],
        hyperparameters=[Parameter.of("C", 0.5, default=1.0)],
    )
    run = tracker.track_training(name="iris-lr fit", trained_on=train)
    for epoch in range(3):
        run.log("loss", 1.0 / (epoch + 1), epoch=epoch)
    finished = run.finish(model)
    prediction = tracker.track_prediction(computed_by=model, on_dataset=test, location="file:///out/pred.csv")
    evaluation = tracker.track_evaluation(
        {"accuracy": 0.93, "log_loss": 0.2},
        computed_by=model,
        on_dataset=test,
        for_prediction=prediction,
        procedure="holdout",
        confusion_matrix={"labels": ["a", "b"], "matrix": [[5, 1], [0, 4]]},
    )
    return {
        "full": full,
        "train": train,
        "test": test,
        "scaler": scaler,
        "classifier": classifier,
        "model": model,
        "run": finished,
        "prediction": prediction,
        "evaluation": evaluation,
    }


def _imported_run() -> tuple[Dataset, TrainingRun]:
    """A dataset and a finished run trained on it, with its points, as an importer brings them."""
    dataset = Dataset(name="imported")
    run = TrainingRun(
        name="imported fit",
        trained_on=dataset.id,
        state=TrainingState.FINISHED,
        start_time=1_000,
        end_time=5_000,
        scores_over_time=(
            ScoreAtTime(metric="loss", value=0.5, timestamp=2_000, step=0),
            ScoreAtTime(metric="loss", value=math.nan, timestamp=3_000, step=1),
        ),
    )
    return dataset, run


class StoreContract:
    """Tests every backend must pass; subclasses provide the ``store_uri`` fixture."""

    @pytest.fixture
    def tracker(self, store_uri: str, tmp_path) -> Iterator[Tracker]:  # noqa: ANN001
        tracker = connect(store_uri, creator="tester", artifacts=tmp_path / "artifacts")
        yield tracker
        tracker.close()

    # ------------------------------------------------------------ storing and reading

    def test_every_kind_round_trips(self, tracker: Tracker) -> None:
        recorded = sample_experiment(tracker)
        for entity in recorded.values():
            stored = tracker.get(entity.id)  # type: ignore[attr-defined]
            if entity.KIND == "run":  # type: ignore[attr-defined]
                assert [point.value for point in stored.scores_over_time] == [1.0, 0.5, 1.0 / 3]
                stored = dataclasses.replace(stored, scores_over_time=())
            assert stored == entity

    def test_unknown_ids_are_not_found(self, tracker: Tracker) -> None:
        assert tracker.get_many(["nope"]) == {}
        with pytest.raises(NotFoundError, match="nope"):
            tracker.get("nope")

    def test_recreating_identical_content_is_a_no_op(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="d", location="file:///d.csv")
        again = dataclasses.replace(dataset, creation_time=dataset.creation_time + 5000)
        assert tracker.track_dataset(again) == dataset
        assert tracker.count("dataset") == 1

    def test_rewriting_an_id_with_other_content_is_refused_and_changes_nothing(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="d", location="file:///d.csv")
        with pytest.raises(ConflictError, match=dataset.id):
            tracker.track_dataset(dataclasses.replace(dataset, location="file:///other.csv"))
        assert tracker.get(dataset.id) == dataset

    def test_references_to_unknown_ids_are_refused_with_the_id(self, tracker: Tracker) -> None:
        with pytest.raises(DanglingReferenceError, match="ds-missing"):
            tracker.track_model(Model(name="m", learning_algorithm="lr", trained_on="ds-missing"))
        assert tracker.count() == 0

    def test_references_to_the_wrong_kind_are_refused(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="d")
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        with pytest.raises(DanglingReferenceError, match="is a dataset, not a model"):
            tracker.track_evaluation({"accuracy": 1.0}, computed_by=dataset.id, on_dataset=dataset)
        with pytest.raises(DanglingReferenceError, match="is a model, not a dataset"):
            tracker.track_evaluation({"accuracy": 1.0}, computed_by=model, on_dataset=model.id)

    def test_a_failed_write_leaves_nothing_behind(self, tracker: Tracker) -> None:
        transform = Transform(name="scaler")
        broken = Model(name="m", learning_algorithm="lr", trained_on="ds-missing", transforms=[transform.id])
        with pytest.raises(DanglingReferenceError):
            tracker.restore([transform, broken])
        assert tracker.count() == 0
        dataset = tracker.track_dataset(name="d")
        taken = tracker.track_dataset(name="taken")
        conflicting = dataclasses.replace(taken, name="changed")
        with pytest.raises(ConflictError):
            tracker.restore([Dataset(name="new", derived_from=[dataset]), conflicting])
        assert {entity.name for entity in tracker.find("dataset")} == {"d", "taken"}

    def test_references_may_point_into_the_same_write(self, tracker: Tracker) -> None:
        dataset = Dataset(name="d")
        transform = Transform(name="t")
        model = Model(name="m", learning_algorithm="lr", trained_on=dataset.id, transforms=[transform.id])
        assert [entity.id for entity in tracker.restore([model, transform, dataset])] == [
            model.id,
            transform.id,
            dataset.id,
        ]
        assert tracker.count() == 3

    def test_parameter_values_of_any_size_are_stored_whole(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="d")
        huge = "x" * 2_000_000
        vocabulary = {f"word{i}": i for i in range(20_000)}
        model = tracker.track_model(
            name="m",
            learning_algorithm="lr",
            trained_on=dataset,
            hyperparameters=[Parameter(name="pattern", value=huge), Parameter(name="vocabulary", value=vocabulary)],
        )
        stored = tracker.get(model.id)
        assert stored.hyperparameters[0].value == huge
        assert stored.hyperparameters[1].value == vocabulary

    def test_text_outside_ascii_is_kept(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="Müller-数据 ✓", annotations={"note": "naïve — ok"})
        assert tracker.get(dataset.id).name == "Müller-数据 ✓"
        assert tracker.find("dataset", name="Müller-数据 ✓")[0].annotations["note"] == "naïve — ok"

    # ------------------------------------------------------------ queries

    def test_find_filters_and_pages_newest_first(self, tracker: Tracker) -> None:
        recorded = sample_experiment(tracker)
        with tracker.experiment("other"):
            other = tracker.track_dataset(name="other", tags={"source": "kaggle"}, annotations={"owner": "ana"})
        assert [d.name for d in tracker.find("dataset")] == ["other", "iris-test", "iris-train", "iris"]
        assert [d.name for d in tracker.find("dataset", limit=2, offset=1)] == ["iris-test", "iris-train"]
        assert tracker.find("dataset", experiment="other") == [other]
        assert tracker.find(tags={"source": "uci"}) == [recorded["full"]]
        assert tracker.find("dataset", annotations={"owner": "ana"}) == [other]
        assert tracker.find("dataset", fingerprint="sha256:iris-train") == [recorded["train"]]
        assert tracker.find("model", trained_on=recorded["train"]) == [recorded["model"]]
        assert {d.name for d in tracker.find("dataset", derived_from=recorded["full"])} == {"iris-train", "iris-test"}
        assert tracker.find("evaluation", for_prediction=recorded["prediction"]) == [recorded["evaluation"]]
        assert [r.id for r in tracker.find("run", state=TrainingState.FINISHED)] == [recorded["run"].id]
        assert tracker.find("run", for_model=recorded["model"])[0].id == recorded["run"].id
        assert tracker.count("dataset") == 4 and tracker.count() == 10
        assert tracker.count("dataset", name="nope") == 0

    def test_find_by_creation_time(self, tracker: Tracker) -> None:
        first = tracker.track_dataset(Dataset(name="old", creation_time=1_000))
        second = tracker.track_dataset(Dataset(name="new", creation_time=2_000))
        assert tracker.find("dataset", created_after=1_000) == [second]
        assert tracker.find("dataset", created_before=2_000) == [first]

    def test_lineage_upstream_and_downstream(self, tracker: Tracker) -> None:
        recorded = sample_experiment(tracker)
        upstream = tracker.lineage(recorded["evaluation"])
        assert {e.id for e in upstream.of_kind("dataset")} == {recorded[k].id for k in ("full", "train", "test")}
        assert {e.id for e in upstream.of_kind("transform")} == {recorded["scaler"].id, recorded["classifier"].id}
        assert upstream.of_kind("model") == [recorded["model"]]
        one_step = tracker.lineage(recorded["evaluation"], depth=1)
        assert {e.KIND for e in one_step.nodes.values()} == {"evaluation", "model", "dataset", "prediction"}
        downstream = tracker.lineage(recorded["full"], "downstream")
        assert recorded["evaluation"].id in downstream.nodes and recorded["run"].id in downstream.nodes
        assert tracker.store.links([recorded["model"].id], "out")  # raw edges are exposed too

    # ------------------------------------------------------------ comparability and leaderboards

    def test_comparable_needs_same_data_metric_and_procedure(self, tracker: Tracker) -> None:
        recorded = sample_experiment(tracker)
        model, test = recorded["model"], recorded["test"]
        copy_of_test = tracker.track_dataset(name="renamed copy", fingerprint=test.fingerprint, target="species")
        same = tracker.track_evaluation(
            {"accuracy": 0.9}, computed_by=model, on_dataset=copy_of_test, procedure="holdout"
        )
        assert tracker.comparable(recorded["evaluation"], same)
        other_data = tracker.track_evaluation(
            {"accuracy": 0.9}, computed_by=model, on_dataset=recorded["train"], procedure="holdout"
        )
        answer = tracker.comparable(recorded["evaluation"], other_data)
        assert not answer and "different data" in answer.reasons[0]
        cross_validated = tracker.track_evaluation({"f1": 0.9}, computed_by=model, on_dataset=test, procedure="10-fold")
        answer = tracker.comparable(recorded["evaluation"], cross_validated)
        assert len(answer.reasons) == 2 and "no metric in common" in answer.reasons[0]

    def test_leaderboard_ranks_comparable_evaluations_best_first(self, tracker: Tracker) -> None:
        recorded = sample_experiment(tracker)
        model, test = recorded["model"], recorded["test"]
        copy_of_test = tracker.track_dataset(name="copy", fingerprint=test.fingerprint, target="species")
        better = tracker.track_evaluation(
            {"accuracy": 0.97, "log_loss": 0.1}, computed_by=model, on_dataset=copy_of_test, procedure="holdout"
        )
        tracker.track_evaluation({"accuracy": 0.99}, computed_by=model, on_dataset=test, procedure="3-fold")
        board = tracker.leaderboard(test, "accuracy")
        assert [entry.evaluation.id for entry in board.entries] == [better.id, recorded["evaluation"].id]
        assert board.procedure == "holdout" and len(board.excluded) == 1
        losses = tracker.leaderboard(test, "log_loss")
        assert not losses.greater_is_better and [e.value for e in losses.entries] == [0.1, 0.2]
        assert tracker.leaderboard(test, "accuracy", procedure="3-fold").entries[0].value == 0.99
        assert tracker.leaderboard(recorded["train"], "accuracy").entries == ()

    def test_a_score_can_state_its_direction(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="d")
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        for value in (3.0, 1.0, 2.0):
            tracker.track_evaluation(
                [Score(metric="custom", value=value, greater_is_better=False)], computed_by=model, on_dataset=dataset
            )
        assert [entry.value for entry in tracker.leaderboard(dataset, "custom").entries] == [1.0, 2.0, 3.0]

    def test_leaderboard_pages_and_exclusions_agree_with_a_scan_of_every_evaluation(self, tracker: Tracker) -> None:
        from mltrack_core.lineage import EXCLUSIONS_LISTED, rank

        fingerprint = "sha256:" + "cd" * 32
        data = [
            tracker.track_dataset(name="a", target="y", fingerprint=fingerprint),
            tracker.track_dataset(name="b", target="y", fingerprint=fingerprint),
            tracker.track_dataset(name="c", target="z", fingerprint=fingerprint),
            tracker.track_dataset(name="d", target="y"),
        ]
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=data[0])
        generator = random.Random(11)
        odd_values = (float("nan"), float("inf"), None, "high", [0.1, 0.2])
        evaluations = 2 * EXCLUSIONS_LISTED + 40
        for index in range(evaluations):
            value = odd_values[index % 5] if index % 7 == 0 else round(generator.random(), 1)  # ties
            scores = [Score(metric="accuracy", value=value, greater_is_better=False if index % 11 == 0 else None)]
            procedure = (None, "holdout", "holdout", "5-fold")[index % 4]
            tracker.track_evaluation(scores, computed_by=model, on_dataset=data[index % 4], procedure=procedure)
        for arguments in (
            {},
            {"procedure": "5-fold"},
            {"procedure": None, "limit": 5, "offset": 3},
            {"limit": 7, "offset": 10},
            {"offset": 1_000},
        ):
            kept = tracker.leaderboard(data[1], "accuracy", **arguments)  # type: ignore[arg-type]
            scanned = rank(
                tracker, data[1].id, "accuracy", **{"procedure": None, "limit": None, **arguments}, scan=True
            )
            assert repr(kept) == repr(scanned)  # repr: a NaN score is not equal to itself
        board = tracker.leaderboard(data[0], "accuracy")
        assert len(board.excluded) == EXCLUSIONS_LISTED < board.excluded_total
        assert board.total + board.excluded_total == evaluations - evaluations // 4  # all but those of d

    # ------------------------------------------------------------ training runs

    def test_a_run_streams_points_in_order_and_ends_once(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="d")
        run = tracker.track_training(name="fit", trained_on=dataset, hyperparameters=[Parameter.of("lr", 0.1)])
        for step in range(2_000):
            run.log("loss", 1.0 / (step + 1), epoch=step // 100, step=step)
        assert run.flush()
        points = tracker.points(run.id)
        assert [point.step for point in points] == list(range(2_000))
        assert points[10] == Point(run.id, "loss", 1.0 / 11, 0, 10, points[10].timestamp)
        assert tracker.get(run.id).state is TrainingState.TRAINING
        model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
        ended = run.finish(model)
        assert ended.state is TrainingState.FINISHED and ended.for_model == model.id and ended.end_time
        with pytest.raises(RunStateError):
            run.finish()
        with pytest.raises(RunStateError):
            run.log("loss", 0.0)
        with pytest.raises(RunStateError):
            tracker.store.append_points([Point(run.id, "loss", 0.0, None, None, 1)])
        assert len(tracker.get(run.id).scores_over_time) == 2_000

    def test_points_keep_nan_and_infinities(self, tracker: Tracker) -> None:
        run = tracker.track_training(name="diverged")
        for value in (1.0, float("nan"), float("inf"), float("-inf")):
            run.log("loss", value, epoch=2**63 - 1)
        run.finish()
        values = [point.value for point in tracker.points(run.id)]
        assert values[0] == 1.0 and math.isnan(values[1]) and values[2:] == [math.inf, -math.inf]
        assert tracker.points(run.id)[0].epoch == 2**63 - 1

    def test_a_failing_training_marks_the_run_failed(self, tracker: Tracker) -> None:
        runs = []

        def train() -> None:
            with tracker.track_training(name="doomed") as run:
                runs.append(run)
                run.log("loss", 1.0)
                raise ZeroDivisionError("division by zero")

        with pytest.raises(ZeroDivisionError):
            train()
        stored = tracker.get(runs[0].id)
        assert stored.state is TrainingState.FAILED
        assert "ZeroDivisionError" in stored.annotations["mltrack.failure"]
        assert [point.value for point in stored.scores_over_time] == [1.0]

    def test_a_run_can_only_fill_in_what_it_started_without(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="d")
        run = tracker.track_training(name="fit", hyperparameters=[Parameter.of("lr", 0.1)])
        with pytest.raises(RunStateError, match="hyperparameters"):
            run.finish(hyperparameters=[Parameter.of("lr", 0.2)])
        ended = run.finish(trained_on=dataset, annotations={"note": "late"})
        assert ended.trained_on == dataset.id and ended.annotations["note"] == "late"
        assert tracker.find("run", trained_on=dataset)[0].id == run.id

    def test_several_threads_write_at_once(self, tracker: Tracker) -> None:
        dataset = tracker.track_dataset(name="shared")
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for index in range(25):
                    tracker.track_model(name=f"m{worker}-{index}", learning_algorithm="lr", trained_on=dataset)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and tracker.count("model") == 150

    # ------------------------------------------------------------ exactly once

    def test_a_batch_sent_again_is_appended_once_whatever_its_points(self, tracker: Tracker) -> None:
        run = tracker.track_training(name="fit")
        first = [Point(run.id, "loss", 1.0, 0, 0, 1_000), Point(run.id, "loss", 0.5, 0, 1, 1_001)]
        assert tracker.store.append_points(first, batch_id="batch-1") is True
        assert tracker.store.append_points(first, batch_id="batch-1") is False  # a retry after a lost answer
        assert tracker.store.append_points([Point(run.id, "acc", 0.9, 0, 2, 1_002)], batch_id="batch-1") is False
        assert tracker.points(run.id) == first

    def test_batches_with_other_ids_or_without_one_are_all_appended(self, tracker: Tracker) -> None:
        run = tracker.track_training(name="fit")
        point = Point(run.id, "loss", 1.0, None, None, 1_000)
        for batch_id in ("batch-1", "batch-2", None, None):
            assert tracker.store.append_points([point], batch_id=batch_id) is True
        assert tracker.points(run.id) == [point] * 4

    def test_a_refused_batch_leaves_its_id_unused(self, tracker: Tracker) -> None:
        run = tracker.track_training(name="fit")
        point = Point(run.id, "loss", 1.0, None, None, 1_000)
        with pytest.raises(NotFoundError, match="run-unknown"):
            tracker.store.append_points([point, Point("run-unknown", "loss", 1.0, None, None, 1_000)], batch_id="b-1")
        assert tracker.store.append_points([point], batch_id="b-1") is True
        assert tracker.points(run.id) == [point]

    def test_a_batch_of_several_runs_stays_applied_while_one_of_them_trains(self, tracker: Tracker) -> None:
        first, second = tracker.track_training(name="first"), tracker.track_training(name="second")
        batch = [Point(first.id, "loss", 1.0, None, 0, 1_000), Point(second.id, "loss", 2.0, None, 0, 1_000)]
        tracker.store.append_points(batch, batch_id="both")
        first.finish()
        # a writer told that the first run ended sends the second run's part again, under the same id
        assert tracker.store.append_points(batch[1:], batch_id="both") is False
        second.finish()
        with contextlib.suppress(RunStateError):  # every run has ended: a store may have forgotten the id
            tracker.store.append_points(batch[1:], batch_id="both")
        assert tracker.points(first.id) == batch[:1] and tracker.points(second.id) == batch[1:]

    def test_a_batch_id_that_is_not_an_id_is_refused(self, tracker: Tracker) -> None:
        run = tracker.track_training(name="fit")
        with pytest.raises(SchemaError, match="batch id"):
            tracker.store.append_points([Point(run.id, "loss", 1.0, None, None, 1_000)], batch_id="a/b")
        assert tracker.points(run.id) == []

    def test_an_ended_run_is_restored_with_its_points_once(self, tracker: Tracker) -> None:
        dataset, run = _imported_run()
        assert [entity.id for entity in tracker.restore([dataset, run])] == [dataset.id, run.id]
        assert tracker.restore([dataset, run]) == []  # importing again changes nothing
        stored = tracker.get(run.id)
        assert stored.state is TrainingState.FINISHED and stored.end_time == run.end_time
        assert [(p.metric, p.step) for p in stored.scores_over_time] == [("loss", 0), ("loss", 1)]
        assert math.isnan(stored.scores_over_time[1].value)

    def test_points_written_with_entities_must_belong_to_a_run_among_them(self, tracker: Tracker) -> None:
        dataset = Dataset(name="d")
        with pytest.raises(SchemaError, match="run-elsewhere"):
            tracker.store.put([record_of(dataset)], [Point("run-elsewhere", "loss", 1.0, None, None, 1_000)])
        assert tracker.count() == 0

    def test_an_import_cut_short_by_a_crash_leaves_nothing_and_runs_again(
        self, tracker: Tracker, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if not isinstance(tracker.store, BaseStore):
            pytest.skip("a fault is injected into BaseStore's primitives; REST is tested against its server's store")

        class Crash(Exception):
            pass

        def crash(*_: object) -> None:
            raise Crash  # the process dies while the run's points are being written

        dataset, run = _imported_run()
        monkeypatch.setattr(tracker.store, "_insert_points", crash)
        with pytest.raises(Crash):
            tracker.restore([dataset, run])
        monkeypatch.undo()
        assert tracker.count() == 0  # all or nothing: no run left TRAINING to block the next import
        assert [entity.id for entity in tracker.restore([dataset, run])] == [dataset.id, run.id]
        assert tracker.get(run.id).state is TrainingState.FINISHED
        assert len(tracker.points(run.id)) == 2

    def test_the_store_answers_raw_queries(self, tracker: Tracker) -> None:
        recorded = sample_experiment(tracker)
        assert tracker.store.find(Query(kind="model")) == [recorded["model"].id]
        assert tracker.store.count(Query(links=(("on_dataset", recorded["test"].id),))) == 2
        assert tracker.store.scores([recorded["test"].id], "accuracy") == [(recorded["evaluation"].id, 0.93)]

    def test_observers_see_new_entities_and_points(self, tracker: Tracker) -> None:
        seen: list[str] = []

        class Observer:
            @hookimpl
            def mltrack_entities_stored(self, entities) -> None:  # noqa: ANN001
                seen.extend(entity.KIND for entity in entities)

            @hookimpl
            def mltrack_points_appended(self, points) -> None:  # noqa: ANN001
                seen.extend(point[1] for point in points)

        tracker.plugins.register(Observer(), name="test-observer")
        dataset = tracker.track_dataset(name="d")
        tracker.track_dataset(dataset)  # a no-op re-write is not announced
        with tracker.track_training(name="r") as run:
            run.log("loss", 1.0)
            run.flush()
        deadline = time.monotonic() + 5
        while "loss" not in seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == ["dataset", "run", "loss"]

    def test_tracking_emits_no_warning(self, tracker: Tracker) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sample_experiment(tracker)

    # ------------------------------------------------------------ orders

    def test_find_orders_by_creation_and_by_name(self, tracker: Tracker) -> None:
        for name, created in (("b", 3_000), ("a", 1_000), (None, 2_000), ("c", 2_000), ("a", 2_000)):
            tracker.restore(
                [TrainingRun(name=name, creation_time=created, state=TrainingState.FINISHED, start_time=1, end_time=2)]
            )

        def names_and_times(order: str) -> list[tuple[str | None, int]]:
            return [(run.name, run.creation_time) for run in tracker.find("run", order=order)]

        assert names_and_times("-created") == [("b", 3_000), ("a", 2_000), ("c", 2_000), (None, 2_000), ("a", 1_000)]
        assert names_and_times("created") == [("a", 1_000), (None, 2_000), ("c", 2_000), ("a", 2_000), ("b", 3_000)]
        # names by code point, unnamed last, equal names newest first
        assert names_and_times("name") == [("a", 2_000), ("a", 1_000), ("b", 3_000), ("c", 2_000), (None, 2_000)]
        assert names_and_times("-name") == [("c", 2_000), ("b", 3_000), ("a", 2_000), ("a", 1_000), (None, 2_000)]
        assert [run.name for run in tracker.find("run", order="name", limit=2, offset=1)] == ["a", "b"]
        assert tracker.count("run", order="name") == 5
        with pytest.raises(SchemaError, match="-created, created, name, -name"):
            tracker.find("run", order="size")

    def test_names_order_by_code_point(self, tracker: Tracker) -> None:
        names = ["Zeta", "alpha", "Ärger", "zebra", "_x", "9", "é", "数据"]
        for name in names:
            tracker.track_dataset(name=name)
        assert [d.name for d in tracker.find("dataset", order="name")] == sorted(names)
        assert [d.name for d in tracker.find("dataset", order="-name")] == sorted(names, reverse=True)

    # ------------------------------------------------------------ metric histories

    def _run_with_points(self, tracker: Tracker, points: list[tuple], *, finish: bool = True) -> str:
        """A run holding ``points`` ((metric, value, epoch, step) in append order, timestamps 1000, 1001, ...)."""
        run = tracker.track_training(name="curves")
        rows = [
            Point(run.id, metric, value, epoch, step, 1_000 + i)
            for i, (metric, value, epoch, step) in enumerate(points)
        ]
        for first in range(0, len(rows), 20_000):
            tracker.store.append_points(rows[first : first + 20_000])
        if finish:
            run.finish()
        return run.id

    def test_a_long_series_is_downsampled_keeping_its_spikes(self, tracker: Tracker) -> None:
        points = [("loss", 1.0 / (step + 1), step // 100, step) for step in range(5_000)]
        points[3_210] = ("loss", 40.0, 32, 3_210)  # one spike up, one down
        points[4_321] = ("loss", -3.0, 43, 4_321)
        points += [("accuracy", step / 5_000, step // 100, step) for step in range(5_000)]
        run_id = self._run_with_points(tracker, points)
        series = tracker.series(run_id, "loss", max_points=100)
        assert series.total == 5_000 and series.downsampled and series.ended and series.axis == "step"
        assert 50 <= len(series.x) <= 100 and len(series.x) == len(series.y)
        assert series.x == sorted(series.x) and series.x[0] == 0
        kept = set(zip(series.x, series.y, strict=True))
        assert (3_210, 40.0) in kept and (4_321, -3.0) in kept
        assert max(series.y) == 40.0 and min(series.y) == -3.0
        whole = tracker.series(run_id, "loss", max_points=10_000)
        assert not whole.downsampled and whole.x == list(range(5_000)) and whole.y[3_210] == 40.0

    def test_a_series_can_be_zoomed_and_read_along_epochs_or_time(self, tracker: Tracker) -> None:
        points = [("loss", float(step % 7), step // 10, step) for step in range(1_000)]
        run_id = self._run_with_points(tracker, points)
        zoomed = tracker.series(run_id, "loss", start=100, end=199, max_points=1_000)
        assert zoomed.total == 100 and zoomed.x == list(range(100, 200)) and not zoomed.downsampled
        assert (zoomed.start, zoomed.end) == (100, 199)
        assert zoomed.y == [float(step % 7) for step in range(100, 200)]
        by_epoch = tracker.series(run_id, "loss", axis="epoch", start=5, end=6, max_points=1_000)
        assert by_epoch.total == 20 and by_epoch.x == [5] * 10 + [6] * 10
        assert by_epoch.y == [float(step % 7) for step in range(50, 70)]  # equal x keep their append order
        by_time = tracker.series(run_id, "loss", axis="time", end=1_004)
        assert by_time.x == [1_000, 1_001, 1_002, 1_003, 1_004]
        assert tracker.series(run_id, "loss", start=2_000).total == 0

    def test_points_without_a_step_sit_at_their_position_and_without_an_epoch_are_left_out(
        self, tracker: Tracker
    ) -> None:
        points = [("loss", 0.5, None, None), ("other", 9.0, None, None), ("loss", 0.4, 1, None), ("loss", 0.3, 1, 10)]
        run_id = self._run_with_points(tracker, points)
        series = tracker.series(run_id, "loss")
        assert series.x == [0, 1, 10] and series.y == [0.5, 0.4, 0.3]
        assert tracker.series(run_id, "loss", axis="epoch").x == [1, 1]

    def test_nan_and_infinities_are_gaps_that_never_break_the_extremes(self, tracker: Tracker) -> None:
        values = [float(step % 10) for step in range(2_000)]
        for step in (10, 11, 1_500):
            values[step] = math.nan
        values[700], values[701] = math.inf, -math.inf
        values[1_600:1_700] = [math.nan] * 100  # the training diverged for a while
        run_id = self._run_with_points(tracker, [("loss", value, None, step) for step, value in enumerate(values)])
        small = tracker.series(run_id, "loss", start=0, end=20)
        assert small.y[10] is None and small.y[11] is None and small.y[12] == 2.0
        series = tracker.series(run_id, "loss", max_points=200)
        assert len(series.x) <= 200 and series.total == 2_000
        finite = [value for value in series.y if value is not None]
        assert min(finite) == 0.0 and max(finite) == 9.0  # no NaN or infinity entered a minimum or maximum
        gaps = [x for x, value in zip(series.x, series.y, strict=True) if value is None]
        assert 10 in gaps and 700 in gaps and 1_500 in gaps and any(1_600 <= x < 1_700 for x in gaps)
        assert len(tracker.series(run_id, "loss", max_points=2).x) <= 2

    def test_every_store_downsamples_as_the_reference_does(self, tracker: Tracker) -> None:
        from mltrack_core.series import series_of_points

        values = [math.sin(step / 50) + (step % 13) / 10 for step in range(3_000)]
        values[77], values[2_222] = math.nan, math.inf
        points = [("loss", value, step // 300, step if step % 1_000 else step + 1) for step, value in enumerate(values)]
        points += [("acc", value / 2, None, None) for value in values[:1_500]]
        run_id = self._run_with_points(tracker, points)
        stored = tracker.points(run_id)
        for metric, axis, start, end, max_points in (
            ("loss", "step", None, None, 100),
            ("loss", "step", 123, 2_345, 77),
            ("loss", "epoch", None, 7, 9),
            ("loss", "time", 1_500, None, 1_000),
            ("acc", "step", None, None, 50),
            ("acc", "time", 1_100, 2_000, 3),
        ):
            expected = series_of_points(stored, metric, axis, start, end, max_points)
            found = tracker.series(run_id, metric, axis=axis, start=start, end=end, max_points=max_points)
            assert (found.total, found.x, found.y, found.downsampled) == expected, (metric, axis, start, end)

    def test_steps_and_epochs_up_to_the_largest_count(self, tracker: Tracker) -> None:
        from mltrack_core.series import series_of_points

        largest = 2**63 - 1
        points = [("loss", float(i), largest if i % 2 else 0, largest - i if i % 3 else i) for i in range(30)]
        run_id = self._run_with_points(tracker, points)
        stored = tracker.points(run_id)
        for axis, start, max_points in (("step", None, 4), ("step", largest - 20, 5), ("epoch", None, 3)):
            expected = series_of_points(stored, "loss", axis, start, None, max_points)
            found = tracker.series(run_id, "loss", axis=axis, start=start, max_points=max_points)
            assert (found.total, found.x, found.y, found.downsampled) == expected, (axis, start)

    def test_series_of_unknown_runs_and_metrics(self, tracker: Tracker) -> None:
        run_id = self._run_with_points(tracker, [("loss", 1.0, None, 0)])
        empty = tracker.series(run_id, "no such metric")
        assert (empty.total, empty.x, empty.y, empty.downsampled) == (0, [], [], False)
        with pytest.raises(NotFoundError, match="run-unknown"):
            tracker.series("run-unknown", "loss")
        for arguments in ({"axis": "wall"}, {"max_points": 1}, {"max_points": 10_001}, {"start": 5, "end": 4}):
            with pytest.raises(SchemaError):
                tracker.series(run_id, "loss", **arguments)

    def test_metric_summaries_of_many_runs_in_one_call(self, tracker: Tracker) -> None:
        first = self._run_with_points(
            tracker,
            [
                ("loss", math.nan, 0, 0),
                ("loss", 0.5, 0, 1),
                ("accuracy", 0.7, 0, 1),
                ("loss", 0.25, 1, 2),
                ("accuracy", 0.9, 1, 2),
                ("loss", 2.0, 1, 3),
                ("accuracy", math.inf, 2, 3),
            ],
        )
        second = self._run_with_points(tracker, [("loss", 1.5, None, None)], finish=False)
        silent = self._run_with_points(tracker, [])
        dataset = tracker.track_dataset(name="not a run")
        found = tracker.metric_summaries([second, first, "run-unknown", dataset.id, silent])
        assert list(found) == [second, first, silent] and found[silent] == {}
        loss = found[first]["loss"]
        assert (loss.count, loss.last, loss.minimum, loss.maximum, loss.best) == (4, 2.0, 0.25, 2.0, 0.25)
        assert math.isnan(loss.first) and not loss.greater_is_better
        assert (loss.last_step, loss.last_epoch, loss.last_timestamp) == (3, 1, 1_005)
        accuracy = found[first]["accuracy"]
        assert accuracy.greater_is_better and accuracy.best == accuracy.maximum == 0.9 and accuracy.last == math.inf
        assert found[second]["loss"].count == 1 and found[second]["loss"].last_step is None
        only_loss = tracker.metric_summaries([first], ["loss"])
        assert list(only_loss[first]) == ["loss"] and repr(only_loss[first]["loss"]) == repr(loss)
        assert tracker.run_metrics(first) == found[first]
        with pytest.raises(NotFoundError):
            tracker.run_metrics("run-unknown")

    def test_the_summaries_of_an_ended_run_are_those_it_had_while_training(
        self, tracker: Tracker, store_uri: str
    ) -> None:
        points = [("loss", math.nan, 0, 0), ("loss", 3.0, 0, 1), ("acc", 0.5, None, None), ("loss", -math.inf, 1, 2)]
        run_id = self._run_with_points(tracker, points, finish=False)
        while_training = tracker.metric_summaries([run_id])
        ended = dataclasses.replace(tracker.get_run(run_id), state=TrainingState.FAILED, end_time=9_999)
        tracker.end_run(ended)
        fresh = tracker if store_uri.startswith("memory:") else connect(store_uri)  # not this tracker's cache
        try:
            assert repr(fresh.metric_summaries([run_id])) == repr(while_training)
            assert repr(fresh.metric_summaries([run_id], ["acc"])) == repr(
                {run_id: {"acc": while_training[run_id]["acc"]}}
            )
        finally:
            if fresh is not tracker:
                fresh.close()
        dataset, imported = _imported_run()
        tracker.restore([dataset, imported])
        loss = tracker.metric_summaries([imported.id])[imported.id]["loss"]
        assert (loss.count, loss.first, loss.minimum, loss.last_step) == (2, 0.5, 0.5, 1) and math.isnan(loss.last)

    def test_points_since_returns_what_a_live_chart_has_not_drawn(self, tracker: Tracker) -> None:
        run_id = self._run_with_points(tracker, [("loss", float(i), None, i) for i in range(10)], finish=False)
        assert [point.step for point in tracker.points_since(run_id, 7)] == [7, 8, 9]
        assert tracker.points_since(run_id, 10) == [] and tracker.points_since(run_id, 99) == []
        assert tracker.points_since(run_id, 0) == tracker.points(run_id)
        assert tracker.points_since("run-unknown", 0) == []

    def test_points_since_follows_a_growing_run_in_any_order_of_counts(self, tracker: Tracker) -> None:
        """Counts that grow, repeat or shrink (a store may remember where it last answered) all get the right points."""
        run, other = tracker.track_training(name="live"), tracker.track_training(name="interleaved")
        expected: list[Point] = []
        for round_ in range(4):
            batch = [Point(run.id, "loss", float(i), None, i, 1_000 + i) for i in range(10 * round_, 10 * round_ + 10)]
            tracker.store.append_points([*batch, Point(other.id, "loss", 0.0, None, round_, 1_000)])
            expected += batch
            for count in (len(expected) - 10, len(expected) - 3, len(expected), 5, len(expected) - 3, 0):
                assert tracker.points_since(run.id, count) == expected[count:], (round_, count)
        assert tracker.points_since(run.id, 41) == []
        assert tracker.points_since(run.id, 40) == [] and tracker.points_since(run.id, 39) == expected[39:]
        run.finish()
        other.finish()
