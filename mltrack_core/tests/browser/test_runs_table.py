"""The runs table in a browser: its view changes in place (htmx), is kept in the URL, and survives back and reload."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlsplit


def shown_runs(page: Any) -> list[str]:
    return page.eval_on_selector_all("table#entities tbody tr[data-id]", "rows => rows.map(row => row.dataset.id)")


def wait_for_rows(page: Any, ids: list[str]) -> None:
    page.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('table#entities tbody tr[data-id]')]"
        ".map(row => row.dataset.id)) === JSON.stringify(ids)",
        arg=ids,
    )


def test_the_runs_table_sorts_and_adds_a_metric_column_in_place_and_keeps_the_view_in_the_url(
    page: Any, demo_store: Any, demo_server: str
) -> None:
    tracker = demo_store.tracker
    newest_first = [run.id for run in tracker.find("run")]
    by_name = [run.id for run in tracker.find("run", order="name")]
    assert len(newest_first) >= 3 and by_name != newest_first, "the demo's runs show a change of order"

    page.goto(f"{demo_server}/ui/")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads instead of swapping the table
    assert shown_runs(page) == newest_first

    page.locator("table#entities thead th").filter(has_text="Name").locator("a").click()
    wait_for_rows(page, by_name)
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("sort") == ["name"])
    assert page.evaluate("window.loadedOnce") is True

    column = page.eval_on_selector_all(
        'form.filters select[name="metric"] option',
        "options => options.map(o => o.value).find(v => v.startsWith('last:'))",
    )
    metric = column.removeprefix("last:")
    page.select_option('form.filters select[name="metric"]', column)
    page.click('form.filters button[type="submit"]')
    page.wait_for_selector(f'table#entities td[data-column="{column}"]', state="attached")
    page.wait_for_url(lambda url: parse_qs(urlsplit(url).query).get("metric") == [column])
    assert parse_qs(urlsplit(page.url).query)["sort"] == ["name"]
    assert page.evaluate("window.loadedOnce") is True
    assert shown_runs(page) == by_name

    cells = dict(
        page.eval_on_selector_all(
            f'table#entities tbody tr[data-id] td[data-column="{column}"]',
            "cells => cells.map(cell => [cell.parentElement.dataset.id, cell.textContent.trim()])",
        )
    )
    summaries = tracker.metric_summaries(by_name, [metric])
    assert any(metric in summaries.get(run_id, {}) for run_id in by_name)
    for run_id in by_name:
        summary = summaries.get(run_id, {}).get(metric)
        if summary is None:
            assert cells[run_id] == "", f"{run_id} logged no {metric}"
        else:
            assert math.isclose(float(cells[run_id].replace(",", "")), summary.last, rel_tol=1e-3)

    # Back goes to the sorted view without the column; a reload shows the view its URL names.
    page.go_back()
    page.wait_for_function("() => !location.search.includes('metric=')")
    wait_for_rows(page, by_name)
    assert page.locator(f'td[data-column="{column}"]').count() == 0
    page.go_forward()
    page.wait_for_selector(f'table#entities td[data-column="{column}"]', state="attached")
    page.reload()
    wait_for_rows(page, by_name)
    assert page.locator(f'table#entities td[data-column="{column}"]').count() == len(by_name)
