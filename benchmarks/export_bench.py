"""Speed of the exports for lineage tools: OpenLineage (to a file and to an HTTP server) and W3C PROV.

Prints figures; asserts nothing (the machine is shared and noisy).

The store: one dataset of 20 typed columns, and N models, each with a two-step transform DAG (column lineage),
a finished training run, a prediction and an evaluation computed from it (5 N + 1 entities).

1. ``export_openlineage`` to a file (one JSON event per line) and to a local HTTP server (a thread of this
   process that accepts every event, as a lineage server would): events per second.
2. ``prov_document`` (building the PROV graph) and each serialization: PROV-JSON, PROV-N, PROV-XML, PROV-O (Turtle).

Run: ``python benchmarks/export_bench.py [--models N]`` from the repository root (needs
``mltrack-core[openlineage,prov]``).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mltrack_core as mt
from mltrack_core.exporters.openlineage import export_openlineage
from mltrack_core.exporters.prov import prov_document
from mltrack_core.schema import (
    Dataset,
    Evaluation,
    Model,
    Prediction,
    Score,
    TrainingRun,
    TrainingState,
    Transform,
    TypedColumn,
    TypeHint,
)


class _AcceptingServer(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # http.server's name for the POST handler
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *arguments: Any) -> None:
        pass


def fill(tracker: mt.Tracker, models: int) -> None:
    """One dataset, then ``models`` models with their transforms, runs, predictions and evaluations."""
    columns = tuple(TypedColumn(name=f"c{index}", typing=TypeHint.DOUBLE) for index in range(20))
    data = Dataset(name="data", location="s3://bucket/data.csv", fingerprint="sha256:00", schema=columns)
    batch: list[Any] = [data]
    for index in range(models):
        experiment = f"experiment {index % 10}"
        scale = Transform(
            name="scale",
            operator="StandardScaler",
            input=columns,
            output=columns,
            column_lineage={column.name: (column.name,) for column in columns},
        )
        learner = Transform(name="learner", operator="Ridge", input=columns, input_transforms=(scale.id,))
        model = Model(
            name=f"model {index}",
            learning_algorithm="Ridge",
            trained_on=data.id,
            transforms=(scale.id, learner.id),
            experiment=experiment,
        )
        run = TrainingRun(
            name=f"run {index}",
            state=TrainingState.FINISHED,
            start_time=1_700_000_000_000,
            end_time=1_700_000_060_000,
            trained_on=data.id,
            for_model=model.id,
            experiment=experiment,
        )
        prediction = Prediction(computed_by=model.id, on_dataset=data.id, experiment=experiment)
        evaluation = Evaluation(
            computed_by=model.id,
            on_dataset=data.id,
            for_prediction=prediction.id,
            scores=(Score(metric="r2", value=0.5),),
            experiment=experiment,
        )
        batch += [scale, learner, model, run, prediction, evaluation]
    tracker.write(batch)


def openlineage_figures(uri: str, folder: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcceptingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        targets = {"file": str(folder / "events.jsonl"), "HTTP": f"http://127.0.0.1:{server.server_address[1]}"}
        for label, target in targets.items():
            with mt.connect(uri) as tracker:
                started = time.perf_counter()
                summary = export_openlineage(tracker, target)
                took = time.perf_counter() - started
            rate = summary.events / took
            print(f"  OpenLineage to {label:4s}: {summary.events:,} events in {took:.2f} s = {rate:,.0f}/s")
    finally:
        server.shutdown()
        server.server_close()


def prov_figures(uri: str) -> None:
    with mt.connect(uri) as tracker:
        started = time.perf_counter()
        document = prov_document(tracker)
        took = time.perf_counter() - started
    print(f"  PROV document: {len(document.get_records()):,} records built in {took:.2f} s")
    for label, options in (("PROV-JSON", {"format": "json"}), ("PROV-N", {"format": "provn"})):
        _serialize(document, label, options)
    _serialize(document, "PROV-XML", {"format": "xml"})
    with warnings.catch_warnings():  # rdflib's own deprecation warnings, raised inside prov's RDF serializer
        warnings.simplefilter("ignore")
        _serialize(document, "PROV-O (Turtle)", {"format": "rdf", "rdf_format": "turtle"})


def _serialize(document: Any, label: str, options: dict[str, str]) -> None:
    started = time.perf_counter()
    text = document.serialize(**options)
    took = time.perf_counter() - started
    print(f"    {label:16s} {took:6.2f} s  {len(text) / 1e6:5.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1_000, help="models in the store (5 entities each)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        uri = f"sqlite:///{folder / 'store.db'}"
        with mt.connect(uri) as tracker:
            fill(tracker, options.models)
            entities = tracker.count()
        print(f"exports of a store of {entities:,} entities ({options.models:,} models, each trained and evaluated)")
        openlineage_figures(uri, folder)
        prov_figures(uri)


if __name__ == "__main__":
    main()
