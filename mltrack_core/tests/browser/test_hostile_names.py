"""Names, columns, operators and metrics that look like markup stay text in a real browser, scripts included.

The page tests check the HTML the server sends; here the pages' JavaScript runs too (chart.js labels, graph.js
vertices, the runs table), so text inserted as markup anywhere would run the handler and set ``window.xss``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from mltrack_core import Parameter, TypedColumn, TypeHint, connect

MARKUP = '<img src=x onerror="window.xss=1">'
SCRIPT = "</script><script>window.xss=1</script>"


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory, serve: Callable[..., str]) -> tuple[str, dict[str, str]]:
    """A store whose every name is markup, served; the ids of its entities."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'store.db'}"
    with connect(uri) as tracker:
        columns = [
            TypedColumn(name=f"{MARKUP} a", typing=TypeHint.DOUBLE),
            TypedColumn(name=SCRIPT, typing=TypeHint.INT),
        ]
        dataset = tracker.track_dataset(
            name=f"data {MARKUP}",
            location="file:///data.csv",
            fingerprint="sha256:" + "a" * 64,
            schema=columns,
            target=SCRIPT,
        )
        scaler = tracker.track_transform(
            name=f"scale {SCRIPT}",
            operator=MARKUP,
            input=columns[:1],
            output=[TypedColumn(name=f"scaled {MARKUP}", typing=TypeHint.DOUBLE)],
            column_lineage={f"scaled {MARKUP}": [f"{MARKUP} a"]},
        )
        learner = tracker.track_transform(
            name=f"learn {MARKUP}", operator=SCRIPT, input=[scaler.output[0]], input_transforms=[scaler]
        )
        model = tracker.track_model(
            name=f"model {SCRIPT}",
            learning_algorithm=MARKUP,
            trained_on=dataset,
            transforms=[scaler, learner],
            hyperparameters=[Parameter.of(MARKUP, SCRIPT, default="x")],
            framework="python",
        )
        with tracker.track_training(name=f"run {MARKUP}", trained_on=dataset) as run:
            for step in range(20):
                run.log(MARKUP, 1.0 / (step + 1), step=step)
            run.finish(model)
        evaluation = tracker.track_evaluation({MARKUP: 0.5}, computed_by=model, on_dataset=dataset, procedure=SCRIPT)
    ids = {"dataset": dataset.id, "model": model.id, "run": run.id, "evaluation": evaluation.id}
    return serve(uri), ids


@pytest.mark.parametrize(
    ("path", "drawn", "shown"),
    [
        pytest.param("/ui/runs/{run}", "div.chart[data-drawn='true']", [f"run {MARKUP}", MARKUP], id="run"),
        pytest.param("/ui/models/{model}", "#model-dag[data-drawn='true']", [f"model {SCRIPT}", MARKUP], id="model"),
        pytest.param("/ui/lineage/{evaluation}", "#lineage-dag[data-drawn='true']", [f"data {MARKUP}"], id="lineage"),
        pytest.param("/ui/leaderboard/{dataset}?metric=x", None, [f"model {SCRIPT}"], id="leaderboard"),
        pytest.param("/ui/datasets/{dataset}", None, [f"data {MARKUP}", SCRIPT], id="dataset"),
        pytest.param("/ui/?kind=model", None, [f"model {SCRIPT}", MARKUP], id="runs-table"),
    ],
)
def test_markup_in_recorded_text_is_shown_as_text_and_never_run(
    page: Any, hostile_store: tuple[str, dict[str, str]], path: str, drawn: str | None, shown: list[str]
) -> None:
    base, ids = hostile_store
    url = base + path.format(**ids).replace("metric=x", f"metric={quote(MARKUP)}")
    page.goto(url)
    if drawn:
        page.wait_for_selector(drawn, state="attached")
    page.wait_for_load_state("load")
    text = page.inner_text("body")
    for name in shown:
        assert name in text, f"{name!r} is not shown as text on {path}"
    assert page.evaluate("window.xss") is None, f"recorded markup ran on {path}"
    assert page.locator("main img").count() == 0, f"recorded markup became an element on {path}"
