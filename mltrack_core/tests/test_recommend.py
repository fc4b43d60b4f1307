"""Recommendations learn from similar datasets' comparable evaluations, say why, and answer an empty history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import mltrack_core as mt
from mltrack_core.cli import main
from mltrack_core.importers.openml import import_openml
from mltrack_core.recommend import Task, configuration_key, configuration_of, task_of

OPENML = Path(__file__).resolve().parent / "fixtures" / "openml"  # the shared OpenML fixtures, vendored
CV = "5-fold cross-validation"

SMALL_BINARY = {"meta.rows": 150, "meta.features": 4, "meta.classes": 2, "meta.landmark.one_nn": 0.95}
LARGE_MULTICLASS = {"meta.rows": 50_000, "meta.features": 300, "meta.classes": 10, "meta.landmark.one_nn": 0.55}


def _dataset(tracker, name, meta, *, fingerprint=None, **fields):
    statistics = [mt.DataStatistic(name=key, value=value) for key, value in meta.items()]
    return tracker.track_dataset(mt.Dataset(name=name, statistics=statistics, fingerprint=fingerprint, **fields))


def _evaluate(tracker, dataset, algorithm, params, value, *, metric="accuracy", procedure=CV, trained_on=None):
    model = tracker.track_model(
        mt.Model(
            name=f"{algorithm} {params}",
            learning_algorithm=algorithm,
            trained_on=(trained_on or dataset).id,
            hyperparameters=[mt.Parameter.of(name, v) for name, v in params.items()],
        )
    )
    return tracker.track_evaluation({metric: value}, computed_by=model, on_dataset=dataset, procedure=procedure)


def _history(tracker, *, shift=0.0):
    """Forests win on small binary datasets, linear models on large multi-class ones, 3 of each."""
    for index in range(3):
        small = _dataset(tracker, f"small-{index}", {**SMALL_BINARY, "meta.rows": 150 + 40 * index})
        _evaluate(tracker, small, "RandomForestClassifier", {"n_estimators": 100}, 0.95 - 0.01 * index)
        _evaluate(tracker, small, "LogisticRegression", {"C": 1.0}, 0.80 + shift)
        _evaluate(tracker, small, "GaussianNB", {}, 0.70)
        large = _dataset(tracker, f"large-{index}", {**LARGE_MULTICLASS, "meta.rows": 50_000 + 1_000 * index})
        _evaluate(tracker, large, "RandomForestClassifier", {"n_estimators": 100}, 0.60)
        _evaluate(tracker, large, "LogisticRegression", {"C": 1.0}, 0.90 - 0.01 * index)
        _evaluate(tracker, large, "GaussianNB", {}, 0.50)


def test_an_empty_store_is_a_clear_answer_with_no_recommendation(tracker):
    asked = _dataset(tracker, "new", SMALL_BINARY)
    found = tracker.recommend(asked, "accuracy")
    assert found.items == () and found.neighbours == () and found.confidence == "none"
    assert "nothing to learn from yet" in found.notes[0]
    assert found.to_json()["recommendations"] == []


def test_a_history_without_the_metric_is_a_clear_answer(tracker):
    _history(tracker)
    asked = _dataset(tracker, "new", SMALL_BINARY)
    found = tracker.recommend(asked, "f1_macro")
    assert found.items == ()
    assert found.notes == ("no comparable evaluation of 'f1_macro' on another dataset: nothing to learn from yet",)


def test_the_configurations_that_won_on_similar_datasets_come_first_with_their_evidence(tracker):
    _history(tracker)
    small = tracker.recommend(_dataset(tracker, "new small", {**SMALL_BINARY, "meta.rows": 170}), "accuracy", k=2)
    assert [item.learning_algorithm for item in small.items] == ["RandomForestClassifier", "LogisticRegression"]
    best = small.items[0]
    assert best.rank == 1 and best.parameters() == {"n_estimators": 100}
    nearest = [evidence.name for evidence in best.evidence[:3]]
    assert sorted(nearest) == ["small-0", "small-1", "small-2"]  # the similar ones weigh most
    assert best.evidence[0].similarity > best.evidence[-1].similarity
    assert best.evidence[0].value in (0.95, 0.94, 0.93) and best.evidence[0].relative == 1.0
    assert len(best.evidence[0].evaluations) == 1 and best.model.startswith("model-")
    assert small.task.procedure == CV and small.greater_is_better
    large = tracker.recommend(_dataset(tracker, "new large", LARGE_MULTICLASS), "accuracy", k=1)
    assert large.items[0].learning_algorithm == "LogisticRegression"
    assert [n.name for n in large.neighbours[:3]] == ["large-0", "large-1", "large-2"]


def test_confidence_says_how_much_evidence_there_is(tracker):
    _history(tracker)
    asked = _dataset(tracker, "new", SMALL_BINARY)
    assert tracker.recommend(asked, "accuracy").confidence == "high"
    few = tracker.recommend(asked, "accuracy", neighbours=2)
    assert few.confidence == "low" and len(few.neighbours) == 2
    assert "few datasets to learn from" in few.notes[-1]


def test_only_evaluations_of_one_procedure_count_and_the_others_are_named(tracker):
    _history(tracker)
    for index in range(4):  # a holdout history where naive Bayes wins: never mixed with the cross-validated one
        other = _dataset(tracker, f"holdout-{index}", SMALL_BINARY)
        _evaluate(tracker, other, "GaussianNB", {}, 0.99, procedure="holdout")
        _evaluate(tracker, other, "LogisticRegression", {"C": 1.0}, 0.10, procedure="holdout")
        _evaluate(tracker, other, "SVC", {}, 1.0, procedure="resubstitution (training data)")
    asked = _dataset(tracker, "new", SMALL_BINARY)
    found = tracker.recommend(asked, "accuracy")
    assert found.task.procedure == CV
    assert found.items[0].learning_algorithm == "RandomForestClassifier"
    assert "SVC" not in {item.learning_algorithm for item in found.items}  # training-data estimates never count
    assert any("left out: 'holdout' (8)" in note for note in found.notes)
    holdout = tracker.recommend(asked, "accuracy", procedure="holdout")
    assert holdout.items[0].learning_algorithm == "GaussianNB"
    assert {n.name for n in holdout.neighbours} == {f"holdout-{index}" for index in range(4)}


def test_the_dataset_itself_and_copies_of_its_data_are_never_evidence(tracker):
    _history(tracker)
    asked = _dataset(tracker, "asked", SMALL_BINARY, fingerprint="sha256:same")
    copy = _dataset(tracker, "copy", SMALL_BINARY, fingerprint="sha256:same")
    _evaluate(tracker, asked, "GaussianNB", {}, 1.0)
    _evaluate(tracker, copy, "GaussianNB", {}, 1.0)
    found = tracker.recommend(asked, "accuracy")
    assert {n.dataset for n in found.neighbours}.isdisjoint({asked.id, copy.id})
    assert found.items[0].learning_algorithm == "RandomForestClassifier"
    unstored = mt.Dataset(name="described, not stored", statistics=asked.statistics, fingerprint="sha256:same")
    assert {n.dataset for n in tracker.recommend(unstored, "accuracy").neighbours}.isdisjoint({asked.id, copy.id})


def test_folds_count_for_the_dataset_they_were_derived_from_and_their_scores_are_averaged(tracker):
    root = _dataset(tracker, "root", SMALL_BINARY)
    for fold, (forest, linear) in enumerate([(0.9, 0.8), (0.7, 0.85), (0.8, 0.95)]):
        part = tracker.track_dataset(mt.Dataset(name=f"fold {fold}", derived_from=[root.id], derivation="KFold"))
        _evaluate(tracker, part, "RandomForestClassifier", {"n_estimators": 100}, forest, trained_on=root)
        _evaluate(tracker, part, "LogisticRegression", {"C": 1.0}, linear, trained_on=root)
    found = tracker.recommend(_dataset(tracker, "new", SMALL_BINARY), "accuracy")
    assert [n.dataset for n in found.neighbours] == [root.id] and found.neighbours[0].evaluations == 6
    first, second = found.items
    assert first.learning_algorithm == "LogisticRegression"
    assert first.evidence[0].value == pytest.approx((0.8 + 0.85 + 0.95) / 3)
    assert second.evidence[0].value == pytest.approx(0.8) and second.evidence[0].relative == 0.0
    assert first.confidence == "low" and "little evidence" in first.reason


def test_settings_that_do_not_change_what_is_learnt_do_not_split_a_configuration():
    def parameters(**values):
        return [mt.Parameter.of(name, value).to_json() for name, value in values.items()]

    same = configuration_of("SVC", parameters(C=1.0, random_state=1, clf__n_jobs=4))
    assert same == configuration_of("SVC", parameters(C=1.0, random_state=2))
    assert same != configuration_of("SVC", parameters(C=10.0, random_state=1))
    assert configuration_of("SVC", parameters(shrinking=True)) != configuration_of("SVC", parameters(shrinking=1))
    assert configuration_key(same) == '["SVC",[["C",1.0]]]'


def test_lower_is_better_metrics_rank_the_lowest_first(tracker):
    for index in range(3):
        data = _dataset(tracker, f"regression-{index}", SMALL_BINARY)
        _evaluate(tracker, data, "Ridge", {"alpha": 1.0}, 3.0, metric="rmse")
        _evaluate(tracker, data, "Lasso", {"alpha": 1.0}, 5.0, metric="rmse")
    found = tracker.recommend(_dataset(tracker, "new", SMALL_BINARY), "rmse")
    assert not found.greater_is_better and found.items[0].learning_algorithm == "Ridge"


def test_a_dataset_without_meta_features_gets_the_best_on_average_ranking_and_a_note(tracker):
    _history(tracker, shift=0.12)  # linear models now win on average
    found = tracker.recommend(tracker.track_dataset(mt.Dataset(name="no statistics")), "accuracy")
    assert found.items[0].learning_algorithm == "LogisticRegression"
    assert "has no meta-features" in found.notes[0]
    assert {n.similarity for n in found.neighbours} == {1.0}


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"metric": ""}, mt.SchemaError, "metric"),
        ({"metric": "accuracy", "k": 0}, mt.SchemaError, "k must be a positive int"),
        ({"metric": "accuracy", "neighbours": "3"}, mt.SchemaError, "neighbours must be a positive int"),
        ({"metric": "accuracy", "procedure": 5}, mt.SchemaError, "procedure"),
    ],
)
def test_wrong_arguments_are_schema_errors(tracker, arguments, error, message):
    asked = _dataset(tracker, "new", SMALL_BINARY)
    with pytest.raises(error, match=message):
        tracker.recommend(asked, **arguments)


def test_an_unknown_or_wrong_kind_of_dataset_is_not_found(tracker):
    _history(tracker)
    with pytest.raises(mt.NotFoundError, match="no dataset with id 'dataset-nope'"):
        tracker.recommend("dataset-nope", "accuracy")
    model = tracker.find("model")[0]
    with pytest.raises(mt.NotFoundError, match="is a model, not a dataset"):
        tracker.recommend(model.id, "accuracy")
    with pytest.raises(mt.SchemaError, match="must be a Dataset or its id"):
        tracker.recommend(42, "accuracy")


def test_an_openml_store_answers_and_its_task_states_metric_and_procedure(tracker):
    import_openml(tracker, [OPENML])
    task = tracker.get("openml-task-1", "dataset")
    procedure = task.annotations["openml.estimation_procedure"]
    assert task_of(task) == Task("openml-task-1", task.target, "predictive_accuracy", procedure)
    found = tracker.recommend("openml-task-1", "predictive_accuracy")
    assert found.task.procedure == procedure
    assert found.items == () and "nothing to learn from yet" in found.notes[-1]


def test_the_command_line_prints_tables_or_json_and_an_empty_history_is_not_an_error(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    with mt.connect(uri) as tracker:
        asked = _dataset(tracker, "new", SMALL_BINARY)
    empty = CliRunner().invoke(main, ["--uri", uri, "recommend", "--dataset", asked.id, "--metric", "accuracy"])
    assert empty.exit_code == 0, empty.output
    assert "nothing to learn from yet" in empty.output
    with mt.connect(uri) as tracker:
        _history(tracker)
    table = CliRunner().invoke(main, ["--uri", uri, "recommend", "--dataset", asked.id, "--metric", "accuracy"])
    assert table.exit_code == 0, table.output
    assert "RandomForestClassifier" in table.output and "(the defaults)" in table.output  # no value recorded as changed
    assert "similar datasets learnt from" in table.output and "small-0" in table.output
    as_json = CliRunner().invoke(
        main, ["--uri", uri, "recommend", "--dataset", asked.id, "--metric", "accuracy", "--top", "1", "--json"]
    )
    document = json.loads(as_json.output)
    assert [item["learning_algorithm"] for item in document["recommendations"]] == ["RandomForestClassifier"]
    assert document["recommendations"][0]["evidence"][0]["evaluations"]
    assert document["task"] == {"dataset": asked.id, "target": None, "metric": "accuracy", "procedure": CV}
    missing = CliRunner().invoke(main, ["--uri", uri, "recommend", "--dataset", "dataset-nope", "--metric", "accuracy"])
    assert missing.exit_code == 1 and "no dataset with id 'dataset-nope'" in missing.output
