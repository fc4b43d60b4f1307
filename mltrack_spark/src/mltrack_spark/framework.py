"""Access to PySpark: the supported version range, object recognition, the active session, facts.

Nothing here imports PySpark unless a Spark object is already at hand (then
PySpark is imported anyway) or the caller needs PySpark itself.
"""

from __future__ import annotations

import functools
import shutil
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mltrack_core.errors import MissingDependencyError, MltrackError, TrackingWarning

__all__ = [
    "OLDEST",
    "SUPPORTED_PYSPARK",
    "UNTESTED_FROM",
    "active_session",
    "is_dataframe",
    "is_spark_ml_object",
    "java_missing_reason",
    "pyspark_version",
    "require_pyspark",
    "spark_environment",
]

OLDEST = (3, 5)
"""The oldest PySpark line supported (3.5 is the oldest line the Spark project still maintains)."""
UNTESTED_FROM = (5, 0)
"""The first PySpark line not yet tested (the ``instruments`` extra stops before it)."""
SUPPORTED_PYSPARK = ">=3.5,<5"
"""The PySpark versions this package reads (the ``instruments`` extra installs one)."""
INSTALL_HINT = "pip install 'mltrack-spark[instruments]' (PySpark 3.5 or 4.x; Spark needs Java 17)"


def pyspark_version() -> str | None:
    """The installed PySpark version, or None."""
    try:
        return version("pyspark")
    except PackageNotFoundError:
        return None


def _release(text: str) -> tuple[int, int]:
    parts = [int("".join(ch for ch in part if ch.isdigit()) or 0) for part in text.split(".")[:2]]
    padded = [*parts, 0, 0]
    return padded[0], padded[1]


@functools.cache
def require_pyspark() -> str:
    """Check once that a supported PySpark is installed; return its version.

    Newer lines than the tested range work with a :class:`TrackingWarning`.

    Raises:
        MissingDependencyError: PySpark is missing or older than :data:`OLDEST`.
    """
    found = pyspark_version()
    if found is None:
        raise MissingDependencyError(f"mltrack-spark needs pyspark{SUPPORTED_PYSPARK}: {INSTALL_HINT}")
    release = _release(found)
    if release < OLDEST:
        raise MissingDependencyError(
            f"mltrack-spark supports pyspark{SUPPORTED_PYSPARK}, but {found} is installed: {INSTALL_HINT}"
        )
    if release >= UNTESTED_FROM:
        warnings.warn(
            f"mltrack-spark was tested with pyspark{SUPPORTED_PYSPARK}; {found} is installed, "
            "so some metadata may be missing",
            TrackingWarning,
            stacklevel=2,
        )
    return found


def is_spark_ml_object(obj: Any) -> bool:
    """Whether ``obj`` is a PySpark ML stage or evaluator (or of a user class derived from one)."""
    if "pyspark.ml" not in sys.modules:
        return False
    from pyspark.ml.param import Params

    return isinstance(obj, Params)


def is_dataframe(obj: Any) -> bool:
    """Whether ``obj`` is a PySpark SQL DataFrame."""
    if "pyspark.sql" not in sys.modules:
        return False
    from pyspark.sql import DataFrame

    return isinstance(obj, DataFrame)


def active_session() -> Any:
    """The SparkSession of this process (the active one, else the one of the running SparkContext).

    Raises:
        MltrackError: no SparkContext runs in this process.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()  # thread-local in the JVM: None in threads Spark did not start
    if session is None and SparkContext._active_spark_context is not None:
        session = SparkSession.builder.getOrCreate()  # the running context's session; starts nothing new
    if session is None:
        raise MltrackError(
            "no SparkSession is running in this process; schema replay runs in Spark's JVM: "
            "start one with SparkSession.builder.getOrCreate() first"
        )
    return session


def spark_environment() -> dict[str, str]:
    """PySpark's version and, when a SparkContext runs, Spark's version, master, application id and Java version."""
    import pyspark

    facts = {"pyspark.version": pyspark.__version__}
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None:
        return facts
    facts["spark.master"] = context.master
    facts["spark.app_id"] = context.applicationId
    facts["spark.version"] = context.version
    facts["spark.default_parallelism"] = str(context.defaultParallelism)
    facts["java.version"] = context._jvm.java.lang.System.getProperty("java.version")
    return facts


def java_missing_reason() -> str | None:
    """Why Spark cannot start here (no Java found), or None when it can (or already runs)."""
    if "pyspark" in sys.modules:
        from pyspark import SparkContext

        if SparkContext._active_spark_context is not None:
            return None
    import os

    home = os.environ.get("JAVA_HOME")
    if home:
        if (Path(home) / "bin" / "java").is_file():
            return None
        return f"JAVA_HOME={home} has no bin/java; install Java 17 (e.g. apt-get install openjdk-17-jre-headless)"
    if shutil.which("java") is None:
        return "Java is not installed (Spark needs Java 17: e.g. apt-get install openjdk-17-jre-headless)"
    return None


def quiet_local_session(app_name: str, **config: str) -> Any:
    """A ``local[*]`` SparkSession without the UI, progress bars or log noise (demo, tests, benchmarks).

    ``config`` adds or overrides Spark settings (``spark.sql.shuffle.partitions`` is 4 unless given).
    """
    from importlib.resources import files

    from pyspark.sql import SparkSession

    quiet = Path(str(files("mltrack_spark").joinpath("log4j2-quiet.properties"))).resolve().as_uri()
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={quiet}",
        **config,
    }
    builder = SparkSession.builder.master("local[*]").appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
