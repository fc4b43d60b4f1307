"""The Spark part of ``mltrack demo``."""

from __future__ import annotations

import os
import subprocess
import sys

from mltrack_core.demo import DemoResult
from mltrack_spark.plugin import mltrack_demo


def test_the_demo_records_a_tuned_pipeline_and_shows_its_column_dag(spark, tracker, tmp_path):
    said: list[str] = []
    result = mltrack_demo(tracker=tracker, folder=tmp_path, say=said.append)
    assert isinstance(result, DemoResult) and result.metric == "areaUnderROC"
    board = tracker.leaderboard(result.dataset, "areaUnderROC")
    assert [entry.model.name for entry in board.entries] == ["tickets-text-tabular-cv", "tickets-tabular"]
    tuned = board.entries[0].model
    assert "spark.tuning" in tuned.annotations and tuned.learning_algorithm == "LogisticRegression"
    train = tracker.get(tuned.trained_on)
    assert train.name == "support-tickets-train" and train.derived_from == (
        tracker.find("dataset", name="support-tickets")[0].id,
    )
    dag_lines = [line.strip() for line in said if "->" in line]
    assert dag_lines[0].startswith("Tokenizer") and dag_lines[-1].startswith("LogisticRegressionModel")  # in DAG order
    assert "Tokenizer: ticket -> words (STRING_ARRAY)" in dag_lines
    assert "SQLTransformer: wait_minutes -> log_wait (DOUBLE)" in dag_lines
    assert any(
        line.startswith("LogisticRegressionModel: features, escalated -> prediction (DOUBLE)") for line in dag_lines
    )
    assert not spark.sparkContext._jsc.sc().isStopped()  # the session it did not start is left running


def test_without_java_the_demo_says_so_in_one_line(tmp_path):
    probe = (
        "import pathlib, mltrack_core as mt\n"
        "from mltrack_spark.demo import run_demo\n"
        "said = []\n"
        "result = run_demo(mt.connect('memory://'), pathlib.Path('.'), said.append)\n"
        "print(result, len(said), said[0])\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "JAVA_HOME"}
    environment["PATH"] = str(tmp_path)  # no java on it
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("None 1 Spark part skipped: Java is not installed")
