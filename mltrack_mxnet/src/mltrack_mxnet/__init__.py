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

For a training loop of your own, tell mltrack what the network cannot::

    mltrack_mxnet.set_training_facts(net, input_shapes=(32, 3, 224, 224), trainer=trainer, epochs=10)
    model = tracker.track_model(net, trained_on=train)
"""

from mltrack_mxnet.framework import supported_versions
from mltrack_mxnet.parameters import set_training_facts
from mltrack_mxnet.serialize import load_model

__version__ = "0.2.0"

__all__ = ["__version__", "load_model", "set_training_facts", "supported_versions"]
