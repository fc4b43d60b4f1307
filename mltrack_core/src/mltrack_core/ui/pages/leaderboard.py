"""The leaderboard of a dataset and the diff of two evaluated models.

- ``GET /ui/leaderboard/{dataset_id}?metric=M&procedure=P&select=EVAL&select=EVAL`` ranks the comparable
  evaluations of one metric on the dataset's data (:meth:`Tracker.leaderboard`: evaluations on copies of the
  data with the same fingerprint count) and lists the excluded ones with the reason. Without ``metric`` the
  first metric evaluated on the data is shown, with a picker of the others and of the procedures present.
  ``select`` keeps the rows chosen for a comparison in the URL; two chosen rows open the diff.
- ``GET /ui/diff?a=ID&b=ID`` (evaluations or models) shows only what differs between the two models
  (:meth:`Tracker.diff`), both evaluations' scores side by side with the comparability verdict
  (:meth:`Tracker.comparable`), and, when both models have a training run, their curves overlaid (one chart per
  metric the two runs share). The leaderboard's selection form sends ``pick=ID&pick=ID``; the diff answers it
  with a redirect to its own URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mltrack_core.errors import SchemaError
from mltrack_core.lineage import Leaderboard
from mltrack_core.schema import Evaluation, Model
from mltrack_core.server.app import Reader
from mltrack_core.ui.pages.entity import read_entity
from mltrack_core.ui.templating import page_url, recorded_value, render

__all__ = ["router"]

router = APIRouter()

_MAX_EXCLUDED_SHOWN = 500


@router.get("/leaderboard/{dataset_id}", response_class=HTMLResponse, name="leaderboard")
def leaderboard(dataset_id: str, request: Request, principal: Reader) -> Response:
    """The ranked comparable evaluations of one metric on a dataset's data, and the excluded ones."""
    tracker = request.app.state.tracker
    dataset = tracker.get(dataset_id, "dataset")
    metric = (request.query_params.get("metric") or "").strip() or None
    procedure = request.query_params.get("procedure") or None
    selected = [id_ for id_ in request.query_params.getlist("select") if id_][:2]
    board = _board(tracker, dataset.id, metric, procedure)
    if board is None:
        return render(request, "leaderboard.html", dataset=dataset, board=None, selected=selected)
    excluded_ids = [id_ for id_, _ in board.excluded[:_MAX_EXCLUDED_SHOWN]]
    excluded = tracker.get_many(excluded_ids, with_scores=False)
    procedures = {board.procedure} | {
        evaluation.procedure for evaluation in excluded.values() if isinstance(evaluation, Evaluation)
    }
    linked = {getattr(entry.evaluation, name) for entry in board.entries for name in ("computed_by", "on_dataset")}
    linked |= {getattr(evaluation, name) for evaluation in excluded.values() for name in ("computed_by", "on_dataset")}
    related = tracker.get_many(sorted(linked), with_scores=False)
    return render(
        request,
        "leaderboard.html",
        dataset=dataset,
        board=board,
        excluded=excluded,
        excluded_rows=board.excluded[:_MAX_EXCLUDED_SHOWN],
        more_excluded=board.excluded_total - len(board.excluded[:_MAX_EXCLUDED_SHOWN]),
        related=related,
        procedures=sorted(procedures, key=lambda name: (name is None, name or "")),
        selected=selected,
    )


def _board(tracker: Any, dataset_id: str, metric: str | None, procedure: str | None) -> Leaderboard | None:
    """The leaderboard of ``metric``, or of the first metric evaluated on the data; None without evaluations."""
    if metric is not None:
        return tracker.leaderboard(dataset_id, metric, procedure=procedure)
    some_metric = _some_metric(tracker, dataset_id)
    if some_metric is None:
        return None
    board = tracker.leaderboard(dataset_id, some_metric, procedure=procedure)
    first = board.metrics[0] if board.metrics else some_metric
    if first != some_metric:
        first_board = tracker.leaderboard(dataset_id, first, procedure=procedure)
        if first_board.entries or first_board.excluded:  # a metric without scalar scores would show nothing
            return first_board
    return board


def _some_metric(tracker: Any, dataset_id: str) -> str | None:
    """A metric with a scalar score in an evaluation on ``dataset_id`` or on a dataset with the same data."""
    dataset = tracker.get(dataset_id, "dataset")
    dataset_ids = [dataset.id]
    if dataset.fingerprint:
        dataset_ids += tracker.find_ids("dataset", fingerprint=dataset.fingerprint, limit=100)
    for id_ in dict.fromkeys(dataset_ids):
        for evaluation in tracker.find("evaluation", on_dataset=id_, limit=50):
            for score in evaluation.scores:
                if score.is_scalar:
                    return score.metric
    return None


@dataclass(frozen=True)
class Side:
    """One side of a diff: the model, and the evaluation that named it (None when a model id was given)."""

    model: Model
    evaluation: Evaluation | None
    run: Any = None


@router.get("/diff", response_class=HTMLResponse, name="diff")
def diff(request: Request, principal: Reader) -> Response:
    """What differs between two evaluated models (or two models), with their scores and curves."""
    picked = [id_ for id_ in request.query_params.getlist("pick") if id_]
    if picked:
        if len(picked) != 2:
            raise SchemaError(f"choose exactly two rows to compare, not {len(picked)}")
        return RedirectResponse(page_url(request, "diff", query={"a": picked[0], "b": picked[1]}), status_code=303)
    a_id, b_id = (request.query_params.get(name, "").strip() for name in ("a", "b"))
    if not a_id or not b_id:
        raise SchemaError("the diff needs two ids: /ui/diff?a=EVALUATION&b=EVALUATION (evaluations or models)")
    tracker = request.app.state.tracker
    a, b = _side(tracker, a_id, "a"), _side(tracker, b_id, "b")
    differences = tracker.diff(a.model, b.model)
    comparability = None
    scores: list[tuple[str, Any, Any]] = []
    if a.evaluation is not None and b.evaluation is not None:
        comparability = tracker.comparable(a.evaluation, b.evaluation)
        scores = _scores_side_by_side(a.evaluation, b.evaluation)
    runs = _training_runs(tracker, [a.model.id, b.model.id])
    a, b = Side(a.model, a.evaluation, runs.get(a.model.id)), Side(b.model, b.evaluation, runs.get(b.model.id))
    shared_metrics: list[str] = []
    if a.run is not None and b.run is not None:
        summaries = tracker.metric_summaries([a.run.id, b.run.id], None)
        shared_metrics = sorted(set(summaries.get(a.run.id, {})) & set(summaries.get(b.run.id, {})))
    datasets = {side.evaluation.on_dataset for side in (a, b) if side.evaluation}
    related = tracker.get_many(sorted(datasets | {a.model.trained_on, b.model.trained_on}), with_scores=False)
    related |= {a.model.id: a.model, b.model.id: b.model}
    overlay = {
        "runs": [
            {"run": side.run.id, "label": f"{letter}: {side.run.name or side.model.name}"}
            for letter, side in (("a", a), ("b", b))
            if side.run is not None
        ],
        "metrics": shared_metrics,
    }
    return render(
        request,
        "diff.html",
        a=a,
        b=b,
        differences=differences,
        sections=[(name, rows) for name, rows in differences.sections().items() if rows],
        comparability=comparability,
        scores=scores,
        related=related,
        overlay=overlay,
        shown=recorded_value,
    )


def _side(tracker: Any, id_: str, letter: str) -> Side:
    """The model (and evaluation) that ``id_`` names.

    Raises:
        NotFoundError: no entity has that id.
        SchemaError: the entity is neither an evaluation nor a model.
    """
    found = read_entity(tracker, id_)
    if isinstance(found, Evaluation):
        model = tracker.get(found.computed_by, "model")
        return Side(model, found)
    if isinstance(found, Model):
        return Side(found, None)
    raise SchemaError(f"{letter}={id_!r:.80} is a {found.KIND}: the diff compares evaluations or models")


def _scores_side_by_side(a: Evaluation, b: Evaluation) -> list[tuple[str, Any, Any]]:
    """(metric, value in a, value in b) for every metric of either evaluation (None where it has none)."""
    values_a = {score.metric: score.value for score in a.scores}
    values_b = {score.metric: score.value for score in b.scores}
    return [(metric, values_a.get(metric), values_b.get(metric)) for metric in sorted(set(values_a) | set(values_b))]


def _training_runs(tracker: Any, model_ids: Sequence[str]) -> dict[str, Any]:
    """The newest training run of each model that has one (the run whose ``for_model`` names it)."""
    runs = {}
    for model_id in dict.fromkeys(model_ids):
        found = tracker.find("run", for_model=model_id, limit=1)
        if found:
            runs[model_id] = found[0]
    return runs
