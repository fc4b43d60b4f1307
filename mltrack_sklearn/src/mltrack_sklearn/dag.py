"""The transformation DAG of a fitted estimator, with column-level lineage.

Every estimator of a composition becomes a :class:`~mltrack_core.schema.Transform`
vertex named by its ``get_params`` path (``preprocess__num__scale``); a root that is
not a pipeline is named after its class (``stackingclassifier``). Pipelines are
flattened into chains. ``ColumnTransformer`` and ``FeatureUnion`` become parallel
branches merging into one vertex; a ``drop`` branch is a vertex without outputs, a
``passthrough`` branch a vertex whose outputs are its inputs. Stacking and voting
ensembles are branches merging into the ensemble's vertex (stacking then feeds its
``final_estimator``); a fitted search is its ``best_estimator_``'s DAG feeding the
search's vertex; a ``TransformedTargetRegressor``'s transformer takes the target
column (not X) and feeds, besides X's flow, the regressor's learning vertex, whose
``sklearn.target_transform`` annotation says what transforms y (the transformer
or ``func``); other meta-estimators (one-vs-rest, bagging, ...) get a vertex fed
by vertices of their inner estimators.

Column lineage: each vertex's ``input`` and ``output`` columns come from
``get_feature_names_out``; its ``column_lineage`` maps each output column to the
input columns it is computed from, when scikit-learn tells (one-to-one
transformers, feature selectors, one-hot and spline encoders, polynomial
features, missing indicators, projections such as PCA that mix all inputs, and
single-column inputs). An output computed from every one of several input columns
is written :data:`~mltrack_core.schema.ALL_INPUTS` (``"*"``) instead of the list,
so a projection's lineage grows with its outputs, not outputs x inputs. A merging
vertex's lineage goes through its branches to its own input columns. When lineage
or outputs cannot be known, the vertex says why in its ``mltrack.column_lineage``
annotation.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn

from mltrack_core.plugin import ALL_INPUTS, Transform, TypedColumn, TypeHint
from mltrack_sklearn.parameters import is_estimator, own_parameters, plain_value

__all__ = ["Dag", "build_dag", "input_columns"]

MAX_LISTED_COLUMNS = 10_000
"""Outputs beyond this many (a text vectorizer's vocabulary) are counted, not listed."""
LINEAGE_NOTE = "mltrack.column_lineage"
TARGET_NOTE = "sklearn.target_transform"
"""On the vertex that learns from a transformed target: what transforms y before it is fitted."""
Sources = tuple[frozenset[int], ...]


@dataclass(frozen=True)
class Flow:
    """What comes out of a part of the DAG.

    ``tails`` are the ids of the vertices producing it (none for the raw input);
    ``columns`` its column names (None when unknown); ``sources`` for each output
    column, the positions of the columns that went into this part that it is
    computed from (None when unknown).
    """

    tails: tuple[str, ...]
    columns: tuple[str, ...] | None
    sources: Sources | None = None
    reason: str | None = None


@dataclass
class Dag:
    """The vertices of a model's DAG, in creation order (inputs before the vertices they feed)."""

    transforms: list[Transform] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    output: Flow | None = None


def input_columns(estimator: Any, fallback: Sequence[str] = ()) -> tuple[str, ...] | None:
    """The columns ``estimator`` was fitted on: ``feature_names_in_``, else ``x0, x1, ...``."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return tuple(str(name) for name in names)
    count = getattr(estimator, "n_features_in_", None)
    if isinstance(count, (int, np.integer)):
        return tuple(f"x{index}" for index in range(int(count)))
    return tuple(fallback) or None


def build_dag(
    estimator: Any, columns: tuple[str, ...] | None, types: dict[str, TypeHint], target: str | None = None
) -> Dag:
    """The DAG of a fitted ``estimator`` whose input has ``columns`` (typed by ``types``) and target ``target``."""
    builder = _Builder(types, target)
    start = Flow((), columns, _identity(columns))
    try:
        builder.dag.output = builder.walk(estimator, "", start)
    except Exception as exc:  # noqa: BLE001 (keep what was extracted, report the rest)
        builder.dag.failures.append(
            f"transformation DAG after {len(builder.dag.transforms)} vertices: {_describe(exc)}"
        )
    return builder.dag


class _Builder:
    def __init__(self, types: dict[str, TypeHint], target: str | None = None) -> None:
        self.types = dict(types)
        self.target = target
        self.dag = Dag()
        self.version = sklearn.__version__

    # ------------------------------------------------------------ dispatch

    def walk(self, estimator: Any, path: str, flow: Flow) -> Flow:
        """Add the vertices of ``estimator`` fed by ``flow``; return what comes out."""
        from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
        from sklearn.ensemble import StackingClassifier, StackingRegressor, VotingClassifier, VotingRegressor
        from sklearn.pipeline import FeatureUnion, Pipeline

        if estimator is None or (isinstance(estimator, str) and estimator == "passthrough"):
            return Flow(flow.tails, flow.columns, _identity(flow.columns))
        if isinstance(estimator, Pipeline):
            return self.pipeline(estimator, path, flow)
        if isinstance(estimator, ColumnTransformer):
            return self.column_transformer(estimator, path, flow)
        if isinstance(estimator, FeatureUnion):
            return self.feature_union(estimator, path, flow)
        if isinstance(estimator, (StackingClassifier, StackingRegressor)):
            return self.stacking(estimator, path, flow)
        if isinstance(estimator, (VotingClassifier, VotingRegressor)):
            return self.voting(estimator, path, flow)
        if hasattr(estimator, "cv_results_") and getattr(estimator, "best_estimator_", None) is not None:
            return self.search(estimator, path, flow)
        if isinstance(estimator, TransformedTargetRegressor) and hasattr(estimator, "regressor_"):
            return self.target_regressor(estimator, path, flow)
        return self.estimator(estimator, path, flow)

    # ------------------------------------------------------------ compositions

    def pipeline(self, pipeline: Any, path: str, flow: Flow) -> Flow:
        current = Flow(flow.tails, flow.columns, _identity(flow.columns))
        for name, step in pipeline.steps:
            out = self.walk(step, _join(path, name), current)
            current = Flow(out.tails, out.columns, _compose(current.sources, out.sources), out.reason)
        return current

    def column_transformer(self, transformer: Any, path: str, flow: Flow) -> Flow:
        columns = flow.columns or input_columns(transformer)
        output_names = _feature_names_out(transformer, None)
        tails: list[str] = []
        sources: list[frozenset[int]] | None = [frozenset()] * len(output_names[0]) if output_names[0] else None
        reason = output_names[1]
        declared = {name: branch for name, branch, _ in transformer.transformers} | {"remainder": transformer.remainder}
        for name, branch, selection in transformer.transformers_:
            if isinstance(declared.get(name), str):  # fitted "passthrough" branches are FunctionTransformers
                branch = declared[name]
            positions = _selected_positions(selection, columns, transformer)
            branch_columns = tuple(columns[p] for p in positions) if columns is not None else None
            branch_flow = Flow(flow.tails, branch_columns, _identity(branch_columns))
            branch_path = _join(path, name)
            if isinstance(branch, str) and branch == "drop":
                self.vertex(
                    None, branch_path, branch_flow, operator="drop", outputs=(), lineage=(), note="columns dropped"
                )
                continue
            if isinstance(branch, str) and branch == "passthrough":
                vertex = self.vertex(
                    None,
                    branch_path,
                    branch_flow,
                    operator="passthrough",
                    outputs=branch_columns,
                    lineage=_identity(branch_columns),
                )
                out = Flow((vertex.id,), branch_columns, _identity(branch_columns))
            else:
                out = self.walk(branch, branch_path, branch_flow)
            tails.extend(out.tails)
            span = transformer.output_indices_.get(name, slice(0, 0))
            if sources is None:
                continue
            if out.sources is None or len(out.sources) != span.stop - span.start:
                sources, reason = None, out.reason or f"the lineage of branch {name!r} is unknown"
                continue
            branch_sources = _mapped(out.sources, lambda used, at=positions: frozenset(at[i] for i in used))
            sources[span.start : span.start + len(branch_sources)] = branch_sources
        return self.merge(transformer, path, flow, tuple(tails), output_names[0], sources, reason)

    def feature_union(self, union: Any, path: str, flow: Flow) -> Flow:
        output_names = _feature_names_out(union, flow.columns)
        tails: list[str] = []
        sources: list[frozenset[int]] | None = []
        reason = output_names[1]
        for name, branch in union.transformer_list:
            if isinstance(branch, str) and branch == "drop":
                continue
            out = self.walk(branch, _join(path, name), flow)
            tails.extend(out.tails)
            if sources is not None and out.sources is not None:
                sources.extend(out.sources)
            else:
                sources, reason = None, reason or out.reason or f"the lineage of branch {name!r} is unknown"
        if sources is not None and output_names[0] is not None and len(sources) != len(output_names[0]):
            sources, reason = None, "the branches' outputs do not add up to the union's outputs"
        return self.merge(union, path, flow, tuple(tails), output_names[0], sources, reason)

    def stacking(self, stack: Any, path: str, flow: Flow) -> Flow:
        tails = list(self.branches(stack, path, flow))
        if getattr(stack, "passthrough", False):
            tails.extend(flow.tails)
        names, reason = _feature_names_out(stack, flow.columns)
        sources = _predictions_lineage(names, flow.columns)
        merged = self.merge(stack, path, flow, tuple(tails), names, sources, reason, note=_PREDICTIONS_NOTE)
        return self.walk(stack.final_estimator_, _join(path, "final_estimator"), merged)

    def voting(self, vote: Any, path: str, flow: Flow) -> Flow:
        tails = self.branches(vote, path, flow)
        names, reason = _feature_names_out(vote, flow.columns) if hasattr(vote, "transform") else (None, None)
        sources = _predictions_lineage(names, flow.columns)
        return self.merge(vote, path, flow, tails, names, sources, reason, note=_PREDICTIONS_NOTE if names else None)

    def branches(self, ensemble: Any, path: str, flow: Flow) -> tuple[str, ...]:
        fitted = getattr(ensemble, "named_estimators_", {})
        tails: list[str] = []
        for name, template in ensemble.estimators:
            branch = fitted.get(name, template)
            if isinstance(branch, str) and branch == "drop":
                continue
            tails.extend(self.walk(branch, _join(path, name), flow).tails)
        return tuple(tails)

    def search(self, search: Any, path: str, flow: Flow) -> Flow:
        best = self.walk(search.best_estimator_, _join(path, "estimator"), flow)
        inner = Flow(best.tails, flow.columns, _identity(flow.columns))
        vertex = self.vertex(search, path or type(search).__name__.lower(), inner, input_columns_=flow.columns)
        return Flow((vertex.id,), best.columns, best.sources, best.reason)

    def target_regressor(self, regressor: Any, path: str, flow: Flow) -> Flow:
        """A TransformedTargetRegressor: its transformer takes the target column, not X, and feeds the regressor.

        The regressor's DAG is fed by ``flow``; the vertex that learns (its last)
        is also fed by the transformer's, and says in its ``sklearn.target_transform``
        annotation what transforms y (the transformer, or ``func``).
        """
        target_flow: tuple[str, ...] = ()
        if is_estimator(regressor.transformer):
            target = (self.target,) if self.target else None
            y_path = _join(path, "transformer")
            target_flow = self.walk(regressor.transformer_, y_path, Flow((), target, _identity(target))).tails
            how = f"the target is transformed by {y_path} ({type(regressor.transformer_).__name__}) before fitting"
        elif regressor.func is not None:
            how = f"the target is transformed by {plain_value(regressor.func)} before fitting"
            if regressor.inverse_func is not None:
                how += f"; predictions are mapped back by {plain_value(regressor.inverse_func)}"
        else:
            how = None
        learner = self.walk(regressor.regressor_, _join(path, "regressor"), flow)
        if how is not None:
            self.feed(learner.tails, target_flow, {TARGET_NOTE: how})
        fed = Flow((*learner.tails, *target_flow), flow.columns, None)
        vertex = self.vertex(regressor, path or type(regressor).__name__.lower(), fed, outputs=(), lineage=())
        return Flow((vertex.id,), None, None, f"{type(regressor).__name__} makes predictions, not feature columns")

    def feed(self, ids: tuple[str, ...], tails: tuple[str, ...], annotations: dict[str, str]) -> None:
        """Give vertices already made more input vertices and annotations (a transformed target they learn from)."""
        for index, transform in enumerate(self.dag.transforms):
            if transform.id in ids:
                self.dag.transforms[index] = dataclasses.replace(
                    transform,
                    input_transforms=(*transform.input_transforms, *tails),
                    annotations={**transform.annotations, **annotations},
                )

    def merge(
        self,
        estimator: Any,
        path: str,
        flow: Flow,
        tails: tuple[str, ...],
        names: tuple[str, ...] | None,
        sources: Sequence[frozenset[int]] | None,
        reason: str | None,
        note: str | None = None,
    ) -> Flow:
        """The vertex where parallel branches meet; its lineage goes back to its own input columns."""
        sources = tuple(sources) if sources is not None and names is not None else None
        fed = Flow(tails, flow.columns, None)
        vertex = self.vertex(
            estimator,
            path or type(estimator).__name__.lower(),
            fed,
            outputs=names,
            lineage=sources,
            note=note or (None if sources is not None else reason or "the lineage of a branch is unknown"),
        )
        return Flow((vertex.id,), names, sources, None if sources is not None else reason)

    # ------------------------------------------------------------ single estimators

    def estimator(self, estimator: Any, path: str, flow: Flow) -> Flow:
        """A leaf, or a meta-estimator fed by its inner estimators (one-vs-rest, bagging, ...)."""
        name = path or type(estimator).__name__.lower()
        tails = list(flow.tails)
        inner = [(key, value) for key, value in estimator.get_params(deep=False).items() if is_estimator(value)]
        if inner:
            tails = []
            for key, template in inner:
                child = _fitted_counterpart(estimator, key, template)
                tails.extend(self.walk(child, _join(path, key), self._flow_for(child, flow)).tails)
            tails = tails or list(flow.tails)
        fed = Flow(tuple(tails), flow.columns, None)
        if not hasattr(estimator, "transform"):
            vertex = self.vertex(estimator, name, fed, outputs=(), lineage=())
            return Flow((vertex.id,), None, None, f"{type(estimator).__name__} makes predictions, not feature columns")
        outputs, reason = _feature_names_out(estimator, flow.columns) if _is_fitted(estimator) else (None, "not fitted")
        lineage, lineage_reason = (
            (None, reason) if outputs is None else _local_lineage(estimator, flow.columns, outputs)
        )
        vertex = self.vertex(estimator, name, fed, outputs=outputs, lineage=lineage, note=lineage_reason)
        return Flow((vertex.id,), outputs, lineage, lineage_reason)

    def _flow_for(self, child: Any, flow: Flow) -> Flow:
        """An inner estimator sees the outer input, unless it was fitted on something else (a target transformer)."""
        count = getattr(child, "n_features_in_", None)
        if flow.columns is not None and count is not None and count != len(flow.columns):
            return Flow(flow.tails, None, None, f"fitted on {count} columns, not the {len(flow.columns)} input columns")
        return flow

    # ------------------------------------------------------------ vertices

    def vertex(
        self,
        estimator: Any,
        name: str,
        fed: Flow,
        *,
        operator: str | None = None,
        outputs: tuple[str, ...] | None = None,
        lineage: Sources | None = None,
        note: str | None = None,
        input_columns_: tuple[str, ...] | None = None,
    ) -> Transform:
        inputs = input_columns_ if input_columns_ is not None else fed.columns
        annotations = {}
        listed_outputs = outputs
        if outputs is not None and len(outputs) > MAX_LISTED_COLUMNS:
            annotations["mltrack.outputs"] = (
                f"{len(outputs)} output columns (more than {MAX_LISTED_COLUMNS} are not listed)"
            )
            listed_outputs, lineage = None, None
        if note:
            annotations[LINEAGE_NOTE] = note
        column_lineage = {}
        if lineage is not None and listed_outputs is not None and inputs is not None:
            if len(inputs) > MAX_LISTED_COLUMNS:
                annotations[LINEAGE_NOTE] = f"the {len(inputs)} input columns are not listed"
            else:
                column_lineage = _named_lineage(listed_outputs, lineage, inputs)
        transform = Transform(
            name=name,
            operator=operator or type(estimator).__name__,
            framework="scikit-learn",
            framework_version=self.version,
            state=None if estimator is None else ("fitted" if _is_fitted(estimator) else "not fitted"),
            parameters=own_parameters(estimator) if estimator is not None else (),
            input=self.typed(inputs),
            output=self.typed(listed_outputs),
            input_transforms=fed.tails,
            column_lineage=column_lineage,
            annotations=annotations,
        )
        self.dag.transforms.append(transform)
        return transform

    def typed(self, columns: tuple[str, ...] | None) -> tuple[TypedColumn, ...]:
        if not columns or len(columns) > MAX_LISTED_COLUMNS:
            return ()
        unknown = TypeHint.UNKNOWN
        return tuple(_typed_column(column, self.types.get(column, unknown)) for column in columns)


@functools.lru_cache(maxsize=1 << 16)
def _typed_column(name: str, typing: TypeHint) -> TypedColumn:
    """One immutable column object per name and type, shared by every vertex and fit that lists it."""
    return TypedColumn(name=name, typing=typing)


# ---------------------------------------------------------------- column lineage

_PREDICTIONS_NOTE = "prediction columns are attributed to every input column; passed-through columns to themselves"


def _identity(columns: Sequence[str] | None) -> Sources | None:
    return None if columns is None else tuple(frozenset((index,)) for index in range(len(columns)))


def _compose(outer: Sources | None, inner: Sources | None) -> Sources | None:
    """Sources of ``inner``'s outputs in terms of what fed ``outer``."""
    if outer is None or inner is None:
        return None
    return _mapped(inner, lambda used: frozenset().union(*(outer[i] for i in used)))


def _mapped(sources: Sources, convert: Any) -> Sources:
    """``convert`` applied to each output's sources, once per distinct set.

    The outputs of a projection share one set of all inputs (and what is mapped
    from it stays shared): converting it once keeps the cost in outputs + inputs,
    not outputs x inputs.
    """
    converted: dict[int, frozenset[int]] = {}
    found = []
    for used in sources:
        key = id(used)  # the sets stay alive in ``sources`` meanwhile, so ids are not reused
        result = converted.get(key)
        if result is None:
            result = converted[key] = convert(used)
        found.append(result)
    return tuple(found)


def _named_lineage(outputs: tuple[str, ...], lineage: Sources, inputs: tuple[str, ...]) -> dict[str, Any]:
    """Column lineage by name; an output computed from every one of several inputs is ``ALL_INPUTS``."""
    named: dict[int, Any] = {}
    column_lineage = {}
    for output, used in zip(outputs, lineage, strict=True):
        if not used:
            continue
        key = id(used)
        if key not in named:
            named[key] = (
                ALL_INPUTS if len(inputs) > 1 and len(used) == len(inputs) else tuple(inputs[i] for i in sorted(used))
            )
        column_lineage[output] = named[key]
    return column_lineage


def _predictions_lineage(names: tuple[str, ...] | None, columns: tuple[str, ...] | None) -> Sources | None:
    if names is None or columns is None:
        return None
    everything = frozenset(range(len(columns)))
    position = {column: index for index, column in enumerate(columns)}
    return tuple(frozenset((position[name],)) if name in position else everything for name in names)


def _local_lineage(
    estimator: Any, columns: tuple[str, ...] | None, outputs: tuple[str, ...]
) -> tuple[Sources | None, str | None]:
    """For each output column, the positions of the input columns it is computed from."""
    from sklearn.base import ClassNamePrefixFeaturesOutMixin, OneToOneFeatureMixin
    from sklearn.feature_selection import SelectorMixin
    from sklearn.impute import MissingIndicator
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, PolynomialFeatures, SplineTransformer

    if columns is None:
        return None, "the input columns are unknown"
    n_in, n_out = len(columns), len(outputs)
    everything = frozenset(range(n_in))
    if n_in == 1:
        return tuple(everything for _ in outputs), None
    if isinstance(estimator, SelectorMixin):
        return _checked(tuple(frozenset((int(i),)) for i in estimator.get_support(indices=True)), n_out)
    if isinstance(estimator, OneToOneFeatureMixin) and n_out == n_in:
        return _identity(columns), None
    if isinstance(estimator, OneHotEncoder):
        counts = estimator._compute_n_features_outs() if hasattr(estimator, "_compute_n_features_outs") else None
        return _grouped(counts or [len(c) for c in estimator.categories_], n_out)
    if isinstance(estimator, KBinsDiscretizer):
        if estimator.encode == "ordinal":
            return _identity(columns), None
        return _grouped([int(n) for n in estimator.n_bins_], n_out)
    if isinstance(estimator, SplineTransformer) and n_out % n_in == 0:
        return _grouped([n_out // n_in] * n_in, n_out)
    if isinstance(estimator, PolynomialFeatures):
        return _checked(tuple(frozenset(int(i) for i in np.flatnonzero(row)) for row in estimator.powers_), n_out)
    if isinstance(estimator, MissingIndicator):
        return _checked(tuple(frozenset((int(i),)) for i in estimator.features_), n_out)
    if isinstance(estimator, ClassNamePrefixFeaturesOutMixin):
        return tuple(everything for _ in outputs), None
    by_name = _lineage_by_name(columns, outputs)
    if by_name is not None:
        return by_name, None
    return (
        None,
        f"scikit-learn does not tell which input columns each output of {type(estimator).__name__} is computed from",
    )


def _lineage_by_name(columns: tuple[str, ...], outputs: tuple[str, ...]) -> Sources | None:
    """Outputs named after one input (kept columns, ``missingindicator_<column>``)."""
    position = {column: index for index, column in enumerate(columns)}
    found = []
    for output in outputs:
        name = output.removeprefix("missingindicator_")
        if name not in position:
            return None
        found.append(frozenset((position[name],)))
    return tuple(found)


def _grouped(counts: Sequence[int], n_out: int) -> tuple[Sources | None, str | None]:
    """Outputs that come in consecutive groups, ``counts[i]`` of them from input ``i``."""
    return _checked(tuple(frozenset((i,)) for i, count in enumerate(counts) for _ in range(int(count))), n_out)


def _checked(sources: Sources, n_out: int) -> tuple[Sources | None, str | None]:
    if len(sources) != n_out:
        return None, f"expected {n_out} outputs from the fitted state, found {len(sources)}"
    return sources, None


# ---------------------------------------------------------------- helpers


def _feature_names_out(estimator: Any, columns: tuple[str, ...] | None) -> tuple[tuple[str, ...] | None, str | None]:
    if not hasattr(estimator, "get_feature_names_out"):
        return None, f"{type(estimator).__name__} has no get_feature_names_out"
    try:
        names = estimator.get_feature_names_out(list(columns) if columns is not None else None)
    except Exception as exc:  # noqa: BLE001 (unnamed outputs: transform-level DAG)
        return None, f"get_feature_names_out failed: {_describe(exc)}"
    return tuple(str(name) for name in names), None


def _selected_positions(selection: Any, columns: tuple[str, ...] | None, transformer: Any) -> list[int]:
    """Positions of the input columns a fitted ColumnTransformer branch selects (names, indices, slice or mask)."""
    if isinstance(selection, str):
        selection = [selection]
    if (
        isinstance(selection, (list, tuple, np.ndarray))
        and len(selection)
        and all(isinstance(s, str) for s in selection)
    ):
        position = {column: index for index, column in enumerate(columns or ())}
        return [position[column] for column in selection]
    if isinstance(selection, (int, np.integer)):
        return [int(selection)]
    count = len(columns) if columns is not None else int(transformer.n_features_in_)
    return [int(i) for i in np.arange(count)[selection]]


def _fitted_counterpart(meta: Any, key: str, template: Any) -> Any:
    """The fitted estimator behind parameter ``key``: ``<key>_``, else the first of ``estimators_`` (one-vs-rest)."""
    fitted = getattr(meta, f"{key}_", None)
    if is_estimator(fitted):
        return fitted
    copies = getattr(meta, "estimators_", None)
    if key == "estimator" and isinstance(copies, (list, tuple)) and copies and is_estimator(copies[0]):
        return copies[0]
    return template


def _is_fitted(estimator: Any) -> bool:
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except Exception:  # noqa: BLE001 (NotFittedError, or cannot judge)
        return False
    return True


def _join(path: str, name: str) -> str:
    return f"{path}__{name}" if path else name


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
