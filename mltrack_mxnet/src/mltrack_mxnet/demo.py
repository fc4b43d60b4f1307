"""The MXNet part of ``mltrack demo``: the paper's Figure 3 workflow on scikit-learn's 8x8 digits.

The digits are written to a CSV file and tracked with a content fingerprint,
split into train, validation and test sets (seeded), and two networks (a
multilayer perceptron and a small convolutional network) are trained with
``Module.fit`` while the run's callbacks stream training and validation
accuracy. Each trained module is tracked with its layout, shapes and
optimizer settings (and a checkpoint), and evaluated on the test set.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import Dataset, DemoResult, MissingDependencyError, TypedColumn, TypeHint
from mltrack_mxnet.framework import require_mxnet

if TYPE_CHECKING:
    from collections.abc import Callable

    from mltrack_core.plugin import Tracker

__all__ = ["run_demo"]

SEED = 7
BATCH_SIZE = 50
EPOCHS = 10
HELD_OUT = 300  # rows each for validation and test


def run_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """Record the MXNet experiment; None (after saying why) when MXNet or scikit-learn cannot run here."""
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")  # no "Subgraph backend MKLDNN is activated" lines
    try:
        mx = require_mxnet()
        from sklearn.datasets import load_digits
    except MissingDependencyError as exc:
        say(f"MXNet part skipped: {exc}")
        return None
    except ImportError:
        say("MXNet part skipped: it reads scikit-learn's digits; pip install scikit-learn")
        return None
    import numpy as np

    digits = load_digits()
    features = (digits.data / 16.0).astype("float32")
    labels = digits.target.astype("float32")
    full = _track_digits_file(tracker, folder / "digits-8x8.csv", features, labels)
    order = np.random.RandomState(SEED).permutation(len(features))
    parts = {
        "train": order[: -2 * HELD_OUT],
        "validation": order[-2 * HELD_OUT : -HELD_OUT],
        "test": order[-HELD_OUT:],
    }
    splits = {
        part: track_array_split(tracker, full, part, features[rows], labels[rows], f"seeded permutation (seed {SEED})")
        for part, rows in parts.items()
    }
    say(f"tracked dataset {full.name} ({len(features)} images) and its train/validation/test splits")

    mx.random.seed(SEED)
    logger = logging.getLogger("mltrack_mxnet.demo")  # keeps fit's progress lines off the root logger
    for name, symbol, image_shape in (("digits-mlp", _mlp(mx), (64,)), ("digits-cnn", _cnn(mx), (1, 8, 8))):
        arrays = {part: (features[rows].reshape((-1, *image_shape)), labels[rows]) for part, rows in parts.items()}
        module = mx.mod.Module(symbol, context=mx.cpu(), logger=logger)
        run = tracker.track_training(module, name=f"{name} fit", trained_on=splits["train"])
        module.fit(
            _iterator(mx, *arrays["train"], shuffle=True),
            eval_data=_iterator(mx, *arrays["validation"]),
            optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-4},
            initializer=mx.init.Xavier(magnitude=2.0),
            num_epoch=EPOCHS,
            batch_end_callback=run.batch_callback(),
            epoch_end_callback=run.epoch_callback(),
            eval_end_callback=run.eval_callback(),
        )
        model = tracker.track_model(module, name=name, trained_on=splits["train"], serialize=True)
        scores = module.score(_iterator(mx, *arrays["test"]), "acc")
        tracker.track_evaluation(scores, computed_by=model, on_dataset=splits["test"], procedure="holdout")
        say(
            f"trained {name} for {EPOCHS} epochs (metrics streamed into run {run.id}); "
            f"test accuracy {dict(scores)['accuracy']:.3f}"
        )
    return DemoResult("MXNet (Figure 3): 8x8 digits, Module.fit with live callbacks", splits["test"], "accuracy")


def track_array_split(tracker: Tracker, full: Dataset, part: str, features: Any, labels: Any, how: str) -> Dataset:
    """Track rows of ``full`` held in arrays, fingerprinted by their bytes."""
    return tracker.track_dataset(
        name=f"{full.name}-{part}",
        location=full.location,
        fingerprint=array_fingerprint(features, labels),
        schema=full.schema,
        target=full.target,
        row_count=len(features),
        derived_from=[full.id],
        derivation=f"{part} split: {how}",
    )


def array_fingerprint(*arrays: Any) -> str:
    """A digest of the arrays' shapes, types and bytes (C order)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes(order="C"))
    return f"sha256:{digest.hexdigest()}"


def _track_digits_file(tracker: Tracker, path: Path, features: Any, labels: Any) -> Dataset:
    import numpy as np

    columns = [f"pixel_{row}_{column}" for row in range(8) for column in range(8)]
    path.parent.mkdir(parents=True, exist_ok=True)
    table = np.column_stack([features, labels])
    np.savetxt(path, table, fmt="%.4f", delimiter=",", header=",".join([*columns, "digit"]), comments="")
    return tracker.track_dataset(
        name="digits-8x8",
        location=path.resolve().as_uri(),
        fingerprint="sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
        schema=[TypedColumn(name=column, typing=TypeHint.FLOAT) for column in columns]
        + [TypedColumn(name="digit", typing=TypeHint.INT)],
        target="digit",
        row_count=len(features),
        comments="scikit-learn's 8x8 handwritten digits (UCI), pixel intensities scaled to [0, 1]",
    )


def _iterator(mx: Any, data: Any, labels: Any, shuffle: bool = False) -> Any:
    return mx.io.NDArrayIter(data, labels, batch_size=BATCH_SIZE, shuffle=shuffle, label_name="softmax_label")


def _mlp(mx: Any) -> Any:
    data = mx.sym.var("data")
    hidden = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=64, name="fc1"), act_type="relu", name="relu1")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(hidden, num_hidden=10, name="fc2"), name="softmax")


def _cnn(mx: Any) -> Any:
    data = mx.sym.var("data")
    convolved = mx.sym.Convolution(data, kernel=(3, 3), num_filter=16, pad=(1, 1), name="conv1")
    normalized = mx.sym.BatchNorm(convolved, name="bn1")
    activated = mx.sym.Activation(normalized, act_type="relu", name="relu1")
    pooled = mx.sym.Pooling(activated, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool1")
    flat = mx.sym.Flatten(pooled, name="flatten")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(flat, num_hidden=10, name="fc"), name="softmax")
