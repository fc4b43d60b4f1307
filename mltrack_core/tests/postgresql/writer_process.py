"""A writer in its own process, for the concurrency tests: ``python writer_process.py URI MODE WORKER``.

It opens the store, prints "ready", waits for a line on stdin (so that all
writers start together), does its part and prints one JSON line with what
happened.
"""

from __future__ import annotations

import json
import sys

import mltrack_core as mt
from mltrack_core import ConflictError, Dataset


def write_models_and_a_run(tracker: mt.Tracker, worker: int) -> dict[str, object]:
    """Everyone tracks one identical dataset, then models and a run of its own."""
    shared = tracker.track_dataset(Dataset(id="ds-shared", name="shared", fingerprint="sha256:shared"))
    models = [
        tracker.track_model(name=f"m{worker}-{index}", learning_algorithm="lr", trained_on=shared).id
        for index in range(30)
    ]
    run = tracker.track_training(name=f"fit {worker}", trained_on=shared)
    for step in range(300):
        run.log("loss", 1.0 / (step + 1), step=step)
    run.finish()
    return {"models": models, "run": run.id}


def claim_one_id(tracker: mt.Tracker, worker: int) -> dict[str, object]:
    """Everyone tracks the same id with different content: one may win."""
    try:
        tracker.track_dataset(Dataset(id="ds-contested", name=f"written by {worker}"))
    except ConflictError as exc:
        return {"won": False, "error": str(exc)}
    return {"won": True}


def open_only(tracker: mt.Tracker, worker: int) -> dict[str, object]:
    """Opening the store (creating its tables) was the point; write one dataset to prove it works."""
    return {"dataset": tracker.track_dataset(name=f"opened by {worker}").id}


MODES = {"models": write_models_and_a_run, "claim": claim_one_id, "open": open_only}


def main() -> None:
    uri, mode, worker = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    with mt.connect(uri, creator="writer") as tracker:
        result = MODES[mode](tracker, worker)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
