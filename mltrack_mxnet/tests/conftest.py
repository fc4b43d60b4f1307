"""Fixtures: the shared ones (an isolated mltrack home, an in-memory tracker), the 8x8 digits, small networks."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator

os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")  # before MXNet starts: no "Subgraph backend ..." lines

import mxnet as mx
import numpy as np
import pytest
from sklearn.datasets import load_digits

import mltrack_core as mt
from mltrack_mxnet.demo import array_fingerprint

pytest_plugins = ["mltrack_core.testing.fixtures"]

FIT_LOG_LINE = re.compile(r"Epoch\[(\d+)\] (Train|Validation)-([^=]+)=(\S+)")


@pytest.fixture(autouse=True)
def seeded() -> None:
    """The same random initial weights in every test."""
    mx.random.seed(42)


class Digits:
    """scikit-learn's 8x8 digits, split into train (1397), validation (200) and test (200) rows."""

    def __init__(self) -> None:
        bunch = load_digits()
        self.features = (bunch.data / 16.0).astype("float32")
        self.labels = bunch.target.astype("float32")
        order = np.random.RandomState(0).permutation(len(self.features))
        self.rows = {"train": order[:-400], "validation": order[-400:-200], "test": order[-200:]}

    def iterator(
        self, part: str, batch_size: int = 40, image: bool = False, shuffle: bool = False
    ) -> mx.io.NDArrayIter:
        rows = self.rows[part]
        features = self.features[rows]
        if image:
            features = features.reshape((-1, 1, 8, 8))
        return mx.io.NDArrayIter(
            features, self.labels[rows], batch_size=batch_size, shuffle=shuffle, label_name="softmax_label"
        )

    def track(self, tracker: mt.Tracker, part: str) -> mt.Dataset:
        rows = self.rows[part]
        return tracker.track_dataset(
            name=f"digits-{part}",
            fingerprint=array_fingerprint(self.features[rows], self.labels[rows]),
            row_count=len(rows),
            target="digit",
        )


@pytest.fixture(scope="session")
def digits() -> Digits:
    return Digits()


@pytest.fixture
def train_set(tracker: mt.Tracker, digits: Digits) -> mt.Dataset:
    return digits.track(tracker, "train")


def mlp() -> mx.sym.Symbol:
    data = mx.sym.var("data")
    hidden = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=32, name="fc1"), act_type="relu", name="relu1")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(hidden, num_hidden=10, name="fc2"), name="softmax")


def cnn() -> mx.sym.Symbol:
    data = mx.sym.var("data")
    convolved = mx.sym.Convolution(data, kernel=(3, 3), num_filter=8, pad=(1, 1), name="conv1")
    normalized = mx.sym.BatchNorm(convolved, name="bn1")
    activated = mx.sym.Activation(normalized, act_type="relu", name="relu1")
    pooled = mx.sym.Pooling(activated, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool1")
    flat = mx.sym.Flatten(pooled, name="flatten")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(flat, num_hidden=10, name="fc"), name="softmax")


class FitLog(logging.Handler):
    """Collects what ``Module.fit`` logs, as (epoch, "Train"/"Validation", metric, value) tuples."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.logger = logging.getLogger(f"mltrack-mxnet-tests.fit.{id(self)}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.logger.addHandler(self)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def epoch_values(self) -> list[tuple[int, str, str, float]]:
        found = (FIT_LOG_LINE.fullmatch(line) for line in self.lines)
        return [(int(m[1]), m[2], m[3], float(m[4])) for m in found if m]

    def close(self) -> None:
        self.logger.removeHandler(self)
        super().close()


@pytest.fixture
def fit_log() -> Iterator[FitLog]:
    handler = FitLog()
    yield handler
    handler.close()


@contextlib.contextmanager
def tracking_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record mltrack's TrackingWarnings; every other warning keeps its configured filter.

    (``pytest.warns`` would record MXNet's own deprecation warnings too, and re-raise them.)
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", mt.TrackingWarning)
        yield caught
