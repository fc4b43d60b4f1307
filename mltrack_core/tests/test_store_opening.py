"""Opening stores: reading never creates or converts anything, read-only files and folders, malformed URIs.

Permissions are checked by the kernel, not simulated. Root ignores them, so
when the tests run as root (as in CI containers) the code that must meet a
read-only file runs as the user ``nobody`` (the effective user id is switched
for that block and back); a read-only filesystem is made with a read-only
bind mount in a private mount namespace where mounting is allowed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from mounts import in_mount_namespace, why_mounts_fail

import mltrack_core as mt
from mltrack_core.backends import sqlite as sqlite_backend
from mltrack_core.backends.memory import MemoryStore
from mltrack_core.hookspecs import hookimpl
from mltrack_core.plugin.manager import build_plugin_manager
from mltrack_core.store import Query

NOBODY = 65534


def uri(path: Path) -> str:
    return f"sqlite:///{path}"


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def as_a_user_without_rights() -> Iterator[None]:
    """Run the block with the permissions of an ordinary user: root becomes ``nobody``, others stay themselves."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder every user may enter (pytest's own folders are private to root when root runs the tests)."""
    path = Path(tempfile.mkdtemp(prefix="mltrack-opening-"))
    path.chmod(0o755)
    yield path
    for inside in [path, *path.rglob("*")]:
        inside.chmod(0o777 if inside.is_dir() else 0o666)
    shutil.rmtree(path)


def new_store(path: Path) -> mt.Dataset:
    with mt.connect(uri(path)) as tracker:
        return tracker.track_dataset(name="kept")


def foreign_database(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.execute("INSERT INTO notes VALUES ('mine')")
    connection.commit()
    connection.close()


# ---------------------------------------------------------------- reading never creates or converts


def test_reading_a_mistyped_path_says_there_is_no_store_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "nested" / "store.db"
    with pytest.raises(mt.StoreError, match=r"there is no mltrack store at .*store\.db.*check the path or MLTRACK_URI"):
        mt.connect(uri(missing), read_only=True)
    assert files_in(tmp_path) == []


def test_reading_another_applications_database_leaves_it_as_it_was(tmp_path):
    path = tmp_path / "app.db"
    foreign_database(path)
    before = digest(path)
    for read_only, suffix in ((True, ""), (False, "?mode=ro")):
        with pytest.raises(mt.StoreCorruptError, match=r"app\.db is an SQLite database but not an mltrack store"):
            mt.connect(uri(path) + suffix, read_only=read_only)
    assert digest(path) == before
    assert files_in(tmp_path) == ["app.db"]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_opening_another_applications_database_for_writing_does_not_add_mltracks_tables(tmp_path):
    path = tmp_path / "app.db"
    foreign_database(path)
    before = digest(path)
    with pytest.raises(mt.StoreCorruptError, match="not an mltrack store.*another application's database"):
        mt.connect(uri(path))
    assert digest(path) == before
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_an_empty_file_is_no_store_to_read_but_becomes_one_when_written(tmp_path):
    path = tmp_path / "touched.db"
    path.touch()
    with pytest.raises(mt.StoreCorruptError, match=r"touched\.db is an empty file, not an mltrack store"):
        mt.connect(uri(path), read_only=True)
    assert path.stat().st_size == 0
    with mt.connect(uri(path)) as tracker:
        tracker.track_dataset(name="first")


def test_a_store_of_an_older_release_is_not_migrated_by_reading(tmp_path):
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    sqlite_backend.MIGRATIONS[0](connection)  # the release before labels existed
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    before = digest(path)
    with pytest.raises(mt.StoreVersionError, match=r"schema version 1, made by an older mltrack.*once for writing"):
        mt.connect(uri(path), read_only=True)
    assert digest(path) == before
    assert files_in(tmp_path) == ["old.db"]


def test_a_store_opened_read_only_answers_refuses_writes_and_leaves_no_file_behind(tmp_path):
    path = tmp_path / "store.db"
    dataset = new_store(path)
    before = digest(path)
    with mt.connect(uri(path), read_only=True) as reader:
        assert reader.get(dataset.id) == dataset
        assert reader.find("dataset") == [dataset]
        with pytest.raises(mt.StoreReadOnlyError, match="opened read-only") as refused:
            reader.track_dataset(name="new")
        assert str(tmp_path) not in str(refused.value)
    assert digest(path) == before
    assert files_in(tmp_path) == ["store.db"]  # SQLite removed its -wal and -shm files


def test_a_plugin_whose_hook_does_not_take_read_only_still_opens():
    class OldBackend:
        @hookimpl
        def mltrack_open_store(self, uri):
            return MemoryStore(uri)

    manager = build_plugin_manager()
    manager.register(OldBackend(), name="old")
    manager.stores["old"] = manager.get_plugin("old")
    assert manager.open_store("old://x", read_only=True).uri == "old://x"
    assert manager.open_store("memory://", read_only=True).count(Query()) == 0


# ---------------------------------------------------------------- files and folders this process cannot write


def seal(folder: Path, folder_mode: int = 0o555) -> None:
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(folder_mode)


def test_a_store_nobody_may_write_is_read_and_refuses_writes_clearly(folder):
    path = folder / "store.db"
    dataset = new_store(path)
    seal(folder)
    with as_a_user_without_rights():
        for asked in (uri(path), uri(path) + "?mode=ro"):
            with mt.connect(asked) as tracker:
                assert tracker.get(dataset.id) == dataset
                assert tracker.count("dataset") == 1
                with pytest.raises(mt.StoreReadOnlyError, match="read-only for this process") as refused:
                    tracker.track_dataset(name="new")
                assert str(folder) not in str(refused.value)
        with mt.connect(uri(path), read_only=True) as tracker:
            assert tracker.find("dataset") == [dataset]
    assert files_in(folder) == ["store.db"]


def test_a_read_only_store_file_in_a_writable_folder_is_read_and_refuses_writes(folder):
    path = folder / "store.db"
    dataset = new_store(path)
    seal(folder, folder_mode=0o777)
    with as_a_user_without_rights(), mt.connect(uri(path)) as tracker:
        assert tracker.get(dataset.id) == dataset
        with pytest.raises(mt.StoreReadOnlyError, match="cannot be written"):
            tracker.track_dataset(name="new")  # was a raw sqlite3.OperationalError
        with pytest.raises(mt.StoreReadOnlyError):
            tracker.track_training(name="run")


def test_a_store_that_others_may_change_but_this_user_cannot_read_safely_is_explained(folder):
    path = folder / "store.db"
    new_store(path)
    seal(folder, folder_mode=0o575)  # the group may write the folder, the owner and others may not
    with as_a_user_without_rights(), pytest.raises(mt.StoreError, match=r"SQLite needs to create .*-shm.*chmod a-w"):
        mt.connect(uri(path), read_only=True)


def test_a_new_store_in_a_read_only_folder_is_refused_clearly(folder):
    folder.chmod(0o555)
    with as_a_user_without_rights():
        with pytest.raises(
            mt.StoreReadOnlyError, match=r"cannot create the store .*new\.db: its folder cannot be written"
        ):
            mt.connect(uri(folder / "new.db"))
        with pytest.raises(mt.StoreReadOnlyError, match="cannot create the folder"):
            mt.connect(uri(folder / "sub" / "new.db"))
    assert files_in(folder) == []


READ_ONLY_MOUNT_SCRIPT = textwrap.dedent(
    """
    import sys
    import mltrack_core as mt

    store, dataset_id = sys.argv[1], sys.argv[2]
    for asked, read_only in ((store, False), (store + "?mode=ro", False), (store, True)):
        with mt.connect(asked, read_only=read_only) as tracker:
            assert tracker.get(dataset_id).name == "kept"
            try:
                tracker.track_dataset(name="new")
            except mt.StoreReadOnlyError:
                pass
            else:
                raise AssertionError("a store on a read-only filesystem was written")
    print("ok")
    """
)


def test_a_store_on_a_read_only_filesystem_is_read_and_refuses_writes(folder):
    reason = why_mounts_fail()
    if reason is not None:  # the permission tests above cover the same code with chmod
        pytest.skip(reason)
    path = folder / "store.db"
    dataset = new_store(path)
    mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} {folder}"
    done = subprocess.run(
        [*in_mount_namespace(mount), sys.executable, "-c", READ_ONLY_MOUNT_SCRIPT, uri(path), dataset.id],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert files_in(folder) == ["store.db"]


# ---------------------------------------------------------------- every SQLite failure is a StoreError


def test_a_full_store_is_unavailable_and_keeps_nothing_of_the_failed_write(tmp_path):
    path = tmp_path / "store.db"
    with mt.connect(uri(path)) as tracker:
        tracker.track_dataset(name="small")
        pages = tracker.store._connection().execute("PRAGMA page_count").fetchone()[0]
        tracker.store._connection().execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own "disk full"
        with pytest.raises(mt.StoreUnavailableError, match="the disk is full") as full:
            tracker.track_dataset(name="big", annotations={"blob": "x" * 100_000})
        assert str(tmp_path) not in str(full.value)
        assert [dataset.name for dataset in tracker.find("dataset")] == ["small"]


def test_a_file_replaced_by_garbage_while_open_is_reported_as_damaged(tmp_path):
    path = tmp_path / "store.db"
    with mt.connect(uri(path)) as tracker:
        dataset = tracker.track_dataset(name="d")
    with mt.connect(uri(path)) as tracker:
        path.write_bytes(b"garbage " * 4096)  # what a failing disk or a careless copy leaves
        with pytest.raises(mt.StoreCorruptError, match="damaged.*restore") as damaged:
            tracker.store.get([dataset.id + "-other"])
        assert str(tmp_path) not in str(damaged.value)


# ---------------------------------------------------------------- malformed URIs


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("sqlite:///%00.db", mt.StoreError, "contains a NUL character"),
        ("sqlite:///x\x00.db", mt.StoreError, "contains a NUL character"),
        ("sqlite:///%ff.db", mt.StoreError, "not percent-encoded UTF-8"),
        ("sqlite://[/x.db", mt.StoreError, "Invalid IPv6 URL"),
        ("sqlite:///~no-such-user-here/x.db", mt.StoreError, "cannot expand the ~"),
        ("sqlite:///x.db?mode", mt.StoreError, r"only \?mode=ro"),
        ("https://[::1", mt.StoreError, r"cannot read a server address .*Invalid IPv6 URL"),
        ("https://secret@[::1", mt.StoreError, r"'https://\*\*\*@\[::1'"),
        ("http://user:secret@host:99999", mt.StoreError, "Port out of range"),
        ("http://host:port", mt.StoreError, "Port could not be cast"),
        ("http://my host", mt.StoreError, "spaces or control characters"),
        ("postgresq://user:secret@host/db", mt.UnknownSchemeError, r"'postgresq://\*\*\*@host/db'"),
        ("sql ite:///x.db", mt.UnknownSchemeError, "is not a store URI"),
        ("\x00://x", mt.UnknownSchemeError, "is not a store URI"),
    ],
)
def test_a_malformed_uri_is_a_store_error_naming_the_problem_without_secrets(
    text, error, message, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # where a relative store would be created if the URI were taken
    with pytest.raises(error, match=message) as raised:
        mt.connect(text)
    assert "secret" not in str(raised.value)
    assert files_in(tmp_path) == []


def test_a_folder_is_not_a_store(tmp_path):
    with pytest.raises(mt.StoreError, match=r"is a folder, not an mltrack store; name a file in it"):
        mt.connect(uri(tmp_path))
    assert files_in(tmp_path) == []
