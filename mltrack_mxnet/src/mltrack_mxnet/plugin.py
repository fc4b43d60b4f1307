"""The hook implementations mltrack finds through the ``mltrack`` entry point ``mxnet``.

Loading this module is cheap: MXNet is imported only when an MXNet object is
handed to a hook (so MXNet is imported already) or by the demo. Every hook
checks the MXNet version before reading anything.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Extraction, MissingPluginError, hookimpl, when_imported
from mltrack_mxnet.framework import is_mxnet_object, require_mxnet

if TYPE_CHECKING:
    from collections.abc import Callable

    from mltrack_core.plugin import Dataset, DemoResult, Tracker


@hookimpl
def mltrack_extract_model(
    obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool
) -> Extraction | None:
    """A fitted module, Gluon network or estimator: layout, shapes, optimizer, checkpoint."""
    if not is_mxnet_object(obj):
        return None
    from mltrack_mxnet.extract import extract_model

    return extract_model(obj, tracker, trained_on, name, serialize)


@hookimpl
def mltrack_extract_training(obj: Any, tracker: Tracker) -> Extraction | None:
    """A module, estimator, block or trainer about to train: a run whose helpers stream its metrics."""
    if not is_mxnet_object(obj):
        return None
    from mltrack_mxnet.extract import extract_training

    return extract_training(obj, tracker)


@hookimpl
def mltrack_extract_dataset(data: Any, name: str | None, target: Any) -> Extraction | None:
    """An ``NDArrayIter``, a file iterator (``ImageRecordIter``), a Gluon ``Dataset`` or ``DataLoader``."""
    if not is_mxnet_object(data):
        return None
    require_mxnet()
    from mltrack_mxnet.data import extract_dataset, is_mxnet_data

    if not is_mxnet_data(data):
        raise MissingPluginError(
            f"mltrack-mxnet describes data iterators, Gluon datasets and data loaders, not {type(data).__name__} "
            "objects; track the data they hold with keyword fields: "
            "tracker.track_dataset(name=..., fingerprint=..., row_count=..., schema=..., target=...)"
        )
    return extract_dataset(data, name, target)


def _remember_iterator_arguments(mx: ModuleType) -> None:
    from mltrack_mxnet.data import remember_iterator_arguments

    remember_iterator_arguments(mx)


# MXNet forgets the arguments of its C++ iterators (an ImageRecordIter's .rec file): keep them from the
# moment the program imports mxnet.io (at once when it is imported already). Nothing is imported here.
when_imported("mxnet.io", _remember_iterator_arguments)


@hookimpl
def mltrack_environment() -> dict[str, str] | None:
    """MXNet's version, build features and GPU count, when this process uses MXNet."""
    if sys.modules.get("mxnet") is None:  # not imported (or blocked): never import MXNet just to describe it
        return None
    from mltrack_mxnet.framework import mxnet_environment

    return mxnet_environment()  # a failure: the tracker warns once, then stops asking


@hookimpl
def mltrack_autolog(tracker: Tracker | None, disable: bool) -> str | None:
    """Record every ``Module.fit`` and Gluon training loop (see ``mltrack_mxnet.autolog``).

    MXNet is patched once the program imports it (at once if it is already
    imported); nothing here imports it.
    """
    if importlib.util.find_spec("mxnet") is None:
        return None
    from mltrack_mxnet.autolog import autolog

    autolog(tracker=tracker, disable=disable)
    return "mxnet"


@hookimpl
def mltrack_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """The paper's Figure 3 workflow on scikit-learn's digits."""
    from mltrack_mxnet.demo import run_demo

    return run_demo(tracker, folder, say)
