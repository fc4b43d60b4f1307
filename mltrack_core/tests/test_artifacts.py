"""The content-addressed artifact store."""

from __future__ import annotations

import pytest

import mltrack_core as mt
from mltrack_core.artifacts import ArtifactStore


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
