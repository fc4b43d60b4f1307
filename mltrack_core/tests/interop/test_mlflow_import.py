"""``mltrack import mlflow``: stores that MLflow itself writes here, imported and compared with MLflow's client."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pytest
from click.testing import CliRunner

import mltrack_core as mt
from mltrack_core.cli import main
from mltrack_core.errors import MissingDependencyError, NotFoundError
from mltrack_core.importers import import_mlflow
from mltrack_core.importers.mlflow import typed_param

pytestmark = [
    # MLflow's pandas digest calls DataFrame.all positionally: pandas 3 warns (MLflow's code, not ours)
    pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0 all arguments:DeprecationWarning"),
    # sklearn autolog infers a signature and warns about its own Any type hint (with terminal colours)
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
    # MLflow's schema inference hints about integer columns; as an error it makes MLflow drop the dataset's schema
    pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer column:UserWarning"),
    # MLflow's SQLAlchemy models use the noload strategy, which SQLAlchemy 2.1 deprecates
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"),
]

LOGGED_PARAMS = {"lr": 0.1, "epochs": 3, "use_bias": True, "seed": None, "solver": "adam", "scale": "1e3"}
ENDED = ("FINISHED", "FAILED", "KILLED")


WRITING_ENVIRONMENT = {
    "MLFLOW_ALLOW_FILE_STORE": "true",  # MLflow 3.17 writes file stores only when told to
    "MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT": "1",  # the autologged model's pip requirements: not what is tested
}


@pytest.fixture(scope="module", autouse=True)
def _in_a_scratch_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """MLflow puts a database store's artifacts (autolog's model) in ./mlruns: not in the checkout."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("working-folder"))
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def _mlflow_writing(uri: str) -> Iterator[Any]:
    """MLflow's fluent API pointed at ``uri``, restored afterwards."""
    before_uri = mlflow.get_tracking_uri()
    before = {name: os.environ.get(name) for name in WRITING_ENVIRONMENT}
    os.environ.update(WRITING_ENVIRONMENT)
    mlflow.set_tracking_uri(uri)
    try:
        yield mlflow.MlflowClient(uri)
    finally:
        mlflow.set_tracking_uri(before_uri)
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _write_store(uri: str) -> dict[str, Any]:
    """Runs logged with mlflow.log_*, a failed, a killed and a running run, and an sklearn autolog run."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    facts: dict[str, Any] = {}
    with _mlflow_writing(uri) as client:
        mlflow.set_experiment("manual")
        frame = pd.DataFrame({"size": [1, 2, 3, 4], "price": [0.5, 1.5, 2.5, 3.5], "city": list("abab")})
        train = mlflow.data.from_pandas(frame, source="s3://bucket/houses.csv", name="houses")
        validation = mlflow.data.from_numpy(np.arange(12.0).reshape(6, 2), name="houses-validation")
        with mlflow.start_run(run_name="baseline") as run:
            mlflow.log_params(LOGGED_PARAMS)
            mlflow.log_param("layers", [64, 32])
            for step in range(4):
                mlflow.log_metric("loss", 1 / (step + 1), step=step)
                mlflow.log_metric("accuracy", 0.5 + step / 10, step=step)
            mlflow.log_metric("loss", math.nan, step=4)
            mlflow.log_metric("warmup", 0.1, step=-1)
            mlflow.set_tag("team", "vision")
            mlflow.set_tag("mlflow.note.content", "first try")
            mlflow.log_input(train, context="train")
            mlflow.log_input(validation, context="validation")
            external = mlflow.create_external_model(name="scorer")
            mlflow.log_metric("val_accuracy", 0.75, dataset=validation, model_id=external.model_id)
        facts["baseline"] = run.info.run_id
        with mlflow.start_run(run_name="broken") as run:
            mlflow.log_param("lr", 10)
            mlflow.log_metric("loss", 99.0)
            mlflow.end_run(status="FAILED")
        facts["broken"] = run.info.run_id
        with mlflow.start_run(run_name="stopped") as run:
            mlflow.log_metric("loss", 2.0, step=7)
            mlflow.end_run(status="KILLED")
        facts["stopped"] = run.info.run_id
        with mlflow.start_run(run_name="legacy") as run:
            # the model history tag MLflow 2 wrote for each logged model (MLflow 3 no longer writes it)
            history = [
                {
                    "run_id": run.info.run_id,
                    "artifact_path": "model",
                    "utc_time_created": "2024-05-06 07:08:09.123456",
                    "flavors": {"python_function": {}, "sklearn": {"sklearn_version": "1.4.2"}},
                    "model_uuid": "0123456789abcdef0123456789abcdef",
                    "mlflow_version": "2.16.0",
                }
            ]
            mlflow.set_tag("mlflow.log-model.history", json.dumps(history))
            mlflow.log_param("C", 1.0)
        facts["legacy"] = run.info.run_id
        facts["running"] = client.create_run(client.get_experiment_by_name("manual").experiment_id).info.run_id

        mlflow.set_experiment("autolog")
        features, target = load_iris(return_X_y=True, as_frame=True)
        x_train, x_test, y_train, y_test = train_test_split(features, target, random_state=0)
        mlflow.sklearn.autolog()
        try:
            with mlflow.start_run(run_name="iris") as run:
                model = LogisticRegression(max_iter=300).fit(x_train, y_train)
                held_out = mlflow.data.from_pandas(x_test.assign(target=y_test), name="iris-test", targets="target")
                mlflow.log_input(held_out, context="eval")
                accuracy = model.score(x_test, y_test)
                mlflow.log_metric("accuracy", accuracy, dataset=held_out, model_id=mlflow.last_logged_model().model_id)
        finally:
            mlflow.sklearn.autolog(disable=True)
        facts["iris"] = run.info.run_id
        facts["iris_accuracy"] = accuracy
    return facts


@pytest.fixture(scope="module", params=["file", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    uri = (folder / "mlruns").as_uri() if request.param == "file" else f"sqlite:///{folder / 'mlflow.db'}"
    return uri, _write_store(uri)


@pytest.fixture(scope="module")
def imported(store: tuple[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    uri, _ = store
    tracker = mt.connect(f"sqlite:///{tmp_path_factory.mktemp('mltrack') / 'mltrack.db'}")
    progress: list[Any] = []
    summary = import_mlflow(tracker, uri, on_run=progress.append)  # a progress bar is told once per MLflow run
    yield tracker, summary, progress
    tracker.close()


def _client(uri: str) -> Any:
    with _mlflow_writing(uri) as client:  # MLflow opens a file store only when told to; it keeps it open
        return client


def _mlflow_runs(uri: str) -> list[Any]:
    client = _client(uri)
    experiments = client.search_experiments()
    return client.search_runs([experiment.experiment_id for experiment in experiments], max_results=1000)


def _annotation_key(tag: str) -> str:
    return tag if tag.startswith("mlflow.") else f"mlflow.tags.{tag}"


def test_every_run_param_metric_point_and_tag_matches_mlflow(store, imported) -> None:
    uri, facts = store
    tracker, summary, progress = imported
    client = _client(uri)
    runs = _mlflow_runs(uri)
    ended = [run for run in runs if run.info.status in ENDED]
    assert len(runs) == len(ended) + 1 == 6
    assert sorted(run.info.run_id for run in progress) == sorted(run.info.run_id for run in runs)
    assert tracker.count("run") == len(ended)
    assert any(facts["running"] in note and "RUNNING" in note for note in summary.notes)
    with pytest.raises(NotFoundError):
        tracker.get(f"mlflow-run-{facts['running']}")
    experiments = {experiment.experiment_id: experiment.name for experiment in client.search_experiments()}
    compared = 0
    for run in ended:
        info = run.info
        stored = tracker.get(f"mlflow-run-{info.run_id}")
        assert stored.name == info.run_name
        assert stored.experiment == experiments[info.experiment_id]
        assert stored.state.value == ("FINISHED" if info.status == "FINISHED" else "FAILED")
        assert stored.annotations["mlflow.status"] == info.status
        assert (stored.start_time, stored.end_time) == (info.start_time, info.end_time)
        assert stored.creator == run.data.tags["mlflow.user"]
        # params typed back: each value is what MLflow stored once spelled by Python
        assert {parameter.name: str(parameter.value) for parameter in stored.hyperparameters} == run.data.params
        for key, value in run.data.tags.items():
            assert stored.annotations[_annotation_key(key)] == value
        expected = [
            (metric.key, metric.value, metric.step if metric.step >= 0 else None, metric.timestamp)
            for key in run.data.metrics
            for metric in client.get_metric_history(info.run_id, key)
        ]
        points = [(point.metric, point.value, point.step, point.timestamp) for point in tracker.points(stored.id)]
        assert _in_order(points) == _in_order(expected)
        compared += len(points)
    assert compared == sum(
        len(client.get_metric_history(run.info.run_id, key)) for run in ended for key in run.data.metrics
    )
    assert compared >= 12


def _in_order(points: list[tuple[str, float, int | None, int]]) -> list[tuple[str, int, int, str]]:
    """Points in one order, each value as its repr (NaN never equals itself, but its repr does)."""
    return sorted(
        (metric, timestamp, -1 if step is None else step, repr(value)) for metric, value, step, timestamp in points
    )


def test_params_are_typed_where_unambiguous(store, imported) -> None:
    _, facts = store
    tracker, summary, _ = imported
    baseline = tracker.get(f"mlflow-run-{facts['baseline']}")
    values = {parameter.name: parameter.value for parameter in baseline.hyperparameters}
    assert values == {**LOGGED_PARAMS, "layers": "[64, 32]"}
    typings = {parameter.name: parameter.typing.value for parameter in baseline.hyperparameters}
    assert typings["lr"] == "DOUBLE" and typings["epochs"] == "LONG" and typings["use_bias"] == "BOOLEAN"
    assert baseline.annotations["mlflow.params_kept_as_text"] == "scale"
    assert baseline.annotations["mlflow.negative_steps"] == "warmup"
    assert baseline.comments == "first try"
    assert any("scale" in note and facts["baseline"] in note for note in summary.notes)


def test_datasets_models_and_lineage_match_mlflow(store, imported) -> None:
    uri, facts = store
    tracker, _, _ = imported
    client = _client(uri)
    runs = {run.info.run_id: run for run in _mlflow_runs(uri)}
    inputs = {
        (runs[run_id].info.experiment_id, item.dataset.name, item.dataset.digest): item
        for run_id in runs
        if runs[run_id].info.status in ENDED
        for item in runs[run_id].inputs.dataset_inputs
    }
    stored_datasets = tracker.find("dataset")
    placeholders = [dataset for dataset in stored_datasets if "mlflow.created_from" in dataset.annotations]
    assert len(stored_datasets) == len(inputs) + len(placeholders)
    assert [dataset.id for dataset in placeholders] == [f"mlflow-run-{facts['legacy']}-training-data"]
    by_fingerprint = {dataset.fingerprint: dataset for dataset in stored_datasets}
    for item in inputs.values():
        dataset = by_fingerprint[f"mlflow:{item.dataset.digest}"]
        assert dataset.name == item.dataset.name
        assert dataset.annotations["mlflow.dataset.source"] == item.dataset.source
        profile = json.loads(item.dataset.profile)
        assert dataset.row_count == profile.get("num_rows", profile.get("features_shape", [None])[0])
    houses = by_fingerprint[f"mlflow:{inputs_named(inputs, 'houses').dataset.digest}"]
    assert houses.location == "s3://bucket/houses.csv"
    assert [(column.name, column.typing.value) for column in houses.schema] == [
        ("size", "LONG"),
        ("price", "DOUBLE"),
        ("city", "STRING"),
    ]
    validation = by_fingerprint[f"mlflow:{inputs_named(inputs, 'houses-validation').dataset.digest}"]
    assert [(column.name, column.typing.value) for column in validation.schema] == [("features", "VECTOR")]

    experiment_ids = [experiment.experiment_id for experiment in client.search_experiments()]
    logged = client.search_logged_models(experiment_ids)
    assert tracker.count("model") == len(logged) + 1  # + the model of MLflow 2's history tag
    for model in logged:
        stored = tracker.get(f"mlflow-model-{model.model_id}")
        assert stored.location == model.model_uri
        run = tracker.get(f"mlflow-run-{model.source_run_id}")
        assert run.for_model == stored.id
        assert stored.trained_on == run.trained_on
        train = next(item for item in runs[model.source_run_id].inputs.dataset_inputs if _context(item) == "train")
        assert tracker.get(stored.trained_on).fingerprint == f"mlflow:{train.dataset.digest}"
    iris_model = tracker.get(tracker.get(f"mlflow-run-{facts['iris']}").for_model)
    assert (iris_model.learning_algorithm, iris_model.framework) == ("LogisticRegression", "sklearn")
    assert {parameter.name: parameter.value for parameter in iris_model.hyperparameters}["max_iter"] == 300
    legacy = tracker.get("mlflow-model-0123456789abcdef0123456789abcdef")
    assert (legacy.location, legacy.framework, legacy.framework_version) == (
        f"runs:/{facts['legacy']}/model",
        "sklearn",
        "1.4.2",
    )
    assert legacy.trained_on == f"mlflow-run-{facts['legacy']}-training-data"

    evaluations = {evaluation.computed_by: evaluation for evaluation in tracker.find("evaluation")}
    assert len(evaluations) == tracker.count("evaluation") == 2
    iris_evaluation = evaluations[iris_model.id]
    held_out = next(item for item in runs[facts["iris"]].inputs.dataset_inputs if _context(item) == "eval")
    assert tracker.get(iris_evaluation.on_dataset).fingerprint == f"mlflow:{held_out.dataset.digest}"
    assert [(score.metric, score.value) for score in iris_evaluation.scores] == [("accuracy", facts["iris_accuracy"])]
    assert iris_evaluation.procedure == "holdout"
    lineage = tracker.lineage(iris_evaluation.id)
    assert {iris_model.id, iris_model.trained_on, iris_evaluation.on_dataset} <= set(lineage.nodes)
    baseline_evaluation = evaluations[tracker.get(f"mlflow-run-{facts['baseline']}").for_model]
    assert [(score.metric, score.value) for score in baseline_evaluation.scores] == [("val_accuracy", 0.75)]
    assert baseline_evaluation.on_dataset == validation.id


def inputs_named(inputs: dict[tuple[str, str, str], Any], name: str) -> Any:
    return next(item for (_, dataset_name, _), item in inputs.items() if dataset_name == name)


def _context(item: Any) -> str | None:
    return next((tag.value for tag in item.tags if tag.key == "mlflow.data.context"), None)


def test_importing_again_writes_nothing(store, imported) -> None:
    uri, _ = store
    tracker, first, _ = imported
    assert first.total == tracker.count() and first.unchanged == 0
    again = import_mlflow(tracker, uri, batch_size=2)
    assert again.total == 0
    assert again.unchanged == first.total


def test_experiment_selection_and_the_command_line(store, tmp_path: Path) -> None:
    uri, facts = store
    target = f"sqlite:///{tmp_path / 'selected.db'}"
    result = CliRunner().invoke(
        main, ["--uri", target, "import", "mlflow", "--tracking-uri", uri, "--experiment", "autolog", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["written"] == {"dataset": 2, "evaluation": 1, "model": 1, "run": 1}
    with mt.connect(target) as tracker:
        assert tracker.find_ids("run") == [f"mlflow-run-{facts['iris']}"]
        assert {entity.experiment for entity in tracker.find()} == {"autolog"}
    unknown = CliRunner().invoke(
        main, ["--uri", target, "import", "mlflow", "--tracking-uri", uri, "--experiment", "x"]
    )
    assert unknown.exit_code != 0 and "no active experiment named 'x'" in unknown.output


def test_an_unknown_experiment_is_refused_with_the_known_names(store) -> None:
    uri, _ = store
    tracker = mt.connect("memory://")
    with pytest.raises(NotFoundError, match="no active experiment named 'nope'.*'autolog', 'manual'"):
        import_mlflow(tracker, uri, ["nope"])
    assert tracker.count() == 0


def test_a_missing_or_empty_store_is_refused(tmp_path: Path) -> None:
    tracker = mt.connect("memory://")
    missing = tmp_path / "no-such-store"
    with pytest.raises(NotFoundError, match="does not exist"):
        import_mlflow(tracker, missing.as_uri())
    with pytest.raises(NotFoundError, match="does not exist"):
        import_mlflow(tracker, f"sqlite:///{missing}.db")
    assert not list(tmp_path.iterdir())  # MLflow was not asked, so it created nothing there
    not_mlflow = tmp_path / "mltrack.db"
    mt.connect(f"sqlite:///{not_mlflow}").close()
    before = not_mlflow.read_bytes()
    with pytest.raises(NotFoundError, match="not an MLflow tracking database"):
        import_mlflow(tracker, f"sqlite:///{not_mlflow}")
    assert not_mlflow.read_bytes() == before  # MLflow did not add its tables to it
    with pytest.raises(NotFoundError, match="not an MLflow tracking folder"):
        import_mlflow(tracker, str(tmp_path))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mltrack.db"]  # no .trash, no Default experiment
    empty = (tmp_path / "mlruns").as_uri()
    with _mlflow_writing(empty) as client:
        client.search_experiments()  # MLflow makes the folder and its Default experiment
    with pytest.raises(NotFoundError, match="holds no runs.*'Default'"):
        import_mlflow(tracker, empty)
    assert tracker.count() == 0


def test_without_mlflow_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'mltrack-core\[mlflow\]'"):
        import_mlflow(mt.connect("memory://"), "sqlite:///anything.db")


@pytest.mark.parametrize(
    ("text", "value", "typed"),
    [
        ("3", 3, True),
        ("-12", -12, True),
        ("0.1", 0.1, True),
        ("1e-05", 1e-05, True),
        ("100.0", 100.0, True),
        ("True", True, True),
        ("False", False, True),
        ("None", None, True),
        ("1e3", "1e3", False),
        ("007", "007", False),
        ("1.50", "1.50", False),
        ("true", "true", False),
        ("1_000", "1_000", False),
        ("adam", "adam", False),
        ("[1, 2]", "[1, 2]", False),
    ],
)
def test_typed_param(text: str, value: Any, typed: bool) -> None:
    result, recognised = typed_param(text)
    assert (result, recognised) == (value, typed)
    assert type(result) is type(value)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An ``mlflow server`` subprocess over a SQLite store holding one run logged with a dataset input."""
    import numpy as np

    folder = tmp_path_factory.mktemp("mlflow-server")
    database = f"sqlite:///{folder / 'mlflow.db'}"
    with _mlflow_writing(database):
        mlflow.set_experiment("served")
        with mlflow.start_run(run_name="remote") as run:
            mlflow.log_param("depth", 4)
            mlflow.log_input(mlflow.data.from_numpy(np.ones((5, 3)), name="ones"), context="train")
            for step in range(3):
                mlflow.log_metric("loss", 1 / (step + 1), step=step)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--backend-store-uri", database, "--workers", "1"]
    environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner, no temporary files
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=folder,
        env=environment,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start (exit code {server.poll()})")
                time.sleep(0.2)
        yield url, run.info.run_id
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the uvicorn worker it started
        server.wait(timeout=30)


def test_an_mlflow_server_is_imported_through_its_rest_api(mlflow_server) -> None:
    url, run_id = mlflow_server
    tracker = mt.connect("memory://")
    summary = import_mlflow(tracker, url)
    assert dict(summary.written) == {"dataset": 1, "run": 1}
    run = tracker.get(f"mlflow-run-{run_id}")
    assert [(point.step, point.value) for point in tracker.points(run.id)] == [(0, 1.0), (1, 0.5), (2, 1 / 3)]
    assert [(parameter.name, parameter.value) for parameter in run.hyperparameters] == [("depth", 4)]
    assert tracker.get(run.trained_on).row_count == 5
    assert import_mlflow(tracker, url).total == 0
