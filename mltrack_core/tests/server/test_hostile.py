"""Hostile requests, as an attacker and a careless client send them, against a server over SQLite and PostgreSQL.

Schema-driven requests (schemathesis) against every operation of the OpenAPI
document, then injection strings, path-like and control-character ids, huge
numbers, NUL, invalid UTF-8 and deep nesting in every parameter of a valid
request. Every answer is counted: no 5xx, none off the document (status,
content type, strict JSON, schema), no refused write that changed the store,
and no file written outside the store's folder. Bounded: a fixed number of
examples per operation, derandomized.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_servers import ServerProcess, popen_in

EXAMPLES_PER_OPERATION = 15
"""Schema-driven requests per operation and mode (valid, then invalid data): about 500 a store."""

WRITES = {("POST", "/v1/entities"), ("POST", "/v1/points"), ("POST", "/v1/runs/{run_id}/end")}
MAX_TIME = 253_402_300_799_999

# ---------------------------------------------------------------- what the document allows


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not standard JSON")


def strict_json(text: str) -> Any:
    """The value of standard JSON text (no NaN, no Infinity: a strict parser's view)."""
    return json.loads(text, parse_constant=_refuse_constant)


class Document:
    """The server's OpenAPI document, and what an answer to one of its operations may be."""

    def __init__(self, url: str) -> None:
        self.spec = requests.get(f"{url}/openapi.json", timeout=30).json()
        self._validators: dict[tuple[str, str, str], jsonschema.Draft202012Validator] = {}

    def problems(self, method: str, template: str, answer: requests.Response) -> list[str]:
        """What is wrong with ``answer`` to ``method template``: a 5xx, or anything the document does not say."""
        status = answer.status_code
        if status >= 500:
            return [f"{status} {answer.text[:200]}"]
        declared = self.spec["paths"][template][method.lower()]["responses"]
        key = str(status) if str(status) in declared else "default"
        if key not in declared:
            return [f"status {status} is not declared"]
        if not answer.headers.get("content-type", "").startswith("application/json"):
            return [f"{status} with content type {answer.headers.get('content-type')!r}"]
        try:
            body = strict_json(answer.content.decode("utf-8"))
        except ValueError as exc:
            return [f"{status}: the body is not standard JSON in UTF-8 ({exc}): {answer.text[:200]}"]
        validator = self._validator(method, template, key)
        return [f"{status}: {error.message[:300]} at {error.json_path}" for error in validator.iter_errors(body)][:3]

    def _validator(self, method: str, template: str, key: str) -> jsonschema.Draft202012Validator:
        found = self._validators.get((method, template, key))
        if found is None:
            declared = self.spec["paths"][template][method.lower()]["responses"][key]
            schema = {**declared["content"]["application/json"]["schema"], "components": self.spec["components"]}
            found = self._validators[(method, template, key)] = jsonschema.Draft202012Validator(schema)
        return found


# ---------------------------------------------------------------- the server and what it holds


class Hostile:
    """One server for the module, its document, the entities it was seeded with, and the tally of bad answers."""

    def __init__(self, server: ServerProcess, folder: Path) -> None:
        self.server = server
        self.url = server.url
        self.folder = folder
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: no proxy settings to read for every request
        self.document = Document(self.url)
        self.bad: Counter[str] = Counter()
        self.answers = 0
        self.refused_writes = 0
        self._known: tuple | None = None  # the store's state, as long as no write was accepted since

    def send(self, method: str, template: str, path: str, *, query: str = "", body: bytes | None = None) -> None:
        """Send one request and tally what is wrong with its answer (a refused write must change nothing)."""
        url = f"{self.url}{path}{'?' + query if query else ''}"
        headers = {"Content-Type": "application/json"} if body is not None else {}
        before = self.state_before() if (method, template) in WRITES else None
        answer = self.session.request(method, url, data=body, headers=headers, timeout=60, allow_redirects=False)
        self.check(method, template, answer, before, f"{method} {path}?{query} {body[:150] if body else ''!r}")

    def check(self, method: str, template: str, answer: requests.Response, before: Any, label: str) -> None:
        self.answers += 1
        for problem in self.document.problems(method, template, answer):
            self.bad[f"{label}: {problem}"] += 1
        if before is None:
            return
        if answer.status_code < 400:
            self._known = None  # written: the state before is history
            return
        self.refused_writes += 1
        self._known = self.state()
        if self._known != before:
            self.bad[f"{label}: refused ({answer.status_code}) but the store changed"] += 1

    def state_before(self) -> tuple:
        """The store's state before a write (read again only after a write was accepted)."""
        if self._known is None:
            self._known = self.state()
        return self._known

    def state(self) -> tuple:
        """What the store holds, as the API tells: every id, the seeded runs' documents and points."""
        ids = self.session.post(f"{self.url}/v1/query/ids", json={}, timeout=60).json()["ids"]
        runs = self.session.post(f"{self.url}/v1/entities/lookup", json={"ids": SEEDED_RUNS}, timeout=60).text
        points = self.session.get(f"{self.url}/v1/runs/{RUN}/points", timeout=60).text
        return sorted(ids), runs, points

    def report(self) -> str:
        lines = [f"{count} x {problem}" for problem, count in self.bad.most_common(40)]
        return f"{sum(self.bad.values())} bad answers of {self.answers}:\n" + "\n".join(lines)


DATASET, MODEL, RUN, ENDING_RUN, EVALUATION = "h-ds", "h-model", "h-run", "h-run-end", "h-eval"
SEEDED_RUNS = [RUN, ENDING_RUN]


def _seed(url: str) -> None:
    entities = [
        {"kind": "dataset", "id": DATASET, "name": "iris", "tags": {"source": "uci"}, "row_count": 150},
        {"kind": "model", "id": MODEL, "name": "lr", "learning_algorithm": "lr", "trained_on": DATASET},
        {"kind": "run", "id": RUN, "state": "TRAINING", "start_time": 1000, "trained_on": DATASET},
        {"kind": "run", "id": ENDING_RUN, "state": "TRAINING", "start_time": 1000, "trained_on": DATASET},
        {
            "kind": "evaluation",
            "id": EVALUATION,
            "computed_by": MODEL,
            "on_dataset": DATASET,
            "scores": [
                {"metric": "accuracy", "value": 0.9},
                {"metric": "nan", "value": "NaN", "typing": "DOUBLE"},
                {"metric": "inf", "value": "Infinity", "typing": "DOUBLE"},
            ],
        },
    ]
    answer = requests.post(f"{url}/v1/entities", json={"entities": entities}, timeout=30)
    assert answer.status_code == 200, answer.text
    points = [[RUN, "loss", 0.5, 0, 0, 1000], [RUN, "loss", math.nan, 0, 1, 1001], [RUN, "loss", -math.inf, 0, 2, 1002]]
    text = json.dumps({"points": points})  # NaN and -Infinity in Python's spelling, as older clients send them
    answer = requests.post(f"{url}/v1/points", data=text, headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def hostile(durable_store_kind: str, fresh_stores, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """A server over a fresh store of the kind, run in an empty folder; checked for stray files and tracebacks."""
    folder = tmp_path_factory.mktemp("hostile")
    store_uri = fresh_stores.new(durable_store_kind)
    cwd = folder / "cwd"
    cwd.mkdir()
    server = ServerProcess(store_uri, folder / "server.log", spawn=popen_in(cwd)).start()
    _seed(server.url)
    hostile = Hostile(server, folder)
    yield hostile
    hostile.session.close()
    assert server.stop() == 0
    log = server.log_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    assert list(cwd.iterdir()) == []  # nothing written where the server runs
    if store_uri.startswith("sqlite:"):
        store_folder = Path(store_uri.removeprefix("sqlite:///")).parent
        assert {path.name for path in store_folder.iterdir()} <= {"store.db", "store.db-wal", "store.db-shm"}


# ---------------------------------------------------------------- schema-driven requests


def test_schema_driven_requests_get_answers_the_document_describes(hostile: Hostile) -> None:
    schema = schemathesis.openapi.from_dict(hostile.document.spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _fuzz(hostile, operation, mode)
    assert hostile.answers >= 16 * EXAMPLES_PER_OPERATION
    assert not hostile.bad, hostile.report()
    _assert_seeds_intact(hostile)


def _fuzz(hostile: Hostile, operation: Any, mode: schemathesis.GenerationMode) -> None:
    template, method = operation.path, operation.method.upper()

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        request = case.as_transport_kwargs(base_url=hostile.url)
        before = hostile.state_before() if (method, template) in WRITES else None
        answer = hostile.session.request(**request, timeout=60, allow_redirects=False)
        label = f"{mode.value} {method} {answer.request.path_url[:150]} {str(request.get('json'))[:150]}"
        hostile.check(method, template, answer, before, label)

    with contextlib.suppress(Unsatisfiable):  # an operation without parameters has one request, sent already
        send()


# ---------------------------------------------------------------- injection strings in every parameter

TEXTS = [
    "' OR '1'='1",
    "'; DROP TABLE entities; --",
    '"); DELETE FROM points; --',
    "../../x",
    "/etc/passwd",
    "a/b",
    "%2F",
    "..",
    "\x00",
    "a\x00b",
    "a\nb\r\nc",
    "\x1b[31m",
    "\u2028\u200b",
    "\ud800",
    "",
    " ",
    "x" * 600,
    "😀",
    "NaN",
    "99999999999999999999",
    "-1",
    "1e400",
]
"""Hostile text, sent in paths and query strings (percent-encoded as UTF-8, lone surrogates too) and in JSON."""

NUMBERS = [
    "9223372036854775807",
    "253402300799999",
    "9223372036854775808",
    "18446744073709551616",
    "1" + "0" * 400,
    "-1",
    "-9223372036854775809",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    "[" * 300 + "]" * 300,
]
"""Hostile JSON values (as JSON text: 1e400 parses as infinity, NaN is not standard JSON)."""

NOT_UTF8 = '"\udcff\udcfe"'
"""Two bytes that are not UTF-8 (0xFF 0xFE), as JSON text: written with the surrogateescape error handler."""
FOR_TEXT = [json.dumps(text) for text in TEXTS] + [NOT_UTF8, "1e400", "null", "[]", NUMBERS[-1]]
FOR_NUMBERS = [*NUMBERS, '"1"', '"\\u0000"']
"""What replaces a text, what replaces a number (other mix-ups of types are left to the schema-driven test)."""


def _quoted(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _query(parameters: dict[str, str]) -> str:
    return "&".join(f"{_quoted(name)}={_quoted(value)}" for name, value in parameters.items())


PATHS = [  # (template, valid path parameters, valid query)
    ("/v1/entities/{entity_id}", {"entity_id": DATASET}, {"with_scores": "true"}),
    ("/v1/entities/{entity_id}/lineage", {"entity_id": MODEL}, {"direction": "upstream", "depth": "2"}),
    ("/v1/evaluations/{a}/comparable/{b}", {"a": EVALUATION, "b": EVALUATION}, {"metric": "accuracy"}),
    (
        "/v1/datasets/{dataset_id}/leaderboard",
        {"dataset_id": DATASET},
        {"metric": "accuracy", "procedure": "cv", "limit": "3"},
    ),
    ("/v1/models/{a}/diff/{b}", {"a": MODEL, "b": MODEL}, {}),
    ("/v1/runs/{run_id}/points", {"run_id": RUN}, {"tail": "2"}),
]

LISTING = {
    "kind": "dataset",
    "name": "iris",
    "experiment": "e",
    "fingerprint": "f",
    "state": "TRAINING",
    **dict.fromkeys(("trained_on", "derived_from", "on_dataset"), DATASET),
    **dict.fromkeys(("for_model", "computed_by"), MODEL),
    "transforms": "t",
    "input_transforms": "t",
    "for_prediction": "p",
    "tag": "source=uci",
    "annotation": "a=b",
    "created_after": "0",
    "created_before": str(MAX_TIME),
    "limit": "10",
    "offset": "0",
}


def test_hostile_text_in_every_path_and_query_parameter(hostile: Hostile) -> None:
    for template, path_parameters, query in [*PATHS, ("/v1/entities", {}, LISTING)]:
        for name in [*path_parameters, *query]:
            for text in TEXTS:
                ids = {key: _quoted(text if key == name else value) for key, value in path_parameters.items()}
                changed = {key: text if key == name else value for key, value in query.items()}
                hostile.send("GET", template, template.format(**ids), query=_query(changed))
    assert not hostile.bad, hostile.report()
    _assert_seeds_intact(hostile)


def _ended_run(**fields: Any) -> dict[str, Any]:
    run = {"kind": "run", "id": ENDING_RUN, "state": "FINISHED", "start_time": 1000, "end_time": 2000}
    return {**run, "trained_on": DATASET, "for_model": MODEL, **fields}


BODIES = [  # (template, path, a valid body); "NEW" is replaced by a fresh id, so that a valid write writes anew
    (
        "/v1/entities",
        "/v1/entities",
        {
            "entities": [
                {
                    "kind": "dataset",
                    "id": "NEW",
                    "name": "d",
                    "creation_time": 1000,
                    "row_count": 3,
                    "tags": {"k": "v"},
                },
                {"kind": "run", "id": "NEW2", "state": "TRAINING", "start_time": 5, "trained_on": DATASET},
            ]
        },
    ),
    ("/v1/entities/lookup", "/v1/entities/lookup", {"ids": [DATASET, "other"]}),
    (
        "/v1/query/ids",
        "/v1/query/ids",
        {
            "kind": "run",
            "name": "n",
            "experiment": "e",
            "fingerprint": "f",
            "state": "TRAINING",
            "links": [["trained_on", DATASET]],
            "labels": [["tag", "source", "uci"]],
            "created_after": 0,
            "created_before": MAX_TIME,
            "limit": 5,
            "offset": 0,
        },
    ),
    ("/v1/query/count", "/v1/query/count", {"links": [["trained_on", DATASET]], "created_after": 1, "offset": 2}),
    ("/v1/links", "/v1/links", {"ids": [MODEL], "direction": "out"}),
    ("/v1/scores", "/v1/scores", {"datasets": [DATASET], "metric": "accuracy"}),
    ("/v1/points", "/v1/points", {"points": [[RUN, "loss", 0.25, 1, 3, 2000]]}),
    ("/v1/runs/{run_id}/end", f"/v1/runs/{ENDING_RUN}/end", {"run": _ended_run(name="ended")}),
]


def _leaves(value: Any, at: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """The scalars of a JSON value: (path, value) pairs."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*at, index))
    else:
        yield at, value


def _with_raw(body: Any, at: tuple, raw: str) -> bytes:
    """``body`` as JSON text with the value at ``at`` replaced by the JSON text ``raw`` (which may be invalid)."""
    marker = "\ufffeHOSTILE\ufffe"
    copy = json.loads(json.dumps(body))
    target = copy
    for step in at[:-1]:
        target = target[step]
    target[at[-1]] = marker
    text = json.dumps(copy, ensure_ascii=False).replace(json.dumps(marker, ensure_ascii=False), raw)
    return text.encode("utf-8", "surrogateescape")


def test_hostile_values_in_every_body_field(hostile: Hostile) -> None:
    fresh = iter(range(10**6))
    for template, path, body in BODIES:
        for at, valid in _leaves(body):
            for raw in FOR_TEXT if isinstance(valid, str) else FOR_NUMBERS:
                number = next(fresh)
                text = _with_raw(body, at, raw).replace(b'"NEW2"', f'"h-new2-{number}"'.encode())
                hostile.send("POST", template, path, body=text.replace(b'"NEW"', f'"h-new-{number}"'.encode()))
    assert hostile.refused_writes > 100
    assert not hostile.bad, hostile.report()
    _assert_seeds_intact(hostile)


def _assert_seeds_intact(hostile: Hostile) -> None:
    """No injected text changed the seeded entities or dropped anything (their documents still read back)."""
    found = requests.post(f"{hostile.url}/v1/entities/lookup", json={"ids": [DATASET, MODEL, EVALUATION]}, timeout=30)
    documents = strict_json(found.text)["entities"]
    assert documents[DATASET]["name"] == "iris" and documents[MODEL]["trained_on"] == DATASET
    assert [score["value"] for score in documents[EVALUATION]["scores"]] == [0.9, "NaN", "Infinity"]
    points = strict_json(requests.get(f"{hostile.url}/v1/runs/{RUN}/points", timeout=30).text)["points"]
    assert [row[2] for row in points[:3]] == [0.5, "NaN", "-Infinity"]
