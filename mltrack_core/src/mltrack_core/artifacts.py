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
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from mltrack_core.errors import MissingDependencyError, MltrackError, SchemaError

if TYPE_CHECKING:
    from mltrack_core.schema import Model

__all__ = ["ArtifactStore", "default_artifact_root", "location_of", "mltrack_home", "safe_file_name"]

_COPY_BUFFER = 1 << 20
MAX_FILE_NAME_BYTES = 200
"""The longest file name mltrack makes or accepts (file systems allow 255 bytes; some room for suffixes)."""
_PLAIN_FILE_NAME = re.compile(r"[a-z0-9_][a-z0-9._-]*")
_NOT_READABLE = re.compile(r"[^A-Za-z0-9._-]+")
_NOT_IN_ARTIFACT_NAMES = re.compile(r'[/\\?#%:*"<>|]')
_DIGEST = re.compile(r"[0-9a-f]{64}")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))}


def safe_file_name(text: str, suffix: str = "") -> str:
    """A file name made from any text (an id, a name a user typed): safe, stable, and distinct per text.

    Text of lowercase ASCII letters, digits, ``_``, ``.`` and ``-`` that does
    not start with ``.`` or ``-`` is kept as it is. Any other text becomes a
    readable prefix (unsafe characters replaced by ``_``) followed by ``~`` and
    a digest of the whole text, so distinct texts never share a file name, not
    even on case-insensitive file systems, and no name is empty, ``.``,
    ``..``, hidden, a path, a Windows device name, or longer than 200 bytes.

    Args:
        text: the text the name is made from.
        suffix: appended as it is (``".json"``); it must itself be plain (e.g. ``.json``, ``.spark.zip``).

    Returns:
        The file name, ``suffix`` included.

    Raises:
        SchemaError: ``suffix`` is not a short plain file-name ending.
    """
    if suffix and not (re.fullmatch(r"[A-Za-z0-9._-]{1,40}", suffix) and suffix not in (".", "..")):
        raise SchemaError(f"file name suffix {suffix!r} must be up to 40 ASCII letters, digits, '.', '_' or '-'")
    name = text + suffix
    if (
        _PLAIN_FILE_NAME.fullmatch(text)
        and not text.endswith(".")
        and len(name) <= MAX_FILE_NAME_BYTES
        and text.partition(".")[0] not in _WINDOWS_DEVICES
    ):
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    readable = _NOT_READABLE.sub("_", text).strip("._-")[:100]
    if readable.partition(".")[0].lower() in _WINDOWS_DEVICES:
        readable = f"_{readable}"
    return f"{readable}~{digest}{suffix}" if readable else f"{digest}{suffix}"


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
    """Copies files to a folder or fsspec URL and returns a URI pointing at the copy.

    Every entry is checked against the digest its place names: when it is
    stored again and when it is read. Locally, symbolic links inside the
    store are never followed to write: a link where a folder of the store
    should be is an error, a link where a file should be is replaced.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        root = str(root) if root is not None else default_artifact_root()
        self.root = root
        self._local = "://" not in root or root.startswith("file://")

    def put_file(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        """Copy the file at ``path`` and return the copy's URI (``file://...`` when local).

        Raises:
            MltrackError: ``path`` is not a file.
            SchemaError: the file name is not a plain file name of at most 200 bytes.
        """
        source = Path(path)
        if not source.is_file():
            raise MltrackError(f"cannot store artifact {source}: it is not a file")
        name = name or source.name
        _check_name(name)
        with source.open("rb") as data:
            digest = _sha256(data)
            data.seek(0)
            return self._write(data, digest, name)

    def put_bytes(self, content: bytes, name: str) -> str:
        """Store ``content`` under ``name`` and return the copy's URI.

        Raises:
            SchemaError: ``name`` is not a plain file name of at most 200 bytes.
        """
        _check_name(name)
        digest = hashlib.sha256(content).hexdigest()
        with tempfile.SpooledTemporaryFile() as data:
            data.write(content)
            data.seek(0)
            return self._write(data, digest, name)

    def open(self, uri: str) -> IO[bytes]:
        """Open a stored artifact for reading; an entry of a store is checked against its digest first.

        Raises:
            MltrackError: the entry's content does not match the digest its place names.
        """
        handle = _open_location(uri)
        expected = _digest_named_by(uri)
        if expected is None:
            return handle
        try:
            if _sha256(handle) != expected:
                raise MltrackError(f"artifact {uri} is damaged or was replaced: its content does not have its digest")
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        return handle

    def _write(self, data: IO[bytes], digest: str, name: str) -> str:
        if self._local:
            return self._write_local(data, digest, name)
        url = f"{self.root.rstrip('/')}/{digest[:2]}/{digest}/{name}"
        filesystem, path = _fsspec().core.url_to_fs(url)
        if not filesystem.exists(path) or not _holds(filesystem.open(path, "rb"), digest):
            with filesystem.open(path, "wb") as target_file:
                shutil.copyfileobj(data, target_file, _COPY_BUFFER)
        return url

    def _write_local(self, data: IO[bytes], digest: str, name: str) -> str:
        root = Path(self.root.removeprefix("file://")).expanduser()
        folder = root / digest[:2] / digest
        for level in (folder.parent, folder):
            if level.is_symlink():
                raise MltrackError(
                    f"the artifact store folder {level} is a symbolic link; mltrack does not write through "
                    "links in the artifact store: remove the link"
                )
        target = folder / name
        if target.is_symlink() or not target.is_file() or not _holds(target.open("rb"), digest):
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, delete=False) as temporary:
                shutil.copyfileobj(data, temporary, _COPY_BUFFER)
            os.replace(temporary.name, target)  # atomic, and replaces a link rather than writing through it
        return root.resolve().joinpath(digest[:2], digest, name).as_uri()


def _check_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or _NOT_IN_ARTIFACT_NAMES.search(name)
        or not name.isprintable()
        or len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES
    ):
        raise SchemaError(
            f"artifact name {name!r:.120} must be a plain file name: 1 to {MAX_FILE_NAME_BYTES} bytes, "
            "printable, without / \\ ? # % : * \" < > |, not '.' or '..' (mltrack_core.artifacts.safe_file_name "
            "makes one from any text)"
        )


def _open_location(uri: str) -> IO[bytes]:
    if uri.startswith("file://"):
        return Path(unquote(urlsplit(uri).path)).open("rb")
    return _fsspec().open(uri, "rb").open()


def _digest_named_by(uri: str) -> str | None:
    """The content digest an artifact store URI names (``.../<sha256[:2]>/<sha256>/<name>``), if it is one."""
    parts = uri.rstrip("/").split("/")
    if len(parts) >= 3 and _DIGEST.fullmatch(parts[-2]) and parts[-3] == parts[-2][:2]:
        return parts[-2]
    return None


def _holds(handle: IO[bytes], digest: str) -> bool:
    with handle:
        return _sha256(handle) == digest


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
