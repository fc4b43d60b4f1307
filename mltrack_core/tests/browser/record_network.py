"""Records Gluon's resnet18_v1 (built from the model zoo's code, untrained) as a model in the store given.

Usage: ``python record_network.py STORE_URI TRAINING_SET_NAME`` prints the model's id. A network large enough
for the dashboard to collapse its layout by name prefix (the demo's networks have a handful of operators);
run as its own process because MXNet's import warns (deprecated numpy aliases) where the tests turn warnings
into errors.
"""

from __future__ import annotations

import os
import sys
import warnings


def main(store_uri: str, training_set: str) -> None:
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    warnings.simplefilter("ignore", DeprecationWarning)
    from mxnet.gluon.model_zoo import vision

    import mltrack_core as mt
    import mltrack_mxnet

    net = vision.get_model("resnet18_v1", pretrained=False)  # built, never run: its symbol is the layout
    mltrack_mxnet.set_training_facts(net, input_shapes=(1, 3, 224, 224))
    with mt.connect(store_uri) as tracker:
        dataset = tracker.find("dataset", name=training_set)[0]
        model = tracker.track_model(net, name="resnet18_v1 (untrained)", trained_on=dataset)
    print(model.id)


if __name__ == "__main__":
    main(*sys.argv[1:])
