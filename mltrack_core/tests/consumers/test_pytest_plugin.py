"""The pytest plugin, exercised the way a project uses it: a sample project's test suite run with pytester."""

from __future__ import annotations

import json
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import mltrack_core as mt

pytest_plugins = ["pytester"]

SAMPLE_TEST = """
import hashlib
import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

import mltrack_core as mt


def fingerprint(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return "sha256:" + digest.hexdigest()


def test_iris_model_quality(mltrack_regression):
    config = json.loads(Path(__file__).with_name("model.json").read_text())
    features, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(features, y, test_size=0.4, random_state=0, stratify=y)
    columns = config["features"]
    model = KNeighborsClassifier(n_neighbors=config["n_neighbors"]).fit(X_train[:, columns], y_train)
    accuracy = accuracy_score(y_test, model.predict(X_test[:, columns]))

    tracker = mltrack_regression.tracker
    train = tracker.track_dataset(name="iris-train", fingerprint=fingerprint(X_train, y_train), target="species")
    holdout = tracker.track_dataset(name="iris-holdout", fingerprint=fingerprint(X_test, y_test), target="species")
    model_meta = tracker.track_model(
        name="iris-knn",
        learning_algorithm="KNeighborsClassifier",
        trained_on=train,
        hyperparameters=[
            mt.Parameter.of("n_neighbors", config["n_neighbors"], default=5),
            mt.Parameter.of("features", columns),
        ],
    )
    mltrack_regression.check("accuracy", accuracy, model=model_meta, dataset=holdout, tolerance=0.02)


def test_unrelated():
    assert True
"""


@pytest.fixture
def project(pytester: pytest.Pytester, git) -> pytest.Pytester:
    """A sample project under git whose test suite checks its model's quality with mltrack_regression."""
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n')
    pytester.makepyfile(test_quality=SAMPLE_TEST)
    configure(pytester, [0, 1])
    git(pytester.path, "init", "-q", "-b", "main")
    git(pytester.path, "config", "user.email", "dev@example.com")
    git(pytester.path, "config", "user.name", "Dev")
    git(pytester.path, "add", "pyproject.toml", "test_quality.py", "model.json")
    git(pytester.path, "commit", "-q", "-m", "knn on two features")
    return pytester


def configure(pytester: pytest.Pytester, features: list[int]) -> None:
    (pytester.path / "model.json").write_text(json.dumps({"features": features, "n_neighbors": 5}))


def commit(pytester: pytest.Pytester, git, features: list[int], message: str) -> str:
    configure(pytester, features)
    git(pytester.path, "commit", "-q", "-am", message)
    return git(pytester.path, "rev-parse", "HEAD")


def test_the_plugin_is_registered_with_pytest() -> None:
    plugins = {entry.name: entry.value for entry in entry_points(group="pytest11")}
    assert plugins.get("mltrack") == "mltrack_core.pytest_plugin"


def test_a_project_passes_on_improvement_and_fails_on_regression_with_the_report(project: pytest.Pytester, git) -> None:
    uri = f"sqlite:///{project.path / 'quality.db'}"

    first = project.runpytest_subprocess("--mltrack-uri", uri)
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(
        ["*mltrack regression checks*", "ok*accuracy = 0.8 (baseline none)*", "1 check(s), 0 regression(s), recorded"]
    )

    improved = commit(project, git, [0, 1, 2, 3], "use all four measurements")
    better = project.runpytest_subprocess("--mltrack-uri", uri)
    better.assert_outcomes(passed=2)
    better.stdout.fnmatch_lines(["ok*accuracy = 0.983333 (baseline 0.8)*"])

    broken = commit(project, git, [1], "oops: only the sepal width")
    worse = project.runpytest_subprocess("--mltrack-uri", uri)
    worse.assert_outcomes(passed=1, failed=1)
    output = worse.stdout.str()
    assert (
        "accuracy regressed: 0.5 is worse than the baseline 0.983333 by 0.483333, "
        "more than the tolerance 0.02 (higher is better)" in output
    )
    assert re.search(rf"commit {improved[:12]}, recorded \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC", output)
    assert f"commit {broken[:12]}, recorded as evaluation" in output
    assert "REGRESSED accuracy = 0.5 (baseline 0.983333) in test_quality.py::test_iris_model_quality" in output
    assert "Traceback" not in output  # the report, not a stack trace

    with mt.connect(uri) as tracker:
        checks = sorted(tracker.find("evaluation"), key=lambda evaluation: evaluation.creation_time)
        assert [evaluation.tags["mltrack.check"] for evaluation in checks] == ["passed", "passed", "failed"]
        assert [evaluation.tags["git.commit"] for evaluation in checks][1:] == [improved, broken]
        assert checks[0].name == "test_quality.py::test_iris_model_quality"

    unrecorded = project.runpytest_subprocess(
        "--mltrack-uri", uri, "--mltrack-no-record", "--mltrack-baseline=last-passing"
    )
    unrecorded.assert_outcomes(passed=1, failed=1)
    unrecorded.stdout.fnmatch_lines(
        ["*0.5 is worse than the baseline 0.983333*", "*last passing of 3 comparable*", "*not recorded*"]
    )
    with mt.connect(uri) as tracker:
        assert tracker.count("evaluation") == 3


LIGHT_TEST = """
import mltrack_core as mt


def test_score_check(mltrack_regression):
    tracker = mltrack_regression.tracker
    holdout = tracker.track_dataset(mt.Dataset(id="holdout", name="holdout", fingerprint="sha256:h", target="y"))
    model = tracker.track_model(mt.Model(id="m", name="m", learning_algorithm="lr", trained_on=holdout.id))
    mltrack_regression.check("accuracy", 0.5, model=model, dataset=holdout)


def test_unrelated():
    pass
"""


def test_the_store_is_chosen_in_the_ini_file_and_connected_only_when_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_light=LIGHT_TEST)
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\nmltrack_uri = "nowhere://store"\n'
    )
    unrelated = pytester.runpytest("-k", "unrelated")
    unrelated.assert_outcomes(passed=1, deselected=1)  # the unusable store is never opened
    used = pytester.runpytest("-k", "score_check")
    used.assert_outcomes(failed=1, deselected=1)
    used.stdout.fnmatch_lines(["*no installed backend handles 'nowhere' URIs*"])
    other = pytester.path / "other.db"
    fine = pytester.runpytest("-k", "score_check", f"--mltrack-uri=sqlite:///{other}")
    fine.assert_outcomes(passed=1, deselected=1)  # the option wins over the ini file
    with mt.connect(f"sqlite:///{other}") as tracker:
        assert tracker.count("evaluation") == 1


def test_the_options_are_documented_and_checked(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest("--help").stdout.str()
    for option in ("--mltrack-uri=URI", "--mltrack-no-record", "--mltrack-baseline"):
        assert option in help_text
    pytester.makeini("[pytest]\nmltrack_baseline = newest\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mltrack_baseline = 'newest': expected one of best, last-passing*"])


def test_loading_the_plugin_connects_nothing(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRACK_HOME", str(tmp_path / "home"))
    pytester.makepyfile("def test_nothing():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (tmp_path / "home").exists()  # the embedded default store was not created
