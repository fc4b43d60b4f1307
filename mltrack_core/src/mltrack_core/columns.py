"""Column lineage through a model's transforms: where each column of a model comes from.

One set of rules, used by the dashboard's column DAG (:mod:`mltrack_core.ui.pages.model`) and the
OpenLineage export's column-lineage facet (:mod:`mltrack_core.exporters.openlineage`):

* an input column of a transform is the output of the first input transform that outputs it; else,
  when an input transform takes the column as its own input (a composition such as scikit-learn's
  ColumnTransformer lists the columns its branches took), it comes from where that one's input
  comes from; else it is a column of the data itself;
* an output column of a composition passes a branch's output column on, named as it is or prefixed
  with the branch's name (``num__age`` from branch ``num``'s ``age``);
* any other output column is computed from the input columns its ``column_lineage`` names
  (``"*"``: every input column).

Transforms are stored text written by others: a cycle among them yields no lineage through it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mltrack_core.schema import Model, Transform, TypedColumn, TypeHint

if TYPE_CHECKING:
    from mltrack_core.tracker import Tracker

__all__ = ["ColumnGraph", "ColumnSource", "model_column_lineage", "model_columns", "model_transforms"]


@dataclass(frozen=True)
class ColumnSource:
    """Where a model column comes from: a column of the training dataset and the operators on the way."""

    column: str
    operators: tuple[str, ...]


def model_column_lineage(transforms: Sequence[Transform]) -> dict[str, dict[str, ColumnSource]]:
    """For each column of the model, the training data's columns it comes from (with the operators on the way).

    The model's columns: the input columns of each transform without output columns (a learner),
    then the output columns of the final transforms (those no other transform takes as input).

    Args:
        transforms: The model's transforms (as :func:`model_transforms` reads them).

    Returns:
        ``{model column: {dataset column: ColumnSource}}``, in the model's column order.
    """
    graph = ColumnGraph(transforms)
    lineage: dict[str, dict[str, ColumnSource]] = {}
    for column, producer, consumer in graph.model_columns():
        sources = graph.sources(producer, column) if consumer is None else graph.sources_of_input(consumer, column)
        lineage.setdefault(column, {}).update(sources)
    return lineage


def model_columns(transforms: Sequence[Transform]) -> list[TypedColumn]:
    """The model's columns (see :func:`model_column_lineage`) with their types, in order, once each."""
    graph = ColumnGraph(transforms)
    columns: dict[str, TypedColumn] = {}
    for name, producer, consumer in graph.model_columns():
        owner = graph.by_id[consumer if consumer is not None else producer]  # type: ignore[index]
        listed = owner.input if consumer is not None else owner.output
        typed = next((column for column in listed if column.name == name), None)
        if name not in columns or columns[name].typing is TypeHint.UNKNOWN:
            columns[name] = typed or TypedColumn(name=name)
    return list(columns.values())


class ColumnGraph:
    """The columns of a model's transforms, by name: who produces and who consumes each, and from which data columns."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.by_id = {transform.id: transform for transform in transforms}
        self.outputs = {
            transform.id: {column.name for column in transform.output} | set(transform.column_lineage)
            for transform in transforms
        }
        self.inputs = {transform.id: {column.name for column in transform.input} for transform in transforms}
        self._memo: dict[tuple[str | None, str], dict[str, ColumnSource]] = {}
        self._visiting: set[tuple[str | None, str]] = set()

    def model_columns(self) -> Iterator[tuple[str, str | None, str | None]]:
        """(column, producing transform, consuming learner) of each model column; one of the two is None."""
        consumed = {upstream for transform in self.by_id.values() for upstream in transform.input_transforms}
        for transform in self.by_id.values():
            if not self.outputs[transform.id]:
                for column in transform.input:
                    yield column.name, None, transform.id
        for transform in self.by_id.values():
            if self.outputs[transform.id] and transform.id not in consumed:
                for name in dict.fromkeys([*(column.name for column in transform.output), *transform.column_lineage]):
                    yield name, transform.id, None

    def of_input(self, transform: Transform, column: str) -> str | None:
        """The transform whose output the input ``column`` of ``transform`` is; None: a column of the data.

        The first input transform that outputs it; else, through an input transform that takes the
        column as its own input (a composition lists the columns its branches took), where that one's
        input comes from.
        """
        visited: set[str] = set()
        current: str | None = transform.id
        while current is not None and current not in visited:
            visited.add(current)
            upstream = self.by_id[current].input_transforms if current in self.by_id else ()
            found = next((up for up in upstream if column in self.outputs.get(up, ())), None)
            if found is not None:
                return found
            current = next((up for up in upstream if column in self.inputs.get(up, ())), None)
        return None

    def of_output(self, transform: Transform, column: str) -> tuple[str, str] | None:
        """The (input transform, column) a composition's output ``column`` is a branch's output of, if any.

        Named as it is, or prefixed with the branch's name (``num__age`` from branch ``num``'s ``age``).
        """
        for upstream in transform.input_transforms:
            if column in self.outputs.get(upstream, ()):
                return upstream, column
        branch, separator, rest = column.partition("__")
        if not separator:
            return None
        for upstream in transform.input_transforms:
            known = self.by_id.get(upstream)
            path = known.name.removeprefix(transform.name + "__") if known is not None else ""
            if path.split("__")[0] == branch and rest in self.outputs.get(upstream, ()):
                return upstream, rest
        return None

    def sources_of_input(self, transform_id: str, column: str) -> dict[str, ColumnSource]:
        """The data columns behind the input ``column`` of transform ``transform_id``."""
        return self.sources(self.of_input(self.by_id[transform_id], column), column)

    def sources(self, producer: str | None, column: str) -> dict[str, ColumnSource]:
        """The data columns behind ``column`` as output by ``producer`` (None: a column of the data itself)."""
        if producer is None:
            return {column: ColumnSource(column, ())}
        key = (producer, column)
        if key in self._memo:
            return self._memo[key]
        if key in self._visiting:  # a cycle in stored (untrusted) transforms: no lineage through it
            return {}
        self._visiting.add(key)
        transform = self.by_id[producer]
        operator = transform.operator or transform.name
        passed = self.of_output(transform, column)
        if passed is not None:
            upstream = [self.sources(*passed)]
        else:
            upstream = [self.sources_of_input(producer, source) for source in transform.inputs_of(column)]
        found: dict[str, ColumnSource] = {}
        for sources in upstream:
            for name, origin in sources.items():
                if name not in found:
                    found[name] = ColumnSource(name, (*origin.operators, operator))
        self._visiting.discard(key)
        self._memo[key] = found
        return found


def model_transforms(tracker: Tracker, model: Model, runs: Sequence[Any] | None = None) -> list[Transform]:
    """The model's transforms (else its training runs'), then the input transforms they name that it does not list.

    One batch read per level of input transforms not listed (a network of 500 listed operators is one read).

    Args:
        tracker: The tracker to read with.
        model: The model.
        runs: Its training runs, if already read (their transforms are used when the model lists none).

    Returns:
        The transforms, in the order the model (or its runs) lists them, then those found through
        ``input_transforms``.
    """
    wanted = list(model.transforms)
    if not wanted:
        runs = tracker.find("run", for_model=model.id) if runs is None else runs
        wanted = list(dict.fromkeys(id_ for run in runs for id_ in run.transforms))
    transforms: dict[str, Transform] = {}
    asked: list[str] = []
    while wanted:
        asked.extend(wanted)
        found = [
            entity for entity in tracker.get_many(wanted, with_scores=False).values() if isinstance(entity, Transform)
        ]
        transforms.update((transform.id, transform) for transform in found)
        upstream = [id_ for transform in found for id_ in transform.input_transforms]
        wanted = [id_ for id_ in dict.fromkeys(upstream) if id_ not in asked]
    return [transforms[id_] for id_ in asked if id_ in transforms]
