"""Example programs run unmodified, plainly and under ``mltrack run``: what they print, and what they record.

Every framework package tests its zero-line tracking on a ``tests/gallery/``
folder of programs shaped like the framework's own examples, without a line of
mltrack. In a test module::

    from mltrack_core.testing.gallery import Gallery

    @pytest.fixture(scope="module")
    def programs(tmp_path_factory):
        with Gallery(Path(__file__).parent / "gallery", tmp_path_factory.mktemp("gallery")) as gallery:
            yield gallery.run

    def test_pipeline(programs):
        tracker, plain, tracked = programs("pipeline")   # read-only tracker over the tracked run's store
        assert plain.stdout == tracked.stdout

Each program runs once of each kind, at the first test that asks for it; the
two runs go at once (a JVM's start is mostly waiting). A program that fails
fails the test with its standard error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import mltrack_core as mt

__all__ = ["Gallery", "Runs"]

TIMEOUT_SECONDS = 600

Runs = tuple[mt.Tracker, subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]
"""A read-only tracker over what the tracked run recorded, the plain run, the tracked run."""


class Gallery:
    """The programs of one folder, each run plainly and tracked into ``sqlite:///<folder>/<name>.db``."""

    def __init__(
        self,
        programs: Path,
        folder: Path,
        *,
        environment: Mapping[str, str] | None = None,
        python_options: Sequence[str] = (),
    ) -> None:
        """Programs from ``programs``, run in ``folder``, with ``environment`` added and ``python_options`` given."""
        self.programs = programs
        self.folder = folder
        self.environment = dict(environment or {})
        self.python_options = tuple(python_options)
        self._runs: dict[
            str, tuple[mt.Tracker, subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]
        ] = {}

    def run(self, name: str) -> Runs:
        """Program ``name`` (``<name>.py``), run plainly and tracked, at the first call."""
        if name not in self._runs:
            script = self.programs / f"{name}.py"
            uri = f"sqlite:///{self.folder / name}.db"
            launcher = ("-m", "mltrack_core.run", "--uri", uri, "--experiment", name)
            running = [self._start(script), self._start(script, launcher)]
            plain, tracked = (_finished(process) for process in running)
            for kind, process in (("plainly", plain), ("under mltrack run", tracked)):
                assert process.returncode == 0, f"{name}.py failed {kind}:\n{process.stderr}"
            self._runs[name] = (mt.connect(uri, read_only=True), plain, tracked)
        return self._runs[name]

    def close(self) -> None:
        """Close the trackers opened over the programs' stores."""
        for tracker, _, _ in self._runs.values():
            tracker.close()
        self._runs.clear()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _start(self, script: Path, launcher: Sequence[str] = ()) -> subprocess.Popen[str]:
        program = [sys.executable, *self.python_options, str(script)]
        command = [sys.executable, *launcher, *program] if launcher else program
        environment = {**os.environ, "MLTRACK_HOME": str(self.folder / "home"), **self.environment}
        environment.pop("PYTHONDONTWRITEBYTECODE", None)  # else every run compiles the framework again (seconds)
        if "PYTHONPATH" in environment:  # sources of a development checkout: the program runs in another folder
            folders = environment["PYTHONPATH"].split(os.pathsep)
            environment["PYTHONPATH"] = os.pathsep.join(str(Path(entry).resolve()) for entry in folders)
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.folder, env=environment
        )


def _finished(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
