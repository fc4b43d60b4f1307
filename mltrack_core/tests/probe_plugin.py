"""An installed framework plugin for the tests of automatic tracking, written into a folder on ``sys.path``."""

from __future__ import annotations

import textwrap
from pathlib import Path

PLUGIN = """
import sys

from mltrack_core.plugin import hookimpl, when_imported

CALLS = []
STATE = {{"on": False, "original": None}}


@hookimpl
def mltrack_autolog(tracker, disable):
    CALLS.append((tracker, disable))
    if {broken!r}:
        raise RuntimeError("probe cannot run here")
    STATE["on"] = not disable
    if disable:
        module = sys.modules.get({framework!r})
        if module is not None and STATE["original"] is not None:
            module.name, STATE["original"] = STATE["original"], None
    else:
        when_imported({framework!r}, patch)
    return "probe"


def patch(module):
    if not STATE["on"] or STATE["original"] is not None:
        return
    original = STATE["original"] = module.name

    def name():
        result = original()
        if {record!r}:
            import mltrack_core

            mltrack_core.get_tracker().track_dataset(name="probe-data", location="file:///probe.csv")
        return "tracked"

    module.name = name
"""


def write_probe_plugin(
    site: Path, module_name: str, framework: str, *, record: bool = False, broken: bool = False
) -> None:
    """Install a plugin as pip leaves it: its module and a dist-info folder naming it in the ``mltrack`` group.

    The plugin's ``mltrack_autolog`` patches ``framework.name`` (through
    ``when_imported``) to return ``"tracked"``; with ``record`` the patched
    function also records a dataset ``probe-data`` into the default tracker;
    with ``broken`` the hook raises.
    """
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module_name}.py").write_text(PLUGIN.format(framework=framework, record=record, broken=broken))
    dist_info = site / f"{module_name}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module_name}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[mltrack]\nprobe = {module_name}\n")


def write_framework(site: Path, module_name: str) -> None:
    """A stand-in framework module: ``name()`` returns ``"original"``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module_name}.py").write_text(textwrap.dedent("def name():\n    return 'original'\n"))
