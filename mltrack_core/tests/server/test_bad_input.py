"""Bad requests get a 4xx with a JSON body naming the problem, never a 5xx, and write nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from rest_servers import ServerProcess

MAX_BODY = 64 * 1024
DEEP: list = []
for _ in range(600):
    DEEP = [DEEP]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server over SQLite for the whole module, with a small body limit; every test checks what it wrote."""
    folder = tmp_path_factory.mktemp("bad-input")
    server = ServerProcess(f"sqlite:///{folder}/store.db", folder / "server.log", "--max-body", str(MAX_BODY))
    server.start()
    yield server.url
    assert server.stop() == 0
    assert "Traceback" not in server.log_text()  # no request made the server fail


@pytest.fixture
def stored(api: str) -> dict[str, str]:
    """A dataset, a model and a running training run, stored fresh for each test."""
    suffix = _count(api)
    dataset = {"kind": "dataset", "id": f"ds-{suffix}", "name": "iris"}
    model = {
        "kind": "model",
        "id": f"model-{suffix}",
        "name": "lr",
        "learning_algorithm": "lr",
        "trained_on": dataset["id"],
    }
    run = {"kind": "run", "id": f"run-{suffix}", "state": "TRAINING", "start_time": 1000, "trained_on": dataset["id"]}
    answer = requests.post(f"{api}/v1/entities", json={"entities": [dataset, model, run]}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"dataset": dataset["id"], "model": model["id"], "run": run["id"]}


def _count(api: str) -> int:
    return requests.post(f"{api}/v1/query/count", json={}, timeout=10).json()["count"]


def _points(api: str, run_id: str) -> int:
    return requests.get(f"{api}/v1/runs/{run_id}/points", timeout=10).json()["total"]


def _refused(response: requests.Response, status: int, error: str, *named: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error and body["status"] == status
    for text in named:
        assert text in body["message"], body["message"]


def _post(api: str, path: str, body: object) -> requests.Response:
    return requests.post(
        f"{api}{path}", data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10
    )


ENTITY_CASES = [
    pytest.param({"entities": [{"kind": "dataset", "name": 5}]}, "Dataset", id="wrong type of a field"),
    pytest.param({"entities": [{"kind": "dataset"}]}, "name", id="missing required field"),
    pytest.param({"entities": [{"kind": "table", "name": "t"}]}, "unknown entity kind 'table'", id="unknown kind"),
    pytest.param({"entities": [{"kind": "dataset", "name": "d", "colour": "red"}]}, "colour", id="unknown field"),
    pytest.param({"entities": [{"kind": "dataset", "name": "d", "id": "a b"}]}, "without spaces", id="bad id"),
    pytest.param({"entities": [{"kind": "dataset", "name": "d", "id": "x" * 600}]}, "512", id="id too long"),
    pytest.param({"entities": [{"kind": "dataset", "name": "d", "row_count": -3}]}, "row_count", id="negative count"),
    pytest.param(
        {
            "entities": [
                {"kind": "evaluation", "computed_by": "m", "on_dataset": "d", "confusion_matrix": {"labels": 5}}
            ]
        },
        "confusion_matrix",
        id="a struct of the wrong shape",
    ),
    pytest.param({"entities": ["dataset"]}, "entities[0]", id="entity not an object"),
    pytest.param(
        {"entities": [{"kind": "dataset", "name": "d", "statistics": [{"name": "s", "value": DEEP}]}]},
        "nest more than 100 levels deep",
        id="nested too deeply",
    ),
    pytest.param({"entities": []}, "entities", id="no entities"),
    pytest.param({"entity": {"kind": "dataset", "name": "d"}}, "entities", id="misspelt key"),
    pytest.param([{"kind": "dataset", "name": "d"}], "body", id="body not an object"),
    pytest.param(
        {"entities": [{"kind": "run", "name": "r", "scores_over_time": [{"metric": "m", "value": 1, "timestamp": 1}]}]},
        "POST /v1/points",
        id="run with points",
    ),
]


@pytest.mark.parametrize(("body", "named"), ENTITY_CASES)
def test_invalid_entities_are_refused_with_422(api: str, body: object, named: str) -> None:
    before = _count(api)
    _refused(_post(api, "/v1/entities", body), 422, "SchemaError", named)
    assert _count(api) == before


def test_malformed_json_is_a_400(api: str) -> None:
    before = _count(api)
    answer = requests.post(
        f"{api}/v1/entities", data=b'{"entities": [{"kind": "dataset",', headers={"Content-Type": "application/json"}
    )
    _refused(answer, 400, "BadRequest", "not valid JSON")
    assert _count(api) == before


def test_a_bad_entity_in_a_batch_writes_none_of_it(api: str) -> None:
    before = _count(api)
    good = {"kind": "dataset", "id": "ds-batch-good", "name": "fine"}
    bad = {"kind": "model", "id": "model-batch-bad", "name": "m", "learning_algorithm": 3, "trained_on": good["id"]}
    _refused(
        _post(api, "/v1/entities", {"entities": [good, bad]}), 422, "SchemaError", "entities[1]", "learning_algorithm"
    )
    assert _count(api) == before
    _refused(requests.get(f"{api}/v1/entities/ds-batch-good", timeout=10), 404, "NotFoundError", "ds-batch-good")


def test_dangling_lineage_is_refused_and_nothing_is_written(api: str) -> None:
    before = _count(api)
    dataset = {"kind": "dataset", "id": "ds-dangling-batch", "name": "d"}
    model = {
        "kind": "model",
        "id": "model-dangling",
        "name": "m",
        "learning_algorithm": "lr",
        "trained_on": "ds-nowhere",
    }
    answer = _post(api, "/v1/entities", {"entities": [dataset, model]})
    _refused(answer, 422, "DanglingReferenceError", "ds-nowhere", "trained_on", "model-dangling")
    assert _count(api) == before


def test_a_reference_to_the_wrong_kind_is_refused(api: str, stored: dict[str, str]) -> None:
    evaluation = {"kind": "evaluation", "computed_by": stored["dataset"], "on_dataset": stored["dataset"]}
    answer = _post(api, "/v1/entities", {"entities": [evaluation]})
    _refused(answer, 422, "DanglingReferenceError", "is a dataset, not a model")


def test_rewriting_a_stored_id_is_a_conflict_and_changes_nothing(api: str, stored: dict[str, str]) -> None:
    before = requests.get(f"{api}/v1/entities/{stored['dataset']}", timeout=10).json()
    changed = {"kind": "dataset", "id": stored["dataset"], "name": "renamed"}
    _refused(_post(api, "/v1/entities", {"entities": [changed]}), 409, "ConflictError", stored["dataset"])
    assert requests.get(f"{api}/v1/entities/{stored['dataset']}", timeout=10).json() == before


def test_an_evaluation_must_match_its_prediction(api: str, stored: dict[str, str]) -> None:
    other = {"kind": "dataset", "id": f"{stored['dataset']}-other", "name": "other"}
    prediction = {
        "kind": "prediction",
        "computed_by": stored["model"],
        "on_dataset": other["id"],
        "id": "pred-mismatch",
    }
    evaluation = {
        "kind": "evaluation",
        "computed_by": stored["model"],
        "on_dataset": stored["dataset"],
        "for_prediction": prediction["id"],
    }
    before = _count(api)
    answer = _post(api, "/v1/entities", {"entities": [other, prediction, evaluation]})
    _refused(answer, 422, "SchemaError", "pred-mismatch", other["id"])
    assert _count(api) == before


def test_unknown_ids_are_404s(api: str) -> None:
    _refused(requests.get(f"{api}/v1/entities/ds-unknown", timeout=10), 404, "NotFoundError", "ds-unknown")
    _refused(requests.get(f"{api}/v1/entities/ds-unknown/lineage", timeout=10), 404, "NotFoundError", "ds-unknown")
    _refused(requests.get(f"{api}/v1/runs/run-unknown/points", timeout=10), 404, "NotFoundError", "run-unknown")
    answer = requests.get(f"{api}/v1/datasets/ds-unknown/leaderboard", params={"metric": "accuracy"}, timeout=10)
    _refused(answer, 404, "NotFoundError", "ds-unknown")
    assert _post(api, "/v1/entities/lookup", {"ids": ["ds-unknown"]}).json() == {"entities": {}}


@pytest.mark.parametrize(
    ("row", "named"),
    [
        pytest.param(["RUN", "loss", "high", None, None, 1], "points[1][2]", id="value not a number"),
        pytest.param(["RUN", "loss", 0.5, -1, None, 1], "points[1][3]", id="negative epoch"),
        pytest.param(["RUN", "loss", 0.5, None, 2.5, 1], "points[1][4]", id="fractional step"),
        pytest.param(["RUN", "", 0.5, None, None, 1], "points[1][1]", id="empty metric"),
        pytest.param(["RUN", "loss", 0.5, None], "points[1]", id="short row"),
        pytest.param(["RUN", "loss", True, None, None, 1], "points[1][2]", id="boolean value"),
    ],
)
def test_malformed_points_are_refused(api: str, stored: dict[str, str], row: list, named: str) -> None:
    good = [stored["run"], "loss", 1.0, 0, 0, 1]
    bad = [stored["run"] if item == "RUN" else item for item in row]
    _refused(_post(api, "/v1/points", {"points": [good, bad]}), 422, "SchemaError", named)
    assert _points(api, stored["run"]) == 0


def test_points_of_unknown_or_ended_runs_are_refused(api: str, stored: dict[str, str]) -> None:
    good = [stored["run"], "loss", 1.0, 0, 0, 1]
    answer = _post(api, "/v1/points", {"points": [good, ["run-nowhere", "loss", 1.0, 0, 0, 1]]})
    _refused(answer, 404, "NotFoundError", "run-nowhere")
    assert _points(api, stored["run"]) == 0
    ended = {"kind": "run", "id": stored["run"], "state": "FINISHED", "start_time": 1000, "end_time": 2000}
    ended["trained_on"] = stored["dataset"]
    assert _post(api, f"/v1/runs/{stored['run']}/end", {"run": ended}).status_code == 200
    _refused(_post(api, "/v1/points", {"points": [good]}), 409, "RunStateError", stored["run"], "FINISHED")
    assert _points(api, stored["run"]) == 0


def test_ending_a_run_follows_the_trackers_rules(api: str, stored: dict[str, str]) -> None:
    run_id = stored["run"]
    started = {"kind": "run", "id": run_id, "state": "TRAINING", "start_time": 1000, "trained_on": stored["dataset"]}
    path = f"/v1/runs/{run_id}/end"
    still_running = {**started}
    _refused(_post(api, path, {"run": still_running}), 409, "RunStateError", "FINISHED or FAILED")
    moved = {**started, "state": "FINISHED", "end_time": 2000, "start_time": 999}
    _refused(_post(api, path, {"run": moved}), 409, "RunStateError", "start_time")
    retrained = {**started, "state": "FINISHED", "end_time": 2000, "trained_on": f"{stored['dataset']}-other"}
    _refused(_post(api, path, {"run": retrained}), 409, "RunStateError", "trained_on")
    dangling = {**started, "state": "FINISHED", "end_time": 2000, "for_model": "model-nowhere"}
    _refused(_post(api, path, {"run": dangling}), 422, "DanglingReferenceError", "model-nowhere")
    ended = {**started, "state": "FINISHED", "end_time": 2000, "for_model": stored["model"], "name": "filled in"}
    not_a_run = _post(api, f"/v1/runs/{stored['dataset']}/end", {"run": {**ended, "id": stored["dataset"]}})
    _refused(not_a_run, 404, "NotFoundError", "is a dataset")
    _refused(_post(api, "/v1/runs/run-other/end", {"run": ended}), 422, "SchemaError", "run-other")
    assert "state" not in requests.get(f"{api}/v1/entities/{run_id}", timeout=10).json()  # TRAINING, the default
    first = _post(api, path, {"run": ended})
    assert first.status_code == 200 and first.json()["changed"] is True
    again = _post(api, path, {"run": ended})  # a retry of the same end is a no-op
    assert again.status_code == 200 and again.json()["changed"] is False
    _refused(_post(api, path, {"run": {**ended, "state": "FAILED"}}), 409, "RunStateError", "already ended")
    assert requests.get(f"{api}/v1/entities/{run_id}", timeout=10).json()["state"] == "FINISHED"


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        pytest.param("/v1/query/ids", {"limit": "ten"}, "limit", id="query limit not a number"),
        pytest.param("/v1/query/ids", {"kind": "table"}, "kind", id="query of an unknown kind"),
        pytest.param("/v1/query/count", {"links": [["trained_on"]]}, "links[0]", id="link not a pair"),
        pytest.param("/v1/entities/lookup", {"ids": "ds-1"}, "ids", id="ids not a list"),
        pytest.param("/v1/links", {"ids": ["a"], "direction": "sideways"}, "direction", id="unknown direction"),
        pytest.param("/v1/scores", {"datasets": ["a"]}, "metric", id="scores without a metric"),
    ],
)
def test_malformed_queries_are_refused(api: str, path: str, body: object, named: str) -> None:
    _refused(_post(api, path, body), 422, "SchemaError", named)


def test_bad_query_parameters_are_refused(api: str) -> None:
    _refused(requests.get(f"{api}/v1/entities", params={"limit": -1}, timeout=10), 422, "SchemaError", "limit")
    _refused(requests.get(f"{api}/v1/entities", params={"tag": "no-equals"}, timeout=10), 422, "SchemaError", "tag")
    answer = requests.get(f"{api}/v1/entities/ds-x/lineage", params={"direction": "sideways"}, timeout=10)
    _refused(answer, 422, "SchemaError", "direction")


def test_a_body_over_the_limit_is_a_413(api: str) -> None:
    before = _count(api)
    huge = {"entities": [{"kind": "dataset", "name": "d", "comments": "x" * (MAX_BODY + 10)}]}
    _refused(_post(api, "/v1/entities", huge), 413, "ContentTooLarge", str(MAX_BODY))
    assert _count(api) == before


def test_a_streamed_body_over_the_limit_is_a_413(api: str) -> None:
    before = _count(api)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent with chunked transfer encoding
        yield b'{"entities": [{"kind": "dataset", "name": "d", "comments": "'
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024
        yield b'"}]}'

    answer = requests.post(f"{api}/v1/entities", data=chunks(), headers={"Content-Type": "application/json"})
    _refused(answer, 413, "ContentTooLarge", str(MAX_BODY))
    assert _count(api) == before


def test_unknown_endpoints_and_methods_answer_in_json(api: str) -> None:
    _refused(requests.get(f"{api}/v1/nothing-here", timeout=10), 404, "NotFound", "/v1/nothing-here")
    _refused(requests.delete(f"{api}/v1/entities/ds-1", timeout=10), 405, "MethodNotAllowed", "DELETE")


def test_provenance_questions_about_the_wrong_kind_are_404s(api: str, stored: dict[str, str]) -> None:
    model, dataset = stored["model"], stored["dataset"]
    answer = requests.get(f"{api}/v1/evaluations/{model}/comparable/{model}", timeout=10)
    _refused(answer, 404, "NotFoundError", "no evaluation", model)
    answer = requests.get(f"{api}/v1/datasets/{model}/leaderboard", params={"metric": "accuracy"}, timeout=10)
    _refused(answer, 404, "NotFoundError", "no dataset", model)
    _refused(requests.get(f"{api}/v1/models/{dataset}/diff/{model}", timeout=10), 404, "NotFoundError", "no model")
    _refused(requests.get(f"{api}/v1/datasets/{dataset}/leaderboard", timeout=10), 422, "SchemaError", "metric")
