"""The plugin as mltrack finds it: entry point, environment facts, ``mltrack demo``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import mxnet as mx
from click.testing import CliRunner

import mltrack_core as mt
import mltrack_mxnet
import mltrack_mxnet.plugin
from mltrack_core.cli import main


def test_the_entry_point_registers_the_plugin(tracker):
    assert tracker.plugins.get_plugin("mxnet") is mltrack_mxnet.plugin


def test_the_environment_names_the_mxnet_build(tracker):
    environment = tracker.environment()
    assert environment["mxnet.version"] == mx.__version__
    assert ("MKLDNN" in environment["mxnet.features"].split(", ")) == mx.runtime.Features().is_enabled("MKLDNN")


def test_mltrack_demo_records_the_figure_3_workflow(tmp_path):
    uri = f"sqlite:///{tmp_path / 'demo.db'}"

    result = CliRunner().invoke(main, ["--uri", uri, "demo"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "MXNet (Figure 3)" in result.output
    with mt.connect(uri) as tracker:
        test_set = next(d for d in tracker.find("dataset", name="digits-8x8-test"))
        board = tracker.leaderboard(test_set, "accuracy")
        assert sorted(entry.model.name for entry in board.entries) == ["digits-cnn", "digits-mlp"]
        assert all(entry.evaluation.score("accuracy").value > 0.8 for entry in board.entries)
        best = board.entries[0].evaluation
        datasets = {entity.name for entity in tracker.lineage(best.id).of_kind("dataset")}
        assert datasets == {"digits-8x8", "digits-8x8-train", "digits-8x8-test"}
        for model in tracker.find("model", trained_on=tracker.find("dataset", name="digits-8x8-train")[0]):
            symbol, _, _ = mltrack_mxnet.load_model(model)
            assert symbol.list_outputs() == ["softmax_output"]
            run = tracker.find("run", for_model=model)[0]
            assert run.state is mt.TrainingState.FINISHED
            points = tracker.points(run.id)
            assert {point[3] for point in points if point[1] == "validation-accuracy"} == set(range(10))
    listing = CliRunner().invoke(main, ["--uri", uri, "show", model.id, "--json"], catch_exceptions=False)
    assert json.loads(listing.output)["framework"] == "mxnet"


def test_without_mxnet_the_plugin_loads_and_the_demo_says_why_it_skips(tmp_path):
    script = textwrap.dedent(
        """
        import pathlib
        import sys
        sys.modules["mxnet"] = None  # as if MXNet were not installed: importing it raises ImportError
        import mltrack_core as mt
        tracker = mt.connect("memory://")
        plugin = tracker.plugins.get_plugin("mxnet")
        said = []
        assert plugin.mltrack_demo(tracker=tracker, folder=pathlib.Path("demo"), say=said.append) is None
        assert plugin.mltrack_environment() is None
        print(said[0])
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)

    assert result.stdout.strip() == (
        "MXNet part skipped: mltrack-mxnet needs MXNet: pip install 'mltrack-mxnet[instruments]' "
        "(MXNet 1.9.1 with numpy<1.24, Python <= 3.11)"
    )
