"""Model-quality regression checks: is a new score worse than the comparable history?

The paper's "automated regression tests, which compare the results on hold
out data with historical prediction results upon every commit".
:func:`check_regression` is shared by the pytest fixture ``mltrack_regression``
(:mod:`mltrack_core.pytest_plugin`) and ``mltrack regress``:

1. the history is every stored evaluation comparable with the new score: the
   same data (the dataset, or any dataset with the same content fingerprint
   and target column), the same metric and the same evaluation procedure, as
   in :meth:`Tracker.leaderboard <mltrack_core.tracker.Tracker.leaderboard>`;
2. the baseline is taken from it by a policy: ``"best"`` (the best value so
   far), ``"last-passing"`` (the newest evaluation whose own check passed) or
   the id of a stored evaluation (pinned);
3. the new value regresses when it is worse than the baseline by more than
   ``tolerance`` (an absolute difference), in the metric's direction: the
   score's stated ``greater_is_better``, else
   :func:`mltrack_core.lineage.greater_is_better` (losses and errors are
   better when lower);
4. unless recording is turned off, the new score is stored as an
   :class:`~mltrack_core.schema.Evaluation` tagged with the current git commit
   and the outcome (``mltrack.check``: ``passed`` or ``failed``), so later
   checks, ``last-passing`` baselines and ``mltrack notify`` digests see it.

With no comparable history the check passes and its evaluation becomes the
first baseline.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core._dates import utc_text
from mltrack_core.errors import MltrackError, NotFoundError, SchemaError
from mltrack_core.lineage import greater_is_better as greater_is_better_by_name
from mltrack_core.schema import Dataset, Evaluation, Model, Score

if TYPE_CHECKING:
    from mltrack_core.lineage import Leaderboard, LeaderboardEntry
    from mltrack_core.tracker import Tracker

__all__ = [
    "CHECK_TAG",
    "COMMIT_TAG",
    "POLICIES",
    "Baseline",
    "IncomparableBaselineError",
    "RegressionResult",
    "check_regression",
    "current_commit",
]

POLICIES = ("best", "last-passing")
"""Baseline policies; any other baseline is read as the id of a stored evaluation (pinned)."""
CHECK_TAG = "mltrack.check"
"""Tag of evaluations recorded by a check: ``passed`` or ``failed``."""
COMMIT_TAG = "git.commit"
"""Tag of evaluations recorded by a check: the commit of the repository that was checked."""
_ANNOTATION = "mltrack.check."


class IncomparableBaselineError(MltrackError, ValueError):
    """A pinned baseline evaluation cannot be compared with the checked score."""


@dataclass(frozen=True)
class Baseline:
    """The evaluation a check compares with, and how it was chosen (``best``, ``last-passing`` or ``pinned``)."""

    evaluation: Evaluation
    value: float
    model: Model | None
    policy: str

    @property
    def commit(self) -> str | None:
        """The git commit the baseline was recorded at (its check's tag, else its model's environment)."""
        if COMMIT_TAG in self.evaluation.tags:
            return self.evaluation.tags[COMMIT_TAG]
        return self.model.environment.get("git.commit") if self.model is not None else None


@dataclass(frozen=True)
class RegressionResult:
    """The outcome of one check; ``regressed`` says whether it failed, :meth:`report` says why."""

    metric: str
    value: float
    dataset_id: str
    procedure: str
    greater_is_better: bool
    tolerance: float
    baseline: Baseline | None
    history: int
    commit: str | None
    evaluation: Evaluation | None

    @property
    def improvement(self) -> float | None:
        """How much better than the baseline the value is (negative: worse), or None without a baseline."""
        if self.baseline is None:
            return None
        difference = self.value - self.baseline.value
        return difference if self.greater_is_better else -difference

    @property
    def regressed(self) -> bool:
        """True when the value is worse than the baseline by more than the tolerance."""
        improvement = self.improvement
        return improvement is not None and improvement < -self.tolerance

    def report(self) -> str:
        """A few lines for people: the metric, both values, the baseline's commit and date."""
        direction = "higher is better" if self.greater_is_better else "lower is better"
        current = (
            f"  current:  {self.value:.6g} on dataset {self.dataset_id}, procedure {self.procedure!r}, "
            f"commit {_short(self.commit)}"
            + (f", recorded as evaluation {self.evaluation.id}" if self.evaluation is not None else ", not recorded")
        )
        baseline = self.baseline
        if baseline is None:
            return (
                f"{self.metric} passed: {self.value:.6g} is the first comparable result ({direction}); "
                "it is the baseline from now on\n" + current
            )
        gap = abs(self.value - baseline.value)
        if self.regressed:
            headline = (
                f"{self.metric} regressed: {self.value:.6g} is worse than the baseline {baseline.value:.6g} "
                f"by {gap:.6g}, more than the tolerance {self.tolerance:g} ({direction})"
            )
        else:
            improvement = self.improvement or 0.0
            detail = "equal"
            if improvement > 0:
                detail = f"better by {gap:.6g}"
            elif improvement < 0:
                detail = f"worse by {gap:.6g}, within the tolerance {self.tolerance:g}"
            headline = (
                f"{self.metric} passed: {self.value:.6g} vs baseline {baseline.value:.6g} ({detail}, {direction})"
            )
        chosen = {
            "best": f"the best of {self.history} comparable evaluation(s)",
            "last-passing": f"the last passing of {self.history} comparable evaluation(s)",
            "pinned": "pinned",
        }[baseline.policy]
        model = f" of model {baseline.model.name} [{baseline.model.id}]" if baseline.model is not None else ""
        lines = [
            headline,
            f"  baseline: {baseline.value:.6g} ({chosen}): evaluation {baseline.evaluation.id}{model}",
            f"            commit {_short(baseline.commit)}, recorded {_when(baseline.evaluation.creation_time)}",
            current,
        ]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        baseline = self.baseline
        return {
            "metric": self.metric,
            "value": self.value,
            "dataset": self.dataset_id,
            "procedure": self.procedure,
            "greater_is_better": self.greater_is_better,
            "tolerance": self.tolerance,
            "regressed": self.regressed,
            "commit": self.commit,
            "evaluation": self.evaluation.id if self.evaluation is not None else None,
            "history": self.history,
            "baseline": None
            if baseline is None
            else {
                "evaluation": baseline.evaluation.id,
                "value": baseline.value,
                "policy": baseline.policy,
                "model": baseline.model.id if baseline.model is not None else None,
                "commit": baseline.commit,
                "recorded": _when(baseline.evaluation.creation_time),
            },
        }


def check_regression(
    tracker: Tracker,
    metric: str,
    value: Any,
    *,
    model: Model | str | None,
    dataset: Dataset | str,
    tolerance: float = 0.0,
    procedure: str = "holdout",
    baseline: str = "best",
    record: bool = True,
    greater_is_better: bool | None = None,
    repository: str | Path | None = None,
    name: str | None = None,
) -> RegressionResult:
    """Compare ``value`` of ``metric`` with the comparable history and record it.

    Args:
        tracker: the tracker holding the history (and recording the new evaluation).
        metric: the metric's name, e.g. ``"roc_auc"``.
        value: the new score.
        model: the model that was evaluated (a :class:`Model` is tracked
            first if the store lacks it), or its id; needed when recording.
        dataset: the (hold-out) dataset it was evaluated on, or its id.
        tolerance: how much worse than the baseline still passes (absolute).
        procedure: how the value was estimated; only evaluations with the
            same procedure are comparable.
        baseline: ``"best"``, ``"last-passing"``, or the id of a stored evaluation.
        record: store the evaluation (tagged with commit and outcome).
        greater_is_better: the metric's direction when its name does not tell.
        repository: the git repository whose commit is recorded (default: the working folder).
        name: the evaluation's name (the pytest fixture uses the test id).

    Raises:
        SchemaError: a bad metric, value, tolerance or procedure.
        NotFoundError: the dataset, model or pinned evaluation id is not stored.
        IncomparableBaselineError: the pinned evaluation is not comparable with this check.
    """
    value = _finite(value, f"the value of {metric!r}")
    if not isinstance(metric, str) or not metric:
        raise SchemaError(f"metric must be a non-empty name, got {metric!r}")
    tolerance = _finite(tolerance, "tolerance")
    if tolerance < 0:
        raise SchemaError(f"tolerance must not be negative, got {tolerance}")
    if not isinstance(procedure, str) or not procedure:
        raise SchemaError(f"procedure must be a non-empty name such as 'holdout', got {procedure!r}")
    if record and model is None:
        raise SchemaError("recording a check needs model=: the model (or its id) that computed the value")
    known_model = _resolve_model(tracker, model) if model is not None else None
    stored_dataset = _resolve_dataset(tracker, dataset)
    board = tracker.leaderboard(stored_dataset, metric, procedure=procedure) if stored_dataset is not None else None
    entries = list(board.entries) if board is not None else []
    higher = greater_is_better
    if higher is None:
        higher = board.greater_is_better if board is not None and entries else greater_is_better_by_name(metric)
    chosen = _baseline(tracker, baseline, entries, board, higher, metric, procedure)
    commit_facts = _git(repository)
    result = RegressionResult(
        metric=metric,
        value=value,
        dataset_id=stored_dataset.id if stored_dataset is not None else _id_of(dataset),
        procedure=procedure,
        greater_is_better=higher,
        tolerance=tolerance,
        baseline=chosen,
        history=len(entries),
        commit=commit_facts.get("git.commit"),
        evaluation=None,
    )
    if not record:
        return result
    outcome = "failed" if result.regressed else "passed"
    tags = {
        CHECK_TAG: outcome,
        **{key: commit_facts[key] for key in ("git.commit", "git.branch") if key in commit_facts},
    }
    annotations = {
        f"{_ANNOTATION}metric": metric,
        f"{_ANNOTATION}tolerance": repr(tolerance),
        f"{_ANNOTATION}policy": chosen.policy if chosen is not None else baseline,
    }
    if chosen is not None:
        annotations[f"{_ANNOTATION}baseline"] = chosen.evaluation.id
        annotations[f"{_ANNOTATION}baseline_value"] = repr(chosen.value)
    if "git.dirty" in commit_facts:
        annotations["git.dirty"] = commit_facts["git.dirty"]
    # only now, with the check decided, is anything written: the dataset and model first if the store lacks them
    on_dataset = tracker.track_dataset(dataset) if isinstance(dataset, Dataset) else stored_dataset
    computed_by = tracker.track_model(known_model) if isinstance(model, Model) else known_model
    evaluation = tracker.track_evaluation(
        [Score(metric=metric, value=value, greater_is_better=greater_is_better)],
        computed_by=computed_by,
        on_dataset=on_dataset,
        procedure=procedure,
        name=name or f"regression check of {metric}",
        tags=tags,
        annotations=annotations,
    )
    return dataclasses.replace(result, evaluation=evaluation)


def current_commit(repository: str | Path | None = None) -> str | None:
    """The commit checked out in ``repository`` (default: the working folder), or None outside git."""
    return _git(repository).get("git.commit")


# ---------------------------------------------------------------- helpers


def _git(repository: str | Path | None) -> dict[str, str]:
    from mltrack_core.environment import git_facts

    return git_facts(Path(repository) if repository is not None else Path.cwd())


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise SchemaError(f"{what} must be a number, got {type(value).__name__} {value!r:.60}")
    number = float(value)
    if not math.isfinite(number):
        raise SchemaError(f"{what} must be a finite number, got {number}")
    return number


def _id_of(reference: Any) -> str:
    return reference.id if isinstance(reference, (Dataset, Model)) else str(reference)


def _resolve_dataset(tracker: Tracker, dataset: Dataset | str) -> Dataset | None:
    """The stored dataset to compare on: the given one, else one with its content fingerprint, else None."""
    if isinstance(dataset, Dataset):
        stored = tracker.get_many([dataset.id]).get(dataset.id)
        if isinstance(stored, Dataset):
            return stored
        if dataset.fingerprint:
            same = tracker.find("dataset", fingerprint=dataset.fingerprint, limit=1)
            return same[0] if same else None  # type: ignore[return-value]
        return None
    if not isinstance(dataset, str) or not dataset:
        raise SchemaError(f"dataset must be a Dataset or a dataset id, got {type(dataset).__name__} {dataset!r:.60}")
    return tracker.get(dataset, "dataset")  # type: ignore[return-value]


def _resolve_model(tracker: Tracker, model: Model | str) -> Model:
    if isinstance(model, Model):
        return model
    if not isinstance(model, str) or not model:
        raise SchemaError(f"model must be a Model or a model id, got {type(model).__name__} {model!r:.60}")
    return tracker.get(model, "model")  # type: ignore[return-value]


def _baseline(
    tracker: Tracker,
    policy: str,
    entries: list[LeaderboardEntry],
    board: Leaderboard | None,
    higher: bool,
    metric: str,
    procedure: str,
) -> Baseline | None:
    if not isinstance(policy, str) or not policy:
        raise SchemaError(f"baseline must be {' or '.join(POLICIES)} or an evaluation id, got {policy!r}")
    if policy == "best":
        if not entries:
            return None
        best = min(entries, key=lambda entry: (-entry.value if higher else entry.value, entry.evaluation.creation_time))
        return Baseline(best.evaluation, best.value, best.model, "best")
    if policy == "last-passing":
        passing = [entry for entry in entries if entry.evaluation.tags.get(CHECK_TAG) == "passed"]
        if not passing:
            return None
        last = max(passing, key=lambda entry: (entry.evaluation.creation_time, entry.evaluation.id))
        return Baseline(last.evaluation, last.value, last.model, "last-passing")
    for entry in entries:
        if entry.evaluation.id == policy:
            return Baseline(entry.evaluation, entry.value, entry.model, "pinned")
    try:
        pinned = tracker.get(policy, "evaluation")
    except NotFoundError:
        raise NotFoundError(
            f"baseline {policy!r} is neither a policy ({', '.join(POLICIES)}) nor a stored evaluation id"
        ) from None
    reasons = dict(board.excluded) if board is not None else {}
    reason = reasons.get(policy)
    if reason is None:
        score = pinned.score(metric)  # type: ignore[attr-defined]
        if score is None or not score.is_scalar:
            reason = f"it has no numeric {metric!r} score"
        elif pinned.procedure != procedure:  # type: ignore[attr-defined]  # (a board lists the first exclusions only)
            reason = f"procedure {pinned.procedure!r}, not {procedure!r}"  # type: ignore[attr-defined]
        else:
            dataset = board.dataset.id if board is not None else "the checked dataset"
            reason = f"it was computed on dataset {pinned.on_dataset}, which does not hold the same data as {dataset}"  # type: ignore[attr-defined]
    raise IncomparableBaselineError(
        f"pinned baseline {policy} cannot be compared with this {metric!r} check (procedure {procedure!r}): {reason}"
    )


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "unknown"


def _when(milliseconds: int) -> str:
    return utc_text(milliseconds, "%Y-%m-%d %H:%M:%S UTC")
