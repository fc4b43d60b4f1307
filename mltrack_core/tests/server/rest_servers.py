"""Running ``mltrack server`` processes for tests: started, waited for, killed or stopped, their logs read."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import requests

_LISTENING = re.compile(r"mltrack server listening on (http://[\d.]+:\d+)")


def _popen(arguments: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("ab") as output:
        command = [sys.executable, "-m", "mltrack_core.server", *arguments]
        return subprocess.Popen(command, stdout=output, stderr=output, env=env)


def popen_in(
    cwd: Path, *, wrapper: Sequence[str] = ()
) -> Callable[[list[str], Path, dict[str, str]], subprocess.Popen]:
    """A ``spawn`` for :class:`ServerProcess`: the server runs in ``cwd``, its command after ``wrapper`` if any.

    ``wrapper`` runs the server command given as its last arguments, e.g. ``unshare --mount sh -c 'SETUP &&
    exec "$@"' sh`` (see :func:`mounts.in_mount_namespace`).
    """

    def spawn(arguments: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
        with log.open("ab") as output:
            command = [*wrapper, sys.executable, "-m", "mltrack_core.server", *arguments]
            return subprocess.Popen(command, stdout=output, stderr=output, env=env, cwd=cwd)

    return spawn


class ServerProcess:
    """One ``mltrack server`` process; its log is kept in a file for the test to read."""

    def __init__(
        self,
        store_uri: str,
        log: Path,
        *arguments: str,
        env: dict[str, str] | None = None,
        spawn: Callable[[list[str], Path, dict[str, str]], Any] = _popen,
    ) -> None:
        self.store_uri = store_uri
        self.log = log
        self.arguments = arguments
        self.env = {**os.environ, **(env or {})}
        self.spawn = spawn
        self.process: Any = None
        self.url = ""
        self._offset = 0

    def start(self, port: int = 0, timeout: float = 30.0) -> ServerProcess:
        """Start the server (on ``port``, 0 for any free one) and wait until it answers."""
        return self.launch(port).wait_until_ready(timeout)

    def launch(self, port: int = 0) -> ServerProcess:
        """Start the process without waiting for it."""
        arguments = ["--store", self.store_uri, "--port", str(port), *self.arguments]
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        self.process = self.spawn(arguments, self.log, self.env)
        return self

    def wait_until_ready(self, timeout: float = 30.0) -> ServerProcess:
        """Wait until the launched server answers on the port it announced."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.process.returncode}:\n{self.log_text()[self._offset :]}"
                )
            found = _LISTENING.search(self.log_text()[self._offset :])
            if found and self._answers(found.group(1)):
                self.url = found.group(1)
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log_text()[self._offset :]}")

    @property
    def port(self) -> int:
        return int(self.url.rpartition(":")[2])

    def _answers(self, url: str) -> bool:
        try:
            return requests.get(f"{url}/v1/health", timeout=2).status_code in (200, 401)
        except (requests.ConnectionError, requests.Timeout):  # worker processes may still be starting
            return False

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a service manager stops it; returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


class ForkedProcess:
    """A server forked by the zygote (not our child, so known by pid only; the zygote reaps it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return -1  # gone; its status went to the zygote
        return None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.wait(30)

    def send_signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, number)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return -1


class Zygote:
    """Forks servers from a process that imported them once (see server_zygote.py)."""

    def __init__(self) -> None:
        script = Path(__file__).with_name("server_zygote.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def spawn(self, arguments: list[str], log: Path, env: dict[str, str]) -> ForkedProcess:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"args": arguments, "log": str(log), "env": env}) + "\n")
        self.process.stdin.flush()
        return ForkedProcess(int(self.process.stdout.readline()))

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(30)
        self.process.stdout.close()
