"""The digest of experimentation progress in a period: new leaders, regressions, failed training runs."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

from mltrack_core._dates import utc_text
from mltrack_core.regression import CHECK_TAG, COMMIT_TAG
from mltrack_core.schema import Dataset, Evaluation, Model, TrainingRun, TrainingState, now_ms

if TYPE_CHECKING:
    from mltrack_core.lineage import LeaderboardEntry
    from mltrack_core.notify.settings import NotifySettings
    from mltrack_core.tracker import Tracker

__all__ = ["Digest", "FailedRun", "NewLeader", "Regression", "build_digest"]

_PAGE = 500
_LONGEST_RUN_MS = (
    30 * 24 * 3600 * 1000
)  # failed runs that started longer ago than this before the period are not looked at
_SHOWN = 25  # entries per section in the message


@dataclass(frozen=True)
class NewLeader:
    """A leaderboard whose best evaluation is new in the period (``previous``: the leader before it, if any)."""

    dataset: Dataset
    metric: str
    procedure: str | None
    greater_is_better: bool
    leader: LeaderboardEntry
    previous: LeaderboardEntry | None


@dataclass(frozen=True)
class Regression:
    """An evaluation recorded by a regression check that failed."""

    evaluation: Evaluation
    metric: str
    value: float | None
    model: Model | None


@dataclass(frozen=True)
class FailedRun:
    """A training run that ended FAILED in the period."""

    run: TrainingRun


@dataclass(frozen=True)
class Digest:
    """What happened in a store between ``since`` and ``until`` (ms since 1970)."""

    uri: str
    since: int
    until: int
    leaders: tuple[NewLeader, ...]
    regressions: tuple[Regression, ...]
    failed_runs: tuple[FailedRun, ...]

    @property
    def empty(self) -> bool:
        """Nothing to report."""
        return not (self.leaders or self.regressions or self.failed_runs)

    @property
    def subject(self) -> str:
        counts = [
            _count(len(self.leaders), "new leader"),
            _count(len(self.regressions), "regression"),
            _count(len(self.failed_runs), "failed training run"),
        ]
        return f"[mltrack] {', '.join(counts)} since {_when(self.since)}"

    def text(self) -> str:
        """The digest as plain text."""
        lines = [f"mltrack digest of {self.uri}", f"from {_when(self.since)} to {_when(self.until)}", ""]
        lines += _section("New leaders", [_leader_lines(leader) for leader in self.leaders])
        lines += _section("Regressions", [_regression_lines(regression) for regression in self.regressions])
        lines += _section("Failed training runs", [_failed_run_lines(failed) for failed in self.failed_runs])
        if self.empty:
            lines += ["Nothing new.", ""]
        lines.append("Details: mltrack show ID, mltrack lineage ID, mltrack leaderboard --dataset ID --metric M")
        return "\n".join(lines) + "\n"

    def to_message(self, settings: NotifySettings) -> EmailMessage:
        """The digest as an email from ``settings.sender`` to ``settings.recipients``."""
        message = EmailMessage()
        message["Subject"] = self.subject
        message["From"] = settings.sender
        message["To"] = ", ".join(settings.recipients)
        message["Date"] = email.utils.formatdate(self.until / 1000, usegmt=True)
        message["Message-ID"] = email.utils.make_msgid(domain=settings.sender.rpartition("@")[2] or None)
        message.set_content(self.text())
        return message


def build_digest(tracker: Tracker, since: int, until: int | None = None) -> Digest:
    """Collect what happened in ``tracker``'s store from ``since`` to ``until`` (ms since 1970; default now)."""
    until = now_ms() if until is None else until
    evaluations = _evaluations_between(tracker, since, until)
    return Digest(
        uri=tracker.uri,
        since=since,
        until=until,
        leaders=tuple(_new_leaders(tracker, evaluations, since, until)),
        regressions=tuple(_regressions(tracker, evaluations)),
        failed_runs=tuple(_failed_runs(tracker, since, until)),
    )


def _evaluations_between(tracker: Tracker, since: int, until: int) -> list[Evaluation]:
    found: list[Evaluation] = []
    while True:
        page = tracker.find(
            "evaluation", created_after=since - 1, created_before=until + 1, limit=_PAGE, offset=len(found)
        )
        found.extend(page)  # type: ignore[arg-type]
        if len(page) < _PAGE:
            return found[::-1]  # oldest first


def _new_leaders(tracker: Tracker, evaluations: list[Evaluation], since: int, until: int) -> list[NewLeader]:
    boards: dict[tuple[str, str, str | None], str] = {}
    datasets = tracker.get_many(sorted({evaluation.on_dataset for evaluation in evaluations}))
    for evaluation in evaluations:
        dataset = datasets.get(evaluation.on_dataset)
        if not isinstance(dataset, Dataset):
            continue
        data = f"{dataset.fingerprint or dataset.id}|{dataset.target}"
        for score in evaluation.scores:
            if score.is_scalar:
                boards.setdefault((data, score.metric, evaluation.procedure), dataset.id)
    leaders = []
    for (_, metric, procedure), dataset_id in boards.items():
        board = tracker.leaderboard(dataset_id, metric, procedure=procedure)
        if not board.entries or board.procedure != procedure:
            continue
        leader = board.entries[0]
        if not since <= leader.evaluation.creation_time <= until:
            continue
        previous = next((entry for entry in board.entries if entry.evaluation.creation_time < since), None)
        leaders.append(NewLeader(board.dataset, metric, procedure, board.greater_is_better, leader, previous))
    return leaders


def _regressions(tracker: Tracker, evaluations: list[Evaluation]) -> list[Regression]:
    failed = [evaluation for evaluation in evaluations if evaluation.tags.get(CHECK_TAG) == "failed"]
    models = tracker.get_many(sorted({evaluation.computed_by for evaluation in failed}))
    regressions = []
    for evaluation in failed:
        metric = evaluation.annotations.get("mltrack.check.metric") or (
            evaluation.scores[0].metric if evaluation.scores else "?"
        )
        score = evaluation.score(metric)
        value = float(score.value) if score is not None and score.is_scalar else None
        model = models.get(evaluation.computed_by)
        regressions.append(Regression(evaluation, metric, value, model if isinstance(model, Model) else None))
    return regressions


def _failed_runs(tracker: Tracker, since: int, until: int) -> list[FailedRun]:
    failed: list[FailedRun] = []
    offset = 0
    while True:
        page = tracker.find(
            "run", state=TrainingState.FAILED, created_after=since - _LONGEST_RUN_MS, limit=_PAGE, offset=offset
        )
        for run in page:
            assert isinstance(run, TrainingRun)
            ended = run.end_time if run.end_time is not None else run.creation_time
            if since <= ended <= until:
                failed.append(FailedRun(run))
        if len(page) < _PAGE:
            return failed[::-1]
        offset += len(page)


# ---------------------------------------------------------------- text


def _section(title: str, entries: list[list[str]]) -> list[str]:
    if not entries:
        return []
    lines = [f"{title} ({len(entries)})", "-" * (len(title) + len(str(len(entries))) + 3)]
    for entry in entries[:_SHOWN]:
        lines += entry
    if len(entries) > _SHOWN:
        lines.append(f"... and {len(entries) - _SHOWN} more")
    return [*lines, ""]


def _leader_lines(leader: NewLeader) -> list[str]:
    direction = "higher is better" if leader.greater_is_better else "lower is better"
    entry = leader.leader
    lines = [
        f"* {leader.metric} on {leader.dataset.name} [{leader.dataset.id}] "
        f"(procedure {leader.procedure or 'unspecified'}, {direction})",
        f"  leader:   {entry.value:.6g} by model {entry.model.name} [{entry.model.id}], "
        f"evaluation {entry.evaluation.id} at {_when(entry.evaluation.creation_time)}",
    ]
    previous = leader.previous
    if previous is None:
        lines.append("  first result on this leaderboard")
    else:
        lines.append(f"  previous: {previous.value:.6g} by model {previous.model.name} [{previous.model.id}]")
    return lines


def _regression_lines(regression: Regression) -> list[str]:
    evaluation = regression.evaluation
    value = f"{regression.value:.6g}" if regression.value is not None else "?"
    model = f"{regression.model.name} [{regression.model.id}]" if regression.model else evaluation.computed_by
    headline = f"* {regression.metric} of model {model} on dataset {evaluation.on_dataset}: {value}"
    baseline = evaluation.annotations.get("mltrack.check.baseline_value")
    if baseline:
        headline += f", worse than the baseline {baseline}"
        if "mltrack.check.baseline" in evaluation.annotations:
            headline += f" (evaluation {evaluation.annotations['mltrack.check.baseline']})"
    details = f"  recorded {_when(evaluation.creation_time)} as evaluation {evaluation.id}"
    if COMMIT_TAG in evaluation.tags:
        details += f" at commit {evaluation.tags[COMMIT_TAG][:12]}"
    if evaluation.name:
        details += f" by {evaluation.name}"
    return [headline, details]


def _failed_run_lines(failed: FailedRun) -> list[str]:
    run = failed.run
    reason = run.annotations.get("mltrack.failure") or "no reason recorded"
    ended = _when(run.end_time) if run.end_time is not None else "unknown time"
    return [f"* {run.name or 'unnamed run'} [{run.id}] failed at {ended}: {reason}"]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _when(milliseconds: int) -> str:
    return utc_text(milliseconds, "%Y-%m-%d %H:%M UTC")
