"""The hook implementations mltrack finds through the ``mltrack`` entry point ``spark``.

Loading this module imports neither PySpark nor numpy: every hook first checks
that the object is PySpark's (PySpark is then imported already), checks the
PySpark version, and only then imports the extraction code. Only the driver
talks to the tracker; executors compute statistics and fingerprints like any
other Spark job, so every master (local, standalone, YARN, Kubernetes) works alike.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import hookimpl
from mltrack_spark.framework import is_dataframe, is_spark_ml_object, require_pyspark

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mltrack_core.plugin import Dataset, DemoResult, Extraction, Tracker


@hookimpl
def mltrack_extract_model(
    obj: Any, tracker: Tracker, trained_on: Dataset, name: str | None, serialize: bool
) -> Extraction | None:
    """A fitted Spark ML model: its parameters, column DAG and tuning results."""
    if not is_spark_ml_object(obj):
        return None
    require_pyspark()
    from mltrack_spark.extract import extract_model

    return extract_model(obj, tracker, trained_on, name, serialize)


@hookimpl
def mltrack_extract_training(obj: Any) -> Extraction | None:
    """A Spark ML estimator about to be fitted: a run with its parameters."""
    if not is_spark_ml_object(obj):
        return None
    require_pyspark()
    from mltrack_spark.extract import extract_training

    return extract_training(obj)


@hookimpl
def mltrack_extract_dataset(data: Any, name: str | None, target: Any) -> Extraction | None:
    """A Spark DataFrame: schema, statistics and histograms computed by Spark, fingerprint, location."""
    if not is_dataframe(data):
        return None
    require_pyspark()
    from mltrack_spark.extract import extract_dataset

    return extract_dataset(data, name, target)


@hookimpl
def mltrack_environment() -> dict[str, str] | None:
    """Spark's version, master and application id, Java's version (when PySpark is in use)."""
    if sys.modules.get("pyspark") is None:  # not imported (or blocked): never import PySpark to describe it
        return None
    from mltrack_spark.framework import spark_environment

    return spark_environment()  # a failure: the tracker warns once, then stops asking


@hookimpl
def mltrack_autolog(tracker: Tracker | None, disable: bool) -> str | None:
    """Record every top-level Spark ML fit, split, transform and evaluation (see ``mltrack_spark.autolog``).

    PySpark is patched once the program imports it (at once if it is already
    imported); nothing here imports it. None when PySpark is not installed.
    """
    if importlib.util.find_spec("pyspark") is None:
        return None
    from mltrack_spark.autolog import autolog

    autolog(tracker=tracker, disable=disable)
    return "spark"


@hookimpl
def mltrack_demo(tracker: Tracker, folder: Path, say: Callable[[str], None]) -> DemoResult | None:
    """The Spark experiment of ``mltrack demo`` (one line and None when Java or PySpark is missing)."""
    from mltrack_spark.demo import run_demo

    return run_demo(tracker, folder, say)
