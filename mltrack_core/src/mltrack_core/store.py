"""The storage contract: what a backend persists and how it is queried.

A backend plugin (see :mod:`mltrack_core.hookspecs`) returns an object that
implements :class:`Store`. The tracker turns entities into :class:`Record`
objects (the document plus the fields a store indexes) and enforces the rules
of the schema; a store only persists, checks references atomically, and
answers queries. The contract test suite in :mod:`mltrack_core.testing` checks
every backend against this description. :class:`BaseStore` implements the
writes of the contract once, on top of a few primitives a backend provides;
the built-in backends derive from it, and so may a plugin's.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar, runtime_checkable

from mltrack_core.errors import ConflictError, DanglingReferenceError, NotFoundError, RunStateError, SchemaError
from mltrack_core.rules import check_points
from mltrack_core.schema import (
    ID_RULE,
    MAX_COUNT,
    NON_FINITE,
    Entity,
    Evaluation,
    TrainingRun,
    canonical_json,
    content_hash_of,
    is_valid_id,
    json_safe,
)

__all__ = [
    "ORDERS",
    "BaseStore",
    "Link",
    "Point",
    "Query",
    "RankedScore",
    "RankingGroup",
    "RankingRow",
    "Record",
    "Store",
    "StoredDocument",
    "check_batch_id",
    "conflict_error",
    "dangling_reference_error",
    "ended_run_error",
    "ranked_scores",
    "record_of",
    "shown_score",
]


class Link(NamedTuple):
    """An edge of the lineage graph: ``source`` names ``target`` in its ``relation`` field."""

    source: str
    relation: str
    target: str


class Point(NamedTuple):
    """One metric value logged during a training run (timestamp in ms since 1970-01-01).

    Stores accept plain tuples in this field order too (that is what the
    background writer hands them, to keep logging cheap).
    """

    run_id: str
    metric: str
    value: float
    epoch: int | None
    step: int | None
    timestamp: int


class RankedScore(NamedTuple):
    """One score of an evaluation as a leaderboard weighs it.

    ``value`` is the score when it is one finite number, else None, and
    ``shown`` then says what it is (``NaN``, ``null``, a list...). ``stated`` is
    the direction the score states (``greater_is_better``), if any.
    """

    metric: str
    value: float | None
    shown: str | None
    stated: bool | None
    procedure: str | None
    model: str
    dataset: str


def ranked_scores(evaluation: Evaluation) -> tuple[RankedScore, ...]:
    """Every score of ``evaluation``, as leaderboards weigh them."""
    return tuple(
        RankedScore(
            score.metric,
            float(score.value) if score.is_scalar else None,
            None if score.is_scalar else shown_score(score.value),
            score.greater_is_better,
            evaluation.procedure,
            evaluation.computed_by,
            evaluation.on_dataset,
        )
        for score in evaluation.scores
    )


def shown_score(value: object) -> str:
    """A score value as text (NaN and infinities spelled as in standard JSON documents), at most 60 characters."""
    if isinstance(value, float) and not math.isfinite(value):
        return json_safe(value)
    if isinstance(value, str) and value in NON_FINITE:
        return value
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


class RankingGroup(NamedTuple):
    """How many scores of one metric on the same data share a procedure, a dataset, rankability and a direction."""

    procedure: str | None
    dataset: str
    ranked: bool
    stated: bool | None
    count: int


class RankingRow(NamedTuple):
    """One score of a leaderboard's metric: whose it is, and its value (or, when not a finite number, its text)."""

    evaluation: str
    model: str
    dataset: str
    value: float | None
    shown: str | None


class StoredDocument(NamedTuple):
    """What a store returns for an id: the kind and the canonical JSON document."""

    kind: str
    document: str


@dataclass(frozen=True, slots=True)
class Record:
    """An entity as a store sees it: its document and the fields the store indexes.

    ``references`` are (relation, target id, target kind) triples: every target
    must exist with that kind, in the store or in the same write. ``labels`` are
    (scope, key, value) triples for tags (scope "tag") and annotations (scope
    "annotation"). ``scores`` are the scalar (metric, value) pairs of an
    evaluation, and ``ranked`` all its scores as leaderboards weigh them.
    """

    kind: str
    id: str
    created: int
    content_hash: str
    document: str
    name: str | None
    experiment: str | None
    fingerprint: str | None
    state: str | None
    references: tuple[tuple[str, str, str], ...]
    labels: tuple[tuple[str, str, str], ...]
    scores: tuple[tuple[str, float], ...]
    ranked: tuple[RankedScore, ...] = ()


def record_of(entity: Entity) -> Record:
    """The record of ``entity``; a training run's scores over time are not part of it."""
    document = entity.to_json()
    document.pop("scores_over_time", None)
    labels = tuple(("tag", key, value) for key, value in entity.tags.items()) + tuple(
        ("annotation", key, value) for key, value in entity.annotations.items()
    )
    scores: tuple[tuple[str, float], ...] = ()
    ranked: tuple[RankedScore, ...] = ()
    if isinstance(entity, Evaluation):
        scores = tuple((score.metric, float(score.value)) for score in entity.scores if score.is_scalar)
        ranked = ranked_scores(entity)
    return Record(
        kind=entity.KIND,
        id=entity.id,
        created=entity.creation_time,
        content_hash=content_hash_of(document),
        document=canonical_json(document),
        name=entity.name,
        experiment=entity.experiment,
        fingerprint=getattr(entity, "fingerprint", None),
        state=entity.state.value if isinstance(entity, TrainingRun) else None,
        references=tuple(entity.references()),
        labels=labels,
        scores=scores,
        ranked=ranked,
    )


ORDERS = ("-created", "created", "name", "-name")
"""The orders :class:`Query` results may come in (see ``Query.order``)."""


@dataclass(frozen=True)
class Query:
    """Which records :meth:`Store.find` returns. Every given condition must hold.

    ``links`` are (relation, target id) pairs the record must have (for example
    ``("trained_on", "ds-...")``); ``labels`` are (scope, key, value) triples.
    ``order`` is one of :data:`ORDERS`: ``"-created"`` (the default: newest
    first, that is creation time descending, then the reverse of the order they
    were written in), ``"created"`` (oldest first: the exact reverse),
    ``"name"`` and ``"-name"`` (names ascending or descending by code point,
    entities without a name last; ties newest first).
    """

    kind: str | None = None
    name: str | None = None
    experiment: str | None = None
    fingerprint: str | None = None
    state: str | None = None
    links: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str, str], ...] = ()
    created_after: int | None = None
    created_before: int | None = None
    limit: int | None = None
    offset: int = 0
    order: str = "-created"

    def __post_init__(self) -> None:
        _check_query(self)


def _check_query(query: Query) -> None:
    """Refuse a query no store can run: text that is not text or has lone surrogates, numbers beyond 64 bits.

    Raises:
        SchemaError: a condition names the field and the value.
    """
    for field in ("kind", "name", "experiment", "fingerprint", "state"):
        if getattr(query, field) is not None:
            _check_query_text(getattr(query, field), field)
    for field, items, size in (("links", query.links, 2), ("labels", query.labels, 3)):
        for item in items:
            if not isinstance(item, (tuple, list)) or len(item) != size:
                raise SchemaError(f"query {field}: expected tuples of {size} strings, got {_shown(item)}")
            for text in item:
                _check_query_text(text, field)
    if query.order not in ORDERS:
        raise SchemaError(f"query order: expected one of {', '.join(ORDERS)}, got {_shown(query.order)}")
    for field in ("created_after", "created_before", "limit", "offset"):
        value = getattr(query, field)
        if value is None and field != "offset":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise SchemaError(f"query {field}: expected an int from 0 to {MAX_COUNT}, got {_shown(value)}")


def _check_query_text(value: object, field: str) -> None:
    if not isinstance(value, str):
        raise SchemaError(f"query {field}: expected a string, got {_shown(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SchemaError(f"query {field}: {_shown(value)} is not UTF-8 text (it has a lone surrogate)") from None


def _shown(value: object) -> str:
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:57] + '...'}"


@runtime_checkable
class Store(Protocol):
    """A storage backend. Every method is safe to call from several threads.

    Failure policy: a store raises :class:`~mltrack_core.errors.StoreError`
    subclasses for storage problems (unreachable, corrupt, read-only) and the
    rule errors named below; the tracker decides whether the caller sees them
    (explicit calls) or a warning (implicit tracking).

    Optional methods, for the dashboard's charts and tables (see
    :mod:`mltrack_core.series`). The built-in stores implement them in the
    database; a store that lacks one still works, because the tracker then
    computes the same answer from :meth:`points` (reading every point of the run):

    - ``metric_series(run_id, metric, axis, start, end, max_points) -> SeriesData``:
      the points of ``metric`` with x (``axis``: ``"step"``, ``"epoch"`` or
      ``"time"``) from ``start`` to ``end`` (inclusive; None: open), reduced
      to at most ``max_points`` as :func:`mltrack_core.series.downsample`
      does. An unknown run or metric has an empty series.
    - ``metric_summaries(run_ids, metrics) -> dict[str, dict[str, MetricSummary]]``:
      per run with points, the summary of each of its metrics (of ``metrics``
      only, unless None), in one query whatever the number of runs; runs
      without points are left out.
    - ``points_since(run_id, count) -> list[Point]``: the run's points after
      the first ``count``, in append order (for live updates).

    Optional methods, for leaderboards (see :func:`mltrack_core.lineage.rank`
    and :class:`mltrack_core.backends.sql.RankingReads`). Without them the
    tracker reads every evaluation of the data for each leaderboard:

    - ``ranking_groups(dataset_id, metric) -> list[RankingGroup]``: how many
      scores of ``metric`` on the data of the dataset share a procedure, a
      dataset, rankability and a stated direction.
    - ``ranking_rows(dataset_id, metric, procedure, datasets, *, ranked,
      higher, limit, offset) -> list[RankingRow]``: a page of those scores,
      best first (ranked ones) or oldest first (the others).
    - ``ranking_metrics(dataset_id) -> list[str]``: every metric evaluated on
      the data, by code point.
    """

    uri: str
    """The URI the store was opened with (credentials removed)."""

    def put(self, records: Sequence[Record], points: Sequence[Point] = ()) -> list[str]:
        """Write ``records`` in one transaction and return the ids newly written.

        For each record: an absent id is inserted; an id stored with the same
        ``content_hash`` is skipped (retries are no-ops); an id stored with a
        different hash raises :class:`~mltrack_core.errors.ConflictError`. A
        reference whose target is neither stored with the named kind nor in
        ``records`` raises :class:`~mltrack_core.errors.DanglingReferenceError`.
        On any error nothing is written.

        ``points`` are metric points of training runs among ``records``, which
        may have ended already (an imported run is written whole, so a crash
        cannot leave it half written). They are appended in the same
        transaction, in order, for the runs this call newly writes; the points
        of a run that was stored already are not appended again (the write is a
        retry: they were written with the run). A point of a run that is not
        among ``records`` raises :class:`~mltrack_core.errors.SchemaError`.
        """

    def get(self, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """The stored documents of those ``ids`` that exist (unknown ids are left out)."""

    def find(self, query: Query) -> list[str]:
        """Ids of the records matching ``query``, paged, in ``query.order`` (default: newest first)."""

    def count(self, query: Query) -> int:
        """How many records match ``query`` (limit and offset ignored)."""

    def links(self, ids: Sequence[str], direction: Literal["out", "in"]) -> list[Link]:
        """Lineage edges leaving (``out``: what they name) or entering (``in``: what names them) ``ids``."""

    def scores(self, dataset_ids: Sequence[str], metric: str) -> list[tuple[str, float]]:
        """(evaluation id, value) of every evaluation on one of ``dataset_ids`` with a scalar ``metric``."""

    def update_run(self, record: Record) -> None:
        """Replace a training run's record, once, while its stored state is TRAINING.

        New references are checked as in :meth:`put`. Raises
        :class:`~mltrack_core.errors.RunStateError` when the run has already
        ended and :class:`~mltrack_core.errors.NotFoundError` when it is unknown.
        """

    def append_points(self, points: Sequence[Point], batch_id: str | None = None) -> bool:
        """Append metric points (of one or more runs) durably and in order, in one transaction.

        ``batch_id`` makes the append idempotent: a batch whose id this store
        has applied already is a no-op, whatever its points (a retry after a
        lost answer is applied once). The store remembers a batch id at least
        while one of the batch's runs is training; appending to an ended run
        is refused anyway. Without a batch id every call appends.

        Raises :class:`~mltrack_core.errors.NotFoundError` for an unknown run,
        :class:`~mltrack_core.errors.RunStateError` for a run that has ended
        and :class:`~mltrack_core.errors.SchemaError` for a point or batch id
        that does not fit; then nothing is written. Returns False when the
        batch had been applied already (nothing written), True otherwise.
        """

    def points(self, run_id: str) -> list[Point]:
        """Every point of a training run, in the order they were appended."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""


# ---------------------------------------------------------------- errors every backend raises


def conflict_error(record: Record) -> ConflictError:
    """The error for writing ``record`` over a stored entity with different content."""
    return ConflictError(
        f"{record.kind} {record.id!r} is already stored with different content; stored entities are "
        "write-once: track the changed entity under a new id (or leave the id out to get a fresh one)"
    )


def dangling_reference_error(
    record: Record, relation: str, target: str, expected_kind: str, found_kind: str | None
) -> DanglingReferenceError:
    """The error for a reference from ``record`` to an id the store does not hold as ``expected_kind``."""
    if found_kind is None:
        problem = f"the store holds no {expected_kind} with that id; track the {expected_kind} first"
    else:
        problem = f"that id is a {found_kind}, not a {expected_kind}"
    return DanglingReferenceError(f"{record.kind} {record.id!r} names {target!r} in {relation}, but {problem}")


def check_batch_id(batch_id: object) -> None:
    """Refuse a batch id that is not an id (see :func:`mltrack_core.schema.is_valid_id`).

    Raises:
        SchemaError: naming the batch id.
    """
    if not is_valid_id(batch_id):
        raise SchemaError(f"the batch id {batch_id!r:.600} is not an id ({ID_RULE}; a uuid4().hex, say)")


def ended_run_error(run_id: str, state: str) -> RunStateError:
    """The error for changing a training run that has already ended."""
    return RunStateError(f"training run {run_id!r} has already ended ({state}); an ended run cannot change")


# ---------------------------------------------------------------- the write algorithm every built-in store shares

Transaction = TypeVar("Transaction")
"""What a backend's write transaction hands its primitives: a connection, a cursor, a staging area."""
_Result = TypeVar("_Result")


class BaseStore(ABC, Generic[Transaction]):
    """The writes of :class:`Store`, written once on top of a few primitives each backend provides.

    :meth:`put`, :meth:`update_run` and :meth:`append_points` hold the rules of
    the contract (write-once ids, references, runs that change only while
    training, batches applied once); a subclass supplies the primitives (the abstract methods: one
    write transaction and what is read and written inside it) and the reads of
    :class:`Store` (``get``, ``find``, ``count``, ``links``, ``scores``,
    ``points``, ``close``). Every primitive but :meth:`_in_transaction` runs
    inside the transaction :meth:`_in_transaction` opened and receives its
    handle; an exception raised there rolls the whole write back.
    """

    uri: str

    # ------------------------------------------------------------ the template methods

    def put(self, records: Sequence[Record], points: Sequence[Point] = ()) -> list[str]:
        unique = _unique_by_id(records)
        if points:
            check_points(points)
            _check_points_of_written_runs(unique, points)
        return self._in_transaction(lambda transaction: self._put_unique(transaction, unique, points))

    def update_run(self, record: Record) -> None:
        self._in_transaction(lambda transaction: self._replace_training_run(transaction, record))

    def append_points(self, points: Sequence[Point], batch_id: str | None = None) -> bool:
        check_points(points)
        if not points:
            return True  # nothing to write: no transaction
        if batch_id is not None:
            check_batch_id(batch_id)
        run_ids = sorted({point[0] for point in points})  # sorted: backends that lock rows lock them in one order
        return self._in_transaction(
            lambda transaction: self._append_to_training_runs(transaction, run_ids, points, batch_id)
        )

    def _put_unique(self, transaction: Transaction, records: list[Record], points: Sequence[Point]) -> list[str]:
        taken = self._insert_absent(transaction, records)
        for record in records:
            if record.id in taken and taken[record.id] != record.content_hash:
                raise conflict_error(record)
        new = [record for record in records if record.id not in taken]
        self._check_references(transaction, new)
        new_ids = {record.id for record in new}
        points_of_new_runs = [point for point in points if point[0] in new_ids]  # the others are a retry's
        if points_of_new_runs:
            self._insert_points(transaction, points_of_new_runs)
            runs_with_points = {point[0] for point in points_of_new_runs}
            for record in new:
                if record.kind == "run" and record.state != "TRAINING" and record.id in runs_with_points:
                    self._keep_metric_summaries(transaction, record.id)  # an imported run, ended already
        return [record.id for record in new]

    def _replace_training_run(self, transaction: Transaction, record: Record) -> None:
        self._check_training(transaction, [record.id], exclusive=True)
        self._check_references(transaction, [record])
        self._replace_run(transaction, record)
        if record.state != "TRAINING":
            self._forget_batches(transaction, record.id)
            self._keep_metric_summaries(transaction, record.id)

    def _append_to_training_runs(
        self, transaction: Transaction, run_ids: list[str], points: Sequence[Point], batch_id: str | None
    ) -> bool:
        # the batch id first: a retry of an applied batch is a no-op even if its run has ended since
        if batch_id is not None and not self._claim_batch(transaction, batch_id, run_ids):
            return False
        self._check_training(transaction, run_ids, exclusive=False)
        self._insert_points(transaction, points)
        return True

    def _check_references(self, transaction: Transaction, records: list[Record]) -> None:
        targets = list(dict.fromkeys(target for record in records for _, target, _ in record.references))
        if not targets:
            return
        kinds = self._stored_kinds(transaction, targets)
        for record in records:
            for relation, target, kind in record.references:
                if kinds.get(target) != kind:
                    raise dangling_reference_error(record, relation, target, kind, kinds.get(target))

    def _check_training(self, transaction: Transaction, run_ids: list[str], *, exclusive: bool) -> None:
        states = self._run_states(transaction, run_ids, exclusive=exclusive)
        for run_id in run_ids:
            if run_id not in states:
                raise NotFoundError(f"no training run {run_id!r}")
            if states[run_id] != "TRAINING":
                raise ended_run_error(run_id, states[run_id])

    # ------------------------------------------------------------ the primitives

    @abstractmethod
    def _in_transaction(self, action: Callable[[Transaction], _Result]) -> _Result:
        """Run ``action`` in one write transaction: all it wrote is kept if it returns, nothing if it raises.

        Args:
            action: The write; it receives the transaction's handle to pass to the other primitives.

        Returns:
            What ``action`` returned.

        Raises:
            StoreError: The store cannot be written (closed, read-only, unavailable); exceptions of
                ``action`` pass through unchanged.
        """

    @abstractmethod
    def _insert_absent(self, transaction: Transaction, records: list[Record]) -> dict[str, str]:
        """Insert, in this order, those of ``records`` whose id is not stored yet (with links, labels, scores).

        A backend that lets writers run concurrently must insert only ids that
        no concurrent transaction has committed or is writing, waiting for that
        transaction to end when it must.

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            records: Records with distinct ids.

        Returns:
            The stored content hash of every id that was taken already (those records were not inserted).
        """

    @abstractmethod
    def _stored_kinds(self, transaction: Transaction, ids: list[str]) -> dict[str, str]:
        """The kinds of those ``ids`` that are stored, this transaction's inserts included.

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            ids: Distinct ids.

        Returns:
            Kind by id; unknown ids are left out.
        """

    @abstractmethod
    def _run_states(self, transaction: Transaction, run_ids: list[str], *, exclusive: bool) -> dict[str, str]:
        """The stored states of those ``run_ids`` that are training runs, kept unchanged until the transaction ends.

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            run_ids: Distinct ids, sorted.
            exclusive: True when the caller is about to replace the runs (to end them): a backend with
                row locks locks them against every other writer. False when it is about to append points:
                other writers may append too, but none may replace the runs before this transaction ends.

        Returns:
            State by run id; ids that are unknown or not training runs are left out.
        """

    @abstractmethod
    def _replace_run(self, transaction: Transaction, record: Record) -> None:
        """Replace a stored training run's record (document, indexed fields, links and labels) by ``record``.

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            record: The new record of the run; its id is stored as a training run.
        """

    @abstractmethod
    def _insert_points(self, transaction: Transaction, points: Sequence[Point]) -> None:
        """Append ``points`` (plain tuples in :class:`Point`'s field order are allowed) in this order.

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            points: Points of stored training runs.
        """

    @abstractmethod
    def _claim_batch(self, transaction: Transaction, batch_id: str, run_ids: list[str]) -> bool:
        """Record that the batch ``batch_id`` of points of ``run_ids`` is applied, unless it was already.

        Called before the points are inserted, in the same transaction: if the
        transaction fails, the claim is undone with it. A backend that lets
        writers run concurrently must make a second transaction claiming the
        same id wait for the first to end (and then see its claim, or its rollback).

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            batch_id: The batch's id (the caller's idempotency key).
            run_ids: The distinct, sorted ids of the runs the batch's points belong to (a backend may
                remember the claim per run, to forget it when the run ends: see :meth:`_forget_batches`).

        Returns:
            True when the batch was not applied before (it is claimed now); False when it was.
        """

    def _keep_metric_summaries(self, transaction: Transaction, run_id: str) -> None:
        """Store the summary of each metric of ``run_id``, which has ended (optional: by default nothing is kept).

        An ended run's points cannot change, so a backend may keep their summaries
        (see :mod:`mltrack_core.series`) instead of reading every point each time
        they are asked for.

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            run_id: The id of the run that ended (or was written ended, with its points) in this transaction.
        """

    def _forget_batches(self, transaction: Transaction, run_id: str) -> None:
        """Forget the batch ids claimed for ``run_id``, which has just ended (optional: by default they are kept).

        Appending to an ended run is refused, so its batch ids are not needed
        any more; a batch of several runs must stay claimed while any of them trains.

        Args:
            transaction: The handle :meth:`_in_transaction` passed.
            run_id: The id of the run that ended in this transaction.
        """


def _check_points_of_written_runs(records: list[Record], points: Sequence[Point]) -> None:
    """Points written with entities must belong to training runs among them."""
    runs = {record.id for record in records if record.kind == "run"}
    for point in points:
        if point[0] not in runs:
            raise SchemaError(
                f"a metric point of {point[0]!r:.600} is written with entities that hold no training run with "
                "that id; write the run with its points, or append points to a stored run with append_points"
            )


def _unique_by_id(records: Sequence[Record]) -> list[Record]:
    """``records`` without repeated ids; an id repeated with a different content hash is a conflict."""
    unique: dict[str, Record] = {}
    for record in records:
        if unique.setdefault(record.id, record).content_hash != record.content_hash:
            raise conflict_error(record)
    return list(unique.values())
