"""The supported PySpark range (written once, in the ``instruments`` extra) and access to the session."""

from __future__ import annotations

import subprocess
import sys
import warnings
from importlib.metadata import version

from packaging.specifiers import SpecifierSet

from mltrack_core.plugin import require_framework
from mltrack_spark import supported_versions
from mltrack_spark.framework import require_pyspark


def test_the_supported_versions_are_the_range_of_the_instruments_extra():
    assert supported_versions() == SpecifierSet(">=3.5,<5")


def test_the_installed_pyspark_is_supported_and_accepted_without_a_warning():
    installed = version("pyspark")
    assert supported_versions().contains(installed)
    require_framework.cache_clear()  # the check runs once per process: make this call the one that checks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert require_pyspark() == installed


def test_replay_outside_a_spark_process_says_what_is_missing():
    probe = (
        "from mltrack_spark.framework import active_session\n"
        "try:\n    active_session()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.startswith("MltrackError no SparkSession is running")
