"""Recommend algorithms and configurations for a dataset from the history of similar datasets.

The store's history is the knowledge base (the paper's long-term goal, and
the idea behind auto-sklearn's meta-learning warm start):

1. **Datasets** are described by their meta-features (:mod:`mltrack_core.metafeatures`):
   recorded when data is tracked from scikit-learn or Spark, derived from
   OpenML's qualities for imported datasets. Folds, splits and OpenML tasks
   count for the dataset they were derived from (their root).
2. **Similar datasets** are the nearest roots by meta-features (counts on a
   log scale, every feature scaled by its spread over the history), with a
   similarity ``1 / (1 + distance)`` in (0, 1]. The dataset itself, and any
   dataset with the same content fingerprint, is never its own evidence: look
   at its leaderboard for that.
3. **Comparable evaluations** are those of the same metric with the same
   procedure (the procedure asked for, or the task's, or the one most of the
   neighbours' evaluations used). Estimates on training data ("resubstitution",
   "training part of ...") never count.
4. A **configuration** is a learning algorithm with its hyperparameters
   (settings that do not change what is learnt, such as ``n_jobs``, ``verbose``
   and ``random_state``, are left out). On each similar dataset its score is the
   mean over its evaluations (folds, repeats), turned into a relative score:
   1 for the best configuration there, 0 for the worst.
5. The **ranking** is by the similarity-weighted mean of relative scores,
   shrunk towards 0.5 when a configuration was seen on few datasets.

Every recommendation names its evidence (the similar datasets, their
similarity, the evaluations behind it) and a confidence (``high``,
``medium``, ``low``) with the reason in words. An empty history, or none for
the metric, is a clear answer with no recommendation, not an error.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from mltrack_core.errors import SchemaError
from mltrack_core.lineage import greater_is_better, stated_direction
from mltrack_core.metafeatures import meta_features, meta_features_of_document
from mltrack_core.schema import Dataset, Parameter, metric_name

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["Evidence", "Neighbour", "Recommendation", "Recommendations", "Task", "recommend", "task_of"]

DEFAULT_NEIGHBOURS = 5
"""Similar datasets whose evaluations a ranking weighs (chosen on a tuning collection, see the README)."""
WEIGHT_POWER = 4
"""A similar dataset weighs its similarity to this power: the nearest count most."""
SHRINKAGE = 1.0
"""Weight of the prior (a relative score of 0.5) against the similarity-weighted evidence of a configuration."""
IGNORED_HYPERPARAMETERS = frozenset({"n_jobs", "verbose", "random_state", "memory", "copy", "copy_X"})
"""Settings that do not change what is learnt (matched on the last ``__`` segment of a name)."""
_TRAINING_DATA_ESTIMATES = ("resubstitution", "training part of")
_PAGE = 2_000
_MAX_DERIVATION_DEPTH = 3
_EVIDENCE_SHOWN = 5
_LOG_SCALED = {"meta.rows", "meta.features", "meta.classes"}
_NOT_COMPARED = {"meta.landmark_rows"}


@dataclass(frozen=True)
class Task:
    """What makes evaluations comparable: the data, its target, the metric and the procedure estimating it."""

    dataset: str
    target: str | None
    metric: str
    procedure: str | None

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "target": self.target, "metric": self.metric, "procedure": self.procedure}


def task_of(dataset: Dataset, metric: str | None = None, procedure: str | None = None) -> Task:
    """The task of ``dataset``: ``metric`` and ``procedure`` when given, else what an imported OpenML task states.

    An OpenML task imported by ``mltrack import openml`` is a dataset annotated
    with its estimation procedure (the procedure of its runs' evaluations) and
    its evaluation measures (the first is the task's metric).

    Raises:
        SchemaError: no metric given and the dataset states none.
    """
    if metric is None:
        measures = dataset.annotations.get("openml.evaluation_measures", "")
        metric = next((name.strip() for name in measures.split(",") if name.strip()), None)
        if metric is None:
            raise SchemaError(f"dataset {dataset.id!r} states no metric: give one (for example 'accuracy')")
    procedure = procedure if procedure is not None else dataset.annotations.get("openml.estimation_procedure")
    return Task(dataset.id, dataset.target, metric_name(metric, "metric"), procedure)


@dataclass(frozen=True)
class Neighbour:
    """A similar dataset with comparable evaluations: its similarity in (0, 1] and how many evaluations count."""

    dataset: str
    name: str | None
    similarity: float
    evaluations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "name": self.name,
            "similarity": round(self.similarity, 4),
            "evaluations": self.evaluations,
        }


@dataclass(frozen=True)
class Evidence:
    """A configuration's record on one similar dataset: mean score over its evaluations, and its relative score."""

    dataset: str
    name: str | None
    similarity: float
    value: float
    relative: float
    evaluations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "name": self.name,
            "similarity": round(self.similarity, 4),
            "value": self.value,
            "relative": round(self.relative, 4),
            "evaluations": list(self.evaluations),
        }


@dataclass(frozen=True)
class Recommendation:
    """A configuration to try, its expected relative score in [0, 1], its evidence and the confidence in it."""

    rank: int
    learning_algorithm: str
    hyperparameters: tuple[Parameter, ...]
    configuration: str
    expected: float
    evidence: tuple[Evidence, ...]
    model: str
    confidence: str
    reason: str

    def parameters(self) -> dict[str, Any]:
        """The hyperparameters as a ``name -> value`` mapping (what ``set_params`` takes)."""
        return {parameter.name: parameter.value for parameter in self.hyperparameters}

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "learning_algorithm": self.learning_algorithm,
            "hyperparameters": {parameter.name: parameter.to_json()["value"] for parameter in self.hyperparameters},
            "configuration": self.configuration,
            "expected": round(self.expected, 4),
            "confidence": self.confidence,
            "reason": self.reason,
            "model": self.model,
            "evidence": [item.to_json() for item in self.evidence],
        }


@dataclass(frozen=True)
class Recommendations:
    """The answer of :meth:`Tracker.recommend <mltrack_core.Tracker.recommend>`: ranked configurations and why.

    ``items`` is empty when the history holds nothing to learn from; ``notes``
    then says why, as it says what else was left out or assumed.
    """

    task: Task
    greater_is_better: bool
    items: tuple[Recommendation, ...]
    neighbours: tuple[Neighbour, ...]
    confidence: str
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.to_json(),
            "greater_is_better": self.greater_is_better,
            "confidence": self.confidence,
            "notes": list(self.notes),
            "neighbours": [neighbour.to_json() for neighbour in self.neighbours],
            "recommendations": [item.to_json() for item in self.items],
        }


def recommend(
    tracker: Tracker,
    dataset: Dataset,
    metric: str,
    *,
    k: int,
    procedure: str | None,
    neighbours: int,
    cache: FactCache,
) -> Recommendations:
    """Rank configurations for ``dataset`` (stored or not) from the evaluations of similar stored datasets.

    ``cache`` keeps what was read of stored entities for the next call (the tracker's own).

    Raises:
        SchemaError: an argument has the wrong type or value.
    """
    _check_arguments(k, procedure, neighbours)
    task = task_of(dataset, metric, procedure)
    with cache.lock:
        cache.trim()
        return _recommend(tracker, dataset, task, k, neighbours, cache)


def _recommend(
    tracker: Tracker, dataset: Dataset, task: Task, k: int, neighbours: int, cache: FactCache
) -> Recommendations:
    history = _History(tracker, cache)
    root = history.root_of(dataset)
    wanted = meta_features(dataset) or history.meta_of(root)
    notes = []
    families = history.families(exclude=root, fingerprint=dataset.fingerprint)
    if not families:
        notes.append(
            "the store holds no other dataset with meta-features: nothing to learn from yet. "
            "Track data from scikit-learn or Spark, or import OpenML datasets, and evaluate configurations on them"
        )
        return _empty(task, notes)
    if not wanted:
        notes.append(
            f"dataset {dataset.id!r} has no meta-features (it was not tracked from data): "
            "every dataset counts as equally similar, so this is the best-on-average ranking"
        )
    ranked = _by_similarity(wanted, families)
    evidence, chosen_procedure, other_procedures = _gather(history, ranked, task, neighbours)
    if chosen_procedure is not None and task.procedure is None:
        task = Task(task.dataset, task.target, task.metric, chosen_procedure)
        if other_procedures:
            notes.append(
                f"procedure {chosen_procedure!r}, the one most evaluations use; left out: "
                + ", ".join(f"{name!r} ({count})" for name, count in other_procedures.most_common())
            )
    if not evidence:
        notes.append(
            f"no comparable evaluation of {task.metric!r}"
            + (f" with procedure {task.procedure!r}" if task.procedure else "")
            + " on another dataset: nothing to learn from yet"
        )
        return _empty(task, notes)
    higher = history.direction(task.metric)
    return _rank(history, task, evidence, higher, k, notes, neighbours)


def _check_arguments(k: Any, procedure: Any, neighbours: Any) -> None:
    for name, value in (("k", k), ("neighbours", neighbours)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SchemaError(f"recommend: {name} must be a positive int, not {value!r:.60}")
    if procedure is not None and not isinstance(procedure, str):
        raise SchemaError(f"recommend: procedure must be a string or None, not {procedure!r:.60}")


def _empty(task: Task, notes: list[str]) -> Recommendations:
    return Recommendations(task, greater_is_better(task.metric), (), (), "none", tuple(notes))


# ---------------------------------------------------------------- reading the history


@dataclass
class _Family:
    """A root dataset and every dataset derived from it (folds, splits, tasks): one dataset for the recommender."""

    root: str
    name: str | None
    fingerprint: str | None
    meta: dict[str, float]


class _EvaluationFacts(NamedTuple):
    on_dataset: str
    computed_by: str
    procedure: str | None
    stated: tuple[tuple[str, bool], ...]
    """(metric, greater_is_better) of the scores that state their direction."""


class _DatasetFacts(NamedTuple):
    name: str | None
    fingerprint: str | None
    meta: dict[str, float]


Configuration = tuple[str, tuple[tuple[str, Any], ...]]
"""A learning algorithm and its (name, value) hyperparameters, sorted, settings left out."""


class FactCache:
    """What recommendations read of stored entities, by id: valid for ever, as stored entities are write-once.

    A tracker keeps one, so that recommending again (leave-one-out, a dashboard,
    a notebook) reads only what was stored since. Bounded: emptied when it holds
    :data:`MAX_CACHED` facts.
    """

    def __init__(self) -> None:
        self.datasets: dict[str, _DatasetFacts] = {}
        self.parents: dict[str, str | None] = {}
        self.evaluations: dict[str, _EvaluationFacts] = {}
        self.models: dict[str, int] = {}
        """Model id -> the number of its configuration in ``configurations`` (cheaper to group by than tuples)."""
        self.configurations: list[Configuration] = []
        self.numbers: dict[Configuration, int] = {}
        self.lock = threading.Lock()

    def number(self, configuration: Configuration) -> int:
        found = self.numbers.get(configuration)
        if found is None:
            found = self.numbers[configuration] = len(self.configurations)
            self.configurations.append(configuration)
        return found

    def trim(self) -> None:
        if len(self.datasets) + len(self.parents) + len(self.evaluations) + len(self.models) > MAX_CACHED:
            for facts in (self.datasets, self.parents, self.evaluations, self.models, self.numbers):
                facts.clear()
            self.configurations.clear()


MAX_CACHED = 3_000_000


class _History:
    """The stored datasets with meta-features and their lineage, read once per recommendation."""

    def __init__(self, tracker: Tracker, cache: FactCache) -> None:
        self.store = tracker.store
        self.cache = cache
        self.datasets: dict[str, _DatasetFacts] = {}
        self.parent: dict[str, str] = {}
        self.children: dict[str, list[str]] = defaultdict(list)
        self._stated_directions: set[bool] = set()
        ids = tracker.find_ids("dataset")
        self.ids = set(ids)
        self._read_parents(ids)
        # meta-features are looked for on roots first, and on derived datasets only of roots without them
        self._read_datasets([id_ for id_ in ids if id_ not in self.parent])
        bare = [id_ for id_, facts in self.datasets.items() if not facts.meta]
        self._read_datasets([id_ for id_ in self.descendants(bare) if id_ not in self.datasets])

    def _read_parents(self, ids: list[str]) -> None:
        """Each dataset's first parent (``derived_from``), from the store's links: no document is read."""
        known = self.cache.parents
        missing = [id_ for id_ in ids if id_ not in known]
        for start in range(0, len(missing), _PAGE):
            page = missing[start : start + _PAGE]
            known.update(dict.fromkeys(page))
            for link in self.store.links(page, "out"):
                if link.relation == "derived_from" and known[link.source] is None:
                    known[link.source] = link.target
        for id_ in ids:
            parent = known[id_]
            if parent is not None:
                self.parent[id_] = parent
                self.children[parent].append(id_)

    def _read_datasets(self, ids: list[str]) -> None:
        """Facts of every dataset; documents are parsed only when they may hold meta-features."""
        known = self.cache.datasets
        missing = [id_ for id_ in ids if id_ not in known]
        for start in range(0, len(missing), _PAGE):
            for id_, stored in self.store.get(missing[start : start + _PAGE]).items():
                raw = stored.document
                if '"meta.' in raw or '"NumberOfInstances"' in raw:
                    document = json.loads(raw)
                    facts = _DatasetFacts(
                        document.get("name"), document.get("fingerprint"), meta_features_of_document(document)
                    )
                else:
                    facts = _DatasetFacts(None, None, {})
                known[id_] = facts
        self.datasets.update((id_, known[id_]) for id_ in ids if id_ in known)

    def _named(self, id_: str) -> _DatasetFacts:
        """The facts of ``id_`` with its name and fingerprint, which are not kept for datasets without meta-features."""
        facts = self.datasets[id_]
        if facts.meta or facts.name is not None:
            return facts
        document = json.loads(self.store.get([id_])[id_].document)
        return facts._replace(name=document.get("name"), fingerprint=document.get("fingerprint"))

    def root_of(self, dataset: Dataset | str) -> str:
        """The dataset ``dataset`` was (transitively) derived from: its first stored parent's first parent, ..."""
        if isinstance(dataset, Dataset):
            current = dataset.id
            parent = next((id_ for id_ in dataset.derived_from if id_ in self.ids), None)
        else:
            current, parent = dataset, self.parent.get(dataset)
        seen = {current}
        while parent is not None and parent not in seen:
            current = parent
            seen.add(current)
            parent = self.parent.get(current)
        return current

    def meta_of(self, root: str) -> dict[str, float]:
        facts = self.datasets.get(root)
        return facts.meta if facts else {}

    def families(self, exclude: str, fingerprint: str | None) -> list[_Family]:
        """Every root with meta-features (its own, or a derived dataset's), but ``exclude`` and copies of its data.

        Copies are roots with ``fingerprint`` (the asked dataset's) or with the fingerprint of ``exclude``.
        """
        found: dict[str, _Family] = {}
        for id_, facts in self.datasets.items():
            if not facts.meta:
                continue
            root = self.root_of(id_)
            family = found.get(root)
            if family is None:
                named = self._named(root)
                family = found[root] = _Family(root, named.name, named.fingerprint, {})
            if root == id_ or not family.meta:
                family.meta = facts.meta
        fingerprints = {fingerprint, self._named(exclude).fingerprint if exclude in self.datasets else None}
        fingerprints.discard(None)
        return [family for root, family in found.items() if root != exclude and family.fingerprint not in fingerprints]

    def descendants(self, roots: Sequence[str]) -> dict[str, str]:
        """Every dataset derived from one of ``roots``, and the roots themselves -> their root."""
        family_of = {}
        for root in roots:
            frontier = [root]
            while frontier:
                current = frontier.pop()
                if current not in family_of:
                    family_of[current] = root
                    frontier.extend(self.children.get(current, ()))
        return family_of

    def evaluations(self, dataset_ids: Sequence[str], metric: str) -> list[tuple[str, _EvaluationFacts, float]]:
        """(id, facts, value) of every evaluation of ``metric`` with a finite value on one of ``dataset_ids``."""
        scored = self.store.scores(list(dataset_ids), metric)
        known = self.cache.evaluations
        missing = [id_ for id_, _ in scored if id_ not in known]
        for start in range(0, len(missing), _PAGE):
            for id_, stored in self.store.get(missing[start : start + _PAGE]).items():
                document = json.loads(stored.document)
                stated = tuple(
                    (score["metric"], score["greater_is_better"])
                    for score in document.get("scores", ())
                    if score.get("greater_is_better") is not None
                )
                known[id_] = _EvaluationFacts(
                    document["on_dataset"], document["computed_by"], document.get("procedure"), stated
                )
        found = []
        for id_, value in scored:
            facts = known[id_]
            self._stated_directions.update(higher for name, higher in facts.stated if name == metric)
            found.append((id_, facts, value))
        return found

    def configurations(self, ids: Iterable[str]) -> dict[str, int]:
        """The number of the configuration (see :meth:`FactCache.number`) of each model among ``ids``."""
        known = self.cache.models
        missing = [id_ for id_ in dict.fromkeys(ids) if id_ not in known]
        for start in range(0, len(missing), _PAGE):
            for id_, stored in self.store.get(missing[start : start + _PAGE]).items():
                document = json.loads(stored.document)
                configuration = configuration_of(document["learning_algorithm"], document.get("hyperparameters", ()))
                known[id_] = self.cache.number(configuration)
        return known

    def models(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        stored = self.store.get(list(dict.fromkeys(ids)))
        return {id_: json.loads(found.document) for id_, found in stored.items()}

    def direction(self, metric: str) -> bool:
        """The direction the evaluations' scores state when they agree, else the metric's own (as leaderboards do)."""
        return stated_direction(metric, self._stated_directions)


# ---------------------------------------------------------------- similarity


def _scaled(meta: Mapping[str, float]) -> dict[str, float]:
    return {
        name: math.log10(1.0 + max(value, 0.0)) if name in _LOG_SCALED else value
        for name, value in meta.items()
        if name not in _NOT_COMPARED
    }


def _by_similarity(wanted: Mapping[str, float], families: list[_Family]) -> list[tuple[_Family, float]]:
    """The families, most similar first, with their similarity to ``wanted`` (1.0 for all when nothing is known)."""
    if not wanted:
        return [(family, 1.0) for family in families]
    target = _scaled(wanted)
    scaled = [_scaled(family.meta) for family in families]
    spread = {}
    for name in target:
        values = [meta[name] for meta in scaled if name in meta] + [target[name]]
        mean = sum(values) / len(values)
        spread[name] = math.sqrt(sum((value - mean) ** 2 for value in values) / len(values)) or 1.0
    ranked = []
    for family, meta in zip(families, scaled, strict=True):
        shared = [name for name in target if name in meta]
        if not shared:
            continue
        distance = math.sqrt(sum(((meta[name] - target[name]) / spread[name]) ** 2 for name in shared) / len(shared))
        # a family compared on few meta-features is less certain to be near: count the missing ones as one spread away
        missing = len(target) - len(shared)
        distance = math.sqrt((distance**2 * len(shared) + missing) / len(target))
        ranked.append((family, 1.0 / (1.0 + distance)))
    ranked.sort(key=lambda item: (-item[1], item[0].root))
    return ranked


# ---------------------------------------------------------------- evidence


_Scored = tuple[str, "_EvaluationFacts", float]
"""An evaluation's id, what is known of it, and its value of the metric."""


@dataclass
class _Found:
    """Comparable evaluations on one of the nearest families, and its similarity."""

    family: _Family
    similarity: float
    evaluations: list[_Scored]


def _gather(
    history: _History, ranked: list[tuple[_Family, float]], task: Task, wanted: int
) -> tuple[list[_Found], str | None, Counter[str | None]]:
    """The comparable evaluations of the ``wanted`` nearest families that have some, walking outwards in batches."""
    found: list[_Found] = []
    procedures: Counter[str | None] = Counter()
    start, batch = 0, wanted
    while start < len(ranked):
        part = ranked[start : start + batch]
        start, batch = start + batch, batch * 2  # the nearest first; further out, faster
        family_of = history.descendants([family.root for family, _ in part])
        by_root: dict[str, list[_Scored]] = defaultdict(list)
        for scored in history.evaluations(list(family_of), task.metric):
            procedure = scored[1].procedure
            if procedure and procedure.startswith(_TRAINING_DATA_ESTIMATES):
                continue
            by_root[family_of[scored[1].on_dataset]].append(scored)
            procedures[procedure] += 1
        found += [
            _Found(family, similarity, by_root[family.root]) for family, similarity in part if by_root[family.root]
        ]
        if _families_with(found, task.procedure or _most_used(procedures)) >= wanted:
            break
    procedure = task.procedure if task.procedure is not None else _most_used(procedures)
    kept = []
    for item in found:
        evaluations = [scored for scored in item.evaluations if scored[1].procedure == procedure]
        if evaluations:
            kept.append(_Found(item.family, item.similarity, evaluations))
    others = Counter({name: count for name, count in procedures.items() if name != procedure})
    return kept[:wanted], procedure, others


def _most_used(procedures: Counter[str | None]) -> str | None:
    """The procedure most evaluations used (a named one before None on a tie)."""
    if not procedures:
        return None
    return max(procedures, key=lambda name: (procedures[name], name is not None, name or ""))


def _families_with(found: list[_Found], procedure: str | None) -> int:
    return sum(any(scored[1].procedure == procedure for scored in item.evaluations) for item in found)


def configuration_of(learning_algorithm: str, hyperparameters: Iterable[Mapping[str, Any]]) -> Configuration:
    """The configuration of a model: its algorithm and stored hyperparameters, settings left out."""
    kept = sorted(
        (parameter["name"], _hashable(parameter.get("value")))
        for parameter in hyperparameters
        if parameter["name"].rpartition("__")[2] not in IGNORED_HYPERPARAMETERS
    )
    return learning_algorithm, tuple(kept)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    # True and 1 are equal keys in Python but different settings
    return (bool, value) if isinstance(value, bool) else value


def configuration_key(configuration: Configuration) -> str:
    """A configuration as stable text: equal for equal configurations, whichever model holds them."""
    return json.dumps(configuration, separators=(",", ":"), default=str)


def _rank(
    history: _History,
    task: Task,
    found: list[_Found],
    higher: bool,
    k: int,
    notes: list[str],
    wanted_neighbours: int,
) -> Recommendations:
    configurations = history.configurations(facts.computed_by for item in found for _, facts, _ in item.evaluations)
    example: dict[int, str] = {}
    # per configuration number: [(family, similarity, mean value, relative score, evaluation ids)]
    records: dict[int, list[tuple[_Family, float, float, float, list[str]]]] = defaultdict(list)
    neighbours = []
    for item in found:
        values: dict[int, list[float]] = defaultdict(list)
        ids: dict[int, list[str]] = defaultdict(list)
        for id_, facts, value in item.evaluations:
            configuration = configurations.get(facts.computed_by)
            if configuration is None:
                continue
            example.setdefault(configuration, facts.computed_by)
            values[configuration].append(value)
            ids[configuration].append(id_)
        if not values:
            continue
        means = {configuration: sum(items) / len(items) for configuration, items in values.items()}
        for configuration, relative in _relative_scores(means, higher).items():
            records[configuration].append(
                (item.family, item.similarity, means[configuration], relative, ids[configuration])
            )
        neighbours.append(Neighbour(item.family.root, item.family.name, item.similarity, len(item.evaluations)))
    scored = []
    for configuration, seen in records.items():
        weight = sum(similarity**WEIGHT_POWER for _, similarity, _, _, _ in seen)
        evidence = sum(similarity**WEIGHT_POWER * relative for _, similarity, _, relative, _ in seen)
        scored.append(((evidence + SHRINKAGE * 0.5) / (weight + SHRINKAGE), len(seen), configuration))
    texts = {number: configuration_key(history.cache.configurations[number]) for number in records}
    scored.sort(key=lambda item: (-item[0], -item[1], texts[item[2]]))
    chosen = scored[:k]
    documents = history.models(example[configuration] for _, _, configuration in chosen)
    items = []
    for position, (expected, _, configuration) in enumerate(chosen, start=1):
        model = documents[example[configuration]]
        seen = sorted(records[configuration], key=lambda record: -record[1])
        evidence = tuple(
            Evidence(family.root, family.name, similarity, mean, relative, tuple(ids[:_EVIDENCE_SHOWN]))
            for family, similarity, mean, relative, ids in seen
        )
        confidence, reason = _item_confidence(evidence, len(neighbours))
        items.append(
            Recommendation(
                rank=position,
                learning_algorithm=model["learning_algorithm"],
                hyperparameters=tuple(Parameter.from_json(p) for p in model.get("hyperparameters", ())),
                configuration=texts[configuration],
                expected=expected,
                evidence=evidence,
                model=model["id"],
                confidence=confidence,
                reason=reason,
            )
        )
    overall, why = _overall_confidence(neighbours, wanted_neighbours)
    notes.append(why)
    return Recommendations(task, higher, tuple(items), tuple(neighbours), overall, tuple(notes))


def _relative_scores(means: dict[int, float], higher: bool) -> dict[int, float]:
    """Each configuration's mean on one dataset relative to the others there: 1 for the best, 0 for the worst."""
    best, worst = max(means.values()), min(means.values())
    if not higher:
        best, worst = worst, best
    return {
        configuration: 1.0 if best == worst else (mean - worst) / (best - worst)
        for configuration, mean in means.items()
    }


def _item_confidence(evidence: tuple[Evidence, ...], neighbours: int) -> tuple[str, str]:
    count = len(evidence)
    best_there = sum(item.relative >= 1.0 for item in evidence)
    summary = f"evaluated on {count} of the {neighbours} similar dataset(s), the best there on {best_there}"
    if count >= 3 and count >= neighbours / 2:
        return "high" if count >= 5 else "medium", summary
    return "low", summary + " (little evidence)"


def _overall_confidence(neighbours: list[Neighbour], wanted: int) -> tuple[str, str]:
    count = len(neighbours)
    similarity = sum(neighbour.similarity for neighbour in neighbours) / count
    summary = (
        f"{count} similar dataset(s) with comparable evaluations (of {wanted} sought), mean similarity {similarity:.2f}"
    )
    if count < 3:
        return "low", summary + ": few datasets to learn from, treat the ranking as a hint"
    if count >= 5 and similarity >= 0.5:
        return "high", summary
    return "medium", summary
