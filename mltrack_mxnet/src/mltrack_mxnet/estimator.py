"""The event handler for the Gluon estimator (``mxnet.gluon.contrib.estimator``).

Imported only when a run's ``event_handler()`` is asked for: the handler
class derives from MXNet's event base classes, so this module imports MXNet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mltrack_mxnet.framework import require_mxnet

require_mxnet()

from mxnet.gluon.contrib.estimator.event_handler import (  # noqa: E402  (after the version check)
    BatchEnd,
    EpochBegin,
    EpochEnd,
    TrainBegin,
)

if TYPE_CHECKING:
    from mltrack_mxnet.callbacks import GluonCallbacks

__all__ = ["make_event_handler"]


class TrackingHandler(TrainBegin, EpochBegin, BatchEnd, EpochEnd):
    """Streams an estimator's metrics into a live run; never stops or breaks training.

    Its priority (0, MXNet's default) places it after the estimator's metric
    and validation handlers (-1000), so the metrics it reads are up to date.
    """

    def __init__(self, callbacks: GluonCallbacks, frequent: int) -> None:
        # no attribute name may contain "metric": the estimator checks such attributes against its metrics
        self._callbacks = callbacks
        self._frequent = frequent

    def train_begin(self, estimator: Any, *args: Any, **kwargs: Any) -> None:
        self._callbacks._train_begin(estimator)

    def epoch_begin(self, estimator: Any, *args: Any, **kwargs: Any) -> None:
        self._callbacks._epoch_begin(estimator)

    def batch_end(self, estimator: Any, *args: Any, **kwargs: Any) -> bool:
        self._callbacks._batch_end(estimator, kwargs.get("batch"), self._frequent)
        return False  # True would ask the estimator to stop

    def epoch_end(self, estimator: Any, *args: Any, **kwargs: Any) -> bool:
        self._callbacks._epoch_end(estimator)
        return False


def make_event_handler(callbacks: GluonCallbacks, frequent: int) -> TrackingHandler:
    """A new handler reporting to ``callbacks``."""
    return TrackingHandler(callbacks, frequent)
