"""Speed of mltrack-mxnet: layout-and-shape extraction, and what the fit callbacks cost per batch.

Prints figures and ratios measured within this run; asserts nothing. Run in
the MXNet environment: ``nox -s benchmarks_mxnet`` (or ``python benchmarks/mxnet_bench.py``).

1. resnet50_v1 from the Gluon model zoo (built, never run): the network
   layout with inferred shapes (symbol, ``tojson``, ``infer_shape_partial``,
   one Transform per operator), then the whole ``tracker.track_model`` into
   an in-memory and an SQLite store.
2. ``Module.fit`` on the 8x8 digits, untracked and with the run's three
   callbacks (into an SQLite store, written by the background thread),
   alternating, medians of several fits; the difference per batch and the ratio.
   A fit with no-op callbacks shows what MXNet itself spends on callbacks.
3. A Gluon training loop (``DataLoader``, ``autograd.record``, ``trainer.step``,
   ``metric.update``) on the same data, with automatic tracking (what ``mltrack
   run`` does) off and on, alternating, for a hybridized and a plain network:
   the ratio and the cost per step (``--only gluon`` runs this one alone).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mxnet(\.|$)")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet.gluon.model_zoo import vision  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import mltrack_core as mt  # noqa: E402
import mltrack_mxnet  # noqa: E402
from mltrack_mxnet.dag import network_layout  # noqa: E402
from mltrack_mxnet.extract import network_of  # noqa: E402


def median_seconds(action, repeat: int) -> float:
    action()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def layout_figures(repeat: int, folder: Path) -> None:
    net = vision.get_model("resnet50_v1", pretrained=False)
    mltrack_mxnet.set_training_facts(net, input_shapes=(32, 3, 224, 224))

    def extract() -> None:
        network = network_of(net)
        network_layout(network.symbol, network.input_names, network.input_shapes, known_shapes=network.known_shapes)

    network = network_of(net)
    layout = network_layout(network.symbol, network.input_names, network.input_shapes)
    print(
        f"resnet50_v1: {len(layout.transforms)} operators, {layout.parameter_count:,} parameters "
        f"+ {layout.auxiliary_state_count:,} auxiliary states, batch 32"
    )
    seconds = median_seconds(extract, repeat)
    print(f"  layout and shapes (symbol, tojson, infer_shape_partial, transforms): {seconds * 1e3:8.1f} ms")
    for uri in ("memory://", f"sqlite:///{folder / 'layout.db'}"):
        with mt.connect(uri, artifacts=folder / "artifacts") as tracker:
            dataset = tracker.track_dataset(name="imagenet", fingerprint="sha256:benchmark")
            seconds = median_seconds(lambda: tracker.track_model(net, trained_on=dataset), repeat)  # noqa: B023
            scheme = uri.partition("://")[0]
            print(f"  tracker.track_model into {scheme:<7} (all of it, stored):{' ' * 13}{seconds * 1e3:8.1f} ms")


def mlp() -> mx.sym.Symbol:
    data = mx.sym.var("data")
    hidden = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=64, name="fc1"), act_type="relu", name="relu1")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(hidden, num_hidden=10, name="fc2"), name="softmax")


def callback_figures(rounds: int, epochs: int, batch_size: int, folder: Path) -> None:
    digits = load_digits()
    features = (digits.data / 16.0).astype("float32")
    labels = digits.target.astype("float32")
    train = mx.io.NDArrayIter(features[:1500], labels[:1500], batch_size=batch_size, label_name="softmax_label")
    validation = mx.io.NDArrayIter(features[1500:], labels[1500:], batch_size=batch_size, label_name="softmax_label")
    batches = -(-1500 // batch_size)

    def fit(callbacks: dict) -> float:
        module = mx.mod.Module(mlp(), context=mx.cpu())
        started = time.perf_counter()
        module.fit(train, eval_data=validation, num_epoch=epochs, optimizer_params={"learning_rate": 0.1}, **callbacks)
        return time.perf_counter() - started

    def no_op(*args: object) -> None:
        return None

    times: dict[str, list[float]] = {"untracked": [], "no-op callbacks": [], "tracked": []}
    with mt.connect(f"sqlite:///{folder / 'runs.db'}", artifacts=folder / "artifacts") as tracker:
        fit({})  # warm-up
        for _ in range(rounds):
            times["untracked"].append(fit({}))
            times["no-op callbacks"].append(
                fit({"batch_end_callback": no_op, "epoch_end_callback": no_op, "eval_end_callback": no_op})
            )
            module = mx.mod.Module(mlp(), context=mx.cpu())
            run = tracker.track_training(module)
            started = time.perf_counter()
            module.fit(
                train,
                eval_data=validation,
                num_epoch=epochs,
                optimizer_params={"learning_rate": 0.1},
                batch_end_callback=run.batch_callback(),
                epoch_end_callback=run.epoch_callback(),
                eval_end_callback=run.eval_callback(),
            )
            times["tracked"].append(time.perf_counter() - started)
            run.finish()
        points = len(tracker.points(run.id))

    medians = {name: statistics.median(values) for name, values in times.items()}
    total_batches = batches * epochs
    print(
        f"Module.fit, 8x8 digits MLP, {epochs} epochs x {batches} batches of {batch_size}, "
        f"medians of {rounds} alternating fits ({points} points per tracked fit):"
    )
    for name, seconds in medians.items():
        print(f"  {name:<16} {seconds * 1e3:8.1f} ms per fit   {seconds / total_batches * 1e6:8.1f} µs per batch")
    extra = (medians["tracked"] - medians["untracked"]) / total_batches
    mxnet_own = (medians["no-op callbacks"] - medians["untracked"]) / total_batches
    print(f"  tracked / untracked: {medians['tracked'] / medians['untracked']:.3f}")
    print(f"  tracking adds {extra * 1e6:.1f} µs per batch ({mxnet_own * 1e6:.1f} µs with no-op callbacks)")

    metric = mx.metric.Accuracy()
    metric.update([mx.nd.array(labels[:batch_size])], [mx.nd.one_hot(mx.nd.array(labels[:batch_size]), 10)])
    with mt.connect(f"sqlite:///{folder / 'calls.db'}", artifacts=folder / "artifacts") as tracker:
        run = tracker.track_training(mx.mod.Module(mlp(), context=mx.cpu()))
        callback = run.batch_callback()
        calls = 20_000
        fit_locals = {"end_of_batch": False}
        started = time.perf_counter()
        for nbatch in range(calls):
            callback(mx.model.BatchEndParam(epoch=0, nbatch=nbatch + 1, eval_metric=metric, locals=fit_locals))
        seconds = (time.perf_counter() - started) / calls
        run.finish()
    print(f"  one batch_callback call on its own (metric read + run.log): {seconds * 1e6:.1f} µs")


def gluon_loop_figures(rounds: int, epochs: int, batch_size: int, folder: Path) -> None:
    """A Gluon training loop on the 8x8 digits with automatic tracking (``mltrack run``) on and off, alternating.

    Two loops: the usual one over a ``DataLoader`` (its batching is most of a
    step's time), and the tightest one, over batches made beforehand, where the
    patched calls' own cost shows. Times are CPU times of the whole process
    (MXNet's engine threads included), steadier than wall time on a shared machine.
    """
    from mxnet import autograd, gluon

    from mltrack_mxnet import autolog as mxnet_autolog

    digits = load_digits()
    features = mx.nd.array((digits.data[:1500] / 16.0).astype("float32"))
    labels = mx.nd.array(digits.target[:1500].astype("float32"))
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(features, labels), batch_size=batch_size, shuffle=True)
    batches = [
        (features[start : start + batch_size], labels[start : start + batch_size])
        for start in range(0, 1500, batch_size)
    ]

    def train(data_source: object, hybrid: bool) -> float:
        net = gluon.nn.HybridSequential() if hybrid else gluon.nn.Sequential()
        net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(10))
        net.initialize(mx.init.Xavier())
        if hybrid:
            net.hybridize()
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
        loss_function = gluon.loss.SoftmaxCrossEntropyLoss()
        metric = mx.metric.Accuracy()
        started = time.process_time()
        for _ in range(epochs):
            metric.reset()
            for data, label in data_source:
                with autograd.record():
                    output = net(data)
                    loss = loss_function(output, label)
                loss.backward()
                trainer.step(data.shape[0])
                metric.update([label], [output])
            metric.get()
        mx.nd.waitall()
        return time.process_time() - started

    with mt.connect(f"sqlite:///{folder / 'gluon.db'}", artifacts=folder / "artifacts") as tracker:
        for source_name, data_source in (("DataLoader", loader), ("batches made beforehand", batches)):
            for hybrid in (True, False):
                steps = len(data_source) * epochs
                times: dict[str, list[float]] = {"untracked": [], "tracked": []}
                train(data_source, hybrid)  # warm-up
                for round_number in range(rounds):
                    for tracked in (False, True) if round_number % 2 == 0 else (True, False):
                        if tracked:
                            mxnet_autolog(tracker=tracker)
                        times["tracked" if tracked else "untracked"].append(train(data_source, hybrid))
                        mxnet_autolog(disable=True)  # ends the loop: its model is recorded (not timed)
                tracker.flush()
                medians = {name: statistics.median(values) for name, values in times.items()}
                ratio = statistics.median(a / b for a, b in zip(times["tracked"], times["untracked"], strict=True))
                extra = (ratio - 1) * medians["untracked"] / steps
                kind = "HybridSequential, hybridized" if hybrid else "Sequential (plain Block)"
                print(
                    f"Gluon loop over {source_name}, {kind}, 8x8 digits MLP, {epochs} epochs x {steps // epochs} "
                    f"steps of {batch_size}, medians of {rounds} alternating loops (CPU time):"
                )
                for name, seconds in medians.items():
                    print(f"  {name:<16} {seconds * 1e3:8.1f} ms per loop   {seconds / steps * 1e6:8.1f} µs per step")
                print(
                    f"  tracked / untracked (autolog, trainer.step loop), median of the rounds' ratios: {ratio:.3f} "
                    f"({extra * 1e6:+.1f} µs per step, the loop's start included)"
                )
        print(f"  runs recorded: {len(tracker.find('run'))}, each with its model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="repetitions of the layout extraction")
    parser.add_argument("--rounds", type=int, default=15, help="fits of each kind")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--only", choices=("layout", "callbacks", "gluon"), help="run one of the benchmarks")
    arguments = parser.parse_args()
    print(f"mxnet {mx.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="mltrack-mxnet-bench-") as folder:
        if arguments.only in (None, "layout"):
            layout_figures(arguments.repeat, Path(folder))
        if arguments.only in (None, "callbacks"):
            callback_figures(arguments.rounds, arguments.epochs, arguments.batch_size, Path(folder))
        if arguments.only in (None, "gluon"):
            gluon_loop_figures(arguments.rounds, arguments.epochs, arguments.batch_size, Path(folder))


if __name__ == "__main__":
    main()
