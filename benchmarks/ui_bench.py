"""Speed of the dashboard (``mltrack ui`` over SQLite). Prints figures; asserts nothing (the machine is shared).

One store holds everything measured (generated in bulk through the tracker's and the store's API):

1. Training runs of 1,000, 100,000 and 1,000,000 points (one metric, ended): the run page's time to first byte
   and time until its chart is drawn in headless Chromium (navigation start until chart.js marks the chart
   ``data-drawn``), cold (the first request for the run since its server started, the browser's cache empty)
   and warm (medians of later opens); then the ratio of the 1M-point run to the 1k-point one.
2. The runs table (``/ui/``) with 100,000 training runs in the store (each with a model, hyperparameters, tags and
   a few points): time to first byte and until the page is drawn (its ``load`` event), also sorted by name
   and with a metric column.
3. The model page of a ResNet-shaped network layout: the operators of Gluon's resnet50_v1 (174) and of a
   resnet101 (344), with MXNet's names, operator types, output shapes and input transforms: until the graph
   is drawn (graph.js marks it ``data-drawn``).
4. The lineage page of an evaluation whose upstream is 5 steps deep.

Run: ``nox -s benchmarks`` or ``python benchmarks/ui_bench.py [--store PATH] [--repeat N]``. A store built
once is reused when ``--store`` names an existing file (its ids are kept beside it in PATH.json).
Needs Debian's chromium (``$MLTRACK_CHROMIUM`` names another executable) and ``pip install playwright``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mltrack_core as mt
from mltrack_core.schema import now_ms
from mltrack_core.store import record_of

CHROMIUM = os.environ.get("MLTRACK_CHROMIUM", "/usr/bin/chromium")
RUN_SIZES = (1_000, 100_000, 1_000_000)
TABLE_RUNS = 100_000
POINTS_PER_TABLE_RUN = 10
LINEAGE_DEPTH = 5
APPEND_BATCH = 50_000
PUT_BATCH = 2_000
_LISTENING = re.compile(r"(http://[\d.]+:\d+)/ui/")


# ---------------------------------------------------------------- the store


def build_store(uri: str, say: Callable[[str], None]) -> dict[str, Any]:
    """Write everything the benchmark opens; the ids of what it opens."""
    ids: dict[str, Any] = {}
    with mt.connect(uri) as tracker:
        data = _lineage_chain(tracker, LINEAGE_DEPTH)
        ids["lineage"] = data["evaluation"]
        train = data["train"]
        started = time.perf_counter()
        ids["runs"] = {str(size): _long_run(tracker, train, size) for size in RUN_SIZES}
        say(f"runs of {', '.join(f'{size:,}' for size in RUN_SIZES)} points written in {_since(started)}")
        started = time.perf_counter()
        ids["models"] = {
            "resnet50_v1": _network_model(tracker, train, "resnetv10", (3, 4, 6, 3)),
            "resnet101_v1": _network_model(tracker, train, "resnetv11", (3, 4, 23, 3)),
        }
        say(f"network layouts written in {_since(started)}")
        started = time.perf_counter()
        _table_runs(tracker, train, TABLE_RUNS)
        say(f"{TABLE_RUNS:,} training runs (with their models) written in {_since(started)}")
    return ids


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


def _lineage_chain(tracker: mt.Tracker, depth: int) -> dict[str, str]:
    """An evaluation whose upstream is ``depth`` (5) steps deep, and the training set of its model.

    raw -> cleaned -> deduplicated -> features -> train and test; a model trained on train; its evaluation on test.
    """
    schema = [mt.TypedColumn(name=f"x{index}", typing=mt.TypeHint.DOUBLE) for index in range(8)]
    previous = None
    for step in ("raw", "cleaned", "deduplicated", "features"):
        previous = tracker.track_dataset(
            name=f"sensor readings ({step})",
            location=f"file:///data/{step}.parquet",
            fingerprint=f"sha256:{step}",
            schema=schema,
            target="x0",
            derived_from=[previous] if previous else [],
            derivation=step,
        )
    train, test = (
        tracker.track_dataset(
            name=f"sensor readings ({part})",
            location=f"file:///data/{part}.parquet",
            fingerprint=f"sha256:{part}",
            schema=schema,
            target="x0",
            derived_from=[previous],
            derivation=f"{part} split",
        )
        for part in ("train", "test")
    )
    scaler = tracker.track_transform(name="scale", operator="StandardScaler", input=schema, output=schema)
    model = tracker.track_model(
        name="sensor model", learning_algorithm="Ridge", trained_on=train, transforms=[scaler], framework="python"
    )
    evaluation = tracker.track_evaluation({"rmse": 0.42}, computed_by=model, on_dataset=test, procedure="holdout")
    found = tracker.lineage(evaluation.id, depth=depth)
    assert max(found.depth_of.values()) == depth, found.depth_of
    return {"evaluation": evaluation.id, "train": train.id}


def _long_run(tracker: mt.Tracker, train: str, size: int) -> str:
    """A run that trained for ``size`` steps (a noisy decaying loss with a few spikes), appended in batches."""
    generator = random.Random(size)
    run = tracker.track_training(name=f"long run ({size:,} points)", trained_on=train)
    started_ms = now_ms()
    batch = []
    for step in range(size):
        loss = 2.0 * math.exp(-step / (size / 5)) + 0.05 * generator.random()
        if generator.random() < 20 / size:
            loss += 1.5  # a spike the downsampling must keep
        batch.append((run.id, "loss", loss, step * 10 // size, step, started_ms + step))
        if len(batch) == APPEND_BATCH:
            tracker.store.append_points(batch)
            batch = []
    if batch:
        tracker.store.append_points(batch)
    run.finish()
    return run.id


def _network_model(tracker: mt.Tracker, train: str, prefix: str, blocks: tuple[int, ...]) -> str:
    """The operators of a Gluon ResNet v1 with bottleneck blocks, as mltrack-mxnet records them (batch of 32)."""
    transforms: list[mt.Transform] = []

    def add(name: str, operator: str, shape: tuple[int, ...], *upstream: mt.Transform) -> mt.Transform:
        consumed = [f"{source.name}_output" for source in upstream] or ["data"]
        transform = mt.Transform(
            name=name,
            operator=operator,
            framework="mxnet",
            parameters=[mt.Parameter(name="output_shape", value=(32, *shape))],
            input=[mt.TypedColumn(name=column) for column in consumed],
            output=[mt.TypedColumn(name=f"{name}_output")],
            input_transforms=[source.id for source in upstream],
        )
        transforms.append(transform)
        return transform

    def conv_bn(stage: str, index: int, channels: int, size: int, source: mt.Transform) -> mt.Transform:
        convolved = add(f"{stage}_conv{index}_fwd", "Convolution", (channels, size, size), source)
        return add(f"{stage}_batchnorm{index}_fwd", "BatchNorm", (channels, size, size), convolved)

    current = add(f"{prefix}_conv0_fwd", "Convolution", (64, 112, 112))
    current = add(f"{prefix}_batchnorm0_fwd", "BatchNorm", (64, 112, 112), current)
    current = add(f"{prefix}_relu0_fwd", "Activation", (64, 112, 112), current)
    current = add(f"{prefix}_pool0_fwd", "Pooling", (64, 56, 56), current)
    size = 56
    for number, count in enumerate(blocks, start=1):
        stage, width = f"{prefix}_stage{number}", 64 * 2 ** (number - 1)
        size = size if number == 1 else size // 2
        conv = relu = 0
        for block in range(count):
            shortcut = current
            for channels in (width, width):
                current = conv_bn(stage, conv, channels, size, current)
                current = add(f"{stage}_relu{relu}_fwd", "Activation", (channels, size, size), current)
                conv, relu = conv + 1, relu + 1
            current = conv_bn(stage, conv, width * 4, size, current)
            conv += 1
            if block == 0:
                shortcut = conv_bn(stage, conv, width * 4, size, shortcut)
                conv += 1
            current = add(f"{stage}__plus{block}", "elemwise_add", (width * 4, size, size), current, shortcut)
            current = add(f"{stage}_activation{block}", "Activation", (width * 4, size, size), current)
    current = add(f"{prefix}_pool1_fwd", "Pooling", (2048, 1, 1), current)
    add(f"{prefix}_dense0_fwd", "FullyConnected", (1000,), current)
    tracker.store.put([record_of(transform) for transform in transforms])
    model = tracker.track_model(
        name=f"{prefix} ({len(transforms)} operators)",
        learning_algorithm="HybridSequential",
        framework="mxnet",
        trained_on=train,
        transforms=[transform.id for transform in transforms],
    )
    return model.id


def _table_runs(tracker: mt.Tracker, train: str, count: int) -> None:
    """``count`` ended training runs in 20 experiments, each with its model, tags and a short loss history."""
    generator = random.Random(7)
    start = now_ms() - count * 1000
    records: list[Any] = []
    points: list[tuple] = []
    for index in range(count):
        learning_rate = generator.choice((0.001, 0.01, 0.1))
        model = mt.Model(
            name=f"model {index}",
            learning_algorithm=generator.choice(("LogisticRegression", "RandomForest", "GradientBoosting")),
            trained_on=train,
            framework="python",
            hyperparameters=[mt.Parameter.of("learning_rate", learning_rate, default=0.01)],
            experiment=f"experiment {index % 20}",
            creation_time=start + index * 1000 + 999,
        )
        run = mt.TrainingRun(
            name=f"run {index}",
            state=mt.TrainingState.FINISHED,
            start_time=start + index * 1000,
            end_time=start + index * 1000 + 900,
            for_model=model.id,
            trained_on=train,
            hyperparameters=model.hyperparameters,
            experiment=model.experiment,
            tags={"team": f"team-{index % 5}", "seed": str(index % 3)},
            creation_time=start + index * 1000,
        )
        records += [record_of(model), record_of(run)]
        points += [
            (run.id, "loss", 1.0 / (step + 1) + generator.random() / 10, step, step, start + index * 1000 + step)
            for step in range(POINTS_PER_TABLE_RUN)
        ]
        if len(records) >= PUT_BATCH:
            tracker.store.put(records, points)
            records, points = [], []
    if records:
        tracker.store.put(records, points)


# ---------------------------------------------------------------- measuring


class Dashboard:
    """``mltrack ui`` in a subprocess, on a free port."""

    def __init__(self, uri: str, log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mltrack_core.cli", "ui", "--uri", uri, "--port", "0"],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = _LISTENING.search(log.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mltrack ui did not start:\n{log.read_text(errors='replace')}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def first_byte(url: str) -> tuple[float, float]:
    """Seconds to the first byte of the answer (status line and headers) and to its last byte, on a new connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    started = time.perf_counter()
    connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
    answer = connection.getresponse()
    to_first = time.perf_counter() - started
    body = answer.read()
    to_last = time.perf_counter() - started
    connection.close()
    if answer.status != 200:
        raise RuntimeError(f"GET {url}: {answer.status}\n{body[:500].decode(errors='replace')}")
    return to_first, to_last


def drawn(page: Any, url: str, ready: str, read: str | None = None) -> tuple[float, str | None]:
    """Seconds from navigating ``page`` to ``url`` until ``ready`` is in it; the ``read`` attribute of ``ready``.

    ``ready`` ``"load"``: until the page's load event (every script and stylesheet loaded and run). One tab serves
    every measure (as a user's clicks do): a new tab would add the start of a renderer process to each.
    """
    started = time.perf_counter()
    if ready == "load":
        page.goto(url, wait_until="load", timeout=120_000)
        return time.perf_counter() - started, None
    page.goto(url, wait_until="commit", timeout=120_000)
    element = page.wait_for_selector(ready, state="attached", timeout=120_000)
    seconds = time.perf_counter() - started
    return seconds, element.get_attribute(read) if read else None


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.0f} ms"


CHART = 'div.chart[data-drawn="true"]'
GRAPH = 'div.graph[data-drawn="true"]'
VIEWPORT = {"width": 1280, "height": 800}


def measure(uri: str, ids: dict[str, Any], repeat: int, folder: Path, say: Callable[[str], None]) -> None:
    from playwright.sync_api import sync_playwright

    run_pages = {size: f"/ui/runs/{ids['runs'][str(size)]}" for size in RUN_SIZES}
    # Cold: the first request for each run since its server started (a fresh server for the first bytes, another
    # for the drawn charts, so that neither finds the other's work cached), in a browser with an empty cache; the
    # page's own first-use costs are paid before, by a view of a metric no run has.
    dashboard = Dashboard(uri, folder / "ui-cold-ttfb.log")
    try:
        first_byte(f"{dashboard.url}/ui/?kind=dataset")  # the server's first page: its code and templates loaded
        first_byte(f"{dashboard.url}{run_pages[RUN_SIZES[0]]}?metric=warm-up")  # the run page's template
        cold_first = {size: first_byte(dashboard.url + path)[0] for size, path in run_pages.items()}
    finally:
        dashboard.stop()
    dashboard = Dashboard(uri, folder / "ui.log")
    url = dashboard.url
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            browser_cache = context.new_cdp_session(page)
            drawn(page, f"{url}/ui/?kind=dataset", "load")  # the server's first page, and a renderer for the tab
            # the run page's first-use costs (its template, the chart's code) are paid by a view of no metric
            drawn(page, f"{url}{run_pages[RUN_SIZES[0]]}?metric=warm-up", "load")
            cold_drawn = {}
            for size, path in run_pages.items():
                browser_cache.send("Network.clearBrowserCache")
                cold_drawn[size] = drawn(page, url + path, CHART)[0]
            say("training run page (/ui/runs/ID): time to first byte, and until its chart is drawn (cold: first open)")
            say(f"  {'points':>10}  {'TTFB cold':>10} {'TTFB warm':>10}  {'drawn cold':>10} {'drawn warm':>10}  drawn")
            warm_drawn = {}
            for size, path in run_pages.items():
                opens = [drawn(page, url + path, CHART, read="data-points") for _ in range(repeat)]
                warm_first = median([first_byte(url + path)[0] for _ in range(repeat)])
                warm_drawn[size] = median([seconds for seconds, _ in opens])
                say(
                    f"  {size:>10,}  {ms(cold_first[size])} {ms(warm_first)}  {ms(cold_drawn[size])} "
                    f"{ms(warm_drawn[size])}  {opens[-1][1]} points"
                )
            say(
                "  1M-point run vs 1k-point run, chart drawn: "
                f"{cold_drawn[1_000_000] / cold_drawn[1_000]:.2f}x cold, "
                f"{warm_drawn[1_000_000] / warm_drawn[1_000]:.2f}x warm (aim: within 2x)"
            )

            say(f"runs table with {TABLE_RUNS:,} runs (and their models) in the store: TTFB / page drawn (load event)")
            for label, query in (
                ("newest first (default)", ""),
                ("sorted by name", "?sort=name"),
                ("a last:loss column, page 100", "?metric=last:loss&page=100"),
                ("one experiment and a tag", "?experiment=experiment+3&tag=team%3Dteam-3"),
            ):
                page_url = f"{url}/ui/{query}"
                first = median([first_byte(page_url)[0] for _ in range(repeat)])
                loaded = median([drawn(page, page_url, "load")[0] for _ in range(repeat)])
                say(f"  {label:<32} {ms(first)} / {ms(loaded)}")

            say("model page of a network layout: TTFB / graph drawn (vertices drawn)")
            for name, model_id in ids["models"].items():
                page_url = f"{url}/ui/models/{model_id}"
                first = median([first_byte(page_url)[0] for _ in range(repeat)])
                for label, view in (("default collapse", ""), ("every operator", "?collapse=0")):
                    opens = [drawn(page, page_url + view, GRAPH, read="data-nodes") for _ in range(repeat)]
                    loaded = median([seconds for seconds, _ in opens])
                    say(f"  {name:<13} {label:<17} {ms(first)} / {ms(loaded)} ({opens[-1][1]} vertices)")

            page_url = f"{url}/ui/lineage/{ids['lineage']}?depth={LINEAGE_DEPTH}"
            first = median([first_byte(page_url)[0] for _ in range(repeat)])
            opens = [drawn(page, page_url, GRAPH, read="data-nodes") for _ in range(repeat)]
            loaded = median([seconds for seconds, _ in opens])
            say(
                f"lineage page, depth {LINEAGE_DEPTH}: TTFB / graph drawn: {ms(first)} / {ms(loaded)} "
                f"({opens[-1][1]} vertices)"
            )
            context.close()
            browser.close()
    finally:
        dashboard.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="SQLite file to build (or reuse, when it exists)")
    parser.add_argument("--repeat", type=int, default=5, help="warm opens per page (medians are printed)")
    arguments = parser.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set MLTRACK_CHROMIUM)")

    def say(line: str) -> None:
        print(line, flush=True)

    with tempfile.TemporaryDirectory(prefix="mltrack-ui-bench-") as folder:
        path = arguments.store or Path(folder) / "store.db"
        uri = f"sqlite:///{path.resolve()}"
        sidecar = path.with_name(path.name + ".json")
        if path.exists() and sidecar.exists():
            say(f"reusing the store {path}")
            ids = json.loads(sidecar.read_text())
            mt.connect(uri).close()  # migrated if an older mltrack made it: `mltrack ui` opens stores read-only
        else:
            say(f"building the store {path}")
            ids = build_store(uri, say)
            sidecar.write_text(json.dumps(ids))
        measure(uri, ids, arguments.repeat, Path(folder), say)


if __name__ == "__main__":
    main()
