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
    pytest.param({"entities": [{"kind": "dataset", "name": "d", "id": "a b"}]}, "not a valid id", id="bad id"),
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
    _refused(answer, 404, "NotFoundError", "evaluation", model)
    answer = requests.get(f"{api}/v1/datasets/{model}/leaderboard", params={"metric": "accuracy"}, timeout=10)
    _refused(answer, 404, "NotFoundError", "dataset", model)
    answer = requests.get(f"{api}/v1/models/{dataset}/diff/{model}", timeout=10)
    _refused(answer, 404, "NotFoundError", "model", dataset)
    _refused(requests.get(f"{api}/v1/datasets/{dataset}/leaderboard", timeout=10), 422, "SchemaError", "metric")


# ---------------------------------------------------------------- numbers beyond the stores' range

MAX_TIME, MAX_COUNT = 253_402_300_799_999, 2**63 - 1


def _raw_post(api: str, path: str, text: str) -> requests.Response:
    return requests.post(f"{api}{path}", data=text, headers={"Content-Type": "application/json"}, timeout=10)


@pytest.mark.parametrize(
    ("path", "text", "number", "named"),
    [
        pytest.param("/v1/entities", '{"entities":[{"kind":"dataset","name":"d","creation_time":N}]}', 2**63,
                     "creation_time", id="creation time 2**63"),
        pytest.param("/v1/entities", '{"entities":[{"kind":"dataset","name":"d","creation_time":N}]}', MAX_TIME + 1,
                     "creation_time", id="creation time after year 9999"),
        pytest.param("/v1/entities", '{"entities":[{"kind":"dataset","name":"d","creation_time":N}]}', "1e400",
                     "creation_time", id="creation time 1e400"),
        pytest.param("/v1/entities", '{"entities":[{"kind":"dataset","name":"d","row_count":N}]}', 2**63,
                     "row_count", id="row count 2**63"),
        pytest.param("/v1/points", '{"points":[["RUN","loss",1.0,N,null,1]]}', 2**63, "points[0][3]", id="epoch"),
        pytest.param("/v1/points", '{"points":[["RUN","loss",1.0,null,N,1]]}', 2**64, "points[0][4]", id="step"),
        pytest.param("/v1/points", '{"points":[["RUN","loss",1.0,null,null,N]]}', MAX_TIME + 1,
                     "points[0][5]", id="timestamp"),
        pytest.param("/v1/points", '{"points":[["RUN","loss",1.0,null,N,1]]}', -1, "points[0][4]", id="negative step"),
        pytest.param("/v1/query/ids", '{"limit":N}', 2**63, "limit", id="query limit"),
        pytest.param("/v1/query/ids", '{"offset":N}', 2**64, "offset", id="query offset"),
        pytest.param("/v1/query/count", '{"created_after":N}', 2**63, "created_after", id="created after"),
        pytest.param("/v1/query/count", '{"created_before":N}', "1e400", "created_before", id="created before 1e400"),
        pytest.param("/v1/query/count", '{"offset":N}', -1, "offset", id="negative offset"),
    ],
)  # fmt: skip
def test_numbers_beyond_the_stores_range_are_refused_with_422(
    api: str, stored: dict[str, str], path: str, text: str, number: object, named: str
) -> None:
    before = _count(api)
    text = text.replace("RUN", stored["run"]).replace("N", str(number))
    _refused(_raw_post(api, path, text), 422, "SchemaError", named)
    assert _count(api) == before and _points(api, stored["run"]) == 0


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("created_after", 2**63),
        ("created_before", MAX_TIME + 1),
        ("offset", 2**63),
        ("offset", 10**30),
        ("limit", 2**63),
    ],
)
def test_numbers_beyond_range_in_a_query_string_are_refused_with_422(api: str, parameter: str, value: int) -> None:
    answer = requests.get(f"{api}/v1/entities", params={parameter: value}, timeout=10)
    _refused(answer, 422, "SchemaError", parameter)


def test_the_largest_numbers_the_stores_hold_are_accepted(api: str, stored: dict[str, str]) -> None:
    latest = {"kind": "dataset", "id": f"ds-latest-{_count(api)}", "name": "d", "creation_time": MAX_TIME}
    assert _post(api, "/v1/entities", {"entities": [latest]}).status_code == 200
    assert requests.get(f"{api}/v1/entities/{latest['id']}", timeout=10).json()["creation_time"] == MAX_TIME
    point = [stored["run"], "loss", 1.0, MAX_COUNT, MAX_COUNT, MAX_TIME]
    assert _post(api, "/v1/points", {"points": [point]}).status_code == 200
    assert requests.get(f"{api}/v1/runs/{stored['run']}/points", timeout=10).json()["points"] == [point]
    far = requests.get(f"{api}/v1/entities", params={"offset": MAX_COUNT, "created_before": MAX_TIME}, timeout=10)
    assert far.status_code == 200 and far.json()["entities"] == []
    assert _post(api, "/v1/query/count", {"offset": MAX_COUNT, "limit": MAX_COUNT}).status_code == 200


def test_a_score_of_1e400_is_infinity_and_is_answered_in_standard_json(api: str, stored: dict[str, str]) -> None:
    evaluation = {"kind": "evaluation", "id": f"eval-inf-{_count(api)}", "computed_by": stored["model"]}
    text = json.dumps({"entities": [{**evaluation, "on_dataset": stored["dataset"]}]})
    text = text.replace('"computed_by"', '"scores":[{"metric":"m","value":1e400},{"metric":"n","value":NaN}],'
                                         '"computed_by"')  # fmt: skip
    assert _raw_post(api, "/v1/entities", text).status_code == 200
    answer = requests.get(f"{api}/v1/entities/{evaluation['id']}", timeout=10)
    strict = json.loads(answer.text, parse_constant=_not_standard)
    assert [score["value"] for score in strict["scores"]] == ["Infinity", "NaN"]
    points = [[stored["run"], "loss", value, None, None, 1] for value in ("NaN", "Infinity", "-Infinity", 0.5)]
    assert _post(api, "/v1/points", {"points": points}).status_code == 200
    answer = requests.get(f"{api}/v1/runs/{stored['run']}/points", timeout=10)
    assert [row[2] for row in json.loads(answer.text, parse_constant=_not_standard)["points"]] == [
        "NaN", "Infinity", "-Infinity", 0.5
    ]  # fmt: skip
    raw = _raw_post(api, "/v1/points", '{"points":[["RUN","loss",NaN,null,null,2]]}'.replace("RUN", stored["run"]))
    assert raw.status_code == 200  # Python's spelling is still read, for clients of older releases


def _not_standard(name: str) -> None:
    raise AssertionError(f"{name} is not standard JSON")


# ---------------------------------------------------------------- ids that cannot be ids, in paths


@pytest.mark.parametrize(
    ("path", "named"),
    [
        pytest.param("/v1/entities/a%2Fb", "'a/b'", id="entity"),
        pytest.param("/v1/entities/team%2Frun-1/lineage", "'team/run-1'", id="lineage"),
        pytest.param("/v1/entities/x%2Flineage", "'x/lineage'", id="not routed as the lineage of x"),
        pytest.param("/v1/runs/a%2fb/points", "'a/b'", id="run points, lower-case escape"),
        pytest.param("/v1/entities/a%00b", "'a\\x00b'", id="NUL"),
        pytest.param("/v1/entities/a%0Ab", "'a\\nb'", id="line break"),
        pytest.param("/v1/entities/%2E%2E", "'..'", id="dot dot"),
        pytest.param("/v1/models/a%2Fb/diff/c", "'a/b'", id="diff"),
    ],
)
def test_an_id_that_cannot_be_an_id_is_a_404_naming_it_and_the_rule(api: str, path: str, named: str) -> None:
    answer = requests.get(f"{api}{path}", timeout=10)
    _refused(answer, 404, "NotFoundError", named, "not a valid id", "no '/'")


def test_ending_a_run_whose_id_has_a_slash_names_the_id(api: str) -> None:
    before = _count(api)
    answer = _post(api, "/v1/runs/a%2Fb/end", {"run": {"kind": "run", "id": "a/b", "state": "FINISHED"}})
    _refused(answer, 404, "NotFoundError", "'a/b'", "not a valid id")
    assert _count(api) == before


def test_a_path_that_is_not_utf8_finds_nothing(api: str) -> None:
    _refused(requests.get(f"{api}/v1/entities/%FF%FE", timeout=10), 404, "NotFoundError", "no entity")


def test_invalid_ids_in_a_lookup_find_nothing(api: str, stored: dict[str, str]) -> None:
    answer = _post(api, "/v1/entities/lookup", {"ids": [stored["dataset"], "a/b", "a\x00b", "..", "\x1b"]})
    assert answer.status_code == 200 and list(answer.json()["entities"]) == [stored["dataset"]]


# ---------------------------------------------------------------- bodies that are not JSON text


def test_a_body_that_is_not_utf8_is_a_400(api: str) -> None:
    before = _count(api)
    answer = _raw_post(api, "/v1/entities", b'{"entities":[{"kind":"dataset","name":"\xff\xfe"}]}')  # type: ignore[arg-type]
    _refused(answer, 400, "BadRequest", "UTF-8")
    assert _count(api) == before


def test_json_nested_deeper_than_the_parser_goes_is_a_4xx(api: str) -> None:
    before = _count(api)
    answer = _raw_post(api, "/v1/entities", '{"entities":' + "[" * 30_000 + "]" * 30_000 + "}")
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["status"] == answer.status_code
    assert _count(api) == before
