"""pytest plugin: model-quality regression tests with the ``mltrack_regression`` fixture.

Installed with mltrack-core (entry point ``pytest11``), so a project's test
suite can write::

    def test_churn_model_quality(mltrack_regression):
        score = evaluate(model, holdout)
        mltrack_regression.check("roc_auc", score, model=model_meta, dataset=holdout_meta, tolerance=0.005)

``check`` records the score as an evaluation tagged with the current git
commit and fails the test with a report (metric, current value, baseline
value, the baseline's commit and date) when the score is worse than the
baseline from the comparable history by more than ``tolerance``; see
:func:`mltrack_core.regression.check_regression` for the rules.
``mltrack_regression.tracker`` is the tracker it records with, for tracking
the model and dataset metadata.

Options (also settable in the ini file, as ``mltrack_uri`` and ``mltrack_baseline``):

``--mltrack-uri URI``
    the store (default ``$MLTRACK_URI``, else the embedded store);
``--mltrack-no-record``
    compare without recording the new evaluations;
``--mltrack-baseline best|last-passing``
    the default baseline policy (a check may pin an evaluation id with ``baseline=``).

Loading the plugin is cheap: nothing connects to a store until a test uses the fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mltrack_core.regression import RegressionResult
    from mltrack_core.schema import Dataset, Model
    from mltrack_core.tracker import Tracker

__all__ = ["RegressionChecker"]

_POLICIES = ("best", "last-passing")  # mltrack_core.regression.POLICIES, repeated to keep loading cheap
_RESULTS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mltrack", "model-quality regression checks (mltrack)")
    group.addoption(
        "--mltrack-uri",
        metavar="URI",
        help="store that mltrack_regression checks compare with and record into "
        "(default: ini mltrack_uri, else $MLTRACK_URI, else the embedded store)",
    )
    group.addoption(
        "--mltrack-no-record",
        action="store_true",
        default=False,
        help="compare with the history but do not record the new evaluations",
    )
    group.addoption(
        "--mltrack-baseline",
        choices=_POLICIES,
        help="default baseline policy of mltrack_regression checks (default: ini mltrack_baseline, else best)",
    )
    parser.addini("mltrack_uri", "store of mltrack_regression checks (like --mltrack-uri)", default="")
    parser.addini("mltrack_baseline", "default baseline policy: best or last-passing", default="best")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RESULTS] = []
    policy = config.getoption("mltrack_baseline") or config.getini("mltrack_baseline")
    if policy not in _POLICIES:
        raise pytest.UsageError(f"mltrack_baseline = {policy!r}: expected one of {', '.join(_POLICIES)}")


class _Connection:
    """The session's tracker, connected when a check first needs it and closed at the end of the session."""

    def __init__(self, config: pytest.Config) -> None:
        self.uri = config.getoption("mltrack_uri") or config.getini("mltrack_uri") or None
        self._tracker: Tracker | None = None

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            from mltrack_core.tracker import connect

            self._tracker = connect(self.uri)
        return self._tracker

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


@pytest.fixture(scope="session")
def _mltrack_connection(pytestconfig: pytest.Config) -> Iterator[_Connection]:
    connection = _Connection(pytestconfig)
    yield connection
    connection.close()


class RegressionChecker:
    """What the ``mltrack_regression`` fixture gives a test: :meth:`check` and the :attr:`tracker`."""

    def __init__(self, connection: _Connection, config: pytest.Config, test_id: str) -> None:
        self._connection = connection
        self._config = config
        self._test_id = test_id
        self.results: list[RegressionResult] = []

    @property
    def tracker(self) -> Tracker:
        """The tracker checks record with (connected on first use)."""
        return self._connection.tracker

    def check(
        self,
        metric: str,
        value: float,
        *,
        model: Model | str | None,
        dataset: Dataset | str,
        tolerance: float = 0.0,
        procedure: str = "holdout",
        baseline: str | None = None,
        greater_is_better: bool | None = None,
    ) -> RegressionResult:
        """Compare ``value`` with the comparable history, record it, and fail the test on a regression.

        ``baseline`` is ``"best"``, ``"last-passing"`` or a stored evaluation
        id (default: the ``--mltrack-baseline`` option). The other arguments are
        those of :func:`mltrack_core.regression.check_regression`.
        """
        from mltrack_core.regression import check_regression

        config = self._config
        result = check_regression(
            self.tracker,
            metric,
            value,
            model=model,
            dataset=dataset,
            tolerance=tolerance,
            procedure=procedure,
            baseline=baseline or config.getoption("mltrack_baseline") or config.getini("mltrack_baseline"),
            record=not config.getoption("mltrack_no_record"),
            greater_is_better=greater_is_better,
            repository=config.rootpath,
            name=self._test_id,
        )
        self.results.append(result)
        config.stash[_RESULTS].append((self._test_id, result))
        if result.regressed:
            pytest.fail(result.report(), pytrace=False)
        return result


@pytest.fixture
def mltrack_regression(_mltrack_connection: _Connection, request: pytest.FixtureRequest) -> RegressionChecker:
    """Model-quality regression checks against the comparable history in the mltrack store."""
    return RegressionChecker(_mltrack_connection, request.config, request.node.nodeid)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS, [])
    if not results:
        return
    regressed = sum(1 for _, result in results if result.regressed)
    recorded = "not recorded" if config.getoption("mltrack_no_record") else "recorded"
    terminalreporter.section("mltrack regression checks")
    for test_id, result in results:
        baseline = f"{result.baseline.value:.6g}" if result.baseline is not None else "none"
        outcome = "REGRESSED" if result.regressed else "ok"
        terminalreporter.write_line(
            f"{outcome:9} {result.metric} = {result.value:.6g} (baseline {baseline}) in {test_id}"
        )
    terminalreporter.write_line(f"{len(results)} check(s), {regressed} regression(s), {recorded}")
