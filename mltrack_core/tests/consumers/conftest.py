"""Fixtures of the consumer tests: stores, the command line, the shipped fixtures, a git repository."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import mltrack_core as mt
from mltrack_core import cli

COMMANDS = {
    "import": "mltrack_core.consumers_cli:import_command",
    "regress": "mltrack_core.consumers_cli:regress",
    "notify": "mltrack_core.consumers_cli:notify",
}


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def sqlite_tracker(store_uri: str, tmp_path: Path) -> Iterator[mt.Tracker]:
    with mt.connect(store_uri, creator="tester", artifacts=tmp_path / "artifacts") as tracker:
        yield tracker


class Mltrack:
    """Runs ``mltrack`` commands in this process, as a user would type them."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.runner = CliRunner()

    def __call__(self, *arguments: str, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(cli.main, ["--uri", self.uri, *arguments], env=env, catch_exceptions=False)


@pytest.fixture
def mltrack(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Mltrack:
    """The ``mltrack`` command on the test's SQLite store (the commands wired as the lead wires them)."""
    for name, target in COMMANDS.items():
        monkeypatch.setitem(cli.LAZY_COMMANDS, name, target)
    return Mltrack(store_uri)


def run_git(folder: Path, *arguments: str) -> str:
    result = subprocess.run(["git", "-C", str(folder), *arguments], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def git() -> Callable[..., str]:
    """``git(folder, *arguments)``: run git there and return its output."""
    return run_git


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with one commit."""
    folder = tmp_path / "repository"
    folder.mkdir()
    run_git(folder, "init", "-q", "-b", "main")
    run_git(folder, "config", "user.email", "dev@example.com")
    run_git(folder, "config", "user.name", "Dev")
    (folder / "model.txt").write_text("v1\n")
    run_git(folder, "add", "model.txt")
    run_git(folder, "commit", "-q", "-m", "first")
    return folder
