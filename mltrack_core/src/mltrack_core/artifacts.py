"""The artifact store: where serialized models, data files and predictions are copied.

mltrack's metadata only points at artifacts (by URI). When a user asks for
serialization (``track_model(..., serialize=True)``), the file is copied here
under a content-addressed key (``<root>/<sha256[:2]>/<sha256>/<file name>``),
so an artifact is written once and never overwritten.

The root is a local folder by default (``$MLTRACK_ARTIFACTS``, else
``$MLTRACK_HOME/artifacts``, else ``~/.mltrack/artifacts``); any fsspec URL
(``s3://bucket/prefix``, ``gcs://...``) works when ``fsspec`` and the
filesystem's driver are installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mltrack_core.errors import MissingDependencyError, MltrackError

if TYPE_CHECKING:
    from mltrack_core.schema import Model

__all__ = ["ArtifactStore", "default_artifact_root", "location_of", "mltrack_home"]

_COPY_BUFFER = 1 << 20


def mltrack_home() -> Path:
    """Mltrack's own folder: ``$MLTRACK_HOME``, else ``~/.mltrack``."""
    return Path(os.environ.get("MLTRACK_HOME") or Path.home() / ".mltrack").expanduser()


def default_artifact_root() -> str:
    """``$MLTRACK_ARTIFACTS``, else the ``artifacts`` folder in :func:`mltrack_home`."""
    return os.environ.get("MLTRACK_ARTIFACTS") or str(mltrack_home() / "artifacts")


def location_of(model_or_location: Model | str) -> str:
    """Where a serialized model is: the model's ``location``, or the location itself.

    Raises:
        MltrackError: the model was tracked without ``serialize=True`` and has no location.
    """
    if isinstance(model_or_location, str):
        return model_or_location
    if not model_or_location.location:
        raise MltrackError(f"model {model_or_location.id!r} has no location: track it with serialize=True to store it")
    return model_or_location.location


class ArtifactStore:
    """Copies files to a folder or fsspec URL and returns a URI pointing at the copy."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        root = str(root) if root is not None else default_artifact_root()
        self.root = root
        self._local = "://" not in root or root.startswith("file://")

    def put_file(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Copy the file at ``path`` and return the copy's URI (``file://...`` when local)."""
        source = Path(path)
        if not source.is_file():
            raise MltrackError(f"cannot store artifact {source}: it is not a file")
        with source.open("rb") as data:
            digest = _sha256(data)
            data.seek(0)
            return self._write(data, digest, name or source.name)

    def put_bytes(self, content: bytes, name: str) -> str:
        """Store ``content`` under ``name`` and return the copy's URI."""
        digest = hashlib.sha256(content).hexdigest()
        with tempfile.SpooledTemporaryFile() as data:
            data.write(content)
            data.seek(0)
            return self._write(data, digest, name)

    def open(self, uri: str) -> IO[bytes]:
        """Open a stored artifact for reading."""
        if uri.startswith("file://"):
            return Path(uri[len("file://") :]).open("rb")
        return _fsspec().open(uri, "rb").open()

    def _write(self, data: IO[bytes], digest: str, name: str) -> str:
        if "/" in name or name in ("", ".", ".."):
            raise MltrackError(f"artifact name {name!r} must be a plain file name")
        if self._local:
            folder = Path(self.root.removeprefix("file://")).expanduser() / digest[:2] / digest
            target = folder / name
            if not target.exists():
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=folder, delete=False) as temporary:
                    shutil.copyfileobj(data, temporary, _COPY_BUFFER)
                os.replace(temporary.name, target)  # atomic: readers never see half a file
            return target.resolve().as_uri()
        url = f"{self.root.rstrip('/')}/{digest[:2]}/{digest}/{name}"
        filesystem, path = _fsspec().core.url_to_fs(url)
        if not filesystem.exists(path):
            with filesystem.open(path, "wb") as target_file:
                shutil.copyfileobj(data, target_file, _COPY_BUFFER)
        return url


def _sha256(data: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := data.read(_COPY_BUFFER):
        digest.update(chunk)
    return digest.hexdigest()


def _fsspec():  # noqa: ANN202
    try:
        import fsspec
    except ImportError as exc:
        raise MissingDependencyError(
            "artifact URLs other than local folders need fsspec: pip install 'mltrack-core[fsspec]'"
        ) from exc
    return fsspec
