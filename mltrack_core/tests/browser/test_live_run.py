"""The training run page while the run trains: its curves grow without a reload, and stop when the run ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _point_count(page: Any, metric: str) -> int:
    return page.evaluate("(metric) => window.mltrack.chart.pointCount(metric)", metric)


def test_the_curves_grow_while_the_run_trains_and_stop_when_it_ends(
    page: Any, training: Any, serve: Callable[..., str], screenshots: Any
) -> None:
    base = serve(training.tracker.uri)
    page.goto(f"{base}/ui/runs/{training.run.id}?metric=loss&metric=accuracy")
    page.wait_for_selector('#run-page[data-live="true"]', state="attached")
    page.wait_for_selector('div.chart[data-metric="loss"][data-drawn="true"]', state="attached")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    first = _point_count(page, "loss")

    # New points arrive over the event stream: the count grows past what the page was rendered with.
    page.wait_for_function("(count) => window.mltrack.chart.pointCount('loss') >= count + 10", arg=first)
    assert page.evaluate("window.loadedOnce") is True, "the page reloaded instead of growing its curves"
    assert int(page.get_attribute('div.chart[data-metric="loss"]', "data-points")) >= first + 10
    assert _point_count(page, "accuracy") > 0
    running_for = page.inner_text("#run-duration")  # counts on while the run trains, without a reload
    page.wait_for_function("(shown) => document.getElementById('run-duration').textContent !== shown", arg=running_for)
    if screenshots.wanted:  # the README's picture: a curve of a few seconds of training
        page.wait_for_function("() => window.mltrack.chart.pointCount('loss') >= 50", timeout=30_000)
        screenshots(page, "run-live")

    training.finish()
    page.wait_for_selector('#run-page[data-live="false"]', state="attached")
    assert page.locator("#run-state .live-dot").count() == 0, "the live dot stays after the run ended"
    assert "FINISHED" in page.inner_text("#run-state")
    assert page.evaluate("window.loadedOnce") is True

    # Every logged point ends up drawn once: none lost or doubled between the page's first render and the stream.
    stored = sum(1 for point in training.tracker.points(training.run.id) if point.metric == "loss")
    assert stored == training.logged
    assert _point_count(page, "loss") == stored
