"""Provenance questions over the stored metadata.

* :func:`trace`: what an entity was derived from, or what was derived from it;
* :func:`compare_evaluations`: can two evaluations be compared, and if not, why;
* :func:`rank`: a leaderboard of mutually comparable evaluations, best first;
* :func:`diff_models`: only what differs between two models.

"Same data" means the same dataset id, or datasets with the same content
fingerprint (so copies under other names or ids count as the same data).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mltrack_core.errors import NotFoundError, SchemaError
from mltrack_core.schema import (
    Dataset,
    Entity,
    Evaluation,
    Model,
    Parameter,
    Transform,
    entity_from_json,
    float_from_json,
    json_safe,
    metric_name,
)
from mltrack_core.store import Link, RankedScore, RankingGroup, RankingRow, ranked_scores

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = [
    "Comparability",
    "Leaderboard",
    "LeaderboardEntry",
    "Lineage",
    "ModelDiff",
    "compare_evaluations",
    "diff_models",
    "greater_is_better",
    "rank",
    "trace",
]

_LOWER_IS_BETTER = {
    "loss", "error", "err", "mse", "rmse", "mae", "mape", "msle", "rmsle", "logloss", "crossentropy",
    "entropy", "brier", "hinge", "perplexity", "deviance", "time", "millis", "seconds", "distance", "regret",
}  # fmt: skip


def greater_is_better(metric: str) -> bool:
    """Whether a higher value of ``metric`` is better, judged by its name.

    Names with a word such as loss, error, mse, rmse, mae, perplexity or time
    are lower-is-better; scikit-learn's ``neg_*`` scorers and everything else
    (accuracy, auc, f1, r2, ...) are higher-is-better. A :class:`Score` with
    ``greater_is_better`` set overrides this.
    """
    name = metric.lower()
    if name.startswith("neg_"):
        return True
    words = set(re.split(r"[^a-z0-9]+", name.replace("cross-entropy", "crossentropy").replace("log_loss", "logloss")))
    return not (words & _LOWER_IS_BETTER)


def _get_of_kind(tracker: Tracker, id_: str, kind: str) -> Entity:
    """The stored entity ``id_``, which must be a ``kind``.

    Raises:
        NotFoundError: no entity has that id, or it is of another kind (the message says which).
    """
    found = tracker.get_many([id_]).get(id_)
    if found is None:
        raise NotFoundError(f"no {kind} with id {id_!r}; list ids with: mltrack ls {kind}")
    if kind != found.KIND:
        raise NotFoundError(f"{id_!r} is {_a(found.KIND)}, not {_a(kind)}")
    return found


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


# ---------------------------------------------------------------- lineage


@dataclass(frozen=True)
class Lineage:
    """The part of the lineage graph reachable from ``root`` in one direction.

    ``edges`` point from the entity that names another to the named one
    (model --trained_on--> dataset), whatever the direction of the query.
    """

    root: str
    direction: Literal["upstream", "downstream"]
    nodes: Mapping[str, Entity]
    edges: tuple[Link, ...]
    depth_of: Mapping[str, int]

    def of_kind(self, kind: str) -> list[Entity]:
        """The entities of ``kind`` in this lineage, nearest first."""
        return [entity for id_, entity in self._by_depth() if kind == entity.KIND and id_ != self.root]

    def _by_depth(self) -> list[tuple[str, Entity]]:
        return sorted(self.nodes.items(), key=lambda item: (self.depth_of[item[0]], item[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": [
                {"id": id_, "kind": entity.KIND, "name": entity.name, "depth": self.depth_of[id_]}
                for id_, entity in self._by_depth()
            ],
            "edges": [{"source": e.source, "relation": e.relation, "target": e.target} for e in self.edges],
        }

    @classmethod
    def from_json(cls, answer: Mapping[str, Any], get_many: Callable[..., Mapping[str, Entity]]) -> Lineage:
        """The lineage a server answered (:meth:`to_json`), its nodes read with ``get_many`` in one call."""
        depth_of = {node["id"]: node["depth"] for node in answer["nodes"]}
        nodes = get_many(list(depth_of), with_scores=False)
        edges = tuple(Link(edge["source"], edge["relation"], edge["target"]) for edge in answer["edges"])
        return cls(answer["root"], answer["direction"], nodes, edges, depth_of)

    def tree_lines(self) -> list[str]:
        """The lineage as indented text lines, one per path step (shared entities shown once in full)."""
        children: dict[str, list[tuple[str, str]]] = {}
        for edge in self.edges:
            parent, child = (edge.source, edge.target) if self.direction == "upstream" else (edge.target, edge.source)
            children.setdefault(parent, []).append((edge.relation, child))
        lines: list[str] = []
        shown: set[str] = set()

        def visit(id_: str, relation: str | None, indent: str) -> None:
            entity = self.nodes.get(id_)
            label = f"{entity.KIND} {entity.name or ''} [{id_}]".replace("  ", " ") if entity else f"[{id_}]"
            arrow = f"{relation}{' <- ' if self.direction == 'downstream' else ': '}" if relation else ""
            repeated = id_ in shown
            lines.append(f"{indent}{arrow}{label}{' (see above)' if repeated and children.get(id_) else ''}")
            if repeated:
                return
            shown.add(id_)
            for child_relation, child in sorted(children.get(id_, []), key=lambda item: (item[0], item[1])):
                visit(child, child_relation, indent + "  ")

        visit(self.root, None, "")
        return lines


def check_trace_arguments(direction: Any, depth: Any) -> None:
    """Raises SchemaError unless ``direction`` is upstream or downstream and ``depth`` None or a count."""
    if direction not in ("upstream", "downstream"):
        raise SchemaError(f"direction must be 'upstream' or 'downstream', not {direction!r}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise SchemaError(f"depth must be a non-negative number of steps, not {depth!r:.60}")


def trace(tracker: Tracker, root: str, direction: str, depth: int | None) -> Lineage:
    """Breadth-first walk of the lineage graph from ``root``, one store query per level."""
    check_trace_arguments(direction, depth)
    if root not in tracker.get_many([root], with_scores=False):  # a run's points are not needed here
        tracker.get(root)  # raises NotFoundError with a helpful message
    depth_of = {root: 0}
    edges: list[Link] = []
    frontier = [root]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        next_frontier = []
        for link in tracker.store.links(frontier, "out" if direction == "upstream" else "in"):
            edges.append(link)
            other = link.target if direction == "upstream" else link.source
            if other not in depth_of:
                depth_of[other] = level
                next_frontier.append(other)
        frontier = next_frontier
    nodes = tracker.get_many(list(depth_of), with_scores=False)
    return Lineage(root, direction, nodes, tuple(dict.fromkeys(edges)), depth_of)  # type: ignore[arg-type]


# ---------------------------------------------------------------- comparability


@dataclass(frozen=True)
class Comparability:
    """The answer to "can these two evaluations be compared?"; truthy when they can."""

    comparable: bool
    reasons: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.comparable

    @classmethod
    def from_json(cls, answer: Mapping[str, Any]) -> Comparability:
        """The answer a server gave (``{comparable, reasons, metrics}``)."""
        return cls(answer["comparable"], tuple(answer["reasons"]), tuple(answer["metrics"]))


def same_data(a: Dataset, b: Dataset) -> bool:
    """Whether two datasets hold the same data: one id, or equal content fingerprints."""
    return a.id == b.id or (a.fingerprint is not None and a.fingerprint == b.fingerprint)


def _data_reason(a: Dataset, b: Dataset) -> str | None:
    if same_data(a, b):
        return None
    if a.fingerprint and b.fingerprint:
        return (
            f"computed on different data: dataset {a.name!r} ({a.id}, fingerprint {a.fingerprint[:19]}) "
            f"vs {b.name!r} ({b.id}, fingerprint {b.fingerprint[:19]})"
        )
    missing = " and ".join(f"{d.name!r} ({d.id})" for d in (a, b) if not d.fingerprint)
    return (
        f"cannot tell whether datasets {a.name!r} ({a.id}) and {b.name!r} ({b.id}) hold the same data: "
        f"{missing} has no fingerprint"
    )


def compare_evaluations(tracker: Tracker, a_id: str, b_id: str, metric: str | None) -> Comparability:
    """Two evaluations are comparable on the same data, with a metric in common and the same procedure."""
    a, b = (_get_of_kind(tracker, id_, "evaluation") for id_ in (a_id, b_id))
    assert isinstance(a, Evaluation) and isinstance(b, Evaluation)
    datasets = tracker.get_many([a.on_dataset, b.on_dataset])
    data_a, data_b = datasets[a.on_dataset], datasets[b.on_dataset]
    assert isinstance(data_a, Dataset) and isinstance(data_b, Dataset)
    reasons = []
    data_reason = _data_reason(data_a, data_b)
    if data_reason:
        reasons.append(data_reason)
    elif data_a.target != data_b.target:
        reasons.append(f"different target columns: {data_a.target!r} vs {data_b.target!r}")
    metrics_a = {score.metric for score in a.scores}
    metrics_b = {score.metric for score in b.scores}
    common = tuple(sorted(metrics_a & metrics_b))
    if metric is not None:
        for evaluation, metrics in ((a, metrics_a), (b, metrics_b)):
            if metric not in metrics:
                present = ", ".join(sorted(metrics)) or "none"
                reasons.append(f"evaluation {evaluation.id} has no {metric!r} score (it has {present})")
        common = (metric,) if metric in common else ()
    elif not common:
        reasons.append(f"no metric in common: {sorted(metrics_a)} vs {sorted(metrics_b)}")
    if a.procedure != b.procedure:
        reasons.append(f"different evaluation procedures: {a.procedure!r} vs {b.procedure!r}")
    return Comparability(not reasons, tuple(reasons), common)


# ---------------------------------------------------------------- leaderboards


@dataclass(frozen=True)
class LeaderboardEntry:
    """One row of a leaderboard: its rank, the metric's value, the evaluation and the model it scores."""

    rank: int
    value: float
    evaluation: Evaluation
    model: Model


@dataclass(frozen=True)
class Leaderboard:
    """Evaluations of one metric on the same data with one procedure, best first.

    ``entries`` is one page of the ranking: ``total`` evaluations are ranked
    in all, and the page starts after the first ``offset`` (each entry's
    ``rank`` counts from the top of the whole ranking).
    ``excluded`` lists the evaluations of the metric on the same data left
    out, with the reason (a value that is not a finite number such as NaN,
    infinity, None or text, another target column, another procedure): the
    first :data:`EXCLUSIONS_LISTED` of them; ``excluded_total`` counts them all.
    ``metrics`` names every metric evaluated on the same data.
    """

    dataset: Dataset
    metric: str
    procedure: str | None
    greater_is_better: bool
    entries: tuple[LeaderboardEntry, ...]
    excluded: tuple[tuple[str, str], ...] = field(default=())
    metrics: tuple[str, ...] = field(default=())
    total: int = 0
    offset: int = 0
    excluded_total: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.id,
            "metric": self.metric,
            "procedure": self.procedure,
            "greater_is_better": self.greater_is_better,
            "entries": [
                {
                    "rank": entry.rank,
                    "value": entry.value,
                    "evaluation": entry.evaluation.id,
                    "model": entry.model.id,
                    "model_name": entry.model.name,
                    "learning_algorithm": entry.model.learning_algorithm,
                    "dataset": entry.evaluation.on_dataset,
                }
                for entry in self.entries
            ],
            "excluded": [{"evaluation": id_, "reason": reason} for id_, reason in self.excluded],
            "metrics": list(self.metrics),
            "total": self.total,
            "offset": self.offset,
            "excluded_total": self.excluded_total,
        }

    @classmethod
    def from_json(cls, answer: Mapping[str, Any], get_many: Callable[..., Mapping[str, Entity]]) -> Leaderboard:
        """The leaderboard a server ranked (:meth:`to_json`); its dataset and entries are read with one ``get_many``."""
        rows = answer["entries"]
        ids = [answer["dataset"], *(row["evaluation"] for row in rows), *(row["model"] for row in rows)]
        found = get_many(list(dict.fromkeys(ids)))
        entries = tuple(
            LeaderboardEntry(row["rank"], float_from_json(row["value"]), found[row["evaluation"]], found[row["model"]])  # type: ignore[arg-type]
            for row in rows
        )
        return cls(
            dataset=found[answer["dataset"]],  # type: ignore[arg-type]
            metric=answer["metric"],
            procedure=answer["procedure"],
            greater_is_better=answer["greater_is_better"],
            entries=entries,
            excluded=tuple((row["evaluation"], row["reason"]) for row in answer["excluded"]),
            metrics=tuple(answer["metrics"]),
            total=answer["total"],
            offset=answer["offset"],
            excluded_total=answer["excluded_total"],
        )


EXCLUSIONS_LISTED = 100
"""At most this many of the evaluations a leaderboard leaves out are listed (``excluded_total`` counts them all)."""


def rank(
    tracker: Tracker,
    dataset_id: str,
    metric: str,
    *,
    procedure: str | None,
    limit: int | None,
    offset: int = 0,
    scan: bool = False,
) -> Leaderboard:
    """The leaderboard of ``metric`` on the data of ``dataset_id``: the page of ``limit`` entries after ``offset``.

    A SQL store answers from its ranking index (one page of it, however many
    evaluations the data has); other stores from every evaluation of the data
    (``scan`` forces that, to compare the two). Only the evaluations shown become entities.

    Raises:
        SchemaError: an argument has the wrong type or value.
        NotFoundError: ``dataset_id`` is not a stored dataset.
    """
    check_leaderboard_arguments(dataset_id, metric, procedure, limit, offset)
    dataset = _get_of_kind(tracker, dataset_id, "dataset")
    assert isinstance(dataset, Dataset)
    stored = hasattr(tracker.store, "ranking_groups") and not scan
    ranking = tracker.store if stored else _ScannedRanking(tracker, dataset)
    groups = ranking.ranking_groups(dataset.id, metric)
    targets = {
        id_: json.loads(found.document).get("target")
        for id_, found in tracker.store.get(sorted({group.dataset for group in groups})).items()
    }
    same_target = sorted(id_ for id_, target in targets.items() if target == dataset.target)
    candidates = [group for group in groups if group.ranked and group.dataset in same_target]
    if procedure is None and candidates:
        counts: Counter[str | None] = Counter()
        for group in candidates:
            counts[group.procedure] += group.count
        procedure = max(counts, key=lambda name: (counts[name], name is None, name or ""))
    kept = [group for group in candidates if group.procedure == procedure]
    higher = stated_direction(metric, {group.stated for group in kept if group.stated is not None})
    page = []
    if kept:
        page = ranking.ranking_rows(
            dataset.id, metric, procedure, same_target, ranked=True, higher=higher, limit=limit, offset=offset
        )
    evaluations = tracker.get_many([row.evaluation for row in page])
    models = tracker.get_many([row.model for row in page])
    entries = tuple(
        LeaderboardEntry(position, row.value, evaluations[row.evaluation], models[row.model])  # type: ignore[arg-type]
        for position, row in enumerate(page, start=offset + 1)
    )
    excluded, excluded_total = _exclusions(ranking, metric, groups, targets, dataset, procedure, higher)
    return Leaderboard(
        dataset,
        metric,
        procedure,
        higher,
        entries,
        tuple(excluded),
        tuple(ranking.ranking_metrics(dataset.id)),
        sum(group.count for group in kept),
        offset,
        excluded_total,
    )


def _exclusions(
    ranking: Any,
    metric: str,
    groups: list[RankingGroup],
    targets: dict[str, Any],
    dataset: Dataset,
    procedure: str | None,
    higher: bool,
) -> tuple[list[tuple[str, str]], int]:
    """The first :data:`EXCLUSIONS_LISTED` evaluations left out, with the reason, and how many are left out.

    Listed in this order: scores that are not finite numbers, another target column, another procedure (each
    procedure by name, unnamed first).
    """
    unranked = [group for group in groups if not group.ranked]
    other_target = [group for group in groups if group.ranked and targets.get(group.dataset) != dataset.target]
    other_procedure = [
        group
        for group in groups
        if group.ranked and targets.get(group.dataset) == dataset.target and group.procedure != procedure
    ]
    reasons: list[tuple[list[RankingGroup], bool, Callable[[RankingRow, str | None], str]]] = [
        (unranked, False, lambda row, _: f"its {metric} score is {row.shown}, not a finite number"),
        (other_target, True, lambda row, _: f"target column {targets.get(row.dataset)!r}, not {dataset.target!r}"),
        (other_procedure, True, lambda _, other: f"procedure {other!r}, not {procedure!r}"),
    ]
    listed: list[tuple[str, str]] = []
    for its_groups, ranked, reason in reasons:
        for other in sorted({group.procedure for group in its_groups}, key=lambda name: (name is not None, name)):
            room = EXCLUSIONS_LISTED - len(listed)
            if room <= 0:
                break
            datasets = sorted({group.dataset for group in its_groups if group.procedure == other})
            rows = ranking.ranking_rows(
                dataset.id, metric, other, datasets, ranked=ranked, higher=higher, limit=room, offset=0
            )
            listed += [(row.evaluation, reason(row, other)) for row in rows]
    return listed, sum(group.count for its_groups, _, _ in reasons for group in its_groups)


class _ScannedRanking:
    """The ranking read from every evaluation of one dataset's data (stores without a ranking of their own).

    Its methods are the store's optional ranking reads (see :class:`mltrack_core.store.Store`), for that data.
    """

    def __init__(self, tracker: Tracker, dataset: Dataset) -> None:
        dataset_ids = [dataset.id]
        if dataset.fingerprint:
            same_data = tracker.store.find(_fingerprint_query(dataset.fingerprint))
            dataset_ids += [id_ for id_ in same_data if id_ != dataset.id]
        self._scores: list[tuple[int, str, RankedScore]] = []
        for document in _evaluation_documents(tracker, dataset_ids).values():
            evaluation = entity_from_json(document)
            assert isinstance(evaluation, Evaluation)
            self._scores += [(evaluation.creation_time, evaluation.id, score) for score in ranked_scores(evaluation)]

    def ranking_groups(self, dataset_id: str, metric: str) -> list[RankingGroup]:
        counts = Counter(
            (score.procedure, score.dataset, score.value is not None, score.stated)
            for _, _, score in self._scores
            if score.metric == metric
        )
        return [RankingGroup(*key, count) for key, count in counts.items()]

    def ranking_rows(
        self,
        dataset_id: str,
        metric: str,
        procedure: str | None,
        datasets: list[str],
        *,
        ranked: bool,
        higher: bool,
        limit: int | None,
        offset: int,
    ) -> list[RankingRow]:
        chosen = [
            (created, id_, score)
            for created, id_, score in self._scores
            if score.metric == metric
            and score.procedure == procedure
            and score.dataset in datasets
            and (score.value is not None) == ranked
        ]
        if ranked:
            chosen.sort(key=lambda item: (-item[2].value if higher else item[2].value, item[0], item[1]))  # type: ignore[operator]
        else:
            chosen.sort(key=lambda item: (item[0], item[1]))
        end = None if limit is None else offset + limit
        return [
            RankingRow(id_, score.model, score.dataset, score.value, score.shown)
            for _, id_, score in chosen[offset:end]
        ]

    def ranking_metrics(self, dataset_id: str) -> list[str]:
        return sorted({score.metric for _, _, score in self._scores})


def check_leaderboard_arguments(dataset_id: Any, metric: Any, procedure: Any, limit: Any, offset: Any = 0) -> None:
    if not isinstance(dataset_id, str):
        raise SchemaError(f"leaderboard: dataset must be a dataset or its id, not {dataset_id!r:.60}")
    metric_name(metric, "leaderboard: metric")
    if procedure is not None and not isinstance(procedure, str):
        raise SchemaError(f"leaderboard: procedure must be a string or None, not {procedure!r:.60}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SchemaError(f"leaderboard: limit must be a positive int or None, not {limit!r:.60}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise SchemaError(f"leaderboard: offset must be an int >= 0, not {offset!r:.60}")


def _evaluation_documents(tracker: Tracker, dataset_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The JSON documents of every evaluation on one of ``dataset_ids``, by id."""
    ids = [link.source for link in tracker.store.links(dataset_ids, "in") if link.relation == "on_dataset"]
    stored = tracker.store.get(list(dict.fromkeys(ids)))
    return {id_: json.loads(found.document) for id_, found in stored.items() if found.kind == "evaluation"}


def _fingerprint_query(fingerprint: str):  # noqa: ANN202
    from mltrack_core.store import Query

    return Query(kind="dataset", fingerprint=fingerprint)


def stated_direction(metric: str, stated: set[bool]) -> bool:
    """The direction the scores of ``metric`` state (``stated``) when they agree, else the metric's own by its name."""
    return next(iter(stated)) if len(stated) == 1 else greater_is_better(metric)


# ---------------------------------------------------------------- model differences


@dataclass(frozen=True)
class ModelDiff:
    """Only what differs between two models, as (value in a, value in b) pairs by key."""

    a: Model
    b: Model
    hyperparameters: Mapping[str, tuple[Any, Any]]
    transforms: Mapping[str, tuple[Any, Any]]
    training_data: Mapping[str, tuple[Any, Any]]
    environment: Mapping[str, tuple[Any, Any]]
    model: Mapping[str, tuple[Any, Any]]

    @property
    def identical(self) -> bool:
        return not any(self.sections().values())

    def sections(self) -> dict[str, Mapping[str, tuple[Any, Any]]]:
        return {
            "model": self.model,
            "hyperparameters": self.hyperparameters,
            "transforms": self.transforms,
            "training data": self.training_data,
            "environment": self.environment,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.id,
            "b": self.b.id,
            **{
                name.replace(" ", "_"): {key: {"a": pair[0], "b": pair[1]} for key, pair in section.items()}
                for name, section in self.sections().items()
            },
        }

    @classmethod
    def from_json(cls, answer: Mapping[str, Any], get_many: Callable[..., Mapping[str, Entity]]) -> ModelDiff:
        """The differences a server found (:meth:`to_json`); the two models are read with one ``get_many``."""
        models = get_many([answer["a"], answer["b"]])

        def section(name: str) -> dict[str, tuple[Any, Any]]:
            return {key: (pair["a"], pair["b"]) for key, pair in answer[name].items()}

        return cls(
            a=models[answer["a"]],  # type: ignore[arg-type]
            b=models[answer["b"]],  # type: ignore[arg-type]
            hyperparameters=section("hyperparameters"),
            transforms=section("transforms"),
            training_data=section("training_data"),
            environment=section("environment"),
            model=section("model"),
        )


_MISSING = None


def _differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        key: (a.get(key, _MISSING), b.get(key, _MISSING))
        for key in sorted(set(a) | set(b))
        if not _same_value(a.get(key), b.get(key))
    }


def _same_value(a: Any, b: Any) -> bool:
    """Equal for a diff: NaN equals NaN, as a float or as the text standard JSON spells it (at any depth)."""
    return a == b or json_safe(a) == json_safe(b)


def _parameters(parameters: tuple[Parameter, ...], prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}{parameter.name}": parameter.value for parameter in parameters}


def _transform_facts(tracker: Tracker, model: Model) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for transform in tracker.get_many(list(model.transforms)).values():
        assert isinstance(transform, Transform)
        facts[f"{transform.name}.operator"] = transform.operator
        facts.update(_parameters(transform.parameters, f"{transform.name}."))
        if transform.output:
            facts[f"{transform.name}.output"] = ", ".join(column.name for column in transform.output)
    return facts


def _dataset_facts(dataset: Dataset) -> dict[str, Any]:
    return {
        "id": dataset.id,
        "name": dataset.name,
        "version": dataset.version,
        "fingerprint": dataset.fingerprint,
        "location": dataset.location,
        "rows": dataset.row_count,
        "target": dataset.target,
        "same data": None,
    }


def diff_models(tracker: Tracker, a_id: str, b_id: str) -> ModelDiff:
    """Only what differs between two models (see :class:`ModelDiff`)."""
    a, b = (_get_of_kind(tracker, id_, "model") for id_ in (a_id, b_id))
    assert isinstance(a, Model) and isinstance(b, Model)
    datasets = tracker.get_many([a.trained_on, b.trained_on])
    data_a, data_b = datasets[a.trained_on], datasets[b.trained_on]
    assert isinstance(data_a, Dataset) and isinstance(data_b, Dataset)
    facts_a, facts_b = _dataset_facts(data_a), _dataset_facts(data_b)
    training_data = _differences(facts_a, facts_b)
    if training_data:
        same = same_data(data_a, data_b)
        training_data["same data"] = (same, same)
    model_fields = ("learning_algorithm", "framework", "framework_version", "version", "location", "name")
    return ModelDiff(
        a=a,
        b=b,
        hyperparameters=_differences(_parameters(a.hyperparameters), _parameters(b.hyperparameters)),
        transforms=_differences(_transform_facts(tracker, a), _transform_facts(tracker, b)),
        training_data=training_data,
        environment=_differences(dict(a.environment), dict(b.environment)),
        model=_differences({f: getattr(a, f) for f in model_fields}, {f: getattr(b, f) for f in model_fields}),
    )
