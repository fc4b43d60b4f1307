"""The computing environment recorded with models and training runs.

Captured automatically: the git commit and dirty flag of the repository the
user's script lives in, Python and OS versions, host, user, CPU model and
count, memory, GPUs when present, and the versions of the ML packages the
process has imported. Framework plugins add their own facts through the
``mltrack_environment`` hook. Nothing here ever raises: a fact that cannot be
read is left out.
"""

from __future__ import annotations

import getpass
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["ML_PACKAGES", "base_environment", "git_facts", "package_versions"]

ML_PACKAGES = {
    # import name -> distribution name
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "sklearn": "scikit-learn",
    "pyspark": "pyspark",
    "mxnet": "mxnet",
    "torch": "torch",
    "tensorflow": "tensorflow",
    "jax": "jax",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "statsmodels": "statsmodels",
    "mltrack_core": "mltrack-core",
    "mltrack_sklearn": "mltrack-sklearn",
    "mltrack_spark": "mltrack-spark",
    "mltrack_mxnet": "mltrack-mxnet",
}
_GIT_TIMEOUT_SECONDS = 5


def base_environment() -> dict[str, str]:
    """Facts that do not change while the process runs (read once per tracker)."""
    facts = {
        "python.version": platform.python_version(),
        "python.implementation": platform.python_implementation(),
        "os": platform.platform(),
        "host": socket.gethostname(),
        "cpu.count": str(os.cpu_count() or 0),
    }
    for key, read in (
        ("user", getpass.getuser),
        ("cpu.model", _cpu_model),
        ("memory.total_bytes", _memory_total),
        ("gpu.devices", _gpu_devices),
    ):
        value = _quietly(read)
        if value:
            facts[key] = value
    facts.update(git_facts(_script_directory()))
    return facts


def package_versions(known: dict[str, str | None] | None = None) -> dict[str, str]:
    """Versions of the ML packages this process has imported, as ``package.<distribution>`` keys.

    Reading a version parses the distribution's metadata (about a millisecond each);
    pass the same ``known`` dict on every call to read each one once.
    """
    from importlib.metadata import PackageNotFoundError, version

    known = {} if known is None else known
    found = {}
    for module, distribution in ML_PACKAGES.items():
        if module not in sys.modules:
            continue
        if distribution not in known:
            try:
                known[distribution] = version(distribution)
            except PackageNotFoundError:
                known[distribution] = None
        if known[distribution] is not None:
            found[f"package.{distribution}"] = known[distribution]
    return found


def _quietly(read) -> str | None:  # noqa: ANN001
    try:
        return read()
    except Exception:  # noqa: BLE001 - a fact we cannot read is left out
        return None


def _cpu_model() -> str | None:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.partition(":")[2].strip()
    return platform.processor() or None


def _memory_total() -> str | None:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return str(int(line.split()[1]) * 1024)
    return None


def _gpu_devices() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    result = subprocess.run(
        ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=_GIT_TIMEOUT_SECONDS,
        check=False,
    )
    names = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return "; ".join(names) or None


def _script_directory() -> Path:
    """The folder of the running script (what "the caller's repository" means), else the working folder."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.is_file():
        return script.resolve().parent
    return Path.cwd()


def git_facts(folder: Path) -> dict[str, str]:
    """The commit (``git.commit``), dirty flag, branch and root of the git repository holding ``folder``."""
    if shutil.which("git") is None:
        return {}

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    facts = {"git.commit": commit}
    status = git("status", "--porcelain", "--untracked-files=no")
    if status is not None:
        facts["git.dirty"] = "true" if status else "false"
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        facts["git.branch"] = branch
    root = git("rev-parse", "--show-toplevel")
    if root:
        facts["git.root"] = root
    return facts
