"""The leaderboard in a browser: order and exclusions as the tracker ranks them; two rows chosen open their diff."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

METRIC = "accuracy"


def test_the_leaderboard_ranks_best_first_and_lists_the_excluded_with_reasons(
    page: Any, demo_store: Any, demo_server: str, screenshots: Any
) -> None:
    test_set = demo_store.sklearn_test_set
    board = demo_store.tracker.leaderboard(test_set, METRIC)
    assert len(board.entries) >= 3 and board.greater_is_better

    page.goto(f"{demo_server}/ui/leaderboard/{test_set.id}?metric={METRIC}")

    ranked = page.eval_on_selector_all(
        "table#ranked tbody tr[data-evaluation-id]",
        "rows => rows.map(row => [row.dataset.evaluationId, Number(row.querySelector('td.value').title)])",
    )
    assert [id_ for id_, _ in ranked] == [entry.evaluation.id for entry in board.entries]
    values = [value for _, value in ranked]
    assert values == sorted(values, reverse=True), "accuracy: higher is better, so the best comes first"
    assert values == [entry.value for entry in board.entries]

    excluded = dict(
        page.eval_on_selector_all(
            "table#excluded tbody tr[data-evaluation-id]",
            "rows => rows.map(row => [row.dataset.evaluationId, row.querySelector('td.reason').textContent.trim()])",
        )
    )
    assert excluded == dict(board.excluded)
    for evaluation_id, reason in demo_store.extra_exclusions.items():
        assert reason in excluded[evaluation_id]
    assert not set(excluded) & {id_ for id_, _ in ranked}
    screenshots(page, "leaderboard")


def test_two_chosen_rows_open_a_diff_that_shows_only_what_differs(page: Any, demo_store: Any, demo_server: str) -> None:
    test_set = demo_store.sklearn_test_set
    board = demo_store.tracker.leaderboard(test_set, METRIC)
    first, last = board.entries[0], board.entries[-1]
    page.goto(f"{demo_server}/ui/leaderboard/{test_set.id}?metric={METRIC}")

    compare = page.locator("#compare")
    assert compare.is_disabled(), "the diff needs two rows"
    page.check(f'input[name="pick"][value="{first.evaluation.id}"]')
    assert compare.is_disabled()
    page.check(f'input[name="pick"][value="{last.evaluation.id}"]')
    assert compare.is_enabled()
    assert parse_qs(urlsplit(page.url).query)["select"] == [first.evaluation.id, last.evaluation.id]
    compare.click()
    page.wait_for_url("**/ui/diff?*")
    assert parse_qs(urlsplit(page.url).query) == {"a": [first.evaluation.id], "b": [last.evaluation.id]}

    differences = demo_store.tracker.diff(first.model, last.model).sections()
    expected = {(section, field) for section, rows in differences.items() for field in rows}
    shown = page.eval_on_selector_all(
        "#differences tr[data-field]",
        "rows => rows.map(row => [row.dataset.section, row.dataset.field,"
        " [...row.querySelectorAll('td')].slice(1).map(cell => cell.textContent.trim())])",
    )
    assert expected, "the best and the worst model of the board differ"
    assert {(section, field) for section, field, _ in shown} == expected
    for section, field, (value_a, value_b) in shown:
        assert value_a != value_b, f"{section} {field} is shown but does not differ"
    # Both models were trained on the same data: the section of the training data is left out.
    assert first.model.trained_on == last.model.trained_on
    assert not any(section == "training data" for section, _, _ in shown)


def test_the_diff_of_two_trained_networks_overlays_their_curves(page: Any, demo_store: Any, demo_server: str) -> None:
    test_set = demo_store.dataset_named("digits-8x8-test")
    board = demo_store.tracker.leaderboard(test_set, METRIC)
    a, b = (entry.model for entry in board.entries[:2])
    runs = [demo_store.tracker.find("run", for_model=model.id)[0] for model in (a, b)]
    shared = set(demo_store.tracker.run_metrics(runs[0].id)) & set(demo_store.tracker.run_metrics(runs[1].id))
    assert shared, "both MXNet fits log their accuracy"

    page.goto(f"{demo_server}/ui/leaderboard/{test_set.id}?metric={METRIC}")
    for entry in board.entries[:2]:
        page.check(f'input[name="pick"][value="{entry.evaluation.id}"]')
    page.click("#compare")
    page.wait_for_url("**/ui/diff?*")

    charts = page.locator("#curves .overlay")
    assert sorted(charts.evaluate_all("slots => slots.map(slot => slot.dataset.metric)")) == sorted(shared)
    page.wait_for_function(
        "count => document.querySelectorAll('#curves .overlay[data-drawn=\"true\"]').length === count",
        arg=len(shared),
    )
    for metric in shared:
        chart = page.locator(f'#curves .overlay[data-metric="{metric}"]')
        assert int(chart.get_attribute("data-points")) > 0
        legend = chart.inner_text()
        assert f"a: {runs[0].name}" in legend and f"b: {runs[1].name}" in legend, legend
