"""mltrack run / python -m mltrack_core.run: an unmodified program, tracked; real processes on small scripts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid

import pytest
from probe_plugin import write_framework, write_probe_plugin

import mltrack_core as mt
from mltrack_core._launched import RunSummary
from mltrack_core.plugin import MemoryStore
from mltrack_core.plugin.manager import PluginManager
from mltrack_core.run import LAUNCH_FOLDER, MARKER_VARIABLE, launch_environment


def launch(*arguments, cwd, python_path=(), module="mltrack_core.run"):
    """Run ``python -m mltrack_core.run ARGUMENTS`` with this test's environment (and its PYTHONPATH first)."""
    environment = dict(os.environ)
    inherited = [os.path.abspath(entry) for entry in environment.get("PYTHONPATH", "").split(os.pathsep) if entry]
    if python_path or inherited:  # absolute: the program runs in another folder
        environment["PYTHONPATH"] = os.pathsep.join([*map(str, python_path), *inherited])
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, arguments)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def script(folder, text, name="train.py"):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def summary_of(completed):
    """The launched program's last line on stderr: mltrack's summary."""
    lines = completed.stderr.strip().splitlines()
    assert lines, completed
    return lines[-1]


RECORDS_A_DATASET = """
    import mltrack_core

    mltrack_core.get_tracker().track_dataset(name="iris", location="file:///iris.csv")
"""


def test_the_program_gets_its_arguments_its_stdout_and_its_exit_status(tmp_path):
    program = script(
        tmp_path,
        """
        import json, sys

        print(json.dumps(sys.argv[1:]))
        sys.exit(3)
        """,
    )

    completed = launch(program, "--uri", "not-mltrack's", "-h", "--", cwd=tmp_path)

    assert completed.returncode == 3
    assert json.loads(completed.stdout) == ["--uri", "not-mltrack's", "-h", "--"]


def test_an_executable_command_runs_with_its_arguments(tmp_path):
    completed = launch("--", sys.executable, "-c", "import sys; print(sys.argv[1:]); sys.exit(5)", "a b", cwd=tmp_path)

    assert completed.returncode == 5
    assert completed.stdout == "['a b']\n"


def test_what_the_program_records_goes_to_the_uri_and_experiment_given_and_is_summed_up(tmp_path):
    program = script(tmp_path, RECORDS_A_DATASET)
    uri = f"sqlite:///{tmp_path / 'store.db'}"

    completed = launch("--uri", uri, "--experiment", "baseline", program, cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr
    with mt.connect(uri, read_only=True) as tracker:
        (dataset,) = tracker.find("dataset", name="iris")
    assert dataset.experiment == "baseline"
    assert summary_of(completed) == (
        f"mltrack: recorded 1 dataset in {uri} (experiment baseline); see: mltrack --uri {uri} ls --experiment baseline"
    )


def test_mltrack_run_on_the_command_line_takes_the_uri_of_mltrack_itself(tmp_path):
    program = script(tmp_path, RECORDS_A_DATASET)
    uri = f"sqlite:///{tmp_path / 'store.db'}"

    completed = launch("--uri", uri, "run", "--experiment", "e1", program, cwd=tmp_path, module="mltrack_core.cli")

    assert completed.returncode == 0, completed.stderr
    with mt.connect(uri, read_only=True) as tracker:
        assert [dataset.experiment for dataset in tracker.find("dataset", name="iris")] == ["e1"]


def test_a_program_that_records_nothing_is_told_so(tmp_path):
    program = script(tmp_path, "print('hello')\n")

    completed = launch("--uri", f"sqlite:///{tmp_path / 'store.db'}", program, cwd=tmp_path)

    assert completed.returncode == 0
    assert completed.stdout == "hello\n"
    assert summary_of(completed).startswith("mltrack: nothing was recorded (")


def test_an_installed_framework_plugin_patches_the_framework_before_the_program_imports_from_it(tmp_path):
    """The whole chain: entry point, autolog, when_imported, `from framework import name`, the record, the summary."""
    site, token = tmp_path / "site", uuid.uuid4().hex[:8]
    framework = f"framework_{token}"
    write_framework(site, framework)
    write_probe_plugin(site, f"probe_plugin_{token}", framework, record=True)
    program = script(tmp_path, f"from {framework} import name\n\nprint(name())\n")
    uri = f"sqlite:///{tmp_path / 'store.db'}"

    completed = launch("--uri", uri, program, cwd=tmp_path, python_path=[site])

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "tracked\n"
    assert summary_of(completed).startswith(f"mltrack: recorded 1 dataset in {uri}; ")
    with mt.connect(uri, read_only=True) as tracker:
        assert tracker.count("dataset", name="probe-data") == 1


def test_child_processes_are_not_tracked_and_the_program_sees_its_own_paths(tmp_path):
    program = script(
        tmp_path,
        f"""
        import json, os, subprocess, sys

        child = subprocess.run(
            [sys.executable, "-c", "import json, os, sys; print(json.dumps([os.environ.get({MARKER_VARIABLE!r}),"
             " 'mltrack_core' in sys.modules]))"],
            capture_output=True, text=True, check=True,
        )
        print(json.dumps({{
            "marker": os.environ.get({MARKER_VARIABLE!r}),
            "python_path": os.environ.get("PYTHONPATH", ""),
            "sys_path": sys.path,
            "child": json.loads(child.stdout),
        }}))
        """,
    )

    completed = launch("--uri", "memory://", program, cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert seen["marker"] is None
    assert str(LAUNCH_FOLDER) not in seen["python_path"].split(os.pathsep)
    assert str(LAUNCH_FOLDER) not in seen["sys_path"]
    assert seen["child"] == [None, False]  # no marker, and mltrack was not even imported in the child


def test_the_users_own_sitecustomize_still_runs_in_the_program_and_its_children(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    runs = tmp_path / "runs.txt"
    script(
        own,
        f"import os\nwith open({str(runs)!r}, 'a') as runs:\n    runs.write(f'{{os.getpid()}}\\n')\n",
        "sitecustomize.py",
    )
    program = script(
        tmp_path,
        """
        import os, subprocess, sys

        import mltrack_core

        mltrack_core.get_tracker().track_dataset(name="iris", location="file:///iris.csv")
        child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
        print(sys.modules["sitecustomize"].__file__, os.getpid(), int(child.stdout))
        """,
    )

    completed = launch("--uri", "memory://", program, cwd=tmp_path, python_path=[own])

    assert completed.returncode == 0, completed.stderr
    module, program_pid, child_pid = completed.stdout.split()
    assert module == str(own / "sitecustomize.py")
    ran_in = runs.read_text().split()  # the launcher (the same process as the program, which it became), the child
    assert ran_in.count(program_pid) == 2 and ran_in.count(child_pid) == 1
    assert summary_of(completed).startswith("mltrack: recorded 1 dataset in memory://")


def test_a_store_that_cannot_be_opened_is_one_line_and_the_program_runs_untracked(tmp_path):
    program = script(tmp_path, "print('trained')\n")

    completed = launch("--uri", "nosuchscheme://somewhere", program, cwd=tmp_path)

    assert completed.returncode == 0
    assert completed.stdout == "trained\n"
    (line,) = completed.stderr.splitlines()
    assert line.startswith("mltrack: automatic tracking could not start (UnknownSchemeError: ")
    assert line.endswith("; the program runs untracked")


def test_a_plugin_that_fails_to_turn_on_is_one_line_and_the_others_still_work(tmp_path):
    site, token = tmp_path / "site", uuid.uuid4().hex[:8]
    write_probe_plugin(site, f"broken_plugin_{token}", f"framework_{token}", broken=True)
    program = script(tmp_path, RECORDS_A_DATASET)

    completed = launch("--uri", "memory://", program, cwd=tmp_path, python_path=[site])

    assert completed.returncode == 0
    first, summary = completed.stderr.splitlines()
    assert first.startswith("mltrack: plugin 'probe' could not turn on automatic tracking (RuntimeError: probe cannot")
    assert summary.startswith("mltrack: recorded 1 dataset in memory://")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("no-such-command-for-mltrack", "mltrack run: no-such-command-for-mltrack: command not found"),
        ("missing.py", "mltrack run: missing.py: no such script"),
    ],
)
def test_a_command_that_cannot_be_found_is_one_line_and_status_127(tmp_path, command, message):
    completed = launch(command, cwd=tmp_path)

    assert completed.returncode == 127
    assert completed.stderr == message + "\n"
    assert completed.stdout == ""


def test_a_folder_as_the_command_is_status_126(tmp_path):
    completed = launch(tmp_path, cwd=tmp_path)

    assert completed.returncode == 126
    assert len(completed.stderr.splitlines()) == 1 and "Traceback" not in completed.stderr


def test_the_environment_of_the_program_puts_the_launch_folder_first_once_and_marks_it():
    folder = str(LAUNCH_FOLDER)
    launcher = {"PATH": "/bin", "PYTHONPATH": os.pathsep.join(["/a", folder, "/b"])}

    launched = launch_environment(launcher, uri="sqlite:////tmp/s.db", experiment="e")

    assert launched["PYTHONPATH"] == os.pathsep.join([folder, "/a", "/b"])
    assert launched[MARKER_VARIABLE] == folder
    assert launched["MLTRACK_URI"] == "sqlite:////tmp/s.db" and launched["MLTRACK_EXPERIMENT"] == "e"
    assert launcher == {"PATH": "/bin", "PYTHONPATH": os.pathsep.join(["/a", folder, "/b"])}
    assert (LAUNCH_FOLDER / "sitecustomize.py").is_file()
    assert launch_environment({})["PYTHONPATH"] == folder


def test_the_summary_counts_what_its_tracker_stored_by_kind_and_hides_credentials():
    tracker = mt.Tracker(MemoryStore("https://alice:secret@metadata.example.org"), plugins=PluginManager())
    summary = RunSummary(tracker)
    tracker.plugins.register(summary)
    summary.frameworks = ["probe"]
    assert summary.line() == "mltrack: nothing was recorded (no supported framework call; tracking probe)"

    train = tracker.track_dataset(name="train", location="file:///train.csv")
    tracker.track_dataset(train)  # stored already: not counted again
    test = tracker.track_dataset(name="test", location="file:///test.csv")
    model = tracker.track_model(name="m", learning_algorithm="LogisticRegression", trained_on=train)
    tracker.track_evaluation({"accuracy": 0.9}, computed_by=model, on_dataset=test)

    line = summary.line()
    assert "secret" not in line and "alice" not in line
    assert re.fullmatch(
        r"mltrack: recorded 1 model, 2 datasets, 1 evaluation in https://\*\*\*@metadata\.example\.org; "
        r"see: mltrack --uri 'https://\*\*\*@metadata\.example\.org' ls",
        line,
    ), line
