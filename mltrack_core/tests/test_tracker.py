"""The tracker's rules and conveniences beyond the storage contract."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

import mltrack_core as mt
from mltrack_core.extraction import Extraction
from mltrack_core.hookspecs import hookimpl


class FakeEstimator:
    """Stands for an object of a framework whose plugin is the one under test."""

    def __init__(self, **params):
        self.params = params


class FakeFrameworkPlugin:
    """A framework plugin in miniature, with an optional failure to report."""

    def __init__(self, failure=None):
        self.failure = failure

    @hookimpl
    def mltrack_extract_model(self, obj, trained_on, name):
        if not isinstance(obj, FakeEstimator):
            return None
        failures = (self.failure,) if self.failure else ()
        scaler = mt.Transform(name="scaler", operator="Scaler")
        model = mt.Model(
            name=name or "fake",
            learning_algorithm="FakeEstimator",
            trained_on=trained_on.id,
            transforms=[scaler.id],
            hyperparameters=[mt.Parameter.of(key, value) for key, value in obj.params.items()],
        )
        return Extraction(model, related=(scaler,), failures=failures)

    @hookimpl
    def mltrack_extract_dataset(self, data, name, target):
        if not isinstance(data, list):
            return None
        return Extraction(mt.Dataset(name=name or "list", row_count=len(data), target=target))

    @hookimpl
    def mltrack_extract_training(self, obj):
        if isinstance(obj, FakeEstimator):
            return Extraction(mt.TrainingRun())
        return None


@pytest.fixture
def framework(tracker):
    plugin = FakeFrameworkPlugin()
    tracker.plugins.register(plugin, name="fake-framework")
    return plugin


def test_a_model_needs_the_data_it_was_trained_on(tracker):
    with pytest.raises(mt.SchemaError, match="needs trained_on=.*lineage is required"):
        tracker.track_model(name="m", learning_algorithm="lr")
    dataset = tracker.track_dataset(name="d")
    model = mt.Model(name="m", learning_algorithm="lr", trained_on=dataset)
    with pytest.raises(mt.SchemaError, match="says trained_on"):
        tracker.track_model(model, trained_on="ds-other")
    with pytest.raises(mt.DanglingReferenceError, match="trained_on='ds-other' names no dataset"):
        tracker.track_model(name="m", learning_algorithm="lr", trained_on="ds-other")
    with pytest.raises(mt.DanglingReferenceError, match="that id is a model"):
        tracker.track_model(name="m2", learning_algorithm="lr", trained_on=tracker.track_model(model).id)


def test_an_untracked_dataset_object_is_tracked_on_the_way(tracker):
    dataset = mt.Dataset(name="fresh")
    model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    assert tracker.get(model.trained_on).name == "fresh"


def test_framework_objects_are_described_by_their_plugin(tracker, framework):
    model = tracker.track_model(FakeEstimator(C=0.5), trained_on=[1, 2, 3], name="fake-lr", comments="first try")
    assert model.comments == "first try" and model.name == "fake-lr"
    assert [p.name for p in model.hyperparameters] == ["C"]
    assert tracker.get(model.trained_on).row_count == 3
    assert tracker.get(model.transforms[0]).operator == "Scaler"


def test_objects_without_a_plugin_name_the_plugin_to_install(tracker):
    sklearn_like = type("LogisticRegression", (), {"__module__": "sklearn.linear_model._logistic"})()
    dataset = tracker.track_dataset(name="d")
    with pytest.raises(
        mt.MissingPluginError, match=r"install the mltrack-sklearn plugin \(pip install mltrack-sklearn\)"
    ):
        tracker.track_model(sklearn_like, trained_on=dataset)
    with pytest.raises(
        mt.MissingPluginError, match="no installed mltrack plugin describes builtins.object as a dataset"
    ):
        tracker.track_dataset(object())


def test_what_could_not_be_extracted_is_annotated_and_warned(tracker):
    tracker.plugins.register(FakeFrameworkPlugin(failure="column lineage: no feature names"), name="fake")
    dataset = tracker.track_dataset(name="d")
    with pytest.warns(mt.TrackingWarning, match="recorded without: column lineage: no feature names"):
        model = tracker.track_model(FakeEstimator(), trained_on=dataset)
    assert tracker.get(model.id).annotations["mltrack.failures"] == "column lineage: no feature names"


def test_tracking_a_model_ends_the_live_run_of_the_same_object(tracker, framework):
    estimator = FakeEstimator(C=1)
    run = tracker.track_training(estimator)
    run.log("loss", 0.3)
    model = tracker.track_model(estimator, trained_on=tracker.track_dataset(name="d"))
    assert run.ended
    stored = tracker.get(run.id)
    assert stored.state is mt.TrainingState.FINISHED and stored.for_model == model.id


def test_defaults_for_creator_team_and_experiment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLTRACK_TEAM", "fraud")
    monkeypatch.setenv("MLTRACK_EXPERIMENT", "q3")
    with mt.connect("memory://", creator="ana", artifacts=tmp_path) as tracker:
        dataset = tracker.track_dataset(name="d")
        assert (dataset.creator, dataset.creator_team, dataset.experiment) == ("ana", "fraud", "q3")
        with tracker.experiment("ablation"):
            assert tracker.track_dataset(name="e").experiment == "ablation"
        assert tracker.track_dataset(name="f").experiment == "q3"
        explicit = tracker.track_dataset(mt.Dataset(name="g", creator="bo"))
        assert explicit.creator == "bo"


def test_models_and_runs_record_the_environment(tracker):
    dataset = tracker.track_dataset(name="d")
    model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    assert {"python.version", "os", "host", "cpu.count", "package.mltrack-core"} <= set(model.environment)
    with tracker.track_training(name="r") as run:
        pass
    assert tracker.get(run.id).environment["python.version"] == model.environment["python.version"]


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"accuracy": 0.9}, [("accuracy", 0.9)]),
        ([("accuracy", 0.9), ("f1", 0.8)], [("accuracy", 0.9), ("f1", 0.8)]),
        ([mt.Score(metric="auc", value=0.7)], [("auc", 0.7)]),
        (mt.Score(metric="auc", value=0.7), [("auc", 0.7)]),
    ],
)
def test_scores_come_in_several_shapes(tracker, scores, expected):
    dataset = tracker.track_dataset(name="d")
    model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    evaluation = tracker.track_evaluation(scores, computed_by=model, on_dataset=dataset)
    assert [(score.metric, score.value) for score in evaluation.scores] == expected


@pytest.mark.parametrize("scores", [0.9, "accuracy", [("accuracy",)], [{"metric": "a"}]])
def test_unreadable_scores_are_explained(tracker, scores):
    dataset = tracker.track_dataset(name="d")
    model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    with pytest.raises(mt.SchemaError, match="score"):
        tracker.track_evaluation(scores, computed_by=model, on_dataset=dataset)


def test_an_evaluation_of_a_prediction_must_match_its_model_and_data(tracker):
    dataset = tracker.track_dataset(name="d")
    other = tracker.track_dataset(name="other")
    model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    prediction = tracker.track_prediction(computed_by=model, on_dataset=dataset, location="file:///p")
    with pytest.raises(mt.SchemaError, match="is for prediction"):
        tracker.track_evaluation({"a": 1}, computed_by=model, on_dataset=other, for_prediction=prediction)
    with pytest.raises(mt.SchemaError, match="not ndarray|not list"):
        tracker.track_prediction([0, 1], computed_by=model, on_dataset=dataset)


def test_queries_reject_unknown_kinds_and_filters(tracker):
    with pytest.raises(mt.SchemaError, match="unknown kind 'widgets'"):
        tracker.find("widgets")
    with pytest.raises(mt.SchemaError, match="unknown filter.*colour.*use"):
        tracker.find("dataset", colour="red")
    dataset = tracker.track_dataset(name="d")
    with pytest.raises(mt.NotFoundError, match="is a dataset, not a model"):
        tracker.get(dataset.id, "model")


def test_implicit_tracking_turns_failures_into_warnings(tracker):
    def fit():
        with tracker.implicit("the model of fit"):
            raise ValueError("boom")

    with pytest.warns(mt.TrackingWarning, match="the model of fit was not recorded: ValueError: boom"):
        fit()


def test_a_failing_observer_is_reported_and_the_write_stands(tracker):
    class Broken:
        @hookimpl
        def mltrack_entities_stored(self, entities):
            raise RuntimeError("dashboard offline")

    tracker.plugins.register(Broken(), name="broken-dashboard")
    with pytest.warns(mt.TrackingWarning, match="observer 'broken-dashboard' failed.*dashboard offline"):
        dataset = tracker.track_dataset(name="d")
    assert tracker.get(dataset.id) == dataset


def test_diff_shows_only_what_differs(tracker):
    train = tracker.track_dataset(name="train", fingerprint="sha256:a")
    copy = tracker.track_dataset(name="train-copy", fingerprint="sha256:a")
    scaler = mt.Transform(name="scaler", operator="StandardScaler", parameters=[mt.Parameter.of("with_mean", True)])
    minmax = mt.Transform(name="scaler", operator="MinMaxScaler")
    first = tracker._write(
        Extraction(
            mt.Model(
                name="a",
                learning_algorithm="lr",
                trained_on=train,
                transforms=[scaler],
                hyperparameters=[mt.Parameter.of("C", 1.0), mt.Parameter.of("penalty", "l2")],
                environment={"python.version": "3.11", "host": "a"},
            ),
            related=(scaler,),
        )
    )
    second = tracker._write(
        Extraction(
            mt.Model(
                name="b",
                learning_algorithm="lr",
                trained_on=copy,
                transforms=[minmax],
                hyperparameters=[mt.Parameter.of("C", 0.1), mt.Parameter.of("penalty", "l2")],
                environment={"python.version": "3.11", "host": "b"},
            ),
            related=(minmax,),
        )
    )
    diff = tracker.diff(first, second)
    assert diff.hyperparameters == {"C": (1.0, 0.1)}
    assert diff.transforms == {
        "scaler.operator": ("StandardScaler", "MinMaxScaler"),
        "scaler.with_mean": (True, None),
    }
    assert diff.training_data["name"] == ("train", "train-copy")
    assert diff.training_data["same data"] == (True, True)
    assert diff.environment == {"host": ("a", "b")}
    assert diff.model == {"name": ("a", "b")}
    assert not diff.identical and tracker.diff(first, first).identical


def test_the_default_tracker_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLTRACK_URI", f"sqlite:///{tmp_path}/default.db")
    tracker = mt.get_tracker()
    assert tracker is mt.get_tracker() and tracker.uri.endswith("default.db")
    replacement = mt.connect("memory://")
    assert mt.set_tracker(replacement) is tracker
    assert mt.get_tracker() is replacement
    tracker.close()
    replacement.close()


def test_the_embedded_store_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    with mt.connect() as tracker:
        assert tracker.uri == f"sqlite:///{tmp_path / 'home' / 'store.db'}"
    assert (tmp_path / "home" / "store.db").exists()


@pytest.mark.parametrize("uri", ["no-scheme-here", "bogus://x"])
def test_unknown_schemes_name_the_installed_ones(uri):
    with pytest.raises(mt.UnknownSchemeError, match=r"scheme|memory, .*sqlite"):
        mt.connect(uri)


def test_logging_emits_no_warning(tracker):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tracker.track_training(name="r") as run:
            for step in range(100):
                run.log("loss", step)


def test_restore_writes_entities_as_they_are(tracker):
    dataset = mt.Dataset(name="imported", creator="someone else", creation_time=1_000)
    run = mt.TrainingRun(
        name="old run",
        state="FINISHED",
        start_time=2_000,
        end_time=3_000,
        trained_on=dataset,
        scores_over_time=[mt.ScoreAtTime(metric="loss", value=0.5, timestamp=2_500, epoch=0)],
    )
    assert [entity.id for entity in tracker.restore([run, dataset])] == [run.id, dataset.id]
    assert tracker.get(dataset.id) == dataset  # no creator, team or experiment added
    assert tracker.get(run.id) == run  # times, state and points kept
    assert tracker.restore([run, dataset]) == []  # identical again: nothing new
    with pytest.raises(mt.ConflictError):
        tracker.restore([mt.Dataset(id=dataset.id, name="changed")])


def test_transforms_can_be_described_by_hand(tracker):
    scaler = tracker.track_transform(name="scaler", operator="StandardScaler")
    assert tracker.track_transform(scaler) == scaler
    with pytest.raises(mt.SchemaError, match="takes a Transform or keyword fields"):
        tracker.track_transform("scaler")


def test_every_write_path_applies_the_same_rules(tracker):
    dataset = tracker.track_dataset(name="d")
    other = tracker.track_dataset(name="other")
    model = tracker.track_model(name="m", learning_algorithm="lr", trained_on=dataset)
    prediction = mt.Prediction(computed_by=model.id, on_dataset=dataset.id, location="file:///p")
    mismatched = mt.Evaluation(
        computed_by=model.id,
        on_dataset=other.id,
        for_prediction=prediction.id,
        scores=[mt.Score(metric="a", value=1.0)],
    )
    writes = {
        "track_*": lambda: tracker._write(Extraction(mismatched, related=(prediction,))),
        "write (the server's)": lambda: tracker.write([prediction, mismatched]),
        "restore (the importers')": lambda: tracker.restore([prediction, mismatched]),
    }
    for path, write in writes.items():
        with pytest.raises(mt.SchemaError, match="is for prediction"):
            write()
        assert tracker.count("prediction") == 0, path


def test_ending_a_run_again_the_same_way_is_a_no_op_and_any_other_way_refused(tracker):
    run = tracker.track_training(name="fit")
    ended = run.finish()
    assert tracker.end_run(ended) == (ended, False)
    failed = dataclasses.replace(ended, state=mt.TrainingState.FAILED)
    with pytest.raises(mt.RunStateError, match="has already ended"):
        tracker.end_run(failed)
    with pytest.raises(mt.RunStateError, match="needs state FINISHED or FAILED"):
        tracker.end_run(dataclasses.replace(ended, state=mt.TrainingState.TRAINING))
    with pytest.raises(mt.NotFoundError, match="is a dataset, not a training run"):
        tracker.end_run(dataclasses.replace(ended, id=tracker.track_dataset(name="d").id))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda t, ds: t.track_model(name="m", trained_on=ds),
            mt.SchemaError,
            "missing required field.*learning_algorithm",
        ),
        (lambda t, ds: t.track_dataset(name="x", bogus=1), mt.SchemaError, "unknown field.*bogus"),
        (lambda t, ds: t.track_training(name="r", bogus=1), mt.SchemaError, "unknown field.*bogus"),
        (lambda t, ds: t.track_transform(name="t", bogus=1), mt.SchemaError, "unknown field.*bogus"),
        (lambda t, ds: t.track_training(id="team/run-1"), mt.SchemaError, "not a valid id"),
        (lambda t, ds: t.get("\ud800"), mt.NotFoundError, "no entity"),
        (lambda t, ds: t.get(["x"]), mt.NotFoundError, "no entity"),
        (lambda t, ds: t.get("../../etc/passwd"), mt.NotFoundError, "no entity"),
        (lambda t, ds: t.get_run("a\x00b"), mt.NotFoundError, "no training run"),
    ],
)
def test_careless_calls_get_typed_errors_not_raw_python_ones(tmp_path, call, error, message):
    tracker = mt.connect(f"sqlite:///{tmp_path / 'store.db'}")
    dataset = tracker.track_dataset(name="d")
    with pytest.raises(error, match=message):
        call(tracker, dataset)


def test_not_found_errors_do_not_name_the_store_location(tmp_path):
    """Messages travel to remote clients through the server: they must not reveal where the store lives."""
    tracker = mt.connect(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(mt.NotFoundError) as raised:
        tracker.get("ds-missing")
    assert str(tmp_path) not in str(raised.value)


def test_find_ids_names_what_find_returns_in_its_order_without_reading_it(tracker):
    data = tracker.track_dataset(name="iris", fingerprint="sha256:iris")
    for name in ("b-model", "a-model", "c-model"):
        tracker.track_model(name=name, learning_algorithm="LogisticRegression", trained_on=data, tags={"team": "x"})
    tracker.track_model(name="other", learning_algorithm="SVC", trained_on=data)
    for order in ("-created", "created", "name", "-name"):
        filters = {"trained_on": data, "tags": {"team": "x"}, "order": order}
        assert tracker.find_ids("model", **filters) == [model.id for model in tracker.find("model", **filters)]
    names = [tracker.get(id_).name for id_ in tracker.find_ids("model", order="name", limit=2, offset=1)]
    assert names == ["b-model", "c-model"]
    with pytest.raises(mt.SchemaError, match="unknown filter"):
        tracker.find_ids("model", trained=data)
