"""The content-addressed artifact store."""

from __future__ import annotations

import hashlib
import re

import pytest

import mltrack_core as mt
from mltrack_core.artifacts import ArtifactStore, safe_file_name


def test_files_are_copied_once_under_their_content_digest(tmp_path):
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights" * 1000)
    store = ArtifactStore(tmp_path / "artifacts")
    first = store.put_file(source)
    assert first.startswith("file://") and first.endswith("/model.bin")
    assert store.put_file(source) == first
    with store.open(first) as copy:
        assert copy.read() == source.read_bytes()
    assert len(list((tmp_path / "artifacts").rglob("model.bin"))) == 1


def test_bytes_with_other_content_get_another_place(tmp_path):
    store = ArtifactStore(tmp_path)
    assert store.put_bytes(b"a", "x.txt") != store.put_bytes(b"b", "x.txt")


def test_fsspec_urls_work_when_fsspec_is_installed(tmp_path):
    store = ArtifactStore("memory://artifacts")
    uri = store.put_bytes(b"hello", "greeting.txt")
    assert uri.startswith("memory://artifacts/")
    with store.open(uri) as stored:
        assert stored.read() == b"hello"


@pytest.mark.parametrize("name", ["../escape", "", "a/b"])
def test_names_must_be_plain_file_names(tmp_path, name):
    with pytest.raises(mt.MltrackError, match="plain file name"):
        ArtifactStore(tmp_path).put_bytes(b"x", name)


def test_a_missing_file_is_explained(tmp_path):
    with pytest.raises(mt.MltrackError, match="not a file"):
        ArtifactStore(tmp_path).put_file(tmp_path / "missing")


HOSTILE_TEXTS = [
    "model",
    "Model",
    "MODEL",
    "../../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    ".",
    "..",
    "",
    ".hidden",
    "-rf",
    "con",
    "CON",
    "nul.txt",
    "trailing.",
    "a:b",
    "x\x00y",
    "line\nbreak",
    "é🙂",
    "\ud800",
    "a" * 512,
    "ü" * 300,
    "a_b~" + "0" * 32,
]


def test_safe_file_names_are_plain_short_and_distinct_even_ignoring_case(tmp_path):
    names = [safe_file_name(text, ".json") for text in HOSTILE_TEXTS]
    assert len({name.lower() for name in names}) == len(HOSTILE_TEXTS)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_~][A-Za-z0-9._~-]*\.json", name), name
        assert len(name.encode()) <= 200 and name.partition(".")[0].lower() not in ("con", "nul")
        (tmp_path / name).write_text("x")  # a real file of that name, in that folder
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)


def test_safe_file_names_keep_plain_ids_and_are_stable():
    assert safe_file_name("run-0193ab.cd_1", ".json") == "run-0193ab.cd_1.json"
    assert safe_file_name("Team/Run 1") == safe_file_name("Team/Run 1") != safe_file_name("team/run 1")
    assert safe_file_name("Team/Run 1").startswith("Team_Run_1~")


@pytest.mark.parametrize("name", ["x\x00y", "a" * 300, "ü" * 101, "a\nb", "a?b", "c:d", "\ud800", None])
def test_names_that_are_not_plain_file_names_are_schema_errors(tmp_path, name):
    with pytest.raises(mt.SchemaError, match="plain file name"):
        ArtifactStore(tmp_path).put_bytes(b"x", name)
    assert not any(tmp_path.iterdir())


def _place(root, content: bytes):
    digest = hashlib.sha256(content).hexdigest()
    return root / digest[:2] / digest


def test_a_content_folder_that_is_a_link_is_not_written_through(tmp_path):
    root, outside = tmp_path / "artifacts", tmp_path / "outside"
    outside.mkdir()
    folder = _place(root, b"weights")
    folder.parent.mkdir(parents=True)
    folder.symlink_to(outside, target_is_directory=True)
    with pytest.raises(mt.MltrackError, match="symbolic link"):
        ArtifactStore(root).put_bytes(b"weights", "model.bin")
    assert not any(outside.iterdir())


def test_a_digest_folder_that_is_a_link_is_not_written_through(tmp_path):
    root, outside = tmp_path / "artifacts", tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / hashlib.sha256(b"weights").hexdigest()[:2]).symlink_to(outside, target_is_directory=True)
    with pytest.raises(mt.MltrackError, match="symbolic link"):
        ArtifactStore(root).put_bytes(b"weights", "model.bin")
    assert not any(outside.iterdir())


def test_an_entry_that_was_altered_is_rewritten_when_stored_again_and_refused_when_read(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    uri = store.put_bytes(b"weights", "model.bin")
    stored = _place(tmp_path / "artifacts", b"weights") / "model.bin"
    stored.write_bytes(b"tampered")
    with pytest.raises(mt.MltrackError, match="damaged or was replaced"):
        store.open(uri)
    assert store.put_bytes(b"weights", "model.bin") == uri
    with store.open(uri) as copy:
        assert copy.read() == b"weights"


def test_an_entry_that_is_a_link_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"secret")
    folder = _place(tmp_path / "artifacts", b"weights")
    folder.mkdir(parents=True)
    (folder / "model.bin").symlink_to(outside)
    store = ArtifactStore(tmp_path / "artifacts")
    with pytest.raises(mt.MltrackError, match="damaged or was replaced"):
        store.open((folder / "model.bin").as_uri())
    uri = store.put_bytes(b"weights", "model.bin")
    assert not (folder / "model.bin").is_symlink() and outside.read_bytes() == b"secret"
    with store.open(uri) as copy:
        assert copy.read() == b"weights"


def test_a_root_with_spaces_reads_back(tmp_path):
    store = ArtifactStore(tmp_path / "my artifacts")
    with store.open(store.put_bytes(b"hello", "greeting.txt")) as copy:
        assert copy.read() == b"hello"
