"""PySpark itself: the supported versions, recognising its objects, sessions, environment facts.

The supported range is written once, in the ``instruments`` extra of this
package's ``pyproject.toml``; :func:`require_pyspark` checks the installed
PySpark against it with the core's policy (:func:`mltrack_core.plugin.require_framework`).
Nothing here imports PySpark unless a Spark object is already at hand (then
PySpark is imported anyway) or the caller needs PySpark itself.
"""

from __future__ import annotations

import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrack_core.plugin import MltrackError, require_framework
from mltrack_core.plugin import supported_versions as framework_versions

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = [
    "active_session",
    "is_dataframe",
    "is_spark_ml_object",
    "java_missing_reason",
    "pyspark_version",
    "quiet_local_session",
    "require_pyspark",
    "spark_environment",
    "supported_versions",
]

DISTRIBUTION = "mltrack-spark"
INSTALL_HINT = "pip install 'mltrack-spark[instruments]' (Spark needs Java 17)"


def supported_versions() -> SpecifierSet:
    """The PySpark versions this package supports: the range its ``instruments`` extra installs."""
    return framework_versions(DISTRIBUTION, "pyspark")


def require_pyspark() -> str:
    """Check (once per process) that a supported PySpark is installed; return its version.

    A PySpark newer than :func:`supported_versions` works, with one :class:`TrackingWarning`.

    Raises:
        MissingDependencyError: PySpark is missing or older than :func:`supported_versions`.
    """
    return require_framework(DISTRIBUTION, "pyspark", install_hint=INSTALL_HINT)


def pyspark_version() -> str | None:
    """The installed PySpark version, or None."""
    try:
        return version("pyspark")
    except PackageNotFoundError:
        return None


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
