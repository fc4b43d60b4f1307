"""Mounts for tests that need a read-only filesystem or a full disk: made in a private mount namespace.

Such mounts exist only for the command run inside the namespace and vanish with it; they need root and
``unshare`` (CI runs as root), so the tests using them say why they skip elsewhere.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile


def in_mount_namespace(setup: str) -> list[str]:
    """A command prefix: ``setup`` (shell) runs in a private mount namespace, then the command that follows.

    Mounts made by ``setup`` (a small tmpfs, a read-only remount) exist for that command alone and vanish with it.
    """
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", f'{setup} && exec "$@"', "sh"]


def why_mounts_fail() -> str | None:
    """Why mounts in a private namespace cannot be made here (not root, no unshare), or None when they can."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    with tempfile.TemporaryDirectory() as folder:
        try:
            done = subprocess.run(
                [*in_mount_namespace(f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(folder)}"), "true"],
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unshare cannot run: {exc}"
    return None if done.returncode == 0 else f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}"
