"""The training run page (the paper's Figure 4): curves, hyperparameters, environment, the model it produced.

The page is rendered on the server with everything but the curves; ``static/js/chart.js`` draws those from
the series endpoint (downsampled on the server) and, while the run trains, grows them from the run's event
stream. The view (metrics shown, axis, log scale, zoomed range) lives in the query string:
``?metric=loss&metric=accuracy&axis=epoch&log=1&from=10&to=200``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mltrack_core.errors import NotFoundError
from mltrack_core.schema import Parameter, TrainingRun, TrainingState, now_ms
from mltrack_core.series import finite_or_none
from mltrack_core.server.app import Reader
from mltrack_core.ui.templating import entity_url, page_url, recorded_value, render

if TYPE_CHECKING:
    from collections.abc import Collection

    from mltrack_core.series import MetricSummary

router = APIRouter()

MAX_CHARTS = 6
"""Charts shown when the query names no metric (the run's first metrics, by name)."""

Axis = Literal["step", "epoch", "time"]


@dataclass(frozen=True)
class HyperparameterRow:
    """A hyperparameter as the table shows it: value and default as text, and whether it differs from the default."""

    name: str
    value: str
    default: str | None
    non_default: bool
    typing: str
    doc: str | None


@router.get("/runs/{run_id}", response_class=HTMLResponse, name="run")
def run_page(
    run_id: str,
    request: Request,
    principal: Reader,
    metric: Annotated[list[str] | None, Query()] = None,
    axis: Axis | None = None,
    log: str | None = None,
    from_: Annotated[float | None, Query(alias="from")] = None,
    to: float | None = None,
) -> Response:
    """A training run: its curves (live while it trains), hyperparameters, environment, data and model."""
    tracker = request.app.state.tracker
    run = tracker.get_many([run_id], with_scores=False).get(run_id)
    if run is None:
        raise NotFoundError(f"no training run with id {run_id[:200]!r} in this store")
    if not isinstance(run, TrainingRun):  # an id of another kind: show it on its own page
        return RedirectResponse(entity_url(request, run.KIND, run.id), status_code=307)

    summaries: dict[str, MetricSummary] = tracker.run_metrics(run.id)
    metrics = sorted(summaries)
    shown = _unique(metric or [])[:MAX_CHARTS] if metric else metrics[:MAX_CHARTS]
    chosen_axis = axis or _default_axis(list(summaries.values()))
    zoom = _zoom(from_, to)
    linked = tracker.get_many([i for i in (run.for_model, run.trained_on, *run.transforms) if i], with_scores=False)
    live = run.state is TrainingState.TRAINING
    page_data = {
        "run": run.id,
        "state": run.state.value,
        "live": live,
        "metrics": metrics,
        "shown": shown,
        "chooseAll": not metric,  # no metric in the query: metrics that appear while it trains get charts too
        "maxCharts": MAX_CHARTS,
        "axis": chosen_axis,
        "log": log == "1",
        "from": zoom[0],
        "to": zoom[1],
        "after": sum(summary.count for summary in summaries.values()),  # the run's points when the page was read
        "runningMs": now_ms() - run.start_time if live and run.start_time is not None else None,
        "summaries": {name: _summary_json(summary) for name, summary in summaries.items()},  # grown by live points
        "apiRoot": request.scope.get("root_path", ""),
        "modelUrl": page_url(request, "model", model_id="__id__"),  # for the model a live run ends with
    }
    return render(
        request,
        "run.html",
        run=run,
        live=live,
        duration=_duration(run),
        model=linked.get(run.for_model) if run.for_model else None,
        dataset=linked.get(run.trained_on) if run.trained_on else None,
        transforms=[(transform_id, linked.get(transform_id)) for transform_id in run.transforms],
        hyperparameters=[_hyperparameter_row(parameter) for parameter in run.hyperparameters],
        summaries=[summaries[name] for name in metrics],
        metrics=metrics,
        shown=shown,
        axis=chosen_axis,
        log=log == "1",
        zoom=zoom,
        page_data=page_data,
    )


def _summary_json(summary: MetricSummary) -> dict[str, Any]:
    """What the page's script needs of a summary to keep it current from live points (no NaN: JSON has none)."""
    return {
        "count": summary.count,
        "last": finite_or_none(summary.last),
        "best": finite_or_none(summary.best),
        "minimum": finite_or_none(summary.minimum),
        "maximum": finite_or_none(summary.maximum),
        "greater_is_better": summary.greater_is_better,
    }


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(name for name in names if name))


def _default_axis(summaries: Collection[MetricSummary]) -> Axis:
    """Step when the run logged steps, else epoch when it logged epochs, else wall time."""
    if any(summary.last_step is not None for summary in summaries):
        return "step"
    if any(summary.last_epoch is not None for summary in summaries):
        return "epoch"
    return "time" if summaries else "step"


def _zoom(start: float | None, end: float | None) -> tuple[float | None, float | None]:
    """The zoomed range from the query; an empty or non-finite one is no zoom."""
    start = start if start is not None and math.isfinite(start) else None
    end = end if end is not None and math.isfinite(end) else None
    if start is not None and end is not None and start >= end:
        return None, None
    return start, end


def _duration(run: TrainingRun) -> str | None:
    """How long the run took (or has been running), e.g. ``1 h 02 min 03 s``."""
    if run.start_time is None:
        return None
    end = run.end_time if run.end_time is not None else now_ms()
    seconds = max(0, (end - run.start_time) // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {seconds:02d} s"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s" if seconds or run.end_time is not None else "less than a second"


def _hyperparameter_row(parameter: Parameter) -> HyperparameterRow:
    has_default = parameter.non_default or parameter.default is not None
    return HyperparameterRow(
        name=parameter.name,
        value=recorded_value(parameter.value),
        default=recorded_value(parameter.default) if has_default else None,
        non_default=parameter.non_default,
        typing=parameter.typing.value if parameter.typing is not None else "",
        doc=parameter.doc,
    )
