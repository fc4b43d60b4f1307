"""``mltrack run``: run an unmodified program with automatic tracking of every installed framework.

::

    mltrack run [--uri URI] [--experiment NAME] [--] python train.py --epochs 3
    python -m mltrack_core.run [--uri URI] [--experiment NAME] [--] train.py --epochs 3

The launcher sets ``MLTRACK_URI`` and ``MLTRACK_EXPERIMENT`` (when given),
puts the folder of mltrack's ``sitecustomize`` module first on ``PYTHONPATH``,
marks the environment with ``MLTRACK_RUN``, and replaces itself with the
command (``exec``): signals, standard streams and the exit status are the
program's own. A command ending in ``.py`` runs with this Python.

In the program, before its first line, the ``sitecustomize`` module (only when
the marker is set) removes the marker and its folder from the environment,
connects the default tracker (:func:`mltrack_core.get_tracker`), turns on
:func:`mltrack_core.autolog` (see :mod:`mltrack_core._launched`), then runs
the user's own ``sitecustomize`` if there is one. Child processes (joblib/loky workers, ``multiprocessing``,
``subprocess``) are therefore not tracked: what they compute is part of the
call in the program that started them, which is recorded. When the program
exits, one line on stderr says what it recorded. Whatever goes wrong in
mltrack there is one line on stderr, and the program runs untracked.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import click

__all__ = ["MARKER_VARIABLE", "launch", "launch_environment", "run_command"]

MARKER_VARIABLE = "MLTRACK_RUN"
"""Set by the launcher (to the folder of mltrack's ``sitecustomize``): the program is to be tracked."""
LAUNCH_FOLDER = Path(__file__).resolve().parent / "_launch"
"""Holds mltrack's ``sitecustomize.py``; put first on ``PYTHONPATH`` of the launched program."""
NOT_FOUND_STATUS = 127
CANNOT_EXECUTE_STATUS = 126


def launch(command: Sequence[str], *, uri: str | None = None, experiment: str | None = None) -> NoReturn:
    """Replace this process with ``command``, tracked.

    Args:
        command: the program and its arguments: ``python``, ``python3``, any
            executable on ``PATH`` or a path, or a script ending in ``.py``
            (run with this Python).
        uri: the store to record into (sets ``MLTRACK_URI``).
        experiment: the experiment to record under (sets ``MLTRACK_EXPERIMENT``).

    Raises:
        SystemExit: the command cannot be run: 127 when it is not found, 126 when
            it cannot be executed; a one-line message is on stderr.
    """
    arguments = program_arguments(command)
    environment = launch_environment(os.environ, uri=uri, experiment=experiment)
    for stream in (sys.stdout, sys.stderr):  # exec drops what is still buffered
        stream.flush()
    try:
        os.execvpe(arguments[0], arguments, environment)
    except FileNotFoundError:
        _exit_with(f"mltrack run: {arguments[0]}: command not found", NOT_FOUND_STATUS)
    except OSError as exc:  # a folder, a file without the execute permission, a binary of another machine
        _exit_with(f"mltrack run: {arguments[0]}: {exc.strerror or exc}", CANNOT_EXECUTE_STATUS)


def program_arguments(command: Sequence[str]) -> list[str]:
    """The argument vector to execute: a ``.py`` script runs with this Python.

    Raises:
        SystemExit: the script does not exist (status 127, a one-line message on stderr).
    """
    program, *rest = command
    if not program.endswith(".py"):
        return [program, *rest]
    if not Path(program).is_file():
        _exit_with(f"mltrack run: {program}: no such script", NOT_FOUND_STATUS)
    return [sys.executable, program, *rest]


def launch_environment(
    environment: Mapping[str, str], *, uri: str | None = None, experiment: str | None = None
) -> dict[str, str]:
    """The launched program's environment: ``environment`` with the store, the experiment and the marker.

    Args:
        environment: the launcher's environment.
        uri: sets ``MLTRACK_URI`` when given.
        experiment: sets ``MLTRACK_EXPERIMENT`` when given.

    Returns:
        a new mapping; ``environment`` is left as it is.
    """
    launched = dict(environment)
    if uri:
        launched["MLTRACK_URI"] = uri
    if experiment:
        launched["MLTRACK_EXPERIMENT"] = experiment
    folder = str(LAUNCH_FOLDER)
    python_path = without_launch_folder(launched.get("PYTHONPATH", ""), folder)
    launched["PYTHONPATH"] = os.pathsep.join([folder, python_path]) if python_path else folder
    launched[MARKER_VARIABLE] = folder
    return launched


def without_launch_folder(python_path: str, folder: str) -> str:
    """``python_path`` (a ``PYTHONPATH`` value) without ``folder``, the rest exactly as it was."""
    return os.pathsep.join(entry for entry in python_path.split(os.pathsep) if entry != folder)


def _exit_with(message: str, status: int) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(status)


@click.command(
    "run",
    context_settings={"allow_interspersed_args": False, "help_option_names": ["-h", "--help"]},
)
@click.option(
    "--uri",
    metavar="URI",
    help="Store to record into (sets MLTRACK_URI). Default: $MLTRACK_URI, else ~/.mltrack/store.db.",
)
@click.option("--experiment", metavar="NAME", help="Record everything under this experiment (sets MLTRACK_EXPERIMENT).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run_command(ctx: click.Context, uri: str | None, experiment: str | None, command: tuple[str, ...]) -> None:
    """Run COMMAND (python train.py ..., or train.py ...) with automatic tracking of every installed framework.

    The program runs unmodified: every fit, data split, search and score of
    the frameworks that have an mltrack plugin is recorded, and one line on
    stderr at exit says what. Child processes are not tracked (their work is
    part of the call that started them). Options after COMMAND are the
    program's; put -- before a COMMAND that starts with a dash.
    """
    root = ctx.find_root()
    if uri is None and root is not ctx:
        uri = root.params.get("uri")  # mltrack --uri URI run ...
    launch(command, uri=uri, experiment=experiment)


def main(arguments: Sequence[str] | None = None) -> None:
    """``python -m mltrack_core.run``: the same as ``mltrack run``."""
    run_command.main(args=arguments, prog_name="python -m mltrack_core.run")


if __name__ == "__main__":
    main()
