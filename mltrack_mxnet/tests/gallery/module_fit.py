"""MXNet's image-classification example (train_mnist.py through common/fit.py), on scikit-learn's 8x8 digits.

``fit`` is the shape of ``common/fit.py``: it builds the kvstore, the learning
rate scheduler, the initializer and the callbacks from the arguments and calls
``model.fit``. No line of mltrack: ``mltrack run`` records the fit.
"""

import argparse
import logging
import os

os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")

import mxnet as mx
import numpy as np
from sklearn.datasets import load_digits

# ---------------------------------------------------------------- common/fit.py


def add_fit_args(parser):
    train = parser.add_argument_group("Training", "model training")
    train.add_argument("--network", type=str, default="mlp", help="the neural network to use")
    train.add_argument("--kv-store", type=str, default="device", help="key-value store type")
    train.add_argument("--num-epochs", type=int, default=3, help="max num of epochs")
    train.add_argument("--lr", type=float, default=0.1, help="initial learning rate")
    train.add_argument("--lr-factor", type=float, default=0.1, help="the ratio to reduce lr on each step")
    train.add_argument("--lr-step-epochs", type=str, default="2", help="the epochs to reduce the lr, e.g. 30,60")
    train.add_argument("--optimizer", type=str, default="sgd", help="the optimizer type")
    train.add_argument("--mom", type=float, default=0.9, help="momentum for sgd")
    train.add_argument("--wd", type=float, default=0.0001, help="weight decay for sgd")
    train.add_argument("--batch-size", type=int, default=64, help="the batch size")
    train.add_argument("--disp-batches", type=int, default=10, help="show progress for every n batches")
    train.add_argument("--top-k", type=int, default=0, help="report the top-k accuracy. 0 means no report.")
    return train


def _get_lr_scheduler(args, kv):
    if "lr_factor" not in args or args.lr_factor >= 1:
        return (args.lr, None)
    epoch_size = args.num_examples / args.batch_size
    if "dist" in args.kv_store:
        epoch_size /= kv.num_workers
    begin_epoch = 0
    step_epochs = [int(step) for step in args.lr_step_epochs.split(",")]
    lr = args.lr
    for step in step_epochs:
        if begin_epoch >= step:
            lr *= args.lr_factor
    if lr != args.lr:
        logging.info("Adjust learning rate to %e for epoch %d", lr, begin_epoch)
    steps = [int(epoch_size * (x - begin_epoch)) for x in step_epochs if x - begin_epoch > 0]
    return (lr, mx.lr_scheduler.MultiFactorScheduler(step=steps, factor=args.lr_factor))


def fit(args, network, data_loader):
    """Train a model; args: from add_fit_args, network: the symbol, data_loader: returns (train, val) iterators."""
    # kvstore
    kv = mx.kvstore.create(args.kv_store)

    # logging
    head = "%(asctime)-15s Node[" + str(kv.rank) + "] %(message)s"
    logging.basicConfig(level=logging.DEBUG, format=head)
    logging.info("start with arguments %s", args)

    # data iterators
    (train, val) = data_loader(args, kv)

    # devices for training
    devs = mx.cpu()

    # learning rate
    lr, lr_scheduler = _get_lr_scheduler(args, kv)

    # create model
    model = mx.mod.Module(context=devs, symbol=network)

    optimizer_params = {"learning_rate": lr, "wd": args.wd, "lr_scheduler": lr_scheduler, "multi_precision": True}
    # Only a limited number of optimizers have 'momentum' property
    if args.optimizer in {"sgd", "dcasgd", "nag"}:
        optimizer_params["momentum"] = args.mom

    initializer = mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2)

    # evaluation metrices
    eval_metrics = ["accuracy"]
    if args.top_k > 0:
        eval_metrics.append(mx.metric.create("top_k_accuracy", top_k=args.top_k))

    # callbacks that run after each batch
    batch_end_callbacks = [mx.callback.Speedometer(args.batch_size, args.disp_batches)]

    # run
    model.fit(
        train,
        begin_epoch=0,
        num_epoch=args.num_epochs,
        eval_data=val,
        eval_metric=eval_metrics,
        kvstore=kv,
        optimizer=args.optimizer,
        optimizer_params=optimizer_params,
        initializer=initializer,
        arg_params=None,
        aux_params=None,
        batch_end_callback=batch_end_callbacks,
        epoch_end_callback=None,  # no checkpoints (common/fit.py's do_checkpoint with no model prefix)
        allow_missing=True,
        monitor=None,
    )
    return model


# ---------------------------------------------------------------- train_mnist.py


def get_mnist_iter(args, kv):
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32).reshape((-1, 1, 8, 8))
    labels = digits.target.astype(np.float32)
    train = mx.io.NDArrayIter(images[:1400], labels[:1400], args.batch_size, shuffle=True)
    val = mx.io.NDArrayIter(images[1400:], labels[1400:], args.batch_size)
    return (train, val)


def get_symbol(num_classes=10):
    data = mx.symbol.Variable("data")
    data = mx.sym.Flatten(data=data)
    fc1 = mx.symbol.FullyConnected(data=data, name="fc1", num_hidden=128)
    act1 = mx.symbol.Activation(data=fc1, name="relu1", act_type="relu")
    fc2 = mx.symbol.FullyConnected(data=act1, name="fc2", num_hidden=64)
    act2 = mx.symbol.Activation(data=fc2, name="relu2", act_type="relu")
    fc3 = mx.symbol.FullyConnected(data=act2, name="fc3", num_hidden=num_classes)
    return mx.symbol.SoftmaxOutput(data=fc3, name="softmax")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="train mnist", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--num-classes", type=int, default=10, help="the number of classes")
    parser.add_argument("--num-examples", type=int, default=1400, help="the number of training examples")
    add_fit_args(parser)
    args = parser.parse_args()

    mx.random.seed(42)
    np.random.seed(42)
    model = fit(args, get_symbol(args.num_classes), get_mnist_iter)
    _, val = get_mnist_iter(args, None)
    for name, value in model.score(val, ["accuracy"]):
        print(f"validation {name}={value:f}")
