"""Hyperparameters of an estimator and of every estimator nested in it, typed, with defaults.

Names are those of ``estimator.get_params(deep=True)`` (``preprocess__num__scale__with_mean``).
A value is *non-default* when it differs from the default of the owning class's
``__init__``, the comparison scikit-learn's own ``repr`` makes. Values that are not
JSON (estimators, functions, classes, random states) are recorded as readable text:
an estimator by its class name (its own parameters follow under its prefix), a
function, ufunc or class by its qualified name (``numpy.log1p``, ``train.<lambda>``),
a partial with the arguments it binds, another callable object by its own ``repr``
when that is readable, else ``module.ClassName(attribute=value, ...)``.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from mltrack_core.plugin import Parameter, TypeHint, infer_type

__all__ = ["deep_params", "hyperparameters", "own_parameters", "plain_value"]

_REQUIRED = object()
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_NUMPYDOC_PARAMETER = re.compile(r"^(\w+)\s*:\s*(\S.*)$")


def is_estimator(value: Any) -> bool:
    """An estimator instance (not a class): something with ``get_params``."""
    return hasattr(value, "get_params") and not isinstance(value, type)


def excluded_params(estimator: Any) -> tuple[str, ...]:
    """Constructor arguments that are not hyperparameters (TrackedPipeline's ``tracker``)."""
    return getattr(type(estimator), "_mltrack_not_hyperparameters", ())


def deep_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=True)``, with a fitted search's ``estimator`` replaced by its ``best_estimator_``.

    A fitted search predicts with ``best_estimator_`` (the base estimator with the
    winning candidate's parameters, refit on all data), so those are its hyperparameters.
    """
    params = dict(estimator.get_params(deep=True))
    best = getattr(estimator, "best_estimator_", None)
    if best is not None and "estimator" in params and hasattr(estimator, "cv_results_"):
        params = {
            key: value for key, value in params.items() if key != "estimator" and not key.startswith("estimator__")
        }
        params["estimator"] = best
        params.update({f"estimator__{key}": value for key, value in best.get_params(deep=True).items()})
    return params


def hyperparameters(estimator: Any) -> list[Parameter]:
    """Every parameter of ``estimator`` and its nested estimators, named as in ``get_params(deep=True)``."""
    params = deep_params(estimator)
    found = []
    for key, value in params.items():
        owner_key, _, name = key.rpartition("__")
        owner = params[owner_key] if owner_key else estimator
        if name in excluded_params(owner):
            continue
        found.append(_parameter(key, value, owner, name))
    return found


def own_parameters(estimator: Any) -> list[Parameter]:
    """The parameters of ``estimator`` itself (``get_params(deep=False)``), for its transform vertex."""
    return [
        _parameter(name, value, estimator, name)
        for name, value in estimator.get_params(deep=False).items()
        if name not in excluded_params(estimator)
    ]


_KNOWN_PARAMETERS: dict[tuple[str, type, str, type, str], Parameter] = {}
"""Parameters made before, by name, owning class and value: fits record the same ones again and again."""
_MAX_KNOWN_PARAMETERS = 8192


def _parameter(key: str, value: Any, owner: Any, name: str) -> Parameter:
    plain = plain_value(value)
    known = (key, type(owner), name, type(plain), repr(plain))  # repr: True, 1 and 1.0 are different values
    found = _KNOWN_PARAMETERS.get(known)
    if found is None:
        if len(_KNOWN_PARAMETERS) >= _MAX_KNOWN_PARAMETERS:
            _KNOWN_PARAMETERS.clear()
        found = _KNOWN_PARAMETERS[known] = _new_parameter(key, plain, type(owner), name)
    return found


def _new_parameter(key: str, plain: Any, owner: type, name: str) -> Parameter:
    defaults = init_defaults(owner)
    doc = parameter_docs(owner).get(name)
    if name not in defaults:  # a step or branch of a composition: the user's choice, without default
        return Parameter(name=key, value=plain, non_default=True, doc=doc)
    default = defaults[name]
    if default is _REQUIRED:
        return Parameter(name=key, value=plain, non_default=True, doc=doc)
    plain_default = plain_value(default)
    typing = infer_type(plain) if plain is not None else _typing_of(plain_default)
    return Parameter(
        name=key,
        value=plain,
        typing=typing,
        default=plain_default,
        non_default=not _same(plain, plain_default),
        doc=doc,
    )


def _typing_of(value: Any) -> TypeHint:
    return infer_type(value) if value is not None else TypeHint.UNKNOWN


def _same(a: Any, b: Any) -> bool:
    """Equal as scikit-learn's repr judges it: same text, or both NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return repr(a) == repr(b)


def plain_value(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-compatible data, or readable text for what JSON cannot hold."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, np.generic):
        return plain_value(value.item(), depth)
    if is_estimator(value):
        return type(value).__name__
    if isinstance(value, type):
        return _qualified_name(value)
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, np.ndarray):
        return plain_value(value.tolist(), depth)
    if isinstance(value, (list, tuple)):
        return tuple(plain_value(item, depth + 1) for item in value)
    if isinstance(value, Mapping):
        return {str(key): plain_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, np.random.RandomState):
        return "numpy.random.RandomState"
    if inspect.isroutine(value) or isinstance(value, np.ufunc):
        return _qualified_name(value)
    if isinstance(value, functools.partial):
        return _partial_text(value, depth)
    if callable(value):
        return _callable_text(value, depth)
    return _readable(value, depth)


def _partial_text(value: functools.partial, depth: int) -> str:
    """``functools.partial(numpy.power, exponent=2)``: the function and the arguments it binds."""
    bound = [repr(plain_value(argument, depth + 1)) for argument in value.args]
    bound += [f"{key}={plain_value(argument, depth + 1)!r}" for key, argument in value.keywords.items()]
    return f"functools.partial({', '.join([str(plain_value(value.func, depth + 1)), *bound])})"


def _callable_text(value: Any, depth: int) -> str:
    """A callable object: its own readable ``repr`` (``make_scorer(f1_score, ...)``), else class and attributes."""
    shown = repr(value)
    if type(value).__repr__ is not object.__repr__ and not _ADDRESS.search(shown):
        return shown
    return _readable(value, depth, _qualified_name(type(value)))


def _readable(value: Any, depth: int, class_name: str | None = None) -> str:
    """Text for other objects: ``ClassName(attribute=value, ...)`` without memory addresses."""
    attributes = getattr(value, "__dict__", None)
    if attributes and depth < 3:
        shown = ", ".join(
            f"{key}={plain_value(item, depth + 1)!r}" for key, item in attributes.items() if not key.startswith("_")
        )
        return f"{class_name or type(value).__name__}({shown})"
    return _ADDRESS.sub("", repr(value))


def _qualified_name(value: Any) -> str:
    """``module.qualname`` of a class or function (``numpy.log1p``, ``train.<lambda>``); builtins by name."""
    module = getattr(value, "__module__", None) or _ufunc_module(value)
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or repr(value)
    return f"{module}.{name}" if module and module != "builtins" else name


def _ufunc_module(value: Any) -> str | None:
    """Where a ufunc comes from when it does not say (numpy before 2 sets no ``__module__`` on ufuncs)."""
    if not isinstance(value, np.ufunc):
        return None
    for module in ("numpy", "scipy.special"):
        if getattr(sys.modules.get(module), value.__name__, None) is value:
            return module
    return None


@functools.lru_cache(maxsize=512)
def init_defaults(cls: type) -> dict[str, Any]:
    """The defaults of ``cls.__init__``'s parameters (required ones map to a marker)."""
    init = getattr(cls.__init__, "deprecated_original", cls.__init__)
    if init is object.__init__:
        return {}
    return {
        name: (_REQUIRED if spec.default is inspect.Parameter.empty else spec.default)
        for name, spec in inspect.signature(init).parameters.items()
        if name != "self" and spec.kind not in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD)
    }


@functools.lru_cache(maxsize=512)
def parameter_docs(cls: type) -> dict[str, str]:
    """The type line of each parameter in the class's numpydoc ``Parameters`` section."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    docs: dict[str, str] = {}
    inside = False
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following.startswith("---") and line.strip():
            inside = line.strip() == "Parameters"
            continue
        if inside and line and not line[0].isspace():
            match = _NUMPYDOC_PARAMETER.match(line)
            if match:
                docs[match.group(1)] = match.group(2).strip()
    return docs
