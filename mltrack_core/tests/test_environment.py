"""The computing environment captured with models and runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

import mltrack_core as mt
from mltrack_core.environment import base_environment, package_versions

SCRIPT = textwrap.dedent(
    """
    import json
    from mltrack_core.environment import base_environment
    print(json.dumps(base_environment()))
    """
)


def git(folder, *arguments):
    subprocess.run(["git", "-C", str(folder), *arguments], check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path):
    assert shutil.which("git"), "git is needed for these tests"
    folder = tmp_path / "project"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.email", "t@example.com")
    git(folder, "config", "user.name", "t")
    script = folder / "train.py"
    script.write_text(SCRIPT)
    git(folder, "add", "train.py")
    git(folder, "commit", "-q", "-m", "first")
    return folder, script


def facts_of(script, cwd):
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=cwd, check=True)
    return json.loads(result.stdout)


def test_the_scripts_repository_commit_and_state_are_recorded(repository, tmp_path):
    folder, script = repository
    commit = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    facts = facts_of(script, cwd=tmp_path)  # run from elsewhere: the script's folder decides
    assert facts["git.commit"] == commit
    assert facts["git.dirty"] == "false" and facts["git.branch"] == "main"
    script.write_text(SCRIPT + "\n# edited\n")
    assert facts_of(script, cwd=tmp_path)["git.dirty"] == "true"


def test_outside_a_repository_there_are_no_git_facts(tmp_path):
    script = tmp_path / "loose.py"
    script.write_text(SCRIPT)
    assert not any(key.startswith("git.") for key in facts_of(script, cwd=tmp_path))


def test_host_facts_are_present():
    facts = base_environment()
    assert {"python.version", "os", "host", "cpu.count"} <= set(facts)
    assert int(facts["cpu.count"]) >= 1


def test_versions_of_imported_ml_packages():
    assert package_versions()["package.mltrack-core"] == mt.__version__
    assert "package.torch" not in package_versions()
