"""The examples of the plugin authors' guide (``mltrack_core.plugin``'s docstring) work as written.

Each example is installed the way an installer would (a module and a ``*.dist-info`` with its entry point
on ``sys.path``), so the real discovery, dispatch and version check run.
"""

from __future__ import annotations

import sys
import textwrap
import warnings

import pytest
from plugin_guide_blocks import guide_code_blocks

import mltrack_core as mt
import mltrack_core.plugin
from mltrack_core.plugin import require_framework, supported_versions
from mltrack_core.testing import StoreContract, sample_experiment

FOREST = textwrap.dedent(
    """
    __version__ = "2.4.0"

    class Forest:
        def __init__(self, n_trees=100):
            self.n_trees = n_trees
    """
)


def guide_examples() -> list[str]:
    """The Python code blocks of the guide that implement hooks, in order (the autolog one: see test_autolog)."""
    return [code for code in guide_code_blocks() if "@hookimpl" in code and "mltrack_autolog" not in code]


@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a module, as a distribution with requirements and ``mltrack`` entry points."""

    def install_module(module: str, source: str, *, version: str = "1.0", requires=(), entry_points=()) -> None:
        (tmp_path / f"{module}.py").write_text(source)
        info = tmp_path / f"{module}-{version}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {module.replace('_', '-')}", f"Version: {version}"]
        (info / "METADATA").write_text("\n".join([*lines, *(f"Requires-Dist: {r}" for r in requires)]) + "\n")
        if entry_points:
            (info / "entry_points.txt").write_text(
                "[mltrack]\n" + "".join(f"{name} = {module}\n" for name in entry_points)
            )

    monkeypatch.syspath_prepend(str(tmp_path))
    supported_versions.cache_clear()
    require_framework.cache_clear()
    yield install_module
    for module in ("forest", "mltrack_forest", "mltrack_jsonlog"):
        sys.modules.pop(module, None)
    supported_versions.cache_clear()
    require_framework.cache_clear()


def test_the_guide_has_an_extractor_and_a_backend():
    extractor, backend = guide_examples()
    assert "def mltrack_extract_model" in extractor and "def mltrack_open_store" in backend


def test_the_extractor_of_the_guide_records_its_framework(install):
    extractor, _ = guide_examples()
    install("forest", FOREST, version="2.4.0")
    requirements = ["mltrack-core", 'forest<3,>=2.0; extra == "instruments"']
    install("mltrack_forest", extractor, version="0.1", requires=requirements, entry_points=["forest"])
    import forest

    with mt.connect("memory://") as tracker:
        dataset = tracker.track_dataset(name="trees")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a supported forest: no warning
            model = tracker.track_model(forest.Forest(n_trees=250), trained_on=dataset)
    assert model.learning_algorithm == "forest.Forest" and model.name == "forest-250"
    (n_trees,) = model.hyperparameters
    assert (n_trees.name, n_trees.value, n_trees.default, n_trees.non_default) == ("n_trees", 250, 100, True)
    assert model.environment["forest.version"] == "2.4.0"


class TestTheBackendOfTheGuide(StoreContract):
    @pytest.fixture
    def store_uri(self, install, tmp_path):
        _, backend = guide_examples()
        install("mltrack_jsonlog", backend, entry_points=["jsonlog"])
        return f"jsonlog://{tmp_path}/store.jsonl"

    def test_it_replays_its_log_when_opened_again(self, store_uri):
        with mt.connect(store_uri) as tracker:
            recorded = sample_experiment(tracker)
        with mt.connect(store_uri) as reopened:
            assert reopened.get(recorded["evaluation"].id) == recorded["evaluation"]
            assert reopened.get(recorded["run"].id).state is mt.TrainingState.FINISHED
            assert len(reopened.points(recorded["run"].id)) == 3
