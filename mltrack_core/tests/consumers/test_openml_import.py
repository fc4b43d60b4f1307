"""OpenML import from the real API documents in tests/fixtures/openml (see its README)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import mltrack_core as mt
from mltrack_core.importers import OpenMLUnavailableError, import_openml

OPENML = Path(__file__).resolve().parents[1] / "fixtures" / "openml"


@pytest.fixture
def imported(sqlite_tracker: mt.Tracker) -> mt.Tracker:
    """A store holding every shared OpenML fixture."""
    import_openml(sqlite_tracker, [OPENML])
    return sqlite_tracker


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def test_every_fixture_imports_with_its_lineage(sqlite_tracker: mt.Tracker) -> None:
    summary = import_openml(sqlite_tracker, [OPENML])
    assert dict(summary.written) == {"dataset": 5, "transform": 8, "model": 2, "prediction": 1, "evaluation": 2}

    run_100 = sqlite_tracker.lineage("openml-run-100-evaluation")
    assert run_100.edges  # evaluation -> model + dataset, model -> task data -> dataset
    edges = {(edge.source, edge.relation, edge.target) for edge in run_100.edges}
    assert {
        ("openml-run-100-evaluation", "computed_by", "openml-run-100-model"),
        ("openml-run-100-evaluation", "on_dataset", "openml-task-28"),
        ("openml-run-100-evaluation", "for_prediction", "openml-run-100-predictions"),
        ("openml-run-100-model", "trained_on", "openml-task-28"),
        ("openml-run-100-model", "transforms", "openml-flow-67"),
        ("openml-task-28", "derived_from", "openml-dataset-28"),
    } <= edges
    assert [dataset.name for dataset in run_100.of_kind("dataset")] == ["OpenML task 28", "optdigits"]

    run_12 = sqlite_tracker.lineage("openml-run-12-evaluation")
    assert {entity.id for entity in run_12.of_kind("dataset")} == {"openml-task-1", "openml-dataset-1"}
    assert {entity.id for entity in run_12.of_kind("model")} == {"openml-run-12-model"}

    flow = sqlite_tracker.lineage("openml-flow-4024")
    assert {entity.id for entity in flow.of_kind("transform")} == {
        "openml-flow-4025",
        "openml-flow-4026",
        "openml-flow-1724",
    }
    assert {entity.id for entity in sqlite_tracker.find("transform")} >= {
        "openml-flow-3",
        "openml-flow-100",
        "openml-setup-100",
    }
    assert all(entity.tags == {"source": "openml"} for entity in sqlite_tracker.find())


def test_importing_the_same_documents_twice_creates_nothing_new(imported: mt.Tracker) -> None:
    before = {entity.id: entity for entity in imported.find()}
    again = import_openml(imported, [OPENML])
    assert again.total == 0 and again.unchanged == 14  # everything described by a document; placeholders are reused
    assert {entity.id: entity for entity in imported.find()} == before


def test_one_document_at_a_time_gives_the_same_store(sqlite_tracker: mt.Tracker, imported: mt.Tracker) -> None:
    # descriptions first, then what refers to them: the order the module docstring asks for
    with mt.connect("memory://") as one_by_one:
        for path in sorted(OPENML.glob("datasets/*")) + sorted(OPENML.glob("flows/*.xml")):
            import_openml(one_by_one, [path])
        for folder in ("setups", "tasks", "runs", "evaluations"):
            for path in sorted((OPENML / folder).glob("*.xml")):
                import_openml(one_by_one, [path])
        described = [entity.id for entity in imported.find() if "openml.created_from" not in entity.annotations]
        listed = ["openml-run-12-model", "openml-run-12-evaluation"]  # made from the listing: the same either way
        assert len(described) == 12
        assert one_by_one.get_many(described + listed) == imported.get_many(described + listed)
        # placeholders say what their referrers said: a task alone does not name its dataset, a listing does
        assert {entity.id for entity in one_by_one.find()} == {entity.id for entity in imported.find()}
        assert one_by_one.get("openml-dataset-1").name == "OpenML dataset 1"


def test_a_dataset_gets_typed_columns_statistics_and_its_location(imported: mt.Tracker) -> None:
    anneal = imported.get("openml-dataset-2")
    assert (anneal.name, anneal.version, anneal.target, anneal.row_count) == ("anneal", "1", "class", 898)
    assert anneal.location == "http://www.openml.org/data/download/1666876/phpFsFYVN"
    assert anneal.fingerprint == "md5:4eaed8b6ec9d8211024b6c089b064761"
    assert anneal.creation_time == ms("2014-04-06T23:19:24")
    assert len(anneal.schema) == 39
    types = {column.name: column.typing for column in anneal.schema}
    assert types["family"] is mt.TypeHint.STRING and types["carbon"] is mt.TypeHint.DOUBLE
    of_column = {
        (statistic.name, statistic.columns): statistic.value for statistic in anneal.statistics if statistic.columns
    }
    assert of_column[("nominal_values", ("family",))] == ("GB", "GK", "GS", "TN", "ZA", "ZF", "ZH", "ZM", "ZS")
    assert of_column[("missing_values", ("family",))] == 772
    assert of_column[("missing_values", ("carbon",))] == 0
    qualities = {statistic.name: statistic.value for statistic in anneal.statistics if not statistic.columns}
    assert len(qualities) == 106
    assert qualities["NumberOfClasses"] == 6 and qualities["DecisionStumpAUC"] == 0.8652735384332186
    assert anneal.annotations["openml.licence"] == "Public"
    assert anneal.annotations["openml.tags"] == "hallo, study_1, uci, welt"
    assert anneal.comments.startswith("**Author**")


def test_a_nested_flow_becomes_a_dag_of_transforms_with_parameter_defaults(imported: mt.Tracker) -> None:
    root = imported.get("openml-flow-4024")
    assert (root.name, root.operator, root.framework, root.framework_version) == (
        "weka.FilteredClassifier(1)",
        "weka.FilteredClassifier",
        "Weka",
        "3.7.12",
    )
    assert root.input_transforms == ("openml-flow-4025",)
    assert imported.get("openml-flow-4025").input_transforms == ("openml-flow-4026",)
    assert imported.get("openml-flow-4026").input_transforms == ("openml-flow-1724",)
    assert imported.get("openml-flow-1724").input_transforms == ()
    assert root.annotations["openml.components"] == "W=openml-flow-4025"
    defaults = {parameter.name: parameter.default for parameter in root.parameters}
    assert len(defaults) == 24 and defaults["B"] == "weka.classifiers.trees.REPTree" and defaults["P21"] == 21
    assert all(not parameter.non_default and parameter.value == parameter.default for parameter in root.parameters)
    assert {parameter.name: parameter.default for parameter in imported.get("openml-flow-1724").parameters}["L"] == -1
    zero_r = imported.get("openml-flow-3")
    assert zero_r.parameters[0].name == "-D" and zero_r.parameters[0].default is False
    assert zero_r.creation_time == ms("2014-04-23 18:00:36")


def test_a_setup_marks_the_values_that_are_not_the_default(imported: mt.Tracker) -> None:
    setup = imported.get("openml-setup-100")
    assert setup.operator == "weka.J48" and setup.annotations["openml.flow_id"] == "60"
    parameters = {parameter.name: parameter for parameter in setup.parameters}
    assert (parameters["C"].value, parameters["C"].default, parameters["C"].non_default) == (0.9, 0.25, True)
    assert (parameters["M"].value, parameters["M"].default, parameters["M"].non_default) == (2, 2, False)


def test_a_task_is_the_dataset_of_its_splits_with_target_and_procedure(imported: mt.Tracker) -> None:
    task = imported.get("openml-task-1")
    assert task.derived_from == ("openml-dataset-1",) and task.target == "class"
    assert task.location == "http://www.openml.org/api_splits/get/1/Task_1_splits.arff"
    assert task.annotations["openml.estimation_procedure"] == "10-fold crossvalidation, stratified"
    assert task.annotations["openml.estimation_procedure.number_folds"] == "10"
    assert task.annotations["openml.evaluation_measures"] == "predictive_accuracy"
    assert task.annotations["openml.task_type"] == "Supervised Classification"


def test_a_run_becomes_a_model_its_predictions_and_its_evaluation(imported: mt.Tracker) -> None:
    model = imported.get("openml-run-100-model")
    assert (model.learning_algorithm, model.trained_on, model.creator) == (
        "weka.BayesNet_K2",
        "openml-task-28",
        "Jan van Rijn",
    )
    assert [(parameter.name, parameter.value) for parameter in model.hyperparameters] == [
        ("D", True),
        ("Q", "weka.classifiers.bayes.net.search.local.K2"),
        ("P", 1),
        ("S", "BAYES"),
    ]
    assert "unknown for D, Q, P, S" in model.annotations["openml.parameter_defaults"]
    assert model.environment["openml.os_information"].startswith("[ Oracle Corporation, 1.7.0_51")
    assert imported.get("openml-run-100-predictions").location.endswith(
        "weka_generated_predictions576954524972002741.arff"
    )

    evaluation = imported.get("openml-run-100-evaluation")
    assert evaluation.procedure == "the estimation procedure of OpenML task 28"
    assert evaluation.score("area_under_roc_curve").value == 0.990288
    per_class = evaluation.score("area_under_roc_curve.per_class")
    assert len(per_class.value) == 10 and per_class.value[0] == 0.99724 and per_class.typing is mt.TypeHint.DOUBLE_ARRAY
    per_fold = evaluation.score("predictive_accuracy.per_fold").value
    assert len(per_fold) == 10 and per_fold[:3] == (0.921708, 0.932384, 0.921708)  # folds 0, 1, 2 in order
    assert evaluation.score("area_under_roc_curve.per_fold").value[0] == 0.993338
    assert evaluation.score("area_under_roc_curve.per_class.per_fold").value[0][1] == 0.987789
    assert evaluation.score("number_of_instances.per_class").value[:2] == (554, 571)
    assert evaluation.score("total_cost").greater_is_better is False
    assert evaluation.score("scimark_benchmark") is None and evaluation.score("os_information") is None
    assert model.environment["openml.scimark_benchmark"].startswith("1969.9216824070186 [ 1241.89")


def run_of(flow: tuple[int, str], setup: int, settings: dict[str, str], folder: Path) -> Path:
    """run_100.xml as it would read for another flow, setup and parameter settings (the rest unchanged)."""
    text = (OPENML / "runs" / "run_100.xml").read_text()
    text = text.replace("<oml:flow_id>67</oml:flow_id>", f"<oml:flow_id>{flow[0]}</oml:flow_id>")
    text = text.replace(
        "<oml:flow_name>weka.BayesNet_K2(1)</oml:flow_name>", f"<oml:flow_name>{flow[1]}</oml:flow_name>"
    )
    text = text.replace("<oml:setup_id>12</oml:setup_id>", f"<oml:setup_id>{setup}</oml:setup_id>")
    start, end = (
        text.index("<oml:parameter_setting>"),
        text.rindex("</oml:parameter_setting>") + len("</oml:parameter_setting>"),
    )
    replaced = "".join(
        f"<oml:parameter_setting><oml:name>{name}</oml:name><oml:value>{value}</oml:value></oml:parameter_setting>"
        for name, value in settings.items()
    )
    path = folder / f"run_{flow[0]}_{setup}.xml"
    path.write_text(text[:start] + replaced + text[end:])
    return path


def test_hyperparameters_are_marked_non_default_from_the_setup_or_the_flow(
    sqlite_tracker: mt.Tracker, tmp_path: Path
) -> None:
    with_setup = run_of((60, "weka.J48(1)"), 100, {"C": "0.9", "M": "2"}, tmp_path)
    import_openml(sqlite_tracker, [OPENML / "setups" / "setup_100.xml", with_setup])
    from_setup = sqlite_tracker.get("openml-run-100-model").hyperparameters
    assert [(p.name, p.value, p.default, p.non_default) for p in from_setup] == [
        ("C", 0.9, 0.25, True),
        ("M", 2, 2, False),
    ]

    with mt.connect("memory://") as tracker:
        with_flow = run_of((100, "weka.J48(1)"), 999, {"C": "0.25", "M": "5"}, tmp_path)
        import_openml(tracker, [OPENML / "flows" / "flow_100.xml", with_flow])
        model = tracker.get("openml-run-100-model")
        marked = [(p.name, p.value, p.default, p.non_default) for p in model.hyperparameters]
        assert marked == [("C", 0.25, 0.25, False), ("M", 5, 2, True)]
        assert "openml.parameter_defaults" not in model.annotations
        assert (model.framework, model.framework_version, model.transforms) == ("Weka", "3.7.12", ("openml-flow-100",))


def test_a_listed_run_gets_its_model_and_evaluation_on_the_task(imported: mt.Tracker) -> None:
    model = imported.get("openml-run-12-model")
    assert model.learning_algorithm == "sklearn.ensemble.RandomForestClassifier" and model.trained_on == "openml-task-1"
    evaluation = imported.get("openml-run-12-evaluation")
    assert evaluation.score("predictive_accuracy").value == 0.9876
    assert evaluation.procedure == "10-fold crossvalidation, stratified"
    assert evaluation.creation_time == ms("2014-10-06T23:38:13")
    assert imported.get("openml-dataset-1").name == "anneal"  # named by the listing
    board = imported.leaderboard("openml-task-1", "predictive_accuracy")
    assert [entry.model.id for entry in board.entries] == ["openml-run-12-model"]


def test_references_without_descriptions_become_annotated_placeholders(sqlite_tracker: mt.Tracker) -> None:
    summary = import_openml(sqlite_tracker, [OPENML / "runs" / "run_100.xml"])
    optdigits = sqlite_tracker.get("openml-dataset-28")
    assert optdigits.name == "optdigits"
    assert optdigits.location == "https://www.openml.org/data/download/28/dataset_28_optdigits.arff"
    assert (
        optdigits.annotations["openml.created_from"] == "run 100" and optdigits.annotations["openml.dataset_id"] == "28"
    )
    assert optdigits.schema == () and optdigits.fingerprint is None
    assert sqlite_tracker.get("openml-flow-67").operator == "weka.BayesNet_K2"
    assert any("openml-dataset-28: made from run 100" in note for note in summary.notes)


def test_a_description_after_its_placeholder_is_refused_with_the_reason(sqlite_tracker: mt.Tracker) -> None:
    import_openml(sqlite_tracker, [OPENML / "evaluations"])  # run 12's listing names flow 100 and task 1
    count = sqlite_tracker.count()
    with pytest.raises(
        mt.ConflictError,
        match="'openml-flow-100' is stored as a placeholder made from the OpenML evaluation listing of run 12",
    ):
        import_openml(sqlite_tracker, [OPENML / "flows"])
    assert sqlite_tracker.count() == count


def test_documents_it_cannot_read_are_refused_naming_them(tmp_path: Path, sqlite_tracker: mt.Tracker) -> None:
    with pytest.raises(mt.SchemaError, match="features.xml and qualities.xml do not say which dataset they describe"):
        import_openml(
            sqlite_tracker, [OPENML / "datasets" / "2" / "features.xml", OPENML / "datasets" / "2" / "qualities.xml"]
        )
    (tmp_path / "page.xml").write_text("<html><body>not found</body></html>")
    with pytest.raises(mt.SchemaError, match="page.xml is not an OpenML document"):
        import_openml(sqlite_tracker, [tmp_path / "page.xml"])
    (tmp_path / "study.xml").write_text(
        '<oml:study xmlns:oml="http://openml.org/openml"><oml:id>1</oml:id></oml:study>'
    )
    with pytest.raises(mt.SchemaError, match="cannot import OpenML 'study' documents"):
        import_openml(sqlite_tracker, [tmp_path / "study.xml"])
    (tmp_path / "cut.xml").write_text('<oml:run xmlns:oml="http://openml.org/openml"><oml:run_id>1')
    with pytest.raises(mt.SchemaError, match="cut.xml is not an XML document"):
        import_openml(sqlite_tracker, [tmp_path / "cut.xml"])
    with pytest.raises(mt.SchemaError, match="write KIND/ID, for example run/100"):
        import_openml(sqlite_tracker, ["100"])
    assert sqlite_tracker.count() == 0


@pytest.fixture
def openml_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """The openml package (the openml extra), its cache kept in the test's folder."""
    monkeypatch.setenv("OPENML_CACHE_DIR", str(tmp_path / "openml-cache"))
    import openml

    return openml.config


def test_by_id_without_a_reachable_server_says_what_to_do(sqlite_tracker: mt.Tracker, openml_config) -> None:
    unreachable = "http://127.0.0.1:9/api/v1/xml"  # the discard port: nothing listens there
    with (
        openml_config.overwrite_config_context({"server": unreachable, "connection_n_retries": 1}),
        pytest.raises(OpenMLUnavailableError) as raised,
    ):
        import_openml(sqlite_tracker, ["run/100"])
    message = str(raised.value)
    assert f"cannot fetch run/100 from the OpenML server {unreachable}" in message
    assert "mltrack import openml FILE_OR_FOLDER" in message
    assert sqlite_tracker.count() == 0


SERVED = {
    "run/100": "runs/run_100.xml",
    "data/2": "datasets/2/description.xml",
    "data/features/2": "datasets/2/features.xml",
    "data/qualities/2": "datasets/2/qualities.xml",
    "flow/4024": "flows/flow_4024.xml",
    "task/1": "tasks/task_1.xml",
    "setup/100": "setups/setup_100.xml",
}
UNKNOWN_RUN = (
    '<oml:error xmlns:oml="http://openml.org/openml"><oml:code>220</oml:code>'
    "<oml:message>Unknown run</oml:message></oml:error>"
)


class OpenMLDocuments(BaseHTTPRequestHandler):
    """Answers the REST API calls of the importer with the fixture documents, as the OpenML server would."""

    def do_GET(self) -> None:  # http.server's handler protocol names it
        endpoint = self.path.partition("?")[0].removeprefix("/api/v1/xml/")
        fixture = SERVED.get(endpoint)
        body = (OPENML / fixture).read_bytes() if fixture else UNKNOWN_RUN.encode()
        self.send_response(200 if fixture else 412)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *arguments: object) -> None:  # quiet: no request log on stderr
        pass


@pytest.fixture
def openml_server(openml_config) -> Iterator[str]:
    """A local HTTP server with the OpenML REST API's paths, configured as the openml package's server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenMLDocuments)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/xml"
    with openml_config.overwrite_config_context({"server": url, "connection_n_retries": 1}):
        yield url
    server.shutdown()
    server.server_close()
    thread.join()


def test_by_id_the_api_documents_are_imported_like_the_files(openml_server: str, sqlite_tracker: mt.Tracker) -> None:
    files = ["datasets/2", "flows/flow_4024.xml", "setups/setup_100.xml", "tasks/task_1.xml", "runs/run_100.xml"]
    import_openml(sqlite_tracker, [OPENML / file for file in files])
    with mt.connect("memory://") as fetched:
        summary = import_openml(fetched, ["dataset/2", "flow/4024", "setup/100", "task/1", "run/100"])
        assert summary.total == sqlite_tracker.count() == 14
        ids = [entity.id for entity in fetched.find()]
        assert fetched.get_many(ids) == sqlite_tracker.get_many(ids)  # the same entities as from the saved files
        assert len(fetched.get("openml-dataset-2").schema) == 39  # description, features and qualities together

        with pytest.raises(mt.NotFoundError, match=r"OpenML \(http://127\.0\.0\.1:\d+/api/v1/xml\) has no run 999"):
            import_openml(fetched, ["run/999"])


def test_the_command_shows_what_it_imported(tmp_path: Path, mltrack) -> None:
    result = mltrack("import", "openml", str(OPENML))
    assert result.exit_code == 0, result.output
    assert "imported 18 new entities" in result.stdout and "8 transform" in result.stdout
    assert "note: openml-dataset-28: made from run 100" in result.stdout
    assert "reading OpenML documents" in result.stderr and "11/11" in result.stderr  # progress over the 11 files

    again = mltrack("import", "openml", str(OPENML), "--json")
    document = json.loads(again.stdout)
    assert document["written"] == {} and document["unchanged"] == 14

    single = mltrack("import", "openml", str(OPENML / "flows" / "flow_3.xml"))
    assert "reading OpenML documents" not in single.stderr  # one item: no progress bar

    shutil.copy(OPENML / "datasets" / "2" / "features.xml", tmp_path / "features.xml")
    bad = mltrack("import", "openml", str(tmp_path / "features.xml"))
    assert bad.exit_code == 1 and "features.xml do not say which dataset they describe" in bad.stderr
