"""The hook implementations mltrack finds through the ``mltrack`` entry point ``mxnet``.

Loading this module is cheap: MXNet is imported only when an MXNet object is
handed to a hook (so MXNet is imported already) or by the demo. Every hook
checks the MXNet version before reading anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Extraction, MissingPluginError, hookimpl
from mltrack_mxnet.framework import is_mxnet_object

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
def mltrack_extract_dataset(data: Any) -> Extraction | None:
    """MXNet data objects are not described: say so, instead of the core's "install mltrack-mxnet"."""
    if not is_mxnet_object(data):
        return None
    raise MissingPluginError(
        f"mltrack-mxnet does not describe {type(data).__name__} objects as datasets; track the data they hold "
        "with keyword fields: tracker.track_dataset(name=..., fingerprint=..., row_count=..., schema=..., target=...)"
    )


@hookimpl
def mltrack_environment() -> dict[str, str] | None:
    """MXNet's version, build features and GPU count, when this process uses MXNet."""
    if sys.modules.get("mxnet") is None:  # not imported (or blocked): never import MXNet just to describe it
        return None
    from mltrack_mxnet.framework import mxnet_environment

    return mxnet_environment()  # a failure: the tracker warns once, then stops asking


@hookimpl
def mltrack_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """The paper's Figure 3 workflow on scikit-learn's digits."""
    from mltrack_mxnet.demo import run_demo

    return run_demo(tracker, folder, say)
