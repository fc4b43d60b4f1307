"""MXNet's Gluon MNIST example (example/gluon/mnist/mnist.py), on scikit-learn's 8x8 digits: hybridized.

The network is an ``nn.HybridSequential``, hybridized: Gluon runs it as one cached
graph after its first call. No line of mltrack: ``mltrack run`` records the loop.
"""

import argparse
import os

os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")

import mxnet as mx
import numpy as np
from mxnet import autograd as ag
from mxnet import gluon
from mxnet.gluon import nn
from sklearn.datasets import load_digits

# Parse CLI arguments

parser = argparse.ArgumentParser(description="MXNet Gluon MNIST Example")
parser.add_argument("--batch-size", type=int, default=100, help="batch size for training and testing (default: 100)")
parser.add_argument("--epochs", type=int, default=3, help="number of epochs to train (default: 3)")
parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
parser.add_argument("--log-interval", type=int, default=5, help="Number of batches to wait before logging.")
opt = parser.parse_args()

mx.random.seed(42)
np.random.seed(42)

# define network

net = nn.HybridSequential()
with net.name_scope():
    net.add(nn.Dense(128, activation="relu"))
    net.add(nn.Dense(64, activation="relu"))
    net.add(nn.Dense(10))
net.hybridize()

# data


def transformer(data, label):
    data = data.reshape((-1,)).astype(np.float32) / 16
    return data, label


digits = load_digits()
images, labels = digits.images, digits.target.astype(np.float32)
train_data = gluon.data.DataLoader(
    gluon.data.ArrayDataset(images[:1400], labels[:1400]).transform(transformer),
    batch_size=opt.batch_size,
    shuffle=True,
    last_batch="discard",
)
val_data = gluon.data.DataLoader(
    gluon.data.ArrayDataset(images[1400:], labels[1400:]).transform(transformer),
    batch_size=opt.batch_size,
    shuffle=False,
)

# train


def test(ctx):
    metric = mx.metric.Accuracy()
    for data, label in val_data:
        data = data.as_in_context(ctx)
        label = label.as_in_context(ctx)
        output = net(data)
        metric.update([label], [output])

    return metric.get()


def train(epochs, ctx):
    # Collect all parameters from net and its children, then initialize them.
    net.initialize(mx.init.Xavier(magnitude=2.24), ctx=ctx)
    # Trainer is for updating parameters with gradient.
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": opt.lr, "momentum": opt.momentum})
    metric = mx.metric.Accuracy()
    loss = gluon.loss.SoftmaxCrossEntropyLoss()

    for epoch in range(epochs):
        # reset data iterator and metric at beginning of epoch.
        metric.reset()
        for i, (data, label) in enumerate(train_data):
            # Copy data to ctx if necessary
            data = data.as_in_context(ctx)
            label = label.as_in_context(ctx)
            # Start recording computation graph with record() section.
            # Recorded graphs can then be differentiated with backward.
            with ag.record():
                output = net(data)
                L = loss(output, label)
                L.backward()
            # take a gradient step with batch_size equal to data.shape[0]
            trainer.step(data.shape[0])
            # update metric at last.
            metric.update([label], [output])

            if i % opt.log_interval == 0 and i > 0:
                name, acc = metric.get()
                print(f"[Epoch {epoch} Batch {i}] Training: {name}={acc:f}")

        name, acc = metric.get()
        print(f"[Epoch {epoch}] Training: {name}={acc:f}")

        name, val_acc = test(ctx)
        print(f"[Epoch {epoch}] Validation: {name}={val_acc:f}")

    net.save_parameters("mnist.params")


if __name__ == "__main__":
    train(opt.epochs, mx.cpu())
