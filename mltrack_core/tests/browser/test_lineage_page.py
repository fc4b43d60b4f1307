"""The lineage graph in a browser: the vertices the tracker's lineage reaches at the chosen depth, each a link."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mltrack_core.ui.pages.lineage import MAX_TRANSFORM_VERTICES

GRAPH = "#lineage-dag"
GROUP = "transforms/"


def best_evaluation(demo_store: Any) -> Any:
    """The best evaluation of the demo's scikit-learn leaderboard (the one the demo prints the lineage of)."""
    return demo_store.tracker.leaderboard(demo_store.sklearn_test_set, "accuracy").entries[0].evaluation


def reached(tracker: Any, root: str, depth: int, directions: tuple[str, ...]) -> set[str]:
    return {id_ for direction in directions for id_ in tracker.lineage(root, direction, depth).nodes}


def drawn_nodes(page: Any) -> dict[str, str | None]:
    """Each drawn vertex's id -> the link it holds."""
    page.wait_for_selector(f'{GRAPH}[data-drawn="true"]', state="attached")
    return dict(
        page.eval_on_selector_all(
            f"{GRAPH} svg g.node",
            "nodes => nodes.map(node => [node.dataset.id, node.querySelector('a')?.getAttribute('href') ?? null])",
        )
    )


@pytest.mark.parametrize(
    ("direction", "directions"),
    [("upstream", ("upstream",)), ("both", ("upstream", "downstream"))],
)
def test_the_graph_draws_the_lineage_at_each_depth(
    page: Any, demo_store: Any, demo_server: str, direction: str, directions: tuple[str, ...]
) -> None:
    root = best_evaluation(demo_store).id
    counts = []
    for depth in (1, 2, 3):
        page.goto(f"{demo_server}/ui/lineage/{root}?depth={depth}&direction={direction}&transforms=all")
        expected = reached(demo_store.tracker, root, depth, directions)
        assert set(drawn_nodes(page)) == expected
        counts.append(len(expected))
    assert counts[0] < counts[-1], "the depth chosen changes what is drawn"


def test_each_vertex_links_to_its_page_and_the_depth_control_goes_one_step_deeper(
    page: Any, demo_store: Any, demo_server: str, screenshots: Any
) -> None:
    evaluation = best_evaluation(demo_store)
    page.goto(f"{demo_server}/ui/lineage/{evaluation.id}")  # the page's default: depth 3, both directions
    depth = int(page.input_value('input[name="depth"]'))
    nodes = drawn_nodes(page)
    expected = reached(demo_store.tracker, evaluation.id, depth, ("upstream", "downstream"))
    transforms = {id_ for id_ in expected if id_.startswith("tf-")}
    # The model's many transforms (its DAG is on the model page) are one vertex linking to the view drawing each.
    assert len(transforms) > MAX_TRANSFORM_VERTICES
    assert set(nodes) == expected - transforms | {GROUP}
    assert "transforms=all" in nodes.pop(GROUP)
    assert page.text_content(f'{GRAPH} g.node[data-id="{GROUP}"]').startswith(f"{len(transforms)} transforms")
    for id_, href in nodes.items():
        assert href is not None and id_ in href, f"vertex {id_} links to {href!r}"

    page.click('a[title="one step more"]')
    page.wait_for_url(f"**/ui/lineage/{evaluation.id}?*")
    assert parse_qs(urlsplit(page.url).query)["depth"] == [str(depth + 1)]
    deeper = reached(demo_store.tracker, evaluation.id, depth + 1, ("upstream", "downstream"))
    assert set(drawn_nodes(page)) == {id_ for id_ in deeper if not id_.startswith("tf-")} | {GROUP}

    # Clicking a vertex opens its page: the model that computed the evaluation, then its training data.
    model = demo_store.tracker.get(evaluation.computed_by)
    page.click(f'{GRAPH} g.node[data-id="{model.id}"] a')
    page.wait_for_url(f"**/ui/models/{model.id}*")
    assert model.name in page.inner_text("h1")
    page.go_back()
    page.click(f'{GRAPH} g.node[data-id="{model.trained_on}"] a')
    page.wait_for_url(f"**/ui/datasets/{model.trained_on}*")
    assert demo_store.tracker.get(model.trained_on).name in page.inner_text("h1")
    screenshots(
        page,
        "lineage-best-evaluation",
        url=f"{demo_server}/ui/lineage/{evaluation.id}?fit=width",
        focus="form.lineage-controls",
    )
