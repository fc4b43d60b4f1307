"""mltrack for Apache MXNet: live training runs, network layouts with shapes, optimizer settings.

Install ``mltrack-mxnet[instruments]`` (MXNet 1.9.1, the last release, with
numpy<1.24, so Python <= 3.11); :func:`supported_versions` is the MXNet range
it installs. The plugin registers itself with mltrack; nothing needs to be
imported or patched, and importing this package does not import MXNet.

Module training (the paper's Figure 3)::

    import mltrack_core as mt

    tracker = mt.connect()
    mod = mx.mod.Module(symbol=mlp, context=mx.cpu())
    run = tracker.track_training(mod, trained_on=train)     # a live TrainingRun
    mod.fit(train_iter, eval_data=val_iter, optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9}, num_epoch=10,
            batch_end_callback=run.batch_callback(),       # training metrics as they move
            epoch_end_callback=run.epoch_callback(),       # learning rate per epoch
            eval_end_callback=run.eval_callback())         # validation metrics per epoch
    model = tracker.track_model(mod, name="mlp", trained_on=train, serialize=True)  # finishes the run
    tracker.track_evaluation(mod.score(test_iter, "acc"), computed_by=model, on_dataset=test)

The callbacks only append to the run's queue (the tracker's background thread
writes), and never raise into MXNet's loop: a failure becomes one
``TrackingWarning`` per kind. Metrics are named ``train-<metric>`` and
``validation-<metric>``; a point with an epoch and no step is the epoch's
value, exactly what ``fit`` logs as ``Epoch[k] Train-accuracy=...``.
``run.batch_callback(frequent=n)`` logs the running value every n batches.

What the model records:

* the network layout: one ``Transform`` per operator of the symbol (op, name,
  MXNet's attributes as parameters, the transforms it consumes), with its
  ``output_shape``, the shape of each of its parameters (``<name>.shape``) and
  its ``parameter_count``, as ``infer_shape`` gives them for the training data
  shape (batch first);
* the learning algorithm: the optimizer class and settings
  (``optimizer.learning_rate`` is the initial rate, ``optimizer.wd``,
  ``optimizer.momentum``, ``optimizer.rescale_grad``, ``optimizer.clip_gradient``,
  ...), the learning-rate scheduler's settings (``lr_scheduler.*``), the
  initializer (``initializer``, ``initializer.*``), ``epochs``, ``batch_size``,
  ``input_shape.<input>``, ``eval_metric``, ``context``, and the network's
  ``network.parameter_count`` and ``network.auxiliary_state_count``; each with
  MXNet's default where there is one;
* the environment, with the MXNet version, its build features and the number of GPUs;
* with ``serialize=True``, a checkpoint (symbol JSON and parameters, in one zip)
  in the artifact store; :func:`load_model` reads it back as ``(symbol, arg_params, aux_params)``.

Gluon: a ``HybridBlock`` (for example ``mxnet.gluon.model_zoo.vision``
networks) gives the same layout and shapes, a ``gluon.Trainer`` the optimizer.
With the Gluon estimator, the run offers an event handler and the estimator
is the model::

    run = tracker.track_training(estimator)
    estimator.fit(train_loader, val_data=val_loader, epochs=10, event_handlers=[run.event_handler()])
    model = tracker.track_model(estimator, trained_on=train)

A training loop of your own, with a plain ``Block`` (the Gluon MNIST
example's ``nn.Sequential``) or a ``HybridBlock``::

    train = tracker.track_dataset(train_loader)     # a DataLoader, Dataset, NDArrayIter or ImageRecordIter
    run = tracker.track_training(net, trained_on=train)   # refuses, now, what cannot be described
    for data, label in train_loader:
        ...                                          # the first forward pass gives the shapes
    model = tracker.track_model(net, trained_on=train)
    tracker.track_evaluation(metric.get(), computed_by=model, on_dataset=test)   # ("accuracy", 0.97)

A plain ``Block``'s layout is one transform per layer (class, name, settings,
parameter shapes and counts, output shape); a ``Sequential``'s layers are
linked in order, those of a block with a ``forward`` of its own are listed in
registration order and say (``mxnet.data_flow``) that the flow is not known.
Datasets record their sample count, the shapes of a sample and of a batch,
a content fingerprint of in-memory arrays (the ``.rec`` file as location for
``ImageRecordIter``), the label as target and the batch size. The input
shapes come from the first forward pass after ``track_training``, from
Gluon's graph inputs (a hybridized ``LSTM``'s ``data0..2``) or from the batch
shape of the dataset the model was ``trained_on``; the batch size is read on
the layout's ``N`` axis (``TNC``: the second). Only where none of these tells
the shapes, state them::

    mltrack_mxnet.set_training_facts(net, input_shapes=(32, 3, 224, 224), trainer=trainer, epochs=10)
    model = tracker.track_model(net, trained_on=train)

With no added line (``mltrack run python train.py``, or :func:`autolog` /
``mltrack_core.autolog()`` in the program), both are recorded on their own
(see :mod:`mltrack_mxnet.autolog`): ``Module.fit`` exactly as the form above
records it (the iterator as the dataset, the callbacks added after the
program's own, the module as the model, ``kvstore`` as the store's type), and
each Gluon training loop, from the first ``trainer.step`` of its trainer: the
network called at top level that holds the trainer's parameters, the
``DataLoader`` iterated then as its data and its passes as epochs,
``train-loss`` per step and epoch, the values the program reads with
``metric.get()`` (``train-`` or ``validation-``), and, when the loop ends (at
exit, when another trainer's loop takes over, or ``autolog(disable=True)``),
the model with its layout and the run's hyperparameters: the optimizer as it
trained (``rescale_grad`` = the trainer's scale / batch size), initializer,
epochs, batch size, loss, kvstore. A program that dies of an exception leaves
the run FAILED. Training the program tracks itself is left to its own run.
"""

# autolog is imported at once (it imports no MXNet): so ``mltrack_mxnet.autolog`` is the function,
# and the module stays importable as ``mltrack_mxnet.autolog`` through sys.modules.
from mltrack_mxnet.autolog import autolog
from mltrack_mxnet.framework import supported_versions
from mltrack_mxnet.parameters import set_training_facts
from mltrack_mxnet.serialize import load_model

__version__ = "0.2.0"

__all__ = ["__version__", "autolog", "load_model", "set_training_facts", "supported_versions"]
