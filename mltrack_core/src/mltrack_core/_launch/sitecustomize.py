"""mltrack's ``sitecustomize``: turns on automatic tracking in a program started by ``mltrack run``.

Python imports the first ``sitecustomize`` module on ``sys.path`` while it
starts, before the program's first line; ``mltrack run`` puts this module's
folder first on ``PYTHONPATH`` and sets ``MLTRACK_RUN``. Here, in order:

1. the marker and this folder leave ``os.environ`` and ``sys.path``, so that the
   program's child processes are not tracked and the program sees the paths it
   would see without mltrack;
2. when the marker was set, :func:`mltrack_core._launched.start_tracking` connects
   the store and turns on every framework plugin; any failure is one line on
   stderr and the program runs untracked;
3. the next ``sitecustomize`` on ``sys.path`` (the user's, or the Python
   distribution's) runs, as it would have without mltrack.
"""

import importlib.util
import os
import sys

_MARKER = "MLTRACK_RUN"  # mltrack_core.run.MARKER_VARIABLE, not imported: mltrack may not be importable here


def _main() -> None:
    folder = os.path.dirname(os.path.realpath(__file__))
    marked = os.environ.pop(_MARKER, None) is not None
    _forget(folder)
    if marked:
        _start_tracking()
    _run_next_sitecustomize()


def _forget(folder: str) -> None:
    """Take ``folder`` off ``sys.path`` and ``PYTHONPATH`` (which the program's children inherit)."""
    sys.path[:] = [entry for entry in sys.path if not entry or os.path.realpath(entry) != folder]
    python_path = os.environ.get("PYTHONPATH")
    if python_path is not None:
        rest = [entry for entry in python_path.split(os.pathsep) if not entry or os.path.realpath(entry) != folder]
        if any(rest):
            os.environ["PYTHONPATH"] = os.pathsep.join(rest)
        else:
            del os.environ["PYTHONPATH"]


def _start_tracking() -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # shown below as one line each; the program's own filters stay as they are
        try:
            from mltrack_core._launched import start_tracking
        except ImportError as exc:
            _say(f"mltrack: {sys.executable} cannot import mltrack ({exc}); the program runs untracked")
            return
        try:
            start_tracking()
        except Exception as exc:  # noqa: BLE001 - mltrack must never stop the program
            _say(
                f"mltrack: automatic tracking could not start ({type(exc).__name__}: {exc}); the program runs untracked"
            )
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            message = " ".join(str(warning.message).split())
            _say(message if message.startswith("mltrack") else f"mltrack: {message}")


def _run_next_sitecustomize() -> None:
    """Import the ``sitecustomize`` that Python would have imported without mltrack, if there is one."""
    this = sys.modules.pop("sitecustomize", None)
    if importlib.util.find_spec("sitecustomize") is None:
        if this is not None:
            sys.modules["sitecustomize"] = this
        return
    importlib.import_module("sitecustomize")  # its errors are reported by Python as without mltrack


def _say(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - no stderr: nothing to say it on
        pass


_main()
