"""Starts ``mltrack server`` processes quickly: by forking a process that has already imported the server.

Importing FastAPI and uvicorn takes about a second; the contract suite starts
a fresh server for every test. This process imports them once, then reads one
JSON request per line on stdin (``{"args": [...], "log": path, "env": {...}}``),
forks, and the child runs the server command with those arguments (the same
code as ``mltrack server``), writing to the log file. The child's pid is
written back on stdout. Children are reaped automatically.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import uvicorn  # noqa: F401 - imported here once, for every forked server

import mltrack_core.server.app  # noqa: F401
from mltrack_core.server.cli import server


def _run_server(request: dict) -> None:
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        server.main(request["args"], prog_name="mltrack server")
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)
    os._exit(0)


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies: the kernel reaps the servers
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            sys.stdin.close()
            _run_server(request)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
