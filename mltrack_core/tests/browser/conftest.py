"""Fixtures of the dashboard's end-to-end tests: the demo's store, live servers, headless Chromium.

* ``demo_store``: the store ``mltrack demo`` recorded (core, MXNet, scikit-learn and Spark parts), plus two
  evaluations a leaderboard must exclude and Gluon's resnet18_v1 (a network layout large enough to collapse).
  The demo runs once per session, in a subprocess started as soon as the tests are collected; the tests that do
  not need it run first, while it records.
* ``serve(store_uri)``: the dashboard and the REST API served by uvicorn in a thread of this process, read-only as
  ``mltrack ui`` serves them, on a free loopback port (``tokens=``, ``read_only=False``: as ``mltrack server``
  can); ``demo_server`` serves the demo's store.
* ``training``: a fresh store with a run that a background thread is training (a point every 100 ms).
* ``browser`` (one headless Chromium per session) and ``page`` (a fresh page per test, 1280x800). A page error
  (an uncaught JavaScript exception) or a console error fails the test. When a test fails, a screenshot of its page
  and the page's console messages are saved under ``$MLTRACK_BROWSER_ARTIFACTS`` (default: the session's
  temporary folder), and their paths are shown with the failure.
* ``screenshots``: ``pytest --screenshots=DIR`` saves the README's screenshots into DIR; without the option
  nothing is written.

Chromium is Debian's package (``apt-get install chromium``), or the executable ``$MLTRACK_CHROMIUM`` names:
Playwright's own browser download cannot reach its host here. Without it the tests fail, saying so.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("MLTRACK_CHROMIUM", "/usr/bin/chromium")
# read now: each test runs without the MLTRACK_* variables (mltrack_core.testing.fixtures.isolated_home)
ARTIFACTS = os.environ.get("MLTRACK_BROWSER_ARTIFACTS")
VIEWPORT = {"width": 1280, "height": 800}
DEMO_TIMEOUT_SECONDS = 600
ACTION_TIMEOUT_MS = 15_000

_demo_key = pytest.StashKey["DemoRecording"]()
_failure_key = pytest.StashKey[bool]()
_page_log_key = pytest.StashKey["PageLog"]()


# ---------------------------------------------------------------- options and hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="save the README's screenshots of the dashboard (PNG of a 1280x800 viewport at 2x) into DIR",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the demo when a selected test needs it, and run the tests that do not need it first."""
    needs_demo = [item for item in items if "demo_store" in getattr(item, "fixturenames", ())]
    if not needs_demo or config.option.collectonly:
        return
    items.sort(key=lambda item: "demo_store" in getattr(item, "fixturenames", ()))  # stable: file order kept
    config.stash[_demo_key] = DemoRecording.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    recording = config.stash.get(_demo_key, None)
    if recording is not None:
        recording.discard()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failing test with a page: save the page's screenshot and console, and show where they are."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_failure_key] = True
        log = item.stash.get(_page_log_key, None)
        if log is not None:
            report.sections.append(("browser artifacts", log.save_artifacts(item.nodeid)))
    return report


# ---------------------------------------------------------------- the demo's store


class DemoRecording:
    """``mltrack demo`` running in a subprocess into a fresh SQLite store."""

    def __init__(self, folder: Path, process: subprocess.Popen, log: Path) -> None:
        self.folder = folder
        self.process = process
        self.log = log
        self.store_uri = f"sqlite:///{folder / 'store.db'}"

    @classmethod
    def start(cls) -> DemoRecording:
        folder = Path(tempfile.mkdtemp(prefix="mltrack-browser-demo-"))
        log = folder / "demo.log"
        environment = {
            **{name: value for name, value in os.environ.items() if not name.startswith("MLTRACK_")},
            "MLTRACK_URI": f"sqlite:///{folder / 'store.db'}",
            "MLTRACK_HOME": str(folder / "home"),
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "mltrack_core.cli", "demo"],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=folder,
            )
        return cls(folder, process, log)

    def wait(self) -> str:
        """Wait for the demo to finish; its store's URI."""
        try:
            status = self.process.wait(DEMO_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise RuntimeError(
                f"mltrack demo did not finish in {DEMO_TIMEOUT_SECONDS} s:\n{self._log_tail()}"
            ) from None
        if status != 0:
            raise RuntimeError(f"mltrack demo exited with status {status}:\n{self._log_tail()}")
        skipped = [line for line in self.log.read_text(errors="replace").splitlines() if "part skipped" in line]
        if skipped:
            # Every part must have recorded: CI runs these tests with every framework (and Java for Spark)
            raise RuntimeError("mltrack demo skipped a part the browser tests show:\n" + "\n".join(skipped))
        return self.store_uri

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])

    def discard(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class DemoStore:
    """The demo's store and what the tests look up in it."""

    uri: str
    tracker: Any
    sklearn_test_set: Any
    """The held-out set of the demo's scikit-learn part (its leaderboard: three models, and two exclusions)."""
    extra_exclusions: dict[str, str]
    """Evaluation id -> the kind of reason the leaderboard of the scikit-learn test set must give for leaving it out."""
    resnet: str
    """The id of a model of Gluon's resnet18_v1 (69 operators: large enough to be collapsed by name prefix)."""

    def model_named(self, name: str) -> Any:
        found = self.tracker.find("model", name=name)
        assert found, f"the demo recorded no model named {name!r}"
        return found[0]

    def dataset_named(self, name: str) -> Any:
        found = self.tracker.find("dataset", name=name)
        assert found, f"the demo recorded no dataset named {name!r}"
        return found[0]


SKLEARN_TEST_SET = "breast cancer test"


@pytest.fixture(scope="session")
def demo_store(request: pytest.FixtureRequest) -> Iterator[DemoStore]:
    """The store ``mltrack demo`` recorded, plus two evaluations the scikit-learn leaderboard must exclude."""
    from mltrack_core import connect

    recording = request.config.stash.get(_demo_key, None)
    if recording is None:  # a test asked for it outside collection (pytest --fixtures ...): record now
        recording = request.config.stash[_demo_key] = DemoRecording.start()
    uri = recording.wait()
    recorded = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("record_network.py")), uri, "digits-8x8-train"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert recorded.returncode == 0, f"recording resnet18_v1 failed:\n{recorded.stdout}{recorded.stderr}"
    with connect(uri) as tracker:
        test_set = tracker.find("dataset", name=SKLEARN_TEST_SET)[0]
        forest = tracker.find("model", name="ColumnTransformer -> RandomForestClassifier")[0]
        other_procedure = tracker.track_evaluation(
            {"accuracy": 0.99}, computed_by=forest, on_dataset=test_set, procedure="bootstrap (200 resamples)"
        )
        not_a_number = tracker.track_evaluation(
            {"accuracy": math.nan}, computed_by=forest, on_dataset=test_set, procedure="holdout"
        )
        exclusions = {other_procedure.id: "procedure", not_a_number.id: "not a finite number"}
        yield DemoStore(uri, tracker, test_set, exclusions, resnet=recorded.stdout.strip())


# ---------------------------------------------------------------- live servers


class LiveServer:
    """The dashboard and the REST API served by uvicorn in a thread of this process.

    Read-only without tokens by default, as ``mltrack ui`` serves them; ``read_only=False`` and ``tokens`` (a
    :class:`~mltrack_core.server.auth.TokenSet`) as ``mltrack server`` can.
    """

    def __init__(self, store_uri: str, *, tokens: Any = None, read_only: bool = True) -> None:
        import uvicorn

        from mltrack_core.server.app import ServerSettings, create_app
        from mltrack_core.server.auth import TokenSet
        from mltrack_core.server.cli import _listen  # Nagle off, as the real server listens

        self.listener = _listen("127.0.0.1", 0)
        settings = ServerSettings(store_uri, tokens=tokens or TokenSet(), read_only=read_only)
        config = uvicorn.Config(
            create_app(settings),
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,  # live pages keep an event stream open
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, name=f"uvicorn {self.url}", daemon=True)
        self.error: BaseException | None = None

    def _serve(self) -> None:
        try:
            asyncio.run(self.server.serve(sockets=[self.listener]))
        except BaseException as exc:  # noqa: BLE001 - reported by start() or stop()
            self.error = exc

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard's server did not start on {self.url}: {self.error!r}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.listener.close()


@pytest.fixture(scope="session")
def serve() -> Iterator[Callable[..., str]]:
    """``serve(store_uri, **settings)`` -> the base URL of a :class:`LiveServer` of that store, stopped at the end."""
    started: list[LiveServer] = []

    def start(store_uri: str, **settings: Any) -> str:
        server = LiveServer(store_uri, **settings).start()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def demo_server(demo_store: DemoStore, serve: Callable[..., str]) -> str:
    """The base URL of the dashboard over the demo's store."""
    return serve(demo_store.uri)


# ---------------------------------------------------------------- a run in training


LOG_INTERVAL_SECONDS = 0.1


@dataclass
class Training:
    """A run that a background thread is training: it logs a loss and an accuracy every 100 ms until told to end."""

    tracker: Any
    run: Any
    dataset: Any
    end: threading.Event
    thread: threading.Thread
    logged: int = 0

    def finish(self) -> None:
        """Tell the thread to end the run (with the model it produced) and wait until it has."""
        self.end.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the training thread did not end"


def _train(training: Training) -> None:
    step = 0
    while not training.end.wait(LOG_INTERVAL_SECONDS):
        training.run.log("loss", 2.0 * math.exp(-step / 25) + 0.05 * math.sin(step), step=step)
        training.run.log("accuracy", 1 - math.exp(-step / 30), step=step)
        step += 1
        training.logged = step
    model = training.tracker.track_model(
        name="live model", learning_algorithm="GradientDescent", trained_on=training.dataset, framework="python"
    )
    training.run.finish(model)


@pytest.fixture
def training(tmp_path: Path) -> Iterator[Training]:
    """A fresh SQLite store with a run that a background thread is training (``training.finish()`` ends it)."""
    from mltrack_core import Parameter, TypedColumn, TypeHint, connect

    with connect(f"sqlite:///{tmp_path / 'live.db'}") as tracker:
        dataset = tracker.track_dataset(
            name="live data",
            location="file:///data/live.csv",
            fingerprint="sha256:" + "0" * 64,
            schema=[TypedColumn(name="x", typing=TypeHint.DOUBLE), TypedColumn(name="y", typing=TypeHint.INT)],
            target="y",
        )
        run = tracker.track_training(
            name="live training",
            trained_on=dataset,
            hyperparameters=[Parameter.of("learning_rate", 0.05, default=0.01)],
        )
        training = Training(tracker, run, dataset, threading.Event(), threading.Thread(target=lambda: None))
        training.thread = threading.Thread(target=_train, args=(training,), name="training", daemon=True)
        training.thread.start()
        yield training
        if training.thread.is_alive():
            training.finish()


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's package) for the session."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the dashboard's browser tests drive Debian's chromium package. Install it "
            "with: apt-get install chromium (.ci/run does so when run as root), or name another build's executable "
            "in MLTRACK_CHROMIUM",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield chromium
        chromium.close()


class PageLog:
    """The console messages and uncaught errors of a Playwright page, saved with a screenshot when its test fails."""

    def __init__(self, page: Any, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        self.console: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught {error.name}: {error.message}"))

    def _on_console(self, message: Any) -> None:
        where = message.location
        line = f"[{message.type}] {message.text} ({where.get('url', '')}:{where.get('lineNumber')})"
        self.console.append(line)
        # Chromium may ask a site for /favicon.ico on its own (for an answer without <link rel=icon>): not a fault
        if message.type == "error" and not where.get("url", "").endswith("/favicon.ico"):
            self.errors.append(line)

    def save_artifacts(self, test_id: str) -> str:
        """Save a screenshot and the console of the page; the text naming them."""
        stem = "".join(character if character.isalnum() else "_" for character in test_id)[-120:]
        self.artifacts.mkdir(parents=True, exist_ok=True)
        picture, console = self.artifacts / f"{stem}.png", self.artifacts / f"{stem}.console.txt"
        lines = [f"page: {self.page.url}"]
        try:
            self.page.screenshot(path=str(picture), full_page=True)
            lines.append(f"screenshot: {picture}")
        except Exception as exc:  # noqa: BLE001 - a crashed page: its console is still worth keeping
            lines.append(f"no screenshot ({type(exc).__name__}: {exc})")
        console.write_text("\n".join(self.console) + "\n", encoding="utf-8")
        lines.append(f"console ({len(self.console)} messages): {console}")
        return "\n".join(lines)


@pytest.fixture(scope="session")
def browser_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where failing tests leave their screenshots: ``$MLTRACK_BROWSER_ARTIFACTS``, else the session's temp folder."""
    return Path(ARTIFACTS) if ARTIFACTS else tmp_path_factory.getbasetemp() / "browser-artifacts"


@pytest.fixture
def page(
    browser: Any, browser_artifacts: Path, screenshots: Screenshots, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A fresh Playwright page (own context: no cookies or cache shared with other tests) at 1280x800.

    Rendered at twice the pixel density when screenshots are saved, so that small text stays legible in them.
    """
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=2 if screenshots.wanted else 1)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    opened = context.new_page()
    log = request.node.stash[_page_log_key] = PageLog(opened, browser_artifacts)
    yield opened
    context.close()
    if log.errors and not request.node.stash.get(_failure_key, False):
        pytest.fail("the page reported errors:\n" + "\n".join(log.errors), pytrace=False)


# ---------------------------------------------------------------- README screenshots


class Screenshots:
    """``screenshots(page, name)`` saves ``DIR/name.png`` when pytest has ``--screenshots=DIR``.

    The picture is the 1280x800 viewport at twice its pixel density (2560x1600 pixels).

    ``url``: open this view of the page first (e.g. a graph fitted to the width) and wait until it is drawn;
    ``focus``: scroll this element to the top of the viewport first. Without the option nothing is done.
    """

    def __init__(self, folder: str | None) -> None:
        self.folder = Path(folder) if folder else None

    @property
    def wanted(self) -> bool:
        """Whether screenshots are saved in this session."""
        return self.folder is not None

    def __call__(self, page: Any, name: str, *, url: str | None = None, focus: str | None = None) -> Path | None:
        if self.folder is None:
            return None
        if url is not None:
            page.goto(url)
            page.wait_for_selector('[data-drawn="true"]', state="attached")
        if focus is not None:
            page.locator(focus).evaluate("element => element.scrollIntoView({block: 'start'})")
        path = self.folder / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        return path


@pytest.fixture(scope="session")
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    """Saves the README's screenshots when pytest runs with ``--screenshots=DIR`` (see :class:`Screenshots`)."""
    return Screenshots(request.config.getoption("--screenshots"))
