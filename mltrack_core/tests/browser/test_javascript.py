"""The dashboard's JavaScript logic, run in the browser as the pages serve it (page.evaluate on a real page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from mltrack_core import connect


@pytest.fixture(scope="module")
def empty_dashboard(tmp_path_factory: pytest.TempPathFactory, serve: Callable[..., str]) -> str:
    """The dashboard over an empty SQLite store: its pages load every script without needing any data."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('empty') / 'store.db'}"
    connect(uri).close()  # created, so that the read-only server can open it
    return serve(uri)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_view_state_round_trips_through_the_url_without_a_new_history_entry(page: Any, empty_dashboard: str) -> None:
    page.goto(f"{empty_dashboard}/ui/?kind=model&q=first")
    history_length = page.evaluate("history.length")
    hostile = "note=a&b=c #d é/<script>"  # a tag filter KEY=VALUE whose value needs escaping in a URL
    url = page.evaluate(
        "(hostile) => mltrack.state.set({q: null, sort: '-name', tag: ['team=x y', hostile], metric: 'last:loss'})",
        hostile,
    )

    assert urlsplit(url).path == "/ui/"
    assert _query(page.url) == {
        "kind": ["model"],
        "sort": ["-name"],
        "tag": ["team=x y", hostile],
        "metric": ["last:loss"],
    }
    assert page.evaluate("history.length") == history_length, "set() must replace the entry, not push one"
    assert page.evaluate("mltrack.state.get('q')") is None
    assert page.evaluate("mltrack.state.getAll('tag')") == ["team=x y", hostile]

    # The URL is the state: a reload (or the URL shared with someone) reads the same view back.
    page.reload()
    assert page.evaluate("mltrack.state.getAll('tag')") == ["team=x y", hostile]
    assert page.evaluate("mltrack.state.get('sort')") == "-name"


def test_apply_changes_replaces_removes_and_repeats_parameters(page: Any, empty_dashboard: str) -> None:
    page.goto(f"{empty_dashboard}/ui/")
    changed = page.evaluate(
        "mltrack.state.applyChanges('?a=1&b=2&b=3&c=4', {b: ['x', 5], c: '', d: 0, e: undefined}).toString()"
    )
    assert changed == "a=1&b=x&b=5&d=0"


def test_page_data_is_read_as_json_and_never_run(page: Any, empty_dashboard: str) -> None:
    page.goto(f"{empty_dashboard}/ui/")
    data = page.evaluate(
        """() => {
            const block = document.createElement('script');
            block.type = 'application/json';
            block.id = 'probe-data';
            block.textContent = JSON.stringify({name: '</script><script>window.ran = 1</script>', n: 3});
            document.body.appendChild(block);
            return mltrack.state.pageData('probe-data');
        }"""
    )
    assert data == {"name": "</script><script>window.ran = 1</script>", "n": 3}
    assert page.evaluate("window.ran") is None
    assert page.evaluate("mltrack.state.pageData('no-such-block')") is None


def _with_scripts(page: Any, dashboard: str, *paths: str) -> None:
    """Open a dashboard page and load the served static scripts into it, as the pages that use them do."""
    page.goto(f"{dashboard}/ui/")
    for path in paths:
        page.add_script_tag(url=f"/ui/static/{path}")


CHART_SCRIPTS = ("vendor/uplot/uPlot.iife.min.js", "js/chart.js")
GRAPH_SCRIPTS = ("vendor/dagre/dagre.min.js", "js/graph.js")


def test_live_points_are_merged_after_what_the_chart_holds(page: Any, empty_dashboard: str) -> None:
    _with_scripts(page, empty_dashboard, *CHART_SCRIPTS)
    merged = page.evaluate(
        """() => {
            const {mergePoints} = mltrack.chart._internal;
            const points = [  // [metric, value, epoch, step, timestamp], as the event stream sends them
                ["loss", 0.85, 0, 2, 1000],    // step 2 is drawn already (the page read it with the series)
                ["accuracy", 0.5, 0, 3, 1001], // another metric's chart takes it
                ["loss", 0.7, 0, 3, 1002],
                ["loss", null, 0, 4, 1003],    // a NaN logged: a gap in the curve
                ["loss", 0.6, 0, null, 1004],  // logged without a step: not on the step axis
                ["loss", 0.65, 0, 3, 1005],    // behind the last step drawn: left to the next query of the series
                ["loss", 0.5, 1, 5, 1006],
            ];
            const byStep = {x: [0, 1, 2], y: [1.0, 0.9, 0.8]};
            const inRange = {x: [0, 1, 2], y: [1.0, 0.9, 0.8]};
            const byEpoch = {x: [0], y: [1.0]};
            return {
                added: mergePoints(byStep, points, "loss", "step", null),
                byStep,
                addedInRange: mergePoints(inRange, points, "loss", "step", {from: 0, to: 4}),
                inRange,
                addedByEpoch: mergePoints(byEpoch, points, "loss", "epoch", null),
                byEpoch,
            };
        }"""
    )
    assert merged["added"] == 3
    assert merged["byStep"] == {"x": [0, 1, 2, 3, 4, 5], "y": [1.0, 0.9, 0.8, 0.7, None, 0.5]}
    assert merged["addedInRange"] == 2 and merged["inRange"]["x"] == [0, 1, 2, 3, 4]
    # many points share an epoch: on that axis a point at the last x drawn is still new
    assert merged["addedByEpoch"] == 6
    assert merged["byEpoch"]["x"] == [0, 0, 0, 0, 0, 0, 1]


def test_a_resumed_stream_skips_the_points_already_received(page: Any, empty_dashboard: str) -> None:
    _with_scripts(page, empty_dashboard, *CHART_SCRIPTS)
    unseen = page.evaluate(
        """() => {
            const {unseenPoints} = mltrack.chart._internal;
            const event = {total: 10, points: [["a", 6], ["a", 7], ["a", 8], ["a", 9]]};  // the run's points 6..9
            return [5, 6, 8, 10].map((seen) => unseenPoints(event, seen).map((point) => point[1]));
        }"""
    )
    assert unseen == [[6, 7, 8, 9], [6, 7, 8, 9], [8, 9], []]


def test_log_scale_zoom_range_and_series_query(page: Any, empty_dashboard: str) -> None:
    _with_scripts(page, empty_dashboard, *CHART_SCRIPTS)
    found = page.evaluate(
        """() => {
            const {logFiltered, wholeRange, seriesQuery, xOf} = mltrack.chart._internal;
            return {
                log: logFiltered([2, 0, -1, null, 0.5]),
                ranges: [[1.5, 9.2], [9.2, 1.5], [-3.7, 0.2], [4, 4]].map(([from, to]) => wholeRange(from, to)),
                query: seriesQuery("loss", "step", {from: 1.5, to: 9.2}, 1),
                open: seriesQuery("loss", "time", null, 800.4),
                x: ["step", "epoch", "time"].map((axis) => xOf(["loss", 0.1, 2, 30, 1700000000000], axis)),
            };
        }"""
    )
    # a log axis cannot show 0 or less: those values are left out (and counted), a NaN stays a gap
    assert found["log"] == {"ys": [2, None, None, None, 0.5], "dropped": 2}
    # a drag's range, in either direction, widened to the whole steps the server is asked for
    assert found["ranges"] == [{"from": 1, "to": 10}, {"from": 1, "to": 10}, {"from": 0, "to": 1}, {"from": 4, "to": 5}]
    assert found["query"] == {"metric": "loss", "axis": "step", "max_points": "2", "start": "1", "end": "10"}
    assert found["open"] == {"metric": "loss", "axis": "time", "max_points": "800"}
    assert found["x"] == [30, 2, 1700000000000]


def test_operators_collapse_by_name_prefix_and_their_edges_merge(page: Any, empty_dashboard: str) -> None:
    _with_scripts(page, empty_dashboard, *GRAPH_SCRIPTS)
    found = page.evaluate(
        """() => {
            const {groupNodes, mergeEdges} = mltrack.graph._internal;
            const nodes = [
                {id: "a", name: "net_stage1_conv0", operator: "Convolution", shape: "1×64×56×56"},
                {id: "b", name: "net_stage1_relu0", operator: "Activation", shape: "1×64×56×56"},
                {id: "c", name: "net_stage2_conv0", operator: "Convolution", shape: "1×128×28×28"},
                {id: "d", name: "net_dense0", operator: "FullyConnected", shape: "1×10"},
            ];
            const edges = [
                {source: "a", target: "b"}, {source: "a", target: "c"}, {source: "b", target: "c"},
                {source: "c", target: "d"},
            ];
            const summary = (grouped) => ({
                nodes: grouped.nodes.map((node) => [node.id, node.label ?? node.name, node.members || 1]),
                edges: mergeEdges(edges, grouped.drawnOf).map((edge) => [edge.source, edge.target, edge.count]),
            });
            const options = {separator: "_", depth: 2, expanded: []};
            return {
                collapsed: summary(groupNodes(nodes, options)),
                opened: summary(groupNodes(nodes, {...options, expanded: ["net_stage1"]})),
                everything: summary(groupNodes(nodes, {...options, depth: 0})),
            };
        }"""
    )
    # net_stage1 has two operators: one vertex for both; net_stage2's single operator and net_dense0 stay as they are
    assert found["collapsed"]["nodes"] == [
        ["group/net_stage1", "net_stage1 (2 ops)", 2],
        ["c", "net_stage2_conv0", 1],
        ["d", "net_dense0", 1],
    ]
    # the edge inside the group is dropped, the two edges from it to c are one edge counting both
    assert found["collapsed"]["edges"] == [["group/net_stage1", "c", 2], ["c", "d", 1]]
    assert [node_id for node_id, _, _ in found["opened"]["nodes"]] == ["a", "b", "c", "d"]
    assert (
        found["opened"]["edges"]
        == found["everything"]["edges"]
        == [["a", "b", 1], ["a", "c", 1], ["b", "c", 1], ["c", "d", 1]]
    )


def test_graph_links_only_go_to_pages_of_this_server(page: Any, empty_dashboard: str) -> None:
    _with_scripts(page, empty_dashboard, *GRAPH_SCRIPTS)
    hrefs = ["/ui/models/model-1", "//elsewhere.example/x", "javascript:alert(1)", "https://elsewhere.example/", None]
    kept = page.evaluate("(hrefs) => hrefs.map((href) => mltrack.graph._internal.safeHref(href))", hrefs)
    assert kept == ["/ui/models/model-1", None, None, None, None]
